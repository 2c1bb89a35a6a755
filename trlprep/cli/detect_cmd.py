"""`trlprep detect`: what a dataset is."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, err, out
from trlprep.cli.empty import ALLOW_EMPTY, empty_error

if TYPE_CHECKING:
    from trlprep.detection.detect import Detection


@command("detect")
def detect_command(
    path: list[str] = typer.Argument(
        ..., help="Dataset: file(s), a folder of files, a glob, save_to_disk folder or Hub id."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    split: str = opt.SPLIT,
    input_format: str = opt.INPUT_FORMAT,
    allow_empty: bool = ALLOW_EMPTY,
    on_bad_lines: str = opt.ON_BAD_LINES,
    progress: bool = opt.PROGRESS,
) -> None:
    """Detect a dataset's type, format, modality and column roles (checks every row).

    Exit code 0 when every row is of one type and format, 1 when rows disagree or no type
    fits, 2 on usage or IO errors.
    """
    from trlprep.io.shards import inputs

    path = inputs(path)  # several paths: one dataset
    opt.say_split(path, split, input_format)
    from trlprep.detection.detect import detect_batches
    from trlprep.io.agreeing import agreeing_batches
    from trlprep.io.jsonl import BadLineError, BadLines
    from trlprep.io.progress import showing

    if on_bad_lines not in ("error", "skip"):
        from trlprep.errors import unknown_choice

        raise unknown_choice("--on-bad-lines", on_bad_lines, ("error", "skip"))
    bad = BadLines() if on_bad_lines == "skip" else None
    shown = err.is_terminal if progress is None else progress
    try:
        with showing(err.console if shown else None, "detecting", shown):
            if bad is None:
                det = detect_batches(agreeing_batches(path, split=split, input_format=input_format))
            else:
                det = _detect_skipping(path, split, input_format, bad)
    except BadLineError as e:
        if not as_json:
            raise
        out.print_json(json.dumps(bad_line_detection(e)))  # stdout stays one JSON object
        raise typer.Exit(e.exit_code) from None
    empty = det.num_rows == 0 and not det.problems
    if empty and not allow_empty:
        raise empty_error(path, bad)
    layout = det.layout  # found on the rows detection read (trlprep.detection.layouthint)
    from trlprep.io.shards import note_detection, shards_dict, total_line

    shards = note_detection(det, path, split, input_format)  # several files: rows of each
    from trlprep.io.plaintext import note_for

    text_note = note_for(path, split, input_format)  # plain text: blank lines are no rows
    if text_note:
        det.notes.append(text_note)
    if as_json:
        more = shards_dict(shards) if shards is not None else {}
        if layout is not None:  # the `layout:` line's advice
            more["layout_hint"] = layout_advice(path, layout)
        out.print_json(json.dumps({**det.to_dict(), **_as_converted(det), **more}))
    else:
        print_detection(det, path)
        for line in shards.offsets() if shards is not None else ():
            out.print(f"shard {line}", markup=False)
        if shards is not None:
            out.print(f"total: {total_line(shards)}", markup=False)
        if layout is not None:
            out.print(f"layout: {layout} ({layout_advice(path, layout)})", markup=False)
    if (det.problems or det.type is None) and not empty and det.layout_landing is None:
        raise typer.Exit(1)


def layout_advice(path: str, layout: str) -> str:
    """How to import a public layout `detect` found (its text line, its JSON `layout_hint`)."""
    return (
        f"a public layout: import it with `trlprep import {path} --from {layout} -o OUT`, "
        f"or `trlprep convert ... --from {layout}`"
    )


def _detect_skipping(path: str, split: str | None, input_format: str | None, bad) -> Detection:
    """Detection of the lines that hold JSON objects; the others are `invalid-line` problems
    (one per reason, the first lines named), so the exit code says the file has them."""
    from trlprep.detection.detect import detect_batches
    from trlprep.io.agreeing import agreeing_batches
    from trlprep.io.skipped import bad_line_problems

    batches = agreeing_batches(path, split=split, input_format=input_format, bad_lines=bad)
    det = detect_batches(batches)
    det.problems[:0] = bad_line_problems(bad)
    return det


def bad_line_detection(error: Exception) -> dict:
    """`detect --json` of a file whose reading stopped at a broken JSON Lines line: no type,
    the line as an `invalid-line` problem (with what to do), and the error text a user sees."""
    from trlprep.detection.detect import Detection, Problem

    line = getattr(error, "line", None)
    problem = Problem("invalid-line", error.message, count=1, lines=[line] if line else None)
    det = Detection(type=None, format=None, num_rows=0, problems=[problem])
    det.notes.append(f"reading stopped at line {line}" if line else "reading stopped")
    loc = error.location()
    return {**det.to_dict(), "error": f"{loc + ': ' if loc else ''}{error.message}",
            "hint": error.hint}  # fmt: skip


def _as_converted(det: Detection) -> dict:
    """Type, format, columns, roles and modality as `trlprep convert` reads the data (a
    layout whose columns only look like a TRL type is imported first)."""
    if det.layout_landing is None:
        return {}
    t, f = det.layout_landing
    read_as = det.type.name if det.type is not None else None
    got = {"type": t.name, "format": f.value, "columns_read_as": read_as}
    view = det.layout_view
    if view is not None:
        got.update(
            vision=view.vision,
            columns=view.columns,
            extra_columns=view.extra_columns,
            side_columns=view.side_columns,
            roles=view.roles,
            columns_as_stored=det.columns,
            extra_columns_as_stored=det.extra_columns,
        )
    if det.layout_rows is not None:
        got["imported_rows"] = det.layout_rows
    return got


class _Rows:
    """Label/value lines, the values aligned in a second column (plain text, no rich)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def lines(self) -> list[str]:
        width = max((len(label) for label, _ in self.rows), default=0)
        return [f"{label:<{width}}  {value}".rstrip() for label, value in self.rows]


