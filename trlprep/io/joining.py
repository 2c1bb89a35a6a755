"""Tables read in pieces (a file's chunks, several files, Ray blocks) joined as if read at
once: tool-call arguments that are JSON text in one piece made so in all, message content
held as parts in one piece made parts in all, and a column whose kinds disagree between
pieces (or that is JSON text in any piece) made tagged JSON text in every piece."""

from __future__ import annotations

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field
from trlprep.columns.textparts import parts_columns, same_content
from trlprep.io.jsonargs import has_tagged_arguments, retag, tagged
from trlprep.io.jsonencode import encode_json_texts
from trlprep.io.jsontext import json_field
from trlprep.io.sources import ARROW_ERRORS


def concat_tables(tables: list[pa.Table | pa.RecordBatch]) -> pa.Table:
    """Concatenate tables read in pieces, as if read at once.

    Null or absent columns and struct fields unify; a column whose kinds disagree between
    pieces (or that is JSON text in any piece) becomes tagged JSON text in all of them.
    """
    tables = [pa.Table.from_batches([t]) if isinstance(t, pa.RecordBatch) else t for t in tables]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    arguments = argument_columns([t.schema for t in tables])
    parts = parts_columns([t.schema for t in tables])
    tables = [same_arguments(same_content(t, parts), arguments) for t in tables]
    if not any(is_json_field(f) for t in tables for f in t.schema):
        try:
            return pa.concat_tables(tables, promote_options="permissive")
        except ARROW_ERRORS:
            pass
    names = conflicting_columns([t.schema for t in tables])
    return pa.concat_tables([tag_columns(t, names) for t in tables], promote_options="permissive")


def argument_columns(schemas: list[pa.Schema]) -> set[str]:
    """Columns whose tool-call arguments are JSON text in some piece (they were objects
    there): `same_arguments` makes their plain-string arguments JSON text in every piece."""
    return {f.name for s in schemas for f in s if has_tagged_arguments(f.type)}


def same_arguments(table: pa.Table, names: set[str]) -> pa.Table:
    """`table` with the plain-string tool-call arguments of the columns `names`
    (`argument_columns`) made JSON text, so it joins pieces whose arguments are."""
    for name in names:
        i = table.schema.get_field_index(name)
        if i < 0 or is_json_field(table.schema.field(i)):
            continue
        f = table.schema.field(i)
        if not has_tagged_arguments(f.type) and f.type != tagged(f.type):
            arr = retag(table.column(i))
            table = table.set_column(i, f.with_type(arr.type), arr)
    return table


def conflicting_columns(schemas: list[pa.Schema]) -> set[str]:
    """Columns that must be tagged JSON text in every piece for the pieces (of `schemas`,
    after `same_arguments`) to join: JSON text in any piece, or of kinds Arrow cannot
    unify (text in one piece, numbers in another)."""
    fields: dict[str, list[pa.Field]] = {}
    for s in schemas:
        for f in s:
            fields.setdefault(f.name, []).append(f)
    bad = set()
    for name, fs in fields.items():
        if any(is_json_field(f) for f in fs):
            bad.add(name)
            continue
        try:
            pa.unify_schemas([pa.schema([f]) for f in fs], promote_options="permissive")
        except ARROW_ERRORS:
            bad.add(name)
    return bad


def tag_columns(table: pa.Table, names: set[str]) -> pa.Table:
    """`table` with the columns `names` it holds made tagged JSON text (`jsontext`)."""
    for name in names:
        i = table.schema.get_field_index(name)
        if i >= 0 and not is_json_field(table.schema.field(i)):
            table = table.set_column(i, json_field(name), encode_json_texts(table.column(i)))
    return table
