"""Ray Data as the distributed engine: the local engine's stages run over a `ray.data.Dataset`.

Nothing is reimplemented: every block goes through the same planning (`trlprep.convert`),
the same importers, Arrow -> Arrow edges and checks as the local engine, as
`map_batches(..., batch_format="pyarrow")` tasks. Chat templates and tokenizers run in an
actor pool (each actor loads them once). Rows carry hidden columns: `ROW_ID` (their row in
the whole input), `LINE` (their file line, for local JSON Lines files) and, once a stage
refused them, `REJECT` (stage, reason): reject rows travel on past later stages, so the
driver can stop naming the first (as the local engine) or write them to a rejects file.
Validation merges per-block results into one report with global rows and lines.

Pairing unpaired rows by prompt groups the rows by a hash of the prompt (Ray's groupby) and
pairs within each group in input order; unpairing with `order="blocks"` sorts the output by
(half, row). Needs the `ray` extra (`pip install "trlprep[ray]"`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID, DataError, UsageError

if TYPE_CHECKING:
    import ray.data

    from trlprep.detect import Detection
    from trlprep.validation.report import Report

PAIR_KEY = "__trlprep_pair_key__"
LINE = "__trlprep_line__"  # each row's 1-based file line (null: not a line-based file)
REJECT = "__trlprep_reject__"  # (stage, reason) of a row a stage refused; null otherwise
HALF = "__trlprep_half__"  # 0/1: first or second row of an unpaired pair (--order blocks)
PATH = "path"  # the file of each row, as Ray's readers name it (include_paths)
REJECT_TYPE = pa.struct([("stage", pa.string()), ("reason", pa.string())])


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray Data", hint='pip install "trlprep[ray]"') from None
    return ray


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to Ray: `address` "auto" or "ray://host:port" (None: a local instance)."""
    import logging

    ray = _ray()
    for name in ("ray", "ray.data"):  # Ray Data logs each dataset's execution at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    _context()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False)
    if address is None:
        kwargs["num_cpus"] = num_cpus
    ray.init(address=address, logging_level="ERROR", **kwargs)


def _context() -> None:
    """Row numbers follow the input's order and outputs keep it; a DataError raised in a
    task stays one (in RayTaskError)."""
    ctx = _ray().data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.raise_original_map_exception = True


# ---------------------------------------------------------------- global row numbers


def _arrow(block: Any) -> pa.Table:
    from ray.data.block import BlockAccessor

    return block if isinstance(block, pa.Table) else BlockAccessor.for_block(block).to_arrow()


def _blocks(ds: ray.data.Dataset) -> list[tuple[Any, int, int]]:
    """(block ref, offset of its first row, rows) of every block, in dataset order."""
    out, offset = [], 0
    for bundle in ds.materialize().iter_internal_ref_bundles():
        for entry in bundle.blocks:
            n = entry.metadata.num_rows
            out.append((entry.ref, offset, n))
            offset += n
    return out


def numbered(ds: ray.data.Dataset) -> tuple[ray.data.Dataset, int]:
    """`ds` with `ROW_ID` (each row's index in the whole dataset) and its row count."""
    ray = _ray()

    @ray.remote
    def number(block: Any, offset: int) -> pa.Table:
        t = _arrow(block)
        if ROW_ID in t.column_names:
            return t
        return t.append_column(ROW_ID, pa.array(np.arange(offset, offset + t.num_rows)))

    blocks = _blocks(ds)
    refs = [number.remote(ref, offset) for ref, offset, _ in blocks]
    total = sum(n for _, _, n in blocks)
    return (ray.data.from_arrow_refs(refs) if refs else ds), total


def _runs(block: Any) -> list[tuple[str, int]]:
    """(file, rows) of each run of rows of one file in a block read with `include_paths`."""
    import pyarrow.compute as pc

    t = _arrow(block)
    if not t.num_rows:
        return []
    enc = pc.dictionary_encode(t.column(PATH)).combine_chunks()
    idx = enc.indices.to_numpy()
    names = enc.dictionary.to_pylist()
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    ends = np.r_[starts[1:], len(idx)]
    return [(names[idx[s]], int(e - s)) for s, e in zip(starts, ends, strict=True)]


