"""The per-block work: one `map_batches` task applies a slice of the plan (or an importer)
to one block; rows a stage refuses become reject rows that later stages pass by."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID, DataError
from trlprep.ray.base import HALF, LINE, REJECT, REJECT_TYPE
from trlprep.ray.notes import Notes, recording


@dataclasses.dataclass
class _Stage:
    """One `map_batches` stage: the plan to apply to each block (a slice of the route)."""

    plan: Any  # convert.Plan, render None (made in each actor from `render_args`)
    check: bool = False  # check each block is of the planned source type
    coerce: bool = False
    render_args: dict[str, Any] | None = None
    collect: bool = False  # refused rows stay as reject rows (else the block fails)
    halves: bool = False  # number each output row's half (--order blocks after unpairing)
    notes: Any = None  # the run's notebook actor (`trlprep.ray.notes`), or None
    shards: Any = None  # `trlprep.io.shards.Shards` of an input of several files, or None


class _BlockRows:
    """Names input rows of one block by their file line (LINE) or global row (ROW_ID); of
    an input of several files (`shards`), by their file too, as the local engine names
    them (`a.jsonl:4`, `a.parquet row 3`)."""

    def __init__(self, ids: np.ndarray, lines: np.ndarray | None, shards: Any = None) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids, self.lines = ids[order], None if lines is None else lines[order]
        self.shards = shards

    def line_of(self, ids: Any) -> np.ndarray | None:
        if self.lines is None:
            return None
        ids = np.asarray(ids, np.int64)
        return self.lines[np.searchsorted(self.ids, ids)]

    def numbers(self, ids: Any) -> tuple[str, list[int]]:
        lines = self.line_of(ids)
        if lines is not None:
            return "lines", [int(x) for x in lines]
        return "rows", [int(x) for x in np.asarray(ids, np.int64)]

    def name(self, ids: Any) -> str:
        word, shown = self.numbers(ids)
        if self.shards is not None:
            rows = np.asarray(ids, np.int64).tolist()
            return self.shards.places(rows, shown if word == "lines" else None)
        return f"{word[:-1] if len(shown) == 1 else word} " + ", ".join(map(str, shown))


def _held(table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
    """(rows still converting, rows refused by an earlier stage as ROW_ID/LINE/REJECT)."""
    import pyarrow.compute as pc

    if REJECT not in table.column_names:
        return table, None
    rejected = pc.is_valid(table.column(REJECT))
    held = table.filter(rejected).select(
        [c for c in (ROW_ID, LINE, REJECT) if c in table.column_names]
    )
    return table.filter(pc.invert(rejected)).drop_columns([REJECT]), held


def _reject_rows(failures: list[Any], rows: _BlockRows) -> pa.Table:
    """Refused input rows (or turns) as ROW_ID / LINE / REJECT (stage, reason, turn) rows."""
    ids = np.concatenate([np.asarray(f.rows, np.int64) for f in failures])
    stage = [f.stage for f in failures for _ in f.rows]
    reason = [str(r) for f in failures for r in f.reasons]
    turns = np.concatenate(
        [f.turns if f.turns is not None else np.zeros(len(f.rows), np.int64) for f in failures]
    )
    order = np.lexsort((turns, ids))  # a row's turns in their order
    ids, turns = ids[order], turns[order]
    lines = rows.line_of(ids)
    return pa.table(
        {
            ROW_ID: pa.array(ids, pa.int64()),
            LINE: pa.array(lines, pa.int64())
            if lines is not None
            else pa.nulls(len(ids), pa.int64()),
            REJECT: pa.StructArray.from_arrays(
                [
                    pa.array([stage[i] for i in order], pa.string()),
                    pa.array([reason[i] for i in order], pa.string()),
                    pa.array(turns, pa.int64(), mask=turns == 0),
                ],
                fields=list(REJECT_TYPE),
            ),
        }
    )


def _with_rejects(out: pa.Table, parts: list[pa.Table]) -> pa.Table:
    """`out` (REJECT null) followed by the reject rows of `parts`, in `out`'s schema."""
    import pyarrow.compute as pc

    n = out.num_rows
    out = out.append_column(REJECT, pa.nulls(n, REJECT_TYPE))
    parts = [p for p in parts if p is not None and p.num_rows]
    if not parts:
        return out
    rej = pa.concat_tables(parts, promote_options="permissive")
    if len(parts) > 1:  # (rows refused earlier, then here): in row order, a row's turns in theirs
        turn = pc.struct_field(rej.column(REJECT), "turn").fill_null(0)
        rej = rej.take(pa.array(np.lexsort((turn.to_numpy(), rej.column(ROW_ID).to_numpy()))))
    k = rej.num_rows
    cols = [
        rej.column(f.name).cast(f.type) if f.name in rej.column_names else pa.nulls(k, f.type)
        for f in out.schema
    ]
    return pa.concat_tables([out, pa.Table.from_arrays(cols, schema=out.schema)])


