"""Where the shared prompt of a chosen/rejected pair ends: vectorised longest common prefixes.

Standard format (strings): the byte-level common prefix of every row is computed with numpy
over the Arrow data buffers, eight bytes at a time, then backed off to a UTF-8 character
boundary. `split_points` turns it into the prompt length:

- `word` mode (default): a split inside a word (the character before the split is not
  whitespace, and the next character of chosen or of rejected is neither whitespace nor
  the end of the text) backs off to just after the last whitespace of the shared prefix;
  a prefix without whitespace (e.g. Chinese or Japanese text) keeps the character split,
  having nothing to back off to. Whitespace means ASCII space, tab, newline, CR, VT, FF.
- `char` mode: TRL's character-level split.
- both modes then apply TRL's rule: a split right after a space `" "` moves before it, so
  the completions start with the space (`"The sky is"` + `" blue."`). Unlike TRL the rule
  is never applied at position 0 (TRL reads `chosen[-1]` there and cuts almost the whole
  text into the prompt).
- when one side is a prefix of the other, or both are equal, a cut at the end of the shared
  text would leave an empty completion, so the cut backs off until both completions hold
  text. `word` mode: to the last turn boundary of a transcript (just after the last
  `"\n\nAssistant:"`, as HH-RLHF's prompts end), otherwise to the last whitespace (then the
  space rule); when neither leaves both completions and the prompt non-empty, the row has
  no split (`NO_SPLIT`). `char` mode: TRL's cut, the shared text less its last character.
- empty strings give an empty prefix (TRL raises).

Conversational format: the number of equal leading messages per row, every message field
compared (role, content, tool calls, ...), vectorised over the flattened message lists.
When that leaves one side without messages, `message_split` backs off to the start of the
last shared assistant turn after the first message (TRL drops the last shared message: the
same cut on alternating chats); a row without one has no split.

`split_point_str` / `split_point_messages` are the same rules for one example in plain Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import as_array, offsets, ranges, string_data, unify

from trlprep.errors import DataError

WHITESPACE = b" \t\n\v\f\r"
TURN_MARK = b"\n\nAssistant:"  # a transcript's assistant turn starts after this
NO_SPLIT = -1  # split point of a row whose completions cannot both be non-empty
NO_SPLIT_TEXT = (
    "one of chosen and rejected is a prefix of the other (or both are equal), and no turn "
    "or word boundary of the shared text leaves both completions non-empty"
)
NO_SPLIT_MESSAGES = (
    "one of chosen and rejected is a prefix of the other (or both are equal), and no shared "
    "assistant turn after the first message leaves both completions non-empty"
)
NO_SPLIT_HINT = "fix or drop these rows (with --on-error skip they go to the rejects file)"
_WS_STR = WHITESPACE.decode()
_CHUNK_WORDS = 1 << 22  # 8-byte words compared per numpy pass (bounds temporary memory)
_BACK_WINDOW = 16


def _is_ws(b: np.ndarray) -> np.ndarray:
    out = np.zeros(b.shape, dtype=bool)
    for c in WHITESPACE:
        out |= b == c
    return out


def _data(arr: pa.Array) -> np.ndarray:
    """The string bytes, never empty (index 0 is read under masks)."""
    data = string_data(arr)
    return data if len(data) else np.zeros(1, np.uint8)


def _words(data: np.ndarray) -> np.ndarray:
    """Every 8-byte little-endian window of `data` that lies inside it, one per start byte."""
    n = max(len(data) - 7, 0)
    if n == 0:
        return np.zeros(0, "<u8")
    return np.ndarray(shape=(n,), dtype="<u8", buffer=data, strides=(1,))


def _first_set_byte(x: np.ndarray) -> np.ndarray:
    """Index (0-7) of the lowest non-zero byte of each non-zero uint64."""
    low = x & (~x + np.uint64(1))
    _, exp = np.frexp(low.astype(np.float64))
    return (exp - 1) // 8


def _full_word_mismatch(wa, sa, wb, sb, nfull: np.ndarray, rows: np.ndarray, lcp) -> None:
    """Set `lcp` of `rows` whose first difference lies in one of their `nfull` 8-byte words."""
    nf = nfull[rows]
    total = int(nf.sum())
    if total == 0:
        return
    before = np.cumsum(nf) - nf
    idx = np.arange(0, 8 * total, 8, dtype=np.int64)
    idx += np.repeat(sa[rows] - 8 * before, nf)
    x = wa[idx]
    idx += np.repeat(sb[rows] - sa[rows], nf)
    x ^= wb[idx]
    hit = np.flatnonzero(x)
    if len(hit) == 0:
        return
    where = np.searchsorted(np.cumsum(nf), hit, side="right")
    lead = np.ones(len(hit), dtype=bool)
    lead[1:] = where[1:] != where[:-1]
    hit, where = hit[lead], where[lead]
    lcp[rows[where]] = (hit - before[where]) * 8 + _first_set_byte(x[hit])


def byte_lcp(a: pa.Array, b: pa.Array) -> np.ndarray:
    """Length in bytes of the common prefix of `a[i]` and `b[i]` (null rows read as empty).

    Whole 8-byte words are compared first (gathered from both data buffers at each row's
    offsets), then the last 0-7 bytes of rows that matched so far.
    """
    a, b = as_array(a), as_array(b)
    sa, la = offsets(a)
    sb, lb = offsets(b)
    m = np.minimum(la, lb)
    n = len(m)
    lcp = np.full(n, -1, dtype=np.int64)
    if n == 0 or m.max(initial=0) == 0:
        return np.zeros(n, np.int64)
    da, db = _data(a), _data(b)
    wa, wb = _words(da), _words(db)
    nfull = m // 8
    ends = np.cumsum(nfull)
    start = 0
    while start < n:  # row chunks of about _CHUNK_WORDS words bound the temporaries
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _CHUNK_WORDS, "right")), start + 1)
        _full_word_mismatch(wa, sa, wb, sb, nfull, np.arange(start, stop), lcp)
        start = stop
    rest = np.flatnonzero(lcp < 0)
    tail = m[rest] - 8 * nfull[rest]
    k = np.arange(8)
    inside = k[None, :] < tail[:, None]
    pos = (8 * nfull[rest])[:, None] + k[None, :]
    ca = da[np.where(inside, sa[rest][:, None] + pos, 0)]
    cb = db[np.where(inside, sb[rest][:, None] + pos, 0)]
    diff = inside & (ca != cb)
    lcp[rest] = 8 * nfull[rest] + np.where(diff.any(axis=1), diff.argmax(axis=1), tail)
    # back off to a UTF-8 character boundary (a continuation byte is 0b10xxxxxx)
    for _ in range(3):
        within = lcp < la
        at = np.where(within, sa + lcp, 0)
        cont = within & ((da[at] & 0xC0) == 0x80)
        if not cont.any():
            break
        lcp -= cont
    return lcp


def split_points(a: pa.Array, b: pa.Array, mode: str = "word") -> np.ndarray:
    """Byte length of the prompt shared by chosen `a[i]` and rejected `b[i]` (see module doc);
    NO_SPLIT where no cut leaves both completions non-empty."""
    return split_points_backed(a, b, mode)[0]


def split_points_backed(a: pa.Array, b: pa.Array, mode: str = "word"):
    """`split_points`, and the rows whose cut backed off from the end of the shared text."""
    a, b = unify(a, b)
    lcp = byte_lcp(a, b)
    if len(lcp) == 0:
        return lcp, np.zeros(0, dtype=bool)
    sa, la = offsets(a)
    sb, lb = offsets(b)
    da, db = _data(a), _data(b)
    cut = lcp
    if mode == "word":
        cut = _word_boundary(cut, da, sa, la, db, sb, lb)
    prev_space = (cut > 0) & (da[np.where(cut > 0, sa + cut - 1, 0)] == ord(" "))
    cut = cut - prev_space
    backed = (cut > 0) & ((cut == la) | (cut == lb))
    empty = np.flatnonzero(backed)
    if len(empty):
        cut[empty] = _back_off(da, sa, np.minimum(la, lb)[empty], empty, mode)
    return cut, backed


def _back_off(da: np.ndarray, sa: np.ndarray, shared: np.ndarray, rows, mode: str) -> np.ndarray:
    """Cuts for `rows` whose whole `shared` text is common: both completions keep text.

    Only rows where one side is a prefix of the other get here (rare), one at a time.
    """
    out = np.empty(len(rows), np.int64)
    for i, (row, m) in enumerate(zip(rows.tolist(), shared.tolist(), strict=True)):
        text = da[sa[row] : sa[row] + m].tobytes()
        out[i] = _back_off_one(text, mode)
    return out


def _back_off_one(text: bytes, mode: str) -> int:
    """The cut in `text` (bytes, the whole shared part) before its end, or NO_SPLIT."""
    m = len(text)
    if mode == "char":  # TRL: the shared text less its last character
        cut = m - 1
        while cut > 0 and (text[cut] & 0xC0) == 0x80:
            cut -= 1
        return cut
    turn = text.rfind(TURN_MARK, 0, m - 1)
    if turn >= 0 and turn + len(TURN_MARK) < m:
        return turn + len(TURN_MARK)
    ws = max(text.rfind(bytes([c]), 0, m - 1) for c in WHITESPACE)
    if ws < 0:
        return NO_SPLIT
    cut = ws + 1 - (text[ws] == ord(" "))
    return cut if cut > 0 else NO_SPLIT


def _word_boundary(cut, da, sa, la, db, sb, lb) -> np.ndarray:
    prev_ws = (cut > 0) & _is_ws(da[np.where(cut > 0, sa + cut - 1, 0)])
    next_a = (cut >= la) | _is_ws(da[np.where(cut < la, sa + cut, 0)])
    next_b = (cut >= lb) | _is_ws(db[np.where(cut < lb, sb + cut, 0)])
    inside = np.flatnonzero((cut > 0) & ~prev_ws & ~(next_a & next_b))
    if len(inside) == 0:
        return cut
    cut = cut.copy()
    # search backwards from the split for the last whitespace, a window at a time
    todo = inside
    cursor = cut[todo]  # search positions [cursor - window, cursor)
    back = np.arange(1, _BACK_WINDOW + 1)
    while len(todo):
        pos = cursor[:, None] - back[None, :]
        ok = pos >= 0
        ws = ok & _is_ws(da[np.where(ok, sa[todo][:, None] + pos, 0)])
        found = ws.any(axis=1)
        if found.any():
            first = ws[found].argmax(axis=1)
            cut[todo[found]] = pos[found, first] + 1
        cursor = cursor - _BACK_WINDOW
        keep = ~found & (cursor > 0)
        todo, cursor = todo[keep], cursor[keep]
    return cut


def message_lcp(a: pa.Array, b: pa.Array) -> np.ndarray:
    """Number of equal leading messages of `a[i]` and `b[i]` (all message fields compared)."""
    import polars as pl

    a, b = unify(a, b)
    sa, la = offsets(a)
    sb, lb = offsets(b)
    m = np.minimum(la, lb)
    lcp = m.copy()
    total = int(m.sum())
    if total == 0:
        return lcp
    row = np.repeat(np.arange(len(m)), m)
    k = ranges(np.zeros(len(m), np.int64), m)
    ia = pa.array(sa[row] + k, pa.int64())
    ib = pa.array(sb[row] + k, pa.int64())
    va = pl.from_arrow(a.values.take(ia))
    vb = pl.from_arrow(b.values.take(ib))
    diff = ~va.eq_missing(vb).to_numpy()
    hit = np.flatnonzero(diff)
    if len(hit):
        hit_rows = row[hit]
        first = np.ones(len(hit), dtype=bool)
        first[1:] = hit_rows[1:] != hit_rows[:-1]
        lcp[hit_rows[first]] = k[hit[first]]
    return lcp


def message_split(a: pa.Array, b: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Messages of the prompt shared by `a[i]` and `b[i]` (NO_SPLIT where none leaves both
    completions non-empty; see the module doc), and the rows whose cut backed off."""
    a, b = unify(a, b)
    cut = message_lcp(a, b)
    _, la = offsets(a)
    _, lb = offsets(b)
    backed = (cut > 0) & ((cut == la) | (cut == lb))
    empty = np.flatnonzero(backed)
    if len(empty) == 0:
        return cut, backed
    sa, _ = offsets(a)
    struct = a.values
    if pa.types.is_struct(struct.type) and struct.type.get_field_index("role") >= 0:
        roles = pc.fill_null(pc.equal(pc.struct_field(struct, "role"), "assistant"), False)
        assistant = roles.to_numpy(zero_copy_only=False)
    else:
        assistant = np.zeros(len(struct), dtype=bool)
    for row in empty.tolist():
        hits = np.flatnonzero(assistant[sa[row] + 1 : sa[row] + cut[row]])
        cut[row] = hits[-1] + 1 if len(hits) else NO_SPLIT
    return cut, backed