def text_lines(path: str) -> np.ndarray | None:
    """The 1-based numbers of the lines holding text in a JSON Lines file (None when every
    line does: row k is line k + 1); blank lines are whitespace only, as the local reader
    reads them."""
    blank_at: list[np.ndarray] = []
    line0 = 0  # lines before the chunk
    total = 0
    import bz2
    import gzip

    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(os.path.splitext(path)[1], open)
    with opener(path, "rb") as f:
        rest = b""
        while True:
            chunk = f.read(1 << 24)
            data = rest + chunk
            if not chunk:
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
            body, rest = data[:cut], data[cut:]
            if body:
                a = np.frombuffer(body, np.uint8)
                nl = np.flatnonzero(a == 10)
                starts = np.r_[0, nl + 1]
                stops = np.r_[nl, len(a)]
                if len(a) and a[-1] == 10:
                    starts, stops = starts[:-1], stops[:-1]
                text = ~np.isin(a, (9, 10, 11, 12, 13, 32))
                c = np.r_[0, np.cumsum(text, dtype=np.int64)]
                blank = c[stops] == c[starts]
                blank_at.append(np.flatnonzero(blank) + line0 + 1)
                line0 += len(starts)
                total = line0
            if not chunk:
                break
    blanks = np.concatenate(blank_at) if blank_at else np.zeros(0, np.int64)
    if not len(blanks):
        return None
    return np.setdiff1d(np.arange(1, total + 1), blanks)


def numbered_files(
    ds: ray.data.Dataset, files: list[str], line_based: bool
) -> tuple[ray.data.Dataset, int, Any]:
    """`ds` read from local `files` with Ray's `include_paths`, numbered: ROW_ID (global
    row), LINE (file line, line-based files) in place of the path column; also the row
    count and the files as `trlprep.io.shards.Shards` (each one's first row and rows)."""

    from trlprep.io.shards import Shards

    ray = _ray()
    blocks = _blocks(ds)
    runs = ray.get([ray.remote(_runs).remote(ref) for ref, _, _ in blocks])
    name = {os.path.abspath(f): f for f in files}
    start: dict[str, int] = {}
    rows: dict[str, int] = {}
    offset = 0
    for block_runs in runs:
        for p, n in block_runs:
            f = name.get(os.path.abspath(p), p)
            start.setdefault(f, offset)
            rows[f] = rows.get(f, 0) + n
            offset += n
    order = sorted(start, key=start.get)
    shards = Shards(order, [start[f] for f in order], [rows[f] for f in order])
    lines = {}
    line_based = line_based and not any(f.endswith((".zst", ".lz4", ".br")) for f in order)
    if line_based:
        found = ray.get([ray.remote(text_lines).remote(f) for f in order])
        lines = dict(zip(order, found, strict=True))
    info = {p: (start[name.get(os.path.abspath(p), p)], lines.get(name.get(os.path.abspath(p), p)))
            for block_runs in runs for p, _ in block_runs}  # fmt: skip
    number = ray.remote(_number_lines)
    refs = [number.remote(ref, off, info, line_based) for ref, off, _ in blocks]
    return (ray.data.from_arrow_refs(refs) if refs else ds), offset, shards


def _number_lines(block: Any, offset: int, info: dict, line_based: bool) -> pa.Table:
    t = _arrow(block)
    ids = np.arange(offset, offset + t.num_rows, dtype=np.int64)
    line = np.zeros(t.num_rows, np.int64)
    if t.num_rows and line_based:
        paths = t.column(PATH).to_numpy(zero_copy_only=False)
        for p in set(paths.tolist()):
            at = paths == p
            first, text = info[p]
            k = ids[at] - first
            line[at] = k + 1 if text is None else np.asarray(text)[k]
    t = t.drop_columns([PATH]).append_column(ROW_ID, pa.array(ids))
    return t.append_column(LINE, pa.array(line) if line_based else pa.nulls(t.num_rows, pa.int64()))


# ---------------------------------------------------------------- detect


def detect(ds: ray.data.Dataset) -> Detection:
    """Detect the type, format and modality of a Ray dataset, checking every row (the
    blocks stream through the driver, one at a time)."""
    from trlprep.detect import detect_batches
    from trlprep.io.readers import Batch

    def batches():
        offset = 0
        for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            lines = None
            if LINE in b.column_names and b.num_rows and not b.column(LINE).null_count:
                lines = np.asarray(b.column(LINE).to_numpy(), np.int64)
            b = b.drop_columns([c for c in (ROW_ID, LINE) if c in b.column_names])
            yield Batch(b, offset, lines)
            offset += b.num_rows

    return detect_batches(batches())


