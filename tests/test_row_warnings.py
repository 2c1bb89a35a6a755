"""A warning a stage raises per batch (or per Ray block) that names rows is printed once,
naming the first rows in order, as if the whole input were one batch."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from trlprep.converters.common import MAX_ROWS_SHOWN, merge_row_warnings, rows_text
from typer.testing import CliRunner

from trlprep.cli import app


@given(
    rows=st.lists(st.integers(0, 10_000), min_size=1, max_size=40, unique=True).map(sorted),
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_merged_batches_say_what_one_batch_says(rows, cuts):
    parts = [rows[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(rows)], strict=True)]
    said = [f"{rows_text(p)}: no prompt; dropped" for p in parts if p]
    assert merge_row_warnings(said) == [f"{rows_text(rows)}: no prompt; dropped"]


def test_other_messages_stay_once_each_in_order():
    said = ["a", "row 3: x", "b", "a", "line 9: y", "rows 1, 2: x"]
    assert merge_row_warnings(said) == ["a", "rows 1, 2, 3: x", "b", "line 9: y"]
    hidden = ["rows 1, 2, 3, 4, 5 (and 2 more): z", "row 900: z"]
    assert merge_row_warnings(hidden) == ["rows 1, 2, 3, 4, 5 (and 3 more): z"]
    assert MAX_ROWS_SHOWN == 5


def test_a_file_of_several_batches_warns_once(tmp_path):
    rows = [
        {"chosen": f"The sky is blue {i}.", "rejected": f"The sky is red {i}."} for i in range(9000)
    ]
    for i in (3, 8500):  # one in each 8,192-row batch
        rows[i] = {"chosen": "Blue.", "rejected": "Green."}
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = CliRunner().invoke(
        app,
        [
            "convert",
            str(src),
            "--to",
            "preference",
            "--no-prompt",
            "drop",
            "-o",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert r.exit_code == 0, r.output
    said = [x for x in r.output.splitlines() if "share no text" in x]
    assert said == [
        "warning: lines 4, 8501: chosen and rejected share no text, so no prompt; dropped"
    ]


def test_pairing_warnings_of_buckets_of_prompts_sum_up():
    from trlprep.converters.pairing import merge_pairing_warnings

    def said(n, t, rows, ot, of):
        one = n == 1
        return (
            f"{n} row{'' if one else 's'} found no partner with the opposite label and the "
            f"same prompt ({t} true, {n - t} false; {rows}) and {'was' if one else 'were'} left "
            f"out; {ot + of} prompt{' has' if ot + of == 1 else 's have'} completions of one "
            f"label only ({ot} only true, {of} only false)"
        )

    got = merge_pairing_warnings(
        ["a", said(3, 2, "lines 7, 9, 15", 1, 0), "b", said(1, 0, "line 2", 0, 1)]
    )
    assert got == ["a", said(4, 2, "lines 2, 7, 9, 15", 1, 1), "b"]
    assert merge_pairing_warnings([said(1, 1, "row 0", 1, 0)]) == [said(1, 1, "row 0", 1, 0)]
    # a bucket that paired nothing, beside buckets that paired every row (and said nothing):
    # nothing could be paired is not said of the whole table
    nothing = "no prompt has both a true and a false completion, so nothing can be paired: "
    lonely = said(1, 1, "line 7", 1, 0)
    assert merge_pairing_warnings([nothing + lonely], paired=True) == [lonely]
    assert merge_pairing_warnings([nothing + lonely]) == [nothing + lonely]


def test_a_batch_run_again_without_refused_rows_warns_once(tmp_path):
    # line 6's empty completion fails the output check after pairing, so the batch is
    # paired again without it: only that run's no-partner warning is said (line 7 unpaired)
    rows = [
        ("a", "x", True),
        ("a", "y", False),
        ("b", "z", True),
        (None, "w", False),
        ("a", "q", True),
        ("d", "", True),
        ("d", "r", False),
    ]
    src = tmp_path / "u.jsonl"
    src.write_text(
        "".join(json.dumps({"prompt": p, "completion": c, "label": k}) + "\n" for p, c, k in rows)
    )
    out = tmp_path / "o.jsonl"
    args = ["convert", str(src), "--to", "preference", "--on-error", "skip", "-o", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    said = [x for x in r.output.splitlines() if "no partner" in x]
    assert said == [
        "warning: 3 rows found no partner with the opposite label and the same prompt "
        "(2 true, 1 false; lines 3, 5, 7) and were left out; 2 prompts have completions "
        "of one label only (1 only true, 1 only false)"
    ]
    assert "7 rows in, 2 rejected, 5 converted -> 1 row out" in r.output
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        {"prompt": "a", "chosen": "x", "rejected": "y"}
    ]


def test_lines_of_several_files_merge_by_file_then_line():
    """Warnings of batches of several files name `file:line`: merged in file order, each
    file's lines in order, counted as rows (a bare `lines 27, 31` spans two files)."""
    said = [
        "/d/a.jsonl:27: empty answer",
        "/d/b.jsonl:31, /d/b.jsonl:34: empty answer",
        "/d/b.jsonl:2: empty answer",
        "3 rows (/d/a.jsonl:1, /d/b.jsonl:1, /d/b.jsonl:5): cut",
        "1 row (/d/c.jsonl:9): cut",
    ]
    assert merge_row_warnings(said) == [
        "/d/a.jsonl:27, /d/b.jsonl:2, /d/b.jsonl:31, /d/b.jsonl:34: empty answer",
        "4 rows (/d/a.jsonl:1, /d/b.jsonl:1, /d/b.jsonl:5, /d/c.jsonl:9): cut",
    ]
