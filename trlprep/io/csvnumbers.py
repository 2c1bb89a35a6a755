"""CSV integers written with leading zeros (`00000`, `007`) kept as text.

CSV holds no types: Arrow infers a column of digits as integers, which turns `00000` into
`0` (a system prompt, an id, a zip code read so loses its text; `--coerce` cannot give it
back). A column is kept as the text it was written as when one of its integers would not be
written back the same; other integer columns, and every float column, stay numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc


def integers_written_as_text(
    table: pa.Table, read_as_text: Callable[[list[str]], pa.Table]
) -> pa.Table:
    """`table` with each integer column whose written text its numbers do not give back
    replaced by that text (`read_as_text(names)`: those columns read again as strings)."""
    ints = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    if not ints:
        return table
    texts = read_as_text(ints)
    for name in ints:
        numbers = table.column(name)
        written = texts.column(name)
        same = pc.equal(pc.cast(numbers, pa.string()), written)
        if pc.all(pc.fill_null(same, True)).as_py():
            continue
        # as text, an empty field is null where it was null as a number
        text = pc.if_else(numbers.is_null(), pa.scalar(None, pa.string()), written)
        table = table.set_column(table.schema.get_field_index(name), name, text)
    return table