# ---------------------------------------------------------------- convert


@dataclasses.dataclass
class _Stage:
    """One `map_batches` stage: the plan to apply to each block (a slice of the route)."""

    plan: Any  # convert.Plan, render None (made in each actor from `render_args`)
    check: bool = False  # check each block is of the planned source type
    coerce: bool = False
    render_args: dict[str, Any] | None = None
    collect: bool = False  # refused rows stay as reject rows (else the block fails)
    halves: bool = False  # number each output row's half (--order blocks after unpairing)


class _BlockRows:
    """Names input rows of one block by their file line (LINE) or global row (ROW_ID)."""

    def __init__(self, ids: np.ndarray, lines: np.ndarray | None) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids, self.lines = ids[order], None if lines is None else lines[order]

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
    """Refused input rows as ROW_ID / LINE / REJECT (stage, reason) rows."""
    ids = np.concatenate([np.asarray(f.rows, np.int64) for f in failures])
    stage = [f.stage for f in failures for _ in f.rows]
    reason = [str(r) for f in failures for r in f.reasons]
    lines = rows.line_of(ids)
    return pa.table(
        {
            ROW_ID: pa.array(ids, pa.int64()),
            LINE: pa.array(lines, pa.int64())
            if lines is not None
            else pa.nulls(len(ids), pa.int64()),
            REJECT: pa.StructArray.from_arrays(
                [pa.array(stage, pa.string()), pa.array(reason, pa.string())],
                fields=list(REJECT_TYPE),
            ),
        }
    )


def _with_rejects(out: pa.Table, parts: list[pa.Table]) -> pa.Table:
    """`out` (REJECT null) followed by the reject rows of `parts`, in `out`'s schema."""
    n = out.num_rows
    out = out.append_column(REJECT, pa.nulls(n, REJECT_TYPE))
    parts = [p for p in parts if p is not None and p.num_rows]
    if not parts:
        return out
    rej = pa.concat_tables(parts, promote_options="permissive")
    k = rej.num_rows
    cols = [
        rej.column(f.name).cast(f.type) if f.name in rej.column_names else pa.nulls(k, f.type)
        for f in out.schema
    ]
    return pa.concat_tables([out, pa.Table.from_arrays(cols, schema=out.schema)])


def _run(table: pa.Table, stage: _Stage) -> pa.Table:
    """Apply `stage.plan` to one block. Rows a stage refuses become reject rows
    (`stage.collect`), else raise one DataError naming the first and how many more."""
    from trlprep.apply import Failure, apply_checked
    from trlprep.io.kinds import settle_kinds
    from trlprep.stream import _check_batch

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
    rows = _BlockRows(ids, None if lines is None else np.asarray(lines, np.int64))
    first = int(ids.min()) if len(ids) else 0
    failures: list[Failure] = []
    if stage.check and table.num_rows:
        _check_batch(table, stage.plan, first, lines)
        s = settle_kinds(table, coerce=stage.coerce)
        if s.bad.any():
            idx = np.flatnonzero(s.bad)
            failures.append(Failure(ids[idx], "read", list(s.reasons[idx])))
            table = s.table.filter(pa.array(~s.bad))
            lines = None if lines is None else lines[~s.bad]
        else:
            table = s.table
    out, more = apply_checked(table, stage.plan, offset=first, lines=lines, source=rows)
    failures += more
    if failures and not stage.collect:
        raise _failed(failures, rows)
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


def _failed(failures: list[Any], rows: _BlockRows) -> DataError:
    from trlprep.wording import plural

    ids = np.concatenate([f.rows for f in failures])
    f = min(failures, key=lambda f: int(f.rows.min()))
    i = int(np.argmin(f.rows))
    more = len(ids) - 1
    return DataError(
        f"{rows.name([int(f.rows[i])])} (stage {f.stage}): {f.reasons[i]}"
        + (f" (and {plural(more, 'more row')} in the same block)" if more else ""),
        hint=f.hint or "fix the rows, or pass on_error='skip' (--on-error skip)",
    )


