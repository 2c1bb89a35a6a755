"""Every failing row of the chat-template and tokenize stages in ONE RowFailures (issue 11,
item 6), with the template's (or tokenizer's) own message per row; extra columns, the hidden
ROW_ID included, pass through both stages unchanged and never reach the template."""

from __future__ import annotations

import pyarrow as pa
import pytest
from templates_support import TEMPLATES_DIR, template_tokenizer, tiny_tokenizer

from trlprep.errors import ROW_ID, RowFailures
from trlprep.io.readers import table_from_records
from trlprep.templates import load_template, render_table
from trlprep.templates.tokenize import tokenize_table


def u(text):
    return {"role": "user", "content": text}


def a(text):
    return {"role": "assistant", "content": text}


def lm_rows():
    ok = [u("Q"), a("A")]
    twice = [u("Q"), a("A"), a("again")]  # consecutive assistant turns
    system = [{"role": "system", "content": "S"}, u("Q"), a("A")]
    return [ok, twice, ok, system, ok, twice]


@pytest.mark.parametrize("num_proc", [1, 2])
def test_gemma_refusals_are_all_listed(monkeypatch, num_proc):
    import trlprep.templates.table as table_mod

    monkeypatch.setattr(table_mod, "MIN_ROWS_PER_WORKER", 2)
    table = table_from_records([{"messages": m} for m in lm_rows()])
    with pytest.raises(RowFailures) as info:
        render_table(table, "lm", load_template("gemma"), num_proc=num_proc)
    e = info.value
    assert e.stage == "chat template" and e.rows == [1, 3, 5]
    assert "Conversation roles must alternate" in e.reasons[0]
    assert "System role not supported" in e.reasons[1]
    assert e.reasons[0] == e.reasons[2]


@pytest.mark.skipif(not TEMPLATES_DIR.exists(), reason="../shared is absent")
def test_original_gemma_refusals_keep_the_template_message():
    tokenizer = template_tokenizer(TEMPLATES_DIR / "gemma.jinja")
    table = table_from_records([{"messages": m} for m in lm_rows()])
    with pytest.raises(RowFailures) as info:
        render_table(table, "lm", load_template(tokenizer), num_proc=1)
    assert info.value.rows == [1, 3, 5]
    with pytest.raises(Exception) as original:
        tokenizer.apply_chat_template(lm_rows()[1], tokenize=False)
    assert str(original.value) in info.value.reasons[0]


def test_extra_columns_and_row_ids_pass_through_render_and_tokenize():
    rows = [
        {"prompt": [u("Q1")], "completion": [a("good")], "id": "x", "chat_template_kwargs": None},
        {"prompt": [u("Q2")], "completion": [a("bad")], "id": "y", "chat_template_kwargs": None},
    ]
    table = table_from_records(rows).append_column(ROW_ID, pa.array([7, 9], pa.int64()))
    probe = "{% for m in messages %}{{ m.content }}|{% endfor %}{{ __trlprep_row__ }}{{ id }}"
    out, _ = render_table(table, "pc", load_template(probe), num_proc=1)
    assert out.column("prompt").to_pylist() == ["Q1|", "Q2|"]  # neither column is a kwarg
    assert out.column_names == ["prompt", "completion", "id", "chat_template_kwargs", ROW_ID]
    assert out.column(ROW_ID).to_pylist() == [7, 9] and out.column("id").to_pylist() == ["x", "y"]
    tok = tiny_tokenizer(None, words=["Q1", "Q2", "good", "bad", "|"])
    ids, _ = tokenize_table(out, "pc", tok)
    assert ids.column_names[:5] == out.column_names
    assert ids.column(ROW_ID).to_pylist() == [7, 9]


def test_tokenize_lists_every_row_without_text():
    table = pa.table({"text": ["a b", None, "c", None], ROW_ID: [0, 1, 2, 3]})
    tok = tiny_tokenizer(None, words=["a", "b", "c"])
    with pytest.raises(RowFailures) as info:
        tokenize_table(table, "language-modeling", tok)
    e = info.value
    assert e.stage == "tokenize" and e.rows == [1, 3]
    assert e.reasons == ["text: the text is missing (null)"] * 2


def test_tokenizer_errors_are_found_row_by_row():
    class Picky:
        """A tokenizer that refuses any text holding 'boom'."""

        def __init__(self):
            self.inner = tiny_tokenizer(None, words=["a", "boom"])
            self.bos_token = None
            self.eos_token = "</s>"

        def __call__(self, texts, **kw):
            if any("boom" in t for t in (texts if isinstance(texts, list) else [texts])):
                raise ValueError("cannot take boom")
            return self.inner(texts, **kw)

        def convert_tokens_to_ids(self, t):
            return self.inner.convert_tokens_to_ids(t)

    table = pa.table({"text": ["a", "a boom", "a", "boom"]})
    with pytest.raises(RowFailures) as info:
        tokenize_table(table, "language-modeling", Picky())
    assert info.value.rows == [1, 3]
    assert info.value.reasons[0] == "text: the tokenizer failed: ValueError: cannot take boom"
