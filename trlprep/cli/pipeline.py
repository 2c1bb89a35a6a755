"""The streamed path shared by `trlprep convert` and `trlprep import`.

read (batches) -> import a layout (optional) -> detect -> plan -> convert -> template ->
validate -> write, with rejected rows going to a side file when asked.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trlprep.conversion.ledger import Ledger
    from trlprep.conversion.stream import Unit
    from trlprep.io.readers import Batch

from trlprep.cli.app import err, out
from trlprep.errors import ROW_ID, DataError, UsageError


@dataclass
class Request:
    """Everything one `convert`/`import` invocation asked for."""

    path: str
    output: str | None
    to: str | None = None
    from_: str | None = None
    explain: bool = False
    overwrite: bool = False
    output_format: str | None = None
    input_format: str | None = None
    split: str | None = None
    convert_options: Any = None  # converters.base.ConvertOptions
    guide_only: bool = False
    progress: bool | None = None
    chat_template: str | None = None
    tokenizer: str | None = None
    tools: str | None = None  # a JSON file of tool schemas
    template_kwargs: list[str] | None = None  # key=value
    num_proc: int | None = None
    tokenize: bool = False
    max_length: int | None = None
    truncation: str = "keep_start"
    import_options: Any = None  # importers.ImportOptions
    on_error: str = "stop"
    rejects: str | None = None
    layout_required: bool = False  # `trlprep import`: the input must be a layout
    allow_empty: bool = False  # no rows: write an empty output (else exit 1)
    on_bad_lines: str = "error"  # JSONL lines that hold no JSON object: error | skip
    coerce: bool = False  # numbers/booleans in a text column read as text


def choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{flag} {value!r} is not one of: {', '.join(choices)}")


def _type_or_layout(name: str) -> None:
    """`--from` names a dataset type or a public layout; a misspelt one is told both lists
    (and the closest name)."""
    import difflib

    from trlprep.importers import layout_names
    from trlprep.registry import TYPES, get_type, type_names_with_aliases, type_suggestion

    try:
        get_type(name)
    except UsageError:
        names = [*TYPES, *layout_names()]
        close = difflib.get_close_matches(name.lower(), names, n=1)
        raise UsageError(
            f"unknown --from {name!r}: not a dataset type or a public layout"
            + (f" (did you mean {close[0]!r}?)" if close else type_suggestion(name.lower())),
            hint="dataset types: "
            + ", ".join(type_names_with_aliases())
            + "; layouts: "
            + ", ".join(layout_names()),
        ) from None


def run(req: Request) -> None:
    """Run a streamed `convert`/`import`: read, import or detect, convert, write."""
    from trlprep.io.jsontext import tools_from

    # `--map tools=NAME`: that column read as each row's own schemas, as `tools` is read
    with tools_from(req.import_options.map if req.import_options is not None else None):
        _run(req)


def _run(req: Request) -> None:
    from trlprep.conversion.ledger import Ledger
    from trlprep.conversion.stream import plain_units, scratch_folder, stream_to_file
    from trlprep.converters.base import ConversionWarning
    from trlprep.converters.common import merge_row_warnings
    from trlprep.detection.detect import detect_table
    from trlprep.importers import is_layout
    from trlprep.importers.run import check_on_error
    from trlprep.io.agreeing import agreeing_batches
    from trlprep.io.outputcheck import check_output, resolve_output_format
    from trlprep.io.progress import showing
    from trlprep.io.readers import BadLines, Batch
    from trlprep.registry import get_type

    check_on_error(req.on_error)
    layout = req.from_ if req.from_ is not None and is_layout(req.from_) else None
    from_type = None if layout else req.from_
    if layout is None and req.import_options is not None and req.import_options.map:
        layout = "map"
    if req.to is not None:
        get_type(req.to)
    if from_type is not None:
        _type_or_layout(from_type)
    from trlprep.templates.options import load_tools, parse_template_kwargs

    tools = load_tools(req.tools)
    template_kwargs = parse_template_kwargs(req.template_kwargs)
    choice("--truncation", req.truncation, ("keep_start", "keep_end"))
    if req.rejects is not None and req.on_error != "skip":
        raise UsageError("--rejects needs --on-error skip", hint="add --on-error skip")
    if not req.explain:
        if req.output is None:
            raise UsageError("missing output", hint="pass -o OUT (or --explain to only plan)")
        check_output(
            req.output,
            overwrite=req.overwrite,
            inputs=(req.path,),
            output_format=req.output_format,
        )

    choice("--on-bad-lines", req.on_bad_lines, ("error", "skip"))
    bad = BadLines() if req.on_bad_lines == "skip" else None
    # a column's kind decided over the whole input, all its files and chunks
    batches = agreeing_batches(
        req.path, split=req.split, input_format=req.input_format, bad_lines=bad,
        folder=None if req.output is None else scratch_folder(req.output),
    )  # fmt: skip
    show = sys.stderr.isatty() if req.progress is None else req.progress
    with showing(err.console, "reading", show and not req.explain):  # (the whole input)
        first = next(batches, None)
    if first is None:  # no rows: take the schema from a whole (empty) read
        from trlprep.io.readers import read

        src = read(req.path, split=req.split, input_format=req.input_format, bad_lines=bad)
        first = Batch(src.table, 0, src.lines)
        if first.data.num_rows == 0:
            from trlprep.cli.empty import empty_input

            empty_input(req, from_type, bad)
            return
    if layout is None and from_type is None:
        layout = _sniff_layout(first, required=req.layout_required)
    if layout is None and req.import_options is not None and req.import_options.conversational:
        layout = _conversational_layout(first)
    _check_keep_empty(req, layout)

    importer = stats = None
    ledger = Ledger(path=req.path, on_error=req.on_error, bad_lines=bad)
    ledger.shards = getattr(batches, "shards", None)  # several files: name the file
    if req.on_error == "skip" and not req.explain:
        from trlprep.importers import RejectsWriter, default_rejects_path

        explicit = req.rejects is not None  # --rejects FILE: written even empty
        req.rejects = req.rejects or default_rejects_path(req.output)
        ledger.rejects = RejectsWriter(
            req.rejects,
            overwrite=req.overwrite,
            inputs=(req.path,),
            output=req.output,
            explicit=explicit,
        )
    if layout is not None:
        from trlprep.importers import ImportStats, get_importer

        importer = get_importer(layout)
        stats = ImportStats()
    if req.explain:
        _explain(req, first, batches, importer, stats, from_type, tools, template_kwargs)
        return
    raw = _chain(first, batches)
    if importer is not None:
        units = _import_units(raw, importer, req.import_options, stats, ledger, req.coerce)
    else:
        units = plain_units(raw, ledger, req.coerce)

    try:
        empty: list[Unit] = []  # units whose every row was refused (read, import)
        head = next(units, None)
        while head is not None and not head.table.num_rows:
            empty.append(head)
            head = next(units, None)
        if head is None:
            if ledger.rejected:
                raise ledger.error()
            raise DataError(f"{req.path}: no rows could be imported", hint="see the reasons")
        det = detect_table(head.table.drop_columns([ROW_ID]), head.lines)
        _name_file(det, head.path)
        units = itertools.chain(empty, [head], units)
        plan = _plan(req, det, from_type, tools, template_kwargs, importer)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConversionWarning)
            try:
                with showing(err.console, "converting", show):  # on stderr only
                    stream_to_file(units, plan, req.output, ledger, output_format=req.output_format)
            except DataError:
                for w in merge_row_warnings(
                    str(w.message) for w in caught if w.category is ConversionWarning
                ):
                    err.print(f"warning: {w}", markup=False)  # what led to the error
                if ledger.stopping or ledger.all_rejected:
                    for line in ledger.reason_lines():
                        err.print(f"  {line}", markup=False)
                raise
    except BaseException:
        if ledger.rejects is not None and ledger.all_rejected:
            ledger.finish()
            ledger.rejects.commit()  # the one thing left to show: why each row went
        elif ledger.rejects is not None:
            ledger.rejects.abort()
        raise
    if ledger.rejects is not None:
        ledger.finish()
        ledger.rejects.commit()
    said = (str(w.message) for w in caught if w.category is ConversionWarning)
    for message in merge_row_warnings(said):
        err.print(f"warning: {message}", markup=False)
    for message in plan.warnings():
        err.print(f"warning: {message}", markup=False)
    out_format = resolve_output_format(req.output, req.output_format)
    if ledger.carried and out_format != "jsonl":  # JSON Lines holds the values themselves
        from trlprep.io.kinds import carried_warning

        for column, kinds in ledger.carried.items():
            said = carried_warning(column, kinds, f"written to {req.output}", out_format != "disk")
            err.print(f"warning: {said}", markup=False)
    for note in ledger.notes() + plan.notes():
        err.print(f"note: {note}", markup=False)
    source = f"{importer.name} -> " if importer else ""
    rendered = f" -> standard with {plan.render.name}" if plan.template is not None else ""
    kinds = {f"{e.src} -> {e.dst}": e.rows for e in plan.route.steps}
    err.print(
        f"{source}{plan.route} ({plan.fmt}{rendered}): {ledger.summary(kinds)} -> {req.output}",
        markup=False,
    )
    if ledger.rejects is not None:
        err.print(ledger.rejects.summary(ledger.rejected, len(bad) if bad else 0), markup=False)
    else:
        from trlprep.importers.run import stale_rejects_note

        stale = stale_rejects_note(req.output)
        if stale:
            err.print(f"note: {stale}", markup=False)
    for line in ledger.reason_lines():
        err.print(f"  {line}", markup=False)
    if stats is not None:
        for note in stats.notes:
            err.print(f"note: {note}", markup=False)


def _name_file(det, path: str | None) -> None:
    """The lines of `det`'s problems named with their file `path` (one of several files)."""
    from trlprep.io.inputfiles import FileLine

    if path is not None:
        for p in det.problems:
            p.lines = [FileLine(line, path) for line in p.lines] if p.lines else p.lines


