"""`trlprep.report(data, ...)`: detect, validate and measure a dataset as the trainer sees it."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from trlprep.datareport.imports import (
    all_refused_error,
    as_input_rows,
    import_examples,
    import_options_of,
    import_rows,
)
from trlprep.datareport.result import DataReport, summary
from trlprep.datareport.sources import (
    import_in_memory,
    kept_stream,
    read_layout,
    read_once,
    source,
    stream,
)
from trlprep.datareport.validating import (
    IMPORT_RULES,
    imported_validation,
    read_validation,
    validated_as_read,
    validation,
)
from trlprep.errors import NOT_PAIRED, DataError, UsageError
from trlprep.registry import Format

DEFAULT_EXAMPLES = 3
TRUNCATION = ("keep_start", "keep_end")


def report(
    data: Any,
    *,
    chat_template: Any = None,
    tokenizer: Any = None,
    max_length: int | None = None,
    truncation: str = "keep_start",
    type: str | None = None,
    split: str | None = None,
    input_format: str | None = None,
    examples: int = DEFAULT_EXAMPLES,
    validate: bool = True,
    from_: str | None = None,
    split_mode: str | None = None,
    num_proc: int | None = None,
    **import_options: Any,
) -> DataReport:
    """Measure a dataset before training: rows, columns, turns, media, duplicates,
    validation, and (with a tokenizer) token lengths after the chat template.

    `data`: a path (a file, a folder of files, a glob; a list of paths is one dataset of
    those files), a `datasets.Dataset`, `DatasetDict` or `IterableDataset`, a
    `pyarrow.Table` or `RecordBatchReader`, a polars `DataFrame` or `LazyFrame`, a pandas
    `DataFrame`, a list of row dicts or a dict of columns. Files are streamed in record
    batches (memory grows by a few numbers per row); an IterableDataset or
    RecordBatchReader is read whole.

    Keywords:
    - `chat_template`, `tokenizer`: token lengths are measured after the template, with
      `tokenizer` (or the tokenizer of `chat_template` when that is a tokenizer folder or
      Hub id), exactly as the trainer tokenises; without a tokenizer there are no length
      figures. `max_length` counts the rows it would cut (`truncation`: `"keep_start"` or
      `"keep_end"`).
    - `type`: the type the data is read as (detected when not given).
    - `from_`: a public layout (`"sharegpt"`, `"hh"`, `"alpaca"` ...) imported first; rows
      it refuses are counted, and validation checks the imported rows. The importer's
      options go as keywords (`import_options`), as `convert` and `validate` take them
      (`map=`, `role_map=`,
      `conversational=`, `pairing=` ...); `map` without `from_` imports the `map` layout.
    - `split_mode`: how implicit preference pairs are cut into prompt and completions
      before they are measured (`"word"`, the default, or `"char"`, TRL's cut).
    - `examples`: example rows kept per finding; `validate=False` skips validation.
    - `num_proc`: processes that read, render and tokenise (None: every core for data of
      100,000 rows or more; 1: this process only). The figures do not depend on it.
    - `split`, `input_format` as in `detect`. Data of several splits given without `split`
      is reported per split under `splits`, with the totals at the top.

    An option given that nothing reads (`split_mode` of data that is no implicit pairs)
    is said to change nothing, in a warning. Returns a `DataReport` (`.data`: the figures
    as a dict; `.to_text()`, `.to_json()`, `.to_html()`).
    """
    from trlprep.io.adapters import as_given
    from trlprep.keywords import take_renamed, take_renamed_options

    data = as_given(data)
    layout = take_renamed("trlprep.report", import_options, "from_", from_)
    take_renamed_options("trlprep.report", import_options)  # map_role= -> role_map=
    layout, opts = import_options_of(layout, import_options)
    if layout is not None and import_options:
        from trlprep.conversion.callkeywords import say_unread_layout

        given = {"layout": layout, "import_options": opts}
        say_unread_layout(import_options, given, "report", data)
    options = dict(
        chat_template=chat_template, tokenizer=tokenizer, max_length=max_length,
        truncation=truncation, type=type, input_format=input_format, examples=examples,
        validate=validate, layout=layout, split_mode=split_mode, num_proc=num_proc,
        import_options=opts,
    )  # fmt: skip
    if split is None:
        from trlprep.datareport.splits import report_splits, split_names

        names = split_names(data, input_format)
        if names:
            return report_splits(data, names, options)
    return measure(data, split=split, **options)[0]


def _one_split(data: Any, split: str | None) -> Any:
    """The split `split` of an in-memory DatasetDict (every reader below takes one dataset);
    anything else as it is."""
    from trlprep.io.adapters import is_dataset_dict

    if split is None or isinstance(data, (str, os.PathLike)) or not is_dataset_dict(data):
        return data
    if split not in data:
        raise UsageError(
            f"the DatasetDict has no split {split!r}", hint="its splits: " + ", ".join(data)
        )
    return data[split]


def measure(data: Any, **options: Any) -> tuple[DataReport, Any, tuple[Any, Any]]:
    """The report of one split, the per-row numbers behind it (`Collected`), and the
    (template, tokenizer) it used; `options`: `report`'s keywords, and `loaded`: the
    (template, tokenizer) already loaded for another split. A path is read once where its
    format allows (`sources.read_once`), its batches kept until the report is made."""
    held: list[Any] = []  # the batches kept, dropped however the report ends
    try:
        return _measure(data, held, **options)
    finally:
        for once in held:
            once.close()


def _measure(
    data: Any,
    held: list[Any],
    *,
    chat_template: Any = None,
    tokenizer: Any = None,
    max_length: int | None = None,
    truncation: str = "keep_start",
    type: str | None = None,
    split: str | None = None,
    input_format: str | None = None,
    examples: int = DEFAULT_EXAMPLES,
    validate: bool = True,
    layout: str | None = None,
    split_mode: str | None = None,
    loaded: tuple[Any, Any] | None = None,
    num_proc: int | None = None,
    import_options: Any = None,
) -> tuple[DataReport, Any, tuple[Any, Any]]:
    from trlprep.conversion.convert import make_plan
    from trlprep.datareport.collect import Collector
    from trlprep.datareport.figures import build
    from trlprep.datareport.parallel import collect
    from trlprep.datareport.places import name_files

    if truncation not in TRUNCATION:
        from trlprep.errors import unknown_choice

        raise unknown_choice("--truncation", truncation, TRUNCATION)
    if max_length is not None and max_length < 1:
        raise UsageError("--max-length must be at least 1")
    data = _one_split(data, split)
    named = layout is not None  # else a layout is read as `convert` reads it, unnamed
    once = None  # a path's batches, read once: detected, validated and measured
    read = None  # a path's batches being read, to import
    if layout is None and isinstance(data, (str, os.PathLike)):
        # a public layout is read as `trlprep convert` reads it, off the first batch
        layout, read = read_once(os.fspath(data), split, input_format, layouts=type is None)
        held += [read] if read is not None else []
        once, read = (read, None) if layout is None else (None, read)
        imported = None
    elif layout is None and type is None:
        data, layout, imported = read_layout(data, split, input_format)
    elif layout is not None and not isinstance(data, (str, os.PathLike)):
        data, imported = import_in_memory(data, layout, import_options)  # rows held in memory
    else:
        imported = None
    stats = None
    if layout is not None:
        from trlprep.importers import ImportStats

        # an in-memory table is imported already: its import's counts
        stats = imported if imported is not None else ImportStats()
    from trlprep.datareport import loading

    if loaded:
        pending = None
    else:  # a big input: loaded by a helper while detecting; small data: loaded here
        helper = None if loading.pays(data) else False
        pending = loading.start(chat_template, tokenizer, helper=helper)
    streamed = layout if imported is None else None  # a table is imported already
    seen: list[np.ndarray] | None = [] if streamed else None  # imported row -> input row
    if streamed and isinstance(data, (str, os.PathLike)):  # imported once, then kept
        once = kept_stream(stream(os.fspath(data), split, input_format, streamed, stats, seen,
                                  import_options, read))  # fmt: skip
        held.append(once)
    path, batches, det = source(
        data, split, input_format, streamed, stats, seen, import_options, once
    )
    if layout is None and type is None and path is not None and det.layout_landing is not None:
        # the file's first chunk showed no layout, its whole columns do (ms-swift's `history`
        # first met in a later chunk): read as `trlprep convert` reads it
        from trlprep.importers import ImportStats

        if once is not None:
            once.close()
        layout, stats, seen = det.layout, ImportStats(), []
        once = kept_stream(stream(path, split, input_format, layout, stats, seen, import_options))
        held.append(once)
        path, batches, det = source(
            data, split, input_format, layout, stats, seen, import_options, once
        )
    if not det.num_rows and streamed and stats is not None and not stats.rejected:
        for _ in batches():  # detection counted no refused rows: count them
            pass
    if not det.num_rows and stats is not None and stats.rejected:
        raise all_refused_error(path, layout, stats)
    if not det.num_rows:  # (an import that refused every row: said above)
        raise DataError(  # as convert and validate say it
            f"{path or 'data'}: the dataset has no rows", hint="check the file (and --split)"
        )
    if det.format is Format.TOKENIZED:
        raise UsageError(
            "the data is already tokenized: the report reads text or messages",
            hint="report the data before tokenizing it",
        )
    template, tok = loaded or _template(chat_template, tokenizer, det.format, pending)
    if loaded and template is None and tok is not None:
        template = _template(None, tok, det.format)[0]
    plan = make_plan(det, from_=type, per_row=False)  # no conversion refuses rows here
    read_as = plan.dst.name
    given_mode, split_mode = split_mode, split_mode or "word"
    if plan.dst.name == "preference-implicit":  # trainers extract the shared prompt first
        from trlprep.converters.base import ConvertOptions

        if split_mode not in ("word", "char"):
            from trlprep.errors import unknown_choice

            raise unknown_choice("--split-mode", split_mode, ("word", "char"))
        opts = ConvertOptions(split_mode=split_mode)
        plan = make_plan(det, from_=type, to="preference", options=opts, per_row=False)
    if given_mode is not None:
        _say_unread_split_mode(plan, given_mode)
    val, flagged = None, set()
    how = validated_as_read(path, split, input_format) if once is not None and not layout else None
    refused = (stats, layout, import_options)  # said as `validate --from LAYOUT` says them
    if validate and layout is not None and imported is not None:
        val = validation(data, None, type, None, None, refused)
    elif validate and layout is not None:  # the imported rows, as the conversion checks them
        origin = np.concatenate(seen) if seen else np.zeros(0, np.int64)  # their input rows
        rows = once.again(keep=True)
        val, flagged = imported_validation(path, split, input_format, type, rows, origin, refused)
    elif validate and how is not None:  # the batches read, as `validate` reads them
        val = read_validation(path, once.again(keep=True), det, type, split, input_format, how)
    elif validate:
        val = validation(data, path, type, split, input_format)
    if val is not None and layout is not None and not named:
        from trlprep.validation.imported import import_flags

        val["checked_as"] = import_flags(layout, import_options)  # validate's flags that agree
    if val is not None and not flagged:  # (refused rows are no reported row to show)
        flagged = {
            i["rows"][0] for i in val["issues"] if i["rows"] and i["rule"] not in IMPORT_RULES
        }
    collector = Collector(plan.dst, det.format, plan, template, tok, examples, flagged)
    if truncation == "keep_end":
        collector.cut_from = None
    elif max_length:
        collector.cut_from = min(512, max_length)
    if seen is None and path is not None:  # input rows: of several files, named by their file
        from trlprep.io.shards import describe

        collector.shards = describe(path, split, input_format)  # (rows counted as detected)
    collect(collector, batches(), num_proc)
    origin = np.concatenate(seen) if seen else None
    if origin is not None:  # name the input's rows, not the imported rows' positions
        as_input_rows(collector.data, origin)
    if stats is not None and stats.rejected:
        failed = stats.rejected - stats.not_paired
        for stage, n in (("import", failed), (NOT_PAIRED, stats.not_paired)):
            if n:
                collector.data.rejected[stage] = n
        collector.data.rows_in += stats.rejected
        import_examples(collector.data, stats)
    name_files(collector.data, path, split, input_format)  # several files: `a.jsonl:4`
    where = where_of(collector.data)
    figures = build(collector.data, max_length, truncation, where)
    notes = []
    if isinstance(data, (str, os.PathLike)):
        from trlprep.io.plaintext import note_for

        said = note_for(data, split, input_format)  # plain text: blank lines are no rows
        notes = [said] if said else []
    header = {
        "path": path,
        "split": split,
        "type": read_as,
        "measured_as": plan.dst.name,
        "split_mode": split_mode if read_as == "preference-implicit" else None,
        "format": det.format.value if det.format else None,
        "columns": det.columns,
        "extra_columns": det.extra_columns,
        "chat_template": getattr(template, "name", None),
        "tokenizer": _tok_name(tok),
        "max_length": max_length,
        "truncation": truncation,
        "layout": layout,
        **import_rows(stats, layout, import_options),
        "notes": notes,  # how the input was read (a text file's lines), as convert says it
    }
    out = {"report": header, **figures, "validation": val}
    out["summary"] = summary(out, max_length)
    rep = DataReport({"summary": out.pop("summary"), **out})
    return rep, collector.data, (template, tok)


def _say_unread_split_mode(plan: Any, split_mode: str) -> None:
    """`split_mode` given where no step of `plan` reads it (no implicit pairs of standard
    text, whose shared prompt is extracted): said to change nothing."""
    from trlprep.conversion.unread import UnreadOptionWarning, options_read, said_unread
    from trlprep.errors import warn_user

    if "split_mode" in options_read(plan):
        return
    for message in said_unread({"split_mode": split_mode}, f"{plan.route} ({plan.fmt})", "report"):
        warn_user(message, UnreadOptionWarning)


def _template(
    chat_template: Any, tokenizer: Any, fmt: Format | None, pending: Any = None
) -> tuple[Any, Any]:
    from trlprep.datareport.loading import finish

    template, tok = finish(pending, chat_template, tokenizer)
    if template is None and tok is not None and fmt is Format.CONVERSATIONAL:
        from trlprep.templates import load_template

        template = load_template(tok)
    return template, tok


def _tok_name(tok: Any) -> str | None:
    if tok is None:
        return None
    return getattr(tok, "name_or_path", None) or type(tok).__name__


def where_of(data: Any):
    """Position among the reported rows -> {"row": input row, "line": file line}."""
    rows = np.concatenate(data.row_ids) if data.row_ids else np.zeros(0, np.int64)
    lines = np.concatenate(data.lines) if data.lines else None

    def where(pos: int) -> dict[str, int]:
        out = {"row": int(rows[pos])}
        if lines is not None:
            out["line"] = int(lines[pos])
        return out

    return where


__all__ = ["measure", "report"]
