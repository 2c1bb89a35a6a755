"""Real chat data with content of two kinds (a string here, parts there) and images inline
in their parts: xtuner's multimodal test data (no `images` column)."""

from __future__ import annotations

import json

import pytest
from realdata.support import TEMPLATES, counts, original_render, records, rows_of, run, sample

import trlprep

QWEN35 = sample("xtuner_inline_media")  # 4 rows: 3 inline images (line 13), videos
SFT = sample("xtuner_mllm_sft_image")  # 22 rows: an inline image object in each


def _source(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _kinds(messages):
    return [type(m["content"]).__name__ for m in messages]


@pytest.mark.parametrize("path", [QWEN35, SFT], ids=["qwen35", "sft"])
def test_detect_and_validate_count_inline_images(path):
    det = trlprep.detect(path)
    assert det.vision and det.type.name == "language-modeling"
    res = run("validate", path)
    assert res.exit_code == 0, res.output  # no images column, and no image-count error
    assert "image-count" not in res.output


def test_report_counts_inline_images():
    conv = trlprep.report(QWEN35, validate=False).data["conversation"]
    assert (conv["images"], conv["rows_with_images"], conv["inline_images"]) == (3, 1, 3)
    conv = trlprep.report(SFT, validate=False).data["conversation"]
    assert (conv["images"], conv["inline_images"], conv["rows_with_inline_images"]) == (22, 22, 22)
    text = run("report", SFT).output
    assert "22 images in 22 rows (22 inline in their message parts)" in text
    assert "__trlprep" not in text  # the examples show the messages as written


@pytest.mark.parametrize("path", [QWEN35, SFT], ids=["qwen35", "sft"])
def test_convert_keeps_each_content_as_written(tmp_path, path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", path, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    n = len(_source(path))
    assert counts(res.output) == (n, 0, n, n)
    for src, got in zip(_source(path), rows_of(out), strict=True):
        both = got["prompt"] + got["completion"]
        assert _kinds(both) == _kinds(src["messages"])
        assert [m["content"] for m in both] == [m["content"] for m in src["messages"]]


def test_move_puts_inline_images_in_an_images_column_in_order(tmp_path):
    out = tmp_path / "moved.jsonl"
    res = run("convert", QWEN35, "--to", "lm", "--inline-media", "move", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    src = _source(QWEN35)
    urls = [
        p["image"] for m in src[0]["messages"] if isinstance(m["content"], list)
        for p in m["content"] if p["type"] == "image"
    ]  # fmt: skip
    assert len(urls) == 3 and got[0]["images"] == urls
    assert [r["images"] for r in got[1:]] == [[], [], []]
    parts = [p for m in got[0]["messages"] if isinstance(m["content"], list) for p in m["content"]]
    assert [p for p in parts if p["type"] == "image"] == [{"type": "image"}] * 3
    # videos held as objects go to `videos` (their url; xtuner's frame metadata is dropped)
    videos = [
        [p["video"]["url"] for m in row["messages"] if isinstance(m["content"], list)
         for p in m["content"] if p["type"] == "video"]
        for row in src
    ]  # fmt: skip
    assert [r["videos"] for r in got] == [[], *videos[1:]]
    assert videos[1] == ["https://example.com/video/demo.mp4"] and len(videos[2]) == 3
    assert got[1]["messages"][1]["content"][0] == {"type": "video"}
    assert run("validate", out).exit_code == 0

    out = tmp_path / "sft.parquet"
    assert run("convert", SFT, "--to", "pc", "--inline-media", "move", "-o", out).exit_code == 0
    rows = rows_of(out)
    assert rows[0]["images"] == ["resource/mscoco_dog_000000319154.jpg"]
    assert rows[0]["prompt"][0]["content"][0] == {"type": "image", "text": None}


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl"])
@pytest.mark.parametrize("path", [QWEN35, SFT], ids=["qwen35", "sft"])
def test_renders_equal_the_original_template_kept_or_moved(tmp_path, path, template):
    if not (TEMPLATES / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    tpl = TEMPLATES / f"{template}.jinja"
    for how in ("keep", "move"):
        out = tmp_path / f"{how}.jsonl"
        res = run(
            "convert", path, "--to", "lm", "--chat-template", tpl, "--inline-media", how,
            "-o", out,
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        for src, got in zip(_source(path), rows_of(out), strict=True):
            assert got["text"] == original_render(template, src["messages"]), how


def _loaded(path):
    """The rows of a Parquet file as `datasets.load_dataset("parquet")` gives them (TRL)."""
    import datasets

    return list(datasets.load_dataset("parquet", data_files=str(path), split="train"))


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl"])
def test_parquet_loaded_by_datasets_renders_as_the_original(tmp_path, template):
    """Parquet gives every part every key; kept inline media left `"image": None` on text
    parts, which Qwen's templates (`'image' in content`) rendered as images. By default a
    Parquet output moves them (TRL's layout), and renders through `datasets` are right."""
    if not (TEMPLATES / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    src = _source(QWEN35)
    out = tmp_path / "lm.parquet"
    res = run("convert", QWEN35, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    assert "moved to images / videos / audios columns" in res.output
    assert "as Parquet outputs get them by default" in res.output
    got = _loaded(out)
    assert [len(r["images"]) for r in got] == [3, 0, 0, 0]
    assert [len(r["videos"]) for r in got] == [0, 1, 3, 1]
    for row, want in zip(got, src, strict=True):
        assert original_render(template, row["messages"]) == original_render(
            template, want["messages"]
        )

    kept = tmp_path / "kept.parquet"
    res = run("convert", QWEN35, "--to", "lm", "--inline-media", "keep", "-o", kept)
    assert res.exit_code == 0, res.output
    assert 'its text parts hold "image": null, "video": null' in res.output
    row = _loaded(kept)[0]  # the corruption the warning names: text parts read as images
    assert original_render(template, row["messages"]) != original_render(
        template, src[0]["messages"]
    )


def test_trlprep_renders_a_kept_parquet_file_as_the_original(tmp_path):
    """trlprep itself reads such a file (null keys and all) and renders it right."""
    if not (TEMPLATES / "qwen2_5_vl.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    kept = tmp_path / "kept.parquet"
    assert run("convert", QWEN35, "--to", "lm", "--inline-media", "keep", "-o", kept).exit_code == 0
    out = tmp_path / "text.jsonl"
    res = run("convert", kept, "--to", "lm", "--chat-template", TEMPLATES / "qwen2_5_vl.jinja",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    for src, got in zip(_source(QWEN35), rows_of(out), strict=True):
        assert got["text"] == original_render("qwen2_5_vl", src["messages"])


def test_typed_and_rendered_outputs_move_by_default(tmp_path):
    out = tmp_path / "lm.jsonl"  # JSON Lines keeps each part's keys: kept as written
    res = run("convert", QWEN35, "--to", "lm", "-o", out)
    assert res.exit_code == 0 and "moved to images" not in res.output
    assert "images" not in rows_of(out)[0]
    assert rows_of(out)[0]["messages"][1]["content"][0]["type"] == "image"
    assert "image" in rows_of(out)[0]["messages"][1]["content"][0]
    if not (TEMPLATES / "qwen2_5_vl.jinja").exists():
        return
    # rendered: the text keeps no part, so the media are moved to their columns first (they
    # were lost: the rendered rows named no image or video any more)
    for suffix in ("parquet", "jsonl"):
        out = tmp_path / f"text.{suffix}"
        res = run("convert", QWEN35, "--to", "lm", "--chat-template",
                  TEMPLATES / "qwen2_5_vl.jinja", "-o", out)  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "moved to images / videos / audios columns before the render" in res.output
        rows = rows_of(out)
        assert [len(r["images"]) for r in rows] == [3, 0, 0, 0]
        assert [len(r["videos"]) for r in rows] == [0, 1, 3, 1]
        assert rows[0]["text"].count("<|image_pad|>") == 3
        assert rows[2]["text"].count("<|video_pad|>") == 3


VIDEOS = sample("xtuner_video_paths")  # 10 rows: video parts holding a path; 2 malformed


def test_video_paths_move_to_videos_and_render_as_the_original(tmp_path):
    """transformers' `{"type": "video", "path": ...}` parts (files and frame folders): a
    Parquet output moves them to `videos` by default; the two lines whose text part holds
    nested messages instead of text are refused, named by line."""
    res = run("validate", VIDEOS)
    assert res.exit_code == 1 and "invalid-part (messages): 2 rows, lines 3, 4" in res.output
    out = tmp_path / "lm.parquet"
    res = run("convert", VIDEOS, "--to", "lm", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (10, 2, 8, 8)
    src = [r for i, r in enumerate(_source(VIDEOS)) if i not in (2, 3)]
    paths = [
        [p["path"] for m in r["messages"] for p in m["content"] if p["type"] == "video"]
        for r in src
    ]
    got = _loaded(out)
    assert [r["videos"] for r in got] == paths and "images" not in got[0]
    assert got[6]["videos"] == ["tennis_frames_4fps/", "tennis_frames_2fps/"]
    if not (TEMPLATES / "qwen2_5_vl.jinja").exists():
        return
    for row, want in zip(got, src, strict=True):
        assert original_render("qwen2_5_vl", row["messages"]) == original_render(
            "qwen2_5_vl", want["messages"]
        )


def _with_placeholder_rows(tmp_path):
    """xtuner's rows (content a string in some messages, parts in others) around
    LLaMA-Factory's `<image>` rows (string contents, `images`): read as one column of parts
    with the strings flagged, the placeholders in flagged strings."""
    rows = _source(QWEN35)[:2] + records(sample("mllm_demo")) + _source(QWEN35)[2:]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    marks = [
        sum(m["content"].count("<image>") for m in r["messages"] if isinstance(m["content"], str))
        for r in rows
    ]
    return path, marks


def test_placeholders_in_mixed_contents_are_shown_media(tmp_path):
    """Validate counts `<image>` in the strings of mixed contents; the edges that cut media
    lists to what their messages show missed them (0 shown in every row)."""
    from trlprep.columns.placeholders import shown_counts
    from trlprep.columns.textparts import has_marks
    from trlprep.io.readers import read

    path, marks = _with_placeholder_rows(tmp_path)
    table = read(path).table
    assert has_marks(table.schema.field("messages").type)
    assert shown_counts(table.column("messages"), "image").tolist() == marks
    assert sum(marks) == 8  # xtuner's inline images hold their image: not counted
    res = run("validate", path)
    assert res.exit_code == 0 and "image-count" not in res.output, res.output


def test_each_turn_keeps_the_images_its_mixed_messages_show(tmp_path):
    """A conversation split into turns (an edge run as it is, before any placeholder stage)
    keeps in each turn's row the images its prompt and completion show: the first turn of
    LLaMA-Factory's first row shows one of its two (was: both kept)."""
    from trlprep.converters.base import ConvertOptions
    from trlprep.converters.turns import lm_to_prompt_completion

    from trlprep.io.readers import read
    from trlprep.registry import Format

    path, _ = _with_placeholder_rows(tmp_path)
    table = read(path).table
    out = lm_to_prompt_completion(table, Format.CONVERSATIONAL, ConvertOptions(split_turns="all"))
    kept = [len(images) if images else 0 for images in out.column("images").to_pylist()]
    shown = [
        sum(str(m["content"]).count("<image>") for c in ("prompt", "completion") for m in row[c])
        for row in out.select(["prompt", "completion"]).to_pylist()
    ]
    assert kept == shown
    assert kept[4:6] == [1, 2]