# ---------------------------------------------------------------- one example, plain Python


def split_point_str(chosen: str, rejected: str, mode: str = "word") -> int:
    """Length (in characters) of the prompt shared by two strings; the rules of `split_points`."""
    n = min(len(chosen), len(rejected))
    cut = next((i for i in range(n) if chosen[i] != rejected[i]), n)
    if mode == "word" and cut > 0 and chosen[cut - 1] not in _WS_STR:
        next_c = cut >= len(chosen) or chosen[cut] in _WS_STR
        next_r = cut >= len(rejected) or rejected[cut] in _WS_STR
        if not (next_c and next_r):
            last = max(chosen.rfind(c, 0, cut) for c in _WS_STR)
            if last >= 0:
                cut = last + 1
    if cut > 0 and chosen[cut - 1] == " ":
        cut -= 1
    if cut > 0 and cut in (len(chosen), len(rejected)):
        shared = chosen[: min(len(chosen), len(rejected))].encode()
        cut = _back_off_one(shared, mode)
        if cut == NO_SPLIT:
            raise DataError(NO_SPLIT_TEXT, hint=NO_SPLIT_HINT)
        cut = len(shared[:cut].decode())
    return cut


def split_point_messages(chosen: list, rejected: list) -> int:
    """Leading messages of the prompt shared by two message lists (see `message_split`)."""
    n = min(len(chosen), len(rejected))
    cut = next((i for i in range(n) if chosen[i] != rejected[i]), n)
    if cut > 0 and cut in (len(chosen), len(rejected)):
        roles = [m.get("role") if isinstance(m, dict) else None for m in chosen[:cut]]
        cut = max((i for i in range(1, cut) if roles[i] == "assistant"), default=NO_SPLIT)
        if cut == NO_SPLIT:
            raise DataError(NO_SPLIT_MESSAGES, hint=NO_SPLIT_HINT)
    return cut
