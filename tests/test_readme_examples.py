"""The README's commands on shipped files print what the README quotes: each quote is taken
from README.md itself, so a changed message or a stale quote fails here."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata.support import HERE, counts, records, run

import trlprep

ROOT = Path(__file__).resolve().parents[1]
README = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


def _quote(starts: str) -> str:
    """The README's inline-code quote beginning with `starts` (whitespace joined; quoted
    alike wherever it is quoted)."""
    found = set(re.findall(rf"`({re.escape(starts)}[^`]*)`", README))
    assert len(found) == 1, (starts, found)
    return found.pop()


def _said(res) -> str:
    return " ".join(res.output.split())


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_quickstart_convert_says_its_counts(here):
    (here / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "preference.jsonl", here / "examples")
    res = run("convert", "examples/preference.jsonl", "--to", "unpaired", "-o", "out.jsonl")
    assert res.exit_code == 0, res.output
    summary = _quote("N rows in, M rejected, K converted -> L rows out")
    pattern = re.escape(summary).replace("N", r"\d+").replace("M", r"\d+").replace("K", r"\d+")
    assert re.search(pattern.replace("L", r"\d+"), _said(res)), res.output
    assert counts(res.output) == (8, 0, 8, 16)
    assert len((here / "out.jsonl").read_text().splitlines()) == 16


def test_ci_snippet_passes_on_the_shipped_example():
    res = run("validate", ROOT / "examples" / "preference.jsonl", "--type", "preference",
              "--strict", "--format", "github")  # fmt: skip
    assert res.exit_code == 0 and "valid: 8 rows of preference (standard)" in res.output


def test_a_folder_of_files_names_what_it_leaves_out(monkeypatch):
    monkeypatch.chdir(ROOT)
    quote = _quote("note: examples: reading 7 data files;")
    res = run("detect", "examples")
    assert quote.removesuffix(" ...") in _said(res), res.output


def test_an_unread_option_is_said_as_quoted(here):
    shutil.copy(HERE / "kto_demo" / "kto_en_demo.json", here)
    res = run("convert", "kto_en_demo.json", "--to", "pc", "--split-turns", "all", "-o", "o.jsonl")
    assert res.exit_code == 0, res.output
    assert _quote("warning: --split-turns all is read by no step") in _said(res)


def test_an_import_making_several_rows_of_one_says_so(here):
    shutil.copy(HERE / "prm800k_openr" / "prm800k.jsonl", here)
    res = run("convert", "prm800k.jsonl", "--from", "prm800k", "--to", "stepwise", "-o", "o.jsonl")
    assert res.exit_code == 0, res.output
    assert _quote("6 rows in, 0 rejected, 6 converted -> 37 rows out").removesuffix(", ...)") in (
        _said(res)
    )


def test_hh_commands_of_the_import_section(here):
    shutil.copy(HERE / "hh_rlhf" / "harmless-base-test.sample.jsonl", here / "hh.jsonl")
    assert "--from hh --to unpaired -o out.parquet --on-error skip" in README
    res = run("convert", "hh.jsonl", "--from", "hh", "--to", "unpaired", "-o", "out.parquet",
              "--on-error", "skip")  # fmt: skip
    rows_in, rejected, _, _ = counts(res.output)
    assert res.exit_code == 0 and rejected > 0, res.output
    assert len((here / "out.rejects.jsonl").read_text().splitlines()) == rejected
    assert "--from hh --keep-empty-turns --to prompt-only -o prompts.parquet" in README
    res = run("convert", "hh.jsonl", "--from", "hh", "--keep-empty-turns", "--to", "prompt-only",
              "-o", "prompts.parquet")  # fmt: skip
    assert res.exit_code == 0 and counts(res.output) == (rows_in, 0, rows_in, rows_in)


def test_the_rejects_file_lines(here):
    src = ROOT / "examples" / "preference.jsonl"
    res = run("convert", src, "--to", "pc", "-o", "a.jsonl", "--on-error", "skip")
    assert _quote("0 rejected rows: no rejects file written") in res.output
    res = run("convert", src, "--to", "pc", "-o", "b.jsonl", "--on-error", "skip",
              "--rejects", "FILE")  # fmt: skip
    assert _quote("0 rejected rows -> FILE") in res.output


def test_a_folder_of_splits_and_its_shards(here):
    (here / "data").mkdir()
    table = pa.table({"prompt": [f"p{i}" for i in range(250)], "completion": ["c"] * 250})
    for split, n in (("train", 4), ("test", 1)):
        for i in range(n):
            pq.write_table(table, here / "data" / f"{split}-{i:05d}-of-{n:05d}.parquet")
    said = _said(run("detect", "data"))
    assert _quote("note: DIR holds the splits").replace("DIR", "data") in said
    assert _quote("shard data/train-00001-of-00004.parquet") in said
    assert _quote("total: 1,000 rows in 4 files") in said


def test_the_python_api_says_a_skipped_line(here):
    lines = (ROOT / "examples" / "preference.jsonl").read_text().splitlines()
    (here / "bad.jsonl").write_text("\n".join([*lines[:3], "{broken", *lines[3:]]) + "\n")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        trlprep.convert("bad.jsonl", "unpaired", on_bad_lines="skip")
    quote = _quote("1 bad line skipped (line 4: invalid JSON").removesuffix(" ...)")
    skipped = [w for w in said if issubclass(w.category, trlprep.RejectedRowsWarning)]
    assert skipped and quote in str(skipped[0].message), [str(w.message) for w in said]


def test_validate_from_a_layout_refusing_every_row_names_its_type(here):
    rows = records(HERE / "xtuner_dapo_rollouts" / "dapo_math_response_data.sample.jsonl")
    (here / "dapo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("validate", "dapo.jsonl", "--map", "completion=response")
    assert res.exit_code == 1 and _quote("INVALID: 0 rows of") in res.output, res.output


def test_a_stopped_run_says_the_counts_of_its_whole_input(here):
    rows = [
        {"prompt": "a", "chosen": "b", "rejected": "c"},
        {"prompt": "a", "chosen": "", "rejected": 5},
        {"prompt": "a", "chosen": "b", "rejected": "c"},
    ]
    (here / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("convert", "bad.jsonl", "--to", "unpaired", "-o", "out.jsonl")
    assert res.exit_code == 1 and not (here / "out.jsonl").exists(), res.output
    said = _said(res)
    assert _quote("preference -> unpaired-preference (standard): 3 rows in, 1 rejected") in said
    assert _quote("1 x read: column 'rejected' holds a number (5)").removesuffix(" ...") in said
    dapo = records(HERE / "xtuner_dapo_rollouts" / "dapo_math_response_data.sample.jsonl")
    (here / "dapo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dapo))
    res = run("convert", "dapo.jsonl", "--map", "completion=response", "-o", "out.jsonl")
    assert res.exit_code == 1 and _quote("12 rows in, 12 rejected, 0 would convert") in _said(res)
    with pytest.raises(trlprep.DataError) as e:
        trlprep.convert(rows, "unpaired")
    assert e.value.message.endswith(_quote("...; nothing returned (stopped)").removeprefix("..."))
    alpaca = [{"instruction": f"Say {w}", "input": "", "output": w} for w in ("hi", "", "no")]
    (here / "alpaca.jsonl").write_text("".join(json.dumps(r) + "\n" for r in alpaca))
    res = run("import", "alpaca.jsonl", "--from", "alpaca", "-o", "pc.jsonl")
    assert res.exit_code == 1 and _quote("alpaca -> prompt-completion (standard): 3") in _said(res)
