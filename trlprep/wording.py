"""Counts in words: `1 row`, `2 rows`, `1,000 steps` (every message uses this)."""

from __future__ import annotations

IRREGULAR = {"was": "were", "is": "are", "has": "have", "this": "these", "entry": "entries"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and `word`, the plural when `n` is not 1 (`many`, or `word` + "s"), with commas."""
    return f"{n:,} {word if n == 1 else (many or IRREGULAR.get(word) or word + 's')}"


def noun(n: int, word: str, many: str | None = None) -> str:
    """`word` or its plural for a count of `n`, without the number."""
    return plural(n, word, many).split(" ", 1)[1]
