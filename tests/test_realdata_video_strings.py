"""String contents of video (or audio) data stay strings; beside images they become text
parts. TRL's trainers take a dataset as vision data only with an `image` / `images` column
and only then make string contents text parts (`prepare_multimodal_messages`); other data
reaches the template as written. diffusion_gemma renders a system text part with a space
after it, a system string without: the render must be the original template's render of
the rows as TRL passes them. Real rows: xtuner's Qwen3.5 video conversations (system and
assistant strings, video parts holding their URL), LLaMA-Factory's image and video demos."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, original_render, original_template_args, rows_of, run, sample

QWEN35 = sample("xtuner_inline_media")  # line 1 images, lines 2-4 videos only
VIDEO = HERE / "mllm_video_audio" / "mllm_video_demo.json"
IMAGES = HERE / "mllm_demo" / "mllm_demo.json"


def _video_rows(tmp_path):
    path = tmp_path / "videos.jsonl"
    lines = QWEN35.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[1:]), encoding="utf-8")
    return path


@pytest.mark.parametrize("template", ["diffusion_gemma", "qwen2_5_vl", "qwen3_vl"])
def test_video_rows_render_their_strings_as_strings(tmp_path, template):
    src = _video_rows(tmp_path)
    out = tmp_path / "out.jsonl"
    res = run("convert", src, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    source = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines()]
    for row, got in zip(source, rows_of(out), strict=True):
        assert got["text"] == original_render(template, row["messages"])  # as TRL passes it
    if template == "diffusion_gemma":
        assert "视频内容。<turn|>" in rows_of(out)[0]["text"]  # no space after the system text


def _system(path, tmp_path, name):
    rows = json.loads(path.read_text(encoding="utf-8"))
    for r in rows:
        r["messages"].insert(0, {"role": "system", "content": "Answer in one sentence."})
    out = tmp_path / name
    out.write_text(json.dumps(rows), encoding="utf-8")
    return out


def test_placeholder_rows_keep_strings_beside_videos_and_make_parts_beside_images(tmp_path):
    videos, images = _system(VIDEO, tmp_path, "v.json"), _system(IMAGES, tmp_path, "i.json")
    for src, strings in ((videos, True), (images, False)):
        out = tmp_path / f"{src.stem}.jsonl"
        assert run("convert", src, "-o", out).exit_code == 0
        for row in rows_of(out):
            system, user, answer = row["messages"][:3]
            assert isinstance(user["content"], list)  # the placeholder's message: parts
            assert isinstance(system["content"], str) is strings
            assert isinstance(answer["content"], str) is strings
        text = tmp_path / f"{src.stem}.text.jsonl"
        res = run("convert", src, *original_template_args("diffusion_gemma"), "-o", text)
        assert res.exit_code == 0, res.output
        for row, got in zip(rows_of(out), rows_of(text), strict=True):
            want = original_render("diffusion_gemma", row["messages"])  # the rows as written
            assert got["text"] == want
            assert ("sentence.<turn|>" in want) is strings  # a text part: a space before it
