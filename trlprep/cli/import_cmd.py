"""`trlprep import`: bring a public layout (ShareGPT, Alpaca, HH, OpenAI chat, ranked, or
renamed columns) onto a TRL dataset type, streaming files in record batches."""

from __future__ import annotations

import typer

from trlprep.cli.app import command, err, out
from trlprep.errors import InputError, UsageError


@command("import")
def import_command(
    path: str = typer.Argument(..., help="Input dataset (file, save_to_disk folder or Hub id)."),
    from_: str = typer.Option(
        None,
        "--from",
        help="Layout: sharegpt | alpaca | hh | openai-chat | ranked | map "
        "(detected when omitted, where the columns tell).",
    ),
    output: str = typer.Option(None, "-o", "--output", help="Output file or folder."),
    explain: bool = typer.Option(
        False, "--explain", "--dry-run", help="Show what the import will do; write nothing."
    ),
    on_error: str = typer.Option(
        "stop", "--on-error", help="Rows that cannot be imported: stop (exit 1) | skip."
    ),
    rejects: str = typer.Option(
        None,
        "--rejects",
        help="With --on-error skip: JSON Lines file for the rejected rows "
        "(default: OUTPUT.rejects.jsonl next to the output).",
    ),
    map_: str = typer.Option(None, "--map", help="Rename columns: NEW=OLD,... (prompt=question)."),
    role_map: str = typer.Option(
        None, "--role-map", help="Rename roles: FROM=TO,... (human=user)."
    ),
    map_role: str = typer.Option(None, "--map-role", help="Same as --role-map."),
    conversational: bool = typer.Option(
        False, "--conversational", help="alpaca: conversational prompt-completion."
    ),
    prompt_style: str = typer.Option(
        "alpaca", "--prompt-style", help="alpaca, standard format: alpaca (template) | plain."
    ),
    pairing: str = typer.Option(
        "best-vs-rest", "--pairing", help="ranked: best-vs-rest | best-vs-worst | all-pairs."
    ),
    threshold: float = typer.Option(
        None, "--threshold", help="ranked: unpaired preference, good = score >= threshold."
    ),
    margin: bool = typer.Option(False, "--margin", help="ranked: add the score difference."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    output_format: str = typer.Option(
        None, "--output-format", help="parquet | jsonl | arrow | disk (default: from suffix)."
    ),
    input_format: str = typer.Option(None, "--input-format", help="Override the input format."),
    split: str = typer.Option(None, "--split", help="Split to read (folders and Hub ids)."),
) -> None:
    """Import a dataset from a public layout into a TRL dataset type."""
    from trlprep.importers import (
        ImportOptions,
        ImportStats,
        RejectsWriter,
        default_rejects_path,
        get_importer,
        import_batches,
    )
    from trlprep.importers.base import rename
    from trlprep.importers.run import check_on_error
    from trlprep.readers import iter_batches

    check_on_error(on_error)
    opts = ImportOptions.make(
        map=map_,
        role_map=role_map,
        map_role=map_role,
        conversational=conversational,
        prompt_style=prompt_style,
        pairing=pairing,
        threshold=threshold,
        margin=margin,
    )
    if from_ is not None:
        get_importer(from_)
    if rejects is not None and on_error != "skip":
        raise UsageError("--rejects needs --on-error skip", hint="add --on-error skip")
    if not explain:
        from trlprep.writers import check_output

        if output is None:
            raise UsageError("missing output", hint="pass -o OUT (or --explain to only look)")
        check_output(output, overwrite=overwrite, inputs=(path,))
        if on_error == "skip":
            rejects = rejects or default_rejects_path(output)
            check_output(rejects, overwrite=overwrite, inputs=(path, output))

    batches = iter_batches(path, split=split, input_format=input_format)
    first = next(batches, None)
    if first is None:
        raise InputError(f"{path}: the input has no rows; nothing to import")
    importer = get_importer(from_ or _detected(first.data))
    renamed = rename(first.data.schema.empty_table(), opts.map).schema
    dtype, fmt = importer.landing(renamed, opts)
    stats = ImportStats()
    all_batches = _chain(first, batches)

    if explain:
        _print_explain(importer, dtype, fmt, renamed, opts)
        for _ in import_batches(all_batches, importer, opts, on_error="skip", stats=stats):
            pass
        out.print(
            f"dry run: {stats.rows_in:,} rows in, {stats.rows_out:,} rows out, "
            f"{stats.rejected:,} rows cannot be imported",
            markup=False,
        )
        _print_stats(stats, out)
        return

    from trlprep.convert import Plan, stream_to_file
    from trlprep.converters.base import ConvertOptions
    from trlprep.graph import route

    plan = Plan(dtype, fmt, route(dtype, dtype), ConvertOptions())
    writer = RejectsWriter(rejects, overwrite=overwrite) if on_error == "skip" else None
    try:
        imported = import_batches(
            all_batches, importer, opts, on_error=on_error, rejects=writer, stats=stats, path=path
        )
        stream_to_file(imported, plan, output, output_format=output_format)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.commit()
    err.print(
        f"{importer.name} -> {dtype.name} ({fmt}): {stats.rows_in:,} rows in, "
        f"{stats.rows_out:,} rows out -> {output}",
        markup=False,
    )
    if writer is not None:
        err.print(f"{stats.rejected:,} rows could not be imported -> {rejects}", markup=False)
    _print_stats(stats, err)


def _detected(table) -> str:
    from trlprep.importers import detect_layout, layout_names

    name = detect_layout(table.schema, table.slice(0, 1000))
    if name is None:
        raise UsageError(
            "cannot tell the layout from the columns (" + ", ".join(table.column_names) + ")",
            hint="pass --from " + " | ".join(layout_names()),
        )
    return name


def _chain(first, rest):
    yield first
    yield from rest


def _print_explain(importer, dtype, fmt, schema, opts) -> None:
    out.print(f"layout: {importer.name}", markup=False)
    out.print(f"  {importer.description}", markup=False)
    out.print(f"reads: {importer.reads}", markup=False)
    if opts.map:
        out.print(
            "renames: " + ", ".join(f"{src} -> {dst}" for dst, src in opts.map.items()),
            markup=False,
        )
    for line in importer.explain(schema, opts):
        out.print(f"  {line}", markup=False)
    out.print(f"lands on: {dtype.name} ({fmt})", markup=False)


def _print_stats(stats, console) -> None:
    from trlprep.importers.run import summary_lines

    for line in summary_lines(stats):
        console.print(f"  {line}", markup=False)
    for note in stats.notes:
        console.print(f"note: {note}", markup=False)
