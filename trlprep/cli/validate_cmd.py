"""`trlprep validate`: check every row against the dataset type; exit 0 valid, 1 invalid."""

from __future__ import annotations

import functools

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, err, out
from trlprep.errors import UsageError

DEFAULT_MAX_ERRORS = (
    10  # trlprep.validation.validate.DEFAULT_MAX_ERRORS (not imported: start-up time)
)

OUTPUTS = ("text", "json", "github")
DATA_FORMATS = ("standard", "conversational", "tokenized")


@command("validate")
def validate_command(
    ctx: typer.Context,
    path: list[str] = typer.Argument(
        ..., help="Dataset: file(s), a folder of files, a glob, save_to_disk folder or Hub id."
    ),
    type: str = typer.Option(
        None, "--type", "-t", help="Dataset type or alias (default: detected)."
    ),
    report_format: str = typer.Option(
        None,
        "--format",
        "-f",
        help="Report format: text | json | github (default: text; json for -o *.json).",
    ),
    data_format: str = typer.Option(
        None,
        "--data-format",
        help="standard, conversational or tokenized (default: detected).",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too."),
    max_errors: int = typer.Option(
        DEFAULT_MAX_ERRORS, "--max-errors", min=0, help="Example rows kept per issue."
    ),
    output: str = typer.Option(
        None, "--output", "-o", help="Write the report to this file (stdout: the verdict)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing -o file."),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="An empty dataset is valid (default: an error)."
    ),
    progress: bool = opt.PROGRESS,
    role_map: str = typer.Option(
        None, "--role-map", help="Map role names first, e.g. human=user,gpt=assistant."
    ),
    split: str = opt.SPLIT,
    input_format: str = opt.INPUT_FORMAT,
    on_bad_lines: str = typer.Option(
        "error",
        "--on-bad-lines",
        help="JSON Lines lines that hold no JSON object: error (stop reading there) | skip "
        "(read the rest); either way they are invalid-line errors in the report.",
    ),
    engine: str = opt.ENGINE,
    ray_address: str = opt.RAY_ADDRESS,
    from_: str = typer.Option(
        None,
        "--from",
        help="A public layout to import first (sharegpt, alpaca, hh, openai-chat, ...): the "
        "rows are checked as convert and train import them; rows the import refuses are "
        "import-failed errors.",
    ),
    map_: str = opt.MAP,
    conversational: bool = opt.CONVERSATIONAL,
    prompt_style: str = opt.PROMPT_STYLE,
    pairing: str = opt.PAIRING,
    threshold: float = opt.THRESHOLD,
    margin: bool = opt.MARGIN,
    neutral: str = opt.NEUTRAL,
    keep_empty_turns: bool = opt.KEEP_EMPTY_TURNS,
    coerce: bool = opt.COERCE,
) -> None:
    """Validate every row of a dataset: exit 0 when valid, 1 when not, 2 on usage/IO errors."""
    from trlprep.io.shards import inputs

    path = inputs(path)  # several paths: one dataset
    opt.say_split(path, split, input_format)
    from trlprep.io.progress import showing
    from trlprep.validation.validate import validate_path

    report_format, data_format, output = _formats(report_format, data_format, output)
    if output is not None:  # before the work: a report that cannot be written is no report
        from trlprep.io.outputcheck import check_output

        check_output(output, overwrite=overwrite, inputs=(path,), output_format="text")
    shown = err.is_terminal if progress is None else progress
    from trlprep.cli.ray_cmd import check_engine, validate_ray

    if from_ is None and conversational and not map_:  # as `convert --conversational`
        from_ = opt.conversational_layout(path, split, input_format)
    layout = _layout(
        from_, opt.import_options(
            map_, role_map, None, conversational, prompt_style, pairing, threshold, margin,
            neutral, keep_empty_turns,
        ),
    )  # fmt: skip
    _say_unread(opt.given_options(ctx), layout, path)
    if check_engine(engine):  # the same call, run on Ray
        validate_path = functools.partial(validate_ray, address=ray_address)
    with showing(err.console if shown else None, "validating", shown):
        report = validate_path(
            path,
            type=type,
            format=data_format,
            strict=strict,
            max_errors=max_errors,
            role_map=role_map,
            split=split,
            input_format=input_format,
            on_bad_lines=on_bad_lines,
            coerce=coerce,
            **layout,
        )
    from trlprep.io.plaintext import note_for

    text_note = note_for(path, split, input_format)  # plain text: blank lines are no rows
    if text_note:
        report.notes.append(text_note)
    if allow_empty:
        report.allow_empty()
    if output is not None:
        _write_report(report, report_format, output, path, max_errors)
    elif report_format == "json":
        typer.echo(report.to_json())
    elif report_format == "github":
        typer.echo(report.render_github(max_annotations=max(max_errors, 1)))
    else:
        report.render_text(out.console)
    raise typer.Exit(0 if report.valid else 1)


