"""Rows a stage refuses: mapped back to input rows/lines, skipped into one rejects file or
stopping the run at the first one (with how many more), and every row accounted for."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import trlprep.templates
from trlprep import api
from trlprep.cli import app
from trlprep.errors import ROW_ID, DataError, RowFailures
from trlprep.importers.run import RejectedRowsWarning

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
HH = SHARED / "real" / "hh-rlhf-harmless-base-test.jsonl.gz"
TEMPLATES = SHARED / "chat_templates"


def _pref(i: int, bad: bool = False) -> dict:
    word = "BAD" if bad else "good"
    return {
        "prompt": [{"role": "user", "content": f"question {i} {word}"}],
        "chosen": [{"role": "assistant", "content": f"yes {i}"}],
        "rejected": [{"role": "assistant", "content": f"no {i}"}],
    }


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture
def refuse_bad(monkeypatch):
    """A chat-template stage that refuses every row that says BAD (all at once)."""
    real = trlprep.templates.render_table
    seen: list[list[int]] = []

    def render(table, *args, **kwargs):
        seen.append(table.column(ROW_ID).to_pylist() if ROW_ID in table.column_names else [])
        texts = [json.dumps(v) for v in table.to_pylist()]
        bad = [i for i, t in enumerate(texts) if "BAD" in t]
        if bad:
            raise RowFailures(bad, [f"refused {i}" for i in bad], stage="chat template")
        return real(table, *args, **kwargs)

    monkeypatch.setattr(trlprep.templates, "render_table", render)
    return seen


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


ROWS = [_pref(0), _pref(1), _pref(2, bad=True), _pref(3), _pref(4, bad=True)]


def test_stop_names_first_input_line_and_how_many_more(tmp_path, refuse_bad):
    src = _write(tmp_path / "d.jsonl", ROWS)
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--chat-template", "chatml", "-o", str(out))
    assert res.exit_code == 1, res.output
    assert f"{src}:3: chat template: refused 2 (1 more row fail" in res.output.replace("\n", " ")
    assert not out.exists() and not (tmp_path / "o.rejects.jsonl").exists()


def test_skip_writes_the_rest_and_one_rejects_file(tmp_path, refuse_bad):
    src = _write(tmp_path / "d.jsonl", ROWS)
    out = tmp_path / "o.jsonl"
    res = _run(
        "convert", str(src), "--chat-template", "chatml", "-o", str(out), "--on-error", "skip"
    )
    assert res.exit_code == 0, res.output
    assert "5 rows in, 2 rejected, 3 converted -> 3 rows out" in res.output
    rows = _jsonl(out)
    assert [r["prompt"].count("question") for r in rows] == [1, 1, 1]
    assert all("BAD" not in r["prompt"] and ROW_ID not in r for r in rows)
    rejects = _jsonl(tmp_path / "o.rejects.jsonl")
    assert [(r["row"], r["line"], r["stage"]) for r in rejects] == [
        (2, 3, "chat template"),
        (4, 5, "chat template"),
    ]
    assert rejects[0]["record"] == ROWS[2]  # the original input record
    # the stage got the hidden row ids, and the batch ran again without the bad rows
    assert refuse_bad == [[0, 1, 2, 3, 4], [0, 1, 3]]


def test_rows_after_an_unpairing_map_to_input_rows(tmp_path, refuse_bad):
    src = _write(tmp_path / "d.jsonl", ROWS)
    out = tmp_path / "o.jsonl"
    res = _run(
        "convert", str(src), "--to", "unpaired", "--chat-template", "chatml", "-o", str(out),
        "--on-error", "skip",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "5 rows in, 2 rejected, 3 converted -> 6 rows out (unpairing: 2 per row" in flat
    rejects = _jsonl(tmp_path / "o.rejects.jsonl")
    assert [r["line"] for r in rejects] == [3, 5]  # one per input row, not per output row


def test_import_and_conversion_rejects_share_one_file(tmp_path, refuse_bad):
    rows = [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
        {"conversations": [{"from": "martian", "value": "hi"}]},
        {"conversations": [{"from": "human", "value": "BAD"}, {"from": "gpt", "value": "x"}]},
        {"conversations": [{"from": "human", "value": "ok"}, {"from": "gpt", "value": "y"}]},
    ]
    src = _write(tmp_path / "sg.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run(
        "convert", str(src), "--from", "sharegpt", "--chat-template", "chatml", "-o", str(out),
        "--on-error", "skip",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "4 rows in, 2 rejected, 2 converted -> 2 rows out" in res.output
    rejects = _jsonl(tmp_path / "o.rejects.jsonl")
    assert [(r["line"], r["stage"]) for r in rejects] == [(2, "import"), (3, "chat template")]
    assert rejects[1]["record"] == rows[2]  # the record as read, before the import


def test_validation_failures_name_input_lines(tmp_path):
    rows = [
        {"prompt": "p", "completions": ["a"], "labels": [True]},
        {"prompt": "q", "completions": [], "labels": []},
        {"prompt": "r", "completions": ["b", "c"], "labels": [True, False]},
    ]
    src = _write(tmp_path / "s.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(out))
    assert res.exit_code == 1, res.output
    assert f"{src}:2: validation: the converted row fails unpaired-preference" in res.output
    assert "report a bug" not in res.output
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "3 rows in, 1 rejected, 2 converted -> 2 rows out" in res.output
    (rej,) = _jsonl(tmp_path / "o.rejects.jsonl")
    assert (rej["row"], rej["line"], rej["stage"]) == (1, 2, "validation")


def test_plain_convert_always_prints_the_row_count(tmp_path):
    src = _write(tmp_path / "d.jsonl", ROWS[:2])
    res = _run("convert", str(src), "--to", "prompt-only", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 0, res.output
    assert "2 rows in, 0 rejected, 2 converted -> 2 rows out" in res.output


def test_python_api_names_input_rows_and_skips(refuse_bad):
    table = pa.Table.from_pylist(ROWS)
    with pytest.raises(DataError) as exc:
        api.convert(table, chat_template="chatml")
    assert exc.value.row == 2 and "1 more row fail" in exc.value.message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = api.convert(table, chat_template="chatml", on_error="skip")
    assert out.num_rows == 3 and ROW_ID not in out.column_names
    assert any(w.category is RejectedRowsWarning and "2 rows" in str(w.message) for w in caught)


def test_python_api_names_file_lines(tmp_path, refuse_bad):
    src = _write(tmp_path / "d.jsonl", ROWS)
    with pytest.raises(DataError) as exc:
        api.convert(str(src), chat_template="chatml")
    assert exc.value.line == 3 and str(src) in str(exc.value)


@pytest.mark.skipif(not HH.exists(), reason="needs ../shared/data/real (the HH-RLHF sample)")
def test_real_hh_with_gemma_skips_rows_the_template_refuses(tmp_path):
    """Gemma's original template refuses consecutive assistant turns (9 real HH rows)."""
    rows = [json.loads(x) for x in gzip.open(HH, "rt")]
    src = _write(tmp_path / "hh.jsonl", rows[:700])
    out = tmp_path / "o.jsonl"
    args = [
        "convert", str(src), "--from", "hh", "--chat-template", str(TEMPLATES / "gemma.jinja"),
        "--template-kwarg", "bos_token=<bos>", "-o", str(out), "--on-error", "skip",
    ]  # fmt: skip
    res = _run(*args)
    assert res.exit_code == 0, res.output
    rejects = _jsonl(tmp_path / "o.rejects.jsonl")
    stages = {r["stage"] for r in rejects}
    assert stages == {"import", "chat template"}, rejects
    templ = [r for r in rejects if r["stage"] == "chat template"]
    assert 668 in [r["line"] for r in templ]  # a row with two assistant turns in a row
    assert all(r["record"] == rows[r["row"]] for r in rejects)
    assert len(_jsonl(out)) == 700 - len(rejects)


