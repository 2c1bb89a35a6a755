"""`--split-turns all` with a chat template refuses only the turns the template cannot render:
one run writes what splitting into a file, then rendering that file, writes (row for row,
byte for byte), with the refused turns named `turn K of line L`, counted apart from the input
rows, and listed in the rejects file (the input row as read, with its `turn`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.errors import DataError

# renders role/content lines; raises on any message holding FORBIDDEN (as Cohere raises on a
# tool call): a turn whose prompt or completion holds one cannot be rendered
TEMPLATE = (
    "{%- for m in messages %}{%- if 'FORBIDDEN' in m['content'] %}"
    "{{ raise_exception('this model may not say FORBIDDEN') }}{%- endif %}"
    "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>\n"
    "{% endfor %}{%- if add_generation_prompt %}<|assistant|>{% endif %}"
)
RAISED = "t.jinja raised: this model may not say FORBIDDEN"


def _m(role: str, content: str) -> dict:
    return {"role": role, "content": content}


ROWS = [
    {  # line 1: turn 1 renders; turn 2's completion and turn 3's prompt hold FORBIDDEN
        "id": "a",
        "messages": [
            _m("user", "Hi"),
            _m("assistant", "Hello"),
            _m("user", "Say it"),
            _m("assistant", "FORBIDDEN"),
            _m("user", "Again"),
            _m("assistant", "No"),
        ],
    },  # fmt: skip
    {"id": "b", "messages": [_m("user", "Q"), _m("assistant", "A")]},
    {"id": "c", "messages": [_m("user", "only a question")]},  # line 3: no turn to split
    {
        "id": "d",
        "messages": [
            _m("system", "S"),
            _m("user", "Q1"),
            _m("assistant", "A1"),
            _m("user", "Q2"),
            _m("assistant", "A2"),
        ],
    },  # fmt: skip
]
SPLIT = ["--to", "pc", "--split-turns", "all"]
SKIP = ["--on-error", "skip"]


def _files(tmp: Path, rows: list[dict] = ROWS) -> tuple[Path, Path]:
    data, template = tmp / "in.jsonl", tmp / "t.jinja"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    template.write_text(TEMPLATE)
    return data, template


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_one_run_writes_what_split_then_rendered_writes(tmp_path):
    data, template = _files(tmp_path)
    one, split, two = (tmp_path / f"{n}.jsonl" for n in ("one", "split", "two"))
    res = _run("convert", data, *SPLIT, "--chat-template", template, *SKIP, "-o", one)
    assert res.exit_code == 0, res.output
    assert _run("convert", data, *SPLIT, "--on-error", "skip", "-o", split).exit_code == 0
    res2 = _run("convert", split, "--chat-template", template, *SKIP, "-o", two)
    assert res2.exit_code == 0, res2.output
    assert one.read_bytes() == two.read_bytes()
    assert [r["id"] for r in _lines(one)] == ["a", "b", "d", "d"]  # a's turn 1 kept
    assert _lines(one)[0]["completion"] == "Hello<|end|>\n"
    said = " ".join(res.output.split())
    assert (
        "4 rows in, 1 rejected, 3 converted -> 4 rows out (language-modeling -> "
        "prompt-completion: 3 rows -> 6, one per assistant turn; 2 turns of 1 row refused)"
    ) in said
    assert "1 rejected row, 2 refused turns ->" in said
    assert f"1 x chat template: completion: {RAISED} (e.g. turn 2 of line 1)" in said
    assert f"1 x chat template: prompt: {RAISED} (e.g. turn 3 of line 1)" in said
    assert "1 x conversion: no assistant turn after the first message (e.g. line 3)" in said


def test_the_rejects_file_lists_each_refused_turn_with_its_input_row(tmp_path):
    data, template = _files(tmp_path)
    out = tmp_path / "one.jsonl"
    res = _run("convert", data, *SPLIT, "--chat-template", template, *SKIP, "-o", out)
    assert res.exit_code == 0, res.output
    got = _lines(tmp_path / "one.rejects.jsonl")
    assert [(r["row"], r["line"], r["turn"], r["stage"]) for r in got] == [
        (0, 1, 2, "chat template"),
        (0, 1, 3, "chat template"),
        (2, 3, None, "conversion"),  # refused whole, before the split
    ]
    assert [r["reason"] for r in got[:2]] == [f"completion: {RAISED}", f"prompt: {RAISED}"]
    assert got[0]["record"] == got[1]["record"] == ROWS[0]  # the input row, as read
    assert list(got[0]) == ["row", "line", "turn", "stage", "reason", "record"]


def test_without_skip_the_first_refused_turn_stops_the_run(tmp_path):
    data, template = _files(tmp_path)
    out = tmp_path / "one.jsonl"
    res = _run("convert", data, *SPLIT, "--chat-template", template, "-o", out)
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert (
        f"in.jsonl: turn 2 of line 1: chat template: completion: {RAISED} "
        "(2 more rows or turns fail)"
    ) in said
    assert "nothing was written" in said and not out.exists()


def test_every_turn_refused_is_an_error(tmp_path):
    rows = [{"messages": [_m("user", "FORBIDDEN"), _m("assistant", "x")]}] * 2
    data, template = _files(tmp_path, rows)
    out = tmp_path / "one.jsonl"
    res = _run("convert", data, *SPLIT, "--chat-template", template, *SKIP, "-o", out)
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "every turn was refused (2 of 2 rows); the first: turn 1 of line 1: chat" in said
    assert not out.exists() and len(_lines(tmp_path / "one.rejects.jsonl")) == 2


def test_python_api_keeps_the_turns_that_render(tmp_path):
    _, template = _files(tmp_path)
    kw = {"to": "prompt-completion", "split_turns": "all"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one = trlprep.convert(ROWS, **kw, chat_template=str(template), on_error="skip")
        split = trlprep.convert(ROWS, **kw, on_error="skip")
        two = trlprep.convert(split, chat_template=str(template), on_error="skip")
    assert one == two and len(one) == 4  # (a list in, a list out)
    said = [str(w.message) for w in caught]
    assert any(
        s.startswith(
            "2 turns of 1 row could not be rendered and were left out (the other turns of "
            "those rows are kept), and 1 row could not be converted and was left out: "
        )
        and "(e.g. turn 2 of row 0)" in s
        for s in said
    ), said
    with pytest.raises(DataError, match=r"turn 2 of row 0: chat template: completion: t\.jinja"):
        trlprep.convert(ROWS[:2], **kw, chat_template=str(template))