def _import(table: pa.Table, importer: Any, opts: Any, coerce: bool, collect: bool) -> pa.Table:
    """Import one block of a public layout (the importer's Arrow -> Arrow pass): imported
    rows carry their input row's ROW_ID and LINE; refused rows become reject rows."""
    from trlprep.apply import Failure
    from trlprep.io.kinds import settle_kinds

    if not table.num_rows:
        return table
    ids = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)
    lines = None
    if LINE in table.column_names and not table.column(LINE).null_count:
        lines = np.asarray(table.column(LINE).to_numpy(), np.int64)
    rows = _BlockRows(ids, lines)
    data = table.drop_columns([c for c in (ROW_ID, LINE) if c in table.column_names])
    s = settle_kinds(data, coerce=coerce)
    failures = []
    keep = np.flatnonzero(~s.bad)
    if s.bad.any():
        idx = np.flatnonzero(s.bad)
        failures.append(Failure(ids[idx], "read", list(s.reasons[idx])))
    settled = s.table.take(pa.array(keep)) if s.bad.any() else s.table
    kept_lines = None if lines is None else lines[keep]
    result = importer.apply(settled, opts, 0, kept_lines)
    if result.num_rejected:
        at = result.rejects.column("row").to_numpy()
        failures.append(
            Failure(
                ids[keep[at]],
                "import",
                result.rejects.column("reason").to_pylist(),
            )
        )
    if failures and not collect:
        raise _failed(failures, rows)
    out = result.table.append_column(ROW_ID, pa.array(ids[keep[np.asarray(result.rows, np.int64)]]))
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
        from trlprep.convert import make_render

        self.stage = stage
        if stage.render_args is not None:
            plan = dataclasses.replace(stage.plan, render=make_render(**stage.render_args))
            self.stage = dataclasses.replace(stage, plan=plan)

    def __call__(self, table: pa.Table) -> pa.Table:
        return _run(table, self.stage)


def _segment(plan: Any, steps: tuple, *, first: bool, src: str | None = None) -> Any:
    """`plan` restricted to `steps`, which may be none (the reading step only in the first
    segment); the chat template is added by the actor of the last one."""
    from trlprep.graph import Route
    from trlprep.registry import get_type

    start = plan.route.src if first else get_type(src or steps[0].src)
    end = get_type(steps[-1].dst) if steps else start
    return dataclasses.replace(
        plan, route=Route(start, end, tuple(steps)), reading=plan.reading if first else None
    )


def _pair_keys(table: pa.Table, fmt: Any, buckets: int) -> pa.Table:
    """Each row's bucket: a hash of its prompt modulo `buckets` (rows with equal prompts
    share one; a bucket holds many prompts, paired exactly inside). Reject rows: bucket 0."""
    import polars as pl
    import pyarrow.compute as pc

    from trlprep.converters.arrowops import as_array
    from trlprep.converters.common import content

    keys = np.zeros(table.num_rows, np.int64)
    live = np.ones(table.num_rows, bool)
    if REJECT in table.column_names:
        live = np.asarray(pc.is_null(table.column(REJECT)).to_numpy(zero_copy_only=False), bool)
    if live.any():
        part = table.filter(pa.array(live)) if not live.all() else table
        prompt = as_array(content(part, "prompt", fmt))
        hashed = pl.Series(pl.from_arrow(prompt)).hash(seed=0).to_numpy() % np.uint64(buckets)
        keys[live] = hashed.astype(np.int64)
    return table.append_column(PAIR_KEY, pa.array(keys))


def _pair_group(table: pa.Table, stage: _Stage) -> pa.Table:
    """Pair the rows of one bucket of prompts, in input order."""
    import pyarrow.compute as pc

    table = table.drop_columns([PAIR_KEY])
    table = table.take(pc.sort_indices(table, [(ROW_ID, "ascending")]))
    return _run(table, stage)


@dataclasses.dataclass
class Converted:
    """A conversion on Ray: `rows` (output rows, with the hidden columns and reject rows
    among them) and what was planned. `output()` and `rejects()` split them."""

    rows: ray.data.Dataset
    plan: Any
    blocks_order: bool = False

    def output(self) -> ray.data.Dataset:
        """The converted rows without hidden columns, in input order (`--order blocks`:
        every first-of-pair row before any second one)."""
        if not self.blocks_order:
            ds = self.rows.map_batches(_keep, batch_format="pyarrow", fn_args=(False,))
        else:  # a sort by (half, input row): Ray's union does not keep the order of its parts
            ds = self.rows.map_batches(_keep, batch_format="pyarrow", fn_args=(False, True))
            ds = ds.sort([HALF, ROW_ID]).drop_columns([HALF])
        return finish(ds)

    def rejects(self) -> ray.data.Dataset:
        """The refused input rows: ROW_ID, LINE and REJECT (stage, reason)."""
        return self.rows.map_batches(_keep, batch_format="pyarrow", fn_args=(True,))