def _run(table: pa.Table, stage: _Stage) -> pa.Table:
    """Apply `stage.plan` to one block. Rows a stage refuses become reject rows
    (`stage.collect`), else raise one DataError naming the first and how many more.
    Warnings raised and values read as text go to `stage.notes`."""
    with recording(stage.notes) as got:
        return _run_block(table, stage, got)


def _run_block(table: pa.Table, stage: _Stage, got: Notes) -> pa.Table:
    from trlprep.columns.mediacolumns import as_media_lists
    from trlprep.conversion.apply import Failure, apply_checked, split_missing
    from trlprep.conversion.stream import _check_batch
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.io.kinds import settle_kinds

    if not table.num_rows:
        return table
    table, held = _held(table)
    lines = (
        table.column(LINE).to_numpy(zero_copy_only=False) if LINE in table.column_names else None
    )
    if lines is not None and table.column(LINE).null_count:
        lines = None
    table = table.drop_columns([c for c in (LINE, HALF) if c in table.column_names])
    ids = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)
    rows = _BlockRows(ids, None if lines is None else np.asarray(lines, np.int64), stage.shards)
    first = int(ids.min()) if len(ids) else 0
    failures: list[Failure] = []
    read = None
    if stage.check:  # settled first, as locally: a row of another kind is a reject row
        names = table.column_names
        s = settle_kinds(
            table, coerce=stage.coerce, carry=carried_columns(names), labels=label_columns(names)
        )
        got.coerced.update(s.coerced)
        read = s  # values read as booleans: counted below in the rows no stage refuses
        got.add_carried(s.carried)
        if s.bad.any():
            idx = np.flatnonzero(s.bad)
            failures.append(Failure(ids[idx], "read", list(s.reasons[idx])))
            table = s.table.filter(pa.array(~s.bad))
            lines = None if lines is None else lines[~s.bad]
        else:
            table = s.table
    table, _ = as_media_lists(table)  # Qwen-VL's `image` lists, `video` -> `videos`
    if stage.check and table.num_rows:
        _check_batch(table, stage.plan, rows)
        table, keep, missing = split_missing(table, stage.plan)
        if missing is not None:
            failures.append(missing)
            lines = None if lines is None else lines[keep]
    render = stage.plan.render
    if render is not None:  # this block's reports alone, merged on the driver
        render.report = render.token_report = None
    counts: list[tuple[str, int, int]] = []
    out, more = apply_checked(
        table, stage.plan, offset=first, lines=lines, counts=counts, source=rows
    )
    if render is not None:
        got.reports += [
            (name, getattr(render, name))
            for name in ("report", "token_report")
            if getattr(render, name) is not None
        ]
    if stage.notes is not None:
        got.merge(Notes(steps={name: [n_in, n_out] for name, n_in, n_out in counts}))
    failures += more
    for f in more:
        if f.hint:
            got.hints.setdefault(f.stage, f.hint)
    if failures and not stage.collect:
        raise _failed(failures, rows)
    if read is not None and read.boolean_rows:
        refused = np.concatenate([f.rows for f in failures]) if failures else ids[:0]
        got.booleans.update(read.booleans_in(~np.isin(ids, refused)))
    out_lines = rows.line_of(out.column(ROW_ID).to_numpy())
    out = out.append_column(
        LINE,
        pa.array(out_lines, pa.int64())
        if out_lines is not None
        else pa.nulls(out.num_rows, pa.int64()),
    )
    if stage.halves:
        out = out.append_column(HALF, pa.array(np.arange(out.num_rows) % 2, pa.int8()))
    return _with_rejects(out, [held, _reject_rows(failures, rows) if failures else None])