def print_detection(det: Detection, path: str) -> None:
    t = _Rows()
    t.add_row("file", path)
    shown = det  # where a layout is imported: its columns and roles as convert writes them
    rows = f"{det.num_rows:,}"
    if det.layout_landing is not None:
        lt, lf = det.layout_landing
        t.add_row("type", f"{lt.name} (the {det.layout} layout, imported as convert does)")
        t.add_row("format", lf.value)
        shown = det.layout_view or det
        if det.layout_rows is not None and det.layout_rows != det.num_rows:
            rows += f" ({det.layout_rows:,} once imported)"
    else:
        t.add_row("type", det.type.name if det.type else "unknown")
        t.add_row("format", det.format.value if det.format else "undecided")
    t.add_row("vision", "yes" if shown.vision else "no")
    t.add_row("rows", rows)
    t.add_row("columns", ", ".join(f"{r}={c}" for r, c in shown.columns.items()) or "-")
    if shown.reading is not None:
        t.add_row("reads", shown.reading.description)
    if shown.side_columns:
        t.add_row("side columns", ", ".join(shown.side_columns))
    t.add_row("extra columns", ", ".join(shown.extra_columns) or "-")
    if shown.roles:
        t.add_row("roles", ", ".join(shown.roles))
    for line in t.lines():
        out.print(line, markup=False)
    for p in det.problems:
        shown = p.lines or p.rows
        where = ", ".join(str(x) for x in shown)
        label = ("line" if p.lines else "row") + ("s" if len(shown) > 1 else "")
        out.print(f"problem [{p.code}]: {p.message} (e.g. {label} {where})", markup=False)
        if p.hint:
            out.print(f"  hint: {p.hint}", markup=False)
    for n in det.notes:
        if det.layout and n.startswith(
            (f"the columns are the {det.layout} layout", f"the columns also fit the {det.layout}")
        ):
            continue  # said by the layout line
        out.print(f"note: {n}", markup=False)
