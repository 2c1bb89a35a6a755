"""Checks on the text itself, for what chat templates and tokenizers refuse or misread:
literal special tokens, NUL characters and `<image>` / `<video>` / `<audio>` placeholders
that do not match the row's images / videos / audios (warnings). Whole string columns at
once (Arrow compute), rows by numpy.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import to_numpy_bool
from trlprep.columns.placeholders import PLACEHOLDER, PLACEHOLDERS
from trlprep.columns.prerendered import PRERENDERED_HINT, TURN_MARKERS, prerendered_text
from trlprep.validation.checks.common import MAX_DETAILS, BatchSink
from trlprep.wording import plural

# Control tokens of common chat templates; in data they are read as control tokens, not text.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
    "<|endofprompt|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<bos>",
    "<eos>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<|START_OF_TURN_TOKEN|>",
    "<|END_OF_TURN_TOKEN|>",
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    # NeMo-Aligner / Nemotron-4 turns (`<extra_id_0>System`, `<extra_id_1>User`, ...)
    "<extra_id_0>",
    "<extra_id_1>",
    "<extra_id_2>",
)
_SPECIAL = "|".join(re.escape(t) for t in SPECIAL_TOKENS)
# an unfilled template variable: `{{name}}` with no spaces, as LLaMA-Factory's identity.json
# leaves `{{name}}` and `{{author}}` for the user to fill (code's `{{ x }}` is spaced)
_VARIABLE = r"\{\{[A-Za-z_][A-Za-z0-9_]*\}\}"
_SUSPECT = [*SPECIAL_TOKENS, "\x00", "{{", *PLACEHOLDERS.values()]

Rows = Callable[[np.ndarray], np.ndarray]  # item mask -> row mask


# strings a scan looks through with pyarrow, one kernel per suspect (polars' Aho-Corasick
# pass is faster on more, but polars takes longer to import than these take to run)
SMALL = 4096


def suspect_small(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which strings hold a suspect (`_SUSPECT`), as `Scan` finds them in longer columns."""
    hit = np.zeros(len(texts), bool)
    for s in _SUSPECT:
        hit |= to_numpy_bool(pc.match_substring(texts, s))
    return hit


class Scan:
    """The strings of a column, and which may hold a special token, NUL or placeholder
    (one Aho-Corasick pass; the rare hits alone are examined further)."""

    def __init__(self, texts: pa.Array | pa.ChunkedArray) -> None:
        if pa.types.is_dictionary(texts.type):
            texts = texts.cast(texts.type.value_type)
        self.texts = texts
        self._idx: np.ndarray | None = None

    @property
    def idx(self) -> np.ndarray:
        """Positions of the suspect strings."""
        if self._idx is None:
            if not len(self.texts) or self.texts.null_count == len(self.texts):
                self._idx = np.zeros(0, np.int64)
            elif len(self.texts) <= SMALL:
                self._idx = np.flatnonzero(suspect_small(self.texts))
            else:
                import polars as pl

                hit = pl.Series(self.texts).str.contains_any(_SUSPECT).fill_null(False)
                self._idx = np.flatnonzero(hit.to_numpy())
        return self._idx

    def suspects(self) -> pa.Array:
        return self.texts.take(pa.array(self.idx, pa.int64()))

    def mask(self, hits: np.ndarray) -> np.ndarray:
        """An item mask from a mask over the suspects."""
        out = np.zeros(len(self.texts), dtype=bool)
        out[self.idx[hits]] = True
        return out


def check_text(
    scan: Scan, rows: Rows, column: str, sink: BatchSink, what: str, rendered: bool = False
) -> None:
    """Flag rows whose strings (items mapped to rows by `rows`) hold a literal special
    token or a NUL character. `rendered`: the strings are message contents a chat template
    renders; a template's turn markers there say the text was rendered already."""
    if not len(scan.idx):
        return
    texts = scan.suspects()
    hit = to_numpy_bool(pc.match_substring_regex(texts, _SPECIAL))
    if hit.any():
        found = pc.extract_regex(texts.filter(pa.array(hit)), f"(?P<token>{_SPECIAL})")
        tokens = list(dict.fromkeys(found.field("token").to_pylist()))[:MAX_DETAILS]
        turns = [t for t in tokens if t in TURN_MARKERS] if rendered else []
        sink.flag(
            "special-token",
            column,
            rows(scan.mask(hit)),
            message=f"column {column!r}: {what} holds a literal special token",
            details=tokens,
            hint=f"{prerendered_text(turns)}: {PRERENDERED_HINT}" if turns else None,
        )
    check_variables(scan, texts, rows, column, sink, what)
    nul = to_numpy_bool(pc.match_substring(texts, "\x00"))
    if nul.any():
        sink.flag(
            "nul-character",
            column,
            rows(scan.mask(nul)),
            message=f"column {column!r}: {what} holds a NUL character (\\x00)",
        )