def _check_keep_empty(req: Request, layout: str | None) -> None:
    """`--keep-empty-turns` is an hh option that lands on prompt-only: refuse it elsewhere."""
    if req.import_options is None or not req.import_options.keep_empty_turns:
        return
    from trlprep.importers import get_importer
    from trlprep.registry import get_type

    if layout is None or get_importer(layout).name != "hh":
        raise UsageError("--keep-empty-turns is an option of the hh layout", hint="add --from hh")
    if req.to is not None and get_type(req.to).name != "prompt-only":
        raise UsageError(
            f"--keep-empty-turns keeps HH rows whose final Assistant turn is empty, which is "
            f"valid only as prompt-only data; for --to {req.to} an empty answer is an empty "
            "completion (rule empty-string)",
            hint="use --to prompt-only with it, or drop it and pass --on-error skip to set "
            "those rows aside",
        )


def _plan(req: Request, det, from_type, tools, template_kwargs, importer=None):
    """The conversion plan (route, template, tokenizer) for detected data."""
    from trlprep.conversion.convert import make_plan, make_render
    from trlprep.converters import UNPAIR_WARNING
    from trlprep.registry import Format

    render = make_render(
        chat_template=req.chat_template, tokenizer=req.tokenizer, tools=tools,
        template_kwargs=template_kwargs, num_proc=req.num_proc, tokenize=req.tokenize,
        max_length=req.max_length, truncation=req.truncation,
        conversational=det.format is Format.CONVERSATIONAL,
    )  # fmt: skip
    try:
        plan = make_plan(
            det, to=req.to, from_=from_type, options=req.convert_options, render=render,
            guide_only=req.guide_only,
        )  # fmt: skip
    except UsageError as e:
        raise _sibling_hint(e, importer, req) from None
    if any(e.dst == "unpaired-preference" and e.rows == "doubles" for e in plan.route.steps):
        err.print(f"warning: {UNPAIR_WARNING}", markup=False)
    return plan


