"""Texts to token ids with the special tokens TRL's trainers (1.x: `_tokenize`) give them.

- text a chat template rendered (`templated`) is tokenised without adding any special token,
  as `tokenizer.apply_chat_template(messages, tokenize=True)` does: the template decides the
  BOS (Llama 3 writes `<|begin_of_text|>`; Phi-3 and LLaVA-NeXT write none, so none is added);
- standard (untemplated) text gets the BOS its tokenizer adds (`tokenizer(text)`), prepended
  only when the text lacks it, and with `add_eos` the tokenizer's EOS appended to each
  completion (the whole text for language modeling, each side for implicit preference) that
  does not already end with it.

Differences from TRL (deliberate): TRL tokenises standard text with the tokenizer's special
tokens, so a text that already starts with BOS (or a tokenizer that also appends EOS) gets it
twice; here it never does. TRL 0.17 differed per trainer: its DPO added no BOS to standard
text and its PRM always prepended one; here every trainer follows TRL 1.x's rule above.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class Encoder:
    """Batch tokenisation without added special tokens; for standard text, the BOS its
    tokenizer adds prepended where the text lacks it (rendered text: never)."""

    def __init__(self, tokenizer: Any, templated: bool = False) -> None:
        from trlprep.templates.sources import load_tokenizer

        self.tok = load_tokenizer(tokenizer)
        bos = getattr(self.tok, "bos_token", None)
        self.bos_token = bos
        self.bos_id = self.tok.convert_tokens_to_ids(bos) if bos else None
        self.adds_bos = False
        if bos and not templated:
            probe = self.tok("x", add_special_tokens=True)["input_ids"]
            self.adds_bos = bool(probe) and probe[0] == self.bos_id

    def many(self, texts: list[str]) -> list[list[int]]:
        ids = self.tok(texts, add_special_tokens=False, verbose=False)["input_ids"] if texts else []
        if self.adds_bos:
            ids = [
                x if t.startswith(self.bos_token) else [self.bos_id, *x]
                for t, x in zip(texts, ids, strict=True)
            ]
        return ids

    def distinct(self, texts: list[str]) -> list[list[int]]:
        unique = list(dict.fromkeys(texts))
        ids = dict(zip(unique, self.many(unique), strict=True))
        return [ids[t] for t in texts]

    def pieces(self, texts: list[str]) -> list[list[int]]:
        """Each distinct text alone, without any special token (steps, separators)."""
        unique = list(dict.fromkeys(texts))
        out = (
            self.tok(unique, add_special_tokens=False, verbose=False)["input_ids"] if unique else []
        )
        ids = dict(zip(unique, out, strict=True))
        return [ids[t] for t in texts]


def lengths_without_eos(
    ids: list[list[int]], column: pa.ChunkedArray, eos: str | None, tok: Any
) -> np.ndarray:
    """Token counts of the texts of `column` tokenised alone, from `ids`: the same texts
    tokenised after `with_eos(column, eos)` (`eos` None: as they are). One fewer where the EOS
    was appended and ended as its own id; -1 (unknown: tokenise the text again) where it may
    have taken text before it (an added token with `lstrip` or `single_word`) or did not."""
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    if eos is None:
        return lengths
    appended = ~np.asarray(pc.ends_with(column, eos).to_numpy(zero_copy_only=False), bool)
    eos_id = tok.convert_tokens_to_ids(eos)
    last = np.fromiter((x[-1] if x else -1 for x in ids), np.int64, len(ids))
    alone = _stands_alone(tok, eos_id) & (last == eos_id)
    return np.where(appended, np.where(alone, lengths - 1, -1), lengths)


def _stands_alone(tok: Any, token_id: int | None) -> bool:
    """Whether an added token is split off the text before it, whatever that text is (not
    `lstrip`, which takes the spaces before it, nor `single_word`)."""
    added = getattr(tok, "added_tokens_decoder", None) or {}
    token = added.get(token_id) if token_id is not None else None
    return token is not None and not token.lstrip and not token.single_word


def with_eos(column: pa.ChunkedArray, eos: str) -> pa.ChunkedArray:
    return pc.if_else(
        pc.ends_with(column, eos), column, pc.binary_join_element_wise(column, eos, "")
    )


__all__ = ["Encoder", "lengths_without_eos", "with_eos"]