def holds_inline_images(table: pa.Table, coerce: bool) -> pa.Table:
    """One row: `medium:column` of the messages columns whose rows in the block (reject rows
    left out, settled as converted) hold images (videos, audios) inline in message parts
    (`inline`), and `medium:key` of the keys holding media no URL or path names (`unmovable`,
    `conversion.mediastage.unmovable_keys`)."""
    from trlprep.columns.inlinemedia import MEDIA_COLUMN, inline_columns
    from trlprep.conversion.mediastage import unmovable_keys
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.io.kinds import settle_kinds

    table = _held(table)[0]
    table = table.drop_columns([c for c in (ROW_ID, LINE, HALF) if c in table.column_names])
    names = table.column_names
    carry, labels = carried_columns(names), label_columns(names)
    s = settle_kinds(table, coerce=coerce, carry=carry, labels=labels)
    held = [f"{m}:{c}" for m in MEDIA_COLUMN for c in inline_columns(s.table, m)]
    kept = list(unmovable_keys([s.table.schema]))
    return pa.table(
        {
            "inline": pa.array([held], pa.list_(pa.string())),
            "unmovable": pa.array([kept], pa.list_(pa.string())),
        }
    )


def _failed(failures: list[Any], rows: _BlockRows) -> DataError:
    from trlprep.wording import plural

    ids = np.concatenate([f.rows for f in failures])
    f = min(failures, key=lambda f: int(f.rows.min()))
    i = int(np.argmin(f.rows))
    more = len(ids) - 1
    name = rows.name([int(f.rows[i])])
    if f.turns is not None:  # a refused turn of a `--split-turns all` row
        name = f"turn {int(f.turns[i])} of {name}"
    turned = any(g.turns is not None for g in failures)
    what = plural(more, "more row or turn", "more rows or turns") if turned else None
    return DataError(
        f"{name} (stage {f.stage}): {f.reasons[i]}"
        + (f" (and {what or plural(more, 'more row')} in the same block)" if more else ""),
        hint=f.hint or "fix the rows, or pass --on-error skip",  # trlprep.ray: on_error='skip'
    )


def _import(
    table: pa.Table,
    importer: Any,
    opts: Any,
    coerce: bool,
    collect: bool,
    notes: Any = None,
    seen: frozenset[str] | None = None,
) -> pa.Table:
    """Import one block of a public layout (the importer's Arrow -> Arrow pass): imported
    rows carry their input row's ROW_ID and LINE; refused rows become reject rows. The
    importer's notes and warnings go to `notes` (a notebook actor); `seen`: the whole
    input's survey (`importers.survey`)."""
    with recording(notes) as got:
        return _import_block(table, importer, opts, coerce, collect, got, seen)


def surveyed_block(table: pa.Table, importer: Any, opts: Any) -> pa.Table:
    """One row: the block's `Importer.survey` (its input rows, reject rows left out)."""
    from trlprep.importers.survey import survey_of

    table = _held(table)[0]
    table = table.drop_columns([c for c in (ROW_ID, LINE, HALF) if c in table.column_names])
    got = survey_of(importer, table, opts) or set()
    return pa.table({"seen": pa.array([sorted(got)], pa.list_(pa.string()))})


