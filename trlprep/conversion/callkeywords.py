"""The Python API's keywords checked and routed before anything is read: the render's
`tools` / `template_kwargs`, a public layout's importer options (`from_=`, `role_map=`,
`map=`), keywords no function takes (named with the closest one), options no step reads
(warned), and an empty input's result under `allow_empty=True`."""

from __future__ import annotations

import os
from typing import Any

from trlprep.errors import UsageError, warn_user


def empty_result(path: Any, bad: Any, opts: Any, to: str | None, from_: str | None) -> Any:
    """An input without rows or columns: refused (DataError) unless `allow_empty=True`, then
    an empty table with the columns of type `to` (or of `from_`, a type), as
    `trlprep convert --allow-empty` writes it."""
    import pyarrow as pa

    from trlprep.importers import is_layout
    from trlprep.io.skipped import empty_error
    from trlprep.registry import Format, get_type

    if not opts.allow_empty:
        raise empty_error(path, bad)
    name = to if to is not None else (None if from_ is None or is_layout(from_) else from_)
    if name is None:
        raise UsageError(
            f"{path or 'the data'}: the dataset has no rows, so its type cannot be detected",
            hint="with allow_empty=True, pass to=TYPE (the empty result's columns)",
        )
    kinds = {"label": pa.bool_(), "labels": pa.list_(pa.bool_()), "steps": pa.list_(pa.string())}
    columns = [c for c in get_type(name).columns_in(Format.STANDARD) if c.required]
    fields = [
        pa.field(c.name_in(Format.STANDARD), kinds.get(c.kind.value, pa.string())) for c in columns
    ]
    return pa.schema(fields).empty_table()


def render_keywords(
    tools: Any, template_kwargs: Any, truncation: str
) -> tuple[list | None, dict[str, Any] | None]:
    """`tools` and `template_kwargs` as the render takes them, checked before anything is
    read: tools as a list of schemas (one schema dict, or a JSON file of them as the CLI's
    `--tools` takes, is read as such), template kwargs a dict; `truncation` one of its words."""
    from collections.abc import Mapping

    from trlprep.errors import unknown_choice

    if truncation not in ("keep_start", "keep_end"):
        raise unknown_choice("--truncation", truncation, ("keep_start", "keep_end"))
    given = tools
    if isinstance(tools, (str, os.PathLike)):
        from trlprep.templates.options import load_tools

        tools = load_tools(os.fspath(tools))
    elif isinstance(tools, Mapping):
        tools = [dict(tools)]
    elif tools is not None and (
        not isinstance(tools, (list, tuple)) or not all(isinstance(t, Mapping) for t in tools)
    ):
        raise UsageError(
            f"tools must be a list of tool schemas (dicts), not {type(tools).__name__}",
            hint="pass tools=[{'type': 'function', 'function': {'name': ..., 'parameters': "
            "...}}], or the path of a JSON file holding that list",
        )
    if tools is not None and not isinstance(given, (str, os.PathLike)):  # (a file: said read)
        from trlprep.templates.options import warn_contradictions

        warn_contradictions([dict(t) for t in tools], "tools=")
    if template_kwargs is not None and not isinstance(template_kwargs, Mapping):
        raise UsageError(
            f"template_kwargs must be a dict, not {type(template_kwargs).__name__}",
            hint="e.g. template_kwargs={'enable_thinking': False}",
        )
    return (None if tools is None else list(tools)), template_kwargs


def given_options(options: dict[str, Any], **keywords: Any) -> dict[str, Any]:
    """The options only some steps read that the call gave: its `**options` as written,
    its keywords where they differ from their defaults."""
    from trlprep.conversion.unread import CHECKED

    defaults = {"truncation": "keep_start"}
    given = {k: v for k, v in keywords.items() if v is not None and v != defaults.get(k)}
    return {k: v for k, v in {**options, **given}.items() if k in CHECKED}


def say_unread(plan: Any, given: dict[str, Any], layout: str | None, import_opts: dict) -> None:
    """A warning per option given that no step of `plan` (nor the import of `layout`) reads."""
    from trlprep.conversion.unread import warn_unread
    from trlprep.importers import ImportOptions, get_importer

    if not given:
        return
    importer = get_importer(layout) if layout is not None else None
    opts = ImportOptions.make(**import_opts) if importer is not None else None
    warn_unread(plan, given, importer=importer, import_options=opts)


