"""What `convert --explain` and `import --explain` print: the import, its counts, the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trlprep.cli.app import out

if TYPE_CHECKING:
    from trlprep.io.readers import Batch


def print_plan(plan, num_rows: int) -> None:
    from trlprep.wording import plural

    rows = plural(num_rows, "input row")
    out.print(f"route: {plan.route}  (format: {plan.fmt}, {rows})", markup=False)
    if not plan.route.steps and plan.template is None:
        out.print("no conversion", markup=False)
    for i, s in enumerate(plan.explain(), 1):
        out.print(f"{i}. {s['step']}: {s['description']}", markup=False)
        cols = f"{', '.join(s['columns_in'])} -> {', '.join(s['columns_out'])}"
        out.print(f"   columns: {cols}", markup=False)
        out.print(f"   rows: {s['rows']}; loses: {s['loses']}", markup=False)


def print_import(importer, first: Batch, opts) -> None:
    from trlprep.importers.columnmap import rename

    schema = rename(first.data.schema.empty_table(), opts.map if opts else None).schema
    out.print(f"layout: {importer.name}: {importer.description}", markup=False)
    out.print(f"  reads: {importer.reads}", markup=False)
    if opts is not None and opts.map:
        out.print(
            "  renames: " + ", ".join(f"{src} -> {dst}" for dst, src in opts.map.items()),
            markup=False,
        )
    for line in importer.explain(schema, opts):
        out.print(f"  {line}", markup=False)
    dtype, fmt = importer.landing(schema, opts)
    out.print(f"lands on: {dtype.name} ({fmt})", markup=False)


def print_import_counts(
    stats, console, dry_run: bool = False, how: str | None = None, on_error: str = "stop"
) -> None:
    from trlprep.importers.run import summary_lines
    from trlprep.wording import plural

    failed = stats.rejected - stats.not_paired  # rows left out as not paired are no error
    if dry_run:
        console.print(
            f"import: {plural(stats.rows_in, 'row')} in, {stats.rows_out:,} imported"
            + (f" ({how})" if how and stats.rows_out != stats.rows_in - stats.rejected else "")
            + f", {failed:,} cannot be imported"
            + (f", {stats.not_paired:,} not paired (no error)" if stats.not_paired else ""),
            markup=False,
        )
    for line in summary_lines(stats):
        console.print(f"  {line}", markup=False)
    if dry_run and (failed or (stats.rejected and on_error == "skip")):
        console.print(f"note: {_what_a_run_does(stats, on_error)}", markup=False)
    for note in stats.notes:
        console.print(f"note: {note}", markup=False)


def _what_a_run_does(stats, on_error: str) -> str:
    """What the real run does with the rows the import refuses: stop at the first, or with
    `--on-error skip` set them aside."""
    if on_error == "skip":
        these = _these(stats.rejected)
        return f"the run sets {these} aside in the rejects file (--on-error skip)"
    count = stats.rejected - stats.not_paired  # rows left unpaired stop no run
    which = "the row that cannot be imported" if count == 1 else f"the first of {_these(count)}"
    failed = [e for why, ex in stats.examples.items() if why not in stats.ties for e in ex]
    first = min(failed, key=lambda e: e["row"])
    at = f"line {first['line']}" if first["line"] is not None else f"row {first['row']}"
    return (
        f"the run stops at {at}, {which}, and writes nothing; pass "
        "--on-error skip to write the other rows and set these aside in a rejects file"
    )


def _these(count: int) -> str:
    return "this row" if count == 1 else f"these {count:,} rows"


__all__ = ["print_import", "print_import_counts", "print_plan"]
