"""Real video/audio SFT data: LLaMA-Factory's mllm_video_demo, mllm_audio_demo and
mllm_video_audio_demo (JSON only, no media).

`<video>` / `<audio>` placeholders beside a `videos` / `audios` column are what `<image>`
beside `images` is: counted against the column by validate (`media-count`), made
`{"type": "video"}` / `{"type": "audio"}` parts where they stand by convert, and rendered
by chat templates as the original model templates render those parts (compared with
transformers on the same messages written as parts by hand). Without the column they stay
text.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, TEMPLATES, counts, original_render, rows_of, run, template_file

import trlprep

DIR = HERE / "mllm_video_audio"
VIDEO, AUDIO, BOTH = (DIR / f"mllm_{n}_demo.json" for n in ("video", "audio", "video_audio"))
MARKS = {"<image>": "image", "<video>": "video", "<audio>": "audio"}


def _by_hand(text: str) -> list[dict]:
    """LLaMA-Factory's content (placeholders first, then the question) as TRL's parts."""
    parts = []
    while text[:7] in MARKS:
        parts.append({"type": MARKS[text[:7]]})
        text = text[7:]
    assert not any(m in text for m in MARKS), text  # only leading placeholders here
    return [*parts, {"type": "text", "text": text}] if text else parts


def _as_parts(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": _by_hand(m["content"])} for m in messages]


def _template(name: str) -> list:
    """`--chat-template` of the original `name` (with the BOS token the comparison's tiny
    tokenizer gives it, where the template prints one)."""
    bos = ["--template-kwarg", "bos_token=<bos>"] if "gemma" in name else []
    return ["--chat-template", template_file(name), *bos]


def _write(path, rows):
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", [VIDEO, AUDIO, BOTH])
def test_validate_counts_the_placeholders_against_the_columns(path):
    res = run("validate", path, "--format", "json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["issues"] == [] and rep["num_rows"] == 3
    info = json.loads(run("detect", path, "--json").output)
    assert (info["type"], info["vision"]) == ("language-modeling", True)


def test_a_count_that_disagrees_is_an_error_naming_the_row(tmp_path):
    rows = json.loads(BOTH.read_text())
    rows[1]["videos"] = rows[1]["videos"] * 2  # 1 <video>, 2 videos
    rows[2]["messages"][1]["content"] += "<audio>"  # 2 <audio>, 1 audio
    src = _write(tmp_path / "bad.json", rows)
    res = run("validate", src, "--format", "json")
    assert res.exit_code == 1, res.output
    rep = json.loads(res.output)
    (count,) = [i for i in rep["issues"] if i["rule"] == "media-count"]
    assert count["severity"] == "error" and count["rows"] == [1, 2]
    assert "messages: 1 `<video>` placeholder, 2 videos (column videos)" in count["message"]
    assert "messages: 2 `<audio>` placeholders, 1 audio (column audios)" in count["message"]
    (warn,) = [i for i in rep["issues"] if i["rule"] == "media-placeholder"]
    assert warn["severity"] == "warning" and warn["rows"] == [1, 2]
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--to", "pc", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    said = " ".join(res.output.split())
    assert "row 1: media placeholders: the conversation holds 1 `<video>` placeholder but " in said
    res = run("convert", src, "--to", "pc", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 2, 1, 1)
    rejects = rows_of(tmp_path / "pc.rejects.jsonl")
    assert [r["row"] for r in rejects] == [1, 2]
    assert rejects[1]["reason"] == (
        "the conversation holds 2 `<audio>` placeholders but the row has 1 audio (column audios)"
    )


def test_rows_of_a_pretty_printed_json_array_are_named_by_the_line_their_object_starts(
    tmp_path,
):
    rows = json.loads(BOTH.read_text())
    rows[1]["videos"] = rows[1]["videos"] * 2  # 1 <video>, 2 videos
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    starts = [i for i, t in enumerate(src.read_text().splitlines(), 1) if t == "  {"]
    assert starts == [2, 20, 39]
    res = run("validate", src, "--format", "json")
    assert res.exit_code == 1, res.output
    (count,) = [i for i in json.loads(res.output)["issues"] if i["rule"] == "media-count"]
    assert count["rows"] == [1] and count["lines"] == [20]
    assert "media-count: 1 row, line 20" in run("validate", src).output
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--to", "pc", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    assert f"{src}:20: media placeholders: the conversation holds 1" in " ".join(res.output.split())
    res = run("convert", src, "--to", "pc", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0 and counts(res.output) == (3, 1, 2, 2), res.output
    (reject,) = rows_of(tmp_path / "pc.rejects.jsonl")
    assert (reject["row"], reject["line"]) == (1, 20)


def test_convert_makes_the_placeholders_parts_in_order(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", BOTH, "--to", "pc", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    source = json.loads(BOTH.read_text())
    for row, got in zip(source, rows_of(out), strict=True):
        assert got["videos"] == row["videos"] and got["audios"] == row["audios"]
        (user,) = got["prompt"]
        assert [{k: v for k, v in p.items() if v is not None} for p in user["content"]] == [
            {"type": "video"},
            {"type": "audio"},
            {"type": "text", "text": row["messages"][0]["content"][len("<video><audio>") :]},
        ]
        # no image column: TRL passes the answer's string as it is (no text part)
        assert got["completion"][0]["content"] == row["messages"][1]["content"]
    assert "<video>" not in out.read_text() and "<audio>" not in out.read_text()


def test_without_the_media_column_the_placeholders_stay_text(tmp_path):
    rows = json.loads(BOTH.read_text())
    for r in rows:
        del r["videos"], r["audios"]  # `<video>` in text with no videos: plain text (HTML)
    bare = _write(tmp_path / "bare.json", rows)
    res = run("validate", bare, "--format", "json")
    assert res.exit_code == 0, res.output  # a warning: the text may only mention the tags
    (warn,) = json.loads(res.output)["issues"]
    assert (warn["rule"], warn["severity"], warn["count"]) == ("media-placeholder", "warning", 3)
    assert "no videos / audios column" in warn["message"]
    assert "messages: 1 <video>, messages: 1 <audio>" in warn["message"]
    rep = trlprep.report(bare, validate=False).data["conversation"]
    assert (rep["video_placeholders_without_column"], rep["audio_placeholders_without_column"]) == (
        3,
        3,
    )
    out = tmp_path / "lm.jsonl"
    assert run("convert", bare, "--to", "lm", "-o", out).exit_code == 0
    assert (
        rows_of(out)[0]["messages"][0]["content"] == "<video><audio>What is the video describing?"
    )
    # a videos column alone maps <video>, and <audio> stays text
    for r in rows:
        r["videos"] = ["v.mp4"]
    half = _write(tmp_path / "half.json", rows)
    assert run("convert", half, "--to", "lm", "-o", tmp_path / "half.jsonl").exit_code == 0
    (warn,) = json.loads(run("validate", half, "--format", "json").output)["issues"]
    assert warn["rule"] == "media-placeholder" and "messages: 1 <audio>)" in warn["message"]
    rep = trlprep.report(half, validate=False).data["conversation"]
    assert (rep["videos"], rep["video_placeholders_without_column"]) == (3, 0)
    assert rep["audio_placeholders_without_column"] == 3
    content = rows_of(tmp_path / "half.jsonl")[0]["messages"][0]["content"]
    assert [(p["type"], p.get("text")) for p in content] == [
        ("video", None),
        ("text", "<audio>What is the video describing?"),
    ]


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl", "diffusion_gemma"])
@pytest.mark.parametrize("path", [VIDEO, BOTH])
def test_video_renders_as_the_original_template(tmp_path, template, path):
    out = tmp_path / "out.jsonl"
    res = run("convert", path, *_template(template), "-o", out)
    assert res.exit_code == 0, res.output
    source = json.loads(path.read_text())
    got = rows_of(out)
    for row, text in zip(source, [r["text"] for r in got], strict=True):
        assert text == original_render(template, _as_parts(row["messages"]))
    video = {"diffusion_gemma": "<|video|>"}.get(template, "<|video_pad|>")
    assert all(r["text"].count(video) == 1 and "<video>" not in r["text"] for r in got)


def test_qwen2_5_vl_exact_text_of_the_first_video_row(tmp_path):
    out = tmp_path / "out.jsonl"
    path = TEMPLATES / "qwen2_5_vl.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    assert run("convert", VIDEO, "--chat-template", path, "-o", out).exit_code == 0
    assert rows_of(out)[0]["text"] == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|video_pad|><|vision_end|>Why is this video funny?<|im_end|>\n"
        "<|im_start|>assistant\nBecause a baby is reading, and he is so cute!<|im_end|>\n"
    )


def test_audio_renders_as_the_original_templates_do(tmp_path):
    """Of the shipped templates only diffusion_gemma renders audio parts (`<|audio|>`);
    Qwen2.5-VL and Qwen3-VL print nothing for them (their own behaviour, kept: the render
    equals the original's, and a warning says so); Qwen3.5 / Qwen3.6 raise, and the rows
    fail with their message and what it means."""
    source = json.loads(AUDIO.read_text())
    for template, mark in (("diffusion_gemma", "<|audio|>"), ("qwen2_5_vl", None)):
        out = tmp_path / f"{template}.jsonl"
        res = run("convert", AUDIO, *_template(template), "-o", out)
        assert res.exit_code == 0, res.output
        for row, got in zip(source, rows_of(out), strict=True):
            assert got["text"] == original_render(template, _as_parts(row["messages"]))
            assert "<audio>" not in got["text"]
            assert (mark in got["text"]) if mark else "audio" not in got["text"].lower()
        said = " ".join(res.output.split())
        dropped = f"3 rows hold audio parts that {template}.jinja does not render as audio"
        assert (dropped in said) is (mark is None), said
    out = tmp_path / "q35.jsonl"
    res = run("convert", AUDIO, "--chat-template", template_file("qwen3_5_think"), "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    said = " ".join(res.output.split())
    assert (
        "mllm_audio_demo.json:2: chat template: messages: qwen3_5_think.jinja raised: "
        "Unexpected item type in "
        "content. (message 0 (user) has audio parts, and qwen3_5_think.jinja renders no audio "
        "parts for user messages)"
    ) in said
    # every row fails: the fix the render names, and no --on-error skip (no other rows)
    assert "every row fails: use a chat template that renders audio parts" in said
    assert "--on-error skip" not in said


def test_a_text_only_template_names_video_and_audio_parts(tmp_path):
    res = run("convert", BOTH, "--chat-template", "chatml", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "message 0 (user) has video and audio parts, and chatml renders only text" in said
    assert "has image parts" not in said and not (tmp_path / "out.jsonl").exists()


def _mixed_rows() -> list[dict]:
    """The real video+audio rows with an image placed between the text (and an image list)."""
    rows = json.loads(BOTH.read_text())
    for r in rows:
        user = r["messages"][0]
        user["content"] = user["content"].replace("<audio>", "<audio>Compare with <image>: ")
        r["images"] = ["mllm_demo_data/1.jpg"]
    return rows


def test_mixed_image_video_audio_rows(tmp_path):
    rows = _mixed_rows()
    src = _write(tmp_path / "mixed.json", rows)
    assert run("validate", src).exit_code == 0
    out = tmp_path / "lm.jsonl"
    assert run("convert", src, "--to", "lm", "-o", out).exit_code == 0
    content = rows_of(out)[0]["messages"][0]["content"]
    assert [(p["type"], p.get("text")) for p in content] == [
        ("video", None),
        ("audio", None),
        ("text", "Compare with "),
        ("image", None),
        ("text", ": What is the video describing?"),
    ]
    want = [
        {"type": "video"},
        {"type": "audio"},
        {"type": "text", "text": "Compare with "},
        {"type": "image"},
        {"type": "text", "text": ": What is the video describing?"},
    ]
    vl = tmp_path / "vl.jsonl"
    res = run("convert", src, "--chat-template", template_file("qwen2_5_vl"), "-o", vl)
    assert res.exit_code == 0, res.output
    answer = {"role": "assistant", "content": rows[0]["messages"][1]["content"]}
    assert rows_of(vl)[0]["text"] == original_render(
        "qwen2_5_vl", [{"role": "user", "content": want}, answer]
    )
    # one of each kind missing in turn: each named, the others still counted
    rows[0]["images"], rows[1]["videos"], rows[2]["audios"] = [], [], []
    res = run("validate", _write(tmp_path / "short.json", rows), "--format", "json")
    rep = json.loads(res.output)
    assert res.exit_code == 1
    assert {i["rule"]: i["rows"] for i in rep["issues"] if i["severity"] == "error"} == {
        "image-count": [0],
        "media-count": [1, 2],
    }


def test_placeholders_in_prompt_and_completion_count_together(tmp_path):
    rows = json.loads(BOTH.read_text())
    pc = []
    for r in rows:
        user, answer = r["messages"]
        pc.append(
            {
                "prompt": [{"role": "user", "content": user["content"].replace("<audio>", "")}],
                "completion": [{"role": "assistant", "content": "<audio>" + answer["content"]}],
                "videos": r["videos"],
                "audios": r["audios"],
            }
        )
    src = _write(tmp_path / "pc.json", pc)
    assert run("validate", src).exit_code == 0
    out = tmp_path / "out.jsonl"
    res = run("convert", src, *_template("diffusion_gemma"), "-o", out)
    assert res.exit_code == 0, res.output
    for row, got in zip(pc, rows_of(out), strict=True):
        prompt = _as_parts(row["prompt"])
        full = prompt + _as_parts(row["completion"])
        assert got["prompt"] == original_render(
            "diffusion_gemma", prompt, add_generation_prompt=True
        )
        assert got["prompt"] + got["completion"] == original_render("diffusion_gemma", full)
        assert got["completion"].startswith("<|audio|>")
    pc[0]["audios"] = []  # the completion's <audio> has no audio now
    res = run("validate", _write(tmp_path / "short.json", pc), "--format", "json")
    (issue,) = [i for i in json.loads(res.output)["issues"] if i["rule"] == "media-count"]
    assert issue["rows"] == [0] and "prompt+completion: 1 `<audio>` placeholder" in issue["message"]


def test_columnar_mapping_equals_the_per_row_one():
    """`map_placeholders` (convert) and `inputs.prepare` (templates) build the same parts."""
    from trlprep.columns.placeholders import map_placeholders
    from trlprep.io.readers import table_from_records
    from trlprep.templates.inputs import prepare

    rows = _mixed_rows() + [
        {
            "messages": [{"role": "user", "content": "a<video>b<image><audio>"}],
            "images": ["i"],
            "videos": ["v"],
            "audios": ["a"],
        }
    ]
    out, bad, _ = map_placeholders(table_from_records(rows))
    assert bad.tolist() == []
    every = frozenset({"system", "user", "assistant"})
    for row, got in zip(rows, out.column("messages").to_pylist(), strict=True):
        want, _ = prepare(row["messages"], "messages", every, vision=True, media=("video", "audio"))
        clean = [
            {**m, "content": [{k: v for k, v in p.items() if v is not None} for p in m["content"]]}
            for m in got
        ]
        assert clean == want
    assert clean[0]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "video"},
        {"type": "text", "text": "b"},
        {"type": "image"},
        {"type": "audio"},
    ]


def test_the_python_api_renders_one_example_alike():
    from realdata.support import _tokenizer

    from trlprep.templates import apply_chat_template

    path = TEMPLATES / "qwen3_vl.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    row = json.loads(BOTH.read_text())[0]
    got = apply_chat_template(row, _tokenizer(path))["text"]
    assert got == original_render("qwen3_vl", _as_parts(row["messages"]))
    with pytest.raises(Exception, match="1 `<video>` placeholder but the row has 0 videos"):
        apply_chat_template({**row, "videos": []}, _tokenizer(path))


def test_recurring_prompts_with_videos_in_worker_processes(monkeypatch):
    """Prompts rendered once per (prompt, videos) before the rows, in two processes: the
    same prompt text with and without its video is two prompts."""
    from realdata.support import _tokenizer

    import trlprep.templates.table as table_mod
    from trlprep.errors import RowFailures
    from trlprep.io.readers import table_from_records
    from trlprep.templates import load_template, render_table

    path = TEMPLATES / "qwen2_5_vl.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    monkeypatch.setattr(table_mod, "MIN_ROWS_PER_WORKER", 4)
    monkeypatch.setattr(table_mod, "BATCH_ROWS", 8)
    source = json.loads(VIDEO.read_text())[0]["messages"]
    prompt = [{"role": "user", "content": source[0]["content"]}]  # "<video>Why is ...?"
    rows = []
    for i in range(24):
        videos = [f"{i % 2}.mp4"] if i % 3 else []  # same prompt text, with and without
        done = [{"role": "assistant", "content": f"A{i}"}]
        rows.append({"prompt": prompt, "completion": done, "videos": videos})
    table = table_from_records(rows)
    template = load_template(_tokenizer(path))
    with pytest.raises(RowFailures) as info:
        render_table(table, "pc", template, num_proc=2)
    assert info.value.rows == list(range(0, 24, 3))
    kept = table.filter([bool(i % 3) for i in range(24)])
    out, report = render_table(kept, "pc", template, num_proc=2)
    want = original_render("qwen2_5_vl", _as_parts(prompt), add_generation_prompt=True)
    assert set(out.column("prompt").to_pylist()) == {want} and "<|video_pad|>" in want
    assert out.column("completion").to_pylist()[0] == "A1<|im_end|>\n"
    assert report.num_proc == 2 and report.fast_rows == 0
