"""`convert` and `validate` with `--engine ray`: read, convert/validate and write through Ray
Data's own Parquet/JSON readers and writers (local paths or object storage Ray supports)."""

from __future__ import annotations

import contextlib
from typing import Any

from trlprep.cli.app import err
from trlprep.errors import ROW_ID, DataError, UsageError

ENGINES = ("local", "ray")


def check_engine(engine: str) -> bool:
    """True for `--engine ray` (after checking the name)."""
    if engine not in ENGINES:
        from trlprep.errors import unknown_choice

        raise unknown_choice("--engine", engine, ENGINES)
    return engine == "ray"


def ray_errors() -> contextlib.AbstractContextManager[None]:
    """A trlprep error raised inside a Ray task leaves as itself (`trlprep.ray.base.unwrapped`)."""
    from trlprep.ray.base import unwrapped

    return unwrapped()


def read(path: Any, input_format: str | None = None, split: str | None = None) -> Any:
    """A Ray dataset over files, folders, globs or object-storage URIs (`trlprep.ray.sources`)."""
    from trlprep.ray.sources import read as read_any

    return read_any(path, input_format, split)


def read_numbered(
    path: Any,
    input_format: str | None = None,
    split: str | None = None,
    bad_lines: Any = None,
    import_options: Any = None,
) -> tuple[Any, int, Any]:
    """The input numbered as the local engine numbers it (`trlprep.ray.sources`); the column
    `--map tools=NAME` renames read as `tools` is."""
    from trlprep.ray.sources import read_numbered as numbered

    tools = (getattr(import_options, "map", None) or {}).get("tools")
    return numbered(path, input_format, split, bad_lines, tools)


