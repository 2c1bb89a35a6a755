"""Real video/audio SFT data: LLaMA-Factory's mllm_video_demo, mllm_audio_demo and
mllm_video_audio_demo (JSON only, no media).

Only `<image>` placeholders become content parts (TRL's vision format has no others), so
`<video>`/`<audio>` placeholders beside a `videos`/`audios` column would reach a template
as literal text and the media would never be seen: the rows hold no video/audio part for
their `videos`/`audios` entries, an error (`media-count`), and validate and convert also
say why (`media-placeholder`), naming the rows; written as parts, video renders as the
original Qwen2.5-VL template renders it.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, TEMPLATES, rows_of, run

DIR = HERE / "mllm_video_audio"
VIDEO, AUDIO, BOTH = (DIR / f"mllm_{n}_demo.json" for n in ("video", "audio", "video_audio"))


@pytest.mark.parametrize(
    ("path", "marks"),
    [(VIDEO, "<video>"), (AUDIO, "<audio>"), (BOTH, "<video> and <audio>")],
)
def test_validate_warns_on_literal_media_placeholders(path, marks):
    res = run("validate", path, "--format", "json")
    assert res.exit_code == 1, res.output  # the media have no part: a template drops them
    rep = json.loads(res.output)
    (count,) = [i for i in rep["issues"] if i["rule"] == "media-count"]
    assert count["severity"] == "error" and count["rows"] == [0, 1, 2]
    (issue,) = [i for i in rep["issues"] if i["rule"] == "media-placeholder"]
    assert issue["severity"] == "warning" and issue["count"] == 3 and issue["rows"] == [0, 1, 2]
    assert f"{marks} placeholders stay literal text" in issue["message"]


def test_no_warning_without_the_media_column_or_on_images(tmp_path):
    rows = json.loads(BOTH.read_text())
    for r in rows:
        del r["videos"], r["audios"]  # `<video>` in text with no videos: plain text (HTML)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(rows))
    assert "media-placeholder" not in run("validate", bare).output
    assert "media-placeholder" not in run("validate", HERE / "mllm_demo" / "mllm_demo.json").output


def test_convert_says_the_placeholders_stay_text(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", BOTH, "--to", "pc", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    said = " ".join(res.output.split())
    assert "warning: rows 0, 1, 2: <video> and <audio> placeholders stay literal text" in said
    assert "0 video parts, 1 video (column videos)" in said and "(rule media-count)" in said


def test_video_parts_render_as_the_original_qwen2_5_vl(tmp_path):
    path = TEMPLATES / "qwen2_5_vl.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    rows = json.loads(VIDEO.read_text())
    for r in rows:
        user = r["messages"][0]
        text = user["content"].replace("<video>", "")
        user["content"] = [{"type": "video"}, {"type": "text", "text": text}]
    parts = tmp_path / "parts.json"
    parts.write_text(json.dumps(rows))
    res = run("validate", parts)
    assert res.exit_code == 0 and "media-placeholder" not in res.output, res.output
    out = tmp_path / "out.jsonl"
    res = run("convert", parts, "--chat-template", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert "placeholders stay literal text" not in res.output
    assert rows_of(out)[0]["text"] == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|video_pad|><|vision_end|>Why is this video funny?<|im_end|>\n"
        "<|im_start|>assistant\nBecause a baby is reading, and he is so cute!<|im_end|>\n"
    )
    from realdata.support import _tokenizer

    messages = [
        {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]}
        if isinstance(m["content"], str)
        else m
        for m in rows[0]["messages"]
    ]
    assert rows_of(out)[0]["text"] == _tokenizer(path).apply_chat_template(messages, tokenize=False)


def test_a_text_only_template_names_video_and_audio_parts(tmp_path):
    rows = json.loads(BOTH.read_text())
    for r in rows:
        user = r["messages"][0]
        text = user["content"].replace("<video><audio>", "")
        user["content"] = [{"type": "video"}, {"type": "audio"}, {"type": "text", "text": text}]
    parts = tmp_path / "parts.json"
    parts.write_text(json.dumps(rows))
    res = run("convert", parts, "--chat-template", "chatml", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "message 0 (user) has video and audio parts, and chatml renders only text" in said
    assert "has image parts" not in said
