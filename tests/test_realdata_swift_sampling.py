"""Real `swift sample` output (modelscope/ms-swift
`examples/sampler/sample/sample_output/sampling.jsonl`): `messages` ending on the preferred
answer, beside a text `rejected_response` and the question's `id`; every message with
`loss: null`.

Read as the swift layout without being named (preference, conversational), the rejected text
made an assistant message; renders equal the original templates'; `--to unpaired` repeats
the rejected answer the lines of a question share, which `validate` names.
"""

from __future__ import annotations

import pytest
from realdata.support import (
    counts,
    original_render,
    original_template_args,
    records,
    rows_of,
    run,
    sample,
    train_one_step,
    without_nulls,
)

DATA = sample("swift_sampling_dpo")


def test_detect_reads_the_swift_layout_as_preference():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "preference (the swift layout, imported as convert does)" in res.output
    assert "rows           33" in res.output and "extra columns  id" in res.output


def test_convert_makes_the_rejected_text_an_assistant_message(tmp_path):
    out = tmp_path / "dpo.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 0, res.output
    assert "swift -> preference (conversational)" in res.output
    assert counts(res.output) == (33, 0, 33, 33)
    rows, src = rows_of(out), records(DATA)
    for row, record in zip(rows, src, strict=True):
        user, answer = without_nulls(record["messages"])
        assert without_nulls(row["prompt"]) == [user]
        assert without_nulls(row["chosen"]) == [answer]
        assert row["rejected"] == [{"role": "assistant", "content": record["rejected_response"]}]
        assert row["id"] == record["id"]
    assert rows[3]["chosen"][0]["content"].startswith("The midpoint of segment $s_1$ can be")


@pytest.mark.parametrize("template", ["qwen2_5", "llama3_1"])
def test_pairs_render_as_the_original_template(tmp_path, template):
    out = tmp_path / "out.jsonl"
    res = run("convert", DATA, *original_template_args(template), "-o", out, "--num-proc", "1")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (33, 0, 33, 33)
    for row, record in zip(rows_of(out), records(DATA), strict=True):
        user, answer = without_nulls(record["messages"])
        rejected = {"role": "assistant", "content": record["rejected_response"]}
        assert row["prompt"] == original_render(template, [user], add_generation_prompt=True)
        assert row["prompt"] + row["chosen"] == original_render(template, [user, answer])
        assert row["prompt"] + row["rejected"] == original_render(template, [user, rejected])


def test_unpaired_rows_repeat_the_shared_rejected_answer(tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", DATA, "--to", "unpaired", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (33, 0, 33, 66)
    res = run("validate", out)
    said = " ".join(res.output.split())
    assert "duplicate-row" in said and "line 4 repeats line 2" in said


def test_dpo_trains_one_step(tmp_path):
    pytest.importorskip("torch")
    res, metrics = train_one_step("dpo", DATA, tmp_path / "dpo", template="qwen2_5")
    assert res.exit_code == 0, res.output
    assert "swift layout -> preference (chat template applied): 33 rows in" in res.output
    assert metrics is not None and "loss" in metrics
