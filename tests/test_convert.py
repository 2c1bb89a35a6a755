"""`trlprep convert`: planning, streaming, validation before writing, CLI behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import EXAMPLES, _m
from typer.testing import CliRunner

import trlprep
from trlprep.api import convert
from trlprep.cli import app
from trlprep.errors import DataError, UsageError
from trlprep.io import jsonl

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _rows(n: int, conversational: bool = False) -> list[dict]:
    if conversational:
        return [
            {
                "prompt": [_m("system", "Be brief."), _m("user", f"Question {i}?")],
                "chosen": [_m("assistant", f"Good {i}.")],
                "rejected": [_m("assistant", f"Bad {i}.")],
                "id": i,
            }
            for i in range(n)
        ]
    return [
        {"prompt": f"Q{i}:", "chosen": f" good {i}.", "rejected": f" bad {i}.", "id": i}
        for i in range(n)
    ]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


# ---------------------------------------------------------------- Python API


def test_api_returns_the_kind_it_was_given():
    rows = _rows(3)
    out = convert(rows, "unpaired")
    assert isinstance(out, list) and len(out) == 6
    assert out[0] == {"prompt": "Q0:", "completion": " good 0.", "label": True, "id": 0}
    assert out[1] == {"prompt": "Q0:", "completion": " bad 0.", "label": False, "id": 0}
    ds = convert(datasets.Dataset.from_list(rows), "lm")
    assert isinstance(ds, datasets.Dataset) and ds["text"] == [
        "Q0: good 0.",
        "Q1: good 1.",
        "Q2: good 2.",
    ]
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)})
    assert isinstance(convert(dd, "pc"), datasets.DatasetDict)


def test_api_chains_through_the_graph_and_keeps_extras():
    rows = _rows(2, conversational=True)
    implicit = convert(rows, "implicit")
    assert implicit[0]["chosen"] == rows[0]["prompt"] + rows[0]["chosen"]
    back = convert(implicit, "pref")
    assert [r["prompt"] for r in back] == [r["prompt"] for r in rows]
    assert [r["id"] for r in back] == [0, 1]


def test_api_order_blocks_gives_trl_order():
    out = convert(_rows(3), "unpaired", order="blocks")
    assert [r["label"] for r in out] == [True, True, True, False, False, False]


def test_from_contradicting_the_data_says_what_it_looks_like():
    with pytest.raises(UsageError) as exc:
        convert(_rows(2), "lm", from_="stepwise")
    assert "looks like preference (standard)" in exc.value.message


def test_mixed_rows_refused():
    rows = [EXAMPLES[("preference", "standard")], EXAMPLES[("preference", "conversational")]]
    with pytest.raises(DataError):
        convert(rows, "unpaired")


def test_unreachable_and_same_type():
    with pytest.raises(UsageError, match="cannot convert"):
        convert([EXAMPLES[("language-modeling", "standard")]], "pref")
    # asking for the type the data already is: written as it is (a no-op conversion)
    assert convert(_rows(1), "pref") == _rows(1)


def test_output_is_validated_before_it_is_returned():
    # stepwise -> unpaired with no steps gives an empty completion: rejected, not returned
    table = pa.table(
        {
            "prompt": ["p", "q"],
            "completions": pa.array([["a"], []], pa.list_(pa.string())),
            "labels": pa.array([[True], []], pa.list_(pa.bool_())),
        }
    )
    with pytest.raises(DataError, match="validation") as exc:
        convert(table, "unpaired")
    assert exc.value.row == 1 and "row 1" in str(exc.value)


# ---------------------------------------------------------------- streaming


def test_streaming_equals_whole_table_and_blocks_span_batches(tmp_path, monkeypatch):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(50))
    whole = convert(_rows(50), "unpaired", order="blocks")
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 512)  # many small batches
    res = runner.invoke(
        app,
        [
            "convert",
            str(src),
            "--to",
            "unpaired",
            "--order",
            "blocks",
            "-o",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert res.exit_code == 0, res.output
    streamed = _read_jsonl(tmp_path / "o.jsonl")
    assert streamed == whole
    assert [r["label"] for r in streamed] == [True] * 50 + [False] * 50


def test_stream_error_in_a_later_batch_writes_nothing(tmp_path, monkeypatch):
    rows = _rows(40) + [EXAMPLES[("preference-implicit", "standard")]]
    src = _write_jsonl(tmp_path / "in.jsonl", rows)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 256)
    out = tmp_path / "o.parquet"
    res = runner.invoke(app, ["convert", str(src), "--to", "unpaired", "-o", str(out)])
    assert res.exit_code == 1
    assert "line 41" in res.output or "lines 41" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


# ---------------------------------------------------------------- CLI


def test_cli_end_to_end_subprocess(tmp_path):
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "trlprep",
        "convert",
        str(ROOT / "examples" / "preference.jsonl"),
        "--from",
        "preference",
        "--to",
        "unpaired",
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "unpairing labels every chosen completion good" in proc.stderr
    rows = _read_jsonl(out)
    src = _read_jsonl(ROOT / "examples" / "preference.jsonl")
    assert len(rows) == 2 * len(src)
    assert [r["label"] for r in rows[:2]] == [True, False]
    assert rows[0]["completion"] == src[0]["chosen"] and rows[1]["completion"] == src[0]["rejected"]
    assert trlprep.validate(out).valid
    # refuses to overwrite, and the file is untouched
    before = out.read_bytes()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--overwrite" in proc.stderr
    assert out.read_bytes() == before


def test_cli_explain_writes_nothing(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(3))
    res = runner.invoke(
        app, ["convert", str(src), "--to", "lm", "--explain", "-o", str(tmp_path / "o.jsonl")]
    )
    assert res.exit_code == 0
    assert "route: preference -> language-modeling" in res.stdout
    assert "rejected" in res.stdout  # what is lost
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_unreachable_and_bad_options(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", [EXAMPLES[("prompt-completion", "standard")]])
    res = runner.invoke(app, ["convert", str(src), "--to", "pref", "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2
    assert "cannot convert prompt-completion to preference" in res.output
    assert "language-modeling, prompt-only" in res.output
    res = runner.invoke(
        app, ["convert", str(src), "--to", "lm", "--order", "random", "-o", "x.jsonl"]
    )
    assert res.exit_code == 2 and "--order" in res.output
    res = runner.invoke(app, ["convert", str(src), "--to", "nonsense", "-o", "x.jsonl"])
    assert res.exit_code == 2 and "unknown dataset type" in res.output
    res = runner.invoke(app, ["convert", str(src), "--to", "lm"])
    assert res.exit_code == 2 and "-o" in res.output


def test_cli_input_is_never_the_output(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(2))
    res = runner.invoke(app, ["convert", str(src), "--to", "pc", "-o", str(src), "--overwrite"])
    assert res.exit_code == 2 and "input" in res.output
    assert _read_jsonl(src) == _rows(2)


@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ""])
def test_cli_output_formats(tmp_path, suffix):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(4, conversational=True))
    out = tmp_path / f"out{suffix}"
    res = runner.invoke(app, ["convert", str(src), "--to", "pc", "-o", str(out)])
    assert res.exit_code == 0, res.output
    det = trlprep.detect(out)
    assert (det.type.name, det.format.value, det.num_rows) == (
        "prompt-completion",
        "conversational",
        4,
    )


def test_cli_empty_input_writes_an_empty_typed_output(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(
        pa.table(
            {
                "prompt": pa.array([], pa.string()),
                "chosen": pa.array([], pa.string()),
                "rejected": pa.array([], pa.string()),
            }
        ),
        src,
    )
    out = tmp_path / "out.parquet"
    res = runner.invoke(app, ["convert", str(src), "--to", "unpaired", "-o", str(out)])
    assert res.exit_code == 1 and "--allow-empty" in res.output and not out.exists()
    args = ["convert", str(src), "--to", "unpaired", "-o", str(out), "--allow-empty"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    t = pq.read_table(out)
    assert t.num_rows == 0 and set(t.column_names) >= {"prompt", "completion", "label"}


def test_cli_convert_imports_a_layout_then_converts(tmp_path):
    src = ROOT / "tests" / "fixtures" / "importers" / "ranked.jsonl"
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app, ["convert", str(src), "--from", "ranked", "--to", "unpaired", "-o", str(out),
              "--on-error", "skip"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "ranked -> preference -> unpaired-preference" in res.output
    rows = _read_jsonl(out)
    assert rows and {r["label"] for r in rows} == {True, False}
    rejects = _read_jsonl(tmp_path / "o.rejects.jsonl")
    assert len(rejects) == 2 and all(r["reason"] and r["line"] for r in rejects)
    # default on-error stops with exit 1 and writes nothing
    out2 = tmp_path / "o2.jsonl"
    res = runner.invoke(
        app, ["convert", str(src), "--from", "ranked", "--to", "pc", "-o", str(out2)]
    )
    assert res.exit_code == 1 and not out2.exists()


# ---------------------------------------------------------------- templating edge


def test_cli_convert_then_template_matches_the_python_api(tmp_path):
    from trlprep.templates import apply_chat_template, load_template

    src = _write_jsonl(tmp_path / "in.jsonl", _rows(4, conversational=True))
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app, ["convert", str(src), "--to", "unpaired", "--chat-template", "chatml", "-o", str(out),
              "--num-proc", "1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = _read_jsonl(out)
    unpaired = convert(_rows(4, conversational=True), "unpaired")
    expected = apply_chat_template(unpaired, load_template("chatml"))
    assert rows == expected
    assert rows[0]["prompt"].startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert rows[0]["completion"] == "Good 0.<|im_end|>\n"
    assert trlprep.detect(out).format.value == "standard"


def test_cli_template_error_names_the_row_and_writes_nothing(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(3, conversational=True))
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["convert", str(src), "--chat-template", "gemma", "-o", str(out)])
    assert res.exit_code == 1
    assert "System role not supported" in res.output and "line 1" in res.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_cli_chat_template_on_standard_data_is_a_usage_error(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(2))
    res = runner.invoke(app, ["convert", str(src), "--chat-template", "chatml", "-o", "x.jsonl"])
    assert res.exit_code == 2 and "conversational data" in res.output


def test_cli_tokenize_adds_prefix_consistent_ids(tmp_path):
    from templates_support import tiny_tokenizer

    tok = tiny_tokenizer(load_chatml(), words=["Good", "Bad", "Question", "Be", "brief."])
    tok.save_pretrained(tmp_path / "tok")
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(3, conversational=True))
    out = tmp_path / "o.parquet"
    res = runner.invoke(
        app, ["convert", str(src), "--to", "pc", "--tokenize", "--tokenizer", str(tmp_path / "tok"),
              "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    t = pq.read_table(out)
    assert {"prompt", "completion", "input_ids", "completion_mask"} <= set(t.column_names)
    row = t.slice(0, 1).to_pylist()[0]
    assert len(row["input_ids"]) == len(row["completion_mask"])
    n_prompt = row["completion_mask"].index(1)
    assert tok(row["prompt"], add_special_tokens=False)["input_ids"] == row["input_ids"][:n_prompt]


def load_chatml() -> str:
    from trlprep.templates import load_template

    return load_template("chatml").source
