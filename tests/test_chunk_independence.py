"""A file's output, rejects and messages do not depend on where the JSON Lines reader cuts
it into chunks (`jsonl.CHUNK_BYTES`, ~32 MB; shrunk here to a few KB, so the real samples
are read in many chunks): each equals the file read in one chunk, as
`datasets.load_dataset("json")` reads it (one schema over the file)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realdata.support import mixed_file, mixed_rows
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.io import jsonl
from trlprep.wording import add_note

REAL = Path(__file__).parent / "realdata"
TOOLBENCH = REAL / "toolbench_trajectories/toolbench_train_messages.jsonl"
DRONE = REAL / "openai_drone_toolcalls/drone_training.first6.jsonl"
MT_BENCH = REAL / "mt_bench/question.jsonl"
QWEN_TOOLS = REAL / "xtuner_qwen35_toolcalls/qwen35_tokenize_data.first12.jsonl"
OASST = REAL / "oasst_messages/en_100_message.first8.jsonl"
LF_TOOLS = REAL / "llamafactory_v1/reason_tool_use_demo.first20.jsonl"
LF_SFT = REAL / "llamafactory_v1/v1_sft_demo.first100.jsonl"
LF_DPO = REAL / "llamafactory_v1/v1_dpo_demo.jsonl"
FASTCHAT = REAL / "fastchat_dummy/dummy_conversation.json"
VIDEO_PATHS = REAL / "xtuner_video_paths/mllm_sft_video_hf_example_data.jsonl"
HH = REAL / "hh_rlhf/harmless-base-test.sample.jsonl"
GLAIVE = REAL / "glaive_toolcall/glaive_toolcall_en_demo.json"  # a JSON array: as JSON Lines
SHAREGPT_DPO = REAL / "dpo_demo/dpo_en_demo.json"
WHOLE = 1 << 30  # one chunk for every sample


def _run(args: list[str], chunk: int):
    was, jsonl.CHUNK_BYTES = jsonl.CHUNK_BYTES, chunk
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CliRunner().invoke(app, args)
    finally:
        jsonl.CHUNK_BYTES = was


def _convert(src: Path, folder: Path, chunk: int, *args: str) -> tuple[str, bytes, bytes | None]:
    """(what the run printed, the output's bytes, the rejects file's bytes or None), the
    output written to `folder`/out.jsonl."""
    folder.mkdir(exist_ok=True)
    out = folder / "out.jsonl"
    r = _run(
        ["convert", str(src), "-o", str(out), "--overwrite", "--on-error", "skip", *args], chunk
    )
    assert r.exit_code == 0, r.output
    rejects = out.with_name(out.name.replace(".jsonl", ".rejects.jsonl"))
    said = r.output.replace(str(folder), "DIR")
    return said, out.read_bytes(), rejects.read_bytes() if rejects.exists() else None


def test_message_fields_a_chunk_lacks_are_null_as_in_the_whole_read(tmp_path):
    """ToolBench: only some messages have `name`; a chunk where none has it writes them as
    the whole file does: each message with the keys it holds (`name` where it has one)."""
    whole = _convert(TOOLBENCH, tmp_path / "w", WHOLE, "--from", "openai-chat")
    small = _convert(TOOLBENCH, tmp_path / "c", 2000, "--from", "openai-chat")
    assert small[1] == whole[1]
    rows = [json.loads(x) for x in whole[1].splitlines()]
    named = [m for r in rows for m in r["messages"] if "name" in m]
    assert len(rows) == 34 and named and all(m["name"] is not None for m in named)
    assert len(named) < sum(len(r["messages"]) for r in rows)


def test_parquet_output_of_chunks_that_differ_in_message_fields(tmp_path):
    """The Parquet writer, typed by the first chunk's rows, took the later chunks' `name`
    as fields it would drop (exit 2); it now gets the whole read's table."""
    for chunk, name in ((WHOLE, "w.parquet"), (2000, "c.parquet")):
        r = _run(
            ["convert", str(TOOLBENCH), "--from", "openai-chat", "-o", str(tmp_path / name)], chunk
        )
        assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "c.parquet").equals(pq.read_table(tmp_path / "w.parquet"))


