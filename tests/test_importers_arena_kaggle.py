"""The `arena` layout on Kaggle's form of Chatbot Arena battles (lmsys
`arena-human-preference-55k` / `-100k` / `-140k`): `id`, `model_a`, `model_b`, `prompt`,
`response_a`, `response_b` (JSON-encoded lists of strings, one per turn; `null` entries
occur), one-hot `winner_model_a`, `winner_model_b`, `winner_tie` (0/1).

Those datasets are not MIT / Apache-2.0 licensed, so the rows are written for the test in
their exact layout (the CSV as Kaggle's train.csv writes it, JSON text in its cells).
Before, no command read them: detect called them prompt-only, convert wrote the JSON text
of the first question as a prompt.
"""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pytest
from realdata.support import counts, original_render, rows_of, run

from trainers.data_table import to_training_table
from trlprep.importers import import_table


def _conv(*turns: str) -> list[dict]:
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]


def _row(i, prompt, a, b, won, model_a="gpt-4-1106-preview", model_b="llama-2-70b-chat"):
    return {
        "id": 30192 + i, "model_a": model_a, "model_b": model_b, "prompt": json.dumps(prompt),
        "response_a": json.dumps(a), "response_b": json.dumps(b),
        "winner_model_a": won[0], "winner_model_b": won[1], "winner_tie": won[2],
    }  # fmt: skip


TWO_Q = ["Is pineapple on pizza ok?", "And anchovies?"]
ROWS = [
    _row(0, TWO_Q, ['Yes, "Hawaiian".', "Also fine."], ["No.", "Never."], (1, 0, 0)),
    _row(1, ["Marriage license vs certificate?"], ["A license..."], ["One is..."], (0, 1, 0)),
    _row(2, ["explain function calling"], ["It is..."], ["Calling is..."], (0, 0, 1)),
    _row(3, ["hi", "more"], ["hello", None], ["hey", "sure"], (1, 0, 0)),
    _row(4, ["one", "two"], ["a"], ["b", "c"], (0, 1, 0)),
    _row(5, ["x"], ["y"], ["z"], (1, 1, 0)),
]
REASONS = [
    (2, "winner_tie is 1 (a tie): no pair"),
    (3, "response_a turn 2 is null (no text for it): no conversation"),
    (4, "prompt, response_a and response_b hold 2, 1 and 2 turns (one string per turn each): "
        "no conversation"),
    (5, "winner_model_a, winner_model_b, winner_tie are 1, 1, 0: one of them must be 1 and the "
        "others 0; no pair"),
]  # fmt: skip


@pytest.fixture(params=["csv", "jsonl"])
def battles(tmp_path, request):
    path = tmp_path / f"train.{request.param}"
    if request.param == "csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
            writer.writeheader()
            writer.writerows(ROWS)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_detect_names_the_arena_layout(battles):
    res = run("detect", battles)
    assert res.exit_code == 0, res.output
    assert "preference-implicit (the arena layout" in res.output, res.output
    assert "--from arena" in res.output


def test_turns_are_zipped_and_the_one_hot_winner_is_chosen(battles, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", battles, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 4, 2, 2)
    first, second = rows_of(out)
    assert first["chosen"] == _conv(TWO_Q[0], 'Yes, "Hawaiian".', TWO_Q[1], "Also fine.")
    assert first["rejected"] == _conv(TWO_Q[0], "No.", TWO_Q[1], "Never.")
    assert (first["chosen_model"], first["rejected_model"]) == ("gpt-4-1106-preview",
                                                                "llama-2-70b-chat")  # fmt: skip
    assert second["chosen"] == _conv("Marriage license vs certificate?", "One is...")
    assert second["chosen_model"] == "llama-2-70b-chat" and second["id"] == 30193
    assert not {"prompt", "response_a", "winner_tie", "model_a"} & set(first)
    rejects = rows_of(tmp_path / "pairs.rejects.jsonl")
    assert [(r["row"], r["reason"]) for r in rejects] == REASONS
    if battles.suffix == ".jsonl":
        assert [r["line"] for r in rejects] == [3, 4, 5, 6]


def test_rows_that_stop_the_run_are_named(battles, tmp_path):
    res = run("convert", battles, "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    assert "winner_tie is 1 (a tie): no pair" in " ".join(res.output.split())


def test_lists_already_decoded_and_text_that_is_no_list():
    """Parquet or `datasets` rows may hold the turn lists as lists; a cell that is no JSON
    list of strings is reported, the other rows imported."""
    rows = [{**r, **{k: json.loads(r[k]) for k in ("prompt", "response_a", "response_b")}}
            for r in ROWS[:2]]  # fmt: skip
    r = import_table(pa.Table.from_pylist(rows), "arena")
    assert r.table.column("chosen")[0].as_py()[1]["content"] == 'Yes, "Hawaiian".'
    broken = [ROWS[0], {**ROWS[1], "response_b": "One is..."}, {**ROWS[1], "prompt": '[1, "x"]'}]
    r = import_table(pa.Table.from_pylist(broken), "arena", on_error="skip")
    assert r.table.num_rows == 1
    assert r.rejects.column("reason").to_pylist() == [
        "response_b is not a JSON list of strings (one per turn): no conversation",
        "prompt is not a JSON list of strings (one per turn): no conversation",
    ]


def test_kto_rows_and_training_read_it(battles, tmp_path):
    kto = tmp_path / "kto.jsonl"
    res = run("convert", battles, "--to", "unpaired-preference", "-o", kto, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 4, 2, 4)
    assert [r["label"] for r in rows_of(kto)] == [True, False, True, False]
    table, _src, route, *_ = to_training_table(
        pa.Table.from_pylist(ROWS[:2]), ["preference"], None, chat_template="chatml", algo="dpo"
    )
    assert route[0] == "arena layout" and table.num_rows == 2


@pytest.mark.parametrize("template", ["llama3_1", "qwen2_5"])
def test_pairs_render_as_the_original_template(tmp_path, template):
    from realdata.support import original_template_args

    template_args = original_template_args(template)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = run("convert", data, "--to", "preference", *template_args,
              "-o", out, "--num-proc", "1")  # fmt: skip
    assert res.exit_code == 0, res.output
    got = rows_of(out)[0]
    chosen = _conv(TWO_Q[0], 'Yes, "Hawaiian".', TWO_Q[1], "Also fine.")
    rejected = _conv(TWO_Q[0], "No.", TWO_Q[1], "Never.")
    assert got["prompt"] == original_render(template, chosen[:1], add_generation_prompt=True)
    assert got["prompt"] + got["chosen"] == original_render(template, chosen)
    assert got["prompt"] + got["rejected"] == original_render(template, rejected)
