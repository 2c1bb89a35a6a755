"""Real MATH-APS trees (openreasoner/openr `preprocess/tests/samples_math-aps-tree.jsonl`): a
`question` beside `reasoning_steps`, a root `{text, mc_value, children}` whose descendants are
steps, each scored by its Monte-Carlo value; the second record holds the same rollouts as the
first record of the flat file (`openr_math_aps`).

Before, `detect` said "unknown" and nothing more. Now the tree is read as the `math-aps-tree`
layout: one stepwise-supervision row per path from the question to a leaf, as OpenR's tree
preprocessor makes them, each step labelled `mc_value >= --threshold`.
"""

from __future__ import annotations

import json
import re

from realdata.support import counts, rows_of, run, sample

DATA = sample("openr_math_aps_tree")
FLAT = sample("openr_math_aps")
MAP = "prompt=question,completions=reasoning_steps"


def _src(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _walked(record: dict) -> list[tuple[list[str], list[float]]]:
    """Every path below the root to a leaf, depth first: (step texts, mc_values)."""
    out: list[tuple[list[str], list[float]]] = []

    def down(node: dict, texts: list[str], values: list[float]) -> None:
        if not node["children"]:
            out.append((texts, values))
        for child in node["children"]:
            down(child, texts + [child["text"]], values + [child["mc_value"]])

    down(record["reasoning_steps"], [], [])
    return out


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_detect_reads_the_tree_as_its_layout():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "stepwise-supervision (the math-aps-tree layout, imported as convert does)" in text
    assert "rows 3 (242 once imported)" in text
    assert "`trlprep convert ... --from math-aps-tree`" in text


def test_every_path_is_a_row_of_steps_labelled_by_their_value(tmp_path):
    out = tmp_path / "steps.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 242)
    assert "one row per path from the question to a leaf" in res.output
    rows = rows_of(out)
    want = [(r["question"], p) for r in _src(DATA) for p in _walked(r)]
    assert [len(_walked(r)) for r in _src(DATA)] == [137, 85, 20]
    assert [r["prompt"] for r in rows] == [q for q, _ in want]
    assert [r["completions"] for r in rows] == [p[0] for _, p in want]
    assert [r["labels"] for r in rows] == [[v >= 0.5 for v in p[1]] for _, p in want]
    assert max(len(r["completions"]) for r in rows) == 4
    assert sum(not label for r in rows for label in r["labels"]) > 0
    assert set(rows[0]) == {"prompt", "completions", "labels", "final_answer", "question_id"}
    assert (rows[0]["final_answer"], rows[0]["question_id"]) == ("3", 0)


def test_threshold_moves_the_labels(tmp_path):
    out = tmp_path / "steps.jsonl"
    res = run("convert", DATA, "--threshold", "0.9", "-o", out)
    assert res.exit_code == 0, res.output
    want = [[v >= 0.9 for v in p[1]] for r in _src(DATA) for p in _walked(r)]
    assert [r["labels"] for r in rows_of(out)] == want


def test_a_step_labelled_as_the_flat_files_prefix_ending_at_it(tmp_path):
    """The tree's second record and the flat file's first are the same rollouts: each step of
    the tree, with the steps before it, is a prefix of the flat file (whitespace aside), and
    gets the label `--from ranked --threshold 0.5` gives that prefix."""
    steps, kto = tmp_path / "steps.jsonl", tmp_path / "kto.jsonl"
    assert run("convert", DATA, "-o", steps).exit_code == 0
    res = run("convert", FLAT, "--from", "ranked", "--map", MAP, "--threshold", "0.5", "-o", kto)
    assert res.exit_code == 0, res.output
    flat: dict[str, set[bool]] = {}
    for r in rows_of(kto):
        flat.setdefault(_squeezed(r["prompt"] + r["completion"]), set()).add(r["label"])
    question = _src(FLAT)[0]["question"]
    shared = [r for r in rows_of(steps) if r["prompt"] == question]
    assert len(shared) == 85
    checked = 0
    for r in shared:
        for k, label in enumerate(r["labels"]):
            prefix = _squeezed(r["prompt"] + "".join(r["completions"][: k + 1]))
            assert flat[prefix] == {label}
            checked += 1
    assert checked > 85


def test_a_tree_holding_the_question_alone_or_a_null_value_is_refused(tmp_path):
    """Rows written for the test from the first real record: its root with no children, and
    one step's value removed."""
    src = _src(DATA)[0]
    alone = {**src, "reasoning_steps": {**src["reasoning_steps"], "children": []}}
    broken = json.loads(json.dumps(src))
    broken["reasoning_steps"]["children"][0]["mc_value"] = None
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (alone, src, broken)), encoding="utf-8")
    out = tmp_path / "steps.jsonl"
    res = run("convert", path, "--from", "math-aps-tree", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 2, 1, 137)
    rejects = rows_of(out.with_name("steps.rejects.jsonl"))
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (1, "the tree holds the question alone: no step below it"),
        (3, "a step's mc_value is null"),
    ]