def test_reasons_name_each_rows_own_values_whatever_the_chunks(tmp_path):
    """Drone sample: rows 3-6 hold doubly encoded arguments ("current" in lines 3-4,
    "home_base" in 5-6). Each rejected row's reason names its own value, so chunks of one
    line count and word them as the whole read does."""
    whole = _convert(DRONE, tmp_path / "w", WHOLE, "--from", "openai-chat")
    small = _convert(DRONE, tmp_path / "c", 3000, "--from", "openai-chat")
    assert small == whole
    rejects = [json.loads(x) for x in whole[2].splitlines()]
    assert [r["line"] for r in rejects] == [3, 4, 5, 6]
    assert ["current" in r["reason"] and "home_base" not in r["reason"] for r in rejects] == [
        True, True, False, False,
    ]  # fmt: skip
    assert "2 x import" in whole[0] and "(e.g. line 5, line 6)" in whole[0]


def test_validate_lists_details_by_their_first_row(tmp_path):
    """ToolBench: two assistant turns in a row first at line 12, two user turns at 26."""
    whole = _run(["validate", str(TOOLBENCH)], WHOLE)
    small = _run(["validate", str(TOOLBENCH)], 700)
    assert whole.exit_code == small.exit_code == 1
    assert small.output == whole.output
    said = " ".join(whole.output.split())
    assert "(assistant after assistant, user after user)" in said


def test_import_notes_count_over_every_chunk(tmp_path):
    """MT-Bench: every row has a second turn (80 rows); `reference` is in 39 rows only."""
    whole = _convert(MT_BENCH, tmp_path / "w", WHOLE)
    small = _convert(MT_BENCH, tmp_path / "c", 1500)
    assert small == whole
    assert whole[0].count("later turns") == 1 and "80 rows have later turns" in whole[0]
    rows = [json.loads(x) for x in whole[1].splitlines()]
    # The first row names every column; later rows leave out a null `reference`, as the input does.
    assert "reference" in rows[0]
    assert sum(r.get("reference") is not None for r in rows) == 39
    assert all(r["reference"] is not None for r in rows[1:] if "reference" in r)


def test_counted_notes_are_summed_and_others_said_once():
    notes: list[str] = []
    for n in [
        "4 rows have later turns",
        "1 row has later turns",
        "4 messages -> 3 threads",
        "9 messages -> 4 threads",
        "message field loss -> weight (false: 0, true: 1)",
        "message field loss -> weight (false: 0, true: 1)",
        "1 entry was odd",
        "1,500 entries were odd",
    ]:
        add_note(notes, n)
    assert notes == [
        "5 rows have later turns",
        "13 messages -> 7 threads",
        "message field loss -> weight (false: 0, true: 1)",
        "1,501 entries were odd",
    ]


def _lines(src: Path, folder: Path) -> Path:
    """A `.json` array sample as JSON Lines (which the reader cuts into chunks)."""
    if src.suffix == ".jsonl":
        return src
    out = folder / f"{src.stem}.jsonl"
    rows = json.loads(src.read_text(encoding="utf-8"))
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return out


SAMPLES = [
    (TOOLBENCH, ("--from", "openai-chat")),
    (DRONE, ("--from", "openai-chat")),
    (MT_BENCH, ()),
    (QWEN_TOOLS, ()),
    (OASST, ()),
    (LF_TOOLS, ()),
    (LF_SFT, ()),
    (LF_DPO, ()),
    (GLAIVE, ("--from", "sharegpt")),
    (SHAREGPT_DPO, ()),
    ("lf_media", ()),
    ("lf_calls", ()),
    ("sg_calls", ("--from", "sharegpt")),
    ("media", ()),
]


@pytest.fixture(scope="module")
def whole_reads(tmp_path_factory):
    """Per sample: (the JSON Lines file read, its whole read's convert)."""
    tmp = tmp_path_factory.mktemp("whole")
    out = []
    for i, (src, args) in enumerate(SAMPLES):
        src = mixed_file(src, tmp) if isinstance(src, str) else _lines(src, tmp)
        out.append((src, _convert(src, tmp / str(i), WHOLE, *args)))
    return out


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sample=st.integers(0, len(SAMPLES) - 1), chunk=st.integers(300, 60_000))
def test_any_chunk_size_converts_as_the_whole_read(tmp_path_factory, whole_reads, sample, chunk):
    src, whole = whole_reads[sample]
    tmp = tmp_path_factory.mktemp("chunked")
    assert _convert(src, tmp, chunk, *SAMPLES[sample][1]) == whole


