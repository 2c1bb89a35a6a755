"""Video and audio content parts are not images: only image parts are counted against the
`images` column; video / audio parts against a `videos` / `audios` column when the data has
one (a row whose counts disagree is refused), else a note says their number is unchecked.
Renders are compared with the original Qwen2.5-VL template (`../shared`)."""

from __future__ import annotations

import json
from pathlib import Path

from realdata.support import counts, original_render, rows_of, run, template_file


def qwen_vl() -> Path:
    """The original Qwen2.5-VL template (skips without `../shared`)."""
    return template_file("qwen2_5_vl")


def _user(*parts: dict) -> dict:
    return {"role": "user", "content": list(parts)}


def _answer(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


IMAGE, VIDEO, AUDIO = {"type": "image"}, {"type": "video"}, {"type": "audio"}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _render_as_original(rows, out_rows):
    for row, got in zip(rows, out_rows, strict=True):
        assert got["text"] == original_render("qwen2_5_vl", row["messages"])


def test_video_and_audio_parts_are_not_counted_as_images(tmp_path):
    rows = [
        {"messages": [_user(IMAGE, AUDIO, _text("Same?")), _answer("Yes.")], "images": ["a.png"]},
        {"messages": [_user(VIDEO, _text("What happens?")), _answer("A jump.")], "images": []},
    ]
    src = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--chat-template", qwen_vl(), "-o", out)
    # was: "the conversation holds 2 image parts but the row has 1 image"
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    _render_as_original(rows, rows_of(out))
    flat = " ".join(res.output.split())
    assert (
        "1 row holds video parts and the data has no videos column: their number is not "
        "checked (only image parts are checked, against images)" in flat
    )
    assert "1 row holds audio parts and the data has no audios column" in flat


def test_video_parts_are_counted_against_a_videos_column(tmp_path):
    rows = [
        {"messages": [_user(VIDEO, _text("What happens?")), _answer("A jump.")],
         "videos": ["cat.mp4"]},
        {"messages": [_user(IMAGE, VIDEO, _text("Same?")), _answer("No.")],
         "images": ["a.png"], "videos": []},
        {"messages": [_user(_text("Hi")), _answer("Hello.")], "videos": ["extra.mp4"]},
    ]  # fmt: skip
    for r in rows:
        r.setdefault("images", [])
    src = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--chat-template", qwen_vl(), "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 2, 1, 1)
    _render_as_original(rows[:1], rows_of(out))
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    said = [(r["line"], r["stage"], r["reason"]) for r in rejects]
    assert [(line, stage) for line, stage, _ in said] == [(2, "validation"), (3, "validation")]
    assert all(reason.endswith("(rule media-count)") for *_, reason in said), said
    # refused as convert without a template refuses them, with the same reasons
    plain = tmp_path / "plain.jsonl"
    res = run("convert", src, "--on-error", "skip", "-o", plain)
    assert res.exit_code == 0 and counts(res.output) == (3, 2, 1, 1), res.output
    got = [json.loads(x) for x in (tmp_path / "plain.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["stage"], r["reason"]) for r in got] == said
    assert "has no videos column" not in " ".join(res.output.split())


def test_each_media_part_goes_with_its_own_column():
    from test_content_parts import MEDIA  # image, image_url, video, audio, input_audio, file

    from trlprep.columns.arrowtypes import media_kind
    from trlprep.templates.inputs import image_marks, media_marks

    parts = [*MEDIA, {"video": "no-type.mp4"}]
    assert [media_kind(p) for p in parts] == [
        "image", "image", "video", "audio", "audio", None, "video",
    ]  # fmt: skip
    messages = [{"role": "user", "content": parts}, _answer("ok")]
    assert image_marks(messages) == (0, 2)  # was (0, 7): every media part an image
    assert (media_marks(messages, "video"), media_marks(messages, "audio")) == ((0, 2), (0, 2))


def test_validate_counts_video_parts_against_videos_and_says_what_it_did_not_check(tmp_path):
    import trlprep

    rows = [
        {"messages": [_user(VIDEO, _text("What happens?")), _answer("A jump.")],
         "videos": ["cat.mp4"]},
        {"messages": [_user(VIDEO, VIDEO, _text("Same?")), _answer("No.")], "videos": ["a"]},
    ]  # fmt: skip
    report = trlprep.validate(_write(tmp_path / "v.jsonl", rows))
    assert [(i.rule, i.rows) for i in report.issues] == [("media-count", [1])]
    assert "(messages: 2 video parts, 1 video (column videos))" in report.issues[0].message
    assert not any("not checked" in n for n in report.notes)

    rows = [
        {"messages": [_user(IMAGE, AUDIO, _text("Same?")), _answer("Yes.")], "images": ["a.png"]},
        {"messages": [_user(AUDIO, _text("Who speaks?")), _answer("Ann.")], "images": []},
    ]
    report = trlprep.validate(_write(tmp_path / "a.jsonl", rows))
    assert report.valid, report.issues  # audio parts are not images (and not counted)
    assert (
        "2 rows hold audio parts and the data has no audios column: their number was not "
        "checked (image parts are checked against images)"
    ) in report.notes


def test_media_columns_null_in_every_row_hold_no_media(tmp_path):
    import trlprep

    for column in ("images", "videos", "audios"):
        rows = [
            {"messages": [_user(_text("Hi")), _answer("Hello.")], column: None},
            {"messages": [_user(_text("Bye")), _answer("Bye.")], column: None},
        ]
        src = _write(tmp_path / f"{column}.jsonl", rows)
        report = trlprep.validate(src)  # images: was ArrowNotImplementedError
        assert report.valid, (column, report.issues)
        res = run("validate", src)
        assert res.exit_code == 0, res.output
        part = {"images": IMAGE, "videos": VIDEO, "audios": AUDIO}[column]
        rows[1]["messages"][0] = _user(part, _text("Bye"))
        report = trlprep.validate(_write(src, rows))
        assert not report.valid, column  # a part and no media: still refused


def test_videos_as_json_text_lists_of_frames_or_paths_are_counted(tmp_path):
    # LLaMA-Factory: a video may be its frames; frames in one row and a path in another
    # make the column JSON text, which convert and the template stage count as validate does
    import trlprep

    rows = [
        {"messages": [{"role": "user", "content": "<video>What happens?"},
                      {"role": "assistant", "content": "A jump."}],
         "videos": [["f1.jpg", "f2.jpg"]]},
        {"messages": [{"role": "user", "content": "<video>And here?"},
                      {"role": "assistant", "content": "A fall."}], "videos": ["b.mp4"]},
    ]  # fmt: skip
    src = _write(tmp_path / "in.jsonl", rows)
    assert trlprep.validate(src).valid
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [r["prompt"][0]["content"][0]["type"] for r in got] == ["video", "video"]  # was text
    assert got[0]["prompt"][0]["content"][1]["text"] == "What happens?"
    text = tmp_path / "text.jsonl"
    res = run("convert", src, "--chat-template", qwen_vl(), "-o", text)
    assert res.exit_code == 0, res.output
    assert all("<|vision_start|><|video_pad|><|vision_end|>" in r["text"] for r in rows_of(text))

    rows[1]["messages"][0]["content"] = "<video><video>And here?"  # 2 placeholders, 1 video
    src = _write(src, rows)
    assert "media-count" in [i.rule for i in trlprep.validate(src).issues]
    out = tmp_path / "pc2.jsonl"
    res = run("convert", src, "--to", "prompt-completion", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    reject = json.loads((tmp_path / "pc2.rejects.jsonl").read_text().splitlines()[0])
    assert "2 `<video>` placeholders but the row has 1 video" in reject["reason"]


def _plain_answer(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _pair(chosen_user: str, rejected_user: str, **media) -> dict:
    return {
        "chosen": [{"role": "user", "content": chosen_user},
                   {"role": "assistant", "content": "A jump."}],
        "rejected": [{"role": "user", "content": rejected_user},
                     {"role": "assistant", "content": "A fall."}],
        **media,
    }  # fmt: skip


def test_media_are_counted_per_sequence_of_implicit_prompt_pairs(tmp_path):
    # TRL renders chosen and rejected each with the row's media: each holds every
    # placeholder (was: summed over both, "2 `<video>` placeholders but the row has 1 video")
    import pytest

    import trlprep
    from trlprep.errors import DataError, RowFailures
    from trlprep.io.jsontext import table_from_records
    from trlprep.templates.api import apply_chat_template
    from trlprep.templates.sources import load_template
    from trlprep.templates.table import render_table

    rows = [
        _pair("<video>What happens?", "<video>What happens?", videos=["a.mp4"]),
        _pair("<image>What is it?", "<image>What is it?", images=["a.png"], videos=[]),
    ]
    rows[0]["images"] = []
    bad = _pair("<video>What?", "What?", videos=["b.mp4"], images=[])  # rejected: none
    src = _write(tmp_path / "in.jsonl", [*rows, bad])
    report = trlprep.validate(src)
    assert [(i.rule, i.rows) for i in report.issues if i.rule.endswith("-count")] == [
        ("media-count", [2])
    ]
    out = tmp_path / "pref.jsonl"
    res = run("convert", src, "--to", "preference", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 1, 2, 2)
    got = rows_of(out)
    assert [p["type"] for p in got[0]["prompt"][0]["content"]] == ["video", "text"]
    assert [p["type"] for p in got[1]["prompt"][0]["content"]] == ["image", "text"]
    reject = json.loads((tmp_path / "pref.rejects.jsonl").read_text())
    assert reject["reason"] == (
        "rejected: the conversation holds no `<video>` placeholder or video part but the "
        "row has 1 video (column videos)"
    )

    template = load_template(str(qwen_vl()))
    table, _ = render_table(table_from_records(rows), "preference-implicit", template)
    for side, answer in (("chosen", "A jump."), ("rejected", "A fall.")):
        expected = [
            original_render("qwen2_5_vl", [_user(part, _text(text)), _plain_answer(answer)])
            for part, text in ((VIDEO, "What happens?"), (IMAGE, "What is it?"))
        ]
        assert table.column(side).to_pylist() == expected
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records([bad]), "preference-implicit", template)
    assert info.value.reasons == [
        "rejected: the conversation holds no `<video>` placeholder or video part but the row "
        "has 1 video (column videos)"
    ]
    assert "<|video_pad|>" in apply_chat_template(rows[0], template)["rejected"]
    with pytest.raises(DataError, match="rejected: the conversation holds no `<video>`"):
        apply_chat_template(bad, template)


def test_prompts_are_grouped_on_media_counts_not_on_the_media():
    # rows whose prompt is the same and whose media differ prepare and render one prompt;
    # the media (image bytes here) stay behind, only their counts go to the renderer
    import pyarrow as pa

    from trlprep.templates import table as table_module
    from trlprep.templates.sources import load_template

    n = 6
    prompt = [{"role": "user", "content": "<video><image>What happens?"}]
    answer = [{"role": "assistant", "content": "A jump."}]
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    data = pa.table({
        "prompt": [prompt] * n,
        "completion": [answer] * n,
        "videos": [[f"{i}.mp4"] for i in range(n)],
        "images": pa.array([[{"bytes": bytes([i]) * 8, "path": None}] for i in range(n)],
                           pa.list_(image)),
    })  # fmt: skip
    template = load_template(str(qwen_vl()))
    sent: list[list[str]] = []
    render = table_module.render_batch

    def spy(job, batch, offset):
        sent.append(batch.column_names)
        return render(job, batch, offset)

    table_module.render_batch = spy
    try:
        out, report = table_module.render_table(data, "prompt-completion", template, num_proc=1)
    finally:
        table_module.render_batch = render
    assert report.distinct_prompts == 1  # was 6: keyed on each row's videos list
    assert sent and not any({"images", "videos"} & set(names) for names in sent)
    assert out.column("images").equals(data.column("images"))  # kept in the output
    expected = original_render(
        "qwen2_5_vl", [_user(VIDEO, IMAGE, _text("What happens?")), _plain_answer("A jump.")]
    )
    (prompt_text,) = set(out.column("prompt").to_pylist())
    assert prompt_text + out.column("completion")[0].as_py() == expected


def test_the_note_says_which_placeholders_became_parts(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "<video><audio>Who speaks?"},
                      {"role": "assistant", "content": "Ann."}],
         "videos": ["a.mp4"], "audios": ["a.wav"]},
        {"messages": [{"role": "user", "content": "<video>What happens?"},
                      {"role": "assistant", "content": "A jump."}],
         "videos": ["b.mp4"], "audios": []},
    ]  # fmt: skip
    src = _write(tmp_path / "in.jsonl", rows)
    res = run("convert", src, "--chat-template", qwen_vl(), "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 0, res.output
    assert (
        "2 rows with videos, 1 row with audios: each `<video>`, `<audio>` placeholder became "
        'its part ({"type": "video"}, {"type": "audio"}) and the text around it text parts'
    ) in " ".join(res.output.split())
    del rows[0]
    rows[0].pop("audios")
    res = run("convert", _write(src, rows), "--chat-template", qwen_vl(), "-o",
              tmp_path / "one.jsonl")  # fmt: skip
    assert (
        '1 row with videos: each `<video>` placeholder became a video part ({"type": "video"})'
    ) in " ".join(res.output.split())
