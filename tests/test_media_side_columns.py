"""`videos` / `audios` are side columns, as `images` is: detect lists them as such, they are
never carried as extras (so never kept as JSON text), and a row whose `videos` value is not
a list, where the other rows hold lists, fails at read naming its line (as `images` does)
instead of turning the whole column into JSON text."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, counts, rows_of, run

from trlprep.detection.columnroles import carried_columns

DIR = HERE / "mllm_video_audio"


@pytest.mark.parametrize(
    ("name", "side"),
    [("video", ["videos"]), ("audio", ["audios"]), ("video_audio", ["videos", "audios"])],
)
def test_detect_lists_videos_and_audios_as_side_columns(name, side):
    res = run("detect", DIR / f"mllm_{name}_demo.json", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["side_columns"] == side and info["extra_columns"] == []
    text = run("detect", DIR / f"mllm_{name}_demo.json").output
    assert f"side columns   {', '.join(side)}" in text and "extra columns  -" in text


def test_only_unknown_columns_are_carried():
    names = ["messages", "images", "videos", "audios", "source"]
    assert carried_columns(names) == {"source"}


def test_a_videos_string_among_lists_fails_its_row_at_read(tmp_path):
    rows = json.loads((DIR / "mllm_video_demo.json").read_text())
    rows[2]["videos"] = rows[2]["videos"][0]  # one path, not a list
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    said = " ".join(res.output.split())
    assert f"{src}:3: read: column 'videos' holds a string" in said
    res = run("convert", src, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 1, 2, 2)
    got = rows_of(out)
    assert [g["videos"] for g in got] == [r["videos"] for r in rows[:2]]
    assert all(g["messages"][0]["content"][0]["type"] == "video" for g in got)
    (reject,) = rows_of(tmp_path / "out.rejects.jsonl")
    assert reject["line"] == 3 and "where the other rows hold lists" in reject["reason"]


@pytest.mark.parametrize("column", ["videos", "audios", "images"])
def test_a_media_column_of_json_text_lists_is_no_messages_column(tmp_path, column):
    # one row's paths as objects: the column is read as JSON text (values of mixed kinds)
    rows = json.loads((DIR / "mllm_video_demo.json").read_text())
    for r in rows:
        r[column] = r.pop("videos")
    rows[1][column] = [{"path": rows[1][column][0]}]
    src = tmp_path / "objects.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("detect", src, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["column_kinds"][column] == {"list": 3}
    assert info["column_kinds"]["messages"] == {"messages": 3}
    assert info["side_columns"] == [column] and info["vision"] is True
