"""Media columns that cannot be cut as lists, and pairs whose completions show their own
media, said at conversion time instead of by validate afterwards. Real rows: Qwen-VL's
fine-tuning demo (a single `image` path per row), LLaMA-Factory's video demo (`videos`),
Oumi's vision DPO example (made unpaired by the CLI); each changed only where a test says
(a placeholder moved into the answer, an answer showing its own image)."""

from __future__ import annotations

import json

from realdata.support import HERE, counts, run

QWENVL = HERE / "qwenvl_finetune_demo" / "single_images.json"
VIDEOS = HERE / "mllm_video_audio" / "mllm_video_demo.json"
OUMI_DPO = HERE / "oumi_dataset_examples" / "vision_language_dpo_format.jsonl"
SHOWN_IMAGE = "https://picsum.photos/id/237/200/300"  # an image an answer shows


def _said(res) -> str:
    return " ".join(res.output.split())


def image_in_the_answer(tmp_path):
    """Qwen-VL's 3 rows, the first one's `<image>` moved from the question to the answer."""
    rows = json.loads(QWENVL.read_text(encoding="utf-8"))
    turns = rows[0]["conversations"]
    turns[0]["value"] = turns[0]["value"].replace("\n<image>", "")
    turns[1]["value"] = "<image>\n" + turns[1]["value"]
    path = tmp_path / "single.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_prompt_only_sets_a_single_image_shown_only_by_the_answer_null(tmp_path):
    out = tmp_path / "po.jsonl"
    res = run("convert", image_in_the_answer(tmp_path), "--to", "prompt-only", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    assert "1 row (row 0): the 'image' column's image entries were shown only by" in _said(res)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["image"] for r in rows] == [None, "demo/images/10095.png", "demo/images/10149.png"]
    assert run("validate", out).exit_code == 0


def frames_and_paths(tmp_path):
    """LLaMA-Factory's 3 video rows: the first one's `videos` a list of frames then a path
    (the column JSON text: rows of several shapes), its answer showing the second; the
    second one's video shown by its answer only."""
    rows = json.loads(VIDEOS.read_text(encoding="utf-8"))
    rows[0]["videos"] = [["mllm_demo_data/1/0.jpg", "mllm_demo_data/1/1.jpg"], "d/2.mp4"]
    rows[0]["messages"][1]["content"] = "<video>" + rows[0]["messages"][1]["content"]
    ask = rows[1]["messages"][0]
    ask["content"] = ask["content"].replace("<video>", "")
    rows[1]["messages"][1]["content"] = "<video>" + rows[1]["messages"][1]["content"]
    path = tmp_path / "frames.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_prompt_only_cuts_json_text_media_or_refuses_naming_the_column(tmp_path):
    out = tmp_path / "po.jsonl"
    src = frames_and_paths(tmp_path)
    res = run("convert", src, "--to", "prompt-only", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 1, 2, 2)
    said = _said(res)
    assert "its kept messages show 1 of the 2 videos of its 'videos' column" in said
    assert "--map videos_given=videos" in said
    assert "1 row (line 2): the 'videos' column's video entries were shown only by" in said
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["videos"] for r in rows] == [None, ["mllm_demo_data/3.mp4"]]
    assert run("validate", out).exit_code == 0
    moved = tmp_path / "moved.jsonl"  # the escape the reason names: carried as it is
    res = run("convert", src, "--to", "prompt-only", "-o", moved, "--map", "videos_given=videos")
    assert res.exit_code == 0, res.output


def unpaired_with_own_images(tmp_path):
    """Oumi's 3 vision DPO rows made unpaired (6 rows), then: the false answer of the
    second prompt shows an image of its own (line 4); both answers of the third show the
    same image of their own (lines 5, 6)."""
    unpaired = tmp_path / "unpaired.jsonl"
    res = run("convert", OUMI_DPO, "--to", "unpaired", "-o", unpaired)
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in unpaired.read_text().splitlines()]
    for i in (3, 4, 5):
        rows[i]["completion"][0]["content"].insert(0, {"type": "image"})
        rows[i]["images"].append(SHOWN_IMAGE)
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_pairing_refuses_pairs_whose_answers_show_different_media(tmp_path):
    src = unpaired_with_own_images(tmp_path)
    res = run("convert", src, "--to", "preference", "-o", tmp_path / "stop.jsonl")
    assert res.exit_code == 1
    said = _said(res)
    assert "own.jsonl:3: conversion: paired with the false completion of the same prompt" in said
    assert "(this true one shows 0 of its own, the false one 1)" in said
    out = tmp_path / "pref.jsonl"
    res = run("convert", src, "--to", "preference", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 2, 4, 2)
    rejects = [json.loads(x) for x in (tmp_path / "pref.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [3, 4]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[1]["images"] == ["https://picsum.photos/200/300", SHOWN_IMAGE]
    assert run("validate", out).exit_code == 0
