"""Qwen-VL's fine-tuning layout (QwenLM/Qwen3-VL `qwen-vl-finetune/demo`): LLaVA-style
`conversations` of `{from, value}` with `<image>` / `<video>` placeholders, the media path
in `image` / `video` (one string, or a list of them for several images).

Before the fix, `video` was an unknown column: `<video>` stayed text, the path an extra, and
renders never showed the video; an `image` list was counted as one image (every row
refused, `image-count`), and `image` as a string in one row and a list in another refused
the minority at read (`mixed-kind`). The report counted no image for an `image` column.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    HERE,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    train_one_step,
)

DIR = HERE / "qwenvl_finetune_demo"
IMAGES = DIR / "single_images.json"
VIDEO = DIR / "video.json"
# video.json row 0 as TRL's vision format, written by hand from the record
VIDEO_ROW0 = [
    {
        "role": "user",
        "content": [
            {"type": "video"},
            {"type": "text", "text": "\nCan you give me an overview of the video content?"},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {
                "type": "text",
                "text": "The video showcases a group of men washing cars in a parking lot using "
                "various tools and techniques, such as pressure washing hoses, hand towels, and "
                "brushes. There are also text displays of special offers and business details "
                "throughout the video. The men work on different cars, including a white car "
                "and a black SUV.",
            }
        ],
    },
]
QWEN_VL_VIDEO_ROW0 = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>\n"
    "Can you give me an overview of the video content?<|im_end|>\n<|im_start|>assistant\n"
)


def _bare(messages: list[dict]) -> list[dict]:
    """Messages with the null keys of typed parts left out (as written by hand); string
    content as it is."""
    return [
        m
        if isinstance(m["content"], str)
        else {**m, "content": [{k: v for k, v in p.items() if v is not None} for p in m["content"]]}
        for m in messages
    ]


def _as_written(messages: list[dict], suffix: str) -> list[dict]:
    """`messages` (all parts) as a `suffix` output holds them: JSON Lines gives a video row's
    answer back as the string it was (TRL passes the strings of video data as they are),
    Parquet holds every content as parts."""
    if suffix != "jsonl":
        return messages
    return [{**m, "content": m["content"][0]["text"]} if m["role"] == "assistant" else m
            for m in messages]  # fmt: skip


def test_detect_reads_the_video_column_as_videos():
    res = run("detect", VIDEO, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["type"], info["vision"]) == ("language-modeling", True)
    assert info["side_columns"] == ["videos"] and info["extra_columns"] == []


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_convert_makes_video_parts_and_a_videos_list(tmp_path, suffix):
    out = tmp_path / f"lm.{suffix}"
    res = run("convert", VIDEO, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    rows = rows_of(out)
    assert [r["videos"] for r in rows] == [
        ["v_7bUu05RIksU.mp4"],
        ["v_TpB_zMG3XBA.mp4"],
        ["v_rBMQFpHspmo.mp4"],
    ]
    assert "video" not in rows[0]
    assert _bare(rows[0]["messages"]) == _as_written(VIDEO_ROW0, suffix)
    assert all("<video>" not in json.dumps(r["messages"]) for r in rows)


def test_validate_and_report_count_the_videos():
    res = run("validate", VIDEO, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    assert "valid: 3 rows of language-modeling (conversational)" in res.output
    res = run("report", VIDEO)
    assert res.exit_code == 0, res.output
    assert "0 images, 3 videos in 3 rows" in res.output


def test_report_counts_the_images_of_an_image_column():
    res = run("report", IMAGES)
    assert res.exit_code == 0, res.output
    assert "3 images in 3 rows" in res.output


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl"])
def test_video_renders_equal_the_originals(tmp_path, template):
    out = tmp_path / "vl.jsonl"
    res = run("convert", VIDEO, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    lm = tmp_path / "lm.jsonl"
    assert run("convert", VIDEO, "-o", lm).exit_code == 0
    rendered = rows_of(out)
    for got, row in zip(rendered, rows_of(lm), strict=True):
        assert got["text"] == original_render(template, _bare(row["messages"]))
        assert got["videos"] == row["videos"]
    if template == "qwen2_5_vl":
        assert rendered[0]["text"].startswith(QWEN_VL_VIDEO_ROW0)


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl", "llava_next", "idefics3"])
def test_image_renders_equal_the_originals(tmp_path, template):
    out = tmp_path / "vl.jsonl"
    res = run("convert", IMAGES, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    lm = tmp_path / "lm.jsonl"
    assert run("convert", IMAGES, "-o", lm).exit_code == 0
    rows = rows_of(lm)
    assert rows[0]["image"] == "demo/images/10095.png"  # one path: TRL reads `image` as is
    assert _bare(rows[0]["messages"])[0]["content"] == [
        {"type": "text", "text": "Is the value of Favorable 38 in 2015?\n"},
        {"type": "image"},
    ]
    kwargs = {"bos_token": "<|begin_of_text|>"} if template == "idefics3" else {}
    for got, row in zip(rows_of(out), rows, strict=True):
        assert got["text"] == original_render(template, _bare(row["messages"]), **kwargs)
        assert got["image"] == row["image"]


def test_prompt_completion_and_split_turns_keep_the_videos(tmp_path):
    out = tmp_path / "pc.parquet"
    res = run("convert", VIDEO, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    row = rows_of(out)[0]
    assert row["videos"] == ["v_7bUu05RIksU.mp4"]
    assert _bare(row["prompt"]) == VIDEO_ROW0[:1] and _bare(row["completion"]) == VIDEO_ROW0[1:]
    out = tmp_path / "turns.jsonl"
    res = run("convert", VIDEO, "--split-turns", "all", "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["videos"] for r in rows_of(out)][0] == ["v_7bUu05RIksU.mp4"]


# Qwen-VL's README gives several images as a list in `image`; rows written for the tests in
# that shape, beside one path (a file mixing both)
def _image_rows() -> list[dict]:
    rows = json.loads(IMAGES.read_text())
    rows[1]["image"] = ["demo/images/10095.png", "demo/images/10149.png"]
    rows[1]["conversations"][0]["value"] = "<image>\n<image>\nWhich chart has more values?"
    return rows


@pytest.mark.parametrize("mixed", [True, False])
def test_an_image_list_becomes_images(tmp_path, mixed):
    rows = _image_rows() if mixed else _image_rows()[1:2]
    src = tmp_path / "multi.json"
    src.write_text(json.dumps(rows))
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    two = ["demo/images/10095.png", "demo/images/10149.png"]
    if mixed:
        assert counts(res.output) == (3, 0, 3, 3)
        assert [g["images"] for g in got] == [two[:1], two, two[1:]]
    else:
        assert [g["images"] for g in got] == [two]
    assert all("image" not in g for g in got)
    parts = [p["type"] for p in got[1 if mixed else 0]["messages"][0]["content"]]
    assert parts == ["image", "text", "image", "text"]
    res = run("validate", src, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    res = run("report", src)
    assert ("4 images in 3 rows" if mixed else "2 images in 1 row") in res.output


def test_messages_with_an_image_list_validate_and_convert_as_images(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "<image>\nWhat?"},
                      {"role": "assistant", "content": "A chart."}], "image": "a.png"},
        {"messages": [{"role": "user", "content": "<image>\n<image>\nCompare."},
                      {"role": "assistant", "content": "Same."}], "image": ["a.png", "b.png"]},
    ]  # fmt: skip
    src = tmp_path / "plain.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("validate", src)
    assert res.exit_code == 0, res.output
    assert "image-count" not in res.output
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["images"] for r in rows_of(out)] == [["a.png"], ["a.png", "b.png"]]
    import pyarrow as pa

    import trlprep

    got = trlprep.convert(pa.Table.from_pylist(rows[1:] + rows[1:]))
    assert "images" in got.column_names and "image" not in got.column_names
    assert got.column("images").to_pylist() == [["a.png", "b.png"]] * 2
    video = [{"messages": rows[0]["messages"], "video": "v.mp4"}]
    video[0]["messages"][0]["content"] = "<video>\nWhat?"
    got = trlprep.convert(video)
    assert got[0]["videos"] == ["v.mp4"] and got[0]["messages"][0]["content"][0] == {
        "type": "video",
        "text": None,
    }


def test_train_sft_on_the_videos(tmp_path):
    res, record = train_one_step("sft", VIDEO, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "3 rows in" in res.output
    assert record["loss"] > 0


@pytest.mark.parametrize("column", ["image", "video"])
def test_paths_and_lists_in_different_chunks_read_as_at_once(tmp_path, monkeypatch, column):
    """The lone paths in the first chunks of a JSON Lines file, the lists in the later ones:
    the output equals the file read in one chunk (lists throughout, no row refused)."""
    from trlprep.io import jsonl

    mark = f"<{column}>"
    rows = [
        {column: f"m{i}" if i < 20 else [f"m{i}", f"n{i}"],
         "conversations": [{"from": "human", "value": mark * (1 if i < 20 else 2) + f"Q{i}"},
                           {"from": "gpt", "value": "A"}]}
        for i in range(40)
    ]  # fmt: skip
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    outs = []
    for chunk in (1 << 30, 400):
        monkeypatch.setattr(jsonl, "CHUNK_BYTES", chunk)
        out = tmp_path / f"out{chunk}.jsonl"
        res = run("convert", src, "-o", out)
        assert res.exit_code == 0, res.output
        assert counts(res.output) == (40, 0, 40, 40)
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    got = rows_of(tmp_path / "out400.jsonl")
    assert got[0][f"{column}s"] == ["m0"] and got[39][f"{column}s"] == ["m39", "n39"]
