"""Text already rendered with a chat template (NeMo-Aligner's `<extra_id_1>` turns, ChatML's
`<|im_start|>`) about to be rendered again is said, naming its rows: convert and train warn,
validate's `special-token` hint says what to do. Before, it was templated twice silently."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
from realdata.support import TINY_MODEL, run, sample

import trlprep
from trlprep.columns.prerendered import prerendered_rows

NEMO = sample("nemo_aligner_dpo")
MAP = "chosen=chosen_response,rejected=rejected_response"
CHATML_ROW = {
    "messages": [
        {"role": "user", "content": "<|im_start|>user\nHi<|im_end|>"},
        {"role": "assistant", "content": "Hello"},
    ]
}
RAW_ROW = {
    "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
}


def test_convert_with_a_template_names_nemo_s_rendered_rows(tmp_path):
    out = tmp_path / "o.jsonl"
    res = run(
        "convert", NEMO, "--map", MAP, "--conversational", "--chat-template", "chatml", "-o", out
    )
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "warning: 100 rows (lines 1, 2, 3, 4, 5 (and 95 more)): the text is already " in said
    assert "`<extra_id_0>`, `<extra_id_1>`" in said
    assert "without --chat-template (and without --conversational" in said


def test_raw_text_rendered_says_nothing(tmp_path):
    src = tmp_path / "raw.jsonl"
    src.write_text(json.dumps(RAW_ROW) + "\n")
    res = run("convert", src, "--chat-template", "chatml", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0 and "already rendered" not in res.output


def test_the_python_api_warns_on_the_row_and_names_keywords():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.convert([RAW_ROW, CHATML_ROW], chat_template="chatml")
    said = [str(w.message) for w in caught if "already rendered" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("1 row (row 1): ")
    assert "without chat_template" in said[0] and "--chat-template" not in said[0]


def test_validate_hints_the_text_is_rendered_already():
    res = run("validate", NEMO, "--map", MAP, "--conversational")
    said = " ".join(res.output.split())
    assert res.exit_code == 0
    assert "hint special-token: the text is already rendered with a chat template" in said
    # standard text is trained as it is: its special-token hint stays the tokenizer's
    res = run("validate", NEMO, "--map", MAP)
    assert "already rendered" not in res.output and "special-token" in res.output


def test_train_warns_before_rendering_the_rendered_rows():
    from transformers import AutoTokenizer

    from trainers.data_table import to_training_table

    rows = [json.loads(x) for x in NEMO.read_text(encoding="utf-8").splitlines()[:4]]
    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_training_table(
            pa.Table.from_pylist(rows), ["preference"], tok, algo="dpo", column_map=MAP,
            import_options={"conversational": True},
        )  # fmt: skip
    assert any("4 rows" in str(w.message) and "already rendered" in str(w.message) for w in caught)


def test_rows_are_found_in_text_and_in_message_contents():
    table = pa.table(
        {
            "prompt": ["plain", "[INST] hi [/INST]", None],
            "completion": ["x", "y", "<|start_header_id|>assistant"],
        }
    )
    rows, markers = prerendered_rows(table, ("prompt", "completion"))
    assert rows.tolist() == [1, 2] and markers == ["[INST]", "<|start_header_id|>"]
    msgs = pa.Table.from_pylist([RAW_ROW, CHATML_ROW, RAW_ROW])
    rows, markers = prerendered_rows(msgs, ("messages",))
    assert np.array_equal(rows, [1]) and markers == ["<|im_start|>"]
