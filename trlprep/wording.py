"""Counts and articles in words: `1 row`, `2 rows`, `1,000 steps`, `an array` (every message
uses these)."""

from __future__ import annotations

IRREGULAR = {"was": "were", "is": "are", "has": "have", "this": "these", "entry": "entries"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and `word`, the plural when `n` is not 1 (`many`, or `word` + "s"), with commas."""
    return f"{n:,} {word if n == 1 else (many or IRREGULAR.get(word) or word + 's')}"


def noun(n: int, word: str, many: str | None = None) -> str:
    """`word` or its plural for a count of `n`, without the number."""
    return plural(n, word, many).split(" ", 1)[1]


_AS_CONSONANT = ("uni", "use", "usa", "usu", "one", "once", "eu", "utf", "url", "uuid")


def article(word: str) -> str:
    """`word` with its indefinite article, as said: `an IterableDataset`, `an array`,
    `a list`, `a unicode string`, `a UsageError` (by its first letters, not its sound in
    every case: meant for type and kind names in messages)."""
    bare = word.lstrip("'\"`").lower()
    an = bare[:1] in ("a", "e", "i", "o", "u") and not bare.startswith(_AS_CONSONANT)
    return f"{'an' if an else 'a'} {word}"
