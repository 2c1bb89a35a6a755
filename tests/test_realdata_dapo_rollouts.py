"""Real DAPO rollouts (InternLM/xtuner `tests/resource/dapo_math_response_data.jsonl`): records
pretty-printed over many lines in a `.jsonl` file, a ChatML-rendered `prompt`, a `<think>`
`response`, the reference answer as a text `label` and a `reward`.

Before: every command stopped at line 1 with "Expecting property name" and "each line must
hold one JSON object"; `detect` advised `--map completion=response`, which read `label` as
KTO's label and refused all 12 rows (`label-type`), as did `train --data-map` the same; and
`--chat-template` on the rendered text advised `--conversational` (templating it twice). Now
the first error names the pretty-printing and the jq command that writes JSON Lines, the
advice renames `label` out of the way, and `--chat-template` is refused as already rendered.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import TINY_MODEL, counts, rows_of, run, sample, template_file

DATA = sample("xtuner_dapo_rollouts")
MAP = "completion=response,label_value=label"


def _records() -> list[dict]:
    """The records of the sample, read as `jq -c .` reads them (one JSON value after another)."""
    text, decoder, out, i = DATA.read_text(encoding="utf-8"), json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        record, i = decoder.raw_decode(text, i)
        out.append(record)
    return out


@pytest.fixture
def lines_file(tmp_path):
    """The sample as JSON Lines (what the advised `jq -c .` writes)."""
    path = tmp_path / "dapo.lines.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records()), encoding="utf-8"
    )
    return path


@pytest.mark.parametrize("command", ["detect", "validate", "convert"])
def test_pretty_printed_records_are_named_with_the_command_that_writes_json_lines(
    command, tmp_path
):
    args = ["-o", tmp_path / "x.jsonl"] if command == "convert" else []
    res = run(command, DATA, *args)
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    at = "invalid-line: 1 line, line 1" if command == "validate" else f"{DATA}:1:"
    assert f"{at} invalid JSON: the object opened on this line does not end on it" in said
    assert "JSON written over several lines (pretty-printed), not JSON Lines" in said
    lines = DATA.with_name("dapo_math_response_data.sample.lines.jsonl")
    assert f"write each object on one line: `jq -c . {DATA} > {lines}`" in said
    assert "each line must hold one JSON object" not in said
    # skipping would skip every line: neither the hint nor validate's note offers it
    assert "--on-bad-lines skip" not in said


def test_a_broken_line_of_json_lines_keeps_its_own_error(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": }\n')
    res = run("detect", path)
    assert res.exit_code == 1
    assert ":2: invalid JSON: Expecting value (column 31)" in res.output
    assert "pretty-printed" not in res.output
    assert "or pass --on-bad-lines skip" in " ".join(res.output.split())


def test_detect_advises_a_map_that_moves_the_answer_label_out_of_the_way(lines_file):
    res = run("detect", lines_file)
    assert res.exit_code == 0, res.output
    assert "prompt-only" in res.output
    said = " ".join(res.output.split())
    assert f"`--map {MAP}`" in said, said
    assert "'label' renamed: it holds no true/false values" in said


def test_a_refused_conversion_to_prompt_completion_names_the_same_map(lines_file, tmp_path):
    res = run("convert", lines_file, "--to", "prompt-completion", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2
    assert f"--map {MAP}" in " ".join(res.output.split())


def test_the_advised_map_keeps_every_rollout_byte_for_byte(lines_file, tmp_path):
    out = tmp_path / "sft.jsonl"
    res = run("convert", lines_file, "--map", MAP, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (12, 0, 12, 12)
    rows, src = rows_of(out), _records()
    assert list(rows[0]) == ["prompt", "completion", "response_len", "label_value", "reward"]
    assert rows[0]["prompt"].startswith("<|im_start|>user\nSolve the following math problem")
    assert rows[0]["completion"].startswith("<think>\nOkay, let's see. I need to solve")
    assert rows[0]["completion"].endswith("Answer: 33<|im_end|>")
    assert [r["completion"] for r in rows] == [s["response"] for s in src]
    assert [r["prompt"] for r in rows] == [s["prompt"] for s in src]
    assert [r["label_value"] for r in rows] == [s["label"] for s in src]
    # a rollout cut inside its reasoning (no </think>, no <|im_end|>) is kept as it is
    assert "</think>" not in rows[9]["completion"] and rows[9]["reward"] == -2.0


def test_the_map_alone_reads_label_as_kto_label_and_says_how_to_rename_it(lines_file, tmp_path):
    """What the old advice led to: every row refused (`label-type`); the reason now says the
    column is no true/false label and how to keep it apart."""
    res = run("convert", lines_file, "--map", "completion=response", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "column 'label' holds string values; booleans are needed" in said
    assert (
        "(no value reads as true or false: no true/false label; if it is something else, such "
        "as a reference answer, rename it, keeping the map's other entries: "
        "--map ...,label_value=label)"
    ) in said


def test_python_says_the_rename_as_a_map_entry(lines_file):
    """Was: "add label_value=label to map", the flag's words with its dashes cut."""
    import trlprep
    from trlprep.errors import DataError

    with pytest.raises(DataError) as e:
        trlprep.convert(str(lines_file), map={"completion": "response"})
    said = " ".join(str(e.value).split())
    assert "rename it, keeping the map's other entries: map={..., 'label_value': 'label'})" in said


