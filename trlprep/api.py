"""The Python API over files and in-memory datasets (each function takes any supported kind)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from trlprep.conversion.callkeywords import (
    IMPORT_OPTIONS,
    empty_result,
    given_options,
    imported_rows,
    layout_options,
    refuse_unknown,
    renames_roles,
    render_keywords,
    say_unread,
    say_unread_layout,
)
from trlprep.errors import TemplateNote, UsageError, warn_user

if TYPE_CHECKING:  # the data libraries load when a function runs, not on import
    from trlprep.detection.detect import Detection
    from trlprep.validation.report import Report


def detect(
    data: Any,
    *,
    split: str | None = None,
    input_format: str | None = None,
    on_bad_lines: str = "error",
    allow_empty: bool = False,
) -> Detection | dict[str, Detection]:
    """Detect the type, format and modality of a dataset, checking every row.

    `data`: a path (a file, a folder of files, a glob; a list of paths is one dataset of
    those files), a `datasets.Dataset`, `DatasetDict` or `IterableDataset`, a
    `pyarrow.Table` or `RecordBatchReader`, a polars `DataFrame` or `LazyFrame`, a pandas
    `DataFrame`, a list of row dicts or a dict of columns. Files are streamed in record
    batches; an IterableDataset or RecordBatchReader is read whole.

    Keywords:
    - `split`: the split of a `DatasetDict`, `save_to_disk` folder, Hub-style split files or
      Hub id (default: the only one, else `train`); a `DatasetDict` without it gives one
      result per split.
    - `input_format`: read a path as this format (`"jsonl"`, `"parquet"` ...) whatever its name.
    - `on_bad_lines`: `"error"` (a JSON Lines line holding no JSON object raises a
      DataError naming it) or `"skip"` (left out, listed as an `invalid-line` problem).
    - `allow_empty`: accept a dataset without rows (else a DataError).

    Returns a `Detection` (`.type`, `.format`, `.vision`, `.problems`, `.notes`,
    `.to_dict()`), or a dict of split name -> Detection for a `DatasetDict`.
    """
    from trlprep.detection.detect import detect_batches, detect_table
    from trlprep.io.adapters import as_given, as_input, map_splits
    from trlprep.io.agreeing import agreeing_batches
    from trlprep.io.skipped import bad_line_problems, bad_lines_for, empty_error

    bad = bad_lines_for(on_bad_lines)
    data = as_given(data)

    def checked(det: Detection, path: Any = None) -> Detection:
        if det.num_rows == 0 and not det.problems and not allow_empty:
            raise empty_error(path, bad)
        return det

    if isinstance(data, (str, os.PathLike)):
        batches = agreeing_batches(data, split=split, input_format=input_format, bad_lines=bad)
        det = detect_batches(batches)
        det.problems[:0] = bad_line_problems(bad) if bad else []
        det.notes[:0] = _split_notes(data, split, input_format)
        det.notes += _text_notes(data, split, input_format)
        return checked(det, data)
    return map_splits(data, lambda d: checked(detect_table(as_input(d).table)), split)


def _text_notes(path: Any, split: str | None, input_format: str | None) -> list[str]:
    """A plain text input's `N lines read: R rows, B blank lines skipped` (read already)."""
    from trlprep.io.plaintext import note_for

    said = note_for(path, split, input_format)
    return [said] if said else []


def _split_notes(path: Any, split: str | None, input_format: str | None) -> list[str]:
    """The notes that a folder input left files out, and that a local input of several
    splits is read as its default one."""
    from trlprep.io.splitfiles import default_split, left_out_note
    from trlprep.io.splitnames import split_note

    found = default_split(path, split, input_format)
    left = left_out_note(path, input_format, split)
    return ([] if left is None else [left]) + (
        [] if found is None else [split_note(path, *found, flag="split=")]
    )


