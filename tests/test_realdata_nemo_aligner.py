"""Real NeMo-Aligner DPO data (NVIDIA/NeMo-Aligner `tests/functional/test_data/dummy-dpo.jsonl`):
a `prompt` rendered with NeMo's chat template beside `chosen_response` / `rejected_response`.

Before, `detect`, a refused `convert --to preference` and a refused `train --algo dpo` read the
answers as SFT material (`--map completion=chosen_response`, the rejected answer lost) or said
nothing; now they name the preference `--map` (train: `--data-map`), and `validate` warns on
NeMo's template tokens.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from realdata.support import TINY_MODEL, counts, rows_of, run, sample

DATA = sample("nemo_aligner_dpo")
MAP = "chosen=chosen_response,rejected=rejected_response"
PROMPT_1 = (
    "<extra_id_0>System\n\n<extra_id_1>User\nThis is a test question?\n<extra_id_1>Assistant\n"
)


def _src() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def test_detect_names_the_preference_map_not_an_sft_answer():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "prompt-only" in res.output  # the columns as they are
    assert f"`--map {MAP}`" in res.output, res.output
    assert "completion=chosen_response" not in res.output


def test_a_refused_conversion_to_preference_names_the_map(tmp_path):
    res = run("convert", DATA, "--to", "preference", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2
    assert f"--map {MAP}" in res.output and "completion=chosen_response" not in res.output


def test_the_map_makes_preference_rows_byte_for_byte(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", DATA, "--map", MAP, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    rows = rows_of(out)
    assert rows[0] == {
        "prompt": PROMPT_1,
        "chosen": "This is the chosen response.\n<extra_id_1>",
        "rejected": "This is the rejected response.\n<extra_id_1>",
    }
    src = _src()
    assert [r["chosen"] for r in rows] == [s["chosen_response"] for s in src]
    assert [r["rejected"] for r in rows] == [s["rejected_response"] for s in src]


def test_unpaired_for_kto_labels_each_answer(tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", DATA, "--map", MAP, "--to", "unpaired", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 200)
    rows = rows_of(out)
    assert [r["label"] for r in rows[:2]] == [True, False]
    assert rows[1]["completion"] == "This is the rejected response.\n<extra_id_1>"


def test_validate_warns_on_nemo_template_tokens_and_repeated_lines():
    res = run("validate", DATA, "--map", MAP)
    assert res.exit_code == 0, res.output
    assert "special-token (prompt): 100 rows" in res.output
    assert "literal special token (<extra_id_0>)" in res.output
    assert "special-token (chosen): 100 rows" in res.output  # the `\n<extra_id_1>` ending
    assert "duplicate-row: 96 rows, lines 5, 6, 7, 8, 9" in res.output
    assert "valid: 100 rows of preference (standard); 4 warnings" in res.output


def test_report_reads_the_mapped_pairs():
    res = run("report", DATA, "--map", MAP)
    assert res.exit_code == 0, res.output
    assert "preference (standard), 100 rows" in res.output


def test_train_without_the_map_names_it_in_train_s_words():
    from transformers import AutoTokenizer

    from trainers.data_table import to_training_table
    from trlprep.errors import UsageError

    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    data = pa.Table.from_pylist(_src()[:8])
    with pytest.raises(UsageError) as e:
        to_training_table(data, ["preference"], tok, algo="dpo")
    assert f"`--data-map {MAP}`" in e.value.hint, e.value.hint
    assert "trlprep convert DATA" not in e.value.hint
    table = to_training_table(data, ["preference"], tok, algo="dpo", column_map=MAP).table
    assert table.column("prompt")[0].as_py() == PROMPT_1
    assert table.column("rejected")[1].as_py() == "This is another rejected response.\n<extra_id_1>"


def test_dpo_trains_two_steps_on_the_mapped_pairs(tmp_path):
    pytest.importorskip("torch")
    res = run(
        "train", "--algo", "dpo", "--model", TINY_MODEL, "--data", DATA, "--data-map", MAP,
        "--output-dir", tmp_path / "dpo", "--max-steps", 2, "--batch-size", 4,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "map layout -> preference: 100 rows in" in res.output
    assert "trained 2 steps" in res.output


def test_answers_named_for_chosen_and_rejected_beside_a_question(tmp_path):
    """Rows written for the test: the same answers beside `question` (no `prompt`), no type."""
    path = tmp_path / "q.jsonl"
    rows = [
        {"question": s["prompt"], "chosen_response": s["chosen_response"],
         "rejected_response": s["rejected_response"]}
        for s in _src()[:4]
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = run("detect", path)
    mapping = "prompt=question,chosen=chosen_response,rejected=rejected_response"
    assert "named for the chosen and the rejected one ('chosen_response' preferred)" in res.output
    assert f"`--map {mapping}`" in res.output, res.output
    out = tmp_path / "pref.jsonl"
    res = run("convert", path, "--map", mapping, "-o", out)
    assert res.exit_code == 0, res.output
    assert rows_of(out)[0]["prompt"] == PROMPT_1