def say_unread_layout(given: dict[str, Any], opts: dict[str, Any], doing: str, data: Any) -> None:
    """A warning per layout option in `given` (as written) that the import of `opts`'
    layout does not read (`doing`: what the function does with the imported rows)."""
    from trlprep.conversion.unread import UnreadOptionWarning, layout_unread_warnings
    from trlprep.importers import get_importer

    name = str(data) if isinstance(data, (str, os.PathLike)) else None
    importer = get_importer(opts["layout"])
    for message in layout_unread_warnings(
        given, importer, opts["import_options"], doing=doing, name=name
    ):
        warn_user(message, UnreadOptionWarning)


def layout_options(from_: str | None, role_map: Any, options: dict[str, Any]) -> dict:
    """validate's `layout` and `import_options` for `from_` (a public layout)."""
    from trlprep.errors import UsageError
    from trlprep.importers import ImportOptions, is_layout, layout_names

    unknown = set(options) - IMPORT_OPTIONS
    if unknown:
        raise UsageError(
            f"validate got an unknown keyword {sorted(unknown)[0]!r}",
            hint="importer options: " + ", ".join(sorted(IMPORT_OPTIONS)),
        )
    if from_ is None and options.get("map"):
        from_ = "map"  # map= alone renames the columns, as convert(..., map=...) does
    if from_ is None or not is_layout(from_):
        raise UsageError(
            f"from_={from_!r} is no public layout" if from_ else "importer options need from_=",
            hint="layouts: " + ", ".join(layout_names()) + " (a TRL type goes in type=)",
        )
    return {
        "layout": from_,
        "import_options": ImportOptions.make(role_map=role_map, **options),
    }


def renames_roles(import_opts: dict[str, Any]) -> bool:
    """True when the importer options rename roles (`role_map=`, or its old name)."""
    return bool(import_opts.get("role_map") or import_opts.get("map_role"))


# `convert` keywords that go to the importer of a public layout (`from_="sharegpt"`)
def refuse_unknown(options: dict[str, Any], options_class: type) -> None:
    """A keyword `convert` does not take, named as such (not as a TypeError of an internal
    options class); `output=` gets how to write the result."""
    import dataclasses
    import difflib

    fields = {f.name for f in dataclasses.fields(options_class)} - INTERNAL_OPTIONS
    known = sorted(fields | IMPORT_OPTIONS)
    for name in options:
        if name in known:
            continue
        if name in ("output", "out", "o", "output_path", "path_out"):
            hint = "convert returns the converted data: write it with trlprep.write(result, PATH)"
        else:
            close = difflib.get_close_matches(name, known, n=1)
            hint = (f"did you mean {close[0]}=? " if close else "") + "options: " + ", ".join(known)
        raise UsageError(f"convert() got an unexpected keyword argument {name!r}", hint=hint)


# ConvertOptions fields the CLI and the pipeline set, never a caller
INTERNAL_OPTIONS = frozenset(("output_kind", "moved_by_default", "kept_media", "media_columns"))
IMPORT_OPTIONS = frozenset(
    ("map", "role_map", "map_role", "conversational", "prompt_style", "pairing", "threshold")
    + ("margin", "neutral", "keep_empty_turns")
)


def imported_rows(table, lines, layout, import_opts, coerce, on_error, inp):
    """`table` imported from the public `layout`: its rows and their file lines."""
    from trlprep.importers import ImportOptions, import_table
    from trlprep.importers.run import rejected_warning

    opts = ImportOptions.make(coerce=coerce, **import_opts)
    result = import_table(table, layout, opts, lines=lines, on_error=on_error, path=inp.source.path)
    if result.num_rejected:  # on_error="skip": said as import_dataset says it
        warn_user(rejected_warning(result, layout))
    if table.num_rows and not result.table.num_rows and result.failed.num_rows:
        raise _nothing_imported(result, layout, table.num_rows, inp.source.path)
    for note in result.notes:  # what the import did to some rows, as the CLI's notes say
        warn_user(note, UserWarning)
    return result.table, result.lines


def _nothing_imported(result: Any, layout: str, rows_in: int, path: Any) -> Exception:
    """The DataError of an import (on_error="skip") that refused every row: nothing to
    convert, the counts said as the CLI says them (not a type detected on no rows)."""
    from trlprep.conversion.ledger import Ledger

    ledger = Ledger(path=path, on_error="skip")
    ledger.rows_in = rows_in
    ledger.reject(result.rejects)
    e = ledger.error()
    counts = f"{layout} -> {result.dtype.name} ({result.fmt.value}): {ledger.summary()}"
    e.message = e.message.replace(f"rejected ({ledger.rejected:,})", f"rejected ({counts})", 1)
    e.hint = "nothing was converted; the RejectedRowsWarning's .rejects table lists every row"
    return e
