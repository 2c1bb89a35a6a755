"""Run a conversion: plan the route, apply its edges, template, validate, write.

Whole tables (Python API) and files streamed in record batches (CLI) share one plan and
the same edge functions; nothing is written unless every output batch validates against
the target type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.detect import PASSABLE, Detection
from trlprep.errors import ROW_ID, DataError, RowFailures, UsageError
from trlprep.graph import Route, route
from trlprep.registry import DatasetType, Format, get_type

_ROW_EFFECT = {
    "same": "same rows",
    "filters": "drops rows",
    "doubles": "2 rows per row",
    "expands": "more rows",
    "pairs": "pairs rows",
}


@dataclass
class Render:
    """How the conversational result is rendered to text (and optionally tokenised)."""

    template: Any  # templates.ChatTemplate
    tools: list | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    num_proc: int | None = None
    tokenizer: Any = None  # set to tokenise after templating
    max_length: int | None = None
    truncation: str = "keep_start"
    report: Any = None  # templates.TemplateReport, merged over batches
    token_report: Any = None  # templates.TokenizeReport, merged over batches

    @property
    def name(self) -> str:
        return getattr(self.template, "name", "") if self.template is not None else ""


@dataclass
class Plan:
    """What `convert` will do: source, route, optional chat template, and options."""

    src: DatasetType
    fmt: Format
    route: Route
    options: Any  # converters.base.ConvertOptions
    render: Render | None = None  # chat template / tokenisation after the route
    # reads a `messages` column as `src` before the route (detect.Reading), an Edge
    reading: Any = None
    remarks: list[str] = field(default_factory=list)  # what planning has to say

    @property
    def steps(self) -> tuple:
        """Every conversion step: the reading of the columns (if any), then the route."""
        return ((self.reading,) if self.reading is not None else ()) + self.route.steps

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The input columns the plan reads."""
        if self.reading is not None:
            return self.reading.needs
        return self.src.column_names(self.fmt)

    @property
    def template(self) -> Any:
        return self.render.template if self.render is not None else None

    @property
    def dst(self) -> DatasetType:
        return self.route.dst

    @property
    def out_format(self) -> Format:
        return Format.STANDARD if self.template is not None else self.fmt

    def notes(self) -> list[str]:
        """What planning, templating and tokenising reported, for the user."""
        out: list[str] = list(self.remarks)
        if self.render is not None and self.render.report is not None:
            out += self.render.report.notes()
        tok = self.render.token_report if self.render is not None else None
        if tok is not None:
            if tok.boundary_merges:
                rows = ", ".join(map(str, tok.boundary_examples))
                out.append(
                    f"{tok.boundary_merges} row(s) where the tokenizer merges tokens across the "
                    f"prompt/completion boundary ({tok.example_label} {rows})"
                )
            if tok.truncated:
                out.append(tok.truncation_note())
        return out

    def warnings(self) -> list[str]:
        """What the chat template silently left out of the text (tool calls, tools)."""
        r = self.render
        return r.report.warnings() if r is not None and r.report is not None else []

    def explain(self) -> list[dict[str, Any]]:
        """One entry per step: the edge, its columns in and out, rows, and what is lost."""
        steps = []
        if self.reading is not None:
            e = self.reading
            steps.append(
                {
                    "step": f"read {', '.join(e.needs)} as {self.src.name}",
                    "columns_in": list(e.needs),
                    "columns_out": list(self.src.column_names(self.fmt)),
                    "rows": _ROW_EFFECT["same"],
                    "loses": "nothing",
                    "description": e.description,
                }
            )
        for e in self.route.steps:
            s, d = get_type(e.src), get_type(e.dst)
            steps.append(
                {
                    "step": f"{e.src} -> {e.dst}",
                    "columns_in": list(s.column_names(self.fmt)),
                    "columns_out": list(d.column_names(self.fmt)),
                    "rows": _ROW_EFFECT.get(_rows_effect(e, self.options), e.rows),
                    "loses": e.drops or "nothing",
                    "description": e.description.splitlines()[0] if e.description else "",
                }
            )
        if self.template is not None:
            steps.append(
                {
                    "step": f"{self.dst.name} (conversational) -> {self.dst.name} (standard)",
                    "columns_in": list(self.dst.column_names(Format.CONVERSATIONAL)),
                    "columns_out": list(self.dst.column_names(Format.STANDARD)),
                    "rows": _ROW_EFFECT["same"],
                    "loses": "message structure (rendered to text by the chat template)",
                    "description": f"apply chat template {self.render.name}",
                }
            )
        if self.render is not None and self.render.tokenizer is not None:
            from trlprep.templates.tokenize import token_columns

            ids = list(token_columns(self.dst))
            steps.append(
                {
                    "step": f"tokenize ({getattr(self.render.tokenizer, 'name_or_path', '')})",
                    "columns_in": list(self.dst.content_columns(Format.STANDARD)),
                    "columns_out": ids,
                    "rows": _ROW_EFFECT["same"],
                    "loses": "nothing (token ids are added)"
                    if self.render.max_length is None
                    else f"tokens past --max-length {self.render.max_length}",
                    "description": "add token ids (prompt ids are a prefix of the full ids)",
                }
            )
        return steps