def _sibling_hint(error: UsageError, importer, req: Request) -> UsageError:
    """A route the layout's landing cannot take, with the layout for the same data that
    lands where the route starts (OASST trees: `oasst` for chats, `oasst-ranked` for pairs)."""
    import pyarrow as pa

    from trlprep.conversion.graph import route
    from trlprep.importers import ImportOptions, get_importer
    from trlprep.registry import get_type

    if importer is None or importer.sibling is None or req.to is None:
        return error
    other = get_importer(importer.sibling)
    lands, _ = other.landing(pa.schema([]), req.import_options or ImportOptions())
    try:
        route(lands, get_type(req.to))
    except UsageError:
        return error
    target = get_type(req.to)
    hint = f"--from {other.name} imports the same data as {lands.name}"
    if target is not lands:
        hint += f", from which {target.name} is reachable"
    return UsageError(error.message, hint=f"{error.hint}; {hint}" if error.hint else hint)


def _explain(req: Request, first, batches, importer, stats, from_type, tools, kwargs) -> None:
    """`--explain`: what the import and the route would do (nothing is written)."""
    from trlprep.cli.explain import print_import, print_import_counts, print_plan
    from trlprep.detection.detect import detect_batches

    stream: Iterator[Batch] = _chain(first, batches)
    if importer is not None:
        from trlprep.importers import import_batches

        stream = import_batches(
            stream, importer, req.import_options, on_error="skip", stats=stats, path=req.path
        )
        print_import(importer, first, req.import_options)
    det = detect_batches(stream)
    plan = _plan(req, det, from_type, tools, kwargs, importer)
    if stats is not None:
        from trlprep.importers import ImportOptions

        how = importer.expansion(req.import_options or ImportOptions())
        print_import_counts(stats, out, dry_run=True, how=how)
    print_plan(plan, det.num_rows)


