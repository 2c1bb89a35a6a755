"""Run a conversion: plan the route, apply its edges, template, validate, write.

Whole tables (Python API) and files streamed in record batches (CLI) share one plan and
the same edge functions; nothing is written unless every output batch validates against
the target type.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from trlprep.detect import Detection, detect_table
from trlprep.errors import DataError, UsageError
from trlprep.graph import Route, route
from trlprep.readers import Batch
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
        """What templating and tokenising reported, for the user."""
        out: list[str] = []
        if self.render is not None and self.render.report is not None:
            out += self.render.report.notes()
        tok = self.render.token_report if self.render is not None else None
        if tok is not None:
            if tok.boundary_merges:
                rows = ", ".join(map(str, tok.boundary_examples))
                out.append(
                    f"{tok.boundary_merges} row(s) where the tokenizer merges tokens across the "
                    f"prompt/completion boundary (rows {rows})"
                )
            if tok.truncated:
                out.append(f"{tok.truncated} row(s) truncated to --max-length")
        return out

    def explain(self) -> list[dict[str, Any]]:
        """One entry per step: the edge, its columns in and out, rows, and what is lost."""
        steps = []
        for e in self.route.steps:
            s, d = get_type(e.src), get_type(e.dst)
            steps.append(
                {
                    "step": f"{e.src} -> {e.dst}",
                    "columns_in": list(s.column_names(self.fmt)),
                    "columns_out": list(d.column_names(self.fmt)),
                    "rows": _ROW_EFFECT.get(e.rows, e.rows),
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
            ids = list(_token_columns(self.dst))
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


def _token_columns(dtype: DatasetType) -> tuple[str, ...]:
    if dtype.name in ("language-modeling", "prompt-completion"):
        return ("input_ids", "completion_mask")
    if dtype.name in ("preference", "preference-implicit"):
        return ("prompt_ids", "chosen_ids", "rejected_ids")
    return ("prompt_ids", "completion_ids")


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
    if render is None and dst is src and to is not None:
        raise UsageError(f"the data is already {src.name}", hint="choose another --to")
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
    r = route(src, dst, guide_only=guide_only)
    return Plan(src, det.format, r, options or ConvertOptions(), render)


def _source_type(det: Detection, from_: str | DatasetType | None) -> DatasetType:
    looks = (
        f"{det.type.name} ({det.format.value if det.format else 'mixed format'})"
        if det.type
        else "no known type"
    )
    if det.type is None and from_ is None:
        raise DataError(
            "cannot tell the dataset type: " + "; ".join(det.notes),
            hint="rename the columns, or import the layout with `--from LAYOUT`",
        )
    problems = [p for p in det.problems if p.code != "ambiguous-prompt"]
    if problems:
        p = problems[0]
        where = f" (e.g. rows {', '.join(map(str, p.rows))})" if p.rows else ""
        raise DataError(
            f"the data is not uniform: {p.message}{where}",
            hint="run `trlprep validate` for every problem",
        )
    if from_ is None:
        return det.type
    claimed = get_type(from_)
    fmt = det.format or Format.STANDARD
    present = set(det.columns.values()) | set(det.extra_columns)
    if not set(claimed.column_names(fmt)) <= present:
        raise UsageError(
            f"--from {claimed.name} does not match the data, which looks like {looks}",
            hint=f"{claimed.name} needs columns {', '.join(claimed.column_names(fmt))}; "
            "drop --from to use the detected type",
        )
    return claimed


# ---------------------------------------------------------------- applying a plan


def apply_steps(
    table: pa.Table,
    plan: Plan,
    options: Any = None,
    offset: int = 0,
    lines: Any = None,
) -> pa.Table:
    """Run the route's edges, then the chat template and tokenizer, over one table or batch.

    `offset` is the index of the batch's first row (and `lines` its file lines), so errors
    name rows of the whole input.
    """
    from trlprep.converters import row_offset

    opts = options or plan.options
    with row_offset(offset):
        for e in plan.route.steps:
            table = e.fn(table, plan.fmt, opts)
    r = plan.render
    if r is None:
        return table
    if plan.route.steps:
        lines = None  # rows no longer map one to one onto input lines
    if r.template is not None:
        from trlprep.templates import render_table

        table, report = render_table(
            table, plan.dst, r.template, tools=r.tools, template_kwargs=r.template_kwargs,
            num_proc=r.num_proc, row_offset=offset, lines=lines,
        )  # fmt: skip
        if r.report is None:
            r.report = report
        else:
            r.report.merge(report)
    if r.tokenizer is not None:
        from trlprep.templates import tokenize_table

        table, tokens = tokenize_table(
            table, plan.dst, r.tokenizer, max_length=r.max_length, truncation=r.truncation,
            row_offset=offset,
        )  # fmt: skip
        if r.token_report is None:
            r.token_report = tokens
        else:
            _merge_token_report(r.token_report, tokens)
    return table


def _merge_token_report(into: Any, other: Any) -> None:
    into.rows += other.rows
    into.boundary_merges += other.boundary_merges
    into.boundary_examples.extend(
        other.boundary_examples[: max(0, 5 - len(into.boundary_examples))]
    )
    into.truncated += other.truncated
    into.max_tokens = max(into.max_tokens, other.max_tokens)


def check_output(table: pa.Table, plan: Plan, offset: int = 0) -> None:
    """Validate converted rows against the target type; raise DataError on any error."""
    from trlprep.validate import validate_table

    report = validate_table(table, type=plan.dst, format=plan.out_format)
    if not report.valid:
        first = next(i for i in report.issues if i.severity == "error")
        rows = ", ".join(str(r + offset) for r in first.rows[:5])
        raise DataError(
            f"converted rows fail {plan.dst.name} validation: [{first.rule}] {first.message}"
            + (f" (output rows {rows})" if rows else ""),
            hint="nothing was written; fix the input rows or report a bug",
        )


def convert_table(table: pa.Table, plan: Plan, lines: Any = None) -> pa.Table:
    out = apply_steps(table, plan, lines=lines)
    check_output(out, plan)
    return out


def _interleaved(plan: Plan) -> bool:
    """True when the last step doubles rows and the caller must order them as blocks."""
    steps = plan.route.steps
    return bool(steps) and steps[-1].rows == "doubles" and plan.options.order == "blocks"


def convert_batches(
    batches: Iterator[Batch], plan: Plan, writer, spill_dir: str
) -> tuple[int, int]:
    """Stream batches through the plan into `writer`; returns (rows in, rows out).

    With `--order blocks`, unpairing emits every first-of-pair row before any second one:
    the seconds are spilled to a temporary Parquet file and appended at the end.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    blocks = _interleaved(plan)
    opts = dataclasses.replace(plan.options, order="interleaved") if blocks else plan.options
    spill_path = os.path.join(spill_dir, "second-half.parquet")
    spill = None
    rows_in = rows_out = 0
    try:
        for b in batches:
            table = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
            _check_batch(table, plan, b)
            out = apply_steps(table, plan, opts, b.offset, b.lines)
            check_output(out, plan, rows_out)
            rows_in += table.num_rows
            if blocks:
                idx = pa.array(range(out.num_rows))
                even = pc.equal(pc.bit_wise_and(idx, 1), 0)
                writer.write(out.filter(even))
                second = out.filter(pc.invert(even))
                if spill is None:
                    spill = pq.ParquetWriter(spill_path, second.schema)
                spill.write_table(second)
            else:
                writer.write(out)
            rows_out += out.num_rows
        if spill is not None:
            spill.close()
            spill = None
            for rb in pq.ParquetFile(spill_path).iter_batches():
                writer.write(pa.Table.from_batches([rb]))
    finally:
        if spill is not None:
            spill.close()
    return rows_in, rows_out