# ---------------------------------------------------------------- numbering: input lines


def test_conversion_messages_name_input_lines(tmp_path):
    """A converter's warning about rows names the input file's lines (1-based), even
    after an import dropped rows before them."""
    turn = "\n\nHuman: Where is it?\n\nAssistant: There."
    rows = [
        {"good": turn + " Left.", "bad": turn + " Right."},
        {"good": "", "bad": "x"},  # cannot be imported (empty chosen)
        {"good": turn, "bad": turn + " Or here."},  # a prefix: the warning's row
    ]
    src = _write(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run(
        "convert", str(src), "--map", "chosen=good,rejected=bad", "--to", "preference",
        "-o", str(out), "--on-error", "skip",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "warning: line 3:" in flat and "row 1" not in flat and "row 2" not in flat
    rejects = _jsonl(tmp_path / "o.rejects.jsonl")
    assert [(r["row"], r["line"], r["stage"]) for r in rejects] == [(1, 2, "import")]


def test_non_uniform_rows_are_named_by_line(tmp_path):
    rows = [
        {"prompt": "a", "completion": "b"},
        {"prompt": "c", "completion": "d"},
        {"prompt": [{"role": "user", "content": "x"}], "completion": "e"},
    ]
    src = _write(tmp_path / "mix.jsonl", rows)
    res = _run("convert", str(src), "--to", "lm", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 1
    # the one row whose prompt is messages among text prompts: named by its line
    assert f"{src}:3: read: column 'prompt' holds a list" in " ".join(res.output.split())
    assert "row 2" not in res.output


# ---------------------------------------------------------------- mixed kinds in a column


def test_a_number_in_a_text_column_names_the_column_and_line(tmp_path):
    rows = [
        {"prompt": "2+2=", "completion": "4"},
        {"prompt": "6*7=", "completion": 42},
        {"prompt": "hi", "completion": "hello"},
    ]
    src = _write(tmp_path / "pc.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--to", "lm", "-o", str(out))
    assert res.exit_code == 1
    flat = " ".join(res.output.split())
    assert f"{src}:2: read: column 'completion' holds a number (42)" in flat
    assert "--coerce" in flat and not out.exists()
    res = _run("convert", str(src), "--to", "lm", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "3 rows in, 1 rejected, 2 converted -> 2 rows out" in res.output
    (rej,) = _jsonl(tmp_path / "o.rejects.jsonl")
    assert (rej["line"], rej["stage"], rej["record"]) == (2, "read", rows[1])
    assert [r["text"] for r in _jsonl(out)] == ["2+2=4", "hihello"]
    res = _run("convert", str(src), "--to", "lm", "-o", str(out), "--overwrite", "--coerce")
    assert res.exit_code == 0, res.output
    assert "note: column 'completion': 1 value of another kind" in res.output
    assert [r["text"] for r in _jsonl(out)] == ["2+2=4", "6*7=42", "hihello"]


def test_mixed_kinds_under_an_importer_name_the_users_column(tmp_path):
    alpaca = [
        {"instruction": "Add 2 and 2", "input": "", "output": "4"},
        {"instruction": "What is 6*7?", "input": "", "output": 42},
    ]
    src = tmp_path / "alpaca.json"
    src.write_text(json.dumps(alpaca))
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--from", "alpaca", "-o", str(out))
    assert res.exit_code == 1
    assert "row 1: read: column 'output' holds a number (42)" in " ".join(res.output.split())
    res = _run("convert", str(src), "--from", "alpaca", "-o", str(out), "--coerce")
    assert res.exit_code == 0, res.output
    assert [r["completion"] for r in _jsonl(out)] == ["4", "42"]
    # a --map rename: the message names the column as the file has it, at its line
    gsm = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(4)]
    gsm[2]["answer"] = 7
    src = _write(tmp_path / "gsm.jsonl", gsm)
    res = _run(
        "import", str(src), "--map", "prompt=question,completion=answer", "-o",
        str(tmp_path / "g.jsonl"), "--on-error", "skip",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (rej,) = _jsonl(tmp_path / "g.rejects.jsonl")
    assert (rej["row"], rej["line"], rej["stage"]) == (2, 3, "read")
    assert rej["reason"].startswith("column 'answer' holds a number (7)")
    assert [r["completion"] for r in _jsonl(tmp_path / "g.jsonl")] == ["a0", "a1", "a3"]


EXTRA_MIXED = [
    {"prompt": "a", "chosen": "b", "rejected": "c", "meta": {"src": "x"}},
    {"prompt": "d", "chosen": "e", "rejected": "f", "meta": "n/a"},
    {"prompt": "g", "chosen": "h", "rejected": "i", "meta": {"src": "y"}},
    {"prompt": "j", "chosen": "k", "rejected": "l", "meta": [1]},
]


def test_an_extra_column_of_mixed_kinds_is_carried_unchanged(tmp_path):
    """validate passes such data; convert refused the rows of the minority kind (even with
    --coerce, and --on-error skip dropped rows valid for their type). The extra is carried:
    JSON Lines holds each value as it was, Arrow outputs hold its JSON text, said in a
    warning that names the column."""
    src = _write(tmp_path / "em.jsonl", EXTRA_MIXED)
    assert _run("validate", str(src)).exit_code == 0
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "4 rows in, 0 rejected, 4 converted -> 8 rows out" in " ".join(res.output.split())
    assert "column 'meta'" not in res.output  # nothing changed: nothing to say
    assert [r["meta"] for r in _jsonl(out)] == [r["meta"] for r in EXTRA_MIXED for _ in "ab"]
    assert not (tmp_path / "o.rejects.jsonl").exists()  # nothing rejected: no default file
    pq_out = tmp_path / "o.parquet"
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(pq_out))
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert (
        "warning: column 'meta' (an extra column) holds objects and strings and lists in "
        f"different rows, which one Arrow column cannot hold: written to {pq_out} as JSON text"
    ) in flat
    import pyarrow.parquet as pq

    assert pq.read_table(pq_out).column("meta").to_pylist()[2] == '"n/a"'
    back = tmp_path / "back.jsonl"  # trlprep reads the values back
    assert _run("convert", str(pq_out), "--to", "preference", "-o", str(back)).exit_code == 0
    assert [r["meta"] for r in _jsonl(back)] == [r["meta"] for r in EXTRA_MIXED]
    disk = tmp_path / "folder"  # a save_to_disk folder keeps the text, untagged
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(disk))
    assert res.exit_code == 0, res.output
    assert "every reader, trlprep included, sees the text" in " ".join(res.output.split())


def test_an_extra_column_of_mixed_kinds_in_the_python_api(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = api.convert(EXTRA_MIXED, "unpaired")  # Python rows: the values themselves
        assert [r["meta"] for r in rows][::2] == [r["meta"] for r in EXTRA_MIXED]
        table = api.convert(pa.Table.from_pylist(EXTRA_MIXED[:1]), "unpaired")  # uniform
        assert table.column("meta").to_pylist()[0] == {"src": "x"}
    assert not [w for w in caught if "column 'meta'" in str(w.message)]
    src = _write(tmp_path / "em.jsonl", EXTRA_MIXED)
    with pytest.warns(UserWarning, match="column 'meta' .* returned as JSON text"):
        table = api.convert(str(src), "unpaired")  # an Arrow table: the JSON text
    assert table.num_rows == 8 and table.column("meta").to_pylist()[2] == '"n/a"'


def test_a_list_among_texts_is_not_told_to_use_coerce(tmp_path):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": ["x"]}]
    rows += [{"prompt": "d", "completion": "e"}, {"prompt": "f", "completion": 3}]
    src = _write(tmp_path / "pc.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--to", "lm", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 0, res.output
    listed, number = _jsonl(tmp_path / "o.rejects.jsonl")
    assert listed["reason"].endswith("(rule mixed-kind)")
    assert number["reason"].endswith("; pass --coerce to read numbers as text")


def test_settle_kinds_leaves_uniform_and_nested_columns_alone():
    from trlprep.io.kinds import settle_kinds
    from trlprep.io.readers import table_from_records

    plain = pa.table({"text": ["a", "b"]})
    assert settle_kinds(plain).table is plain
    # content that is a string in one message and parts in another: one kind per row
    nested = table_from_records(
        [
            {"messages": [{"role": "user", "content": "hi"}]},
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        ]
    )
    s = settle_kinds(nested)
    assert not s.bad.any() and s.table.schema == nested.schema


def test_the_summary_counts_rows_a_filter_drops(tmp_path):
    rows = [{"prompt": f"p{i}", "completion": f"c{i}", "label": i % 3 != 0} for i in range(6)]
    src = _write(tmp_path / "kto.jsonl", rows)
    res = _run("convert", str(src), "--to", "prompt-completion", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "6 rows in, 0 rejected, 6 converted -> 4 rows out (filter: 2 dropped by" in flat


def test_every_row_rejected_is_an_error_and_keeps_the_rejects(tmp_path):
    rows = [{"conversations": [{"from": "martian", "value": "x"}]}] * 2
    src = _write(tmp_path / "sg.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--from", "sharegpt", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 1
    assert "every row was rejected (2)" in res.output and not out.exists()
    assert [r["line"] for r in _jsonl(tmp_path / "o.rejects.jsonl")] == [1, 2]


def test_template_notes_name_input_lines(tmp_path, monkeypatch):
    """Examples in the chat template's notes are input lines, whatever rows went before."""
    real = trlprep.templates.render_table

    def render(table, *args, **kwargs):
        texts = [json.dumps(v) for v in table.to_pylist()]
        bad = [i for i, t in enumerate(texts) if "BAD" in t]
        if bad:
            raise RowFailures(bad, ["refused"] * len(bad), stage="chat template")
        out, report = real(table, *args, **kwargs)
        report.prefix_mismatch_rows = 1
        report.prefix_mismatch_examples = [1 + kwargs.get("row_offset", 0)]  # its 2nd row
        return out, report

    monkeypatch.setattr(trlprep.templates, "render_table", render)
    src = _write(tmp_path / "d.jsonl", [_pref(0, bad=True), _pref(1), _pref(2)])
    res = _run(
        "convert", str(src), "--chat-template", "chatml", "-o", str(tmp_path / "o.jsonl"),
        "--on-error", "skip",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "the common prefix was used as prompt (lines 3)" in flat


def test_input_rows_name_lines_or_rows():
    from trlprep.conversion.apply import InputRows

    assert InputRows(10, np.array([4, 6, 9])).name(np.array([11, 12])) == "lines 6, 9"
    assert InputRows(10, np.array([4, 6, 9])).name(np.array([10])) == "line 4"
    assert InputRows(0, None).name(np.array([3])) == "row 3"
    assert InputRows(0, None).numbers([3, 5]) == ("rows", [3, 5])


def test_python_api_mixed_kinds(tmp_path):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": 5}]
    src = _write(tmp_path / "pc.jsonl", rows)
    with pytest.raises(DataError) as exc:
        api.convert(str(src), "lm")
    assert exc.value.line == 2 and "column 'completion' holds a number (5)" in exc.value.message
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = api.convert(str(src), "lm", on_error="skip")
        assert out.column("text").to_pylist() == ["ab"]
        out = api.convert(str(src), "lm", coerce=True)
    assert out.column("text").to_pylist() == ["ab", "c5"]


def test_pairing_by_prompt_sees_every_batch(tmp_path, monkeypatch):
    """A prompt's true and false rows in different streamed batches still pair (the CLI
    paired within each batch and dropped such pairs silently)."""
    import trlprep.io.readers

    real = trlprep.io.readers.iter_batches
    monkeypatch.setattr(
        trlprep.io.readers, "iter_batches", lambda *a, **k: real(*a, **{**k, "batch_rows": 2})
    )
    rows = [
        {"prompt": "p", "completion": "good", "label": True},
        {"prompt": "q", "completion": "fine", "label": True},
        {"prompt": "p", "completion": "bad", "label": False},
        {"prompt": "q", "completion": "poor", "label": False},
    ]
    src = tmp_path / "unpaired.parquet"  # Parquet is read in batches of batch_rows rows
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), src)
    out = tmp_path / "pref.jsonl"
    res = _run("convert", str(src), "--to", "preference", "-o", str(out))
    assert res.exit_code == 0, res.output
    pairs = {(r["prompt"], r["chosen"], r["rejected"]) for r in _jsonl(out)}
    assert pairs == {("p", "good", "bad"), ("q", "fine", "poor")}
    assert pairs == {
        (r["prompt"], r["chosen"], r["rejected"]) for r in api.convert(rows, "preference")
    }


# ---------------------------------------------------------------- null required values


def _pref_text(i: int) -> dict:
    return {"prompt": f"Q{i}:", "chosen": f" yes {i}.", "rejected": f" no {i}."}


def test_a_null_or_absent_required_value_is_a_row_failure(tmp_path):
    """One row with `"chosen": null` (or no `chosen` key) is set aside with --on-error skip
    and named by its line; it used to stop every run with 'the data is not uniform'."""
    rows = [_pref_text(i) for i in range(4)]
    rows[1]["chosen"] = None
    del rows[3]["rejected"]
    src = _write(tmp_path / "p.jsonl", rows)
    out = tmp_path / "o.jsonl"
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "4 rows in, 2 rejected, 2 converted -> 4 rows out" in flat
    assert "not uniform" not in flat
    rejects = _jsonl(tmp_path / "o.rejects.jsonl")
    assert [(r["row"], r["line"], r["stage"], r["record"]) for r in rejects] == [
        (1, 2, "read", rows[1]),
        (3, 4, "read", {**rows[3], "rejected": None}),  # the record as read
    ]
    assert rejects[0]["reason"] == (
        "column 'chosen': a required value is null or missing (rule null-value)"
    )
    assert rejects[1]["reason"].startswith("column 'rejected': a required value")
    assert [r["prompt"] for r in _jsonl(out)] == ["Q0:", "Q0:", "Q2:", "Q2:"]
    # without skip: the first line, how many more, and the way to set them aside
    out2 = tmp_path / "o2.jsonl"
    res = _run("convert", str(src), "--to", "unpaired", "-o", str(out2))
    assert res.exit_code == 1 and not out2.exists()
    flat = " ".join(res.output.split())
    assert f"{src}:2: read: column 'chosen': a required value is null" in flat
    assert "(1 more row fails)" in flat and "--on-error skip" in flat


def test_null_values_in_the_python_api_are_row_failures():
    rows = [_pref_text(i) for i in range(3)]
    rows[2]["prompt"] = None
    with pytest.raises(DataError, match="column 'prompt': a required value is null") as exc:
        api.convert(rows, "unpaired")
    assert exc.value.row == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = api.convert(rows, "unpaired", on_error="skip")
    assert [r["prompt"] for r in out] == ["Q0:", "Q0:", "Q1:", "Q1:"]
    (w,) = [w.message for w in caught if isinstance(w.message, RejectedRowsWarning)]
    assert w.rejects.column("row").to_pylist() == [2]


def test_a_layout_still_needs_its_columns_and_an_empty_string_stays_a_validation_failure(
    tmp_path,
):
    """What stays as it was: rows of another type entirely are a data-wide error, and an
    empty text is refused by the output check."""
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]
    src = _write(tmp_path / "pc.jsonl", rows)
    res = _run("convert", str(src), "--from", "preference", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 2 and "does not match the data" in res.output
    rows = [_pref_text(0), {**_pref_text(1), "chosen": ""}]
    src = _write(tmp_path / "e.jsonl", rows)
    res = _run(
        "convert", str(src), "--to", "unpaired", "-o", str(tmp_path / "out.jsonl"),
        "--on-error", "skip",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (rej,) = _jsonl(tmp_path / "out.rejects.jsonl")
    assert (rej["line"], rej["stage"]) == (2, "validation")


CELL = st.sampled_from(["ok", "ok", "ok", "null", "absent"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=25))
def test_rows_in_equal_rows_out_plus_rejected(tmp_path_factory, cells):
    """Rows with any null or absent required value are exactly the rejected rows, in the
    streamed CLI (small batches, some wholly null) and the Python API alike; every other
    row is converted. A run that stops on them (`--on-error stop`) counts the same rows:
    its counts line and its error's `counts` say rows in = would convert + rejected."""
    rows = [_pref_text(0)]  # one complete row: the data is preference
    for i, kinds in enumerate(cells, 1):
        row = _pref_text(i)
        for name, kind in zip(("prompt", "chosen", "rejected"), kinds, strict=True):
            if kind == "null":
                row[name] = None
            elif kind == "absent":
                del row[name]
        rows.append(row)
    bad = [i for i, r in enumerate(rows) if len(r) < 3 or None in r.values()]
    tmp = tmp_path_factory.mktemp("rows")
    src = _write(tmp / "p.jsonl", rows)
    out = tmp / "o.jsonl"
    stopped_out = tmp / "s.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        from trlprep.io import jsonl

        mp.setattr(jsonl, "CHUNK_BYTES", 128)  # a few rows a batch
        res = _run("convert", str(src), "--to", "unpaired", "-o", str(out), "--on-error", "skip")
        stopped = _run("convert", str(src), "--to", "unpaired", "-o", str(stopped_out))
    assert res.exit_code == 0, res.output
    _stopped_counts_agree(rows, bad, stopped, stopped_out)
    n_in, n_bad = len(rows), len(bad)
    good = n_in - n_bad
    assert f"{n_in} row{'s' * (n_in > 1)} in, {n_bad} rejected, {good} converted" in res.output
    rejects = _jsonl(tmp / "o.rejects.jsonl") if n_bad else []
    assert [r["row"] for r in rejects] == bad
    assert [r["line"] for r in rejects] == [i + 1 for i in bad]
    assert len(_jsonl(out)) == 2 * good
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert api.convert(rows, "unpaired", on_error="skip") == _jsonl(out)


def _stopped_counts_agree(rows: list[dict], bad: list[int], res, out: Path) -> None:
    """A stopped run (CLI and API) over `rows`, of which `bad` are refused: nothing written,
    its counts (line and `DataError.counts`) those of the whole input."""
    n_in, n_bad = len(rows), len(bad)
    good = n_in - n_bad
    if not n_bad:
        assert res.exit_code == 0 and "would convert" not in res.output, res.output
        return
    line = (
        f"preference -> unpaired-preference (standard): {n_in} row{'s' * (n_in > 1)} in, "
        f"{n_bad} rejected, {good} would convert"
    )
    said = " ".join(res.output.split())
    assert res.exit_code == 1 and not out.exists(), res.output
    assert said.count(line) == 1 and said.index(line) < said.index("error:"), res.output
    assert f"{line} (unpairing: 2 per row); nothing written (stopped)" in said
    with warnings.catch_warnings(), pytest.raises(DataError) as e:
        warnings.simplefilter("ignore")
        api.convert(rows, "unpaired")
    c = e.value.counts
    assert (c.rows_in, c.rejected, c.kept) == (n_in, n_bad, good)
    assert c.rows_in == c.kept + c.rejected
    assert str(e.value).split("\n")[0].endswith(c.said) and c.said.startswith(line)