def _rows_effect(e: Any, options: Any) -> str:
    """An edge's effect on the row count under `options` (--split-turns all expands)."""
    if (e.src, e.dst) == ("language-modeling", "prompt-completion"):
        if getattr(options, "split_turns", "last") == "all":
            return "expands"
    return e.rows


def make_render(
    *,
    chat_template: Any = None,
    tokenizer: Any = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
    num_proc: int | None = None,
    tokenize: bool = False,
    max_length: int | None = None,
    truncation: str = "keep_start",
    conversational: bool = True,
) -> Render | None:
    """The templating/tokenising step asked for, or None.

    Tokenising conversational data without `chat_template` uses the tokenizer's own
    template; `tokenizer` also supplies special tokens to a .jinja template.
    """
    from trlprep.templates import load_template
    from trlprep.templates.sources import load_template_and_tokenizer, load_tokenizer

    if chat_template is None and not tokenize:
        if tokenizer is not None or max_length is not None:
            raise UsageError("--tokenizer/--max-length need --tokenize or --chat-template")
        return None
    kwargs = dict(template_kwargs or {})
    template, tok = None, None
    if chat_template is not None:
        template, tok = load_template_and_tokenizer(chat_template, tokenizer, kwargs)
    if tokenize:
        tok = tok or (load_tokenizer(tokenizer) if tokenizer is not None else None)
        if tok is None:
            raise UsageError("--tokenize needs a tokenizer", hint="pass --tokenizer PATH_OR_ID")
        if template is None and conversational:
            template = load_template(tok, template_kwargs=kwargs)
    return Render(
        template, tools, kwargs, num_proc, tok if tokenize else None, max_length, truncation
    )


def make_plan(
    det: Detection,
    *,
    to: str | DatasetType | None = None,
    from_: str | DatasetType | None = None,
    options: Any = None,
    render: Render | None = None,
    guide_only: bool = False,
) -> Plan:
    """Check the detected source against `from_` and route it to `to`."""
    from trlprep.converters.base import ConvertOptions

    src = _source_type(det, from_)
    if det.format is None:
        raise DataError(
            "rows mix standard text and conversational messages",
            hint="run `trlprep detect` to see which rows differ, and make them uniform",
        )
    if det.format is Format.TOKENIZED:
        raise UsageError("tokenized data cannot be converted", hint="convert it before tokenizing")
    dst = get_type(to) if to is not None else src
    remarks = []
    if dst is src and to is not None and render is None:
        remarks.append(
            f"the data is already {src.name} ({det.format}): no conversion"
            + (" (only the columns are renamed)" if _reading(det, src) is not None else "")
        )
    if render is not None and render.template is not None:
        if det.format is not Format.CONVERSATIONAL:
            raise UsageError(
                "--chat-template applies to conversational data; this data is standard text",
                hint="drop --chat-template",
            )
    elif render is not None and det.format is Format.CONVERSATIONAL:
        raise UsageError(
            "conversational data must be rendered with a chat template before tokenizing",
            hint="pass --chat-template, or a --tokenizer that has one",
        )
    r = route(src, dst, guide_only=guide_only, fmt=det.format)
    opts = options or ConvertOptions()
    if det.format is Format.STANDARD:
        remarks += _join_remarks(r, opts)
    return Plan(src, det.format, r, opts, render, _reading(det, src), remarks)


