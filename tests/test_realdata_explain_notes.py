"""`convert --explain` shows the notes a run prints of the data it plans from (HH transcripts
kept as text, a join without a separator, data that is the target type already), without
converting: `convert rm_static.jsonl --explain` (Dahoas/rm-static's cut of HH, here cut from
the real HH sample) once said "no conversion" and nothing of the raw `Human:` markers the
run's note warns the output keeps. Every `note:` line a run prints of each real sample
(routes: none, to language-modeling) is checked to be in its `--explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from realdata.support import run, sample

HERE = Path(__file__).parent / "realdata"
SAMPLES = sorted(p for p in HERE.glob("*/*") if p.suffix in (".json", ".jsonl", ".txt", ".csv"))
MARK = "\n\nAssistant:"
HH_NOTE = 'note: the rows hold HH transcripts ("\\n\\nHuman: ... \\n\\nAssistant:")'


@pytest.fixture(scope="module")
def rm_static(tmp_path_factory) -> Path:
    """The first 20 HH rows cut as Dahoas/rm-static cuts them (the transcript up to the last
    `Assistant:` in `prompt`, the answers alone)."""
    rows = []
    for line in sample("hh_rlhf").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        at = row["chosen"].rfind(MARK) + len(MARK)
        prompt = row["chosen"][:at]
        if row["rejected"].startswith(prompt) and row["rejected"][at:].strip():
            chosen, rejected = row["chosen"][at:], row["rejected"][at:]
            rows.append({"prompt": prompt, "response": chosen, "chosen": chosen,
                         "rejected": rejected})  # fmt: skip
        if len(rows) == 20:
            break
    path = tmp_path_factory.mktemp("rm_static") / "rm_static.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _notes(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("note: ")]


def test_explain_says_rm_static_transcripts_are_kept_as_text(rm_static, tmp_path):
    res = run("convert", rm_static, "--explain")
    assert res.exit_code == 0, res.output
    said = [n for n in _notes(res.output) if n.startswith(HH_NOTE)]
    assert len(said) == 1 and "`--from hh` splits them into turns" in said[0], res.output
    assert not (tmp_path / "o.jsonl").exists()
    ran = run("convert", rm_static, "-o", tmp_path / "o.jsonl")
    assert ran.exit_code == 0 and said[0] in _notes(ran.output), ran.output


def test_explain_says_joins_and_no_conversion(rm_static):
    res = run("convert", rm_static, "--to", "lm", "--explain")
    notes = _notes(res.output)
    assert res.exit_code == 0, res.output
    join = "note: preference -> language-modeling: the prompt and the chosen are joined without"
    assert any(n.startswith(join) for n in notes), res.output
    res = run("convert", rm_static, "--to", "preference", "--explain")
    assert "note: the data is already preference (standard): no conversion" in _notes(res.output)
    res = run("convert", rm_static, "--to", "lm", "--separator", " ", "--explain")
    assert not [n for n in _notes(res.output) if "joined without a separator" in n], res.output


@pytest.mark.parametrize("to", [None, "language-modeling"])
def test_every_note_a_run_prints_is_in_its_explain(rm_static, tmp_path, to):
    target = ["--to", to] if to else []
    missing, said = [], 0
    for path in [*SAMPLES, rm_static]:
        ran = run("convert", path, *target, "--on-error", "skip", "-o", tmp_path / "o.jsonl",
                  "--overwrite")  # fmt: skip
        explained = set(_notes(run("convert", path, *target, "--on-error", "skip",
                                   "--explain").output))  # fmt: skip
        notes = _notes(ran.output)
        said += len(notes)
        missing += [f"{path.name}: {n}" for n in notes if n not in explained]
    assert said > len(SAMPLES) // 2  # the samples' runs do say notes
    assert not missing, "\n".join(missing)
