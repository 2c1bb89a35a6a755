"""`--map`: the `NEW=OLD` pairs parsed, input columns renamed to the names a type reads,
and `NEW=COLUMN.FIELD` fields taken out of object columns (deeper paths and list items:
`importers.fieldpaths`)."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list
from trlprep.errors import UsageError


def parse_column_map(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """`prompt=question,chosen=good` (or a dict) -> {output column: input column}."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        pairs = [(str(k), str(v)) for k, v in spec.items()]
    else:
        pairs = []
        for item in spec.split(","):
            if not item.strip():
                continue
            dst, sep, src = item.partition("=")
            if not sep or not dst.strip() or not src.strip():
                raise UsageError(
                    f"bad --map entry {item!r}",
                    hint="write NEW=OLD pairs, comma-separated, e.g. prompt=question,chosen=good",
                )
            pairs.append((dst.strip(), src.strip()))
    out: dict[str, str] = {}
    for dst, src in pairs:
        if dst in out:
            raise UsageError(f"--map names the output column {dst!r} twice")
        _refuse_misspelt(dst, src)
        out[dst] = src
    if len(set(out.values())) != len(out):
        raise UsageError("--map uses one input column for two output columns")
    return out


def _read_names() -> set[str]:
    """Every column name a dataset type or a side column is read under."""
    from trlprep.registry import SIDE_COLUMNS, TYPES, Format

    names = set(SIDE_COLUMNS)
    for t in TYPES.values():
        for fmt in Format:
            names.update(c.name_in(fmt) for c in t.columns_in(fmt))
    return names


def _refuse_misspelt(dst: str, src: str) -> None:
    """A NEW name one slip away from a name trlprep reads (`promtp`, `complteion`) is
    refused: renamed so, the column would become an extra and the type change silently."""
    import difflib

    known = _read_names()
    if dst in known:
        return
    close = [
        k
        for k in difflib.get_close_matches(dst, sorted(known), n=3, cutoff=0.8)
        if abs(len(k) - len(dst)) <= 1
    ]
    if close:
        raise UsageError(
            f"--map {dst}={src}: {dst!r} is no column name trlprep reads"
            f" (did you mean {close[0]!r}?)",
            hint=f"{src!r} is read under its own name: leave it out of --map"
            if src == close[0]
            else f"NEW is the name trlprep reads, OLD your column: --map {close[0]}={src}",
        )


def rename(table: pa.Table, mapping: Mapping[str, str]) -> pa.Table:
    """`table` with input columns renamed to output names (`mapping`: output -> input); a
    column of one image or video per row mapped onto `images` / `videos` made lists of one.

    An input `a.b` names field `b` of the object column `a` (OpenAI Batch API requests:
    `--map prompt=body.messages`): the field becomes the output column and leaves `a`,
    which stays an extra column with its other fields (gone when it has none left)."""
    if not mapping:
        return table
    table, mapping = _take_fields(table, mapping)
    names = table.column_names
    missing = [src for src in mapping.values() if src not in names]
    if missing:
        from trlprep.errors import did_you_mean

        raise UsageError(
            f"--map: no column {missing[0]!r} in the data" + did_you_mean(missing[0], names),
            hint="columns: " + (", ".join(names) or "(none)"),
        )
    back = {src: dst for dst, src in mapping.items()}
    clash = [d for d in mapping if d in names and d not in back]
    if clash:
        raise UsageError(
            f"--map: the data already has a column {clash[0]!r}",
            hint=f"rename that one too (e.g. --map {clash[0]}_orig={clash[0]},...) or drop it",
        )
    return _media_as_lists(table.rename_columns([back.get(n, n) for n in names]), mapping)


def _media_as_lists(table: pa.Table, mapping: Mapping[str, str]) -> pa.Table:
    """`--map images=image` of one image per row (RLAIF-V's image objects, a path): each
    made a list of one, as TRL's scripts write `images` (null stays null)."""
    from trlprep.columns.mediacolumns import one_each
    from trlprep.registry import SINGLE_MEDIA_COLUMNS

    for name in SINGLE_MEDIA_COLUMNS.values():
        if name not in mapping or name not in table.column_names:
            continue
        field = table.schema.field(name)
        if is_list(field.type) or is_json_field(field) or pa.types.is_null(field.type):
            continue
        lists = one_each(table.column(name))
        table = table.set_column(table.column_names.index(name), pa.field(name, lists.type), lists)
    return table


