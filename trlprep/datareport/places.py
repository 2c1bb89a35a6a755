"""Where the report says a shown row is (examples, rows it could not read): `line 4`,
`row 3`, or, of an input of several files, its file too (`a.jsonl:4`), as validation says
it; and the HTML id of each shown row, one per row however many files have a line 4."""

from __future__ import annotations

from typing import Any


def said_at(ex: dict[str, Any]) -> str:
    """`a.jsonl:4` (one of several files), `line 4`, else `row 3`."""
    if ex.get("place"):
        return ex["place"]
    return f"line {ex['line']}" if ex.get("line") is not None else f"row {ex['row']}"


def anchor(ex: dict[str, Any]) -> str:
    """The HTML id of a shown row: by its file line (or row); by its row in the whole
    dataset where the input is several files."""
    return f"ex-r{ex['row']}" if ex.get("place") else f"ex-{ex.get('line', ex['row'])}"


def name_files(data: Any, path: str | None, split: str | None, input_format: str | None) -> None:
    """The shown rows (`Collected` examples and rejected rows) of an input of several
    files given their `place` (`a.jsonl:4`, `a.parquet row 3`), by the shards' `where`."""
    if path is None:
        return
    from trlprep.io.shards import describe

    shards = describe(path, split, input_format)
    if shards is None:
        return
    listed = [e for r in data.rejected_reasons for e in r["examples"]]
    for ex in [*data.examples, *data.rejected_examples, *listed]:
        ex["place"] = shards.where(ex["row"], ex.get("line"))


__all__ = ["anchor", "name_files", "said_at"]
