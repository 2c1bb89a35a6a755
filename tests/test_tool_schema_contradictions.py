"""A tool schema whose `parameters.required` names a property its `properties` lack
contradicts itself (rule `required-not-property`, a warning): `validate` names the rows and
the function, and a `--tools` / `tools=` schema list is warned of where it is loaded
(convert, train, the Python API), once a run. Real case: Functionary's legacy test
conversation (MeetKai/functionary `tests/test_case_v1.json`), whose `get_car_price`
requires `get_car_price`, the function's own name, beside its one property `car_name`
(was: valid, nothing said)."""

from __future__ import annotations

import json
import warnings

import pytest
from realdata.support import HERE, run

from trlprep.validation.checks.toolschemas import schema_contradictions

LEGACY = HERE / "functionary_test_cases" / "test_case_v1.json"
TOOLS = HERE / "functionary_test_cases" / "test_case.json"  # consistent schemas
SAID = "function 'get_car_price' requires 'get_car_price', not among its properties (car_name)"


@pytest.fixture
def tools_file(tmp_path):
    """The legacy file's `functions`, as a `--tools` file of OpenAI tools."""
    functions = json.loads(LEGACY.read_text())["functions"]
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([{"type": "function", "function": f} for f in functions]))
    return path


def _said(output: str) -> str:
    return " ".join(output.split())


def test_validate_warns_naming_the_function_and_the_property():
    res = run("validate", LEGACY, "--from", "openai-chat")
    assert res.exit_code == 0, res.output  # a warning: still valid
    said = _said(res.output)
    assert "warning: required-not-property (tools): 1 row, row 0" in said
    assert SAID in said and "valid: 1 row of language-modeling (conversational); 1 warning" in said


def test_the_converted_file_is_warned_by_line(tmp_path):
    out = tmp_path / "lm.jsonl"
    assert run("convert", LEGACY, "--from", "openai-chat", "-o", out).exit_code == 0
    res = run("validate", out)
    assert "required-not-property (tools): 1 row, line 1" in _said(res.output), res.output


def test_consistent_schemas_are_not_flagged():
    tools = [t for t in json.loads(TOOLS.read_text())["tools"] if "function" in t]
    assert len(tools) == 2 and schema_contradictions(tools) == []
    functions = json.loads(LEGACY.read_text())["functions"]
    assert schema_contradictions(functions) == [SAID]  # a bare schema too


def test_a_tools_file_is_warned_of_once_when_convert_loads_it(tmp_path, tools_file):
    rows = tmp_path / "chat.jsonl"
    chat = [{"role": "user", "content": "Song or Tang?"}, {"role": "assistant", "content": "Tang"}]
    rows.write_text(json.dumps({"messages": chat}) + "\n")
    res = run("convert", rows, "--tools", tools_file, "--chat-template", "chatml", "-o",
              tmp_path / "o.jsonl")  # fmt: skip
    assert res.exit_code == 0, res.output
    said = _said(res.output)
    assert said.count("(rule required-not-property)") == 1
    assert f"warning: {tools_file}: {SAID}: the schema contradicts itself" in said


def test_the_python_api_warns_of_tools_given_as_a_list_or_a_file(tools_file):
    from trlprep import convert

    rows = [{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}]
    schemas = json.loads(tools_file.read_text())
    for given, where in ((schemas, "tools="), (str(tools_file), str(tools_file))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            convert(rows, chat_template="chatml", tools=given)
        said = [str(w.message) for w in caught if "required-not-property" in str(w.message)]
        assert len(said) == 1 and said[0].startswith(f"{where}: {SAID}"), said


def test_train_config_warns_once(tools_file):
    from trlprep.trainers.config import TrainConfig

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = TrainConfig(algo="sft", model="m", data=[], output_dir="o", tools=str(tools_file))
        assert cfg.tool_schemas()[0]["function"]["name"] == "get_car_price"
        cfg.to_json()
    said = [str(w.message) for w in caught if "required-not-property" in str(w.message)]
    assert len(said) == 1 and SAID in said[0]
