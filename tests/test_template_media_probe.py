"""Whether a chat template renders video / audio parts is found by rendering a probe per
role (with and without the part), not by the words in its source: a template that names
`video` only in a comment renders nothing for it, one that prints every part's type renders
it without the word, LFM2.5's prints the part's JSON (not rendering it), Qwen3-VL renders
video only in user and tool messages."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, TEMPLATES, counts, rows_of, run

from trlprep.templates.mediaprobe import media_roles
from trlprep.templates.template import ChatTemplate

DIR = HERE / "mllm_video_audio"
TOKENS = {"bos_token": "<bos>", "eos_token": "<eos>"}
LOOP = (
    "{% for m in messages %}<{{ m.role }}>{% if m.content is string %}{{ m.content }}"
    "{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}"
    "{% else %}PART{% endif %}{% endfor %}{% endif %}{% endfor %}"
)
# names video and audio (a word search would say it renders them) but prints no media part
COMMENT = "{# video and audio parts: not supported #}" + LOOP.replace("PART", "")
# prints every non-text part by its type: renders video and audio with neither word in it
GENERIC = LOOP.replace("PART", "[{{ p.type }}]")


def _roles(source: str) -> dict[str, list[str]]:
    roles = media_roles(ChatTemplate(source, special_tokens=TOKENS))
    return {k: sorted(v) for k, v in roles.items()}


def test_the_probe_reads_what_a_template_does_not_its_words():
    assert "video" in COMMENT and "audio" in COMMENT
    assert _roles(COMMENT) == {"video": [], "audio": []}
    assert "video" not in GENERIC and "audio" not in GENERIC
    every = ["assistant", "system", "tool", "user"]
    assert _roles(GENERIC) == {"video": every, "audio": every}


@pytest.mark.parametrize(
    ("name", "video", "audio"),
    [
        ("diffusion_gemma", ["assistant", "system", "user"], ["assistant", "system", "user"]),
        ("qwen2_5_vl", ["assistant", "system", "tool", "user"], []),
        ("qwen3_vl", ["tool", "user"], []),  # prints nothing for assistant / system video
        ("qwen3_5_think", ["assistant", "tool", "user"], []),  # raises on system video
        ("lfm2_2_5", [], []),  # prints {"type": "video"} as text
        ("gemma3", [], []),
    ],
)
def test_original_templates(name, video, audio):
    path = TEMPLATES / f"{name}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    assert _roles(path.read_text()) == {"video": video, "audio": audio}


def test_convert_warns_for_a_template_naming_video_only_in_a_comment(tmp_path):
    comment = tmp_path / "comment.jinja"
    comment.write_text(COMMENT)
    generic = tmp_path / "generic.jinja"
    generic.write_text(GENERIC)
    src = DIR / "mllm_video_audio_demo.json"
    out = tmp_path / "c.jsonl"
    res = run("convert", src, "--chat-template", comment, "-o", out)
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    for kind in ("video", "audio"):
        assert f"3 rows hold {kind} parts that comment.jinja does not render as {kind}" in said
    assert rows_of(out)[0]["text"].startswith("<user>What is the video describing?<assistant>")
    res = run("convert", src, "--chat-template", generic, "-o", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert "does not render" not in res.output
    assert rows_of(out)[0]["text"].startswith("<user>[video][audio]What is the video")


def test_qwen3_vl_video_in_an_assistant_message_is_counted(tmp_path):
    path = TEMPLATES / "qwen3_vl.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    rows = json.loads((DIR / "mllm_video_demo.json").read_text())
    rows[1]["messages"][1]["content"] = "<video>" + rows[1]["messages"][1]["content"]
    rows[1]["videos"] = rows[1]["videos"] * 2
    src = tmp_path / "v.json"
    src.write_text(json.dumps(rows))
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--chat-template", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    said = " ".join(res.output.split())
    assert "1 row holds video parts that qwen3_vl.jinja does not render as video" in said
    assert rows_of(out)[1]["text"].count("<|video_pad|>") == 1  # the user's; none for its own
