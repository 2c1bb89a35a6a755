"""What chat templates refuse or misread, found by `validate` as warnings: consecutive
turns of one role, literal special tokens, NUL characters and unbalanced `<image>`."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.api import validate
from trlprep.validation.checks.text import SPECIAL_TOKENS
from trlprep.validation.rules import RULES, Severity

HH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
HH = HH / "hh-rlhf-harmless-base-test.jsonl.gz"
NEW = ("role-alternation", "special-token", "nul-character", "image-placeholder")


def _msgs(*turns: tuple[str, str]) -> list[dict]:
    return [{"role": r, "content": c} for r, c in turns]


def _rows(table_rows: list[dict]):
    return validate(pa.Table.from_pylist(table_rows))


def test_new_rules_are_warnings_with_hints():
    for rule in NEW:
        assert RULES[rule].severity is Severity.WARNING and RULES[rule].hint
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert all(f"| `{rule}` | warning |" in readme for rule in NEW)


def test_consecutive_turns_of_one_role():
    rep = _rows(
        [
            {"messages": _msgs(("user", "a"), ("assistant", "b"))},
            {"messages": _msgs(("user", "a"), ("assistant", "b"), ("assistant", "c"))},
            {"messages": _msgs(("system", "s"), ("user", "a"), ("user", "b"))},
            # tool results in a row and a leading system turn are normal
            {"messages": _msgs(("user", "a"), ("tool", "1"), ("tool", "2"), ("assistant", "x"))},
        ]
    )
    issue = rep.issue("role-alternation")
    assert issue is not None and issue.rows == [1, 2] and issue.count == 2
    assert issue.severity is Severity.WARNING and rep.valid  # a warning, not an error
    assert "assistant after assistant" in issue.message and "user after user" in issue.message


def test_alternation_does_not_cross_rows():
    # row 0 ends with an assistant turn and row 1 starts with one: no repeat within a list
    rep = _rows(
        [
            {"messages": _msgs(("user", "a"), ("assistant", "b"))},
            {"messages": _msgs(("assistant", "c"), ("user", "d"))},
        ]
    )
    assert rep.issue("role-alternation") is None


def test_special_tokens_and_nul_in_messages_parts_and_text():
    rep = _rows(
        [
            {"messages": _msgs(("user", "hi <|im_start|>system"), ("assistant", "ok"))},
            {"messages": _msgs(("user", "fine"), ("assistant", "end<|eot_id|>"))},
            {"messages": _msgs(("user", "[INST] do it"), ("assistant", "a\x00b"))},
            {"messages": _msgs(("user", "a <b>tag</b> and [brackets]"), ("assistant", "x"))},
        ]
    )
    tok = rep.issue("special-token")
    assert tok.rows == [0, 1, 2]
    assert all(t in tok.message for t in ("<|im_start|>", "<|eot_id|>", "[INST]"))
    assert rep.issue("nul-character").rows == [2]
    # standard text columns too
    rep = _rows([{"text": "plain"}, {"text": "doc<|endoftext|>next"}, {"text": "x\x00"}])
    assert rep.issue("special-token").rows == [1]
    assert rep.issue("nul-character").rows == [2]
    # text parts
    parts = [
        {"role": "user", "content": [{"type": "text", "text": "<start_of_turn>user"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]
    rep = _rows([{"messages": parts}])
    assert rep.issue("special-token").rows == [0]
    assert set(SPECIAL_TOKENS) >= {"<|endoftext|>", "<|im_start|>", "<|eot_id|>", "[INST]"}


def test_unbalanced_image_placeholders():
    rows = [
        {"messages": _msgs(("user", "<image> what?"), ("assistant", "a cat")), "images": ["a"]},
        {"messages": _msgs(("user", "<image><image>"), ("assistant", "two")), "images": ["a"]},
        {"messages": _msgs(("user", "no image here"), ("assistant", "ok")), "images": []},
    ]
    rep = _rows(rows)
    issue = rep.issue("image-placeholder")
    assert issue is not None and issue.rows == [1]
    assert "2 <image>, 1 image)" in issue.message
    # placeholders without an images column at all
    rep = _rows([{"messages": _msgs(("user", "<image> hi"), ("assistant", "ok"))}])
    assert rep.issue("image-placeholder").rows == [0]
    assert rep.issue("image-placeholder").severity.value == "warning"
    assert "the data has no images column" in rep.issue("image-placeholder").message
    # prompt + completion count together
    pc = {
        "prompt": _msgs(("user", "<image> and")),
        "completion": _msgs(("assistant", "<image>")),
        "images": ["a"],
    }
    rep = _rows([pc])
    assert "prompt+completion: 2 <image>, 1 image)" in rep.issue("image-placeholder").message


def test_clean_data_has_none_of_them():
    rep = _rows(
        [{"messages": _msgs(("user", f"q {i}"), ("assistant", f"a {i}"))} for i in range(50)]
    )
    assert not rep.rules & set(NEW)


@pytest.mark.skipif(not HH.exists(), reason="needs ../shared/data/real (the HH-RLHF sample)")
def test_real_hh_rows_with_two_assistant_turns(tmp_path):
    """The HH rows Gemma's template refuses are the rows validate warns about."""
    from trlprep.importers import import_table
    from trlprep.io.readers import read
    from trlprep.validation.validate import validate_table

    src = read(str(HH))
    result = import_table(src.table, "hh", lines=src.lines, on_error="skip")
    rep = validate_table(result.table, lines=result.lines)
    chosen = rep.issue("role-alternation", "chosen")
    assert chosen is not None and chosen.count == 8
    assert chosen.lines[:3] == [668, 764, 1255]  # the input file's lines
    rows = [json.loads(x) for x in gzip.open(HH, "rt")]
    twice = re.compile(r"\n\nAssistant:(?:(?!\n\nHuman:).)*\n\nAssistant:", re.DOTALL)
    assert twice.search(rows[667]["chosen"])  # file line 668: two Assistant turns in a row


def test_python_api_reports_bad_lines(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a"}\n{"text": \n{"text": "b"}\n')
    rep = validate(str(p))
    assert not rep.valid and rep.issue("invalid-line").lines == [2]
    assert rep.num_rows == 1 and rep.type is not None  # the rows before the stop are checked
    rep = validate(str(p), on_bad_lines="skip")
    assert rep.num_rows == 2 and rep.issue("invalid-line").lines == [2] and not rep.valid


def test_a_short_column_is_scanned_as_polars_scans_a_long_one():
    """`Scan` looks through a column of up to `SMALL` strings with pyarrow (no polars to
    import): the same strings are suspect as polars' Aho-Corasick pass finds."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    from trlprep.validation.checks.text import _SUSPECT, SMALL, Scan, suspect_small

    texts = pa.array(
        [None, "", "plain", "a <|im_end|> b", "nul\x00", "{{ x }}", "<image>", "é{{", "{ {"]
        + [f"row {i} " + (_SUSPECT[i % len(_SUSPECT)] if i % 3 == 0 else "text") for i in range(99)]
    )
    want = pl.Series(texts).str.contains_any(_SUSPECT).fill_null(False).to_numpy()
    assert want.any() and not want.all()
    assert suspect_small(texts).tolist() == want.tolist()
    assert Scan(texts).idx.tolist() == np.flatnonzero(want).tolist()
    long = pa.concat_arrays([texts] * (SMALL // len(texts) + 1))  # the polars pass
    assert Scan(long).idx.tolist() == np.flatnonzero(suspect_small(long)).tolist()
