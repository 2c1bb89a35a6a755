"""Images held inline in message parts (transformers' `image` / `url` / `path` keys,
OpenAI's `image_url`): counted as images without an `images` column, refused beside one,
and moved to TRL's vision layout with `--inline-media move` (`inline_media="move"`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from realdata.support import rows_of, run

import trlprep


def _user(*parts):
    return {"role": "user", "content": [*parts, {"type": "text", "text": "What is it?"}]}


ANSWER = {"role": "assistant", "content": "A cat."}
INLINE = [
    {"messages": [_user({"type": "image", "image": "https://example.com/a.jpg"}), ANSWER]},
    {
        "messages": [
            _user({"type": "image", "url": "b.png"}, {"type": "image", "path": "c.png"}),
            ANSWER,
        ]
    },  # fmt: skip
    {
        "messages": [
            _user({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}),
            ANSWER,
        ]
    },  # fmt: skip
    {"messages": [{"role": "user", "content": "No image here."}, ANSWER]},
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_inline_images_need_no_images_column(tmp_path):
    src = _write(tmp_path / "in.jsonl", INLINE)
    assert trlprep.detect(src).vision
    res = run("validate", src)
    assert res.exit_code == 0, res.output
    assert trlprep.report(src, validate=False).data["conversation"]["inline_images"] == 4


def test_bare_image_parts_without_images_still_fail(tmp_path):
    src = _write(tmp_path / "in.jsonl", [{"messages": [_user({"type": "image"}), ANSWER]}])
    res = run("validate", src)
    assert res.exit_code == 1 and "image-count" in res.output


def test_inline_images_beside_an_images_column_are_refused_clearly(tmp_path):
    rows = [
        {"messages": [_user({"type": "image", "image": "a.jpg"}), ANSWER], "images": ["b.jpg"]},
        {"messages": [_user({"type": "image"}), ANSWER], "images": ["c.jpg"]},
        {"messages": [_user({"type": "image", "image": "d.jpg"}), ANSWER], "images": []},
    ]
    src = _write(tmp_path / "in.jsonl", rows)
    res = run("validate", src)
    assert res.exit_code == 1
    assert "image-count: 1 row, line 1" in res.output
    assert "both inline in its message parts and in its images column" in res.output
    assert "1 inline, 1 in images" in res.output

    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--to", "pc", "--inline-media", "move", "--on-error", "skip",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 rows in, 1 rejected" in res.output
    assert [r["images"] for r in rows_of(out)] == [["c.jpg"], ["d.jpg"]]


def test_move_gives_trl_vision_layout(tmp_path):
    src = _write(tmp_path / "in.jsonl", INLINE)
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--to", "prompt-completion", "--inline-media", "move", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [r["images"] for r in got] == [
        ["https://example.com/a.jpg"],
        ["b.png", "c.png"],
        ["data:image/png;base64,AA"],
        [],
    ]
    assert got[1]["prompt"][0]["content"] == [
        {"type": "image"},
        {"type": "image"},
        {"type": "text", "text": "What is it?"},
    ]
    assert got[3]["prompt"][0]["content"] == "No image here."  # strings stay strings
    assert run("validate", out).exit_code == 0


def test_move_through_the_python_api_and_keep_by_default():
    kept = trlprep.convert(INLINE, to="pc")
    assert "images" not in kept[0]
    assert kept[0]["prompt"][0]["content"][0]["image"] == "https://example.com/a.jpg"
    moved = trlprep.convert(INLINE, to="pc", inline_media="move")
    assert moved[2]["images"] == ["data:image/png;base64,AA"]


def test_move_refuses_sides_with_different_images(tmp_path):
    rows = [
        {
            "chosen": [_user({"type": "image", "image": "a.jpg"}), ANSWER],
            "rejected": [_user({"type": "image", "image": "b.jpg"}), ANSWER],
        },
        {
            "chosen": [_user({"type": "image", "image": "a.jpg"}), ANSWER],
            "rejected": [_user({"type": "image", "image": "a.jpg"}), ANSWER],
        },
    ]
    src = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--to", "preference", "--inline-media", "move",
              "--on-error", "skip", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "hold different inline images" in res.output
    (row,) = rows_of(out)
    assert row["images"] == ["a.jpg"]


def test_unknown_inline_media_value_is_a_usage_error(tmp_path):
    src = _write(tmp_path / "in.jsonl", INLINE)
    res = run("convert", src, "--to", "pc", "--inline-media", "drop", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 2 and "--inline-media" in res.output


@pytest.mark.parametrize("template", ["qwen2_5_vl", "llava_next", "idefics3"])
def test_moved_image_parts_render_as_the_original_renders_bare_parts(tmp_path, template):
    from realdata.support import TEMPLATES, original_render

    if not (TEMPLATES / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    rows = [
        {"messages": [_user({"type": "image", "image": "a.jpg"}),
                      {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]},
    ]  # fmt: skip
    src = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--to", "lm", "--inline-media", "move",
              "--chat-template", TEMPLATES / f"{template}.jinja", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    bare = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
        rows[0]["messages"][1],
    ]
    assert rows_of(out)[0]["text"] == original_render(template, bare)
    assert rows_of(out)[0]["text"] == original_render(template, rows[0]["messages"])


def test_a_video_held_inline_needs_no_videos_entry(tmp_path):
    video = {"type": "video", "path": "a.mp4"}
    rows = [
        {"messages": [_user(video, {"type": "video"}), ANSWER], "videos": [["f1.jpg", "f2.jpg"]]},
        {"messages": [_user({"type": "video"}), ANSWER], "videos": []},
    ]
    src = _write(tmp_path / "in.jsonl", rows)
    res = run("validate", src)
    assert res.exit_code == 1
    assert "media-count: 1 row, line 2" in res.output  # the bare part without its entry


def test_keeping_inline_images_says_how_trl_wants_them(tmp_path):
    src = _write(tmp_path / "in.jsonl", INLINE)
    res = run("convert", src, "--to", "pc", "-o", tmp_path / "kept.jsonl")
    assert res.exit_code == 0
    assert "read images from an images column: --inline-media move puts them there" in res.output
    res = run("convert", src, "--to", "pc", "--inline-media", "move", "-o", tmp_path / "m.jsonl")
    assert "--inline-media move puts" not in res.output
    with pytest.warns(Warning, match="inline_media='move' puts them there"):
        trlprep.convert(INLINE, to="pc")


MEDIA = [
    {"messages": [_user({"type": "video", "video": "https://example.com/a.mp4"}), ANSWER]},
    {
        "messages": [
            _user({"type": "audio", "path": "b.wav"}, {"type": "image", "image": "c.png"}),
            ANSWER,
        ]
    },  # fmt: skip
    {"messages": [_user({"type": "video_url", "video_url": {"url": "d.mp4"}}), ANSWER]},
]


def test_move_puts_inline_videos_and_audios_in_their_columns(tmp_path):
    src = _write(tmp_path / "in.jsonl", MEDIA)
    out = tmp_path / "moved.jsonl"
    res = run("convert", src, "--to", "lm", "--inline-media", "move", "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert [r["videos"] for r in rows] == [["https://example.com/a.mp4"], [], ["d.mp4"]]
    assert [r["audios"] for r in rows] == [[], ["b.wav"], []]
    assert [r["images"] for r in rows] == [[], ["c.png"], []]
    assert [r["messages"][0]["content"][:-1] for r in rows] == [
        [{"type": "video"}],
        [{"type": "audio"}, {"type": "image"}],
        [{"type": "video"}],
    ]
    assert run("validate", out).exit_code == 0  # the bare parts match their columns


def test_move_refuses_audio_given_as_data_and_videos_beside_their_column(tmp_path):
    data = {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
    rows = [
        {"messages": [_user(data), ANSWER]},
        {"messages": [_user({"type": "video", "video": "a.mp4"}), ANSWER], "videos": ["b.mp4"]},
        {"messages": [_user({"type": "video", "video": "c.mp4"}), ANSWER], "videos": []},
    ]
    src = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "moved.jsonl"
    res = run(
        "convert", src, "--to", "lm", "--inline-media", "move", "--on-error", "skip", "-o", out
    )
    assert res.exit_code == 0, res.output
    rejects = rows_of(tmp_path / "moved.rejects.jsonl")
    assert [(r["line"], r["stage"]) for r in rejects] == [(1, "inline media"), (2, "inline media")]
    assert rejects[0]["reason"].startswith("an inline audio part names no URL or path")
    assert "input_audio holds the audio's data itself" in rejects[0]["reason"]
    assert rejects[1]["reason"] == (
        "the row holds 1 video inline in its message parts and 1 in its videos column: "
        "which part an entry belongs to cannot be told"
    )
    assert rows_of(out)[0]["videos"] == ["c.mp4"]
