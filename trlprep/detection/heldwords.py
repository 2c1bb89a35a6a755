"""What a column's rows hold, said in words: detection's problems and the mixed-format
messages of convert and validate (kinds neither text nor messages; text under a chat
column's name)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trlprep.detection.profile import content_kinds
from trlprep.registry import DatasetType, Format
from trlprep.wording import kind_word, noun, plural

if TYPE_CHECKING:
    from trlprep.detection.detect import Detection


def holds(count: int) -> str:
    """The verb for `count` rows: holds or hold."""
    return noun(count, "holds", "hold")


# what a row of a content column holds, said where it is neither text nor messages
_HELD = {
    "list<string>": (
        'a list of strings, not messages (a message is an object with "role" and "content"): '
        "join the strings into one text, or give each as a message"
    ),
    "empty-list": "an empty list",
    "list": "a list of neither strings nor messages",
    "other": "neither text nor a list of messages (an object, say)",
}


def unmixed_kinds(det: Detection, dtype: DatasetType) -> list[str] | None:
    """What `dtype`'s content columns hold where no format was found, though no column
    mixes kinds (every row of a column holds a list of strings, say: a CSV's JSON text):
    one phrase per such column; None where a column's rows do mix kinds."""
    names = {c for f in dtype.all_formats for c in dtype.content_columns(f)}
    kinds = {n: k for n, k in det.column_kinds.items() if n in names}
    if any(len(set(k) - {"null"}) > 1 for k in kinds.values()):
        return None
    return [
        f"every row of column {n!r} holds {held(kind)}"
        for n, k in kinds.items()
        for kind in k
        if kind not in ("string", "messages", "null")
    ]


def held(kind: str) -> str:
    """`kind` (a profile's row kind) as a mixed-format problem says what rows hold."""
    return _HELD.get(kind, kind_word(kind))


def text_under_a_chat_name(role_cols, det: Detection, cols, problem) -> None:
    """A `messages` column holding text read as standard language modeling, whose column
    is `text`: validate and convert read `text`, so it is a problem here too (a CSV
    column of chats is decoded only when every row holds a JSON list)."""
    for c in role_cols:
        name = det.columns.get(c.role)
        if name is None or name == c.name_in(Format.STANDARD):
            continue
        count = content_kinds(cols[name]).get("string", 0)
        problem(
            "misnamed-column",
            f"column {name!r} holds text in {plural(count, 'row')}, not message lists; "
            f"standard {det.type.name} reads its text from a column {c.name_in(Format.STANDARD)!r}",
            count,
            cols[name].examples.get("string", []),
            f"plain text: rename it (--map {c.name_in(Format.STANDARD)}={name}); chats: every "
            f"row of {name!r} must hold a list of messages (in CSV, a JSON list in each row)",
        )