def convert(
    data: Any,
    to: str | None = None,
    *,
    from_: str | None = None,
    chat_template: Any = None,
    tokenizer: Any = None,
    tools: list | str | os.PathLike | None = None,
    template_kwargs: dict[str, Any] | None = None,
    num_proc: int | None = None,
    tokenize: bool = False,
    max_length: int | None = None,
    truncation: str = "keep_start",
    split: str | None = None,
    input_format: str | None = None,
    guide_only: bool = False,
    on_error: str = "stop",
    on_bad_lines: str = "error",
    coerce: bool = False,
    assistant_masks: bool = False,
    allow_empty: bool = False,
    **options: Any,
) -> Any:
    """Convert a dataset to the TRL dataset type `to` through the conversion graph,
    optionally rendered with a chat template and tokenised; the same kind comes back.

    `data`: a path (a file, a folder of files, a glob; a list of paths is one dataset of
    those files), a `datasets.Dataset`, `DatasetDict` or `IterableDataset`, a
    `pyarrow.Table` or `RecordBatchReader`, a polars `DataFrame` or `LazyFrame`, a pandas
    `DataFrame`, a list of row dicts or a dict of columns. Files are streamed in record
    batches; an IterableDataset or RecordBatchReader is read whole.

    Keywords:
    - `to`: the type to convert to (`"unpaired"`, `"prompt-completion"` ...; None: keep it).
    - `from_`: a dataset type the data is read as, or a public layout to import it from
      (`"sharegpt"`, `"alpaca"`, `"hh"` ...: `trlprep.importers.layout_names()`); without
      it a layout is read as `trlprep convert` reads it (ShareGPT, Alpaca, OASST columns).
    - `chat_template`: a built-in name, .jinja file, tokenizer folder, Hub id or tokenizer
      object: the conversational result is rendered to standard text after the route,
      with `tools` (a list of schemas, or a JSON file of them) for rows without their own
      and `template_kwargs` (a dict: `{"enable_thinking": False}`).
    - `tokenize=True` adds token ids with `tokenizer` (its template when no
      `chat_template`); `max_length` cuts them (`truncation`: `"keep_start"` or
      `"keep_end"`); `assistant_masks=True` adds TRL's `assistant_masks` to
      conversational language modeling and prompt-completion (1 on the tokens of assistant
      messages whose `weight` is not 0). `num_proc`: processes that render (None: every
      core for big data).
    - `on_error`: `"stop"` (rows a stage refuses raise one DataError naming the first
      input row, its file line for a path, and how many more) or `"skip"` (left out, a
      `RejectedRowsWarning` with their `.rejects`). `coerce=True` reads numbers and
      0/1 labels among text and booleans as the column's kind (else such a row is refused).
    - `on_bad_lines`, `split`, `input_format`, `allow_empty` as in `detect`; an input
      without rows comes back empty with `to`'s columns when `allow_empty=True`.
    - `guide_only=True` keeps to the conversions TRL's guide describes.
    - `**options`: the conversions' options (`separator`, `step_separator`, `split_turns`,
      `label_merge`, `split_mode`, `order`, `no_prompt`, `inline_media`) and the
      importers' (`map`, `role_map`, `conversational`, `prompt_style`, `pairing`,
      `threshold`, `margin`, `neutral`, `keep_empty_turns`); `map` alone renames columns.

    Returns the converted rows as the input's kind (a `pyarrow.Table` for a path; a
    `DatasetDict` split by split, or the split `split` alone). Write it with
    `trlprep.write(result, PATH)`.
    """
    from trlprep.conversion import masks
    from trlprep.conversion.apply import convert_table, settle_table
    from trlprep.conversion.convert import make_plan
    from trlprep.conversion.render import make_render
    from trlprep.converters.base import ConversionWarning, ConvertOptions
    from trlprep.detection.columnroles import carried_columns
    from trlprep.detection.detect import detect_table
    from trlprep.detection.layouthint import hh_as_text
    from trlprep.importers import (
        conversational_layout,
        is_layout,
        layout_in_hint,
        layout_read_as,
    )
    from trlprep.io.adapters import as_given, as_input, map_splits
    from trlprep.io.kinds import CarriedColumnWarning, carried_kinds, carried_warning
    from trlprep.io.skipped import bad_lines_for, read_keeping, warn_bad_lines
    from trlprep.registry import Format

    bad_lines_for(on_bad_lines)  # a wrong value is refused before anything is read
    from trlprep.keywords import take_renamed_options

    data = as_given(data)
    take_renamed_options("trlprep.convert", options)  # map_role= -> role_map=
    tools, template_kwargs = render_keywords(tools, template_kwargs, truncation)
    if from_ is not None:
        from trlprep.importers.registry import check_type_or_layout, is_layout

        if not is_layout(from_):
            check_type_or_layout(from_)
    layout = from_ if from_ is not None and is_layout(from_) else None
    import_opts = {k: options.pop(k) for k in list(options) if k in IMPORT_OPTIONS}
    if layout is None and import_opts.get("map"):
        layout = "map"
    refuse_unknown(options, ConvertOptions)
    if "inline_media" not in options and (chat_template is not None or tokenize):
        # the render keeps no part: media held inline go to their columns first (said so)
        options.update(inline_media="move", moved_by_default=True)
    opts = ConvertOptions(**options, allow_empty=allow_empty)
    given = given_options(
        {**options, **import_opts}, tools=tools, template_kwargs=template_kwargs,
        max_length=max_length, truncation=truncation,
    )  # fmt: skip

    def one(d: Any) -> Any:
        from trlprep.errors import ROW_ID
        from trlprep.importers import parse_column_map
        from trlprep.io.jsontext import tools_from

        bad = bad_lines_for(on_bad_lines)
        with tools_from(parse_column_map(import_opts.get("map"))):  # `map={"tools": NAME}`
            inp = as_input(read_keeping(d, split, input_format, bad), split=split)
        if isinstance(d, (str, os.PathLike)):
            for note in _split_notes(d, split, input_format) + _text_notes(d, split, input_format):
                warn_user(note, UserWarning)
        table, lines = inp.table, inp.source.lines
        if table.num_rows == 0 and table.num_columns == 0:  # nothing read: no type to tell
            return inp.restore(empty_result(inp.source.path, bad, opts, to, from_))
        name = layout or (layout_read_as(table) if from_ is None else None)
        if name is None and from_ is None and import_opts.get("conversational"):
            name = conversational_layout(table, read_as=False)  # standard text: "map"
        if name is None and from_ is None and renames_roles(import_opts):
            name = "map"  # TRL messages whose roles role_map renames, as `--role-map` does
        if name is not None:
            table, lines = imported_rows(table, lines, name, import_opts, coerce, on_error, inp)
        work, work_lines, _, _ = settle_table(table, lines, coerce=coerce)
        det = detect_table(work.drop_columns([ROW_ID]), work_lines)
        render = make_render(
            chat_template=chat_template, tokenizer=tokenizer, tools=tools,
            template_kwargs=template_kwargs, num_proc=num_proc, tokenize=tokenize,
            max_length=max_length, truncation=truncation,
            conversational=det.format is Format.CONVERSATIONAL,
        )  # fmt: skip
        render = masks.asked(render, assistant_masks, tokenize)
        try:
            plan = make_plan(
                det, to=to, from_=None if name else from_, options=opts, render=render,
                guide_only=guide_only, head=work,
            )  # fmt: skip
        except UsageError as e:  # advice to map columns names the layout read unnamed
            raise layout_in_hint(e, name if layout is None and from_ is None else None) from None
        say_unread(plan, given, name, import_opts)
        for message in plan.route_warnings():  # as the CLI says it (an unpairing's assumption)
            warn_user(message, ConversionWarning)
        if hh_as_text(det) is not None:  # HH transcripts kept as text: said as the CLI says it
            warn_user(hh_as_text(det), UserWarning)
        shards = getattr(inp.source, "shards", None) if name is None else None  # as read
        out = convert_table(
            table, plan, lines, on_error=on_error, path=inp.source.path, coerce=coerce,
            shards=shards,
        )  # fmt: skip
        for message in plan.warnings():  # what the template left out (tool calls, tools)
            warn_user(message, UserWarning)
        if render is not None and render.report is not None:  # what it did to some rows
            for message in render.report.notes():
                warn_user(message, TemplateNote)
        result = inp.restore(out)
        if not inp.values_back:  # Python rows and `Json` features hold the values themselves
            for column, kinds in carried_kinds(out, carried_columns(out.column_names)).items():
                said = carried_warning(column, kinds, "returned")
                warn_user(said, CarriedColumnWarning)
        warn_bad_lines(bad)
        return result

    return map_splits(data, one, split)


