"""OpenAI's summarize-from-feedback data as TRL's own dataset scripts read it (v0.17
`examples/datasets/tldr_preference.py` -> trl-lib/tldr-preference, `tldr.py` -> trl-lib/tldr).

The comparison and axis rows are the two formatted examples of openai/summarize-from-
feedback's README (MIT: tests/realdata/summarize_from_feedback); the other rows are written
for the tests in the release's layout (the CNN / Daily Mail and odd-batch cases, the SFT
file's `id`, `subreddit`, `title`, `post`, `summary`). What TRL writes is spelt out here by
its formats, independently of the importer."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from realdata.support import HERE, counts, rows_of, run

SAMPLE = HERE / "summarize_from_feedback"
REAL = json.loads((SAMPLE / "comparisons_readme.jsonl").read_text(encoding="utf-8"))


def _trl_reddit(info: dict, squeeze: bool = True) -> str:
    """TRL's Reddit prompt (tldr_preference.py squeezes the post's blank lines, tldr.py not)."""
    post = info["post"].replace("\n\n", "\n") if squeeze else info["post"]
    return f"SUBREDDIT: r/{info['subreddit']}\n\nTITLE: {info['title']}\n\nPOST: {post}\n\nTL;DR:"


def _trl_news(info: dict) -> str:
    return f"TITLE: {info['title']}\n\n{info['article'].replace(chr(10) * 2, chr(10))}\n\nTL;DR:"


def _row(batch, info, choice=0, texts=(" first one", " second one")):
    summaries = [{"text": t, "policy": f"p{i}", "note": None} for i, t in enumerate(texts)]
    return {"info": info, "summaries": summaries, "choice": choice, "worker": "w",
            "batch": batch, "split": "valid1", "extra": {"confidence": 7}}  # fmt: skip


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_real_comparison_converts_as_trl_writes_it(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", SAMPLE / "comparisons_readme.jsonl", "-o", out)  # no --from
    assert res.exit_code == 0, res.output
    assert "read as the tldr-preference layout" in res.output
    assert counts(res.output) == (1, 0, 1, 1)
    (got,) = rows_of(out)
    summaries = REAL["summaries"]
    assert got["prompt"] == _trl_reddit(REAL["info"])
    assert "\n\n" not in got["prompt"].split("POST: ")[1].removesuffix("\n\nTL;DR:")
    # choice 1: the second summary, kept with its leading space (TRL adds none)
    assert got["chosen"] == summaries[1]["text"] and got["chosen"].startswith(" we suspect")
    assert got["rejected"] == summaries[0]["text"]
    assert (got["chosen_policy"], got["rejected_policy"]) == ("ref", "sup4_ppo_rm3_kl10")
    assert {k: got[k] for k in ("worker", "batch", "split", "extra")} == {
        k: REAL[k] for k in ("worker", "batch", "split", "extra")
    }
    assert "info" not in got and "summaries" not in got and "choice" not in got
    res = run("validate", out)
    assert res.exit_code == 0 and "valid: 1 row of preference (standard)" in res.output


def test_the_hub_config_with_every_info_field_reads_alike(tmp_path):
    """openai/summarize_from_feedback (Parquet) has all of info's fields, null where absent."""
    row = {**REAL, "info": {"id": "t3_2vwp1w", **REAL["info"], "site": None, "article": None}}
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist([row]), path)
    out = tmp_path / "pref.jsonl"
    res = run("convert", path, "--from", "summarize-from-feedback", "-o", out)
    assert res.exit_code == 0, res.output
    assert rows_of(out)[0]["prompt"] == _trl_reddit(REAL["info"])


