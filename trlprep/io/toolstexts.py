"""A JSON Lines `tools` column that Arrow's parse typed as one struct (the union of every
row's schemas), rebuilt as each line's own JSON text without parsing the chunk line by line
(`jsonl` falls back to that where the text may not be exact).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.io.jsontext import dumps

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_RISKY_NUMBER = re.compile(r"[0-9][eE]|[0-9][0-9.]{15,}|-0\.0(?![0-9])|0\.0000")
_LONG_NUMBER = r"[0-9][0-9.]{15,}"


def tools_texts(
    chunk: bytes, starts: np.ndarray, stops: np.ndarray, name: str, col: pa.ChunkedArray
) -> pa.Array | None:
    """The `tools` column Arrow typed as one struct, rebuilt as the line-by-line path builds
    it (`column_from_values`: each row's compact JSON text, tagged; null or absent is null),
    from each line's own value; None where that text may not be exact.

    Polars takes each line's value (key order kept, a repeated key's last value) and Python
    re-encodes each distinct one. Polars' numbers may differ from Python's where they are
    long, have an exponent, are `-0` or out of range, so such values are not taken.
    """
    if not (pa.types.is_list(col.type) or pa.types.is_struct(col.type)):
        return None  # not a container (`column_from_values` would not tag it)
    if any(c in name for c in "\"\\'"):
        return None  # a name a JSON path may not spell
    import polars as pl

    offsets = np.empty(2 * len(starts), dtype=np.int64)
    offsets[0::2], offsets[1::2] = starts, stops
    spans = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(chunk)
    )[0::2]  # each line without its newline (the odd entries are the gaps between)
    matched = pl.from_arrow(spans).str.json_path_match(f"$[{json.dumps(name)}]").to_arrow()
    if not pc.all(pc.equal(pc.is_null(matched), pc.is_null(col))).as_py():
        return None  # a value Polars could not read (a lone surrogate, 1e400)
    codes = pc.dictionary_encode(matched)
    texts = []
    for value in codes.dictionary.to_pylist():
        if _RISKY_NUMBER.search(_JSON_STRING.sub('""', value)):  # numbers outside strings
            return None
        texts.append(dumps(json.loads(value)))
    out = pc.take(pa.array(texts, pa.string()), codes.indices)
    # serde_json reads a number of 16+ digits less exactly than Python, and may write it
    # shorter (no sign left in its text): such lines' values come from Python's parse of
    # the line (digits inside strings only cost that parse)
    long = pc.match_substring_regex(spans, _LONG_NUMBER).to_numpy(zero_copy_only=False)
    if long.any():
        values = out.to_pylist()
        for i in np.flatnonzero(long):
            value = json.loads(spans[int(i)].as_py()).get(name)
            values[i] = None if value is None else dumps(value)
        out = pa.array(values, pa.string())
    return out
