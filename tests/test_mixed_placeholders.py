"""`<image>` / `<video>` placeholders in the string contents of rows whose other messages are
parts (content of two kinds, as xtuner and OpenAI's format give it) are mapped and counted
as in rows of strings alone: convert makes them media parts where they stand, validate
counts them against `images` / `videos`, and the parts beside them count too."""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run

from trlprep.columns.placeholders import map_placeholders
from trlprep.io.readers import table_from_records

USER = "<image>What is in this picture?"
STRING_ROW = {
    "messages": [
        {"role": "user", "content": USER},
        {"role": "assistant", "content": "A cat."},
    ],
    "images": ["a.jpg"],
}
# the same row with the answer given as a text part: content of two kinds
MIXED_ROW = {
    "messages": [
        {"role": "user", "content": USER},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
    ],
    "images": ["a.jpg"],
}
WANT = [
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": USER[7:]}]},
    {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _messages(table):
    from trlprep.columns.textparts import restored

    return [restored(m) for m in table.column("messages").to_pylist()]


def _plain(messages):
    """Messages without the null keys one Arrow struct gives every part."""
    return [
        {
            "role": m["role"],
            "content": [{k: v for k, v in p.items() if v is not None} for p in m["content"]],
        }
        for m in messages
    ]


def test_mixed_rows_map_placeholders_as_rows_of_strings():
    for row in (STRING_ROW, MIXED_ROW):
        out, bad, _ = map_placeholders(table_from_records([row]))
        assert len(bad) == 0
        assert _plain(_messages(out)[0]) == WANT, row


def test_a_string_row_among_mixed_rows_is_mapped_too():
    # the second row's contents are all strings, but its column is read as flagged parts
    second = {**STRING_ROW, "images": ["b.jpg"]}
    out, bad, _ = map_placeholders(table_from_records([MIXED_ROW, second]))
    assert len(bad) == 0
    assert [_plain(m) for m in _messages(out)] == [WANT, WANT]


def test_placeholders_and_image_parts_together_count_against_images():
    row = {
        "messages": [
            {"role": "user", "content": "<image>This?"},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "That?"}]},
            {"role": "assistant", "content": "A dog."},
        ],
        "images": ["a.jpg", "b.jpg"],
    }
    out, bad, _ = map_placeholders(table_from_records([row]))
    assert len(bad) == 0
    assert _plain(_messages(out)[0])[0]["content"][0] == {"type": "image"}
    _, bad, reasons = map_placeholders(table_from_records([{**row, "images": ["a.jpg"]}]))
    assert bad.tolist() == [0]
    assert reasons == [
        "the conversation holds 1 `<image>` placeholder and 1 image part but the row has 1 image"
    ]


def test_convert_and_validate_agree_on_mixed_and_string_rows(tmp_path):
    bad_row = {**STRING_ROW, "images": []}  # a placeholder without its image
    outs = {}
    for name, rows in {
        "strings": [STRING_ROW, bad_row],
        "mixed": [MIXED_ROW, {**MIXED_ROW, "images": []}],
    }.items():
        src = _write(tmp_path / f"{name}.jsonl", rows)
        checked = run("validate", src)
        assert checked.exit_code == 1, checked.output
        assert "image-count: 1 row, line 2" in checked.output, checked.output
        out = tmp_path / f"{name}.out.jsonl"
        r = run("convert", src, "--to", "lm", "-o", out, "--on-error", "skip")
        assert r.exit_code == 0, r.output
        assert counts(r.output) == (2, 1, 1, 1)
        assert "media placeholders: the conversation holds 1 `<image>` placeholder" in r.output
        outs[name] = rows_of(out)
    assert outs["mixed"] == outs["strings"]
    assert outs["mixed"][0]["messages"] == WANT


def test_video_placeholders_in_mixed_rows(tmp_path):
    row = {
        "messages": [
            {"role": "user", "content": "<video><audio>What happens?"},
            {"role": "assistant", "content": [{"type": "text", "text": "A race."}]},
        ],
        "videos": ["v.mp4"],
        "audios": ["a.wav"],
    }
    src = _write(tmp_path / "v.jsonl", [row, {**row, "videos": []}])
    checked = run("validate", src)
    assert "media-count: 1 row, line 2" in checked.output, checked.output
    out = tmp_path / "v.out.jsonl"
    r = run("convert", src, "--to", "lm", "-o", out, "--on-error", "skip")
    assert counts(r.output) == (2, 1, 1, 1), r.output
    assert rows_of(out)[0]["messages"][0]["content"] == [
        {"type": "video"},
        {"type": "audio"},
        {"type": "text", "text": "What happens?"},
    ]


def test_no_false_placeholder_warning_when_parts_make_up_the_count(tmp_path):
    row = {
        "messages": [
            {"role": "user", "content": "<image>This?"},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "That?"}]},
            {"role": "assistant", "content": "A dog."},
        ],
        "images": ["a.jpg", "b.jpg"],
    }
    r = run("validate", _write(tmp_path / "ok.jsonl", [row]))
    assert r.exit_code == 0, r.output
    assert "image-placeholder" not in r.output and "image-count" not in r.output
