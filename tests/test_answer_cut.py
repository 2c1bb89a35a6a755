"""Rows a keep_start cut leaves with reasoning and no answer (`templates.answercut`):
counted by `tokenize_table` (convert --tokenize, train) and by the report, in one wording."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.templates.answercut import answer_cut_warning, reasoning_heads
from trlprep.templates.tokenize import tokenize_table

TOKENIZER = str(Path(__file__).resolve().parents[1] / "examples" / "tiny-chat-model")
THINK = "<think>" + "because " * 60 + "</think>"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TOKENIZER)


def _n(tok, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def test_heads_end_at_the_last_reasoning_end_of_either_marker():
    texts = pa.array(
        [
            "<think>a</think>b<think>c</think>d",
            "<|begin_of_thought|>x<|end_of_thought|>y",
            "no",
            None,
        ]
    )
    assert reasoning_heads(texts).to_pylist() == [
        "<think>a</think>b<think>c</think>",
        "<|begin_of_thought|>x<|end_of_thought|>",
        None,
        None,
    ]


def test_a_cut_inside_the_reasoning_is_counted_and_one_past_it_is_not(tok):
    completion = THINK + " the answer is 42." * 20
    table = pa.table(
        {
            "prompt": ["Q: ", "Q: ", "Q: "],
            "completion": [
                completion,
                "no reasoning " * 80,
                THINK[:-8] + " still" * 20,
            ],  # unclosed
        }
    )
    head = _n(tok, "Q: " + THINK)
    _, cut = tokenize_table(table, "prompt-completion", tok, max_length=head - 5)
    assert cut.truncated == 3 and cut.answer_cut == 1 and cut.answer_need == head
    said = cut.answer_cut_warning()
    assert said == answer_cut_warning(1, head - 5, head)
    assert said.startswith(f"1 row cut to --max-length {head - 5} before the end of its reasoning")
    assert f"--max-length {head} keeps these answers" in said
    _, past = tokenize_table(table, "prompt-completion", tok, max_length=head)
    assert past.truncated == 3 and past.answer_cut == 0 and past.answer_cut_warning() is None
    _, end = tokenize_table(
        table, "prompt-completion", tok, max_length=head - 5, truncation="keep_end"
    )
    assert end.answer_cut == 0  # the end is kept, the answer with it


def test_pairs_and_whole_texts_count_a_row_once(tok):
    long = THINK + " answer" * 30
    pairs = pa.table({"prompt": ["Q"], "chosen": [long], "rejected": [long + " more"]})
    limit = _n(tok, "Q" + THINK) - 3
    _, rep = tokenize_table(pairs, "preference", tok, max_length=limit)
    assert rep.answer_cut == 1
    lm = pa.table({"text": [long, "short"]})
    _, rep = tokenize_table(lm, "language-modeling", tok, max_length=limit)
    assert rep.answer_cut == 1 and rep.answer_need >= limit


def test_the_report_counts_each_limit_and_warns_at_its_max_length(tmp_path):
    import json

    from trlprep.datareport import report

    rows = [{"prompt": "Q: ", "completion": THINK + " so 42." * 5}] * 3
    rows.append({"prompt": "Q: ", "completion": "plain " * 40})
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = report(str(path), tokenizer=TOKENIZER, max_length=64)
    (at,) = [lim for lim in rep.data["truncation"]["limits"] if lim["max_length"] == 64]
    assert at["reasoning_end_cut"] == 3
    text = rep.to_text()
    assert "warning: 3 rows cut to --max-length 64 before the end of their reasoning" in text
    assert rep.data["truncation"]["limits"][0]["max_length"] == 64
    big = [lim for lim in rep.data["truncation"]["limits"] if lim["max_length"] == 512]
    assert big[0]["reasoning_end_cut"] == 0