def check_rows_left(plan: Plan, rows_converted: int, rows_out: int) -> None:
    """DataError when the conversion itself dropped every row it was given (an empty
    output is never what was asked for)."""
    if rows_out or not rows_converted or getattr(plan.options, "allow_empty", False):
        return
    filters = [e for e in plan.steps if e.rows == "filters"]
    why = (
        f"{filters[0].src} -> {filters[0].dst} drops {filters[0].drops.split(',')[0]}"
        if filters
        else "the conversion dropped them"
    )
    hint = "check the labels, or convert to a type that keeps these rows (`trlprep graph`)"
    if filters and filters[0].src == "stepwise-supervision":
        hint = (
            "every row has a false step label: --to unpaired keeps them with a merged label "
            "(--label-merge first-false-truncates keeps the steps before the first false one)"
        )
    raise DataError(
        "no rows left (pass --allow-empty to write an empty output): "
        + (f"all {rows_converted:,} rows were" if rows_converted > 1 else "the one row was")
        + f" dropped ({why}); nothing was written",
        hint=hint,
    )


def _join_remarks(r: Route, opts: Any) -> list[str]:
    """One note per join done without a separator (standard text joined as it is)."""
    from trlprep.converters.base import step_separator

    out = []
    for e in r.steps:
        if not e.joins:
            continue
        sep = step_separator(opts) if e.joins == "the steps" else opts.separator
        if sep == "":
            out.append(
                f"{e.src} -> {e.dst}: {e.joins} are joined without a separator (as TRL's "
                "guide does); pass --separator to put one between them"
            )
    return out


def _reading(det: Detection, src: DatasetType) -> Any:
    """The step that reads a `messages` column as `src`, when detection read it so."""
    from trlprep.converters.base import Edge
    from trlprep.converters.turns import read_prompt_only, read_unpaired

    if det.reading is None or det.type is not src:
        return None
    fn = read_unpaired if det.reading.kind == "last-assistant-turn" else read_prompt_only
    needs = tuple(dict.fromkeys(det.columns.values()))
    return Edge(src.name, src.name, fn, description=det.reading.description, needs=needs)


def _source_type(det: Detection, from_: str | DatasetType | None) -> DatasetType:
    looks = (
        f"{det.type.name} ({det.format.value if det.format else 'mixed format'})"
        if det.type
        else "no known type"
    )
    if det.type is None and from_ is None:
        raise DataError(
            "cannot tell the dataset type: " + unknown_reason(det),
            hint="rename the columns, or import the layout with `--from LAYOUT`",
        )
    problems = [p for p in det.problems if p.code not in PASSABLE]
    if problems:
        p = problems[0]
        shown, word = (p.lines, "lines") if p.lines else (p.rows, "rows")
        where = f" (e.g. {word} {', '.join(map(str, shown))})" if shown else ""
        raise DataError(
            f"the data is not uniform: {p.message}{where}",
            hint="run `trlprep validate` for every problem",
        )
    if from_ is None:
        return det.type
    claimed = get_type(from_)
    if claimed is det.type:
        return claimed
    fmt = det.format or Format.STANDARD
    present = set(det.columns.values()) | set(det.extra_columns)
    if not set(claimed.column_names(fmt)) <= present:
        raise UsageError(
            f"--from {claimed.name} does not match the data, which looks like {looks}",
            hint=f"{claimed.name} needs columns {', '.join(claimed.column_names(fmt))}; "
            "drop --from to use the detected type",
        )
    return claimed


def unknown_reason(det: Detection) -> str:
    """Why no type fits, never empty: the columns seen and what each type needs."""
    if det.notes:
        return "; ".join(det.notes)
    from trlprep.registry import TYPES

    need = "; ".join(
        f"{t.name}: {' + '.join(t.column_names(Format.STANDARD))}" for t in TYPES.values()
    )
    if not det.column_kinds:
        return (
            "no rows and no columns were read (an empty input, or every row refused on "
            f"import); the types need {need}"
        )
    seen = ", ".join(det.column_kinds)
    return f"{det.num_rows:,} rows with columns {seen}; the types need {need}"


