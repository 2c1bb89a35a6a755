"""validate --from LAYOUT: data stored in a public layout checked as convert and train
import it; rows the import refuses are `import-failed` errors, and every issue names the
input's rows and file lines."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata.support import run, sample

import trlprep
from trlprep.errors import UsageError
from trlprep.validation.rules import RULES, Severity

GOOD = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
BYE = {"conversations": [{"from": "human", "value": "Bye"}, {"from": "gpt", "value": "Goodbye"}]}
ALIEN = {"conversations": [{"from": "alien", "value": "Hi"}, {"from": "gpt", "value": "x"}]}


def test_the_rule_is_an_error_pointing_to_convert():
    rule = RULES["import-failed"]
    assert rule.severity is Severity.ERROR and "--on-error skip" in rule.hint


def test_real_sharegpt_tool_calls_validate_as_imported():
    """Without --from the ShareGPT columns are no TRL type (exit 1); with it, exit 0."""
    path = sample("glaive_toolcall")
    res = run("validate", path)
    assert res.exit_code == 1 and "unknown-type" in res.output
    res = run("validate", path, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    assert "50 input rows -> 50 rows checked" in res.output
    assert "valid: 50 rows of language-modeling (conversational)" in res.output


def test_real_hh_rows_the_import_refuses_are_errors_named_by_line():
    path = sample("hh_rlhf")
    res = run("validate", path, "--from", "hh", "--format", "json")
    assert res.exit_code == 1
    got = json.loads(res.output)
    issues = {(i["rule"], i["column"]): i for i in got["issues"]}
    failed = issues[("import-failed", None)]
    assert failed["count"] == 4 and failed["lines"] == [87, 151, 154, 155]  # all (max-errors 10)
    assert "ends with an empty Assistant turn" in failed["message"]
    # the other issues are of the imported rows, named by the input's lines
    assert issues[("role-alternation", "chosen")]["lines"][:3] == [152, 153, 156]


def test_an_expanding_layout_counts_input_and_checked_rows():
    """OASST's message export: 8 trees give 37 conversations, all checked."""
    path = sample("hh_rlhf").parent.parent / "oasst_messages" / "en_100_message.first8.jsonl"
    res = run("validate", path, "--from", "oasst")
    assert res.exit_code == 0, res.output
    assert "8 input rows -> 37 rows checked" in res.output


@pytest.mark.parametrize("kind", ["rows", "parquet"])
def test_issue_rows_are_the_inputs_rows_not_the_imported_positions(tmp_path, kind):
    """The import drops row 0, so the repeat at input row 3 is imported row 2: the report
    names row 3 (files without lines say rows)."""
    rows = [ALIEN, GOOD, BYE, BYE]
    data = rows
    if kind == "parquet":
        data = tmp_path / "d.parquet"
        pq.write_table(pa.Table.from_pylist(rows), data)
    report = trlprep.validate(data, from_="sharegpt")
    failed = report.issue("import-failed")
    assert failed.rows == [0] and "'alien'" in failed.message
    dup = report.issue("duplicate-row")
    assert dup.rows == [3] and "row 3 repeats row 2" in dup.message
    assert not report.valid


def test_jsonl_issues_name_file_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [GOOD, ALIEN, BYE, BYE]))
    res = run("validate", path, "--from", "sharegpt", "--format", "json")
    got = {i["rule"]: i for i in json.loads(res.output)["issues"]}
    assert got["import-failed"]["lines"] == [2]
    assert (
        got["duplicate-row"]["lines"] == [4]
        and "line 4 repeats line 3" in (got["duplicate-row"]["message"])
    )


def test_importer_options_reach_the_import(tmp_path):
    """--map renames columns for the `map` layout, as convert --from map does."""
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    res = run("validate", path, "--from", "map", "--map", "prompt=question,completion=answer")
    assert res.exit_code == 0, res.output
    assert "1 row of prompt-completion (standard)" in res.output


def test_usage_errors():
    with pytest.raises(UsageError, match="no public layout"):
        trlprep.validate([GOOD], from_="lm")
    with pytest.raises(UsageError, match="unknown keyword 'nope'"):
        trlprep.validate([GOOD], from_="sharegpt", nope=1)
    res = run("validate", "x.jsonl", "--from", "lm")
    assert res.exit_code == 2 and "not a public layout" in res.output


