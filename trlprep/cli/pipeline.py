"""The streamed path shared by `trlprep convert` and `trlprep import`.

read (batches) -> import a layout (optional; which one and how: `importing`) -> detect ->
plan -> convert -> template -> validate -> write, with rejected rows going to a side file
when asked.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trlprep.conversion.stream import Unit
    from trlprep.io.readers import Batch

from trlprep.cli.app import err, out
from trlprep.cli.finished import say_done
from trlprep.cli.importing import import_units, layout_of
from trlprep.conversion.rowsleft import NoRowsLeft
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
    assistant_masks: bool = False  # TRL's assistant_masks beside conversations' ids
    # the options written on the command line that only some steps read (option -> value)
    given: dict[str, Any] = field(default_factory=dict)


def choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        from trlprep.errors import unknown_choice

        raise unknown_choice(flag, value, choices)


def run(req: Request) -> None:
    """Run a streamed `convert`/`import`: read, import or detect, convert, write."""
    from trlprep.io.jsontext import tools_from

    # `--map tools=NAME`: that column read as each row's own schemas, as `tools` is read
    with tools_from(req.import_options.map if req.import_options is not None else None):
        _run(req)


def _run(req: Request) -> None:
    from trlprep.conversion.stream import plain_units, scratch_folder, stream_to_file
    from trlprep.converters.base import ConversionWarning
    from trlprep.converters.common import merge_row_warnings
    from trlprep.detection.detect import detect_table
    from trlprep.io.agreeing import agreeing_batches
    from trlprep.io.progress import showing
    from trlprep.io.readers import BadLines

    layout, from_type, tools, template_kwargs = _checked(req)
    choice("--on-bad-lines", req.on_bad_lines, ("error", "skip"))
    bad = BadLines() if req.on_bad_lines == "skip" else None
    # a column's kind decided over the whole input, all its files and chunks
    batches = agreeing_batches(
        req.path, split=req.split, input_format=req.input_format, bad_lines=bad,
        folder=None if req.output is None else scratch_folder(req.output),
        media=getattr(req.convert_options, "inline_media", None) == "move",
    )  # fmt: skip
    show = sys.stderr.isatty() if req.progress is None else req.progress
    with showing(err.console, "reading", show and not req.explain):  # (the whole input)
        first = _first_batch(req, batches, bad)
    if first is None:  # no rows
        from trlprep.cli.empty import empty_input

        empty_input(req, from_type, bad)
        return
    layout = layout_of(req, first, layout, from_type)
    importer = stats = media = None
    ledger = _ledger(req, bad, getattr(batches, "shards", None))
    if layout is not None:
        from trlprep.importers import ImportStats, get_importer

        importer = get_importer(layout)
        stats = ImportStats()
    if req.explain:
        _explain(req, first, batches, importer, stats, from_type, tools, template_kwargs)
        return
    raw_schema = first.data.schema  # what an import refusing every row would have read
    raw = _chain(first, batches)
    del first  # (not held until the run ends)
    if importer is not None:
        from trlprep.importers.survey import InlineMedia

        moves = getattr(req.convert_options, "inline_media", None) == "move"
        media = InlineMedia() if moves else None  # the whole imported input's, for chunks
        units = import_units(raw, importer, req.import_options, stats, ledger, req.coerce, media)
    else:
        units = plain_units(raw, ledger, req.coerce)

    said_as = steps = None  # the route, said with the counts
    try:
        empty: list[Unit] = []  # units whose every row was refused (read, import)
        head = next(units, None)
        while head is not None and not head.table.num_rows:
            empty.append(head)
            head = next(units, None)
        if head is None:
            if importer is not None:
                from trlprep.cli.refused import landing_words

                said_as = landing_words(importer, raw_schema, req.import_options)
            if ledger.rejected:
                raise ledger.error()
            raise DataError(f"{req.path}: no rows could be imported", hint="see the reasons")
        det = detect_table(head.table.drop_columns([ROW_ID]), head.lines)
        _name_file(det, head.path)
        first_schema = head.table.schema
        units = itertools.chain(empty, [head], units)
        plan = _plan(req, det, from_type, tools, template_kwargs, importer, head.table)
        said_as, steps = plan.said_as(importer and importer.name), plan.row_kinds
        del empty, head  # each unit held only while it is converted
        if plan.options.inline_media == "move":
            _move_whole(plan, batches, first_schema, importer, media)
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
                raise
    except BaseException as e:
        if ledger.rejects is not None and ledger.all_rejected:
            ledger.finish()
            ledger.rejects.commit()  # the one thing left to show: why each row went
        elif ledger.rejects is not None:
            ledger.rejects.abort()
        if isinstance(e, DataError) and (ledger.stopping or ledger.none_left):
            from trlprep.cli.refused import print_refused

            print_refused(ledger, said_as, steps, bad, e)  # before the error, which ends the run
        elif isinstance(e, NoRowsLeft) and said_as:  # the route dropped every row: counted
            err.print(f"{said_as}: {ledger.summary(steps)}; nothing written", markup=False)
        raise
    if ledger.rejects is not None:
        ledger.finish()
        ledger.rejects.commit()
    said = (str(w.message) for w in caught if w.category is ConversionWarning)
    say_done(req, plan, ledger, list(said), stats, said_as, steps, bad)


def _checked(req: Request) -> tuple[str | None, str | None, Any, Any]:
    """(layout, type read as, tools, template kwargs) of `req`, every option checked before
    anything is read (and the output's place, unless only explaining)."""
    from trlprep.importers.options import check_on_error
    from trlprep.io.outputcheck import check_output
    from trlprep.registry import get_type
    from trlprep.templates.options import load_tools, parse_template_kwargs

    check_on_error(req.on_error)
    layout = None
    if req.from_ is not None:  # (the importers load only for a layout or a type named)
        from trlprep.importers import is_layout

        layout = req.from_ if is_layout(req.from_) else None
    from_type = None if layout else req.from_
    if layout is None and req.import_options is not None and req.import_options.map:
        layout = "map"
    if req.to is not None:
        get_type(req.to)
    if from_type is not None:
        from trlprep.importers.registry import check_type_or_layout

        check_type_or_layout(from_type)
    tools = load_tools(req.tools)
    template_kwargs = parse_template_kwargs(req.template_kwargs)
    choice("--truncation", req.truncation, ("keep_start", "keep_end"))
    if req.rejects is not None and req.on_error != "skip":
        raise UsageError("--rejects needs --on-error skip", hint="add --on-error skip")
    if not req.explain:
        if req.output is None:
            from trlprep.cli.options import missing_output

            raise missing_output(req.path, "pass -o OUT (or --explain to only plan)")
        check_output(
            req.output,
            overwrite=req.overwrite,
            inputs=(req.path,),
            output_format=req.output_format,
        )
    return layout, from_type, tools, template_kwargs


def _first_batch(req: Request, batches: Iterator[Batch], bad: Any) -> Batch | None:
    """The input's first batch; an input without rows read whole for its schema (None when
    it has none: an empty input)."""
    first = next(batches, None)
    if first is not None:
        return first
    from trlprep.io.readers import Batch, read

    src = read(req.path, split=req.split, input_format=req.input_format, bad_lines=bad)
    return Batch(src.table, 0, src.lines) if src.table.num_rows else None


def _ledger(req: Request, bad: Any, shards: Any) -> Any:
    """The run's row counts, with its rejects file under `--on-error skip`."""
    from trlprep.conversion.ledger import Ledger

    ledger = Ledger(path=req.path, on_error=req.on_error, bad_lines=bad)
    ledger.shards = shards  # several files: name the file
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
    return ledger


def _move_whole(plan: Any, batches: Any, first_schema: Any, importer: Any, media: Any) -> None:
    """`--inline-media move` given what the whole input holds: the part keys of every
    schema read (imported or not) and the media columns the whole input holds media for."""
    from trlprep.conversion.mediastage import moving_whole, unmovable_keys

    schemas = [*getattr(batches, "schemas", []), first_schema]
    held = getattr(batches, "inline_media", None)
    if importer is not None:  # the media of the imported input, not of its layout
        held = media.held if media is not None else None
        schemas += media.schemas if media is not None else []
    columns = [f"{m}:{c}" for m, names in (held or {}).items() for c in names]
    plan.options = moving_whole(plan.options, unmovable_keys(schemas), columns)


def _name_file(det, path: str | None) -> None:
    """The lines of `det`'s problems named with their file `path` (one of several files)."""
    from trlprep.io.inputfiles import FileLine

    if path is not None:
        for p in det.problems:
            p.lines = [FileLine(line, path) for line in p.lines] if p.lines else p.lines


def _plan(req: Request, det, from_type, tools, template_kwargs, importer=None, head=None):
    """The conversion plan (route, template, tokenizer) for detected data (`head`: the rows
    it was detected on)."""
    from trlprep.conversion import masks
    from trlprep.conversion.convert import make_plan
    from trlprep.conversion.render import make_render
    from trlprep.conversion.unread import unread_warnings
    from trlprep.registry import Format

    render = make_render(
        chat_template=req.chat_template, tokenizer=req.tokenizer, tools=tools,
        template_kwargs=template_kwargs, num_proc=req.num_proc, tokenize=req.tokenize,
        max_length=req.max_length, truncation=req.truncation,
        conversational=det.format is Format.CONVERSATIONAL,
    )  # fmt: skip
    render = masks.asked(render, req.assistant_masks, req.tokenize)
    try:
        plan = make_plan(
            det, to=req.to, from_=from_type, options=req.convert_options, render=render,
            guide_only=req.guide_only, head=head,
        )  # fmt: skip
    except UsageError as e:
        from trlprep.importers import layout_in_hint

        sniffed = importer.name if importer is not None and req.from_ is None else None
        raise _sibling_hint(layout_in_hint(e, sniffed), importer, req) from None
    for message in plan.route_warnings():
        err.print(f"warning: {message}", markup=False)
    for message in unread_warnings(
        plan, req.given, importer=importer, import_options=req.import_options, name=str(req.path)
    ):
        (out if req.explain else err).print(f"warning: {message}", markup=False)
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
    heads: list = []  # the first rows, as a run plans on them (text already rendered)
    det = detect_batches(_keeping_first(stream, heads))
    plan = _plan(req, det, from_type, tools, kwargs, importer, heads[0] if heads else None)
    if stats is not None:
        from trlprep.importers import ImportOptions

        how = importer.expansion(req.import_options or ImportOptions())
        print_import_counts(stats, out, dry_run=True, how=how, on_error=req.on_error)
    print_plan(plan, det.num_rows)
    for note in plan.remarks:  # what planning says of the data, as a run's notes say it
        out.print(f"note: {note}", markup=False)


def _keeping_first(stream: Iterator[Batch], kept: list) -> Iterator[Batch]:
    """`stream`, the table of its first batch holding rows put in `kept`."""
    import pyarrow as pa

    for batch in stream:
        if not kept and batch.data.num_rows:
            data = batch.data
            kept.append(pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data)
        yield batch


def _chain(first, rest):
    head = [] if first is None else [first]
    del first  # given, then held by the caller only
    while head:
        yield head.pop()
    yield from rest
