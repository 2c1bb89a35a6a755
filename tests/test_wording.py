"""Articles in messages: `an IterableDataset`, `an array`, never `a IterableDataset`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import UsageError
from trlprep.wording import article


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("IterableDataset", "an IterableDataset"),
        ("array", "an array"),
        ("int", "an int"),
        ("object", "an object"),
        ("list", "a list"),
        ("dict", "a dict"),
        ("NoneType", "a NoneType"),
        ("UsageError", "a UsageError"),
        ("unicode string", "a unicode string"),
        ("'input_ids'", "an 'input_ids'"),
    ],
)
def test_article(word, said):
    assert article(word) == said


def test_a_datasets_object_of_no_dataset_kind_is_named_with_the_kinds_taken():
    datasets = pytest.importorskip("datasets")
    from trlprep.io.adapters import as_input

    column = datasets.Dataset.from_list([{"prompt": "a", "completion": "b"}])["prompt"]
    with pytest.raises(UsageError) as e:
        as_input(column)
    assert e.value.message == "unsupported dataset kind datasets.Column"
    assert "a datasets.Dataset" in e.value.hint and "a list of paths" in e.value.hint


def test_tool_calls_of_the_wrong_kind_must_be_an_array(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "yo", "tool_calls": "x"}]}\n'
    )
    result = CliRunner().invoke(app, ["validate", "d.jsonl"])
    assert result.exit_code == 1
    assert "tool_calls must be an array of objects" in result.output
    assert "a array" not in result.output
