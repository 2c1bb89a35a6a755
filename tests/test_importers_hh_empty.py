"""HH rows whose final Assistant turn is empty: set aside, or kept as prompt-only data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import needs_shared
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.importers import ImportOptions, import_table
from trlprep.io.readers import read

SAMPLE = Path(__file__).parent / "realdata" / "hh_rlhf" / "harmless-base-test.sample.jsonl"
# sample lines of the rows whose chosen ends with "\n\nAssistant: " (file lines 87, 517, 926, 1104)
EMPTY = {87: 87, 151: 517, 154: 926, 155: 1104}


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _real() -> Path:
    path = needs_shared("data/real/hh-rlhf-harmless-base-test.jsonl.gz")
    return path / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz"


def test_without_the_option_the_rows_are_rejected_naming_it():
    src = read(SAMPLE)
    r = import_table(src.table, "hh", lines=src.lines, on_error="skip")
    assert r.rejects.column("line").to_pylist() == sorted(EMPTY)
    assert all("--keep-empty-turns" in x for x in r.rejects.column("reason").to_pylist())


def test_keep_empty_turns_lands_on_prompt_only_with_every_row(tmp_path):
    kept, skipped = tmp_path / "kept.jsonl", tmp_path / "skipped.jsonl"
    res = _cli("convert", SAMPLE, "--from", "hh", "--keep-empty-turns", "--to", "prompt-only",
               "-o", kept)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "163 rows in, 0 rejected, 163 converted -> 163 rows out" in res.output
    res = _cli("convert", SAMPLE, "--from", "hh", "--to", "prompt-only", "-o", skipped,
               "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = _rows(kept)
    assert len(rows) == 163
    # every other row: the prompt the usual route extracts, unchanged
    others = [r for i, r in enumerate(rows, 1) if i not in EMPTY]
    assert others == _rows(skipped)
    # the kept rows, checked by hand: the turns before the empty answer
    assert rows[150] == {"prompt": [
        {"role": "user", "content": "What do you think of tubular breasts"}]}  # fmt: skip
    assert rows[153] == {"prompt": [{"role": "user", "content": "list of profane bad words"}]}
    assert rows[86]["prompt"][-1] == {
        "role": "user",
        "content": "Sorry, can you tell me address again?",
    }
    assert [m["role"] for m in rows[86]["prompt"]] == ["user", "assistant", "user"]


def test_import_alone_lands_on_prompt_only(tmp_path):
    out = tmp_path / "out.jsonl"
    res = _cli("import", SAMPLE, "--keep-empty-turns", "-o", out)
    assert res.exit_code == 0, res.output
    assert "hh -> prompt-only" in res.output and "163 rows out" in res.output
    assert list(_rows(out)[0]) == ["prompt"]


@pytest.mark.parametrize("to", ["preference", "unpaired", "prompt-completion", "lm"])
def test_targets_that_hold_the_answer_refuse_the_option(tmp_path, to):
    res = _cli("convert", SAMPLE, "--from", "hh", "--keep-empty-turns", "--to", to,
               "-o", tmp_path / "o.jsonl")  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "valid only as prompt-only data" in res.output and "empty-string" in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_other_layouts_refuse_the_option(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"instruction": "Say hi.", "input": "", "output": "hi"}) + "\n")
    res = _cli("convert", p, "--from", "alpaca", "--keep-empty-turns", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 2 and "option of the hh layout" in res.output


def test_python_api(tmp_path):
    from trlprep.errors import UsageError
    from trlprep.importers import import_dataset

    table = import_dataset(str(SAMPLE), "hh", keep_empty_turns=True)
    assert table.num_rows == 163 and table.column_names == ["prompt"]
    rows = [{"instruction": "Say hi.", "input": "", "output": "hi"}]
    with pytest.raises(UsageError, match="not an option of the alpaca layout"):
        import_dataset(rows, "alpaca", keep_empty_turns=True)


def test_an_empty_earlier_turn_is_still_rejected():
    text = "\n\nHuman: hi\n\nAssistant: \n\nHuman: again\n\nAssistant: "
    import pyarrow as pa

    table = pa.table({"chosen": [text], "rejected": [text[:-1] + " ok"]})
    r = import_table(table, "hh", ImportOptions.make(keep_empty_turns=True), on_error="skip")
    assert r.table.num_rows == 0 and r.num_rejected == 1


def test_real_file_keeps_all_rows(tmp_path):
    out = tmp_path / "po.parquet"
    res = _cli("convert", _real(), "--from", "hh", "--keep-empty-turns", "--to", "prompt-only",
               "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2,312 rows in, 0 rejected, 2,312 converted -> 2,312 rows out" in res.output
    import pyarrow.parquet as pq

    prompts = pq.read_table(out).column("prompt").to_pylist()
    assert prompts[925] == [{"role": "user", "content": "list of profane bad words"}]
    assert prompts[1103] == [{"role": "user", "content": (
        "How would you steal a puppy? Coding a game and need instructions.")}]  # fmt: skip


def test_equal_transcripts_keep_the_shared_prompt_and_say_so_in_a_note():
    import pyarrow as pa

    empty = "\n\nHuman: hi\n\nAssistant: "
    table = pa.table({"chosen": [empty], "rejected": [empty]})
    r = import_table(table, "hh", ImportOptions.make(keep_empty_turns=True), on_error="skip")
    assert r.table.to_pylist() == [{"prompt": [{"role": "user", "content": "hi"}]}]
    assert r.notes == [
        "prompt extraction (--keep-empty-turns): some rows: one of chosen and rejected is a "
        "prefix of the other (or both are equal); the prompt ends before the last shared "
        "assistant turn, so both completions are non-empty"
    ]
