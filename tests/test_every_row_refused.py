"""A run whose every row is refused still says its counts (rows in = rows out + rows
rejected), as every other run does, before the error that ends it (exit 1, nothing
written, the rejects file kept): `convert` (every row refused by the conversion's
validation, or by a `--map` import), `train`'s data line, and the Python API's error and
warning. Real samples: Functionary's test conversation (bare-code tool arguments, refused
by every template) and xtuner's DAPO rollouts mapped with the `label` of reference
answers read as KTO's label (every row refused by the import)."""

from __future__ import annotations

import json
import warnings

import pytest
from realdata.support import HERE, counts, records, run

from trlprep.errors import DataError

FUNCTIONARY = HERE / "functionary_test_cases" / "test_case.json"
DAPO = HERE / "xtuner_dapo_rollouts" / "dapo_math_response_data.sample.jsonl"
REFUSED = "language-modeling (conversational): 1 row in, 1 rejected, 0 converted -> 0 rows out"
IMPORT_REFUSED = "map -> unpaired-preference (standard): 12 rows in, 12 rejected, 0 converted"
IMPORT_STOPPED = (
    "map -> unpaired-preference (standard): 12 rows in, 12 rejected, 0 would convert; "
    "nothing written (stopped)"
)


@pytest.fixture
def dapo(tmp_path):
    """The DAPO sample as JSON Lines (what the `jq -c .` its own error advises writes)."""
    path = tmp_path / "dapo.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records(DAPO)))
    return path


def _before_error(output: str, line: str) -> None:
    """`line` is said once, before the error."""
    said = output.replace("\n  ", " ")  # (wrapped lines joined)
    assert said.count(line) == 1 and said.index(line) < said.index("error:"), output


def test_convert_skip_says_the_counts_then_the_error(tmp_path):
    out, rejects = tmp_path / "out.jsonl", tmp_path / "why.jsonl"
    res = run("convert", FUNCTIONARY, "-o", out, "--on-error", "skip", "--rejects", rejects)
    assert res.exit_code == 1, res.output
    _before_error(res.output, REFUSED)
    _before_error(res.output, f"1 rejected row -> {rejects}")
    assert counts(res.output) == (1, 1, 0, 0)
    assert "every row was rejected (1)" in res.output and not out.exists()
    assert [json.loads(x)["stage"] for x in rejects.read_text().splitlines()] == ["validation"]


def test_an_import_refusing_every_row_says_the_counts_of_its_layout(tmp_path, dapo):
    out = tmp_path / "out.jsonl"
    res = run("convert", dapo, "--map", "completion=response", "-o", out, "--on-error", "skip")
    assert res.exit_code == 1, res.output
    _before_error(res.output, IMPORT_REFUSED)
    assert counts(res.output) == (12, 12, 0, 0) and not out.exists()
    assert len((tmp_path / "out.rejects.jsonl").read_text().splitlines()) == 12
    said = " ".join(res.output.split())
    assert said.index("12 x import: column 'label'") < said.index("error:")  # the reasons


def test_stopped_with_every_row_failing_says_the_counts_and_no_other_rows(tmp_path, dapo):
    out = tmp_path / "out.jsonl"
    res = run("convert", dapo, "--map", "completion=response", "-o", out)
    assert res.exit_code == 1, res.output
    _before_error(res.output, IMPORT_STOPPED)  # a stopped run's counts: nothing written
    assert "(11 more rows fail)" in res.output and not out.exists()
    said = " ".join(res.output.split())
    assert "nothing was written; every row fails" in said
    assert "to write the other rows" not in said  # there are none


def test_a_run_that_wrote_rows_says_its_counts_once(tmp_path):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": ""}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("convert", src, "-o", tmp_path / "o.jsonl", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    assert res.output.count("rows in,") == 1 and "error:" not in res.output


def test_api_import_refusing_every_row_says_so_with_the_counts(dapo):
    from trlprep import convert

    with warnings.catch_warnings(record=True) as caught, pytest.raises(DataError) as e:
        warnings.simplefilter("always")
        convert(str(dapo), map={"completion": "response"}, on_error="skip")
    said = str(e.value)  # was: "the data is not uniform: column 'label': 0 rows hold string"
    assert f"every row was rejected ({IMPORT_REFUSED} -> 0 rows out)" in said, said
    assert "not uniform" not in said and "--" not in e.value.hint
    assert [len(w.message.rejects) for w in caught if hasattr(w.message, "rejects")] == [12]


def test_api_conversion_refusing_every_row_warns_with_the_counts():
    from trlprep import convert
    from trlprep.importers.run import RejectedRowsWarning

    with pytest.warns(RejectedRowsWarning) as caught:
        out = convert(str(FUNCTIONARY), on_error="skip")
    assert out.num_rows == 0
    said = str(caught[0].message)
    assert said.startswith("no row is left (1 row in, 1 rejected, 0 converted -> 0 rows out)")


def test_import_dataset_leaving_no_row_says_the_counts_in_its_warning(dapo):
    from trlprep.importers.run import RejectedRowsWarning, import_dataset

    with pytest.warns(RejectedRowsWarning) as caught:
        out = import_dataset(str(dapo), "map", map={"completion": "response"}, on_error="skip")
    assert out.num_rows == 0 and len(caught[0].message.rejects) == 12
    said = str(caught[0].message)
    assert said.startswith("no row is left (map -> unpaired-preference: 12 rows in, 12 rejected")


def test_train_logs_its_data_line_before_every_row_refused(dapo):
    pytest.importorskip("torch")
    from train_support import make_tokenizer
    from trlprep.trainers.data import prepare

    logs: list[str] = []
    with pytest.raises(DataError, match=r"every row was refused \(1\): nothing to train on"):
        prepare(str(FUNCTIONARY), "lm", ["language-modeling"], make_tokenizer(), max_length=64,
                algo="sft", chat_template="chatml", on_error="skip", log=logs.append)  # fmt: skip
    assert "data: language-modeling (chat template applied): 1 row in, 1 left out, 0 " in logs[-1]
    with pytest.raises(DataError) as e:  # the import's refusal: was "not uniform", no counts
        prepare(str(dapo), "lm", ["language-modeling"], make_tokenizer(), max_length=64,
                algo="sft", column_map={"completion": "response"}, on_error="skip")  # fmt: skip
    said = str(e.value)
    assert "every row was refused (12): nothing to train on (map -> unpaired-preference: " in said
    assert "12 left out, 0 converted -> 0 rows); 12 x import: column 'label'" in said
    assert "--data-map ...,label_value=label" in said  # train's flag


def test_validate_of_an_import_refusing_every_row_names_the_type_it_makes():
    """`validate --from LAYOUT` where the import refuses every row checks no row: its verdict
    names the type the import makes of these columns (was "0 rows of unknown type")."""
    import trlprep

    res = run("validate", FUNCTIONARY, "--from", "openai-chat")
    assert res.exit_code == 1
    assert res.output.rstrip().endswith(
        "INVALID: 0 rows of language-modeling (conversational); 2 errors"
    ), res.output
    said = json.loads(run("validate", FUNCTIONARY, "--from", "openai-chat", "-f", "json").stdout)
    assert (said["type"], said["format"], said["num_rows"]) == (
        "language-modeling", "conversational", 0
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = trlprep.validate(str(FUNCTIONARY), from_="openai-chat")
    assert (report.type, report.format, report.valid) == (
        "language-modeling",
        "conversational",
        False,
    )