def _keep(table: pa.Table, rejects: bool, halves: bool = False) -> pa.Table:
    """The reject rows (hidden columns only), or the output rows (with HALF: `halves`)."""
    import pyarrow.compute as pc

    hidden = [c for c in (LINE, REJECT, HALF) if c in table.column_names]
    if halves:
        hidden = [c for c in hidden if c != HALF]
    if REJECT not in table.column_names:
        return _no_rejects(table) if rejects else table.drop_columns(hidden)
    refused = pc.is_valid(table.column(REJECT))
    if rejects:
        return table.filter(refused).select([ROW_ID, LINE, REJECT])
    return table.filter(pc.invert(refused)).drop_columns(hidden)


def _no_rejects(table: pa.Table) -> pa.Table:
    return pa.table(
        {ROW_ID: pa.array([], pa.int64()), LINE: pa.array([], pa.int64()),
         REJECT: pa.array([], REJECT_TYPE)}
    )  # fmt: skip


def import_layout(
    ds: ray.data.Dataset,
    layout: str,
    options: Any = None,
    *,
    coerce: bool = False,
    collect: bool = True,
) -> ray.data.Dataset:
    """Import a public layout (sharegpt, alpaca, ...) block by block; `ds` must carry
    ROW_ID (`numbered`). Refused rows stay as reject rows (`Converted.rejects`), or fail
    the block (`collect=False`)."""
    from trlprep.importers import ImportOptions, get_importer
    from trlprep.importers.base import rename

    importer = get_importer(layout)
    opts = options or ImportOptions()
    schema = ds.schema()
    schema = getattr(schema, "base_schema", schema)
    names = [n for n in schema.names if n not in (ROW_ID, LINE)]
    schema = rename(pa.schema([schema.field(n) for n in names]).empty_table(), opts.map).schema
    if importer.needs_whole_input(schema):
        ds = ds.repartition(1)  # records span rows anywhere in the input
    return ds.map_batches(
        _import, batch_format="pyarrow", batch_size=None, fn_args=(importer, opts, coerce, collect)
    )


def convert_rows(
    ds: ray.data.Dataset,
    to: str | None = None,
    *,
    from_: str | None = None,
    chat_template: Any = None,
    tokenizer: Any = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
    tokenize: bool = False,
    max_length: int | None = None,
    truncation: str = "keep_start",
    guide_only: bool = False,
    collect: bool = True,
    coerce: bool = False,
    concurrency: int | None = None,
    **options: Any,
) -> Converted:
    """Plan and run a conversion on `ds` (numbered with `numbered`, perhaps imported);
    with `collect`, rows a stage refuses stay in the result as reject rows."""
    from trlprep.convert import make_plan, make_render
    from trlprep.converters.base import ConvertOptions
    from trlprep.detect import detect_table
    from trlprep.registry import Format

    opts = ConvertOptions(**options)
    parts = max(1, ds.num_blocks())
    head = _head(ds)
    if head is None:
        raise DataError("no rows to convert", hint="the Ray dataset is empty")
    lines = None
    det = detect_table(head, lines)
    render_args = dict(
        chat_template=chat_template, tokenizer=tokenizer, tools=tools,
        template_kwargs=template_kwargs, num_proc=1, tokenize=tokenize,
        max_length=max_length, truncation=truncation,
        conversational=det.format is Format.CONVERSATIONAL,
    )  # fmt: skip
    render = make_render(**render_args)
    plan = make_plan(det, to=to, from_=from_, options=opts, render=render, guide_only=guide_only)
    steps = plan.route.steps
    blocks = bool(steps) and steps[-1].rows == "doubles" and opts.order == "blocks"
    bare = dataclasses.replace(plan, render=None)
    if blocks:  # interleaved in each block, then every first half before any second one
        bare = dataclasses.replace(bare, options=dataclasses.replace(opts, order="interleaved"))
    at = next((i for i, e in enumerate(steps) if e.rows == "pairs"), None)
    if at is None:
        stage = _Stage(bare, True, coerce, render_args if render else None, collect, blocks)
        return Converted(_map(ds, stage, concurrency), plan, blocks)
    before, pairing, after = steps[:at], steps[at : at + 1], steps[at + 1 :]
    if before:
        first = _Stage(_segment(bare, before, first=True), True, coerce, None, collect)
        ds = _map(ds, first, concurrency)
    seg = _segment(bare, pairing, first=not before)
    # one map_groups call per bucket, not per prompt (a call per prompt costs ~1 ms each)
    cpus = int(_ray().cluster_resources().get("CPU", 1))
    buckets = max(parts, 2 * cpus)
    ds = ds.map_batches(_pair_keys, batch_format="pyarrow", fn_args=(plan.fmt, buckets))
    stage = _Stage(seg, not before, coerce, None, collect, blocks and not after and not render)
    ds = ds.groupby(PAIR_KEY, num_partitions=min(parts, buckets)).map_groups(
        _pair_group, batch_format="pyarrow", fn_args=(stage,)
    )
    ds = ds.sort(ROW_ID)
    if after or render is not None:
        seg = _segment(bare, after, first=False, src=pairing[-1].dst)
        last = _Stage(seg, False, coerce, render_args if render else None, collect, blocks)
        ds = _map(ds, last, concurrency)
    return Converted(ds, plan, blocks)


