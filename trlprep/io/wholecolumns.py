"""The columns, struct fields and types every streamed batch is given so that batches read
apart agree with the input read whole (`io.agreeing`): the widest type of a column whose
pieces' types differ and unify, and every column of the input in the order the batches first
hold it (null where a batch lacks it)."""

from __future__ import annotations

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field
from trlprep.io.jsontext import json_field


def widest_types(schemas: list[pa.Schema], skip: set[str]) -> dict[str, pa.DataType]:
    """Per column (but `skip`) whose pieces' types differ and unify (a struct field in some
    pieces only: a message's `name`, an image part's `image`): the type every piece is cast
    to, so that a writer typed by the first piece drops no field of a later one."""
    # in the order the batches hold them: fields first met later come later, as in the
    # input read whole (a set's order would vary from run to run)
    types: dict[str, dict[pa.DataType, None]] = {}
    for s in schemas:
        for f in s:
            if f.name not in skip and not is_json_field(f):
                types.setdefault(f.name, {}).setdefault(f.type, None)
    out = {}
    for name, ts in types.items():
        if len(ts) < 2:
            continue
        try:
            out[name] = (
                pa.unify_schemas([pa.schema([(name, t)]) for t in ts], promote_options="permissive")
                .field(name)
                .type
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            continue
    return out


def whole_columns(
    schemas: list[pa.Schema], tagged_names: set[str], wider: dict[str, pa.DataType]
) -> list[pa.Field]:
    """Every column of the input in the order the batches first hold them, as the input
    read whole has them: a column a batch lacks is one it is given (null)."""
    out: dict[str, pa.Field] = {}
    for s in schemas:
        for f in s:
            if f.name in out:
                continue
            if f.name in tagged_names:
                f = json_field(f.name)
            elif f.name in wider:
                f = f.with_type(wider[f.name])
            out[f.name] = f
    return list(out.values())


def with_columns(
    data: pa.Table | pa.RecordBatch, columns: list[pa.Field]
) -> pa.Table | pa.RecordBatch:
    """`data` with every column of `columns` (those it lacks null), in their order."""
    names = data.schema.names
    if names == [f.name for f in columns]:
        return data
    arrays, fields = [], []
    for f in columns:
        i = data.schema.get_field_index(f.name)
        if i >= 0:
            arrays.append(data.column(i))
            fields.append(data.schema.field(i))
        else:
            arrays.append(pa.nulls(data.num_rows, f.type))
            fields.append(f)
    extra = [n for n in names if n not in {f.name for f in columns}]
    for n in extra:  # (none: `columns` holds every batch's)
        arrays.append(data.column(n))
        fields.append(data.schema.field(n))
    schema = pa.schema(fields, data.schema.metadata)
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
    return pa.Table.from_arrays(arrays, schema=schema)


def widened(
    data: pa.Table | pa.RecordBatch, types: dict[str, pa.DataType]
) -> pa.Table | pa.RecordBatch:
    """`data` with the columns of `types` cast to them (`widest_types`)."""
    for name, t in types.items():
        i = data.schema.get_field_index(name)
        if i < 0 or data.schema.field(i).type == t:
            continue
        try:
            col = data.column(i).cast(t)
            col.validate()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            # Arrow's cast of deeply nested structs with null-typed fields can build an
            # invalid array (OASST message trees): the values converted through Python
            try:
                col = pa.array(data.column(i).to_pylist(), type=t)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                continue
        data = data.set_column(i, data.schema.field(i).with_type(t), col)
    return data


__all__ = ["whole_columns", "widened", "widest_types", "with_columns"]