def convert_ray(
    path: Any,
    output: str | None,
    *,
    address: str | None,
    output_format: str | None = None,
    input_format: str | None = None,
    split: str | None = None,
    overwrite: bool = False,
    from_: str | None = None,
    tools: str | None = None,
    template_kwargs: list[str] | None = None,
    import_options: Any = None,
    on_error: str = "stop",
    on_bad_lines: str = "error",
    rejects: str | None = None,
    coerce: bool = False,
    given: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Run `trlprep convert` on Ray; kwargs go to `trlprep.ray.convert_rows` (`given`: the
    options written on the command line that only some steps read). Every row
    is accounted for as the local engine does (`trlprep.conversion.ledger`): refused rows stop the
    run naming the first (file and line) or, with `--on-error skip`, go to the rejects
    file (row, line, stage, reason, record); `--on-bad-lines skip` skips broken JSON Lines
    lines as locally. The workers' warnings and notes are printed once each."""
    from trlprep import ray as engine
    from trlprep.cli.pipeline import choice
    from trlprep.conversion.ledger import Ledger
    from trlprep.importers import is_layout
    from trlprep.importers.options import check_on_error
    from trlprep.io.jsonl import BadLines
    from trlprep.ray import notes as worker_notes
    from trlprep.ray.output import SHARDS, check_place, write_output
    from trlprep.templates.options import load_tools, parse_template_kwargs

    check_on_error(on_error)
    choice("--on-bad-lines", on_bad_lines, ("error", "skip"))
    if output is None:
        from trlprep.cli.options import missing_output

        raise missing_output(path, "pass -o OUT")
    if rejects is not None and on_error != "skip":
        raise UsageError("--rejects needs --on-error skip", hint="add --on-error skip")
    layout = from_ if from_ is not None and is_layout(from_) else None
    from_type = None if layout else from_
    if layout is None and import_options is not None and import_options.map:
        layout = "map"
    # the local engine's rule for -o: one file, a shard folder or a save_to_disk folder
    kind, out_format = check_place(output, output_format, overwrite, (path,))
    engine.init(address)
    bad = BadLines() if on_bad_lines == "skip" else None
    ledger = Ledger(path=str(path), on_error=on_error, bad_lines=bad)
    if on_error == "skip":
        from trlprep.importers import RejectsWriter, default_rejects_path

        explicit = rejects is not None  # --rejects FILE: written even empty
        rejects = rejects or default_rejects_path(_beside(output))
        ledger.rejects = RejectsWriter(
            rejects, overwrite=overwrite, inputs=(str(path),), output=output, explicit=explicit
        )
    book = None
    found = worker_notes.Notes()
    shown = False  # the workers' warnings printed
    refused = None  # stopped or every row refused: (the route said with the counts, its kinds)
    try:
        with ray_errors():
            ds, n_in, ledger.shards = read_numbered(path, input_format, split, bad, import_options)
            ledger.rows_in = n_in
            if not n_in:
                raise DataError(f"{path}: no rows", hint="the input holds no rows")
            layout = layout or _sniff(ds)
            if layout is None and from_type is None and getattr(import_options, "role_map", None):
                layout = "map"  # TRL messages whose roles --role-map renames, as locally
            book = worker_notes.notebook()
            rows = ds
            if layout is not None:
                from trlprep.importers import ImportOptions, get_importer

                how = get_importer(layout).expansion(import_options or ImportOptions())
                if how:
                    ledger.expansions["import"] = how  # said with the counts
                rows = engine.import_layout(ds, layout, import_options, coerce=coerce, notes=book)
                rows = rows.materialize()
                from trlprep.importers.base import check_roles_used

                check_roles_used(import_options, worker_notes.peek(book).roles, layout)
            if layout is not None and _every_row_refused(rows, coerce):
                conv = engine.Converted(rows, None)  # its reject rows alone
            else:
                conv = engine.convert_rows(
                    rows, from_=from_type, tools=load_tools(tools), coerce=coerce,
                    template_kwargs=parse_template_kwargs(template_kwargs), notes=book,
                    shards=ledger.shards, **kwargs,
                )  # fmt: skip
                _plan_warning(conv.plan)
                _unread_warnings(conv.plan, given, layout, import_options, path)
            conv.rows = conv.rows.materialize()
            found, book = worker_notes.take(book), None
            if conv.plan is not None and conv.plan.render is not None:
                from trlprep.conversion.apply import merge_reports

                merge_reports(conv.plan, found.reports)  # the template's, the tokenizer's
            ledger.coerced.update(found.coerced)
            ledger.booleans.update(found.booleans)
            ledger.hints.update(found.hints)
            for name, (n_in, n_out) in found.steps.items():
                ledger.count_step(name, n_in, n_out)
            if conv.plan is not None:  # `--split-turns all` rendered: turns refused alone
                from trlprep.conversion.byturn import by_turn, splitting_step

                ledger.split_step = splitting_step(conv.plan)
                ledger.turned = by_turn(conv.plan)
            _reject(ledger, conv.rejects(), ds)
            if ledger.stopping or ledger.all_rejected:  # (the output rows not gathered)
                shown = True
                if conv.plan is not None:  # as locally: no reasons where none was converted
                    _print_warnings(found)  # what led to the error
                # the counts and the reasons said before the error, once committed
                if conv.plan is not None:
                    refused = _route_words(layout, conv.plan)
                else:  # the import refused every row: the type it lands on
                    refused = _landing(layout, ds, import_options), None
                raise ledger.error()
            out = conv.output().materialize()
            ledger.rows_out = out.count()
            from trlprep.conversion.rowsleft import NoRowsLeft, check_rows_left

            try:
                check_rows_left(conv.plan, ledger.converted, ledger.rows_out)
            except NoRowsLeft:  # the route dropped every row: counted all the same, as locally
                said_as, kinds = _route_words(layout, conv.plan)
                said = f"ray: {said_as}: {ledger.summary(kinds)}; nothing written"
                err.print(said, markup=False)
                raise
            shards = write_output(out, output, output_format, overwrite, found.carried)
    except BaseException:
        if book is not None:  # a task failed: what the others noted may explain it
            with contextlib.suppress(Exception):
                found = worker_notes.take(book)
        if not shown:
            _print_warnings(found)
        if ledger.rejects is not None and ledger.all_rejected:
            ledger.finish()
            ledger.rejects.commit()  # the one thing left to show: why each row went
        elif ledger.rejects is not None:
            ledger.rejects.abort()
        if refused is not None:
            from trlprep.cli.refused import print_refused

            said_as = f"ray: {refused[0]}" if refused[0] else "ray"
            print_refused(ledger, said_as, refused[1], bad)
        raise
    if ledger.rejects is not None:
        ledger.finish()
        ledger.rejects.commit()
    plan = conv.plan
    _print_warnings(found)
    for message in plan.warnings():
        err.print(f"warning: {message}", markup=False)
    if found.carried and out_format != "jsonl":
        from trlprep.io.kinds import carried_warning

        for column, kinds in found.carried.items():  # JSON Lines holds the values themselves
            said = carried_warning(column, kinds, f"written to {output}", out_format != "disk")
            err.print(f"warning: {said}", markup=False)
    for note in ledger.notes() + plan.notes() + list(found.notes):  # the importer's too:
        err.print(f"note: {note}", markup=False)  # before the counts, as locally
    said_as, kinds = _route_words(layout, plan)
    count = f" ({shards} {'shard' if shards == 1 else 'shards'})" if kind == SHARDS else ""
    err.print(f"ray: {said_as}: {ledger.summary(kinds)} -> {output}{count}", markup=False)
    if ledger.rejects is not None:
        said = ledger.rejects.summary(ledger.rejected, len(bad) if bad else 0, ledger.turns_refused)
        err.print(said, markup=False)
    else:
        from trlprep.importers.rejectsfile import stale_rejects_note

        stale = stale_rejects_note(_beside(output))
        if stale:
            err.print(f"note: {stale}", markup=False)
    for line in ledger.reason_lines():
        err.print(f"  {line}", markup=False)


def _beside(output: str) -> str:
    """The output its rejects file goes beside: a URI as written (never a local path)."""
    from trlprep.io.remote import is_uri
    from trlprep.ray.output import out_dir

    return output.rstrip("/") if is_uri(output) else str(out_dir(output))


def _route_words(layout: str | None, plan: Any) -> tuple[str, dict[str, str]]:
    """What the counts line names (`LAYOUT -> ROUTE (FORMAT ...)`), and each step's row kind."""
    return plan.said_as(layout), plan.row_kinds


def _landing(layout: str | None, ds: Any, import_options: Any) -> str:
    """What an import whose every row was refused would have made (as locally)."""
    if layout is None:
        return ""
    from trlprep import ray as engine
    from trlprep.cli.refused import landing_words
    from trlprep.importers import get_importer

    head = ds.take_batch(1, batch_format="pyarrow")  # the input's columns, as read
    head = head.drop_columns([c for c in (ROW_ID, engine.LINE) if c in head.column_names])
    return landing_words(get_importer(layout), head.schema, import_options)


def _every_row_refused(rows: Any, coerce: bool) -> bool:
    """Whether the import refused every row (nothing left to plan a conversion from)."""
    from trlprep.ray.surveys import head_rows

    return head_rows(rows, 1, coerce=coerce) is None


def _plan_warning(plan: Any) -> None:
    """The warnings the local engine prints when it plans the route (an unpairing)."""
    for message in plan.route_warnings():
        err.print(f"warning: {message}", markup=False)


def _unread_warnings(plan: Any, given: Any, layout: Any, import_options: Any, path: Any) -> None:
    """The options given that no step reads, said once here on the driver, as locally."""
    from trlprep.conversion.unread import unread_warnings
    from trlprep.importers import get_importer

    importer = get_importer(layout) if layout is not None else None
    for message in unread_warnings(
        plan, given or {}, importer=importer, import_options=import_options, name=str(path)
    ):
        err.print(f"warning: {message}", markup=False)


def _print_warnings(found: Any) -> None:
    """The workers' conversion warnings as `warning: ...` lines (each once), the others
    raised again here."""
    for message in found.conversion_warnings():
        err.print(f"warning: {message}", markup=False)
    found.reissue()


def _sniff(ds: Any) -> str | None:
    """A public layout recognised from the first rows' columns (as the local engine)."""
    from trlprep import ray as engine
    from trlprep.cli.importing import sniff_layout
    from trlprep.io.readers import Batch

    head = ds.take_batch(1000, batch_format="pyarrow")
    head = head.drop_columns([c for c in (ROW_ID, engine.LINE) if c in head.column_names])
    return sniff_layout(Batch(head, 0, None), required=False)


def _reject(ledger: Any, rejected: Any, numbered: Any) -> None:
    """Count the refused rows (by stage and reason, on the cluster: only the counts and a
    few rows reach the driver) and, with a rejects file, write them with their records as
    read (found on the cluster, streamed here in row order a batch at a time)."""
    from trlprep.ray import rejected as refused

    rejected = rejected.materialize()
    ledger.absorb(refused.summaries(rejected))
    if ledger.rejects is None or not (ledger.rejected or ledger.turns_refused):
        return
    for batch in refused.records(rejected, numbered, turned=ledger.turned):
        ledger.write(batch)


def validate_ray(
    path: str | list[str],
    *,
    address: str | None,
    input_format: str | None = None,
    split: str | None = None,
    on_bad_lines: str = "error",
    layout: str | None = None,
    import_options: Any = None,
    **kwargs: Any,
) -> Any:
    """Run `trlprep validate` on Ray (arguments as `validate_path`); returns the Report.
    A broken JSON Lines line is an `invalid-line` error where reading stopped (the rows
    before it checked locally), or (with `on_bad_lines="skip"`) every such line is listed,
    as locally."""
    from trlprep import ray as engine
    from trlprep.io.jsonl import BadLineError, BadLines

    if on_bad_lines not in ("error", "skip"):
        from trlprep.errors import unknown_choice

        raise unknown_choice("--on-bad-lines", on_bad_lines, ("error", "skip"))
    engine.init(address)
    bad = BadLines() if on_bad_lines == "skip" else None
    try:
        with ray_errors():
            ds, _, shards = read_numbered(path, input_format, split, bad, import_options)
            if layout is not None:  # a public layout: imported block by block first
                from trlprep.ray.imported import import_rows, validate_import

                coerce = kwargs.pop("coerce", False)
                imported = import_rows(ds, layout, import_options, coerce=coerce)
                del ds  # the imported rows are the one copy of the data held from here on
                report = validate_import(imported, **kwargs)
            else:
                from trlprep.ray.checking import validate  # in the CLI's words

                report = validate(ds, **kwargs)  # `coerce` among kwargs
    except BadLineError:
        # the rows before the broken line are checked as locally (the error path only)
        from trlprep.io.shards import inputs
        from trlprep.validation.validate import validate_path

        path = inputs(path) if isinstance(path, list) else path
        return validate_path(
            path, input_format=input_format, split=split, layout=layout,
            import_options=import_options, **kwargs,
        )  # fmt: skip
    report.path = str(path)
    empty = report.issue("empty-dataset")
    if empty is not None and empty.message == "the dataset has no rows":  # named as locally
        empty.message = f"{report.path}: the dataset has no rows"
    if shards is not None:  # several files: each one's rows, each example's file:line
        from trlprep.io.shards import annotate_shards

        annotate_shards(report, str(path), shards)
    if bad:  # the skipped broken lines first in `report`, as locally
        from trlprep.validation.wholeissues import skipped_line_issues

        report.issues[:0] = skipped_line_issues(bad, kwargs.get("max_errors", 10))
    return report