def _head(ds: ray.data.Dataset, n: int = 10_000) -> pa.Table | None:
    """The first `n` rows that are not reject rows, without hidden columns (None: no rows)."""
    parts, got = [], 0
    for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        b = _keep(b, False)
        b = b.drop_columns([ROW_ID]) if ROW_ID in b.column_names else b
        if b.num_rows:
            parts.append(b.slice(0, n - got))
            got += parts[-1].num_rows
        if got >= n:
            break
    return pa.concat_tables(parts, promote_options="permissive") if parts else None


def convert(
    ds: ray.data.Dataset,
    to: str | None = None,
    *,
    from_: str | None = None,
    import_options: Any = None,
    on_error: str = "stop",
    coerce: bool = False,
    **kwargs: Any,
) -> ray.data.Dataset:
    """Convert a Ray dataset to type `to` through the conversion graph (a Dataset).

    Arguments as `trlprep.convert`; the type is planned from the first rows and every block
    is checked against it. A row a stage refuses fails the run with a DataError naming its
    row (or file line); with `on_error="skip"` refused rows are left out. `chat_template`
    and `tokenize` run in an actor pool of `concurrency` actors (default: Ray's
    autoscaling). Output rows are in input order (`order="blocks"`: every first-of-pair
    row before any second one). `from_` may name a public layout (sharegpt, alpaca, ...):
    its rows are imported first (`import_options`: `trlprep.importers.ImportOptions`).
    """
    from trlprep.importers import is_layout
    from trlprep.importers.run import check_on_error

    check_on_error(on_error)
    _context()
    collect = on_error == "skip"
    ds, _ = numbered(ds)
    if from_ is not None and is_layout(from_):
        ds = import_layout(ds, from_, import_options, coerce=coerce, collect=collect)
        ds, from_ = ds.materialize(), None
        if collect and _head(ds, 1) is None:  # every row refused: nothing left, as locally
            return _ray().data.from_arrow(pa.table({}))
    return convert_rows(ds, to, from_=from_, collect=collect, coerce=coerce, **kwargs).output()


def _map(ds: ray.data.Dataset, stage: _Stage, concurrency: int | None) -> ray.data.Dataset:
    if stage.render_args is None:
        return ds.map_batches(_run, batch_format="pyarrow", fn_args=(stage,))
    return ds.map_batches(
        _Converter,
        batch_format="pyarrow",
        fn_constructor_args=(stage,),
        concurrency=concurrency or (1, max(1, int(_ray().cluster_resources().get("CPU", 1)))),
    )


def finish(ds: ray.data.Dataset) -> ray.data.Dataset:
    """`ds` without the hidden `ROW_ID` column, its rows in input order."""
    ds = ds.drop_columns([ROW_ID])
    ds.context.execution_options.preserve_order = True
    ds.context.raise_original_map_exception = True  # a DataError stays one (in RayTaskError)
    return ds


