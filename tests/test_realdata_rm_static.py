"""Dahoas/rm-static's layout (DeepSpeed-Chat's reward and DPO data) on real HH-RLHF rows: the
transcript up to the final `"\\n\\nAssistant:"` in `prompt`, the answers alone in `chosen` and
`rejected` (and `response`, the chosen answer again), as rm-static cuts HH. No public sample of
the layout under a permissive licence was found, so the rows are cut from the real HH sample
here, by hand, and compared with the same rows read whole by `--from hh`.

Before, `--from hh` refused every row ("chosen: holds no \\"\\n\\nHuman:\\" turns") and
`--conversational` made each transcript one user message holding "Human:" and "Assistant:";
now both split the turns at their markers, as `--from hh` does for whole transcripts.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

HH = sample("hh_rlhf")
MARK = "\n\nAssistant:"
ROWS = 40  # the first rows whose chosen and rejected share the transcript up to MARK


def _hh() -> list[dict]:
    return [json.loads(line) for line in HH.read_text(encoding="utf-8").splitlines()]


def _cut(row: dict) -> dict | None:
    at = row["chosen"].rfind(MARK) + len(MARK)
    prompt = row["chosen"][:at]
    if not row["rejected"].startswith(prompt):
        return None
    chosen, rejected = row["chosen"][at:], row["rejected"][at:]
    return {"prompt": prompt, "response": chosen, "chosen": chosen, "rejected": rejected}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(rm-static file, HH file of the same rows whole)."""
    whole, cut = [], []
    for row in _hh():
        if (c := _cut(row)) is not None and c["chosen"].strip() and c["rejected"].strip():
            whole.append(row)
            cut.append(c)
        if len(cut) == ROWS:
            break
    folder = tmp_path_factory.mktemp("rm_static")
    paths = folder / "rm_static.jsonl", folder / "hh.jsonl"
    for path, rows in zip(paths, (cut, whole), strict=True):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return paths


def test_detect_names_the_hh_layout(files):
    res = run("detect", files[0])
    assert res.exit_code == 0, res.output
    assert "preference" in res.output and "standard" in res.output  # as the columns are
    assert "--from hh" in res.output


@pytest.mark.parametrize("how", [["--from", "hh"], ["--conversational"]])
def test_turns_split_as_hh_reads_the_whole_transcripts(files, tmp_path, how):
    out, ref = tmp_path / "out.jsonl", tmp_path / "ref.jsonl"
    res = run("convert", files[0], *how, "-o", out)
    assert res.exit_code == 0, res.output
    assert "hh -> preference-implicit (conversational)" in res.output
    assert counts(res.output) == (ROWS, 0, ROWS, ROWS)
    assert run("convert", files[1], "--from", "hh", "-o", ref).exit_code == 0
    got, want = rows_of(out), rows_of(ref)
    assert [r["chosen"] for r in got] == [r["chosen"] for r in want]
    assert [r["rejected"] for r in got] == [r["rejected"] for r in want]
    assert "prompt" not in got[0] and got[0]["response"] == _cut(_hh()[0])["chosen"]
    first = got[0]["chosen"]  # sample line 1, by hand
    assert [m["role"] for m in first] == ["user", "assistant"] * 3
    answer = _cut(_hh()[0])["chosen"]  # the answer alone: its marker's space dropped
    assert first[5]["content"] == answer[1:] and answer.startswith(" No, sorry!  All of these")
    assert first[0]["content"] == "what are some pranks with a pen i can do?"
    assert first[2]["content"] == "yep"
    assert first[3]["content"].startswith("Ok, I’ll give you a couple examples")


def test_explicit_preference_keeps_the_prompt_turns(files, tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", files[0], "--from", "hh", "--to", "preference", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (ROWS, 0, ROWS, ROWS)
    rows, src = rows_of(out), [json.loads(x) for x in files[0].read_text().splitlines()]
    for r, s in zip(rows, src, strict=True):
        assert r["prompt"][-1]["role"] == "user"
        assert r["chosen"] == [{"role": "assistant", "content": s["chosen"].removeprefix(" ")}]
        assert r["rejected"] == [{"role": "assistant", "content": s["rejected"].removeprefix(" ")}]


def test_preference_renders_as_the_original_template(files, tmp_path):
    from realdata.support import original_template_args

    out = tmp_path / "qwen.jsonl"
    args = original_template_args("qwen2_5")
    res = run("convert", files[0], "--from", "hh", "--to", "preference", *args, "-o", out)
    assert res.exit_code == 0, res.output
    plain = tmp_path / "plain.jsonl"
    res = run("convert", files[0], "--from", "hh", "--to", "preference", "-o", plain)
    assert res.exit_code == 0, res.output
    for got, msgs in list(zip(rows_of(out), rows_of(plain), strict=True))[:10]:
        prompt = original_render("qwen2_5", msgs["prompt"], add_generation_prompt=True)
        whole = original_render("qwen2_5", msgs["prompt"] + msgs["chosen"])
        assert got["prompt"] == prompt and prompt + got["chosen"] == whole


def test_train_without_data_from_hh_says_it_trains_the_raw_transcripts(files):
    """`train --algo dpo` on rm-static rows without `--data-from hh` trained on the raw
    `Human:` text silently; now a warning names `--data-from hh`, as detect names `--from hh`."""
    import warnings

    from realdata.support import TINY_MODEL
    from transformers import AutoTokenizer

    from trainers.data_table import to_training_table

    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    for layout in (None, "hh"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made = to_training_table(str(files[0]), ["preference"], tok, algo="dpo", layout=layout)
        said = [str(w.message) for w in caught if "HH transcripts" in str(w.message)]
        assert made.table.num_rows == ROWS
        if layout is None:
            assert len(said) == 1 and "`--data-from hh` splits them into turns" in said[0]
            assert made.table.column("prompt")[0].as_py().startswith("\n\nHuman: ")
        else:
            assert not said


def test_convert_without_from_hh_says_it_keeps_the_raw_transcripts(files, tmp_path):
    """`convert` of rm-static rows without `--from hh` wrote standard preference holding the
    raw `Human:` text with no word; now a note names `--from hh`, as train's warning names
    `--data-from hh` (one helper says both)."""
    import warnings

    import trlprep

    said = "converted as standard text: the output keeps the raw `Human:` / `Assistant:`"
    res = run("convert", files[0], "-o", tmp_path / "a.jsonl")
    assert res.exit_code == 0 and counts(res.output) == (ROWS, 0, ROWS, ROWS), res.output
    notes = [line for line in res.output.splitlines() if said in line]
    assert len(notes) == 1 and notes[0].startswith("note: the rows hold HH transcripts")
    assert "`--from hh` splits them into turns" in notes[0]
    res = run("convert", files[0], "--from", "hh", "-o", tmp_path / "b.jsonl")
    assert res.exit_code == 0 and said not in res.output, res.output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.convert(str(files[0]))
        trlprep.convert(str(files[0]), from_="hh")
    api = [str(w.message) for w in caught if said in str(w.message)]
    assert len(api) == 1 and "`from_='hh'` splits them" in api[0]