def test_a_chat_template_over_rendered_text_is_refused_as_rendered(lines_file, tmp_path):
    template = template_file("qwen3")
    res = run(
        "convert", lines_file, "--map", MAP, "--chat-template", template,
        "-o", tmp_path / "x.jsonl",
    )  # fmt: skip
    assert res.exit_code == 2
    said = " ".join(res.output.split())
    assert "already rendered with a chat template (it holds `<|im_start|>`)" in said
    assert "--conversational would make it messages and template it twice" in said
    assert "or pass --conversational to make" not in said


def test_python_convert_says_the_same_in_keywords(lines_file):
    import trlprep
    from trlprep.errors import UsageError

    with pytest.raises(UsageError) as e:
        trlprep.convert(
            str(lines_file),
            map={"completion": "response", "label_value": "label"},
            chat_template=str(template_file("qwen3")),
        )
    said = str(e.value)
    assert said.startswith("chat_template applies to conversational data; this data is")
    with pytest.raises(UsageError) as refused:
        trlprep.convert(str(lines_file), to="prompt-completion")
    assert "map={'completion': 'response', 'label_value': 'label'}" in refused.value.hint
    assert "already rendered with a chat template" in said
    assert "hint: drop chat_template and" in said and "conversational=True would" in said


def test_train_refuses_the_template_and_trains_one_step_on_the_text(lines_file, tmp_path):
    pytest.importorskip("torch")
    two = tmp_path / "two.jsonl"
    two.write_text("".join(lines_file.read_text(encoding="utf-8").splitlines(True)[:2]))
    args = ["--model", TINY_MODEL, "--data", two, "--data-map", MAP, "--max-steps", 1]
    res = run(
        "train", "--algo", "sft", *args, "--chat-template", template_file("qwen3"),
        "--output-dir", tmp_path / "refused",
    )  # fmt: skip
    assert res.exit_code == 2
    assert "already rendered with a chat template" in " ".join(res.output.split())
    res = run(
        "train", "--algo", "sft", *args, "--batch-size", 2, "--max-length", 2048,
        "--output-dir", tmp_path / "sft",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "map layout -> prompt-completion: 2 rows in" in res.output
    assert "trained 1 step" in res.output


@pytest.mark.parametrize("given", ["folder", "glob"])
def test_the_command_for_a_file_of_a_folder_writes_outside_the_folder(given, tmp_path):
    """Inside the folder, the next run over it would read the written file as one more shard."""
    import shutil

    folder = tmp_path / "rollouts"
    (folder / "part").mkdir(parents=True)
    shard = folder / "part" / DATA.name
    shutil.copy(DATA, shard)
    res = run("detect", folder if given == "folder" else f"{folder}/**/*.jsonl")
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    lines = tmp_path / "dapo_math_response_data.sample.lines.jsonl"
    assert f"write each object on one line: `jq -c . {shard} > {lines}`" in said


def test_the_current_folder_given_writes_in_its_parent(tmp_path, monkeypatch):
    import shutil

    shutil.copy(DATA, tmp_path / DATA.name)
    monkeypatch.chdir(tmp_path)
    said = " ".join(run("detect", ".").output.split())
    assert f"`jq -c . ./{DATA.name} > ../dapo_math_response_data.sample.lines.jsonl`" in said
