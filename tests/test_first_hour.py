"""Issue 13 ("first hour with trlprep") leftovers, as a user meets them: the Python `train()`
keeps the CLI's output folder policy (a non-empty folder needs `overwrite` or `resume`); lines
`--on-bad-lines skip` skipped are reported without advising that option again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import UsageError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

PREFERENCE = [
    {"prompt": "what color is the sky ?", "chosen": " blue .", "rejected": " green ."},
    {"prompt": "what color is the sun ?", "chosen": " yellow .", "rejected": " blue ."},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    for needed in ("torch", "accelerate", "transformers"):
        pytest.importorskip(needed)
    from train_support import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("m") / "model")


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "pref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PREFERENCE))
    return path


def _config(model: Path, data: Path, out: Path, **more) -> dict:
    return {
        "algo": "dpo",
        "model": str(model),
        "data": str(data),
        "output_dir": str(out),
        "max_steps": 1,
        "bf16": False,
        **more,
    }


def test_python_train_refuses_a_non_empty_output_folder_like_the_cli(model, data, tmp_path):
    from trlprep.trainers import train

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError) as api:
        train(_config(model, data, out), log=lambda _m: None)
    cli = CliRunner().invoke(
        app,
        ["train", "--algo", "dpo", "--model", str(model), "--data", str(data)]
        + ["--output-dir", str(out), "--max-steps", "1", "--no-bf16"],
    )
    assert cli.exit_code == api.value.exit_code == 2
    # the same refusal, each in its own words: the API's config keys, the CLI's flags
    assert api.value.message == f"output_dir={str(out)!r} is not empty (notes.txt)"
    assert f"--output-dir {out} is not empty (notes.txt)" in " ".join(cli.output.split())
    assert "overwrite=True" in api.value.hint and "resume=True" in api.value.hint
    assert "--" not in api.value.hint and "--overwrite" in cli.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # nothing written


def test_python_train_overwrite_and_resume(model, data, tmp_path):
    from trlprep.trainers import train

    out = tmp_path / "out"
    first = train(_config(model, data, out), log=lambda _m: None)  # a new folder: fine
    assert first.global_step == 1 and (out / "checkpoint-1").is_dir()
    with pytest.raises(UsageError):
        train(_config(model, data, out), log=lambda _m: None)  # the first run is there
    (out / "notes.txt").write_text("mine")
    again = train(_config(model, data, out), log=lambda _m: None, overwrite=True)
    assert again.global_step == 1
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1]
    assert (out / "notes.txt").read_text() == "mine"  # not the run's: left alone
    resumed = train(_config(model, data, out, max_steps=2, resume=True), log=lambda _m: None)
    assert resumed.global_step == 2 and (out / "checkpoint-2").is_dir()
    as_key = train(_config(model, data, out, overwrite=True), log=lambda _m: None)  # dict key
    assert as_key.global_step == 1


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_skipped_bad_lines_are_reported_in_every_format_without_advising_skip(tmp_path, fmt):
    rows = (EXAMPLES / "preference.jsonl").read_text().splitlines()
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join([*rows[:3], '{"prompt": "x", "chosen": ', *rows[3:]]) + "\n")
    r = CliRunner().invoke(app, ["validate", str(path), "--on-bad-lines", "skip", "--format", fmt])
    assert r.exit_code == 1, r.output  # a broken line is invalid data, reported with its line
    if fmt == "json":
        report = json.loads(r.output)
        (issue,) = [i for i in report["issues"] if i["rule"] == "invalid-line"]
        assert issue["lines"] == [4] and report["num_rows"] == len(rows)  # the rest was read
        assert "--on-bad-lines" not in issue["hint"]
    else:
        assert ("line=4" if fmt == "github" else "line 4") in r.output
        assert "--on-bad-lines skip" not in r.output
    stopped = CliRunner().invoke(app, ["validate", str(path), "--format", fmt])
    assert stopped.exit_code == 1 and "--on-bad-lines skip" in stopped.output  # advised here


def _broken(tmp_path: Path) -> tuple[Path, int]:
    rows = (EXAMPLES / "preference.jsonl").read_text().splitlines()
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join([*rows[:3], '{"prompt": "x", "chosen": ', *rows[3:]]) + "\n")
    return path, len(rows)


def test_detect_json_reports_a_broken_line_as_json(tmp_path):
    """`detect --json` keeps stdout one JSON object when reading stops at a broken line."""
    path, _ = _broken(tmp_path)
    r = CliRunner().invoke(app, ["detect", str(path), "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["type"] is None and out["num_rows"] == 0
    (problem,) = out["problems"]
    assert problem["code"] == "invalid-line" and problem["lines"] == [4]
    assert out["error"].startswith(f"{path}:4: invalid JSON")
    assert "--on-bad-lines skip" in out["hint"]  # an option detect has


def test_detect_on_bad_lines_skip_detects_the_rest(tmp_path):
    path, n = _broken(tmp_path)
    r = CliRunner().invoke(app, ["detect", str(path), "--on-bad-lines", "skip", "--json"])
    assert r.exit_code == 1  # the file still has a broken line
    out = json.loads(r.stdout)
    assert out["type"] == "preference" and out["num_rows"] == n
    assert [(p["code"], p["lines"]) for p in out["problems"]] == [("invalid-line", [4])]
    text = CliRunner().invoke(app, ["detect", str(path), "--on-bad-lines", "skip"])
    assert "problem [invalid-line]" in text.output and "(e.g. line 4)" in text.output
    clean = CliRunner().invoke(
        app, ["detect", str(EXAMPLES / "preference.jsonl"), "--on-bad-lines", "skip"]
    )
    assert clean.exit_code == 0, clean.output


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc (takes no folder)")
def test_train_into_a_folder_that_cannot_be_created_is_one_message_before_loading(
    tmp_path, monkeypatch
):
    """Defect 5 for `train`: the output folder is created before the data and the model are
    loaded; a place that takes none is exit 2 naming it (not `FileNotFoundError` after the
    model loaded)."""
    import trlprep.trainers.loop as loop

    def no_training(*_a, **_k):
        raise AssertionError("the trainer started")

    monkeypatch.setattr(loop.Trainer, "__init__", no_training)
    r = CliRunner().invoke(
        app,
        ["train", "--algo", "dpo", "--model", str(EXAMPLES / "tiny-chat-model"), "--data",
         str(EXAMPLES / "preference.jsonl"), "--output-dir", "/proc/trlprep-out"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "--output-dir /proc/trlprep-out: cannot create the folder" in r.output
    assert "Traceback" not in r.output and "FileNotFoundError" not in r.output


@pytest.mark.parametrize(
    ("argv", "advised"),
    [
        (["convert", "{bad}", "--to", "unpaired", "-o", "{out}"], True),
        (["detect", "{bad}"], True),
        (["report", "{bad}"], False),
        (["check-template", "--chat-template", "chatml", "{bad}"], False),
    ],
)
def test_a_broken_line_advises_on_bad_lines_only_where_the_command_has_it(tmp_path, argv, advised):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(PREFERENCE[0]) + '\n{"prompt": broken\n')
    args = [a.format(bad=bad, out=tmp_path / "out.jsonl") for a in argv]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    assert f"{bad}:2: invalid JSON" in r.output
    assert ("--on-bad-lines skip" in r.output) is advised, r.output


README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_train_table_lists_every_algorithm_the_cli_offers():
    pytest.importorskip("torch")
    from trlprep.trainers.algorithms import ALGORITHMS

    section = README[README.index("### `trlprep train") :]
    listed = re.findall(r"^\| `([a-z][a-z-]*)` \|", section.split("\n### ")[0], re.M)
    assert sorted(listed) == sorted(ALGORITHMS)


def test_readme_differences_name_the_seq_lengths_of_wrapped_packing():
    differences = README[README.index("## Differences from TRL") :].split("\n## ")[0]
    assert "seq_lengths" in differences and "wrapped" in differences


def test_one_line_is_line_not_lines_and_one_more_row_fails(tmp_path):
    """Defect 14: counts of one read as one (`e.g. line 4`, `1 more row fails`), in the
    row failures and in the streaming driver's error alike."""
    from trlprep.errors import RowFailures

    rows = [PREFERENCE[0]] * 3 + [{**PREFERENCE[0], "chosen": None}]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    r = runner.invoke(app, ["convert", str(path), "--to", "unpaired", "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "(e.g. line 4)" in r.output, r.output
    r = runner.invoke(app, ["detect", str(path)])
    assert "(e.g. line 4)" in r.output and "lines 4" not in r.output, r.output
    assert "(1 more row fails)" in str(RowFailures([0, 1], ["x", "y"], stage="s"))
    assert "(2 more rows fail)" in str(RowFailures([0, 1, 2], ["x", "y", "z"], stage="s"))


def test_train_on_an_empty_dataset_says_it_has_no_rows(tmp_path):
    """Defect 6 for `train`: the message every command gives (not "cannot tell the type")."""
    pytest.importorskip("torch")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = CliRunner().invoke(
        app,
        ["train", "--algo", "dpo", "--model", str(EXAMPLES / "tiny-chat-model"), "--data",
         str(empty), "--output-dir", str(tmp_path / "out")],
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert f"{empty}: the dataset has no rows" in r.output


def test_train_names_the_line_of_a_row_with_a_null_value(tmp_path):
    """A null required value is a row failure (named by its file line), not a data-wide
    'not uniform' error."""
    pytest.importorskip("torch")
    rows = [PREFERENCE[0]] * 3 + [{**PREFERENCE[0], "chosen": None}]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = CliRunner().invoke(
        app,
        ["train", "--algo", "dpo", "--model", str(EXAMPLES / "tiny-chat-model"), "--data",
         str(path), "--output-dir", str(tmp_path / "out")],
    )  # fmt: skip
    flat = " ".join(r.output.split())
    assert r.exit_code == 1 and f"{path}:4: read: column 'chosen'" in flat, r.output
    assert "--on-error skip" in flat and "not uniform" not in flat


def test_one_rejected_row_and_one_input_row_read_as_one(tmp_path):
    """Defect 14 in convert's summary (`1 rejected row -> ...`) and `--explain`'s plan."""
    path = tmp_path / "p.jsonl"
    rows = [{"chosen": "Q: hi A: yes", "rejected": "Q: hi A: no"}, {"chosen": "x", "rejected": "y"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # the second shares no prompt
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(
        app, ["convert", str(path), "--to", "preference", "-o", str(out), "--on-error", "skip"]
    )
    assert r.exit_code == 0, r.output
    assert "1 rejected row -> " in r.output and "1 rejected rows" not in r.output
    path.write_text(json.dumps(PREFERENCE[0]) + "\n")
    r = CliRunner().invoke(app, ["convert", str(path), "--to", "unpaired", "--explain"])
    assert r.exit_code == 0 and "1 input row)" in r.output, r.output