# ---------------------------------------------------------------- applying a plan


def with_row_ids(table: pa.Table, offset: int = 0) -> pa.Table:
    """`table` with the hidden `ROW_ID` column (input row index), unless it has one."""
    if ROW_ID in table.column_names:
        return table
    ids = pa.array(np.arange(offset, offset + table.num_rows, dtype=np.int64))
    return table.append_column(ROW_ID, ids)


def row_ids(table: pa.Table, rows: Any, offset: int = 0) -> np.ndarray:
    """The input rows of positions `rows` of `table` (through `ROW_ID`, else `offset`)."""
    rows = np.asarray(rows, dtype=np.int64)
    if ROW_ID in table.column_names:
        return np.asarray(table.column(ROW_ID).take(pa.array(rows)).to_numpy(), np.int64)
    return rows + offset


@dataclass
class InputRows:
    """Where the rows of a batch came from: the input's lines (line-oriented files) of the
    input rows `offset`, `offset + 1`, ... (None: rows are named by 0-based index)."""

    offset: int = 0
    lines: Any = None

    def numbers(self, ids: Any) -> tuple[str, list[int]]:
        """("lines", their file lines) for input rows `ids`, else ("rows", the ids)."""
        ids = np.asarray(ids, np.int64)
        if self.lines is not None:
            return "lines", [int(x) for x in np.asarray(self.lines)[ids - self.offset]]
        return "rows", [int(x) for x in ids]

    def name(self, ids: np.ndarray) -> str:
        """`line 4` / `lines 4, 8` (1-based file lines), else `row 3` / `rows 3, 7`."""
        word, shown = self.numbers(ids)
        return f"{word[:-1] if len(shown) == 1 else word} " + ", ".join(map(str, shown))


def _image_parts(table: pa.Table) -> pa.Table:
    """`<image>` placeholders of rows with images made image parts (TRL's vision format)."""
    from trlprep.placeholders import map_placeholders

    out, bad, reasons = map_placeholders(table)
    if len(bad):
        raise RowFailures(bad.tolist(), reasons, stage="image placeholders")
    return out


def _stage(table: pa.Table, fn: Any, offset: int, source: InputRows | None = None) -> pa.Table:
    """Run one stage; a RowFailures it raises gets `input_rows` (mapped through ROW_ID).

    Rows the stage names in its messages (`converters.common.rows_text`) are named by
    their input lines (or rows) when the table carries ROW_ID and `source` is given.
    """
    from trlprep.converters.common import ROW_NAMER

    token = None
    if source is not None and ROW_ID in table.column_names:
        token = ROW_NAMER.set(lambda rows: source.name(row_ids(table, rows, offset)))
    try:
        return fn(table)
    except RowFailures as e:
        if getattr(e, "input_rows", None) is None:
            e.input_rows = row_ids(table, e.rows, offset)
        raise
    finally:
        if token is not None:
            ROW_NAMER.reset(token)


