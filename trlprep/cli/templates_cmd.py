"""`trlprep templates` (the built-in chat templates) and `trlprep check-template`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, out
from trlprep.cli.empty import ALLOW_EMPTY, empty_error

if TYPE_CHECKING:
    from trlprep.templates.check import CheckReport

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@command("templates")
def templates_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the built-in chat templates (usable as --chat-template NAME)."""
    from trlprep.templates import list_builtins

    builtins = list_builtins()
    if as_json:
        rows = [
            {
                "name": b.name,
                "aliases": list(b.aliases),
                "original": b.original,
                "description": b.description,
                "tools": b.tools,
                "system": b.system,
                "special_tokens": b.special_tokens,
            }
            for b in builtins
        ]
        out.print_json(json.dumps(rows))
        return
    from rich.table import Table

    t = Table(box=None, pad_edge=False)
    for col in ("name", "matches", "system", "tools", "description"):
        t.add_column(col)
    for b in builtins:
        t.add_row(b.name, b.original, _yes(b.system), _yes(b.tools), b.description)
    out.print_table(t)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@command("check-template")
def check_template_command(
    data: str = typer.Argument(None, help="Optional dataset to render a sample of."),
    chat_template: str = typer.Option(
        ..., "--chat-template", help="Built-in name, .jinja file, tokenizer folder or Hub id."
    ),
    tokenizer: str = typer.Option(
        None, "--tokenizer", help="Tokenizer (folder or Hub id) for special tokens and lengths."
    ),
    template_kwarg: list[str] = typer.Option(
        None, "--template-kwarg", help="key=value passed to the template (repeatable)."
    ),
    max_length: int = typer.Option(None, "--max-length", help="Report rows longer than this."),
    sample: int = typer.Option(1000, "--sample", help="Rows of DATA to render."),
    split: str = opt.SPLIT,
    input_format: str = opt.INPUT_FORMAT,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    allow_empty: bool = ALLOW_EMPTY,
) -> None:
    """Probe a chat template (and a sample of DATA) for training bugs; exit 1 on any fail."""
    from trlprep.templates.check import Check, CheckReport, check_template
    from trlprep.templates.options import parse_template_kwargs
    from trlprep.templates.sources import NoTemplateError, load_template_and_tokenizer

    kwargs = parse_template_kwargs(template_kwarg)
    try:
        template, tok = load_template_and_tokenizer(chat_template, tokenizer, kwargs)
    except NoTemplateError as e:
        report = CheckReport(chat_template, [Check("template present", "fail", e.message)])
        _print(report, chat_template, as_json)
        raise typer.Exit(e.exit_code) from None  # a usage error: another --chat-template
    table = src = None
    if data is not None:
        from trlprep.io.readers import read

        opt.say_split(data, split, input_format)
        src = read(data, split=split, input_format=input_format)
        table = src.table
        if table.num_rows == 0:
            if not allow_empty:
                raise empty_error(data)
            table = None  # nothing to sample: the probe set only
    report = check_template(
        template, tokenizer=tok, table=table, max_length=max_length, sample=sample,
        lines=None if src is None else src.lines, shards=None if src is None else src.shards,
    )  # fmt: skip
    _print(report, template.name, as_json)
    if report.failed:
        raise typer.Exit(1)


def _print(report: CheckReport, name: str, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    from rich.table import Table

    t = Table(box=None, pad_edge=False, show_header=False)
    for c in report.checks:
        style = _STYLE[c.status]
        t.add_row(f"[{style}]{c.status}[/]", c.name, c.message.replace("[", r"\["))
    out.print(f"chat template: {name}", markup=False)
    out.print_table(t)
