"""`trlprep validate`: check every row against the dataset type; exit 0 valid, 1 invalid."""

from __future__ import annotations

import typer

from trlprep.cli.app import command, out
from trlprep.errors import UsageError
from trlprep.validate import DEFAULT_MAX_ERRORS, validate_path

OUTPUTS = ("text", "json", "github")


@command("validate")
def validate_command(
    path: str = typer.Argument(..., help="Dataset file, save_to_disk folder or Hub id."),
    type: str = typer.Option(
        None, "--type", "-t", help="Dataset type or alias (default: detected)."
    ),
    format: str = typer.Option(
        None, "--format", "-f", help="standard, conversational or tokenized (default: detected)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too."),
    max_errors: int = typer.Option(
        DEFAULT_MAX_ERRORS, "--max-errors", min=0, help="Example rows kept per issue."
    ),
    output: str = typer.Option("text", "--output", "-o", help="text, json or github."),
    role_map: str = typer.Option(
        None, "--role-map", help="Map role names first, e.g. human=user,gpt=assistant."
    ),
    split: str = typer.Option(None, "--split", help="Split to read (folders and Hub ids)."),
    input_format: str = typer.Option(
        None, "--input-format", help="Override the format guessed from the file name."
    ),
    on_bad_lines: str = typer.Option(
        "error",
        "--on-bad-lines",
        help="JSON Lines lines that hold no JSON object: error (stop reading there) | skip "
        "(read the rest); either way they are invalid-line errors in the report.",
    ),
) -> None:
    """Validate every row of a dataset: exit 0 when valid, 1 when not, 2 on usage/IO errors."""
    if output not in OUTPUTS:
        raise UsageError(f"unknown --output {output!r}", hint="use text, json or github")
    report = validate_path(
        path,
        type=type,
        format=format,
        strict=strict,
        max_errors=max_errors,
        role_map=role_map,
        split=split,
        input_format=input_format,
        on_bad_lines=on_bad_lines,
    )
    if output == "json":
        typer.echo(report.to_json())
    elif output == "github":
        typer.echo(report.render_github(max_annotations=max(max_errors, 1)))
    else:
        report.render_text(out)
    raise typer.Exit(0 if report.valid else 1)