def validate(
    data: Any,
    type: str | None = None,
    format: str | None = None,
    *,
    strict: bool = False,
    max_errors: int = 10,
    role_map: str | dict[str, str] | None = None,
    split: str | None = None,
    input_format: str | None = None,
    allow_empty: bool = False,
    on_bad_lines: str = "error",
    from_: str | None = None,
    coerce: bool = False,
    **import_options: Any,
) -> Report | dict[str, Report]:
    """Validate a dataset row by row against its type and format.

    `data`: a path (a file, a folder of files, a glob; a list of paths is one dataset of
    those files), a `datasets.Dataset`, `DatasetDict` or `IterableDataset`, a
    `pyarrow.Table` or `RecordBatchReader`, a polars `DataFrame` or `LazyFrame`, a pandas
    `DataFrame`, a list of row dicts or a dict of columns. Files are streamed in record
    batches; an IterableDataset or RecordBatchReader is read whole.

    Keywords:
    - `type`, `format`: what the data must be (`"preference"`, `"conversational"` ...);
      detected when not given (checking every row).
    - `strict=True` makes warnings fail too; `max_errors` caps the example rows kept per
      issue; `role_map` maps other role names first (`{"human": "user"}` or
      `"human=user,gpt=assistant"`).
    - `from_`: a public layout (`"sharegpt"` ...) the rows are imported from first, as
      `convert(..., from_=...)` and `train` import them, with the importer's options as
      keywords (`import_options`: `map=`, `neutral=`, ... as `convert` takes them); a row
      the import refuses is an `import-failed` error.
    - `coerce=True` checks the rows as `convert(..., coerce=True)` reads them (labels of
      0/1 and "true"/"false" as booleans, numbers among text as text).
    - `split`, `input_format`, `on_bad_lines` (a bad line is an `invalid-line` error:
      reading stops there, or goes on with `"skip"`) and `allow_empty` (a dataset without
      rows is an `empty-dataset` error unless given) as in `detect`.

    Returns a `Report` (`.valid`, `.issues`, `.notes`, `.to_json()`), or a dict of split
    name -> Report for a `DatasetDict`.
    """
    from trlprep.io.adapters import as_given, as_input, map_splits
    from trlprep.keywords import take_renamed
    from trlprep.validation.validate import validate_path, validate_table

    data = as_given(data)
    role_map = take_renamed("trlprep.validate", import_options, "role_map", role_map)
    opts: dict[str, Any] = dict(
        type=type, format=format, strict=strict, max_errors=max_errors, role_map=role_map,
        coerce=coerce,
    )  # fmt: skip
    if from_ is not None or import_options:
        opts.update(layout_options(from_, role_map, import_options))
        say_unread_layout(import_options, opts, "validation", data)

    def checked(report: Report) -> Report:
        if allow_empty:
            report.allow_empty()
        return report

    if isinstance(data, (str, os.PathLike)):
        report = validate_path(
            data, split=split, input_format=input_format, on_bad_lines=on_bad_lines, **opts
        )
        report.notes[:0] = _split_notes(data, split, input_format)
        report.notes += _text_notes(data, split, input_format)
        return checked(report)

    def one(d: Any) -> Report:
        inp = as_input(d, split=split)
        return checked(validate_table(inp.table, lines=inp.source.lines, **opts))

    return map_splits(data, one, split)