def test_prompts_follow_the_batch_and_odd_batches_are_noted(tmp_path):
    reddit = {"id": "a", "post": "one\n\n\ntwo\n\nthree", "title": "T", "subreddit": "tifu"}
    news = {"id": "b", "title": "Storm", "article": "Rain fell.\n\nWind blew.", "site": "cnn"}
    rows = [
        _row("batch12", reddit),
        _row("cnndm0", news, choice=1),
        _row("batch0_cnndm", news),
        _row("edit_b2_eval_test", reddit),
        _row("my_batch", reddit),  # unknown to TRL: by what info holds
        _row("my_batch", news),
        _row(None, news),
    ]
    out = tmp_path / "pref.jsonl"
    res = run("convert", _write(tmp_path / "c.jsonl", rows), "--from", "tldr-preference",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (7, 0, 7, 7)
    said = " ".join(res.output.split())
    built = "prompt built from what info holds (a post: the Reddit form; else an article: "
    assert (
        "2 rows have batch 'my_batch', which TRL's tldr_preference.py does not know: " + built
    ) in said
    assert "1 row has no batch (TRL's tldr_preference.py needs one): " + built in said
    got = rows_of(out)
    forms = [_trl_reddit(reddit), _trl_news(news), _trl_news(news), _trl_reddit(reddit)]
    assert [r["prompt"] for r in got] == [*forms, _trl_reddit(reddit), *[_trl_news(news)] * 2]
    assert got[0]["prompt"].endswith("POST: one\n\ntwo\nthree\n\nTL;DR:")  # one pass, as Python
    assert got[1]["prompt"] == "TITLE: Storm\n\nRain fell.\nWind blew.\n\nTL;DR:"
    assert (got[1]["chosen"], got[1]["rejected"]) == (" second one", " first one")
    assert (got[1]["chosen_policy"], got[1]["rejected_policy"]) == ("p1", "p0")


def test_rows_without_a_prompt_or_a_pair_are_refused_with_their_reason(tmp_path):
    reddit = {"post": "p", "title": "T", "subreddit": "s"}
    rows = [
        _row("batch5", {"title": "T", "subreddit": "s", "post": None}),
        _row("cnndm2", reddit),
        _row("other", {"title": "T"}),
        _row("batch5", {"post": "p", "title": None, "subreddit": "s"}),
        _row("batch5", reddit, choice=2),
        _row("batch5", reddit, choice=None),
        {**_row("batch5", reddit), "summaries": [{"text": " a", "policy": "x", "note": None}]},
        _row("batch5", reddit, choice=1, texts=(" fine", "")),
        _row("other", reddit, choice=3),  # an odd batch, refused: not in the note
        _row("batch5", reddit),
    ]
    out = tmp_path / "pref.jsonl"
    res = run("convert", _write(tmp_path / "c.jsonl", rows), "--from", "tldr-preference",
              "--on-error", "skip", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (10, 9, 1, 1)
    assert "does not know" not in res.output
    reasons = [r["reason"] for r in rows_of(tmp_path / "pref.rejects.jsonl")]
    assert reasons == [
        "info.post is null, which Reddit batch batch5 builds its prompt from",
        "info.article is null, which CNN/DM batch cnndm2 builds its prompt from",
        "info holds neither a post nor an article: no prompt",
        "info.title is null (TRL's script would write None)",
        "choice is not 0 or 1: no pair",
        "choice is null: no pair",
        "summaries holds 1 summary, not 2: no pair",
        "the chosen summary's text is empty (an empty answer gives no pair to learn from)",
        "choice is not 0 or 1: no pair",
    ]


def test_axis_evaluations_need_a_threshold_and_then_land_unpaired(tmp_path):
    data = SAMPLE / "axis_readme.jsonl"
    res = run("convert", data, "--from", "tldr-preference", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert "axis evaluations: each rates one summary from 1 to 7" in said
    assert "pass --threshold T to read them as unpaired preference" in said
    out = tmp_path / "kto.jsonl"
    res = run("convert", data, "--from", "tldr-preference", "--threshold", "3", "-o", out)
    assert res.exit_code == 0, res.output
    assert "does not know" not in res.output  # no TRL script reads axis rows
    real = json.loads(data.read_text(encoding="utf-8"))
    (got,) = rows_of(out)
    assert got["prompt"] == _trl_news(real["info"])
    assert got["completion"] == " " + real["summary"]["text"]  # a space before it, as tldr.py
    assert got["label"] is True  # overall 3 >= 3
    assert got["policy"] == "ref" and got["axes"]["accuracy"] == 5
    res = run("convert", data, "--from", "tldr-preference", "--threshold", "4", "-o",
              tmp_path / "k4.jsonl")  # fmt: skip
    assert rows_of(tmp_path / "k4.jsonl")[0]["label"] is False


SFT = [
    {"id": "t3_1", "subreddit": "relationships", "title": "Me [25F] and him [27M]",
     "post": "First paragraph.\n\nSecond paragraph.", "summary": "we broke up, now what?"},
    {"id": "t3_2", "subreddit": "AskReddit", "title": "Q", "post": None, "summary": "x"},
    {"id": "t3_3", "subreddit": "tifu", "title": "T", "post": "p", "summary": ""},
    {"id": "t3_4", "subreddit": "tifu", "title": "T", "post": "", "summary": " spaced"},
]  # fmt: skip


def test_tldr_posts_become_trl_lib_tldr_rows(tmp_path):
    data = _write(tmp_path / "train.jsonl", SFT)
    res = run("detect", data)
    assert res.exit_code == 0 and "layout: tldr " in res.output, res.output
    out = tmp_path / "sft.jsonl"
    res = run("convert", data, "--on-error", "skip", "-o", out)  # read as tldr without --from
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 2, 2, 2)
    got = rows_of(out)
    for want, row in zip((SFT[0], SFT[3]), got, strict=True):
        assert row["prompt"] == _trl_reddit(want, squeeze=False)  # blank lines kept
        assert row["completion"] == " " + want["summary"]  # always a space, as TRL
        assert row["id"] == want["id"]
    assert got[1]["completion"] == "  spaced"
    reasons = [r["reason"] for r in rows_of(tmp_path / "sft.rejects.jsonl")]
    assert reasons == ["post is null (TRL's tldr.py would write None)", "summary is empty"]


def test_odd_batch_notes_are_the_same_however_the_file_is_cut(tmp_path, monkeypatch):
    from trlprep.io import jsonl

    reddit = {"id": "a", "post": "p", "title": "T", "subreddit": "s"}
    batches = ["zeta", "batch4", None, "zeta", "alpha", "zeta", None]
    data = _write(tmp_path / "c.jsonl", [_row(b, reddit) for b in batches])
    said = {}
    for chunk in (1 << 30, 300):  # the whole file, about one row a chunk
        monkeypatch.setattr(jsonl, "CHUNK_BYTES", chunk)
        res = run("convert", data, "--from", "tldr-preference", "-o", tmp_path / f"{chunk}.jsonl")
        assert res.exit_code == 0, res.output
        said[chunk] = {line for line in res.output.splitlines() if line.startswith("note: ")}
    assert said[300] == said[1 << 30]
    assert {line.split(" (")[0].split(",")[0] for line in said[300]} == {
        "note: 3 rows have batch 'zeta'",
        "note: 1 row has batch 'alpha'",
        "note: 2 rows have no batch",
    }
    assert (tmp_path / "300.jsonl").read_bytes() == (tmp_path / f"{1 << 30}.jsonl").read_bytes()