def _import_units(
    raw: Iterator[Batch], importer, opts, stats, ledger: Ledger, coerce: bool = False
) -> Iterator[Unit]:
    """Import each input batch; rows the importer refuses go to the ledger (stage import),
    as do rows holding a value of another kind than their column's (stage read)."""
    import dataclasses

    import numpy as np
    import pyarrow as pa

    from trlprep.conversion.stream import Unit, read_stage
    from trlprep.importers import ImportOptions
    from trlprep.importers.base import mapped_labels
    from trlprep.importers.run import whole_if_needed

    opts = opts or ImportOptions()
    if coerce and not opts.coerce:  # the importer reads the landing labels as booleans
        opts = dataclasses.replace(opts, coerce=True)
    how = importer.expansion(opts)
    if how:
        ledger.expansions["import"] = how  # said with the counts when rows multiply
    for b in whole_if_needed(raw, importer, opts):  # OASST messages: the file at once
        ledger.settle(before=b.offset)  # the rows of earlier batches went through every stage
        data = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
        ledger.rows_in += data.num_rows
        carry = importer.carried(data.column_names, opts)  # the extras the layout leaves
        labels = mapped_labels(opts)  # --map label=COLUMN: read as booleans with --coerce
        settled, keep = read_stage(data, b.offset, b.lines, ledger, coerce, carry, labels)
        if keep is not None and not len(keep):  # every row of another kind than most rows'
            stats.rows_in += data.num_rows  # (its columns hold no type the import could read)
            continue
        if keep is None:
            result = importer.apply(settled, opts, b.offset, b.lines)
            rows = b.offset + np.asarray(result.rows, np.int64)
        else:  # the importer sees the kept rows: its row numbers map back through `keep`
            lines = None if b.lines is None else np.asarray(b.lines)[keep]
            result = importer.apply(settled, opts, 0, lines)
            rows = b.offset + keep[np.asarray(result.rows, np.int64)]
            if result.num_rejected:
                local = keep[result.rejects.column("row").to_numpy()]
                at = result.rejects.schema.get_field_index("row")
                result.rejects = result.rejects.set_column(
                    at, "row", pa.array(b.offset + local, pa.int64())
                ).select(result.rejects.column_names)
        stats.add(data.num_rows, result)
        ledger.reject(result.rejects)
        ledger.count_step("import", settled.num_rows - result.num_rejected, result.table.num_rows)
        if result.table.num_rows:
            table = result.table.append_column(ROW_ID, pa.array(rows))
            yield Unit(data, b.offset, b.lines, table, result.lines, b.path)


def _sniff_layout(first: Batch, *, required: bool) -> str | None:
    """A public layout recognised from the columns, when the data is no TRL type (or is
    a layout whose columns only look like one: OASST trees, LLaMA-Factory v1 parts)."""
    from trlprep.importers import detect_layout, layout_names, layout_read_as

    name = detect_layout(first.data.schema, first.data.slice(0, 1000))
    if name is None and not required:
        from trlprep.detection.besidehints import prompt_beside_answers

        advice = prompt_beside_answers(first.data.slice(0, 1000))
        if advice is not None:
            err.print(f"note: {advice}", markup=False)
    if not required and layout_read_as(first.data) is None:
        return None
    if name is None and required:
        from trlprep.detection.layouthint import map_suggestion
        from trlprep.registry import TYPES

        cols = set(first.data.column_names)
        mapped = map_suggestion(first.data.column_names)
        typed = max(  # the TRL type whose columns these are (the one reading most of them)
            (t for t in TYPES.values() for f in t.all_formats if set(t.column_names(f)) <= cols),
            key=lambda t: len(t.columns),
            default=None,
        )
        raise UsageError(
            "cannot tell the layout from the columns ("
            + ", ".join(first.data.column_names)
            + ")"
            + (f": {typed.name} data, a TRL type already" if typed else ""),
            hint=(
                "nothing to import: `trlprep convert` converts it (--to TYPE), `trlprep "
                "validate` checks it; for a public layout pass --from "
                if typed
                else (f"pass --map {mapped}, or --from " if mapped else "pass --from ")
            )
            + " | ".join(layout_names()),
        )
    if name is not None:
        err.print(f"note: read as the {name} layout (pass --from to choose)", markup=False)
    return name


def _conversational_layout(first) -> str | None:
    """`--conversational` without a layout (`importers.conversational_layout`; the layout
    was sniffed already); a note when the data is messages already."""
    import pyarrow as pa

    from trlprep.cli.options import conversational_note
    from trlprep.importers import conversational_layout
    from trlprep.io.kinds import as_majority_text

    data = first.data if isinstance(first.data, pa.Table) else pa.Table.from_batches([first.data])
    return conversational_layout(as_majority_text(data), read_as=False) or conversational_note()


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest
