"""`trlprep report`: token lengths, truncation, duplicates, roles and rendered rows."""

from __future__ import annotations

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, err, out
from trlprep.errors import UsageError

FORMATS = ("text", "json", "html")


@command("report")
def report_command(
    path: str = typer.Argument(
        ...,
        help="Dataset: a file, a folder of files, a glob, save_to_disk folder or Hub id "
        "(one PATH: several files as a folder or a glob).",
    ),
    chat_template: str = typer.Option(
        None, "--chat-template", help="Template (and tokenizer, for a model folder or Hub id)."
    ),
    tokenizer: str = typer.Option(
        None, "--tokenizer", help="Tokenizer that measures lengths (its template too)."
    ),
    max_length: int = typer.Option(
        None, "--max-length", min=1, help="Your training limit: rows it would truncate."
    ),
    truncation: str = typer.Option(
        "keep_start", "--truncation", help="What the trainer keeps: keep_start | keep_end."
    ),
    output: str = typer.Option(
        None, "--output", "-o", help="Write the report to this file (stdout: the summary)."
    ),
    data_report_format: str = typer.Option(
        None,
        "--format",
        "-f",
        help="text | json | html (default: from -o's suffix, else text).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing -o file."),
    fail_if: list[str] = typer.Option(
        None,
        "--fail-if",
        metavar="'KEY OP N'",
        help="Exit 1 when a figure passes a limit, e.g. 'truncated_share > 0.05' (repeatable).",
    ),
    type: str = typer.Option(None, "--type", "-t", help="Dataset type (default: detected)."),
    from_: str = typer.Option(None, "--from", help="Import a public layout first (sharegpt ...)."),
    split_mode: str = typer.Option(
        None,
        "--split-mode",
        help="Implicit pairs' prompt extraction: word | char (TRL; default: word).",
    ),
    examples: int = typer.Option(3, "--examples", min=0, help="Rows shown rendered."),
    validate: bool = typer.Option(True, "--validate", help="Include the validation summary."),
    num_proc: int = typer.Option(
        None,
        "--num-proc",
        min=1,
        help="Processes that render and tokenise (default: every core for 100,000 rows or "
        "more, this process below; 1: this process only).",
    ),
    split: str = opt.SPLIT,
    input_format: str = opt.INPUT_FORMAT,
    map_: str = opt.MAP,
    role_map: str = opt.ROLE_MAP,
    conversational: bool = opt.CONVERSATIONAL,
    prompt_style: str = opt.PROMPT_STYLE,
    pairing: str = opt.PAIRING,
    threshold: float = opt.THRESHOLD,
    margin: bool = opt.MARGIN,
    neutral: str = opt.NEUTRAL,
    keep_empty_turns: bool = opt.KEEP_EMPTY_TURNS,
) -> None:
    """Report what the trainer will see: lengths in tokens, truncation, duplicates, roles."""
    from trlprep.datareport import report

    fmt = _format(data_report_format, output)
    if output is not None:  # before the work: a report that cannot be written is no report
        from trlprep.io.outputcheck import check_output

        check_output(output, overwrite=overwrite, inputs=(path,), output_format="text")
    imports = opt.import_options(
        map_, role_map, None, conversational, prompt_style, pairing, threshold, margin,
        neutral, keep_empty_turns,
    )  # fmt: skip
    given = {k: getattr(imports, k) for k in opt.given_import_options(imports)}
    if from_ is None and conversational and not imports.map:  # as `convert --conversational`
        from_ = opt.conversational_layout(path, split, input_format)
        if from_ is None:  # messages already: nothing to import
            given.pop("conversational", None)
    if given and from_ is None and not imports.map:
        raise UsageError(
            "importer options (" + ", ".join(f"--{k.replace('_', '-')}" for k in given)
            + ") need a public layout",
            hint="pass --from LAYOUT (sharegpt, alpaca, ranked ...), or --map to rename columns",
        )  # fmt: skip
    from trlprep.io.splitfiles import left_out_note

    # as every command reading a folder says it (report reads every split)
    left = left_out_note(path, input_format, split, every_split=True)
    if left is not None:
        err.print(f"note: {left}", markup=False)
    rep = report(
        path,
        chat_template=chat_template,
        tokenizer=tokenizer,
        max_length=max_length,
        truncation=truncation,
        type=type,
        split=split,
        input_format=input_format,
        examples=examples,
        validate=validate,
        from_=from_,
        split_mode=split_mode,
        num_proc=num_proc,
        **given,
    )
    held = rep.failed_as_flags(list(fail_if or []))
    text = {"json": lambda: rep.to_json() + "\n", "html": rep.to_html, "text": rep.to_text}[fmt]()
    if output is not None:
        from trlprep.io.writers import write_text

        write_text(output, text)
        out.print(rep.to_text().rstrip("\n"), markup=False)
        out.print(f"report: {output}", markup=False)
    else:
        typer.echo(text, nl=False)
    for cond in held:
        err.print(f"fail-if: {cond}", markup=False)
    raise typer.Exit(1 if held else 0)


def _format(report_format: str | None, output: str | None) -> str:
    if report_format is None:
        suffix = (output or "").lower().rsplit(".", 1)[-1] if output and "." in output else ""
        report_format = {"json": "json", "html": "html", "htm": "html"}.get(suffix, "text")
    report_format = report_format.lower()
    if report_format not in FORMATS:
        from trlprep.errors import unknown_choice

        raise unknown_choice("--format", report_format, ("text", "json", "html"))
    return report_format