def _formats(
    report_format: str | None, data_format: str | None, output: str | None
) -> tuple[str, str | None, str | None]:
    """(report format, dataset format, report file), with the old spellings still understood.

    `--format standard|conversational|tokenized` (the dataset format, now `--data-format`)
    and `--output text|json|github` (the report format, now `--format`) keep working for one
    release, with a warning.
    """
    if report_format is not None and report_format.lower() in DATA_FORMATS:
        err.print(
            f"warning: --format {report_format} is deprecated: use --data-format "
            f"{report_format} (--format now picks the report: text, json or github)",
            markup=False,
        )
        data_format, report_format = data_format or report_format.lower(), None
    if output is not None and output.lower() in OUTPUTS:
        err.print(
            f"warning: --output {output} is deprecated: use --format {output} "
            "(-o/--output now names a report file)",
            markup=False,
        )
        report_format, output = report_format or output.lower(), None
    if report_format is None:
        report_format = "json" if output and output.lower().endswith(".json") else "text"
    report_format = report_format.lower()
    if report_format not in OUTPUTS:
        from trlprep.errors import unknown_choice

        raise unknown_choice("--format", report_format, OUTPUTS)
    return report_format, data_format, output


def _write_report(report, report_format: str, output: str, path: str, max_errors: int) -> None:
    """Write the report to `output`; print the verdict and where the report went."""
    import io

    from rich.console import Console

    from trlprep.io.writers import write_text

    if report_format == "json":
        text = report.to_json() + "\n"
    elif report_format == "github":
        text = report.render_github(max_annotations=max(max_errors, 1)) + "\n"
    else:
        buf = io.StringIO()
        report.render_text(Console(file=buf, width=100, force_terminal=False, color_system=None))
        text = buf.getvalue()
    write_text(output, text)
    out.print(f"{report.summary()} (report: {output})", markup=False)


# the import options validate takes (ImportOptions field -> flag), --map aside
_IMPORT_FLAGS = {
    "conversational": "--conversational",
    "prompt_style": "--prompt-style",
    "pairing": "--pairing",
    "threshold": "--threshold",
    "margin": "--margin",
    "neutral": "--neutral",
    "keep_empty_turns": "--keep-empty-turns",
}


def _refuse_import_flags(imports) -> None:
    """An import option given with no layout to import (--conversational aside: alone it
    imports standard text as `convert --conversational` does, or notes there is none)."""
    for field in opt.given_import_options(imports):
        if field in _IMPORT_FLAGS and field != "conversational":
            flag = _IMPORT_FLAGS[field]
            raise UsageError(
                f"{flag} is an option of the import from a layout, and there is no --from",
                hint=f"pass --from LAYOUT to import the rows first, or drop {flag}",
            )


def _say_unread(given: dict, layout: dict, path: str) -> None:
    """A warning per layout option given that the import of `layout` does not read."""
    if not given or not layout:
        return
    from trlprep.conversion.unread import layout_unread_warnings
    from trlprep.importers import get_importer

    importer, imports = get_importer(layout["layout"]), layout["import_options"]
    for message in layout_unread_warnings(
        given, importer, imports, doing="validation", name=str(path)
    ):
        err.print(f"warning: {message}", markup=False)


def _layout(from_: str | None, imports) -> dict:
    """`validate_path`'s layout keywords for `--from` (a public layout), or none."""
    if from_ is None:
        if not imports.map:
            _refuse_import_flags(imports)
            return {}
        from_ = "map"  # --map alone renames the columns, as `trlprep convert --map` does
    from trlprep.importers import is_layout, layout_names

    if not is_layout(from_):
        raise UsageError(
            f"--from {from_}: not a public layout",
            hint="layouts: " + ", ".join(layout_names()) + " (a TRL type goes in --type)",
        )
    return {"layout": from_, "import_options": imports}
