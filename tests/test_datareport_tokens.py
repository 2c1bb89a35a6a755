"""The report's fast lengths (the Rust backend, lengths only) equal `tokenize_table`'s ids."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import trlprep
from trlprep.datareport.tokens import FastLengths
from trlprep.registry import get_type
from trlprep.templates import tokenize_table

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "examples" / "tiny-chat-model"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TINY))


@pytest.fixture(scope="module")
def bos_tok(tok):
    """The tiny tokenizer made to prepend a BOS (as Llama's do)."""
    from tokenizers.processors import TemplateProcessing

    t = copy.deepcopy(tok)
    t.bos_token = "<|endoftext|>"
    bos_id = t.convert_tokens_to_ids("<|endoftext|>")
    t._tokenizer.post_processor = TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos_id)]
    )
    assert t("x")["input_ids"][0] == bos_id
    return t


# prompts ending in spaces: "Hello.  " + "x" tokenises across the prompt's end
PROMPTS = ["Hello.  ", "Say it:", "", "<|endoftext|>Begun with the BOS. ", "Café  "]
ANSWERS = ["x", " and more words here.", "", "  ", "<|im_end|>", "naïve  text"]


def _table(dtype: str) -> pa.Table:
    rows = []
    for i, p in enumerate(PROMPTS * 3):
        a, b = ANSWERS[i % len(ANSWERS)], ANSWERS[(i + 2) % len(ANSWERS)]
        rows.append({"prompt": p, "completion": a, "chosen": a, "rejected": b, "text": p + a})
    cols = {
        "language-modeling": ["text"],
        "prompt-only": ["prompt"],
        "prompt-completion": ["prompt", "completion"],
        "unpaired-preference": ["prompt", "completion"],
        "preference": ["prompt", "chosen", "rejected"],
        "preference-implicit": ["chosen", "rejected"],
    }[dtype]
    return pa.table({c: [r[c] for r in rows] for c in cols})


def _reference(table: pa.Table, dtype: str, tok, add_eos: bool) -> dict[str, list[int]]:
    ids, _ = tokenize_table(table, dtype, tok, add_eos=add_eos)
    d = ids.to_pydict()
    if dtype == "language-modeling":
        return {"text": [len(x) for x in d["input_ids"]]}
    if dtype == "prompt-completion":
        comp = [sum(m) for m in d["completion_mask"]]
        return {"prompt": [len(x) - c for x, c in zip(d["input_ids"], comp, strict=True)],
                "completion": comp}  # fmt: skip
    return {c[: -len("_ids")]: [len(x) for x in d[c]] for c in d if c.endswith("_ids")}


@pytest.mark.parametrize("bos", [False, True], ids=["no-bos", "bos"])
@pytest.mark.parametrize("add_eos", [False, True], ids=["as-is", "eos"])
@pytest.mark.parametrize(
    "dtype",
    ["language-modeling", "prompt-only", "prompt-completion", "unpaired-preference",
     "preference", "preference-implicit"],
)  # fmt: skip
def test_fast_lengths_equal_tokenize_table(dtype, add_eos, bos, tok, bos_tok):
    t = bos_tok if bos else tok
    table = _table(dtype)
    fast = FastLengths(t, add_eos=add_eos)
    assert fast.backend is not None
    got = fast.lengths(table, get_type(dtype))
    assert got is not None
    want = _reference(table, dtype, t, add_eos)
    assert {k: v.tolist() for k, v in got.items()} == want


def test_boundary_merge_is_measured_like_the_trainer(tok):
    """'Hello.  ' + 'x' shares fewer ids with the prompt than the prompt alone has."""
    p = tok("Hello.  ", add_special_tokens=False)["input_ids"]
    full = tok("Hello.  x", add_special_tokens=False)["input_ids"]
    assert full[: len(p)] != p
    table = pa.table({"prompt": ["Hello.  "], "completion": ["x"]})
    got = FastLengths(tok, add_eos=False).lengths(table, get_type("prompt-completion"))
    assert got["prompt"][0] < len(p)
    assert got["prompt"][0] + got["completion"][0] == len(full)


def test_unsupported_input_falls_back(tok):
    fast = FastLengths(tok, add_eos=False)
    nulls = pa.table({"prompt": ["a", None], "completion": ["b", "c"]})
    assert fast.lengths(nulls, get_type("prompt-completion")) is None  # tokenize_table names it
    steps = pa.table({"prompt": ["a"], "completions": [["b", "c"]], "labels": [[True, False]]})
    assert fast.lengths(steps, get_type("stepwise-supervision")) is None
    assert FastLengths(object(), add_eos=False).backend is None  # not a fast tokenizer


@pytest.mark.parametrize(
    "name",
    ["preference_conversational.jsonl", "prompt_completion.jsonl", "preference.jsonl",
     "implicit_preference.jsonl", "unpaired.jsonl", "language_modeling_conversational.jsonl"],
)  # fmt: skip
def test_report_figures_equal_with_and_without_the_fast_path(name, monkeypatch):
    path = ROOT / "examples" / name
    fast = trlprep.report(path, chat_template=str(TINY), max_length=64, validate=False)
    monkeypatch.setattr(FastLengths, "lengths", lambda self, table, dtype: None)
    slow = trlprep.report(path, chat_template=str(TINY), max_length=64, validate=False)
    assert fast.data["lengths"] == slow.data["lengths"]
    assert fast.data["truncation"] == slow.data["truncation"]
    assert np.isfinite(fast.data["lengths"]["sequence"]["mean"])
