"""Message content given as a string in some messages and a list of parts in others (across
rows and within one): read into one typed form (every content parts, strings flagged), and
given back as written by JSON Lines outputs, Python rows and chat templates; typed outputs
hold every content as parts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent / "realdata"))
from support import original_render, rows_of, run  # noqa: E402

import trlprep  # noqa: E402
from trlprep.columns.textparts import MARK, has_marks, parts_columns, same_content  # noqa: E402
from trlprep.io.jsonencode import to_jsonl  # noqa: E402
from trlprep.io.readers import read  # noqa: E402

MIX = [
    {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is this?"}]},
            {"role": "assistant", "content": "A cat."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
        ]
    },
]
TOOLS = [  # a tool turn, reasoning, tool calls with object arguments, content of both kinds
    {
        "messages": [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "I should call the tool.",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "weather", "arguments": {"city": "Paris"}},
                    }
                ],
            },
            {"role": "tool", "content": [{"type": "text", "text": "18C"}]},
            {"role": "assistant", "content": "It is 18C."},
        ]
    }
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _contents(rows: list[dict], column: str) -> list:
    return [[m.get("content") for m in r[column]] for r in rows]


def test_reading_types_every_content_as_parts_and_flags_the_strings(tmp_path):
    table = read(_write(tmp_path / "mix.jsonl", MIX)).table
    t = table.schema.field("messages").type
    assert has_marks(t)
    msgs = table.column("messages").to_pylist()
    assert msgs[1][0]["content"] == [{"type": "text", "text": "Hi"}] and msgs[1][0][MARK]
    assert msgs[0][0][MARK] is None


@pytest.mark.parametrize("rows", [MIX, TOOLS], ids=["mix", "tools"])
def test_json_lines_give_each_content_back_as_written(tmp_path, rows):
    table = read(_write(tmp_path / "in.jsonl", rows)).table
    back = [json.loads(line) for line in to_jsonl(table).decode().splitlines()]
    assert _contents(back, "messages") == _contents(rows, "messages")
    if rows is TOOLS:
        call = back[0]["messages"][2]["tool_calls"][0]["function"]
        assert call["arguments"] == {"city": "Paris"}
        assert back[0]["messages"][2]["reasoning_content"] == "I should call the tool."


def test_convert_splits_mixed_content_and_keeps_each_kind(tmp_path):
    src = _write(tmp_path / "mix.jsonl", MIX)
    res = run("convert", src, "--to", "prompt-completion", "-o", tmp_path / "pc.jsonl")
    assert res.exit_code == 0, res.output
    got = rows_of(tmp_path / "pc.jsonl")
    assert [r["prompt"][0]["content"] for r in got] == [
        [{"type": "text", "text": "What is this?"}],
        "Hi",
    ]
    assert [r["completion"][0]["content"] for r in got] == [
        "A cat.",
        [{"type": "text", "text": "Hello."}],
    ]
    assert "2 rows in, 0 rejected" in res.output


def test_typed_outputs_hold_every_content_as_parts(tmp_path):
    src = _write(tmp_path / "mix.jsonl", MIX)
    assert run("convert", src, "--to", "pc", "-o", tmp_path / "pc.parquet").exit_code == 0
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "pc.parquet")
    assert not has_marks(table.schema.field("prompt").type)
    assert table.column("prompt").to_pylist()[1][0] == {
        "role": "user",
        "content": [{"type": "text", "text": "Hi"}],
    }
    assert run("convert", src, "--to", "pc", "-o", tmp_path / "disk").exit_code == 0
    import datasets

    # a `datasets` folder holds each content as written (`Json`), as datasets reads JSON
    ds = datasets.load_from_disk(str(tmp_path / "disk"))
    assert ds[0]["completion"] == [{"role": "assistant", "content": "A cat."}]
    assert ds[1]["completion"][0]["content"] == [{"type": "text", "text": "Hello."}]
    back = tmp_path / "back.jsonl"
    assert run("convert", tmp_path / "disk", "--to", "lm", "-o", back).exit_code == 0
    assert _contents(rows_of(back), "messages") == _contents(MIX, "messages")


def test_a_dataset_with_json_content_comes_back_so():
    import datasets

    path = Path(__file__).parent / "realdata" / "xtuner_mllm_sft_image"
    src = next(path.glob("*.jsonl"))
    ds = datasets.load_dataset("json", data_files=str(src), split="train")
    assert type(ds.features["messages"].feature["content"]).__name__ == "Json"
    out = trlprep.convert(ds, to="prompt-completion")
    assert isinstance(out, datasets.Dataset)
    for given, got in zip(ds, out, strict=True):
        both = got["prompt"] + got["completion"]
        assert [m["content"] for m in both] == [m["content"] for m in given["messages"]]
    assert isinstance(out[0]["completion"][0]["content"], str)
    assert isinstance(out[0]["prompt"][0]["content"], list)


def test_python_rows_come_back_as_given_and_arrow_as_parts():
    out = trlprep.convert(MIX, to="prompt-completion")
    assert [r["completion"][0]["content"] for r in out] == [
        "A cat.",
        [{"type": "text", "text": "Hello."}],
    ]
    table = trlprep.convert(trlprep.io.jsontext.table_from_records(MIX), to="pc")
    assert isinstance(table, pa.Table) and not has_marks(table.schema.field("prompt").type)


def test_prompt_of_parts_beside_completion_of_strings_joins(tmp_path):
    rows = [
        {
            "prompt": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "completion": [{"role": "assistant", "content": "Hello."}],
        }
    ]
    src = _write(tmp_path / "pc.jsonl", rows)
    res = run("convert", src, "--to", "lm", "-o", tmp_path / "lm.jsonl")
    assert res.exit_code == 0, res.output
    (got,) = rows_of(tmp_path / "lm.jsonl")
    assert [m["content"] for m in got["messages"]] == [[{"type": "text", "text": "Hi"}], "Hello."]


def test_pieces_read_apart_agree_on_parts():
    strings = pa.Table.from_pylist([{"messages": [{"role": "user", "content": "Hi"}]}])
    parts = read_rows(MIX)
    names = parts_columns([strings.schema, parts.schema])
    assert names == {"messages"}
    joined = pa.concat_tables(
        [same_content(strings, names), same_content(parts, names)], promote_options="permissive"
    )
    back = [json.loads(line) for line in to_jsonl(joined).decode().splitlines()]
    assert back[0]["messages"][0]["content"] == "Hi"
    assert back[2]["messages"][1]["content"] == [{"type": "text", "text": "Hello."}]


def read_rows(rows: list[dict]) -> pa.Table:
    from trlprep.io.jsontext import table_from_records

    return table_from_records(rows)


def test_validate_and_detect_accept_mixed_content(tmp_path):
    src = _write(tmp_path / "mix.jsonl", MIX + TOOLS)
    res = run("validate", src)
    assert res.exit_code == 0, res.output
    det = trlprep.detect(src)
    assert det.type.name == "language-modeling" and not det.vision


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl", "qwen3_5_nothink"])
def test_renders_equal_the_original_on_the_messages_as_written(tmp_path, template):
    from templates_support import TEMPLATES_DIR

    path = TEMPLATES_DIR / f"{template}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    src = _write(tmp_path / "mix.jsonl", MIX + TOOLS)
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "--to", "lm", "--chat-template", path, "-o", out)
    assert res.exit_code == 0, res.output
    for row, got in zip(MIX + TOOLS, rows_of(out), strict=True):
        assert got["text"] == original_render(template, row["messages"])


def test_train_reads_mixed_content(tmp_path):
    for needed in ("torch", "accelerate"):
        pytest.importorskip(needed)
    from train_support import save_tiny_model

    model = save_tiny_model(tmp_path / "model")
    src = _write(tmp_path / "mix.jsonl", MIX)
    res = run(
        "train", "--algo", "sft", "--model", model, "--data", src, "--chat-template", "chatml",
        "--output-dir", tmp_path / "out", "--max-steps", "1", "--bf16", "false",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "trained 1 step" in res.output


def test_chunks_read_apart_keep_every_content_and_field(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import trlprep.io.jsonl as jsonl

    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 300)  # one chunk of strings, then mixed ones
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(6)
    ]
    image = {"type": "image", "image": "x.png"}
    rows += MIX + [
        {
            "messages": [
                {"role": "user", "content": [image, {"type": "text", "text": "t"}], "name": "bob"},
                {"role": "assistant", "content": "ok"},
            ]
        }
    ]
    src = _write(tmp_path / "in.jsonl", rows)
    assert run("convert", src, "--to", "pc", "-o", tmp_path / "pc.jsonl").exit_code == 0
    back = rows_of(tmp_path / "pc.jsonl")
    assert [[m["content"] for m in r["prompt"] + r["completion"]] for r in back] == _contents(
        rows, "messages"
    )
    # a typed output is typed by its first chunk: a field only later chunks hold is kept
    kept = tmp_path / "kept.parquet"
    assert run("convert", src, "--to", "pc", "--inline-media", "keep", "-o", kept).exit_code == 0
    last = pq.read_table(kept).column("prompt").to_pylist()[-1][0]
    assert last["name"] == "bob" and last["content"][0]["image"] == "x.png"
    # by default a Parquet output moves the image to `images`, chunks without one included
    assert run("convert", src, "--to", "pc", "-o", tmp_path / "pc.parquet").exit_code == 0
    table = pq.read_table(tmp_path / "pc.parquet")
    images = table.column("images").to_pylist()
    assert images == [[]] * (len(rows) - 1) + [["x.png"]]
    last = table.column("prompt").to_pylist()[-1][0]
    assert last["name"] == "bob" and last["content"][0] == {"type": "image", "text": None}


def test_arrow_reads_mixed_content_without_a_line_by_line_parse():
    from trlprep.io.jsoncontent import read_mixed_content

    chunk = "".join(json.dumps(r) + "\n" for r in MIX).encode()
    table = read_mixed_content(chunk, 1 << 20)
    assert table is not None and has_marks(table.schema.field("messages").type)
    back = [json.loads(line) for line in to_jsonl(table).decode().splitlines()]
    assert _contents(back, "messages") == _contents(MIX, "messages")


def test_a_content_key_outside_messages_falls_back_to_the_line_parse(tmp_path):
    from trlprep.io.jsoncontent import read_mixed_content

    rows = [
        {**MIX[0], "content": "a column named content"},
        {
            "messages": [
                {"role": "user", "content": "Save it."},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Saved."}],
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {"name": "save", "arguments": {"content": "note"}},
                        }
                    ],
                },
            ]
        },
    ]
    for row in rows:
        chunk = (json.dumps(row) + "\n" + json.dumps(MIX[1]) + "\n").encode()
        assert read_mixed_content(chunk, 1 << 20) is None
    src = _write(tmp_path / "in.jsonl", rows)
    table = read(src).table
    back = [json.loads(line) for line in to_jsonl(table).decode().splitlines()]
    assert back[0]["content"] == "a column named content"
    assert back[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"content": "note"}
    assert _contents(back, "messages") == _contents(rows, "messages")


def test_a_column_of_strings_only_stays_strings_beside_a_mixed_one(tmp_path):
    rows = [
        {
            "prompt": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "completion": [{"role": "assistant", "content": "Hello."}],
        },
        {
            "prompt": [{"role": "user", "content": "Hey"}],
            "completion": [{"role": "assistant", "content": "Hi."}],
        },
    ]
    table = read(_write(tmp_path / "pc.jsonl", rows)).table
    assert has_marks(table.schema.field("prompt").type)
    assert table.schema.field("completion").type.value_type.field("content").type == pa.string()


def test_the_openai_chat_import_keeps_each_content_as_written(tmp_path):
    src = _write(tmp_path / "mix.jsonl", MIX)
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--from", "openai-chat", "--to", "pc", "-o", out)
    assert res.exit_code == 0, res.output
    assert "__trlprep" not in res.output  # no hidden field named as a dropped one
    got = rows_of(out)
    assert [r["completion"][0]["content"] for r in got] == [
        "A cat.",
        [{"type": "text", "text": "Hello."}],
    ]


def test_a_typed_writer_refuses_to_drop_a_field_later_rows_add(tmp_path):
    from trlprep.errors import InputError
    from trlprep.io.writers import open_writer

    first = pa.table({"m": [[{"role": "user", "content": "x"}]]})
    later = pa.table({"m": [[{"role": "user", "content": "y", "name": "bob"}]]})
    empty = pa.table({"m": [[{"role": "user", "content": "y", "name": None}]]})
    with pytest.raises(InputError, match="would be dropped"):
        with open_writer(tmp_path / "x.parquet", first.schema) as w:
            w.write(first)
            w.write(empty)  # a field holding no value: nothing lost
            w.write(later)
    assert not (tmp_path / "x.parquet").exists()


_SAME = ["qwen2_5_vl", "qwen3_vl", "qwen3_5_nothink", "qwen3_6", "gemma3", "gemma", "glm4moe"]
_DIFFER = ["llava_next", "idefics3", "diffusion_gemma", "llama3_1", "qwen2_5"]


@pytest.mark.parametrize("template", _SAME + _DIFFER)
def test_the_typed_form_renders_as_the_strings_only_where_the_readme_says(template):
    """Typed outputs hold a string as one text part: the README names the original
    templates that render both forms the same, and those that do not."""
    from templates_support import TEMPLATES_DIR

    if not (TEMPLATES_DIR / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    strings = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is this?"},
        {"role": "assistant", "content": "A cat."},
    ]
    parts = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in strings]

    def render(messages):
        try:
            return original_render(template, messages)
        except Exception as e:  # noqa: BLE001 - a template that raises renders nothing
            return f"raised {type(e).__name__}"

    assert (render(strings) == render(parts)) is (template in _SAME)


def test_an_empty_content_string_among_parts_is_said_as_written(tmp_path):
    """A file mixing string content and parts: `""` was refused as "a text part is empty"
    (the internal form it is read into); it is said as the empty content string it is,
    while an empty text part is still said as one."""
    src = tmp_path / "mix.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                      {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]},
                      {"role": "assistant", "content": "x"}]},
    ]  # fmt: skip
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    checked = run("validate", src)
    said = " ".join(checked.output.split())
    assert checked.exit_code == 1
    assert "column 'messages': a message's content is empty; a text part is empty" in said
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    rejects = [json.loads(x) for x in out.with_name("out.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert "a message's content is empty" in rejects[0]["reason"]
    assert "text part" not in rejects[0]["reason"]
    assert "a text part is empty" in rejects[1]["reason"]