def apply_steps(
    table: pa.Table,
    plan: Plan,
    options: Any = None,
    offset: int = 0,
    lines: Any = None,
    counts: list[tuple[str, int, int]] | None = None,
    source: InputRows | None = None,
    reports: list[tuple[str, Any]] | None = None,
) -> pa.Table:
    """Run the route's edges, then the chat template and tokenizer, over one table or batch.

    `offset` is the index of the batch's first row (and `lines` its file lines), so errors
    name rows of the whole input. A `RowFailures` from any stage leaves with `input_rows`:
    the input rows (the table's `ROW_ID` values) of its failing rows. `counts` receives
    (edge, rows in, rows out) per edge; `source` names rows in the edges' messages. The
    template's and tokenizer's reports are merged into `plan.render`, or collected in
    `reports` (to merge with `merge_reports` once the batch is kept).
    """
    from trlprep.converters import row_offset

    opts = options or plan.options
    table = _stage(table, _image_parts, offset, source)
    with row_offset(offset):
        for e in plan.steps:
            n = table.num_rows
            table = _stage(table, lambda t, e=e: e.fn(t, plan.fmt, opts), offset, source)
            if counts is not None:
                counts.append((f"{e.src} -> {e.dst}", n, table.num_rows))
    r = plan.render
    if r is None:
        return table
    if plan.route.steps:
        lines = None  # rows no longer map one to one onto input lines
    found: list[tuple[str, Any]] = []
    if r.template is not None:
        from trlprep.templates import render_table

        def render(t: pa.Table) -> pa.Table:
            named = source is not None and ROW_ID in t.column_names
            out, report = render_table(
                t, plan.dst, r.template, tools=r.tools, template_kwargs=r.template_kwargs,
                num_proc=r.num_proc, row_offset=0 if named else offset, lines=lines,
            )  # fmt: skip
            if named:
                ex = report.prefix_mismatch_examples
                report.example_label, report.prefix_mismatch_examples = source.numbers(
                    row_ids(t, ex)
                )
            found.append(("report", report))
            return out

        table = _stage(table, render, offset)
    if r.tokenizer is not None:
        from trlprep.templates import tokenize_table

        def tokenize(t: pa.Table) -> pa.Table:
            named = source is not None and ROW_ID in t.column_names
            out, tokens = tokenize_table(
                t, plan.dst, r.tokenizer, max_length=r.max_length, truncation=r.truncation,
                row_offset=0 if named else offset,
            )  # fmt: skip
            if named:
                ex = tokens.boundary_examples
                tokens.example_label, tokens.boundary_examples = source.numbers(row_ids(t, ex))
            found.append(("token_report", tokens))
            return out

        table = _stage(table, tokenize, offset)
    if reports is None:
        merge_reports(plan, found)
    else:
        reports.extend(found)
    return table


def merge_reports(plan: Plan, found: list[tuple[str, Any]]) -> None:
    """Merge templating/tokenising reports of a batch into the plan's render."""
    r = plan.render
    for name, report in found:
        if getattr(r, name) is None:
            setattr(r, name, report)
        else:
            getattr(r, name).merge(report)


def check_output(table: pa.Table, plan: Plan, offset: int = 0) -> None:
    """Validate converted rows against the target type.

    Rows that fail raise one `RowFailures` (stage `validation`, `input_rows` set through
    `ROW_ID`); a missing column of the target type is a DataError (a bug, not a row).
    """
    from trlprep.importers.rejects import invalid_rows

    data = table.drop_columns([ROW_ID]) if ROW_ID in table.column_names else table
    try:
        why = invalid_rows(data, plan.dst, plan.out_format, role_hint=False)
    except DataError as e:
        raise DataError(f"converted {e.message}", hint="this is a bug: please report it") from None
    bad = np.flatnonzero(why != None)  # noqa: E711 (elementwise)
    if len(bad):
        e = RowFailures(
            bad.tolist(),
            [f"the converted row fails {plan.dst.name} validation: {w}" for w in why[bad]],
            stage="validation",
        )
        e.input_rows = row_ids(table, bad, offset)
        raise e


@dataclass
class Failure:
    """Input rows one stage refused, with a reason each."""

    rows: np.ndarray  # input row indices (ROW_ID values)
    stage: str
    reasons: list[str]
    hint: str | None = None  # the stage's advice on such rows


def apply_checked(
    table: pa.Table,
    plan: Plan,
    options: Any = None,
    offset: int = 0,
    lines: Any = None,
    counts: list[tuple[str, int, int]] | None = None,
    source: InputRows | None = None,
) -> tuple[pa.Table, list[Failure]]:
    """Convert and validate a batch, setting aside the input rows any stage refuses.

    Returns the output (with `ROW_ID`) and the failures; on a failure the batch runs again
    without the refused input rows (the rare path). `counts`: as in `apply_steps`, for the
    run that succeeded; `source`: as in `apply_steps`.
    """
    table = with_row_ids(table, offset)
    failures: list[Failure] = []
    while True:
        step_counts: list[tuple[str, int, int]] = []
        reports: list[tuple[str, Any]] = []
        try:
            out = apply_steps(
                table, plan, options, offset, lines, counts=step_counts, source=source,
                reports=reports,
            )  # fmt: skip
            check_output(out, plan, offset)
        except RowFailures as e:
            ids = np.asarray(getattr(e, "input_rows", e.rows), dtype=np.int64)
            ids, first = np.unique(ids, return_index=True)
            present = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)
            keep = ~np.isin(present, ids)
            if not len(ids) or keep.all():
                raise  # no row to set aside: the stage's own error stands
            failures.append(Failure(ids, e.stage, [e.reasons[i] for i in first], e.hint))
            table = table.filter(pa.array(keep))
            if lines is not None:
                lines = np.asarray(lines)[keep]
            continue
        if counts is not None:
            counts.extend(step_counts)
        merge_reports(plan, reports)
        return out, failures


