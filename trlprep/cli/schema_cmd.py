"""`trlprep schema`: print the JSON Schema of one row of a dataset type."""

from __future__ import annotations

import json

import typer

from trlprep.cli.app import command
from trlprep.validation.schemas import schema_for


@command("schema")
def schema_command(
    type: str = typer.Argument(..., help="Dataset type or alias (pref, unpaired, lm, ...)."),
    format: str = typer.Option(
        "standard", "--format", "-f", help="standard, conversational or tokenized."
    ),
) -> None:
    """Print the JSON Schema (draft 2020-12) of one row of TYPE in --format."""
    typer.echo(json.dumps(schema_for(type, format), indent=2, ensure_ascii=False))
