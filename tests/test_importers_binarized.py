"""Binarized preference conversations beside a text prompt (HuggingFaceH4/ultrafeedback_binarized,
MIT; rows shaped as its dataset card: prompt, prompt_id, chosen, rejected, messages,
score_chosen, score_rejected) read as TRL's maybe_extract_prompt reads them."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app
from trlprep.errors import DataError
from trlprep.importers import detect_layout, import_table


def _row(i: int, prompt: str | None = None, system: bool = False) -> dict:
    animal = ["cat", "bird", "ant"][i % 3]
    user = {"role": "user", "content": f"How many legs does a {animal} have?"}
    head = [{"role": "system", "content": "Be brief."}] if system else []
    good = {"role": "assistant", "content": ["Four.", "Two.", "Six."][i % 3]}
    bad = {"role": "assistant", "content": "I am not sure."}
    return {
        "prompt": user["content"] if prompt is None else prompt,
        "prompt_id": f"id{i}",
        "chosen": [*head, user, good],
        "rejected": [*head, user, bad],
        "messages": [*head, user, good],
        "score_chosen": 8.0,
        "score_rejected": 3.5,
    }


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def test_detected_and_read_as_trl_reads_it():
    from trl.data_utils import maybe_extract_prompt

    rows = [_row(i, system=i == 2) for i in range(3)]
    table = _table(rows)
    assert detect_layout(table.schema, table) == "binarized"
    r = import_table(table, "binarized")
    assert r.dtype.name == "preference-implicit" and r.fmt.value == "conversational"
    assert "prompt" not in r.table.column_names
    assert r.table.column_names[:2] == ["chosen", "rejected"]
    assert {"prompt_id", "messages", "score_chosen", "score_rejected"} <= set(r.table.column_names)
    assert any("dropped" in n for n in r.notes)
    out = api.convert(r.table, "preference").to_pylist()
    for got, row in zip(out, rows, strict=True):
        want = maybe_extract_prompt(row)  # TRL ignores the text prompt and extracts it
        for k in ("prompt", "chosen", "rejected"):
            assert got[k] == want[k], k
        assert got["score_chosen"] == 8.0 and got["prompt_id"] == row["prompt_id"]


def test_a_text_prompt_that_is_no_user_turn_is_kept():
    rows = [_row(0), _row(1, prompt="Something else entirely")]
    r = import_table(_table(rows), "binarized")
    assert r.table.column("prompt_text").to_pylist() == [rows[0]["prompt"], rows[1]["prompt"]]
    assert any("1 row holds a text that is not a user turn" in n for n in r.notes)


def test_the_kept_column_must_not_clash():
    rows = [{**_row(0, prompt="other"), "prompt_text": "x"}]
    with pytest.raises(DataError, match="prompt_text"):
        import_table(_table(rows), "binarized")


def test_explicit_conversational_prompts_are_not_this_layout():
    row = _row(0)
    row["prompt"] = [row["chosen"][0]]
    row["chosen"], row["rejected"] = row["chosen"][1:], row["rejected"][1:]
    table = _table([row])
    assert detect_layout(table.schema, table) is None


def test_cli_detect_and_convert(tmp_path):
    src = tmp_path / "uf.jsonl"
    src.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(3)))
    runner = CliRunner()
    res = runner.invoke(app, ["detect", str(src)])
    assert res.exit_code == 0, res.output
    assert "binarized layout" in res.output
    out = tmp_path / "kto.jsonl"
    res = runner.invoke(app, ["convert", str(src), "--to", "unpaired", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 rows in, 0 rejected, 3 converted -> 6 rows out" in res.output
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert got[0]["prompt"] == [{"role": "user", "content": "How many legs does a cat have?"}]
    assert got[0]["completion"] == [{"role": "assistant", "content": "Four."}]
    assert [g["label"] for g in got] == [True, False] * 3


def test_trainers_read_it_as_convert_does():
    """DPO trains on UltraFeedback-binarized rows as they are (TRL's DPOTrainer does too)."""
    from trainers.data_table import to_training_table

    table, src, route, templated, *_ = to_training_table(
        _table([_row(0), _row(1)]), ["preference"], None, chat_template="chatml", algo="dpo"
    )
    assert src == "preference-implicit" and route[-1] == "preference" and templated
    assert table.column("prompt").to_pylist()[0] == (
        "<|im_start|>user\nHow many legs does a cat have?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert table.column("chosen").to_pylist()[0] == "Four.<|im_end|>\n"


def test_validate_checks_it_as_trl_reads_it(tmp_path):
    src = tmp_path / "uf.jsonl"
    src.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(3)))
    res = CliRunner().invoke(app, ["validate", str(src)])
    assert res.exit_code == 0, res.output
    assert "checked as the binarized layout (preference-implicit, conversational)" in " ".join(
        res.output.split()
    )
    bad = _row(3)
    bad["rejected"] = bad["rejected"][:1]  # only the user's turn: no answer to prefer against
    src.write_text("".join(json.dumps(r) + "\n" for r in [_row(0), bad]))
    res = CliRunner().invoke(app, ["validate", str(src), "--strict"])
    assert res.exit_code == 1 and "no-common-prefix" in res.output, res.output