def test_sharegpt_keeps_tool_calls_and_turn_fields_in_every_chunk(tmp_path):
    """Glaive: a chunk with no function_call turn gave its messages no `tool_calls` (19 of
    50 rows differed); every chunk now writes its messages as the whole file does, each
    with the keys it holds. A turn field (`weight`) on line 3 only is kept there."""
    glaive = _lines(GLAIVE, tmp_path)
    whole = _convert(glaive, tmp_path / "w", WHOLE, "--from", "sharegpt")
    small = _convert(glaive, tmp_path / "c", 2000, "--from", "sharegpt")
    assert small == whole
    rows = [json.loads(x) for x in whole[1].splitlines()]
    calls = [m for r in rows for m in r["messages"] if "tool_calls" in m]
    assert calls and all(m["tool_calls"] for m in calls)
    assert len(calls) < sum(len(r["messages"]) for r in rows)
    turns = [
        {"conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": "a"}]}
        for i in range(6)
    ]
    turns[2]["conversations"][1]["weight"] = 0.0
    src = tmp_path / "turns.jsonl"
    src.write_text("".join(json.dumps(t) + "\n" for t in turns))
    whole = _convert(src, tmp_path / "w2", WHOLE, "--from", "sharegpt")
    assert _convert(src, tmp_path / "c2", 60, "--from", "sharegpt") == whole
    rows = [json.loads(x) for x in whole[1].splitlines()]
    assert [m.get("weight", "absent") for r in rows for m in r["messages"]][4:6] == ["absent", 0.0]
    assert all("tool_calls" not in m for r in rows for m in r["messages"])


def test_llamafactory_tool_calls_in_every_chunk(tmp_path):
    """LLaMA-Factory's reason_tool_use sample: `tool_calls` comes from parts of type
    `tool_call`; a chunk without one wrote its messages as the whole file does."""
    whole = _convert(LF_TOOLS, tmp_path / "w", WHOLE)
    small = _convert(LF_TOOLS, tmp_path / "c", 400)
    assert small == whole
    rows = [json.loads(x) for x in whole[1].splitlines()]
    msgs = [m for r in rows for m in r["messages"]]
    assert 0 < sum("tool_calls" in m for m in msgs) < len(msgs)
    assert all(m["tool_calls"] for m in msgs if "tool_calls" in m)


