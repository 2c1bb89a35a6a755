"""A validation report: what was checked, every issue found, and three ways to print it.

`Report.to_dict()` (and `--output json`) is one object:

    {
      "valid": true | false,        # no errors (and, with strict, no warnings)
      "strict": false,
      "path": "data.jsonl" | null,
      "type": "preference" | null,  # long canonical type name
      "format": "conversational" | null,
      "num_rows": 1000,
      "counts": {"error": 2, "warning": 0, "info": 1},   # issues per severity
      "issues": [
        {
          "rule": "unknown-role",   # stable id, see trlprep.validation.rules
          "severity": "error",      # error | warning | info
          "column": "prompt" | null,
          "count": 12,              # rows affected
          "rows": [3, 17],          # 0-based, at most --max-errors of them
          "lines": [4, 18],         # 1-based file lines (line-oriented files only)
          "files": ["a.jsonl", ...],  # several input files only: each example's file
          "message": "...",
          "hint": "..."
        }
      ],
      "notes": ["..."]
    }
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from typing import Any

from trlprep.validation.rules import Severity
from trlprep.wording import noun, plural


@dataclass
class Issue:
    """One rule broken by some rows (or by the dataset as a whole when `rows` is empty)."""

    rule: str
    severity: Severity
    message: str
    hint: str | None = None
    column: str | None = None
    count: int = 0
    rows: list[int] = field(default_factory=list)
    lines: list[int] | None = None
    # inputs of several files (`trlprep.io.shards.annotate_shards`): each example's file,
    # and where it is as text (`file:line`, or `file row N` without line numbers)
    files: list[str] | None = None
    places: list[str] | None = None
    # duplicate-row: (row, line, row it repeats, that row's line) of the first few repeats
    repeats: list[tuple[int, int | None, int, int | None]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "column": self.column,
            "count": self.count,
            "rows": self.rows,
        }
        if self.lines is not None:
            d["lines"] = [int(x) for x in self.lines]
        if self.files is not None:
            d["files"] = self.files
        d["message"] = self.message
        d["hint"] = self.hint
        return d

    def name_line_files(self) -> Issue:
        """This issue, its lines named by file where they are lines of one of several files
        (`trlprep.io.inputfiles.FileLine`): `files` set (`where` and the JSON name them)."""
        if self.rows or not self.lines or not all(getattr(x, "file", None) for x in self.lines):
            return self
        self.files = [x.file for x in self.lines]
        return self

    def name_repeats(self, where: Any) -> None:
        """A duplicate-row message's `line 1 repeats line 1` said with `where(row, line)`
        instead (several files: `b.jsonl:1 repeats a.jsonl:1`)."""
        if self.repeats:
            local = repeat_details(self.repeats, line_or_row)
            named = repeat_details(self.repeats, where)
            self.message = self.message.replace(f"({local})", f"({named})")

    @property
    def unit(self) -> str:
        """What `count` counts: lines for a line that holds no JSON object (no row was
        read from it), rows for every other rule."""
        return "line" if self.rule == "invalid-line" else "row"

    def where(self, limit: int = 5) -> str:
        """The first few lines (or rows) as text, e.g. `lines 3, 9, 12 …`."""
        items, label = (self.lines, "line") if self.lines else (self.rows, "row")
        if not items:
            return "-"
        more = " …" if self.count > min(len(items), limit) else ""
        if self.places:  # several files: `a.jsonl:2, b.parquet row 3`
            return ", ".join(self.places[:limit]) + more
        if self.files and not self.rows:  # lines of several files (`FileLine`): `a.jsonl:2`
            shown = zip(self.files, items[:limit], strict=False)
            return ", ".join(f"{f}:{int(x)}" for f, x in shown) + more
        shown = ", ".join(str(x) for x in items[:limit])
        return f"{noun(len(items), label)} {shown}{more}"


@dataclass
class Report:
    """The outcome of validating one dataset."""

    type: str | None
    format: str | None
    num_rows: int
    issues: list[Issue] = field(default_factory=list)
    path: str | None = None
    strict: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        failing = {Severity.ERROR, Severity.WARNING} if self.strict else {Severity.ERROR}
        return not any(i.severity in failing for i in self.issues)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(i.severity is s for i in self.issues) for s in Severity}

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    def issue(self, rule: str, column: str | None = None) -> Issue | None:
        """The issue for `rule` (and `column`, when given), if any."""
        for i in self.issues:
            if i.rule == rule and (column is None or i.column == column):
                return i
        return None

    def allow_empty(self) -> None:
        """Accept an empty dataset (`--allow-empty`): `empty-dataset` becomes a warning."""
        issue = self.issue("empty-dataset")
        if issue is not None:
            issue.severity = Severity.WARNING
            issue.hint = "check the file (and --split)"

    @property
    def rules(self) -> set[str]:
        return {i.rule for i in self.issues}

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "strict": self.strict,
            "path": self.path,
            "type": self.type,
            "format": self.format,
            "num_rows": self.num_rows,
            "counts": self.counts(),
            "issues": [i.to_dict() for i in self.issues],
            "notes": self.notes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def summary(self) -> str:
        """One line: verdict, row count, type/format and issue counts."""
        what = f"{self.type or 'unknown type'} ({self.format or 'unknown format'})"
        c = self.counts()
        tail = ", ".join(plural(c[s], s) for s in c if c[s])
        verdict = "valid" if self.valid else "INVALID"
        rows = plural(self.num_rows, "row")
        return f"{verdict}: {rows} of {what}" + (f"; {tail}" if tail else "")

    def render_text(self, console: Any = None) -> None:
        """Print the issues, their hints, and the summary line with rich.

        On a terminal the issues are a table; elsewhere (CI logs, files) one block per
        issue, its message wrapped to the width, so no message is ever cut to fit a column.
        """
        from rich.console import Console
        from rich.text import Text

        console = console or Console()
        if self.issues and console.is_terminal:
            console.print(self._table())
        elif self.issues:
            width = max(console.width, 40)
            for i in self.issues:
                rule = i.rule + (f" ({i.column})" if i.column else "")
                where = f", {i.where()}" if i.rows or i.lines else ""
                head = f"{i.severity.value}: {rule}: {plural(i.count, i.unit)}{where}"
                body = _fill(i.message, width, "  ", "  ")
                head = _fill(head, width, "", "    ")
                console.print(Text(f"{head}\n{body}"), soft_wrap=True)
        hints: dict[tuple[str, str], None] = {}
        for i in self.issues:
            if i.hint:
                hints.setdefault((i.rule, i.hint), None)
        for rule, hint in hints:
            console.print(Text.assemble(("hint ", "dim"), (rule, "bold"), f": {hint}"))
        for n in self.notes:
            console.print(Text(f"note: {n}"))
        console.print(Text(self.summary(), style="bold green" if self.valid else "bold red"))

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        style = {"error": "red", "warning": "yellow", "info": "cyan"}
        t = Table(header_style="bold", expand=False, pad_edge=False)
        t.add_column("rule", no_wrap=True)
        t.add_column("severity", no_wrap=True)
        t.add_column("count", justify="right", no_wrap=True)
        t.add_column("first rows/lines", no_wrap=True)
        t.add_column("message", ratio=1, min_width=20)
        for i in self.issues:
            prefix = f"column {i.column!r}: "
            msg = i.message[len(prefix) :] if i.message.startswith(prefix) else i.message
            t.add_row(
                i.rule + (f" ({i.column})" if i.column else ""),
                Text(i.severity.value, style=style[i.severity.value]),
                f"{i.count:,}",
                i.where(),
                msg,
            )
        return t

    def render_github(self, max_annotations: int = 10) -> str:
        """GitHub Actions workflow commands: `::error file=F,line=N::message` per example."""
        cmd = {"error": "error", "warning": "warning", "info": "notice"}
        out = []
        for i in self.issues:
            kind = cmd[i.severity.value]
            text = f"[{i.rule}] {i.message}" + (f" (hint: {i.hint})" if i.hint else "")
            title = _gh_property(f"trlprep {i.rule}")
            props = [f"file={_gh_property(self.path)}"] if self.path else []
            shards = getattr(self, "shards", None)  # several files: each row's own file
            if shards is not None and i.rows:
                for k, row in enumerate(i.rows[:max_annotations]):
                    file, local = shards.locate(row)
                    line = i.lines[k] if i.lines and k < len(i.lines) else None
                    at = [f"line={line}"] if line is not None else []
                    p = ",".join([f"file={_gh_property(file)}", *at, f"title={title}"])
                    row_text = "" if line is not None else f" (row {local})"
                    out.append(f"::{kind} {p}::{_gh_data(text + row_text)}")
            elif i.lines:
                for line in i.lines[:max_annotations]:
                    file = getattr(line, "file", None)  # a line of one of several files
                    at = [f"file={_gh_property(file)}"] if file is not None else props
                    p = ",".join([*at, f"line={int(line)}", f"title={title}"])
                    out.append(f"::{kind} {p}::{_gh_data(text)}")
            else:
                rows = f" (rows {', '.join(map(str, i.rows[:max_annotations]))})" if i.rows else ""
                p = ",".join([*props, f"title={title}"])
                out.append(f"::{kind} {p}::{_gh_data(text + rows)}")
        out.append(self.summary())
        return "\n".join(out)


def line_or_row(row: int, line: int | None) -> str:
    """`line 9` (line-oriented files), else `row 8` (0-based): where a row is in one file."""
    return f"line {line}" if line is not None else f"row {row}"


def repeat_details(repeats: list[tuple[int, int | None, int, int | None]], name: Any) -> str:
    """`line 9 repeats line 2, ...`: each repeated row and the row it repeats, as
    `name(row, line)` says where a row is. Rows imported from one input row (a layout's
    pairs: `--from ranked`) are said so: `line 1 gives the same row more than once`."""
    return ", ".join(
        f"{name(r, ln)} gives the same row more than once"
        if (r, ln) == (fr, fl)
        else f"{name(r, ln)} repeats {name(fr, fl)}"
        for r, ln, fr, fl in repeats
    )


def _fill(text: str, width: int, first: str, rest: str) -> str:
    """`text` wrapped at spaces to `width`; a word longer than a line (a long path) stays
    whole on a line of its own, so it can be copied."""
    return textwrap.fill(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")