def test_several_imported_rows_of_one_input_row_are_named_once(tmp_path):
    """ranked gives 2 pairs per row: the repeated input row is named once, and counted."""
    row = {"prompt": "Hi", "completions": ["a", "b", "c"], "scores": [3, 2, 1]}
    path = tmp_path / "r.jsonl"
    path.write_text((json.dumps(row) + "\n") * 2)
    res = run("validate", path, "--from", "ranked", "--format", "json")
    dup = {i["rule"]: i for i in json.loads(res.output)["issues"]}["duplicate-row"]
    assert dup["rows"] == [1] and dup["lines"] == [2] and dup["count"] == 1
    assert "(line 2 repeats line 1)" in dup["message"]
    assert "2 imported rows from 1 input row" in dup["message"]


def test_several_parquet_files_name_repeats_by_file(tmp_path):
    """The repeats are the input's rows, so each is named by its file."""
    pq.write_table(pa.Table.from_pylist([ALIEN, GOOD]), tmp_path / "a.parquet")
    pq.write_table(pa.Table.from_pylist([GOOD]), tmp_path / "b.parquet")
    res = run("validate", tmp_path, "--from", "sharegpt", "--format", "json")
    dup = {i["rule"]: i for i in json.loads(res.output)["issues"]}["duplicate-row"]
    assert "b.parquet row 0 repeats " in dup["message"]
    assert "a.parquet row 1)" in dup["message"]


def test_no_row_imported_is_said_so_and_names_the_input_column():
    report = trlprep.validate([ALIEN, ALIEN, ALIEN], from_="sharegpt")
    failed = report.issue("import-failed")
    assert "column 'conversations' (imported as 'messages')" in failed.message
    empty = report.issue("empty-dataset")
    assert empty.message.startswith("no row could be imported: the input's 3 rows")
    assert "has no rows" not in empty.message


@pytest.mark.parametrize("one_schema", [True, False])
def test_detection_on_the_first_imported_batch_reads_the_input_once(one_schema):
    """Without --type the first imported batch decides the type: the input is read once."""
    from trlprep.io.readers import Batch
    from trlprep.validation.imported import validate_imported

    reads = []

    def read():
        reads.append(1)
        return iter([Batch(pa.Table.from_pylist([GOOD, BYE]), 0, None)])

    report = validate_imported(
        read, "sharegpt", None, path=None, type=None, format=None, strict=False,
        max_errors=10, role_map=None, one_schema=one_schema,
    )  # fmt: skip
    assert report.valid and report.type == "language-modeling" and len(reads) == 1


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--neutral", "drop"], "--neutral"),
        (["--pairing", "all-pairs"], "--pairing"),
        (["--threshold", "2"], "--threshold"),
    ],
)
def test_import_options_without_from_are_refused(tmp_path, args, flag):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    res = run("validate", path, *args)
    assert res.exit_code == 2 and f"{flag} is an option of the import" in res.output


def test_refused_rows_shown_are_max_errors_of_each_reason():
    report = trlprep.validate([ALIEN] * 5 + [GOOD], from_="sharegpt")
    assert report.issue("import-failed").rows == [0, 1, 2, 3, 4]
    report = trlprep.validate([ALIEN] * 5 + [GOOD], from_="sharegpt", max_errors=2)
    assert report.issue("import-failed").rows == [0, 1]


def _chunked_sharegpt(path, monkeypatch) -> int:
    """A JSON Lines file read in many chunks whose schemas differ: the first chunks have no
    `system` column and a `tools` column that is null, later ones fill both; one row the
    import refuses near the end. Returns its rows."""
    from trlprep.io import jsonl

    tools = json.dumps([{"type": "function", "function": {"name": "f", "parameters": {}}}])
    rows = [{**GOOD, "tools": None} for _ in range(20)]
    rows += [{**BYE, "system": "be brief", "tools": tools} for _ in range(20)]
    rows.insert(35, ALIEN)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 600)  # about 5 rows a chunk
    return len(rows)


def _counting_imports(monkeypatch) -> list[int]:
    """How many input rows each `import_batches` call imports (one entry per call)."""
    import trlprep.importers as importers

    real, calls = importers.import_batches, []

    def counting(batches, *args, **kwargs):
        calls.append(0)

        def counted():
            for b in batches:
                calls[-1] += b.data.num_rows
                yield b

        return real(counted(), *args, **kwargs)

    monkeypatch.setattr(importers, "import_batches", counting)
    return calls


