"""Plan a conversion: the source type, the route of edges, the chat template and tokenizer.

Whole tables (Python API) and files streamed in record batches (CLI) share one plan;
`trlprep.conversion.apply` runs it over a table or batch (edges, template, tokenizer, output checks,
rows refused) and `trlprep.conversion.stream` writes files with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trlprep.conversion.graph import Route, route
from trlprep.conversion.render import Render
from trlprep.detection import answerfiles as answers
from trlprep.detection.answerfiles import answer_file_note
from trlprep.detection.detect import PASSABLE, ROW_LEVEL, Detection
from trlprep.detection.heldwords import unmixed_kinds
from trlprep.errors import DataError, UsageError
from trlprep.registry import DatasetType, Format, get_type

if TYPE_CHECKING:
    import pyarrow as pa

_ROW_EFFECT = {
    "same": "same rows",
    "filters": "drops rows",
    "doubles": "2 rows per row",
    "expands": "more rows",
    "pairs": "pairs rows",
}


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

    def said_as(self, source: str | None = None) -> str:
        """`SOURCE -> ROUTE (FORMAT -> standard with TEMPLATE)`: the route as the counts line
        names it (`source`: the layout imported from)."""
        rendered = f" -> standard with {self.render.name}" if self.template is not None else ""
        return f"{source} -> " * bool(source) + f"{self.route} ({self.fmt}{rendered})"

    @property
    def row_kinds(self) -> dict[str, str]:
        """Each step of the route -> how it changes the rows (`doubles`, `filters`, ...)."""
        return {f"{e.src} -> {e.dst}": e.rows for e in self.route.steps}

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

    def route_warnings(self) -> list[str]:
        """What the route assumes of the data, said before it runs (unpairing: every
        chosen completion is good, every rejected one bad)."""
        from trlprep.converters import UNPAIR_WARNING

        route = self.route.steps
        doubles = any(e.dst == "unpaired-preference" and e.rows == "doubles" for e in route)
        return [UNPAIR_WARNING] if doubles else []

    def warnings(self) -> list[str]:
        """What the chat template silently left out of the text (tool calls, tools), and
        answers a cut to --max-length left out (`answercut`)."""
        r = self.render
        out = r.report.warnings() if r is not None and r.report is not None else []
        cut = r.token_report.answer_cut_warning() if r is not None and r.token_report else None
        return out + [cut] * (cut is not None)

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

            ids = list(token_columns(self.dst, self.render.truncation, self.render.max_length))
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


def refuse_prerendered(det: Detection, head: pa.Table | None) -> None:
    """Refuse `--chat-template` on standard text that `head` shows rendered with a chat
    template already, saying so (not advising `--conversational`, which templates it twice)."""
    from trlprep.columns.prerendered import prerendered_rows, prerendered_text

    if head is None:
        return
    rows, markers = prerendered_rows(head, tuple(det.columns.values()))
    if len(rows):
        raise UsageError(
            "--chat-template applies to conversational data; this data is standard text and "
            + prerendered_text(markers),
            hint="drop --chat-template and convert or train on the text as it is; "
            "--conversational would make it messages and template it twice",
        )


def _rows_effect(e: Any, options: Any) -> str:
    """An edge's effect on the row count under `options` (--split-turns all expands)."""
    if (e.src, e.dst) == ("language-modeling", "prompt-completion"):
        if getattr(options, "split_turns", "last") == "all":
            return "expands"
    return e.rows


def make_plan(
    det: Detection,
    *,
    to: str | DatasetType | None = None,
    from_: str | DatasetType | None = None,
    options: Any = None,
    render: Render | None = None,
    guide_only: bool = False,
    per_row: bool = True,
    head: pa.Table | None = None,
) -> Plan:
    """Check the detected source against `from_` and route it to `to`.

    `per_row`: problems of single rows (a null required value, `ROW_LEVEL`) are left to
    the conversion, which refuses those rows one by one; False: they are errors here.
    `head`: the rows `det` was detected on, to tell text already rendered with a chat
    template where `--chat-template` meets standard text."""
    from trlprep.converters.base import ConvertOptions

    src = _source_type(det, from_, per_row)
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
            turns = src.name not in ("language-modeling", "preference-implicit")
            turns = turns and src.name != "stepwise-supervision"  # --conversational refuses
            refuse_prerendered(det, head)
            raise UsageError(
                "--chat-template applies to conversational data; this data is standard text",
                hint="drop --chat-template"
                + (
                    ", or pass --conversational to make the text messages (prompt: user, "
                    "answers: assistant) rendered with it"
                    if turns
                    else ""
                ),
            )
    elif render is not None and det.format is Format.CONVERSATIONAL:
        raise UsageError(
            "conversational data must be rendered with a chat template before tokenizing",
            hint="pass --chat-template, or a --tokenizer that has one",
        )
    try:
        r = route(src, dst, guide_only=guide_only, fmt=det.format)
    except UsageError as e:
        from trlprep.detection.besidehints import route_advice

        advice = route_advice(src.name, det)
        if advice is not None:
            e.hint = f"{advice}; {e.hint}" if e.hint else advice
        raise
    opts = options or ConvertOptions()
    if det.format is Format.STANDARD:
        remarks += _join_remarks(r, opts)
    from trlprep.detection.layouthint import hh_as_text

    hh = hh_as_text(det)  # HH transcripts (Dahoas/rm-static's too) kept as text, not imported
    remarks += [hh] if hh is not None else []
    return Plan(src, det.format, r, opts, render, _reading(det, src), remarks)


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


def _source_type(
    det: Detection, from_: str | DatasetType | None, per_row: bool = True
) -> DatasetType:
    looks = (
        f"{det.type.name} ({det.format.value if det.format else 'mixed format'})"
        if det.type
        else "no known type"
    )
    if det.type is None and from_ is None:
        if answer_file_note(det.notes) is not None:  # no renaming or layout makes a prompt
            raise DataError("cannot tell the dataset type: " + answers.WHAT, hint=answers.JOIN)
        reason, advice = unknown_advice(det)
        raise DataError(
            "cannot tell the dataset type: " + reason,
            hint=advice or "rename the columns, or import the layout with `--from LAYOUT`",
        )
    passable = PASSABLE | ROW_LEVEL if per_row else PASSABLE
    problems = [p for p in det.problems if p.code not in passable]
    if problems:
        p = problems[0]
        shown, word = (p.lines, "line") if p.lines else (p.rows, "row")
        word = word if len(shown or ()) == 1 else word + "s"
        word = "" if getattr(shown[0] if shown else None, "file", None) else word + " "
        where = f" (e.g. {word}{', '.join(map(str, shown))})" if shown else ""
        unmixed = unmixed_kinds(det, det.type) if det.type and p.code == "mixed-format" else None
        if unmixed:  # nothing mixes: say what the columns hold
            hint = p.hint or "run `trlprep validate` for every problem"
            raise DataError(f"{'; '.join(unmixed)}{where}", hint=hint)
        raise DataError(
            f"the data is not uniform: {p.message}{where}",
            hint=p.hint or "run `trlprep validate` for every problem",
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


def unknown_advice(det: Detection) -> tuple[str, str | None]:
    """`unknown_reason` split in two: why no type fits, and the notes after the first that
    advise a `--map` or `--from` (None when none does), for a hint that says what to do."""
    advice = [n for n in det.notes[1:] if "`--map " in n or "`--from " in n]
    if not advice:
        return unknown_reason(det), None
    return "; ".join(n for n in det.notes if n not in advice), "; ".join(advice)


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
