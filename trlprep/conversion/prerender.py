"""The warning that rows about to be rendered with a chat template hold text a template
rendered already (`trlprep.columns.prerendered`): rendered again, they are templated twice."""

from __future__ import annotations

import pyarrow as pa

from trlprep.columns.prerendered import PRERENDERED_HINT, prerendered_rows, prerendered_text
from trlprep.errors import warn_user


def say_prerendered(table: pa.Table, columns: tuple[str, ...]) -> None:
    """A warning naming the rows of `table` whose `columns` (text or messages) hold a chat
    template's turn markers."""
    from trlprep.converters.base import ConversionWarning
    from trlprep.converters.common import counted_rows_text

    rows, markers = prerendered_rows(table, columns)
    if len(rows):
        warn_user(
            f"{counted_rows_text(rows)}: {prerendered_text(markers)}; {PRERENDERED_HINT}",
            ConversionWarning,
        )