def _import_block(
    table: pa.Table,
    importer: Any,
    opts: Any,
    coerce: bool,
    collect: bool,
    got: Notes,
    seen: frozenset[str] | None = None,
) -> pa.Table:
    from trlprep.conversion.apply import Failure
    from trlprep.io.kinds import settle_kinds

    if not table.num_rows:
        return table
    ids = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)
    lines = None
    if LINE in table.column_names and not table.column(LINE).null_count:
        lines = np.asarray(table.column(LINE).to_numpy(), np.int64)
    rows = _BlockRows(ids, lines)
    data = table.drop_columns([c for c in (ROW_ID, LINE) if c in table.column_names])
    from trlprep.importers.labelcoercion import mapped_labels

    carry = importer.carried(data.column_names, opts)
    s = settle_kinds(data, coerce=coerce, carry=carry, labels=mapped_labels(opts))
    got.coerced.update(s.coerced)
    got.add_carried(s.carried)
    failures = []
    keep = np.flatnonzero(~s.bad)
    if s.bad.any():
        idx = np.flatnonzero(s.bad)
        failures.append(Failure(ids[idx], "read", list(s.reasons[idx])))
    settled = s.table.take(pa.array(keep)) if s.bad.any() else s.table
    kept_lines = None if lines is None else lines[keep]
    if coerce and not getattr(opts, "coerce", False):  # it reads the landing labels too
        from trlprep.importers import ImportOptions

        opts = dataclasses.replace(opts or ImportOptions(), coerce=True)
    result = importer.apply(settled, opts, 0, kept_lines, seen=seen)
    got.notes += [n for n in result.notes if n not in got.notes]
    got.roles |= result.roles_seen
    got.steps["import"] = [settled.num_rows - result.num_rejected, result.table.num_rows]
    if result.num_rejected:  # ties left unpaired keep their own stage (`NOT_PAIRED`)
        at = result.rejects.column("row").to_numpy()
        stages = np.asarray(result.rejects.column("stage").to_pylist(), dtype=object)
        reasons = np.asarray(result.rejects.column("reason").to_pylist(), dtype=object)
        for stage in dict.fromkeys(stages):
            mine = stages == stage
            failures.append(Failure(ids[keep[at[mine]]], stage, list(reasons[mine])))
    if failures and not collect:
        raise _failed(failures, rows)
    imported = keep[np.asarray(result.rows, np.int64)]
    got.booleans.update(s.booleans_in(imported))  # in the rows imported only
    out = result.table.append_column(ROW_ID, pa.array(ids[imported]))
    out_lines = rows.line_of(out.column(ROW_ID).to_numpy())
    out = out.append_column(
        LINE,
        pa.array(out_lines, pa.int64())
        if out_lines is not None
        else pa.nulls(out.num_rows, pa.int64()),
    )
    return _with_rejects(out, [_reject_rows(failures, rows) if failures else None])


class _Converter:
    """A map_batches callable that loads the chat template / tokenizer once (per actor)."""

    def __init__(self, stage: _Stage) -> None:
        from trlprep.conversion import masks
        from trlprep.conversion.render import make_render

        self.stage = stage
        if stage.render_args is not None:
            args = dict(stage.render_args)
            want = args.pop("assistant_masks", False)
            with recording(stage.notes):  # a template's warnings on loading
                render = masks.asked(make_render(**args), want, args["tokenize"])
                plan = dataclasses.replace(stage.plan, render=render)
            self.stage = dataclasses.replace(stage, plan=plan)

    def __call__(self, table: pa.Table) -> pa.Table:
        return _run(table, self.stage)


def _keep(table: pa.Table, rejects: bool, halves: bool = False, turned: bool = True) -> pa.Table:
    """The reject rows (hidden columns only; REJECT without `turn` unless `turned`), or the
    output rows (with HALF: `halves`)."""
    import pyarrow.compute as pc

    hidden = [c for c in (LINE, REJECT, HALF) if c in table.column_names]
    if halves:
        hidden = [c for c in hidden if c != HALF]
    if REJECT not in table.column_names:
        return _no_rejects(turned) if rejects else table.drop_columns(hidden)
    refused = pc.is_valid(table.column(REJECT))
    if not rejects:
        return table.filter(pc.invert(refused)).drop_columns(hidden)
    held = table.filter(refused).select([ROW_ID, LINE, REJECT])
    if turned:
        return held
    reject = held.column(REJECT).combine_chunks()
    kept = [f.name for f in REJECT_TYPE if f.name != "turn"]
    untimed = pa.StructArray.from_arrays([pc.struct_field(reject, n) for n in kept], names=kept)
    return held.set_column(2, REJECT, untimed)


def _no_rejects(turned: bool = True) -> pa.Table:
    kind = REJECT_TYPE if turned else pa.struct([f for f in REJECT_TYPE if f.name != "turn"])
    return pa.table(
        {ROW_ID: pa.array([], pa.int64()), LINE: pa.array([], pa.int64()),
         REJECT: pa.array([], kind)}
    )  # fmt: skip