@pytest.mark.parametrize("budget", [None, 0])
def test_a_multi_chunk_jsonl_is_imported_once(tmp_path, monkeypatch, budget):
    """The chunks decide nothing on their own (the schema changes), so the type is detected
    on every imported row; before, the whole file was then imported a second time for the
    checks. Now each row is imported once, the imported batches kept (in memory, or with
    no memory budget all in a scratch file) and checked from there, with the same report
    as one chunk gives."""
    from trlprep.io import jsonl, keptbatches

    path = tmp_path / "sg.jsonl"
    n = _chunked_sharegpt(path, monkeypatch)
    if budget is not None:
        monkeypatch.setattr(keptbatches, "MEMORY_BUDGET", budget)
    calls = _counting_imports(monkeypatch)
    res = run("validate", path, "--from", "sharegpt", "--format", "json")
    assert calls == [n], calls
    many = json.loads(res.output)
    assert res.exit_code == 1  # the refused row
    failed = many["issues"][0]
    assert (failed["rule"], failed["lines"]) == ("import-failed", [36])
    assert many["type"] == "language-modeling" and many["num_rows"] == n - 1
    assert f"{n} input rows -> {n - 1} rows checked, 1 not importable" in " ".join(many["notes"])
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 1 << 20)  # one chunk
    one = json.loads(run("validate", path, "--from", "sharegpt", "--format", "json").output)
    assert calls == [n, n]
    assert many == one
    assert not list(tmp_path.glob(".trlprep-*"))  # no scratch folder left


def test_imported_rows_with_a_system_message_only_in_later_chunks_are_checked(
    tmp_path, monkeypatch
):
    """The checks see the later chunks' own schema (their system messages), as imported."""
    from trlprep.io.readers import iter_batches
    from trlprep.validation.imported import validate_imported

    path = tmp_path / "sg.jsonl"
    _chunked_sharegpt(path, monkeypatch)
    schemas = {tuple(b.data.schema.names) for b in iter_batches(str(path))}
    assert len(schemas) > 1  # the chunks differ
    seen = []
    import trlprep.validation.validate as validate_mod

    real = validate_mod.validate_batches

    def spy(batches, *args, **kwargs):
        def kept():
            for b in batches:
                seen.append(b.data.column("messages").to_pylist())
                yield b

        return real(kept(), *args, **kwargs)

    monkeypatch.setattr(validate_mod, "validate_batches", spy)
    calls = _counting_imports(monkeypatch)
    report = validate_imported(
        lambda: iter_batches(str(path)), "sharegpt", None, path=str(path), type=None,
        format=None, strict=False, max_errors=10, role_map=None,
    )  # fmt: skip
    assert calls == [41] and report.num_rows == 40
    messages = [m for batch in seen for m in batch]
    assert [m[0]["role"] for m in messages] == ["user"] * 20 + ["system"] * 20
    assert messages[-1][0]["content"] == "be brief"


def test_the_import_failed_hint_names_the_layout_and_map_given(tmp_path):
    """The hint's convert command imports as this run did (was `--from LAYOUT` literally),
    as does the note; the Python API says it as keyword arguments."""
    res = run("validate", sample("hh_rlhf"), "--from", "hh")
    text = " ".join(res.output.split())
    assert "trlprep convert DATA --from hh --on-error skip -o OUT writes the others" in text
    assert "LAYOUT" not in text
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q1", "answer": "a1"}\n{"question": "q2", "answer": null}\n')
    res = run("validate", data, "--map", "prompt=question,completion=answer")
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "LAYOUT" not in text
    assert (
        "trlprep convert DATA --map prompt=question,completion=answer --on-error skip -o OUT"
        in text
    )
    assert (
        "imported as `trlprep convert --map prompt=question,completion=answer` and `train "
        "--data-map prompt=question,completion=answer` import it: 2 input rows -> 1 row checked"
        in text
    )
    report = trlprep.validate(data, map="prompt=question,completion=answer")
    assert report.issue("import-failed").hint == (
        "fix the rows (see the reason), or set them aside: OUT = trlprep.convert(DATA, "
        "map={'prompt': 'question', 'completion': 'answer'}, on_error='skip') writes the "
        "others and a rejects file"
    )
