"""Synthetic datasets of any size, built with Arrow compute (a million rows in seconds)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WORDS = np.array(
    "the sky is blue green red sun moon star water fire tree river cloud rain wind light "
    "dark cold warm why how what when where who which answer question reason because".split()
)


def _sentences(rng: np.random.Generator, n: int, lo: int, hi: int, distinct: int) -> pa.Array:
    """`n` strings drawn from `distinct` random sentences of lo..hi words."""
    pool = [
        " ".join(rng.choice(_WORDS, size=rng.integers(lo, hi + 1))).capitalize() + "."
        for _ in range(distinct)
    ]
    return pa.array(pool, pa.string()).take(pa.array(rng.integers(0, distinct, n)))


def _messages(role: str, content: pa.Array) -> pa.Array:
    """One-message lists [{role, content}] per row."""
    n = len(content)
    roles = pa.array(np.full(n, role, dtype=object), pa.string())
    structs = pa.StructArray.from_arrays([roles, content], ["role", "content"])
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), structs)


def _two_turns(system: pa.Array, user: pa.Array) -> pa.Array:
    """[{system}, {user}] per row."""
    n = len(user)
    roles = pa.array(np.tile(np.array(["system", "user"], dtype=object), n), pa.string())
    idx = np.empty(2 * n, dtype=np.int64)
    idx[0::2] = np.arange(n)
    idx[1::2] = np.arange(n) + n
    content = pa.concat_arrays([system, user]).take(pa.array(idx))
    structs = pa.StructArray.from_arrays([roles, content], ["role", "content"])
    return pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), structs)


def preference(n: int, *, conversational: bool = True, seed: int = 0) -> pa.Table:
    """Explicit preference rows; prompts repeat (as in real data), completions vary."""
    rng = np.random.default_rng(seed)
    prompt = _sentences(rng, n, 5, 20, max(1, n // 4))
    chosen = _sentences(rng, n, 10, 40, max(1, n // 2))
    rejected = _sentences(rng, n, 10, 40, max(1, n // 2))
    if not conversational:
        return pa.table(
            {
                "prompt": prompt,
                "chosen": pc.binary_join_element_wise(" ", chosen, ""),
                "rejected": rejected,
            }
        )
    system = _sentences(rng, n, 3, 6, 4)
    return pa.table(
        {
            "prompt": _two_turns(system, prompt),
            "chosen": _messages("assistant", chosen),
            "rejected": _messages("assistant", rejected),
            "source": pa.array(np.full(n, "synthetic", dtype=object), pa.string()),
        }
    )


def implicit_preference(n: int, *, conversational: bool = True, seed: int = 0) -> pa.Table:
    """Implicit preference: the prompt repeated at the start of chosen and rejected."""
    t = preference(n, conversational=conversational, seed=seed)
    if conversational:
        import polars as pl

        df = pl.from_arrow(t)
        df = df.select(
            chosen=pl.concat_list("prompt", "chosen"),
            rejected=pl.concat_list("prompt", "rejected"),
        )
        return df.to_arrow()
    return pa.table(
        {
            "chosen": pc.binary_join_element_wise(t["prompt"], t["chosen"], " "),
            "rejected": pc.binary_join_element_wise(t["prompt"], t["rejected"], " "),
        }
    )


def stepwise(n: int, *, seed: int = 0) -> pa.Table:
    """Stepwise supervision: 1-6 steps per row with random labels."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    total = int(offsets[-1])
    steps = _sentences(rng, total, 4, 12, max(1, total // 3))
    labels = pa.array(rng.random(total) < 0.8)
    return pa.table(
        {
            "prompt": _sentences(rng, n, 5, 15, max(1, n // 4)),
            "completions": pa.ListArray.from_arrays(pa.array(offsets), steps),
            "labels": pa.ListArray.from_arrays(pa.array(offsets), labels),
        }
    )


def _parts(kinds: pa.Array, images: pa.Array, texts: pa.Array) -> pa.StructArray:
    return pa.StructArray.from_arrays([kinds, images, texts], ["type", "image", "text"])


def image_conversations(n: int, first_id: int = 0, *, seed: int = 0) -> pa.Table:
    """Conversational language-modeling rows in transformers' content-part format: a user
    turn of an inline image URL part and a text part, an assistant turn of a text part."""
    rng = np.random.default_rng(seed)
    question = _sentences(rng, n, 5, 30, max(1, n // 3))
    answer = _sentences(rng, n, 10, 40, max(1, n // 2))
    ids = pa.array(np.arange(first_id, first_id + n).astype(str))
    urls = pc.binary_join_element_wise("https://example.com/img/", ids, ".png", "")
    word = {k: pa.array(np.full(n, k, dtype=object), pa.string()) for k in ("image", "text")}
    none = pa.nulls(n, pa.string())
    pairs = np.empty(2 * n, dtype=np.int64)
    pairs[0::2] = np.arange(n)
    pairs[1::2] = np.arange(n) + n
    pairs = pa.array(pairs)
    two = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
    user = pa.concat_arrays(
        [_parts(word["image"], urls, none), _parts(word["text"], none, question)]
    ).take(pairs)
    user = pa.ListArray.from_arrays(two, user)
    assistant = pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)), _parts(word["text"], none, answer)
    )
    roles = pa.array(np.tile(np.array(["user", "assistant"], dtype=object), n), pa.string())
    content = pa.concat_arrays([user, assistant]).take(pairs)
    messages = pa.StructArray.from_arrays([roles, content], ["role", "content"])
    return pa.table({"messages": pa.ListArray.from_arrays(two, messages)})
