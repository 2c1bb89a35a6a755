"""Run a conversion: plan the route, apply its edges, template, validate, write.

Whole tables (Python API) and files streamed in record batches (CLI) share one plan and
the same edge functions; nothing is written unless every output batch validates against
the target type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from trlprep.detect import Detection
from trlprep.errors import DataError, UsageError
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
            r.token_report.merge(tokens)
    return table


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
