"""Each refused row's reason names only its own values: two rows of one batch that break
one rule with different values are each told their own (a role, a part type, counts,
tools, an ending, a kind, a message), in `invalid_rows` (what convert's rejects, its stop
error and train's rejects say), on `convert --on-error skip`, its stop error and
`--engine ray`; validate's report keeps listing the batch's examples."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.columns.arrowtypes import JSON_FIELD_KEY
from trlprep.importers.rejects import invalid_rows
from trlprep.registry import Format, get_type


def U(c):
    return {"role": "user", "content": c}


def A(c):
    return {"role": "assistant", "content": c}


def T(t):
    return {"type": "text", "text": t}


def _chat(first, second=None, **side):
    """A two-turn conversation; the answer's content of the question's kind (one Arrow type)."""
    parts = first is not None and isinstance(first.get("content"), list)
    return {"messages": [first, second or A([T("yo")] if parts else "yo")], **side}


def _calling(arguments: str) -> dict:
    return {**A(""), "tool_calls": [{"function": {"name": "f", "arguments": arguments}}]}


# rule -> (type, two rows breaking it, what each row's reason must say)
CASES = {
    "unknown-role": (
        "language-modeling",
        [_chat({"role": None, "content": "hi"}), _chat({"role": "human", "content": "hi"})],
        ["(null); map roles with --role-map FROM=TO", "('human'); try --role-map human=user"],
    ),
    "invalid-message": (
        "language-modeling",
        [{"messages": [None, A("yo")]}, _chat({"role": "user", "content": "hi", "name": 5})],
        ["a message is null (rule", "has the wrong type (name must be a string) (rule"],
    ),
    "invalid-part": (
        "language-modeling",
        [_chat(U([{"type": "foo"}, T("x")])), _chat(U([{"type": "bar"}, T("x")]))],
        ["(type 'foo')", "(type 'bar')"],
    ),
    "image-count": (
        "language-modeling",
        [
            _chat(U([{"type": "image"}, T("x")]), images=[]),
            _chat(U([{"type": "image"}, {"type": "image"}, T("x")]), images=["a"] * 5),
        ],
        ["(messages: 1 image part, 0 images)", "(messages: 2 image parts, 5 images)"],
    ),
    "image-count-inline": (
        "language-modeling",
        [
            _chat(U([{"type": "image", "image": "data:image/png;base64,AA=="}]), images=["a"]),
            _chat(
                U([{"type": "image", "image": "data:image/png;base64,AA=="}] * 2),
                images=["a", "b", "c"],
            ),
        ],
        ["(1 inline, 1 in images)", "(2 inline, 3 in images)"],
    ),
    "media-count": (
        "language-modeling",
        [
            _chat(U([{"type": "video"}, T("x")]), videos=[]),
            _chat(U([{"type": "video"}, {"type": "video"}, T("x")]), videos=["a", "b", "c"]),
        ],
        ["(messages: 1 video part, 0 videos", "(messages: 2 video parts, 3 videos"],
    ),
    "invalid-tools": (
        "language-modeling",
        [_chat(U("hi"), tools="[1]"), _chat(U("hi"), tools='{"x": 1}')],
        ["(item 0 is not a function schema)", "(a dict, not a list)"],
    ),
    "prompt-ending": (
        "prompt-only",
        [
            {"prompt": [{"role": "system", "content": "s"}]},
            {"prompt": [U("q"), {"role": "developer", "content": "d"}]},
        ],
        ["(ends on system)", "(ends on developer)"],
    ),
    "invalid-arguments": (
        "language-modeling",
        [_chat(U("q"), _calling("not json")), _chat(U("q"), _calling("[1, 2]"))],
        ['("not json")', '("[1, 2]")'],
    ),
    "double-encoded-arguments": (
        "language-modeling",
        [_chat(U("q"), _calling(json.dumps('{"a": 1}'))), _chat(U("q"), _calling('"[7]"'))],
        ['{\\"a\\": 1}', "[7]"],
    ),
}


def _own(reasons: list[str | None], said: list[str]) -> None:
    """Each reason says its row's own words and none of the other row's."""
    for k, (reason, mine) in enumerate(zip(reasons, said, strict=True)):
        assert reason is not None and mine in reason, (reason, mine)
        other = said[1 - k]
        assert other not in reason, (reason, other)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_row_of_a_batch_is_told_its_own_values(case):
    dtype, rows, said = CASES[case]
    why = invalid_rows(pa.Table.from_pylist(rows), get_type(dtype), Format.CONVERSATIONAL)
    _own(list(why), said)


def test_mixed_kinds_each_row_told_its_own_kind():
    tagged = pa.field("prompt", pa.string(), metadata={JSON_FIELD_KEY: b"1"})
    table = pa.table(
        {"prompt": pa.array(["3", '["a"]', '"fine"'], tagged.type), "completion": ["c"] * 3},
        schema=pa.schema([tagged, pa.field("completion", pa.string())]),
    )
    why = invalid_rows(table, get_type("prompt-completion"), Format.STANDARD)
    _own(list(why[:2]), ["(holds a number)", "(holds a list)"])
    assert why[2] is None


# ---------------------------------------------------------------- the CLI, both engines

ROWS = [  # one batch: the good row, then two rows of each rule with different values
    _chat(U("hi")),
    *(
        r
        for c in ("unknown-role", "invalid-message", "invalid-part", "image-count")
        for r in CASES[c][1]
    ),
    *CASES["media-count"][1],
    *CASES["invalid-tools"][1],
    _chat(U("")),  # empty-string: no values, and none of the other rows'
    _chat(U([T("")])),
]
SAID = [
    *(
        s
        for c in ("unknown-role", "invalid-message", "invalid-part", "image-count")
        for s in CASES[c][2]
    ),
    *CASES["media-count"][2],
    *CASES["invalid-tools"][2],
]


def _write(tmp: Path) -> Path:
    src = tmp / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return src


def _rejects(tmp: Path, *extra: str) -> tuple[int, str, list[dict]]:
    out = tmp / "out"
    out.mkdir()
    res = CliRunner().invoke(
        app, ["convert", str(_write(tmp)), "-o", str(out / "x.jsonl"), "--on-error", "skip", *extra]
    )
    rejects = out / "x.rejects.jsonl"
    if rejects.is_dir():  # Ray's shard folder
        lines = [x for f in sorted(rejects.iterdir()) for x in f.read_text().splitlines()]
    else:
        lines = rejects.read_text().splitlines()
    return (
        res.exit_code,
        res.output,
        sorted((json.loads(x) for x in lines), key=lambda r: r["line"]),
    )


def _check(rejects: list[dict]) -> None:
    assert [r["line"] for r in rejects] == list(range(2, len(ROWS) + 1))
    reasons = [r["reason"] for r in rejects]
    for k in range(0, len(SAID), 2):
        _own(reasons[k : k + 2], SAID[k : k + 2])
    for reason in reasons[-2:]:  # empty-string: the rule, and no other row's values
        assert reason.endswith("is empty (rule empty-string)"), reason


def test_convert_skip_writes_each_rows_own_reason(tmp_path):
    code, said, rejects = _rejects(tmp_path)
    assert code == 0, said
    _check(rejects)
    assert "1 converted" in said


def test_the_stop_error_names_the_first_rows_own_value(tmp_path):
    src = tmp_path / "two.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in CASES["unknown-role"][1][::-1]))
    res = CliRunner().invoke(app, ["convert", str(src), "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 1
    error = next(x for x in res.output.splitlines() if x.startswith("error:"))
    assert "two.jsonl:1:" in error and "('human'); try --role-map human=user" in error
    assert "null" not in error


def test_validate_report_keeps_the_batchs_examples(tmp_path):
    res = CliRunner().invoke(app, ["validate", str(_write(tmp_path))])
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "('human', null)" in said or "(null, 'human')" in said
    assert "(type 'foo', type 'bar')" in said


def test_ray_tells_each_row_its_own_reason_as_local_does(tmp_path):
    pytest.importorskip("ray.data")
    from ray_support import local_ray  # noqa: F401

    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    _, _, local = _rejects(tmp_path / "local")
    code, said, ray = _rejects(tmp_path / "ray", "--engine", "ray")
    assert code == 0, said
    _check(ray)
    assert [r["reason"] for r in ray] == [r["reason"] for r in local]


def test_only_the_row_holding_a_legacy_function_call_is_told_of_it():
    legacy = {"role": "assistant", "content": None, "function_call": {"name": "f"}}
    rows = [_chat(U("q"), legacy), _chat(U("q"), {"role": "assistant", "content": None})]
    why = invalid_rows(
        pa.Table.from_pylist(rows), get_type("language-modeling"), Format.CONVERSATIONAL
    )
    assert "legacy function_call: --from openai-chat" in why[0]
    assert why[1] == (
        "column 'messages': a message has no content and no tool_calls (rule missing-content)"
    )
