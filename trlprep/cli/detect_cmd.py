"""`trlprep detect`: what a dataset is."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, err, out
from trlprep.cli.empty import ALLOW_EMPTY, empty_error

if TYPE_CHECKING:
    from trlprep.detect import Detection


@command("detect")
def detect_command(
    path: list[str] = typer.Argument(
        ..., help="Dataset: file(s), a folder of files, a glob, save_to_disk folder or Hub id."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    split: str = typer.Option(None, "--split", help="Split to read (folders and Hub ids)."),
    input_format: str = typer.Option(
        None, "--input-format", help="Override the format guessed from the file name."
    ),
    allow_empty: bool = ALLOW_EMPTY,
    progress: bool = opt.PROGRESS,
) -> None:
    """Detect a dataset's type, format, modality and column roles (checks every row).

    Exit code 0 when every row is of one type and format, 1 when rows disagree or no type
    fits, 2 on usage or IO errors.
    """
    from trlprep.shards import inputs

    path = inputs(path)  # several paths: one dataset
    from trlprep.api import detect
    from trlprep.progress import showing

    shown = err.is_terminal if progress is None else progress
    with showing(err, "detecting", shown):
        det = detect(path, split=split, input_format=input_format)
    empty = det.num_rows == 0 and not det.problems
    if empty and not allow_empty:
        raise empty_error(path)
    layout = suggest_layout(path, split, input_format)
    from trlprep.shards import note_detection, shards_dict, total_line

    shards = note_detection(det, path, split, input_format)  # several files: rows of each
    if as_json:
        more = shards_dict(shards) if shards is not None else {}
        out.print_json(json.dumps({**det.to_dict(), "layout": layout, **more}))
    else:
        print_detection(det, path)
        for line in shards.offsets() if shards is not None else ():
            out.print(f"shard {line}", markup=False)
        if shards is not None:
            out.print(f"total: {total_line(shards)}", markup=False)
        if layout is not None:
            out.print(
                f"layout: {layout} (a public layout: import it with `trlprep import "
                f"{path} --from {layout} -o OUT`, or `trlprep convert ... --from {layout}`)",
                markup=False,
            )
    if (det.problems or det.type is None) and not empty:
        raise typer.Exit(1)


def suggest_layout(path: str, split: str | None, input_format: str | None) -> str | None:
    """The public layout (`--from` name) the data's columns show, or None."""
    import pyarrow as pa

    from trlprep.errors import TrlprepError
    from trlprep.importers import detect_layout
    from trlprep.readers import iter_batches

    try:
        first = next(iter_batches(path, split=split, input_format=input_format), None)
    except TrlprepError:
        return None
    if first is None:
        return None
    data = first.data if isinstance(first.data, pa.Table) else pa.Table.from_batches([first.data])
    return detect_layout(data.schema, data.slice(0, 1000))


def print_detection(det: Detection, path: str) -> None:
    from rich.table import Table

    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_row("file", path)
    t.add_row("type", det.type.name if det.type else "unknown")
    t.add_row("format", det.format.value if det.format else "undecided")
    t.add_row("vision", "yes" if det.vision else "no")
    t.add_row("rows", f"{det.num_rows:,}")
    t.add_row("columns", ", ".join(f"{r}={c}" for r, c in det.columns.items()) or "-")
    if det.reading is not None:
        t.add_row("reads", det.reading.description)
    if det.side_columns:
        t.add_row("side columns", ", ".join(det.side_columns))
    t.add_row("extra columns", ", ".join(det.extra_columns) or "-")
    if det.roles:
        t.add_row("roles", ", ".join(det.roles))
    out.print(t)
    for p in det.problems:
        where = ", ".join(str(x) for x in (p.lines or p.rows))
        label = "lines" if p.lines else "rows"
        out.print(f"problem [{p.code}]: {p.message} (e.g. {label} {where})", markup=False)
    for n in det.notes:
        out.print(f"note: {n}", markup=False)
