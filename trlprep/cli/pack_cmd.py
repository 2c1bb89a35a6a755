"""`trlprep pack`: pack tokenised sequences into fixed-length rows."""

from __future__ import annotations

import json

import typer

from trlprep.cli.app import command, err, out


@command("pack")
def pack_command(
    path: str = typer.Argument(..., help="Tokenised dataset (with input_ids)."),
    output: str = typer.Option(..., "-o", "--output", help="Output file or folder."),
    seq_length: int = typer.Option(..., "--seq-length", help="Tokens per packed row."),
    strategy: str = typer.Option("bfd", "--strategy", help="bfd | bfd_split | wrapped."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    output_format: str = typer.Option(
        None, "--output-format", help="parquet | jsonl | arrow | disk."
    ),
    split: str = typer.Option(None, "--split", help="Split to read (folders and Hub ids)."),
    input_format: str = typer.Option(None, "--input-format", help="Override the input format."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Pack token ids into rows of --seq-length tokens (whole dataset, with seq_lengths)."""
    from trlprep.pack import pack_table
    from trlprep.readers import read
    from trlprep.writers import check_output, write

    check_output(output, overwrite=overwrite, inputs=(path,))
    table = read(path, split=split, input_format=input_format).table
    packed, report = pack_table(table, seq_length, strategy)
    write(packed, output, output_format=output_format, overwrite=overwrite, inputs=(path,))
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(
        f"packed {report.rows_in:,} rows into {report.rows_out:,} rows of <= {seq_length} tokens "
        f"({report.fill:.1f} tokens/row on average) -> {output}",
        markup=False,
    )
    if report.tokens_dropped:
        err.print(
            f"note: {report.tokens_dropped:,} tokens truncated (--strategy bfd_split keeps them)",
            markup=False,
        )
    if report.empty_rows:
        err.print(f"note: {report.empty_rows:,} empty rows dropped", markup=False)
    if report.dropped_columns:
        err.print(
            "note: columns not packed (not token lists aligned with input_ids): "
            + ", ".join(report.dropped_columns),
            markup=False,
        )
