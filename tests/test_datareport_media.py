"""`trlprep report` counts images, videos and audios alike (the `images` / `videos` /
`audios` lists: totals and rows holding one), in JSON, text and HTML, on LLaMA-Factory's
real video / audio demos and rows written here."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app

REAL = Path(__file__).resolve().parent / "realdata"
DEMOS = REAL / "mllm_video_audio"
TINY = str(Path(__file__).resolve().parent.parent / "examples" / "tiny-chat-model")


def _expected(rows: list[dict]) -> dict[str, int]:
    out = {}
    for col in ("images", "videos", "audios"):
        lengths = [len(r.get(col) or []) for r in rows]
        out[col] = sum(lengths)
        out[f"rows_with_{col}"] = sum(n > 0 for n in lengths)
    return out


@pytest.mark.parametrize("name", ["video", "audio", "video_audio"])
def test_real_demos_counted_as_the_json_holds_them(name):
    path = DEMOS / f"mllm_{name}_demo.json"
    rep = trlprep.report(path, validate=False)
    c = rep.data["conversation"]
    want = _expected(json.loads(path.read_text()))
    assert {k: c[k] for k in want} == want
    assert want["videos"] + want["audios"] > 0


def test_text_and_html_show_the_json_figures():
    path = DEMOS / "mllm_video_audio_demo.json"
    res = CliRunner().invoke(app, ["report", str(path), "--no-validate"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("conversation:"))
    assert line.endswith("0 images, 3 videos in 3 rows, 3 audios in 3 rows"), line
    rep = trlprep.report(path, validate=False)
    keys = dict(re.findall(r'<span data-key="([^"]+)">([^<]*)</span>', rep.to_html()))
    c = rep.data["conversation"]
    for name in ("images", "videos", "audios"):
        for key in (name, f"rows_with_{name}"):
            assert html.unescape(keys[f"conversation.{key}"]) == str(c[key])


def test_images_only_text_names_no_videos_or_audios():
    path = REAL / "llamafactory_v1" / "v1_multimodal_demo.jsonl"
    res = CliRunner().invoke(app, ["report", str(path), "--no-validate"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("conversation:"))
    assert line.endswith(", 32 images in 24 rows"), line


def test_mixed_rows_over_batches_and_processes(tmp_path, monkeypatch):
    """Several media per row, rows without any, empty lists: the same sums whether one
    process reads the rows or two (pieces of 7 rows measured in workers, merged)."""
    import trlprep.datareport.parallel as parallel

    monkeypatch.setattr(parallel, "PIECE_ROWS", 7)
    rows = []
    for i in range(40):
        videos = [f"v{i}-{k}.mp4" for k in range(i % 3)]
        audios = [f"a{i}.wav"] if i % 4 == 0 else []
        text = "<video>" * len(videos) + "<audio>" * len(audios) + f"question {i}"
        rows.append({
            "messages": [{"role": "user", "content": text},
                         {"role": "assistant", "content": f"answer {i}"}],
            "videos": videos, "audios": audios,
        })  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    want = _expected(rows)
    assert want["videos"] == 39 and want["rows_with_audios"] == 10
    for num_proc in (1, 2):
        rep = trlprep.report(path, tokenizer=TINY, validate=False, num_proc=num_proc)
        c = rep.data["conversation"]
        assert {k: c[k] for k in want} == want, num_proc


def test_placeholders_without_their_column_counted_over_processes(tmp_path, monkeypatch):
    """`<image>` / `<video>` in string content with no `images` / `videos` column stand
    for nothing: counted apart (totals and rows), whether one process reads the rows or
    two; the text and HTML say so; a medium that has its column counts no placeholders."""
    import trlprep.datareport.parallel as parallel

    monkeypatch.setattr(parallel, "PIECE_ROWS", 7)
    rows = []
    for i in range(30):
        text = "<image>" * (i % 3) + "<video>" * (i % 5 == 0) + f"q {i}"
        rows.append({
            "messages": [{"role": "user", "content": text},
                         {"role": "assistant", "content": f"a {i}" + " <image>" * (i == 1)}],
            "audios": [f"{i}.wav"] if i == 4 else [],
        })  # fmt: skip
    rows[4]["messages"][0]["content"] += "<audio>"
    path = tmp_path / "bare.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    images = sum(i % 3 for i in range(30)) + 1  # 30, and the answer of row 1
    image_rows = sum(i % 3 > 0 for i in range(30))  # row 1 is among them
    for num_proc in (1, 2):
        rep = trlprep.report(path, validate=False, num_proc=num_proc)
        c = rep.data["conversation"]
        got = {
            m: (
                c[f"{m}_placeholders_without_column"],
                c[f"rows_with_{m}_placeholders_without_column"],
            )
            for m in ("image", "video")
        }
        assert got == {"image": (images, image_rows), "video": (6, 6)}, num_proc
        assert c["audio_placeholders_without_column"] == 0 and c["audios"] == 1
    res = CliRunner().invoke(app, ["report", str(path), "--no-validate"])
    line = next(x for x in res.output.splitlines() if x.startswith("conversation:"))
    assert f"{images} <image> placeholders in {image_rows} rows with no images column" in line
    assert "6 <video> placeholders in 6 rows with no videos column" in line
    assert "audio> placeholder" not in line
    keys = dict(re.findall(r'<span data-key="([^"]+)">([^<]*)</span>', rep.to_html()))
    assert keys["conversation.video_placeholders_without_column"] == "6"


def test_inline_videos_counted_as_the_parts_hold_them():
    # xtuner's rows hold videos as parts (`{"type": "video", "video": {...}}`), no column:
    # before, the report counted their images and said nothing of the 5 videos
    path = REAL / "xtuner_inline_media" / "qwen35_tokenize_data.lines13-16.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    per_row = [
        sum(
            p.get("type") == "video"
            for m in r["messages"]
            if isinstance(m["content"], list)
            for p in m["content"]
        )
        for r in rows
    ]
    assert per_row == [0, 1, 3, 1]
    c = trlprep.report(path, validate=False).data["conversation"]
    assert (c["videos"], c["rows_with_videos"]) == (5, 3)
    assert (c["inline_videos"], c["rows_with_inline_videos"]) == (5, 3)
    assert (c["images"], c["inline_images"], c["audios"]) == (3, 3, 0)
    res = CliRunner().invoke(app, ["report", str(path), "--examples", "0"])
    line = next(x for x in res.stdout.splitlines() if x.startswith("conversation:"))
    assert line.endswith(
        "3 images in 1 row (3 inline in their message parts), "
        "5 videos in 3 rows (5 inline in their message parts)"
    ), line


@pytest.mark.parametrize(
    ("path", "rows", "non_ascii"),
    [
        (REAL / "mllm_demo" / "mllm_demo.json", 6, 3),
        (REAL / "xtuner_inline_media" / "qwen35_tokenize_data.lines13-16.jsonl", 4, 3),
        (REAL / "xtuner_mllm_sft_image" / "mllm_sft_single_image_example_data_new.jsonl", 22, 11),
    ],
)
def test_text_checks_read_the_text_parts(path, rows, non_ascii):
    # content given as parts: before, no text check at all (no "text:" line)
    text = path.read_text()
    data = (
        json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines()]
    )
    key = "messages" if "messages" in data[0] else "conversations"

    def words(m):
        c = m["content"]
        return c if isinstance(c, str) else "".join(p.get("text") or "" for p in c)

    assert (len(data), sum(any(not words(m).isascii() for m in r[key]) for r in data)) == (
        rows,
        non_ascii,
    )
    got = trlprep.report(path, validate=False).data["text"]["by_role"]["text"]
    assert (got["rows"], got["non_ascii"], got["empty"]) == (rows, non_ascii, 0)
    res = CliRunner().invoke(app, ["report", str(path), "--examples", "0"])
    share = f"{100 * non_ascii / rows:.1f}%"
    assert f"text: 0 rows empty/whitespace, non-ASCII in {share} of rows" in res.stdout
