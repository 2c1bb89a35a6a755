"""Token lengths per role, as `tokenize_table` (untruncated) would produce them, fast.

The report needs lengths, not ids: with a fast tokenizer the texts go straight to the Rust
backend's `encode_batch` (one call per column, every core), and only the numbers the
trainer's split needs are kept (the prompt's shared prefix with each prompt + answer, and
the lengths). The ids of `tokenize_table` are the reference (tests check them equal); data
it alone handles (stepwise rows, slow tokenizers, processors, null texts, a tokenizer
error) goes through it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.registry import DatasetType

# column of each role in a standard table (the roles `Collector._lengths` reports)
_PAIRED = {
    "prompt-completion": ("completion",),
    "unpaired-preference": ("completion",),
    "preference": ("chosen", "rejected"),
    "prompt-only": (),
}
_WHOLE = {"language-modeling": ("text",), "preference-implicit": ("chosen", "rejected")}


class FastLengths:
    """Per-role token lengths of a standard table through the Rust backend, or None
    (`lengths`) where `tokenize_table` must do it."""

    def __init__(self, tokenizer: Any, add_eos: bool, templated: bool = False) -> None:
        backend = getattr(tokenizer, "_tokenizer", None)
        try:
            from tokenizers import Tokenizer
        except ImportError:  # pragma: no cover - transformers needs it
            Tokenizer = None  # noqa: N806
        self.backend = backend if Tokenizer and isinstance(backend, Tokenizer) else None
        if self.backend is not None and (
            self.backend.truncation is not None or self.backend.padding is not None
        ):
            self.backend = None  # a tokenizer left padding or truncating: the plain path
        self.eos = getattr(tokenizer, "eos_token", None) if add_eos else None
        bos = getattr(tokenizer, "bos_token", None)
        self.bos = None
        if self.backend is not None and bos and not templated:  # the template wrote its BOS
            probe = tokenizer("x", add_special_tokens=True)["input_ids"]
            bos_id = tokenizer.convert_tokens_to_ids(bos)
            self.bos = bos if probe and probe[0] == bos_id else None

    def lengths(self, table: pa.Table, dtype: DatasetType) -> dict[str, np.ndarray] | None:
        """{role: lengths} of `table`'s rows, or None when this path cannot measure them."""
        name = dtype.name
        if self.backend is None or (name not in _PAIRED and name not in _WHOLE):
            return None
        cols = _WHOLE.get(name) or ("prompt", *_PAIRED[name])
        if any(c not in table.column_names for c in cols):
            return None
        for c in cols:
            t = table.schema.field(c).type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                return None
            if table.column(c).null_count:
                return None  # tokenize_table names those rows
        try:
            if name in _WHOLE:
                return {c: self._count(self._texts(table, c, answer=True)) for c in cols}
            return self._paired(table, _PAIRED[name])
        except Exception:  # noqa: BLE001 - the tokenizer's own error: tokenize_table finds the rows
            return None

    def _texts(self, table: pa.Table, column: str, answer: bool) -> pa.Array:
        col = table.column(column).combine_chunks()
        if answer and self.eos:
            col = pc.if_else(
                pc.ends_with(col, self.eos), col, pc.binary_join_element_wise(col, self.eos, "")
            )
        return col

    def _encode(self, texts: pa.Array) -> list:
        # `encode_batch_fast` (tokenizers >= 0.21): the same ids, without character offsets
        encode = getattr(self.backend, "encode_batch_fast", None) or self.backend.encode_batch
        return encode(texts.to_pylist(), add_special_tokens=False)

    def _bos_extra(self, texts: pa.Array) -> np.ndarray | int:
        """1 for each text the BOS is prepended to (it does not start with it), else 0."""
        if self.bos is None:
            return 0
        starts = pc.starts_with(texts, self.bos).to_numpy(zero_copy_only=False)
        return (~starts).astype(np.int64)

    def count(self, texts: pa.Array) -> np.ndarray:
        """Token lengths of `texts` (answers: no EOS added), the BOS counted where added."""
        return self._count(texts)

    def _count(self, texts: pa.Array) -> np.ndarray:
        encs = self._encode(texts)
        n = np.fromiter((len(e) for e in encs), np.int64, count=len(encs))
        return n + self._bos_extra(texts)

    def _paired(self, table: pa.Table, answers: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Prompt = the ids the prompt shares with every prompt + answer (tokenised whole)."""
        prompts = table.column("prompt").combine_chunks()
        uniq = pc.unique(prompts)
        p_ids = [e.ids for e in self._encode(uniq)]
        index = np.asarray(pc.index_in(prompts, uniq).to_numpy(zero_copy_only=False), np.int64)
        p_len = np.fromiter((len(x) for x in p_ids), np.int64, count=len(p_ids))[index]
        k = p_len.copy()
        full_len = {}
        for c in answers:
            texts = pc.binary_join_element_wise(prompts, self._texts(table, c, True), "")
            encs = self._encode(texts)
            full_len[c] = np.fromiter((len(e) for e in encs), np.int64, count=len(encs))
            for i, (e, j) in enumerate(zip(encs, index.tolist(), strict=True)):
                p = p_ids[j]
                ids = e.ids
                if ids[: len(p)] != p:  # a token across the prompt's end: the shared part
                    k[i] = min(k[i], _common(p, ids))
        extra = self._bos_extra(prompts)  # prompt + answer starts as the prompt does
        out = {"prompt": k + extra}
        for c in answers:
            out[c] = full_len[c] - k
        return out


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


__all__ = ["FastLengths"]
