"""What every column check shares: `BatchSink`, which collects the rows each (rule, column)
flags in one record batch, and the number of example details kept per flag.

Every check in this family works on whole Arrow columns (flattened lists with their parent
row indices, reduced back to rows with numpy) and reports offending rows to a `BatchSink`
under a rule id from `trlprep.validation.rules`: `plain` (strings, steps, labels, token
ids), `messages` (message lists), `sides` (tools, images, margin, template kwargs), `cross`
(several columns of a row), `text` (the text itself), `reading` (a `messages` column read
as another type).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_DETAILS = 5


@dataclass
class _Flag:
    mask: np.ndarray
    message: str | None = None
    hint: str | None = None
    details: dict[str, None] = field(default_factory=dict)


class BatchSink:
    """Collects the rows each (rule, column) flags in one batch; flushed once per batch."""

    def __init__(self, num_rows: int) -> None:
        self.num_rows = num_rows
        self.flags: dict[tuple[str, str | None], _Flag] = {}
        # rows holding video / audio parts whose number nothing checks (no such column)
        self.unchecked_media: dict[str, int] = {}
        self.roles_seen: set[str] = set()  # message roles as written, kept with a role map

    def flag(
        self,
        rule: str,
        column: str | None,
        where: np.ndarray,
        *,
        message: str | None = None,
        hint: str | None = None,
        details: list[str] | tuple[str, ...] = (),
    ) -> np.ndarray:
        """Mark rows (a boolean mask or row indices) as breaking `rule`; returns the mask."""
        if where.dtype != bool:
            mask = np.zeros(self.num_rows, dtype=bool)
            mask[where] = True
        else:
            mask = where
        if not mask.any():
            return mask
        f = self.flags.get((rule, column))
        if f is None:
            f = self.flags[(rule, column)] = _Flag(mask.copy(), message, hint)
        else:
            f.mask |= mask
            f.message = f.message or message
            f.hint = f.hint or hint
        for d in details:
            if len(f.details) < MAX_DETAILS:
                f.details.setdefault(d, None)
        return mask