def _check_batch(table: pa.Table, plan: Plan, b: Batch) -> None:
    """Each streamed batch must be of the planned source type and format."""
    det = detect_table(table, b.lines)
    ok_type = det.type is not None and set(plan.src.column_names(plan.fmt)) <= set(
        det.columns.values()
    ) | set(det.extra_columns)
    problems = [p for p in det.problems if p.code != "ambiguous-prompt"]
    if problems or not ok_type or (det.format not in (None, plan.fmt) and table.num_rows):
        p = problems[0] if problems else None
        where = ""
        if p and p.rows:
            where = " at " + (
                f"lines {', '.join(map(str, p.lines))}"
                if p.lines
                else f"rows {', '.join(str(r + b.offset) for r in p.rows)}"
            )
        msg = p.message if p else f"rows from {b.offset} are not {plan.src.name} ({plan.fmt})"
        raise DataError(f"the data is not uniform: {msg}{where}", hint="run `trlprep validate`")


def stream_to_file(
    batches: Iterator[Batch],
    plan: Plan,
    output: str | os.PathLike,
    *,
    output_format: str | None = None,
) -> tuple[int, int]:
    """Convert streamed batches into `output` atomically (a folder output is built in memory)."""
    from trlprep.writers import open_writer, resolve_output_format, write

    fmt = resolve_output_format(output, output_format)
    with tempfile.TemporaryDirectory(prefix=".trlprep-", dir=Path(output).parent) as spill_dir:
        if fmt == "disk":
            collected = _Collector()
            counts = convert_batches(batches, plan, collected, spill_dir)
            write(collected.table(), output, output_format="disk", overwrite=True)
            return counts
        writer = _LazyWriter(lambda schema: open_writer(output, schema, output_format=fmt))
        try:
            counts = convert_batches(batches, plan, writer, spill_dir)
        except BaseException:
            writer.abort()
            raise
        writer.commit(empty_schema=_empty_schema(plan))
        return counts


def _empty_schema(plan: Plan) -> pa.Schema:
    fmt = plan.out_format
    msg = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    kinds = {"content": msg if fmt is Format.CONVERSATIONAL else pa.string()}
    fields = []
    for c in plan.dst.columns_in(fmt):
        t = {"label": pa.bool_(), "labels": pa.list_(pa.bool_()), "steps": pa.list_(pa.string())}
        fields.append(pa.field(c.name_in(fmt), kinds.get(c.kind.value, t.get(c.kind.value))))
    return pa.schema(fields)


class _Collector:
    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def write(self, t: pa.Table) -> None:
        self.parts.append(t)

    def table(self) -> pa.Table:
        from trlprep.readers import concat_tables

        return concat_tables(self.parts) if self.parts else pa.table({})


class _LazyWriter:
    """Opens the real writer on the first batch (its schema is the output's schema)."""

    def __init__(self, opener) -> None:
        self.opener, self.w = opener, None

    def write(self, t: pa.Table) -> None:
        if self.w is None:
            self.w = self.opener(t.schema)
        self.w.write(t)

    def commit(self, empty_schema: pa.Schema) -> None:
        if self.w is None:
            self.w = self.opener(empty_schema)
        self.w.commit()

    def abort(self) -> None:
        if self.w is not None:
            self.w.abort()
