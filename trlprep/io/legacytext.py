"""Text in a legacy (non-Unicode) encoding told from its bytes: GB18030/GBK, Big5,
Shift_JIS, EUC-KR or Windows-1252, so a file that is not UTF-8 is named with the encoding
it reads as, a few of its characters so decoded, and the `iconv` command re-encoding it.

A guess, said as one: the bytes are decoded with each candidate and the reading whose
characters are that script's own (hangul for Korean, kana beside kanji for Japanese, GB2312's
characters for Chinese, accented Latin letters for Western European) wins; none fitting,
nothing is said beyond "not UTF-8".
"""

from __future__ import annotations

import os
import unicodedata

# (Python codec, the name iconv takes, what it is), in the order ties are broken: Japanese
# first, as only Shift_JIS bytes read as kana there (while they also read as EUC-KR's
# hangul), then Korean, whose hangul bytes GBK reads as hanzi
_CANDIDATES = [
    ("cp932", "CP932", "Shift_JIS (Japanese)"),
    ("cp949", "CP949", "EUC-KR (Korean)"),
    ("gb18030", "GB18030", "GB18030/GBK (Simplified Chinese)"),
    ("big5", "BIG5", "Big5 (Traditional Chinese)"),
    ("cp1252", "WINDOWS-1252", "Windows-1252 (Western European)"),
]
_FITTING = 0.8  # the share of a reading's non-ASCII characters that must be its script's own
_WESTERN_PUNCTUATION = "\u201c\u201d\u2018\u2019\u2013\u2014\u2026"  # curly quotes, dashes, ...
_SAMPLE = 2048  # bytes of a line looked at (each candidate decodes them: a bound on the cost)
_SHOWN = 24  # characters of the decoded text shown in the message


def _own(codec: str, c: str) -> bool:
    """Whether `c` is a character text in `codec` is made of (not one a misreading makes)."""
    o = ord(c)
    if 0x3000 <= o <= 0x303F or 0xFF01 <= o <= 0xFF5E:  # CJK and full-width punctuation
        return codec != "cp1252"
    if codec == "cp949":  # the hangul of KS X 1001 (EUC-KR), not the rare ones CP949 adds
        return 0xAC00 <= o <= 0xD7A3 and _encodes(c, "euc_kr")
    if codec == "cp932":
        return 0x3040 <= o <= 0x30FF or 0x4E00 <= o <= 0x9FFF
    if codec == "gb18030":
        return _encodes(c, "gb2312")
    if codec == "big5":
        return 0x4E00 <= o <= 0x9FFF
    return unicodedata.category(c).startswith("L") or c in _WESTERN_PUNCTUATION


def _encodes(c: str, codec: str) -> bool:
    """Whether `codec` encodes the character `c`."""
    try:
        c.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _decode(data: bytes, codec: str) -> str | None:
    """`data` decoded by `codec`, a character cut at its end dropped; None when it does not
    decode or reads as control, private-use or unassigned characters."""
    for cut in range(4):
        try:
            text = data[: len(data) - cut].decode(codec)
            break
        except UnicodeDecodeError as e:
            if e.start < len(data) - 4:
                return None
    else:
        return None
    for c in text:
        cat = unicodedata.category(c)
        if cat in ("Cn", "Co", "Cs") or (cat == "Cc" and c not in "\t\n\r"):
            return None
    return text


def guess(data: bytes) -> tuple[str, str, str] | None:
    """(iconv's name for it, what it is, the first characters holding non-ASCII text as
    decoded) of the legacy encoding `data` (bytes that are not UTF-8) reads as; None when
    no candidate fits or most of its non-ASCII bytes are UTF-8 after all (a stray byte in a
    UTF-8 file is not a file in another encoding)."""
    data = _sample(data)
    as_utf8 = data.decode("utf-8", "replace")
    bad = as_utf8.count("\ufffd")
    if sum(ord(c) > 127 for c in as_utf8) - bad > bad:
        return None
    best, share = None, _FITTING
    for codec, name, what in _CANDIDATES:
        text = _decode(data, codec)
        if text is None:
            continue
        wide = [c for c in text if ord(c) > 127]
        if not wide or (codec == "cp932" and not any(0x3040 <= ord(c) <= 0x30FF for c in wide)):
            continue
        fit = sum(_own(codec, c) for c in wide) / len(wide)
        if fit > share:
            best, share = (name, what, _shown(text)), fit
    return best


def _sample(data: bytes) -> bytes:
    """Up to `_SAMPLE` bytes of `data` from a little before its first non-ASCII byte (the
    bytes before that one are ASCII, so no character is cut at the start)."""
    first = next((i for i, b in enumerate(data[: _SAMPLE * 64]) if b > 127), 0)
    start = max(0, first - 16)
    return data[start : start + _SAMPLE]


def _shown(text: str) -> str:
    """Up to `_SHOWN` characters of the line of `text` holding its first non-ASCII one,
    from a few characters before it."""
    start = next((i for i, c in enumerate(text) if ord(c) > 127), 0)
    start = max(0, text.rfind("\n", 0, start) + 1, start - 8)
    line = text[start:].split("\n", 1)[0].rstrip("\r")
    return line[:_SHOWN] + ("..." if len(line) > _SHOWN else "")


_GUESSED: dict[tuple, tuple[str, str, str]] = {}  # file -> (codec, iconv name, what it is)


def _file_key(path: str | None) -> tuple | None:
    """Which file `path` is now (its real path, size and modification time): a file
    rewritten, or another one of the same name, is guessed afresh."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns)


def _known(path: str | None, data: bytes) -> tuple[str, str, str] | None:
    """`guess(data)`, the encoding guessed for an earlier line of the same file reused when
    these bytes decode by it too (a file with every line refused is not guessed line by line)."""
    codecs = {name: codec for codec, name, _ in _CANDIDATES}
    key = _file_key(path)
    if key is not None and key in _GUESSED:
        codec, name, what = _GUESSED[key]
        text = _decode(_sample(data), codec)
        if text is not None:
            return name, what, _shown(text)
    found = guess(data)
    if found is not None and key is not None:
        if len(_GUESSED) > 64:
            _GUESSED.clear()
        _GUESSED[key] = (codecs[found[0]], found[0], found[1])
    return found


def not_utf8(path: str | None, data: bytes) -> tuple[str, str]:
    """(what is wrong, what to do) for `data`, bytes of the file `path` that are not UTF-8:
    the encoding they read as and the iconv command, when one fits."""
    from trlprep.io.textfaults import UTF8_HINT, file_command

    found = _known(path, data)
    if found is None:
        return "not valid UTF-8 text", UTF8_HINT
    name, what, shown = found
    command = (
        f"iconv -f {name} -t UTF-8 IN > OUT"
        if path is None
        else file_command(path, f"iconv -f {name} -t UTF-8", ".utf8{}")
    )
    return (
        f"not valid UTF-8 text; the bytes read as {what} text ({shown!r}), so the file "
        "is likely in that encoding",
        f"re-encode it as UTF-8: `{command}` (check the text it writes)",
    )