def _take_fields(table: pa.Table, mapping: Mapping[str, str]) -> tuple[pa.Table, dict[str, str]]:
    """The `a.b` sources of `mapping` (no column of that name, `a` an object column) taken
    out of their objects as columns named as the output; the mapping left to rename."""
    from trlprep.importers.fieldpaths import parse_path, read_path  # JSON helpers: on use

    left = dict(mapping)
    for dst, src in mapping.items():
        path = parse_path(src)
        if src in table.column_names or path is None or path.head not in table.column_names:
            continue
        field = table.schema.field(path.head)
        probe = is_json_field(field) and table.num_rows == 0  # kinds settled once rows are read
        if not probe and (path.selects or len(path.fields) > 1 or is_list(field.type)):
            # a deeper path, or items of a list: the object column stays as it is
            taken = read_path(table.column(path.head), path, src)
            aside = [k for k, v in left.items() if v == dst and k != dst]  # --map KEPT=dst
            if dst in table.column_names and aside:  # the whole column kept under KEPT
                if aside[0] in table.column_names:
                    raise UsageError(f"--map: the data already has a column {aside[0]!r}")
                names = [aside[0] if n == dst else n for n in table.column_names]
                table = table.rename_columns(names).append_column(dst, taken)
                del left[aside[0]]
            elif dst in table.column_names and dst != path.head:
                raise UsageError(
                    f"--map: the data already has a column {dst!r}",
                    hint=f"rename that one too (e.g. --map {dst}_orig={dst},...) or drop it",
                )
            elif dst == path.head:
                table = table.set_column(table.column_names.index(dst), dst, taken)
            else:
                table = table.append_column(dst, taken)
            del left[dst]
            continue
        head, field_name = path.head, path.fields[0]
        aside = [k for k, v in left.items() if v == dst and k != dst]  # --map KEPT=dst
        if dst in table.column_names and aside:  # renamed first: the field takes its name
            if aside[0] in table.column_names:
                raise UsageError(f"--map: the data already has a column {aside[0]!r}")
            table = table.rename_columns([aside[0] if n == dst else n for n in table.column_names])
            head = aside[0] if head == dst else head
            del left[aside[0]]
        elif dst in table.column_names and dst != head:
            raise UsageError(
                f"--map: the data already has a column {dst!r}",
                hint=f"rename that one too (e.g. --map {dst}_orig={dst},...) or drop it",
            )
        col = table.column(head)
        if is_json_field(table.schema.field(head)) and table.num_rows == 0:
            # values of several kinds, settled once rows are read: a schema probe has none
            i = table.column_names.index(head)
            table = table.remove_column(i) if head == dst else table
            table = table.add_column(i, dst, pa.nulls(0))
            del left[dst]
            continue
        if not pa.types.is_struct(col.type) or col.type.get_field_index(field_name) < 0:
            fields = [f.name for f in col.type] if pa.types.is_struct(col.type) else []
            raise UsageError(
                f"--map: column {head!r} holds no field {field_name!r}",
                hint=f"its fields: {', '.join(fields)}"
                if fields
                else f"{head!r} holds {col.type}, not objects",
            )
        whole = table.column(head).combine_chunks()
        taken = pc.struct_field(whole, field_name)
        rest = [f for f in whole.type if f.name != field_name]
        i = table.column_names.index(head)
        if rest and head != dst:  # (--map X=X.field: the object gives way to its field)
            kept = pa.StructArray.from_arrays(
                [whole.field(f.name) for f in rest],
                fields=rest,
                mask=whole.is_null() if whole.null_count else None,
            )
            table = table.set_column(i, head, kept)
        else:
            table = table.remove_column(i)
        table = table.add_column(i, dst, taken)
        del left[dst]
    return table, left