def _lf_messages(record: dict) -> list[dict]:
    """A raw LLaMA-Factory v1 record as transformers wants it (written independently)."""
    out = []
    for m in record["messages"]:
        said = {"role": m["role"]}
        said["content"] = "".join(p["value"] for p in m["content"] if p["type"] == "text")
        calls = [json.loads(p["value"]) for p in m["content"] if p["type"] == "tool_call"]
        if calls:
            said["tool_calls"] = [
                {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls
            ]
        why = "".join(p["value"] for p in m["content"] if p["type"] == "reasoning")
        if why:
            said["reasoning_content"] = why
        out.append(said)
    return out


@pytest.mark.parametrize("template", ["qwen2_5", "llama3_1"])
def test_chunked_tool_rows_render_as_the_original_template(tmp_path, template):
    """Null `tool_calls` render as absent: the chunked output's renders equal transformers'
    with the original template on the raw rows (llama3_1 refuses rows of several calls, as
    its template does: those are rejected and left out of the comparison)."""
    from realdata.support import original_render, original_template_args

    args = [str(a) for a in original_template_args(template)]
    _, out, _ = _convert(LF_TOOLS, tmp_path, 400, *args)
    texts = iter(json.loads(x)["text"] for x in out.splitlines())
    compared = 0
    for line in LF_TOOLS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        try:
            want = original_render(template, _lf_messages(rec), tools=json.loads(rec["tools"]))
        except Exception as e:  # the template's own refusal (jinja's TemplateError)
            assert "tool" in str(e).lower()
            continue
        assert next(texts) == want
        compared += 1
    assert next(texts, None) is None and compared >= 15


def test_media_counts_are_listed_by_first_row_whatever_the_chunks(tmp_path):
    """Rows giving images and no placeholder: each distinct count is said once, in the
    order of the first row giving it, not the first three rows of each chunk."""
    src = tmp_path / "media.jsonl"
    counts = [1, 1, 1, 2, 2, 3, 1, 4, 2, 5, 3]
    rows = [
        {"prompt": f"Describe {i}.", "completion": "A cat.", "images": [f"{i}-{k}.png"] * k}
        for i, k in enumerate(counts)
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole = _run(["validate", str(src)], WHOLE)
    small = _run(["validate", str(src)], 150)
    assert small.output == whole.output
    said = " ".join(whole.output.split())
    assert "(1 image, 2 images, 3 images, 4 images, 5 images)" in said


def test_image_parts_alone_are_refused_by_validation_whatever_the_chunks(tmp_path):
    """A row whose image parts differ from its images and which holds no `<image>` is
    refused by validation (rule image-count, as `validate` says it), whether or not its
    chunk holds a placeholder row; a row holding placeholders that differ is the
    placeholder stage's."""
    parts = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}
    answer = {"role": "assistant", "content": "y"}
    rows = [
        {"messages": [{"role": "user", "content": "<image><image>x"}, answer], "images": ["a"]},
        {"messages": [{"role": "user", "content": "<image>x"}, answer], "images": ["a"]},
        {"messages": [parts, answer], "images": []},
    ]
    src = tmp_path / "parts.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole = _convert(src, tmp_path / "w", WHOLE)
    assert _convert(src, tmp_path / "c", 100) == whole  # a chunk per line
    got = [json.loads(x) for x in whole[2].splitlines()]
    assert [(r["line"], r["stage"]) for r in got] == [(1, "media placeholders"), (3, "validation")]
    assert (
        got[0]["reason"]
        == "the conversation holds 2 `<image>` placeholders but the row has 1 image"
    )
    assert "(messages: 1 image part, 0 images)" in got[1]["reason"]
    assert got[1]["reason"].endswith("(rule image-count)")


def _both(src: Path, folder: Path, chunk: int, *args: str) -> tuple[list[dict], pa.Table]:
    """The rows of `src` converted to JSON Lines and the table converted to Parquet, both
    read in chunks of `chunk` bytes and checked equal to the whole read's."""
    folder.mkdir(exist_ok=True)
    whole = _convert(src, folder / "w", WHOLE, *args)
    assert _convert(src, folder / "c", chunk, *args) == whole
    tables = []
    for size, name in ((WHOLE, "w.parquet"), (chunk, "c.parquet")):
        r = _run(["convert", str(src), *args, "-o", str(folder / name), "--overwrite"], size)
        assert r.exit_code == 0, r.output  # was exit 2: a later chunk's fields or columns
        tables.append(pq.read_table(folder / name))
    assert tables[1].equals(tables[0])
    return [json.loads(x) for x in whole[1].splitlines()], tables[0]


def test_llamafactory_content_is_parts_in_every_chunk_of_a_file_with_images(tmp_path):
    """6 image rows among 60 text-only ones: chunks without them wrote string content and no
    `images` column (JSON Lines differed, Parquet stopped with exit 2). The whole file's
    content kind now holds in every chunk: parts everywhere, `images` [] on text rows."""
    rows, table = _both(mixed_file("lf_media", tmp_path), tmp_path, 1024)
    assert all(isinstance(m["content"], list) for r in rows for m in r["messages"])
    assert [len(r["images"]) > 0 for r in rows] == [False] * 30 + [True] * 6 + [False] * 30
    assert table.num_rows == 66 and "images" in table.column_names


def test_llamafactory_reasoning_and_tool_calls_in_every_chunk_without_tools(tmp_path):
    """5 rows with reasoning and tool_call parts and no `tools` column among 60 others:
    every chunk writes `reasoning_content` and `tool_calls` on the messages holding them,
    as the whole file does."""
    rows, _ = _both(mixed_file("lf_calls", tmp_path), tmp_path, 1024)
    msgs = [m for r in rows for m in r["messages"]]
    reasoned = ["reasoning_content" in m for m in msgs]
    assert 0 < sum(reasoned) < len(msgs)
    assert all(m.get("reasoning_content", "x") and m.get("tool_calls", [1]) for m in msgs)
    assert all(m["content"] for r in rows[:30] for m in r["messages"])  # strings, as given


def test_sharegpt_tool_calls_in_every_chunk_without_tools(tmp_path):
    """FastChat conversations with 4 Glaive rows holding function_call turns (their `tools`
    left out) in the middle: `tool_calls` on the messages holding calls, in every chunk."""
    rows, _ = _both(mixed_file("sg_calls", tmp_path), tmp_path, 1024, "--from", "sharegpt")
    msgs = [m for r in rows for m in r["messages"]]
    assert 4 <= sum("tool_calls" in m for m in msgs) < len(msgs)
    assert all(m["tool_calls"] for m in msgs if "tool_calls" in m)
    plain = _lines(FASTCHAT, tmp_path)  # no function_call anywhere: no field
    rows, _ = _both(plain, tmp_path / "plain", 1024, "--from", "sharegpt")
    assert not any("tool_calls" in m for r in rows for m in r["messages"])


@pytest.mark.parametrize("template", ["qwen3", "qwen2_5", "llama3_1"])
def test_chunked_reasoning_rows_render_as_the_original_template(tmp_path, template):
    """The `lf_calls` file in chunks of 400 bytes, rendered: null `reasoning_content` and
    `tool_calls` render as absent, so every render equals transformers' on the raw rows
    (Qwen3 tests `reasoning_content is string`, Llama 3.1 `'tool_calls' in message`)."""
    from realdata.support import original_render, original_template_args

    src = mixed_file("lf_calls", tmp_path)
    args = [str(a) for a in original_template_args(template)]
    _, out, _ = _convert(src, tmp_path, 400, *args)
    texts = iter(json.loads(x)["text"] for x in out.splitlines())
    compared = 0
    for rec in mixed_rows("lf_calls"):
        try:
            want = original_render(template, _lf_messages(rec))
        except Exception as e:  # the template's own refusal (several calls on Llama 3.1)
            assert "tool" in str(e).lower()
            continue
        assert next(texts) == want
        compared += 1
    assert next(texts, None) is None and compared >= 62


def test_detect_reads_the_layout_off_the_first_rows_of_every_chunk(tmp_path):
    """`detect` named the layout's roles and counted the import on the first chunk only
    ("in 3 of the first 3 rows"); now on the first rows whichever chunks hold them. A
    column's kinds are listed in one order (OASST's `model_name`: null before string)."""
    for src in (LF_TOOLS, OASST):
        whole = _run(["detect", str(src), "--json"], WHOLE)
        assert _run(["detect", str(src), "--json"], 1024).output == whole.output
    said = json.loads(whole.output)
    assert list(said["column_kinds"]["model_name"]) == ["null", "string"]
    said = json.loads(_run(["detect", str(LF_TOOLS), "--json"], 1024).output)
    assert said["imported_rows"] == 20 and "tool" in said["roles"]


def test_report_remarks_whatever_the_chunks(tmp_path):
    """HH: two batches' remarks naming rows were joined by a function that could not be
    imported where the package is installed (report: exit 2); remarks are listed by their
    first line as the whole read lists them."""
    args = ["report", str(HH), "-f", "json", "--no-validate"]
    whole = _run(args, WHOLE)
    small = _run(args, 1024)
    assert small.exit_code == whole.exit_code == 0
    assert small.output == whole.output
    remarks = json.loads(whole.output)["rows"]["remarks"]
    assert remarks[0].startswith("lines 87, 151") and remarks[1].startswith("line 158")


def test_inline_media_moved_to_the_columns_the_whole_read_has(tmp_path):
    """xtuner's video parts hold a `path`, a key images and audios may use too: chunks
    were given empty `images` and `audios` columns the whole read (videos only) lacks."""
    tables = []
    for size, name in ((WHOLE, "w.parquet"), (1024, "c.parquet")):
        args = ["convert", str(VIDEO_PATHS), "-o", str(tmp_path / name), "--on-error", "skip"]
        assert _run(args, size).exit_code == 0
        tables.append(pq.read_table(tmp_path / name))
    assert tables[1].equals(tables[0])
    assert "videos" in tables[0].column_names and "images" not in tables[0].column_names


@pytest.mark.parametrize("name", ["multi_modal_1.jsonl", "multi_modal_2.jsonl"])
def test_report_of_swift_rows_whatever_the_chunks(name):
    """ms-swift rows read a line per chunk. multi_modal_1: only lines 2-3 hold `history`,
    the report took its layout from the first chunk (exit 1, no type); multi_modal_2: the
    remark on images placed without a placeholder was said once per chunk ('2 rows (lines
    1, 2)', '1 row (line 3)'), not once for the 3 rows."""
    args = ["report", str(REAL / "swift_llm_data" / name), "-f", "json"]
    whole = _run(args, WHOLE)
    small = _run(args, 300)
    assert small.exit_code == whole.exit_code == 0, small.output
    assert small.output == whole.output
    said = json.loads(whole.output)
    assert said["summary"]["rows"] == 3
    if name == "multi_modal_2.jsonl":
        assert said["rows"]["remarks"][0].startswith("3 rows (lines 1, 2, 3): images given")


def _vision(messages: list[dict]) -> list[dict]:
    """TRL's vision format of string messages, written independently: `<image>` an image
    part where it stands, the text around it text parts (empty ones left out)."""
    out = []
    for m in messages:
        parts = []
        for k, piece in enumerate(m["content"].split("<image>")):
            parts += [{"type": "image"}] if k else []
            parts += (
                [{"type": "text", "text": piece}] if piece or "<image>" not in m["content"] else []
            )
        out.append({"role": m["role"], "content": parts})
    return out


def test_placeholders_beside_images_make_parts_in_every_chunk(tmp_path):
    """TRL messages with 6 LLaMA-Factory `<image>` rows among 40 text rows: chunks without
    a placeholder kept string content (JSON Lines differed, Parquet stopped with exit 2).
    Beside an `images` column every content is now parts, and Qwen2.5-VL renders the
    chunked output as transformers renders TRL's vision format of the raw rows."""
    from realdata.support import original_render, original_template_args

    rows, _ = _both(mixed_file("media", tmp_path), tmp_path, 1024)
    assert all(isinstance(m["content"], list) for r in rows for m in r["messages"])
    assert sum(any(p["type"] == "image" for m in r["messages"] for p in m["content"])
               for r in rows) == 6  # fmt: skip
    args = [str(a) for a in original_template_args("qwen2_5_vl")]
    _, out, _ = _convert(mixed_file("media", tmp_path), tmp_path / "r", 1024, *args)
    texts = [json.loads(x)["text"] for x in out.splitlines()]
    want = [original_render("qwen2_5_vl", _vision(r["messages"])) for r in mixed_rows("media")]
    assert texts == want


def test_inline_media_moved_after_placeholders_in_every_chunk(tmp_path):
    """Content of two kinds, one image inline in the second of three rows, read a row per
    chunk: the `images` column the move gives the other chunks was added before the
    placeholder stage, which then made their strings parts (the whole read keeps them)."""
    rows = [
        [{"role": "user", "content": "Hi"},
         {"role": "assistant", "content": [{"type": "text", "text": "Yo"}]}],
        [{"role": "user", "content": [{"type": "text", "text": "What?"},
                                      {"type": "image", "image": "cat.png"}]},
         {"role": "assistant", "content": "A picture."}],
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
    ]  # fmt: skip
    src = tmp_path / "inline.jsonl"
    src.write_text("".join(json.dumps({"messages": m}) + "\n" for m in rows))
    got, _ = _both(src, tmp_path, 60, "--to", "pc", "--inline-media", "move")
    assert [r["images"] for r in got] == [[], ["cat.png"], []]
    assert [r["prompt"][0]["content"] for r in got][::2] == ["Hi", "2+2?"]
