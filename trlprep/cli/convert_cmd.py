"""`trlprep convert` and `trlprep graph`: route a dataset to another type and write it."""

from __future__ import annotations

import json
import sys
import warnings

import typer
from rich.table import Table

from trlprep.cli.app import command, err, out
from trlprep.converters import UNPAIR_WARNING
from trlprep.converters.base import ConversionWarning, ConvertOptions
from trlprep.errors import UsageError
from trlprep.registry import TYPES, get_type


@command("convert")
def convert_command(
    path: str = typer.Argument(..., help="Input dataset (file, save_to_disk folder or Hub id)."),
    output: str = typer.Option(None, "-o", "--output", help="Output file or folder."),
    to: str = typer.Option(None, "--to", help="Target type (e.g. unpaired, lm, pc)."),
    from_: str = typer.Option(
        None, "--from", help="Source type; detected when omitted (an error if it contradicts)."
    ),
    explain: bool = typer.Option(
        False, "--explain", "--dry-run", help="Print the route and its effects; write nothing."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    output_format: str = typer.Option(
        None, "--output-format", help="parquet | jsonl | arrow | disk (default: from suffix)."
    ),
    input_format: str = typer.Option(None, "--input-format", help="Override the input format."),
    split: str = typer.Option(None, "--split", help="Split to read (folders and Hub ids)."),
    step_separator: str = typer.Option(
        "", "--step-separator", help="Stepwise: string joining the steps (default: none)."
    ),
    label_merge: str = typer.Option(
        "all",
        "--label-merge",
        help="Stepwise -> unpaired: all | any | last | first-false-truncates.",
    ),
    split_mode: str = typer.Option(
        "word", "--split-mode", help="Implicit prompt extraction (standard): word | char (TRL)."
    ),
    order: str = typer.Option(
        "interleaved", "--order", help="Unpairing: interleaved (per pair) | blocks (TRL)."
    ),
    no_prompt: str = typer.Option(
        "error",
        "--no-prompt",
        help="Prompt extraction, pairs that share no prompt: error | warn (keep) | drop.",
    ),
    beyond_guide: bool = typer.Option(
        True,
        "--beyond-guide/--guide-only",
        help="Allow routes through edges TRL does not document.",
    ),
    progress: bool = typer.Option(
        None, "--progress/--no-progress", help="Progress bar (default: on in a terminal)."
    ),
    chat_template: str = typer.Option(
        None, "--chat-template", help="Render conversational output with this chat template."
    ),
) -> None:
    """Convert a dataset to another type, streaming files in record batches."""
    from trlprep.convert import make_plan, stream_to_file
    from trlprep.detect import detect_table
    from trlprep.readers import iter_batches
    from trlprep.writers import check_output

    _check_choice("--label-merge", label_merge, ("all", "any", "last", "first-false-truncates"))
    _check_choice("--split-mode", split_mode, ("word", "char"))
    _check_choice("--order", order, ("interleaved", "blocks"))
    _check_choice("--no-prompt", no_prompt, ("error", "warn", "drop"))
    for name in (to, from_):
        if name is not None:
            get_type(name)
    opts = ConvertOptions(
        step_separator=step_separator,
        label_merge=label_merge,
        split_mode=split_mode,
        order=order,
        no_prompt=no_prompt,
    )
    template = None
    if chat_template is not None:
        from trlprep.templates import load_template

        template = load_template(chat_template)
    if not explain:
        if output is None:
            raise UsageError("missing output", hint="pass -o OUT (or --explain to only plan)")
        check_output(output, overwrite=overwrite, inputs=(path,))

    batches = iter_batches(path, split=split, input_format=input_format)
    first = next(batches, None)
    if first is None:  # no rows: take the schema from a whole (empty) read
        from trlprep.readers import Batch, read

        src = read(path, split=split, input_format=input_format)
        first = Batch(src.table, 0, src.lines)
    if explain:
        from trlprep.detect import detect_batches

        det = detect_batches(_chain(first, batches))
    else:
        det = detect_table(first.data, first.lines)
    plan = make_plan(
        det, to=to, from_=from_, options=opts, template=template, guide_only=not beyond_guide
    )
    if any(e.dst == "unpaired-preference" for e in plan.route.steps):
        err.print(f"warning: {UNPAIR_WARNING}", markup=False)
    if explain:
        _print_plan(plan, det.num_rows)
        return
    show = sys.stderr.isatty() if progress is None else progress
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionWarning)
        rows_in, rows_out = stream_to_file(
            _with_progress(_chain(first, batches), show, path),
            plan,
            output,
            output_format=output_format,
        )
    for message in dict.fromkeys(str(w.message) for w in caught if w.category is ConversionWarning):
        err.print(f"warning: {message}", markup=False)
    err.print(
        f"{plan.route} ({plan.fmt}{' -> standard' if template else ''}): "
        f"{rows_in:,} rows in, {rows_out:,} rows out -> {output}",
        markup=False,
    )


def _check_choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{flag} {value!r} is not one of: {', '.join(choices)}")


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest


def _with_progress(batches, show: bool, label: str):
    if not show:
        yield from batches
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(f"converting {label}", total=None)
        for b in batches:
            yield b
            bar.advance(task, b.data.num_rows)


def _print_plan(plan, num_rows: int) -> None:
    out.print(f"route: {plan.route}  (format: {plan.fmt}, {num_rows:,} input rows)", markup=False)
    if not plan.route.steps and plan.template is None:
        out.print("nothing to do", markup=False)
    for i, s in enumerate(plan.explain(), 1):
        out.print(f"{i}. {s['step']}: {s['description']}", markup=False)
        out.print(f"   columns: {', '.join(s['columns_in'])} -> {', '.join(s['columns_out'])}")
        out.print(f"   rows: {s['rows']}; loses: {s['loses']}", markup=False)


@command("graph")
def graph_command(
    fmt: str = typer.Option("table", "--format", help="table | mermaid | json"),
    guide_only: bool = typer.Option(
        False, "--guide-only", help="Only the conversions TRL's guide documents."
    ),
) -> None:
    """Print the From x To conversion matrix with the route for every reachable cell."""
    from trlprep.graph import matrix, mermaid

    if fmt == "mermaid":
        out.print(mermaid(guide_only=guide_only), markup=False)
        return
    m = matrix(guide_only=guide_only)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {s: {d: (r.names() if r else None) for d, r in row.items()} for s, row in m.items()}
            )
        )
        return
    if fmt != "table":
        raise UsageError(f"--format {fmt!r} is not one of: table, mermaid, json")
    short = {name: t.aliases[0] for name, t in TYPES.items()}
    t = Table(title="From \\ To  (- same type, N/A unreachable)", show_lines=True)
    t.add_column("from \\ to")
    for d in TYPES:
        t.add_column(short[d])
    for s, row in m.items():
        cells = []
        for d in TYPES:
            r = None if d == s else row[d]
            if d == s:
                cells.append("-")
            elif r is None:
                cells.append("N/A")
            else:
                via = "+".join(short[n] for n in r.names()[1:-1])
                cells.append(("lossy" if r.lossy else "ok") + (f" via {via}" if via else ""))
        t.add_row(f"{s} ({short[s]})", *cells)
    out.print(t)
