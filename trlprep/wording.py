"""Counts and articles in words: `1 row`, `2 rows`, `1,000 steps`, `an array` (every message
uses these); notes said per batch with their counts summed (`add_note`)."""

from __future__ import annotations

import re

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


# the JSON kinds as messages name them (convert's read stage says "boolean"; the short
# names stay in JSON reports' keys)
_KIND_WORDS = {"bool": "boolean", "list<bool>": "list<boolean>"}


def kind_word(kind: str) -> str:
    """A value kind (`bool`, `number`, `list<bool>`, ...) as messages say it: `boolean`."""
    return _KIND_WORDS.get(kind, kind)


# notes that count things, said once per batch, merged (the input read whole says one):
# a count and the noun it counts (`80 rows`, `1 row`, `2,016 answers`), then an optional verb
_COUNT = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+) ([a-z]+)(?: (has|have|was|were|is|are)\b)?"
)
_SINGULAR = {many: one for one, many in IRREGULAR.items()}


def add_note(notes: list[str], note: str) -> None:
    """`note` added to `notes`: one saying the same with other counts is replaced by their
    sum; a note that counts nothing is added once."""
    key = _key(note)
    if key is None:
        if note not in notes:
            notes.append(note)
        return
    for i, seen in enumerate(notes):
        if _key(seen) == key:
            notes[i] = _summed(seen, note)
            return
    notes.append(note)


def _singular(n: int, word: str) -> str:
    if n == 1:
        return word
    return _SINGULAR.get(word) or (word[:-3] + "y" if word.endswith("ies") else word[:-1])


def _key(note: str) -> str | None:
    """The note with every count as N and its noun and verb singular (None: no count)."""
    if not _COUNT.search(note):
        return None

    def one(m: re.Match) -> str:
        n = int(m[1].replace(",", ""))
        verb = f" {_singular(n, m[3])}" if m[3] else ""
        return f"N {_singular(n, m[2])}{verb}"

    return _COUNT.sub(one, note)


def _summed(a: str, b: str) -> str:
    """`a` with each count the sum of its count and `b`'s (same `_key`)."""
    counts = [int(m[1].replace(",", "")) for m in _COUNT.finditer(b)]
    it = iter(counts)

    def add(m: re.Match) -> str:
        n = int(m[1].replace(",", ""))
        total = n + next(it)
        said = plural(total, _singular(n, m[2]))
        if m[3]:
            said += " " + (_singular(n, m[3]) if total == 1 else plural(2, _singular(n, m[3]))[2:])
        return said

    return _COUNT.sub(add, a)


def all_refused(rows: int) -> str:
    """`the input's N rows were all refused` (its only row, for one)."""
    if rows == 1:
        return "the input's only row was refused"
    return f"the input's {plural(rows, 'row')} were all refused"
