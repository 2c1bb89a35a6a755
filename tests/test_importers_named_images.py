"""MiniCPM-V's fine-tuning layout (its `finetune/readme.md`; no data file is published):
`conversations` of `{role, content}` turns and `image` one path (`<image>` in the text) or an
object of named images (`{"<image_00>": PATH, ...}`, each name standing where its image
goes). Rows written for the tests in that shape.

Before: `conversations` of `{role, content}` read as no type (detect: unknown; convert: "cannot
tell the dataset type"; `--from sharegpt` advised `--from openai-chat`, which then asked for
a `messages` column); read with `--map messages=conversations`, an object of two images was
counted as one image, placed at the start as an unplaced image, its names left as text and
the object written as the `image`; a file mixing one path and objects was refused
(`mixed-kind`).
"""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run

ONE = {
    "id": "0",
    "image": "cats/a.jpg",
    "conversations": [
        {"role": "user", "content": "<image>\nWhat is in the picture?"},
        {"role": "assistant", "content": "A cat on a sofa."},
    ],
}
TWO = {
    "id": "1",
    "image": {"<image_00>": "cats/b.jpg", "<image_01>": "cats/c.jpg"},
    "conversations": [
        {"role": "user", "content": "Compare <image_01> with <image_00>."},
        {"role": "assistant", "content": "The first is grey, the second ginger."},
    ],
}


def _write(tmp_path, rows, name="data.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows, indent=2))
    return path


def _parts(message):
    return [p["type"] if p["type"] != "text" else p["text"] for p in message["content"]]


def test_role_content_conversations_read_as_sharegpt(tmp_path):
    src = _write(tmp_path, [ONE])
    res = run("detect", src)
    assert res.exit_code == 0, res.output
    assert "type           language-modeling (the sharegpt layout" in res.output
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    (row,) = rows_of(out)
    assert row["image"] == "cats/a.jpg" and row["id"] == "0"
    assert _parts(row["messages"][0]) == ["image", "\nWhat is in the picture?"]


def test_named_images_stand_where_their_names_stand(tmp_path):
    src = _write(tmp_path, [TWO])
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    assert "MiniCPM-V's named images" in res.output
    (row,) = rows_of(out)
    assert row["images"] == ["cats/c.jpg", "cats/b.jpg"]  # <image_01> stands first
    assert "image" not in row
    assert _parts(row["messages"][0]) == ["Compare ", "image", " with ", "image", "."]
    res = run("validate", src, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    assert "warning" not in res.output  # no image placed at the start


def test_one_path_and_named_images_in_one_file(tmp_path):
    src = _write(tmp_path, [ONE, TWO, ONE])
    out = tmp_path / "lm.parquet"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    assert [r["images"] for r in rows_of(out)] == [
        ["cats/a.jpg"],
        ["cats/c.jpg", "cats/b.jpg"],
        ["cats/a.jpg"],
    ]


def test_a_name_without_its_image_and_an_image_without_its_name_are_refused(tmp_path):
    lacking = json.loads(json.dumps(TWO))
    lacking["conversations"][0]["content"] = "Compare <image_00> with <image_02>."
    unused = json.loads(json.dumps(TWO))
    unused["conversations"][0]["content"] = "What is in <image_00>?"
    src = _write(tmp_path, [TWO, lacking, unused])
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 2, 1, 1)
    reasons = [r["reason"] for r in rows_of(tmp_path / "lm.rejects.jsonl")]
    assert "names no image of the row's `image` object" in reasons[0]
    assert "an image no placeholder names" in reasons[1]


def test_conversations_of_parts_name_the_map(tmp_path):
    """`{role, content}` turns whose content is parts are messages under another name: the
    advice names `--map messages=conversations` (it said only to rename the columns)."""
    row = {"conversations": [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
    ]}  # fmt: skip
    src = _write(tmp_path, [row])
    advice = "pass `--map messages=conversations`"
    assert advice in " ".join(run("detect", src).output.split())
    res = run("convert", src, "-o", tmp_path / "lm.jsonl")
    assert res.exit_code == 1 and advice in " ".join(res.output.split())
    res = run("convert", src, "--from", "sharegpt", "-o", tmp_path / "lm.jsonl")
    assert res.exit_code != 0 and "--map messages=conversations" in res.output
    res = run("convert", src, "--map", "messages=conversations", "-o", tmp_path / "lm.jsonl")
    assert res.exit_code == 0, res.output
    assert rows_of(tmp_path / "lm.jsonl")[0]["messages"][1]["content"][0]["text"] == "Hello."


def test_a_row_without_an_image_object_has_no_images_not_null(tmp_path):
    text_only = {
        "id": "2",
        "conversations": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
        ],
    }
    src = _write(tmp_path, [TWO, text_only])
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "--from", "sharegpt", "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert rows[0]["images"] == ["cats/c.jpg", "cats/b.jpg"]
    assert rows[1]["images"] == []
