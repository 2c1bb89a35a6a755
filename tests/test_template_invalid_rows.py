"""`convert --chat-template` (and `--tokenize`, and `trlprep.convert(chat_template=...)`)
refuses the conversational rows `trlprep validate` calls invalid as `convert` without a
template does: the same input lines, stage, rule and reason, counted in the summary and set
aside with `--on-error skip` (they were rendered: an empty answer or a message without a
role still renders to non-empty text)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from realdata.support import counts, rows_of, run

TINY = Path(__file__).parent.parent / "examples" / "tiny-chat-model"


def _m(role, text):
    return {"role": role, "content": text}


SKY, BLUE, RED = _m("user", "sky?"), _m("assistant", "blue"), _m("assistant", "red")
NO_ROLE = {"content": "sky?"}
# type -> (a valid row, a row with an empty answer, a row with a message without a role)
CASES = {
    "language-modeling": (
        {"messages": [SKY, BLUE]},
        {"messages": [SKY, _m("assistant", "")]},
        {"messages": [NO_ROLE, BLUE]},
    ),
    "prompt-completion": (
        {"prompt": [SKY], "completion": [BLUE]},
        {"prompt": [SKY], "completion": [_m("assistant", "")]},
        {"prompt": [NO_ROLE], "completion": [BLUE]},
    ),
    "preference": (
        {"prompt": [SKY], "chosen": [BLUE], "rejected": [RED]},
        {"prompt": [SKY], "chosen": [_m("assistant", "")], "rejected": [RED]},
        {"prompt": [NO_ROLE], "chosen": [BLUE], "rejected": [RED]},
    ),
}
RULES = {2: "(rule empty-string)", 4: "(rule unknown-role)"}  # the bad rows' lines
TEMPLATE = ["--chat-template", "chatml"]
TOKENIZE = [*TEMPLATE, "--tokenize", "--tokenizer", TINY]


def data_file(tmp_path: Path, case: str) -> Path:
    """Five rows of `case`: valid on lines 1, 3, 5; invalid on lines 2 and 4."""
    good, empty, roleless = CASES[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (good, empty, good, roleless, good)))
    return path


def refused(path: Path, tmp_path: Path, name: str, *args: object) -> tuple[list[dict], str]:
    """The rejects (row, line, stage, reason, record) of `convert --on-error skip` with
    `args`, and what it printed; every row is accounted for (5 in, 2 rejected, 3 out)."""
    out = tmp_path / f"{name}.jsonl"
    res = run("convert", path, *args, "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (5, 2, 3, 3), res.output
    assert len(rows_of(out)) == 3
    rejects = [json.loads(x) for x in out.with_suffix(".rejects.jsonl").open()]
    return rejects, res.output


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("how", ["template", "tokenize"])
def test_the_rows_refused_with_a_template_are_those_refused_without(tmp_path, case, how):
    path = data_file(tmp_path, case)
    plain, _ = refused(path, tmp_path, "plain")
    rendered, said = refused(path, tmp_path, how, *(TEMPLATE if how == "template" else TOKENIZE))
    assert rendered == plain
    assert [(r["line"], r["stage"], r["reason"][-len(RULES[r["line"]]) :]) for r in plain] == [
        (line, "validation", rule) for line, rule in RULES.items()
    ]
    assert f"the converted row fails {case} validation" in said


@pytest.mark.parametrize("case", list(CASES))
def test_a_template_run_stops_at_the_first_invalid_line_as_without(tmp_path, case):
    path = data_file(tmp_path, case)
    said = {}
    for name, args in {"plain": [], "template": TEMPLATE}.items():
        res = run("convert", path, *args, "-o", tmp_path / f"{name}.jsonl")
        assert res.exit_code == 1, res.output
        said[name] = next(x for x in res.output.splitlines() if x.startswith("error:"))
        assert not (tmp_path / f"{name}.jsonl").exists()
    assert said["template"] == said["plain"]
    assert f"{path}:2: validation: " in said["plain"] and "(1 more row fails)" in said["plain"]


def test_the_python_api_refuses_them_by_keyword(tmp_path):
    import trlprep
    from trlprep.importers.run import RejectedRowsWarning

    path = data_file(tmp_path, "language-modeling")
    got = {}
    for name, options in {"plain": {}, "template": {"chat_template": "chatml"}}.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = trlprep.convert(str(path), on_error="skip", **options)
        (w,) = [w.message for w in caught if isinstance(w.message, RejectedRowsWarning)]
        got[name] = w.rejects.select(["row", "line", "stage", "reason"]).to_pylist()
        assert out.num_rows == 3
    assert got["template"] == got["plain"] and [r["line"] for r in got["plain"]] == [2, 4]
    with pytest.raises(trlprep.DataError) as e:
        trlprep.convert(str(path), chat_template="chatml")
    assert e.value.line == 2 and "on_error='skip'" in str(e.value)
