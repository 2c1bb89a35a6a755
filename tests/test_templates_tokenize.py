"""Token-id columns: prompt ids are a prefix, no duplicated BOS, boundary merges counted."""

from __future__ import annotations

import pyarrow as pa
import pytest
from templates_support import tiny_tokenizer

from trlprep.errors import UsageError
from trlprep.readers import table_from_records
from trlprep.templates import load_template, render_table
from trlprep.templates.tokenize import tokenize_table

WORDS = ["Q1", "Q2", "A", "B", "good", "bad", "user", "assistant", "<|im_start|>", "<|im_end|>"]


def bos_tokenizer():
    """A tokenizer that adds BOS by default (like Llama's)."""
    from tokenizers import processors

    tok = tiny_tokenizer(None, bos="<s>", eos="</s>", words=WORDS)
    bos = tok.convert_tokens_to_ids("<s>")
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", bos)]
    )
    return tok


def rows(kind):
    p = [{"role": "user", "content": "Q1"}]
    a = [{"role": "assistant", "content": "good"}]
    b = [{"role": "assistant", "content": "bad"}]
    return {
        "pc": [{"prompt": p, "completion": a}],
        "pref": [{"prompt": p, "chosen": a, "rejected": b}] * 2,
        "lm": [{"messages": p + a}],
    }[kind]


def templated(kind, dtype, template="chatml"):
    return render_table(table_from_records(rows(kind)), dtype, load_template(template), num_proc=1)[
        0
    ]


def test_prompt_completion_ids_and_mask():
    tok = bos_tokenizer()
    table, report = tokenize_table(templated("pc", "pc"), "pc", tok)
    ids = table.column("input_ids").to_pylist()[0]
    mask = table.column("completion_mask").to_pylist()[0]
    text = table.column("prompt").to_pylist()[0] + table.column("completion").to_pylist()[0]
    assert ids == [tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.bos_token_id) == 1
    n_prompt = 1 + len(
        tok(table.column("prompt").to_pylist()[0], add_special_tokens=False)["input_ids"]
    )
    assert mask == [0] * n_prompt + [1] * (len(ids) - n_prompt)
    assert report.boundary_merges == 0 and report.rows == 1


def test_text_starting_with_bos_gets_no_second_bos():
    tok = bos_tokenizer()
    tok.chat_template = "{{ bos_token }}{% for m in messages %}{{ m.content }} {% endfor %}"
    table = templated("lm", "lm", load_template(tok))
    out, _ = tokenize_table(table, "lm", tok)
    ids = out.column("input_ids").to_pylist()[0]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1


def test_preference_ids_share_the_prompt():
    tok = tiny_tokenizer(None, words=WORDS)
    table, _ = tokenize_table(templated("pref", "preference"), "preference", tok)
    prompt_ids, chosen, rejected = (
        table.column(c).to_pylist()[0] for c in ("prompt_ids", "chosen_ids", "rejected_ids")
    )
    full = tok(
        table.column("prompt").to_pylist()[0] + table.column("chosen").to_pylist()[0],
        add_special_tokens=False,
    )
    assert prompt_ids + chosen == full["input_ids"]
    assert rejected and rejected != chosen
    assert table.schema.field("chosen_ids").type == pa.list_(pa.int32())


def test_boundary_merges_are_counted_and_split_at_the_common_prefix():
    tok = tiny_tokenizer(None, words=["ab", "abc", "c", "x"])
    table = pa.table({"prompt": ["x ab", "x ab "], "completion": ["c", "c"]})
    out, report = tokenize_table(table, "pc", tok)
    assert report.boundary_merges == 1 and report.boundary_examples == [0]
    ids, mask = out.column("input_ids").to_pylist(), out.column("completion_mask").to_pylist()
    assert ids[0] == tok("x abc", add_special_tokens=False)["input_ids"]
    assert mask[0] == [0, 1]  # the merged token belongs to the completion
    assert mask[1] == [0, 0, 1]


def test_truncation_modes():
    tok = tiny_tokenizer(None, words=["p1", "p2", "p3", "c1", "c2"])
    table = pa.table({"prompt": ["p1 p2 p3 "], "completion": ["c1 c2"]})
    keep_start, report = tokenize_table(table, "pc", tok, max_length=4)
    assert report.truncated == 1
    assert keep_start.column("completion_mask").to_pylist() == [[0, 0, 0, 1]]
    keep_end, _ = tokenize_table(table, "pc", tok, max_length=4, truncation="keep_end")
    assert keep_end.column("completion_mask").to_pylist() == [[0, 0, 1, 1]]
    with pytest.raises(UsageError):
        tokenize_table(table, "pc", tok, truncation="middle")


def test_conversational_input_is_refused():
    with pytest.raises(UsageError, match="chat template first"):
        tokenize_table(table_from_records(rows("pc")), "pc", tiny_tokenizer(None))