def apply_chat_template(
    ds: ray.data.Dataset,
    template: Any,
    *,
    tokenizer: Any = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
    concurrency: int | None = None,
) -> ray.data.Dataset:
    """Render a conversational Ray dataset to standard text with `template` (actor pool)."""
    return convert(
        ds, chat_template=template, tokenizer=tokenizer, tools=tools,
        template_kwargs=template_kwargs, concurrency=concurrency,
    )  # fmt: skip


def tokenize(
    ds: ray.data.Dataset,
    tokenizer: Any,
    *,
    chat_template: Any = None,
    max_length: int | None = None,
    truncation: str = "keep_start",
    concurrency: int | None = None,
) -> ray.data.Dataset:
    """Add token ids to a Ray dataset (conversational rows rendered with the tokenizer's
    template, or `chat_template`, first), in an actor pool."""
    return convert(
        ds, chat_template=chat_template, tokenizer=tokenizer, tokenize=True,
        max_length=max_length, truncation=truncation, concurrency=concurrency,
    )  # fmt: skip


# ---------------------------------------------------------------- validate


def _check_block(block: Any, plan: Any, duplicates: bool) -> tuple:
    """Run every row rule on one block: (rows, its flags, row hashes, columns, seen)."""
    from trlprep.validation.checks.common import BatchSink
    from trlprep.validation.dupes import column_hashes, row_hash
    from trlprep.validation.validate import check_batch

    t = _arrow(block)
    lines = None
    if LINE in t.column_names and t.num_rows and not t.column(LINE).null_count:
        lines = np.asarray(t.column(LINE).to_numpy(), np.int64)
    t = t.drop_columns([c for c in (ROW_ID, LINE) if c in t.column_names])
    sink = BatchSink(t.num_rows)
    hashes = column_hashes(t) if duplicates and t.num_rows else None
    seen = check_batch(t, plan, sink, hashes) if plan is not None and t.num_rows else set()
    rows = row_hash(hashes) if hashes is not None else None
    unhashable = hashes is None and t.num_rows > 0
    return t.num_rows, sink, rows, list(t.column_names), seen, unhashable, lines


def validate(
    ds: ray.data.Dataset,
    type: str | None = None,
    format: str | None = None,
    *,
    strict: bool = False,
    max_errors: int = 10,
    role_map: str | dict[str, str] | None = None,
    allow_empty: bool = False,
) -> Report:
    """Validate every row of a Ray dataset: one task per block, the blocks' flagged rows
    merged into one `Report` with global row numbers (as `trlprep.validate`)."""
    from trlprep.validation.collect import Collector
    from trlprep.validation.dupes import DuplicateFinder
    from trlprep.validation.report import Report
    from trlprep.validation.validate import _report_duplicates, _required, make_plan

    ray = _ray()
    det = detect(ds) if type is None or format is None else None
    plan, notes = make_plan(det, type, format, role_map)
    check = ray.remote(_check_block)
    blocks = _blocks(ds)
    results = ray.get([check.remote(ref, plan, True) for ref, _, _ in blocks])
    col = Collector(max_errors)
    finder: DuplicateFinder | None = DuplicateFinder()
    columns: dict[str, None] = {}
    for (_, offset, _), result in zip(blocks, results, strict=True):
        n, sink, hashes, names, seen, unhashable, lines = result
        col.num_rows += n
        columns.update(dict.fromkeys(names))
        if not n:
            continue
        col.seen_columns |= seen
        if finder is not None:
            finder = None if unhashable else finder
        if finder is not None:
            finder.add(hashes, lines)
        col.line_oriented = col.line_oriented or lines is not None
        col.add_sink(sink, offset, lines)
    if finder is not None:
        _report_duplicates(finder, col)
    else:
        notes.append("duplicate rows were not checked (a column type polars cannot hash)")
    if col.num_rows == 0:
        col.add("empty-dataset", None, [], count=0)
    elif plan is None:
        col.add(
            "unknown-type", None, [], count=col.num_rows,
            message="no dataset type matches the columns " + (", ".join(columns) or "(none)"),
        )  # fmt: skip
    report = Report(
        type=plan.dtype.name if plan else None,
        format=plan.fmt.value if plan else None,
        num_rows=col.num_rows,
        issues=col.issues(*_required(plan) if plan and col.num_rows else ()),
        strict=strict,
        notes=notes,
    )
    if allow_empty:
        report.allow_empty()
    return report