def convert_table(
    table: pa.Table,
    plan: Plan,
    lines: Any = None,
    *,
    on_error: str = "stop",
    path: str | None = None,
    coerce: bool = False,
) -> pa.Table:
    """Convert a whole table. Rows a stage refuses raise one DataError naming the first
    input row (its line, when `lines` are given) and how many more fail; with
    `on_error="skip"` they are left out and a `RejectedRowsWarning` says how many.

    Rows holding a value of another kind than the rest of their column (a number among
    text answers) are refused too (stage `read`), unless `coerce` reads them as text."""
    import warnings

    from trlprep.importers.run import check_on_error
    from trlprep.ledger import Ledger

    check_on_error(on_error)
    work, work_lines, failures, notes = settle_table(table, lines, coerce=coerce)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    out, more = apply_checked(work, plan, lines=work_lines, source=InputRows(0, lines))
    failures += more
    out = out.drop_columns([ROW_ID]) if ROW_ID in out.column_names else out
    if not failures:
        return out
    ledger = Ledger(path=path, on_error=on_error)
    ledger.rows_in = table.num_rows
    ledger.reject(failures_table(failures, table, 0, lines))
    for f in failures:
        if f.hint:
            ledger.hints.setdefault(f.stage, f.hint)
    if on_error != "skip":
        raise ledger.error()
    from trlprep.importers.run import RejectedRowsWarning

    warnings.warn(
        f"{ledger.rejected} rows could not be converted and were left out: "
        + "; ".join(ledger.reason_lines(3)),
        RejectedRowsWarning,
        stacklevel=3,
    )
    return out


def settle_table(
    table: pa.Table, lines: Any = None, *, coerce: bool = False
) -> tuple[pa.Table, Any, list[Failure], list[str]]:
    """`table` (with ROW_ID) with its mixed-kind columns settled (`trlprep.kinds`), less the
    rows that cannot be; also their lines, those rows as failures (stage `read`) and notes."""
    from trlprep.kinds import settle_kinds

    s = settle_kinds(table, coerce=coerce)
    work = with_row_ids(s.table)
    notes = [
        f"column {column!r}: {count:,} value(s) of another kind (numbers, booleans) read as "
        "text (coerce)"
        for column, count in s.coerced.items()
    ]
    if not s.bad.any():
        return work, lines, [], notes
    idx = np.flatnonzero(s.bad)
    keep = ~s.bad
    work_lines = None if lines is None else np.asarray(lines)[keep]
    failed = [Failure(idx, "read", list(s.reasons[idx]))]
    return work.filter(pa.array(keep)), work_lines, failed, notes


def failures_table(
    failures: list[Failure], original: pa.Table, offset: int, lines: Any
) -> pa.Table:
    """The refused input rows as a rejects table (row, line, stage, reason, record)."""
    from trlprep.importers.rejects import REJECTS_SCHEMA, records

    if not failures:
        return REJECTS_SCHEMA.empty_table()
    ids = np.concatenate([f.rows for f in failures])
    stage = [f.stage for f in failures for _ in f.rows]
    reasons = [r for f in failures for r in f.reasons]
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    local = ids - offset
    line = np.asarray(lines)[local].astype(np.int64) if lines is not None else None
    return pa.Table.from_arrays(
        [
            pa.array(ids, pa.int64()),
            pa.array(line, pa.int64()) if line is not None else pa.nulls(len(ids), pa.int64()),
            pa.array([stage[i] for i in order], pa.string()),
            pa.array([reasons[i] for i in order], pa.string()),
            pa.array(records(original.take(pa.array(local))), pa.string()),
        ],
        schema=REJECTS_SCHEMA,
    )
