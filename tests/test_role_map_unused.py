"""A --role-map key that no message of the input has is refused (exit 2, "did you mean"),
never silently ignored: in an import, in a plain convert, in validate and in the API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.errors import UsageError
from trlprep.importers import import_dataset

runner = CliRunner()

SHAREGPT = [
    {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
    {"conversations": [{"from": "human", "value": "Yo"}, {"from": "gpt", "value": "Hey"}]},
]
MESSAGES = [
    {"messages": [{"role": "human", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]},
    {"messages": [{"role": "user", "content": "Hey"}, {"role": "assistant", "content": "Ho"}]},
]


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_import_refuses_a_misspelt_role_and_writes_nothing(tmp_path):
    src, out = _write(tmp_path / "s.jsonl", SHAREGPT), tmp_path / "o.jsonl"
    r = runner.invoke(
        app, ["convert", src, "--from", "sharegpt", "--role-map", "humna=user", "-o", str(out)]
    )
    assert r.exit_code == 2, r.output
    assert "--role-map humna=user" in r.output and "did you mean 'human'?" in r.output
    assert not out.exists()


def test_a_key_in_another_case_is_used(tmp_path):
    src, out = _write(tmp_path / "s.jsonl", SHAREGPT), tmp_path / "o.jsonl"
    r = runner.invoke(
        app, ["import", src, "--from", "sharegpt", "--role-map", "HUMAN=user", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output


def test_plain_convert_applies_the_role_map_and_refuses_an_unused_key(tmp_path):
    src, out = _write(tmp_path / "m.jsonl", MESSAGES), tmp_path / "o.jsonl"
    bad = runner.invoke(app, ["convert", src, "--role-map", "humna=user", "-o", str(out)])
    assert bad.exit_code == 2, bad.output
    assert "did you mean 'human'?" in bad.output
    ok = runner.invoke(app, ["convert", src, "--role-map", "human=user", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    first = json.loads(out.read_text().splitlines()[0])
    assert first["messages"][0]["role"] == "user"


def test_validate_refuses_an_unused_key(tmp_path):
    src = _write(tmp_path / "m.jsonl", MESSAGES)
    r = runner.invoke(app, ["validate", src, "--role-map", "humna=user"])
    assert r.exit_code == 2, r.output
    assert "did you mean 'human'?" in r.output
    assert runner.invoke(app, ["validate", src, "--role-map", "human=user"]).exit_code == 0


def test_a_layout_without_roles_says_so(tmp_path):
    rows = [{"instruction": "Say hi", "input": "", "output": "Hi"}]
    src = _write(tmp_path / "a.jsonl", rows)
    out = str(tmp_path / "o.jsonl")
    r = runner.invoke(
        app, ["convert", src, "--from", "alpaca", "--role-map", "bot=assistant", "-o", out]
    )
    assert r.exit_code == 2, r.output
    assert "hold no role names --role-map could rename" in r.output


def test_python_api_names_the_keyword(tmp_path):
    src = _write(tmp_path / "s.jsonl", SHAREGPT)
    with pytest.raises(UsageError, match=r"role_map=.*did you mean 'human'\?"):
        import_dataset(src, "sharegpt", role_map="humna=user")
    with pytest.raises(UsageError, match=r"role_map=.*did you mean 'human'\?"):
        trlprep.validate(_write(tmp_path / "m.jsonl", MESSAGES), role_map="humna=user")


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_validate_from_a_layout_maps_roles_once(tmp_path, engine):
    # the import maps human -> user; validating the imported rows must not look for 'human'
    # again (it refused the very key the import had used)
    if engine == "ray":
        pytest.importorskip("ray")
    src = _write(tmp_path / "s.jsonl", SHAREGPT)
    args = ["validate", src, "--from", "sharegpt", "--engine", engine]
    used = runner.invoke(app, [*args, "--role-map", "human=user"])
    assert used.exit_code == 0, used.output
    assert "valid: 2 rows" in used.output
    unused = runner.invoke(app, [*args, "--role-map", "humna=user"])
    assert unused.exit_code == 2, unused.output
    assert "did you mean 'human'?" in unused.output
