"""Real NeMo-Aligner regression reward model data (NVIDIA/NeMo-Aligner
`tests/functional/test_data/test-rm.jsonl`): `text` rendered with NeMo's chat template beside
`label`, nine attribute scores per answer (-100 where unrated).

It is standard language modeling with an extra column. Before, `train --algo kto` and
`--algo reward`, refused, advised grpo, rloo, online-dpo ... "converted on the way in", which
standard text cannot be (grpo then failed); they now name only what trains on it.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import TINY_MODEL, run, sample

DATA = sample("nemo_aligner_rm")


def _src() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def test_detect_reads_the_text_and_carries_the_scores():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "language-modeling" in res.output and "standard" in res.output
    assert "extra columns  label" in res.output
    assert _src()[0]["label"] == [-100.0] * 4 + [4.0, 4.0, 4.0, 3.0, 2.0]


def test_validate_warns_on_nemo_template_tokens():
    res = run("validate", DATA)
    assert res.exit_code == 0, res.output
    assert "special-token (text): 8 rows" in res.output
    assert "valid: 8 rows of language-modeling (standard); 1 warning" in res.output


def test_a_chat_template_is_refused_on_the_rendered_text(tmp_path):
    from realdata.support import template_file

    out = tmp_path / "x.jsonl"
    res = run("convert", DATA, "--chat-template", template_file("qwen2_5"), "-o", out)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "the text is already rendered with a chat template (it holds `<extra_id_0>`" in text
    assert not out.exists()


@pytest.mark.parametrize(
    ("algo", "wants"), [("kto", "unpaired-preference"), ("reward", "preference-implicit")]
)
def test_a_refused_algorithm_names_only_what_trains_on_standard_text(tmp_path, algo, wants):
    res = run(
        "train", "--algo", algo, "--model", TINY_MODEL, "--data", DATA,
        "--output-dir", tmp_path / algo, "--max-steps", 1,
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert f"cannot convert language-modeling to {wants} in standard format" in text
    assert "language-modeling data trains with --algo sft, ppo as it is" in text
    assert "grpo" not in text and "converted on the way in" not in text
    assert "you can reach: prompt-completion" not in text


def test_conversational_language_modeling_still_names_the_conversions():
    """Rows written for the test: messages, where prompt-only and prompt-completion exist."""
    from trainers.algorithms import algorithms_for
    from trlprep.registry import Format

    as_is, converted = algorithms_for("language-modeling", fmt=Format.CONVERSATIONAL)
    assert as_is == ["sft", "ppo"] and "grpo" in converted
    assert algorithms_for("language-modeling", fmt=Format.STANDARD)[1] == []


def test_sft_trains_one_step_on_the_text(tmp_path):
    pytest.importorskip("torch")
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", DATA,
        "--output-dir", tmp_path / "sft", "--max-steps", 1, "--batch-size", 2,
        "--max-length", 256,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "language-modeling: 8 rows in" in res.output
    assert "trained 1 step" in res.output
