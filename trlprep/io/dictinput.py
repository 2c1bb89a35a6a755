"""What a plain dict given to the Python API means: columns, or one example.

`datasets.Dataset.from_dict` users pass columns (every value a list, all of one length);
TRL's `maybe_apply_chat_template(example)` users pass one example (`{"prompt": "...",
"completion": "..."}`, or message lists under `prompt`/`messages`/...). One example is any
dict holding a value that is not a list (text, a number, a label, null) or a message list
(a list of dicts with a `role`); a column of single messages is no dataset anyone writes.
Lists of different lengths and nothing else fit neither: refused, naming the lengths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trlprep.errors import UsageError

COLUMNS = "columns"
EXAMPLE = "example"


def _is_message_list(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(m, Mapping) and "role" in m for m in value)
    )


def dict_kind(data: Mapping[str, Any]) -> str:
    """`COLUMNS` or `EXAMPLE` for a dict given as a dataset; a UsageError when it is neither."""
    values = list(data.values())
    if any(not isinstance(v, (list, tuple)) for v in values):
        return EXAMPLE
    if any(_is_message_list(v) for v in values):
        return EXAMPLE
    lengths = {len(v) for v in values}
    if len(lengths) <= 1:
        return COLUMNS
    said = ", ".join(f"{k!r}: {len(v)}" for k, v in data.items())
    raise UsageError(
        f"a dict whose values are all lists of different lengths ({said}) is ambiguous: "
        "neither columns (lists of one length, as `datasets.Dataset.from_dict` takes) nor "
        "one example (text, a label or a message list in some key)",
        hint="pass columns of one length each, or one example wrapped in a list: [example]",
    )


def example_back(rows: list[dict]) -> dict | list[dict]:
    """One example's result as the caller gave it: the row itself, or the rows when a
    conversion made several (or none) of it."""
    return rows[0] if len(rows) == 1 else rows
