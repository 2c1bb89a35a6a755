"""`trlprep pack`: pack tokenised sequences into fixed-length rows."""

from __future__ import annotations

import json

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, err, out
from trlprep.cli.empty import ALLOW_EMPTY, empty_error


@command("pack")
def pack_command(
    path: list[str] = typer.Argument(
        ..., help="Tokenised dataset (with input_ids); or several, a folder of files, a glob."
    ),
    output: str = typer.Option(..., "-o", "--output", help="Output file or folder."),
    seq_length: int = typer.Option(..., "--seq-length", help="Tokens per packed row."),
    strategy: str = typer.Option("bfd", "--strategy", help="bfd | bfd_split | wrapped."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    output_format: str = typer.Option(
        None, "--output-format", help="parquet | jsonl | arrow | disk."
    ),
    split: str = opt.SPLIT,
    input_format: str = opt.INPUT_FORMAT,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    allow_empty: bool = ALLOW_EMPTY,
) -> None:
    """Pack token ids into rows of --seq-length tokens (whole dataset, with seq_lengths)."""
    from trlprep.io.shards import inputs

    path = inputs(path)  # several paths: one dataset
    opt.say_split(path, split, input_format)
    from trlprep.columns.pack import STRATEGIES, pack_table
    from trlprep.errors import UsageError
    from trlprep.io.outputcheck import check_output
    from trlprep.io.readers import read
    from trlprep.io.writers import write
    from trlprep.wording import plural

    if strategy not in STRATEGIES:  # refused before the data is read
        from trlprep.errors import unknown_choice

        raise unknown_choice("--strategy", strategy, STRATEGIES)
    check_output(output, overwrite=overwrite, inputs=(path,), output_format=output_format)
    table = read(path, split=split, input_format=input_format).table
    if table.num_rows == 0:
        if not allow_empty:
            raise empty_error(path)
        import pyarrow as pa

        ids = pa.list_(pa.int64())
        empty = pa.table({"input_ids": pa.array([], ids), "seq_lengths": pa.array([], ids)})
        write(empty, output, output_format=output_format, overwrite=overwrite, inputs=(path,))
        err.print(f"note: {path} has no rows (--allow-empty): 0 rows -> {output}", markup=False)
        return
    if "input_ids" not in table.column_names:  # the file named, and the command that makes it
        raise UsageError(
            f"{path}: packing needs the column 'input_ids' of token ids; its columns are "
            + ", ".join(table.column_names),
            hint="tokenise it first as language modeling or prompt-completion, the types "
            f"packed: trlprep convert {path} [--to lm] --tokenize --tokenizer SRC -o OUT "
            "(messages need --chat-template SRC too), then pack OUT",
        )
    packed, report = pack_table(table, seq_length, strategy)
    write(packed, output, output_format=output_format, overwrite=overwrite, inputs=(path,))
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(
        f"packed {plural(report.rows_in, 'row')} into {plural(report.rows_out, 'row')} of "
        f"<= {seq_length} tokens ({report.fill:.1f} tokens/row on average) -> {output}",
        markup=False,
    )
    if report.tokens_dropped:
        err.print(
            f"note: {plural(report.tokens_dropped, 'token')} truncated "
            "(--strategy bfd_split keeps them)",
            markup=False,
        )
    if report.empty_rows:
        err.print(f"note: {plural(report.empty_rows, 'empty row')} dropped", markup=False)
    if report.dropped_columns:
        err.print(
            "note: columns not packed (not token lists aligned with input_ids): "
            + ", ".join(report.dropped_columns),
            markup=False,
        )