def check_variables(
    scan: Scan, texts: pa.Array, rows: Rows, column: str, sink: BatchSink, what: str
) -> None:
    """Flag rows whose strings hold an unfilled template variable (`{{name}}`): trained as
    it is, the model learns to say `{{name}}`."""
    hit = to_numpy_bool(pc.match_substring_regex(texts, _VARIABLE))
    if not hit.any():
        return
    found = pc.extract_regex(texts.filter(pa.array(hit)), f"(?P<var>{_VARIABLE})")
    names = sorted(set(found.field("var").to_pylist()))
    sed = " ".join(f"-e 's/{n}/YOUR_{n[2:-2].upper()}/g'" for n in names[:MAX_DETAILS])
    sink.flag(
        "template-variable",
        column,
        rows(scan.mask(hit)),
        message=f"column {column!r}: {what} holds an unfilled template variable",
        details=names[:MAX_DETAILS],
        hint=f"fill it before training (the model would learn to say it), e.g. `sed {sed} "
        "DATA > FILLED` with your values; text meant so (a template taught as code) can stay",
    )


def placeholders(
    scan: Scan, parent: Callable[[], np.ndarray], n: int, mark: str = PLACEHOLDER
) -> np.ndarray:
    """`mark` placeholders (`<image>`, ...) per row (`parent()`: the row of every string)."""
    out = np.zeros(n, np.int64)
    if not len(scan.idx):
        return out
    count = pc.fill_null(pc.count_substring(scan.suspects(), mark), 0)
    counts = np.asarray(count.to_numpy(zero_copy_only=False), np.int64)
    np.add.at(out, parent()[scan.idx], counts)
    return out


def check_placeholders(
    per_column: dict[str, np.ndarray],
    names: dict[str, str],
    held: np.ndarray | None,
    sink: BatchSink,
    kind: str = "image",
    no_column: bool = False,
    parts: dict[str, np.ndarray] | None = None,
) -> None:
    """Rows whose `<image>` (`kind`: `<video>`, `<audio>`) placeholders (per message column
    role, the prompt counted with each completion column; `names`: role -> column name)
    differ from their images (videos, audios: `held`, None for none). `no_column`: the
    data has no column of that medium, said so (the placeholders may be mere text).
    `parts`: per role, the medium's bare parts, which stand for entries too (a row whose
    placeholders and parts together number its media is not flagged)."""
    if not any(c.any() for c in per_column.values()):
        return
    n_held = held if held is not None else np.zeros(sink.num_rows, np.int64)
    zero = np.zeros(sink.num_rows, np.int64)
    given = {} if no_column or not parts else parts
    message = hint = column = None
    if no_column:  # its own issue, apart from counts that differ from a column's
        message, hint = _without_media(kind)
        column = names[next(iter(per_column))]
    prompt = per_column.get("prompt")
    others = [c for c in per_column if c != "prompt"]
    if prompt is not None and others:
        sequences = [(f"{names['prompt']}+{names[c]}", ("prompt", c)) for c in others]
    else:
        sequences = [(names[c], (c,)) for c in per_column]
    for label, roles in sequences:
        count = sum(per_column[r] for r in roles)
        shown = sum(given.get(r, zero) for r in roles)
        bad = (count > 0) & (count + shown != n_held)
        if bad.any():
            first = np.flatnonzero(bad)[:3]
            sink.flag(
                "image-placeholder" if kind == "image" else "media-placeholder",
                column,
                bad,
                message=message,
                hint=hint,
                details=[
                    f"{label}: {int(count[k])} {PLACEHOLDERS[kind]}"
                    + (f" and {plural(int(shown[k]), f'{kind} part')}" if shown[k] else "")
                    + ("" if no_column else f", {plural(int(n_held[k]), kind)}")
                    for k in first
                ],
            )


def _without_media(kind: str) -> tuple[str, str]:
    """The message and hint of placeholders in data without their medium's column."""
    if kind == "image":
        mark, column = "<image>", "images"
    else:  # `<video>` and `<audio>` share one issue (`media-placeholder`)
        mark, column = "<video> / <audio>", "videos / audios"
    return (
        f"the text holds {mark} placeholders but the data has no {column} column: they "
        "stay text (a text-only model reads them so; a multimodal processor may read them "
        "as its media tokens with no media), and LLaMA-Factory's multimodal templates "
        "refuse such rows (one medium per placeholder)",
        f"add the {column} column (one entry per placeholder), or, where the text only "
        f"mentions {mark}, leave it",
    )
