"""`datasets` 5 `Json` columns (Arrow's `extension<arrow.json>`): message lists typed
`List(Json)` or `Json`, a `Json` field inside the message struct, `Json` extras, in memory
and in the Parquet, Arrow and save_to_disk files `datasets` writes.

Every entry point (detect, validate, convert, apply_chat_template, the TRL-compatible
helpers, the trainers' data path, the CLI) reads them as the same rows given as Python
values, and a render equals transformers' render of the messages themselves.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from realdata.support import counts, original_render, rows_of, run, sample
from templates_support import tiny_tokenizer

datasets = pytest.importorskip("datasets")
if not hasattr(datasets, "Json"):
    pytest.skip("datasets has no Json feature (datasets < 4.1)", allow_module_level=True)

import trlprep  # noqa: E402
from trlprep import api  # noqa: E402

QWEN = Path(trlprep.__file__).parent / "templates" / "builtin" / "qwen2.5.jinja"
TOOL_CALLS = [
    {
        "type": "function",
        "function": {"name": "control_light", "arguments": {"room": "living room", "state": "on"}},
    },
    {"type": "function", "function": {"name": "play_music", "arguments": {"playlist": "jazz"}}},
]
CHAT = [
    {"role": "user", "content": "Turn on the lights and play some jazz."},
    {"role": "assistant", "tool_calls": TOOL_CALLS},
    {"role": "tool", "name": "control_light", "content": "The lights are on."},
    {"role": "assistant", "content": "Done!"},
]
PLAIN = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]


def reference(messages: list[dict], **kwargs) -> str:
    """transformers' render of `messages` (arguments as dicts) with Qwen 2.5's template."""
    tok = tiny_tokenizer(QWEN.read_text(encoding="utf-8"), bos=None, eos="<|im_end|>")
    return tok.apply_chat_template(messages, tokenize=False, **kwargs)


def _list_json() -> datasets.Dataset:
    """How `from_list(on_mixed_types="use_json")` stores tool calls: `List(Json)` messages."""
    ds = datasets.Dataset.from_list(
        [{"messages": CHAT}, {"messages": PLAIN}], on_mixed_types="use_json"
    )
    assert ds.features["messages"] == datasets.List(datasets.Json())
    return ds


def _json_column() -> datasets.Dataset:
    features = datasets.Features({"messages": datasets.Json()})
    return datasets.Dataset.from_dict({"messages": [CHAT, PLAIN]}, features=features)


def _json_arguments() -> datasets.Dataset:
    """A `Json` field inside the message struct: the tool calls' arguments."""
    call = {"type": datasets.Value("string"), "function": {"name": datasets.Value("string")}}
    call["function"]["arguments"] = datasets.Json()
    message = {
        "role": datasets.Value("string"),
        "content": datasets.Value("string"),
        "name": datasets.Value("string"),
        "tool_calls": datasets.List(call),
    }
    features = datasets.Features({"messages": datasets.List(message)})
    return datasets.Dataset.from_dict({"messages": [CHAT, PLAIN]}, features=features)


MAKERS = {"list-json": _list_json, "json": _json_column}


@pytest.fixture(params=sorted(MAKERS))
def tool_dataset(request) -> datasets.Dataset:
    return MAKERS[request.param]()


def test_detect_and_validate_read_the_messages(tool_dataset):
    det = api.detect(tool_dataset)
    assert (det.type.name, det.format.value) == ("language-modeling", "conversational")
    report = api.validate(tool_dataset)
    assert report.format == "conversational" and report.issues == [], report.issues


def test_convert_renders_as_transformers_does(tool_dataset):
    out = api.convert(tool_dataset, chat_template="qwen2.5")
    assert out["text"] == [reference(CHAT), reference(PLAIN)]


def test_apply_chat_template_renders_as_transformers_does(tool_dataset):
    out = trlprep.apply_chat_template(tool_dataset, "qwen2.5")
    assert out["text"] == [reference(CHAT), reference(PLAIN)]


def test_maybe_apply_chat_template_templates_json_messages(tool_dataset):
    out = trlprep.maybe_apply_chat_template(tool_dataset, "qwen2.5")
    assert out.column_names == ["text"]
    assert out["text"] == [reference(CHAT), reference(PLAIN)]


def test_content_of_several_kinds_renders_as_text_not_as_json():
    """`content` typed `Json` (a string in one message, text parts in another): the render
    holds the text, never its JSON literal (`"Hi"`)."""
    rows = [
        {"prompt": [{"role": "user", "content": "Hi"}], "completion": "Hello!"},
        {"prompt": [{"role": "user", "content": [{"type": "text", "text": "Yo"}]}],
         "completion": "Hey!"},
    ]  # fmt: skip
    rows = [{**r, "completion": [{"role": "assistant", "content": r["completion"]}]} for r in rows]
    ds = datasets.Dataset.from_list(rows, on_mixed_types="use_json")
    assert ds.features["prompt"].feature["content"] == datasets.Json()
    assert api.validate(ds).issues == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the parts are joined for qwen2.5: said, not asserted
        out = api.convert(ds, chat_template="qwen2.5")
    user = [
        reference([{"role": "user", "content": t}], add_generation_prompt=True)
        for t in "Hi Yo".split()
    ]
    assert out["prompt"] == user
    assert out["completion"] == ["Hello!<|im_end|>\n", "Hey!<|im_end|>\n"]


def test_a_json_column_of_several_kinds_is_reported_row_by_row():
    rows = [{"prompt": "Why?", "completion": "Because."}, {"prompt": PLAIN, "completion": "x"}]
    ds = datasets.Dataset.from_list(rows, on_mixed_types="use_json")
    assert ds.features["prompt"] == datasets.Json()
    report = api.validate(ds)
    assert [i.rule for i in report.errors] == ["mixed-kind"]


META = [{"source": "a", "score": 1}, {"tags": ["x", "y"]}]


def _with_json_meta() -> datasets.Dataset:
    """Messages and a `Json` extra (`meta`) whose rows hold different objects (`META`)."""
    features = datasets.Features(
        {"messages": datasets.List(datasets.Json()), "meta": datasets.Json()}
    )
    return datasets.Dataset.from_dict({"messages": [CHAT, PLAIN], "meta": META}, features=features)


def test_a_json_extra_comes_back_with_each_rows_own_value():
    ds = _with_json_meta()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # returned as `Json`: no "returned as JSON text" warning
        out = api.convert(ds, chat_template="qwen2.5")
    assert out.features["meta"] == datasets.Json()
    assert out["meta"] == META  # no key of another row added
    assert out["text"] == [reference(CHAT), reference(PLAIN)]


def test_json_arguments_are_written_back_as_the_objects_given(tmp_path):
    """A `Json` field inside the message struct (the arguments): JSON Lines output holds
    the objects, as the dataset gives them, not their JSON text."""
    path = tmp_path / "args.parquet"
    _json_arguments().to_parquet(path)
    out = tmp_path / "out.jsonl"
    res = run("convert", path, "--to", "language-modeling", "-o", out)
    assert res.exit_code == 0, res.output
    calls = rows_of(out)[0]["messages"][1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [
        c["function"]["arguments"] for c in TOOL_CALLS
    ]
    res = run("convert", path, "--chat-template", "qwen2.5", "-o", tmp_path / "t.jsonl")
    assert res.exit_code == 0, res.output
    assert [r["text"] for r in rows_of(tmp_path / "t.jsonl")] == [reference(CHAT), reference(PLAIN)]


def test_convert_without_template_gives_the_arguments_back_as_values():
    out = api.convert(_list_json(), "language-modeling")
    calls = out[0]["messages"][1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [
        c["function"]["arguments"] for c in TOOL_CALLS
    ]


def test_python_helpers_on_a_pyarrow_table_with_json_extension():
    table = _list_json().data.table
    assert any(isinstance(f.type, pa.ListType) for f in table.schema)
    out = trlprep.apply_chat_template(table, "qwen2.5")
    assert out.column("text").to_pylist() == [reference(CHAT), reference(PLAIN)]


def test_trainers_data_path_reads_json_messages():
    from trainers.data_table import to_training_table

    got = to_training_table(
        _list_json(), ["language-modeling"], None, chat_template="qwen2.5", algo="sft"
    )
    assert (got.source, got.templated) == ("language-modeling", True)
    assert got.table.column("text").to_pylist() == [reference(CHAT), reference(PLAIN)]


def _write(ds: datasets.Dataset, kind: str, tmp_path: Path) -> Path:
    if kind == "parquet":
        ds.to_parquet(tmp_path / "data.parquet")
        return tmp_path / "data.parquet"
    if kind == "disk":
        ds.save_to_disk(tmp_path / "data_disk")
        return tmp_path / "data_disk"
    import pyarrow.ipc as ipc

    table = ds.data.table
    with ipc.new_file(tmp_path / "data.arrow", table.schema) as w:
        w.write_table(table)
    return tmp_path / "data.arrow"


@pytest.mark.parametrize("kind", ["parquet", "disk", "arrow"])
def test_cli_reads_files_written_by_datasets(tmp_path, kind):
    path = _write(_list_json(), kind, tmp_path)
    det = run("detect", path, "--json")
    assert det.exit_code == 0, det.output
    assert json.loads(det.output)["format"] == "conversational"
    res = run("validate", path)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out.jsonl"
    res = run("convert", path, "--chat-template", "qwen2.5", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    assert [r["text"] for r in rows_of(out)] == [reference(CHAT), reference(PLAIN)]


# ---------------------------------------------------------------- real tool-call samples


def _glaive_rows() -> list[dict]:
    from test_realdata_toolcalls import glaive_messages

    raw = json.loads(sample("glaive_toolcall").read_text(encoding="utf-8"))
    return [
        {"messages": glaive_messages(r), "tools": json.loads(r["tools"]) if r["tools"] else None}
        for r in raw
    ]


@pytest.mark.parametrize(
    ("template", "original"), [("qwen2.5", "qwen2_5"), ("llama3.1", "llama3_1")]
)
def test_glaive_with_json_features_equals_the_original_template(template, original):
    rows = _glaive_rows()
    ds = datasets.Dataset.from_list(rows, on_mixed_types="use_json")
    assert ds.features["messages"] == datasets.List(datasets.Json())
    out = trlprep.apply_chat_template(ds, template)
    for row, text in zip(rows, out["text"], strict=True):
        assert text == original_render(original, row["messages"], tools=row["tools"] or None)


def test_drone_loaded_by_datasets_json_reads_as_its_jsonl(tmp_path):
    drone = sample("openai_drone_toolcalls")
    ds = datasets.load_dataset(
        "json", data_files=str(drone), split="train", cache_dir=str(tmp_path)
    )
    assert ds.features["messages"] == datasets.List(datasets.Json())
    det = api.detect(ds)
    assert (det.type.name, det.format.value, det.num_rows) == (
        "language-modeling",
        "conversational",
        6,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows 3-6: double-encoded arguments, set aside
        out = api.convert(ds, chat_template="qwen2.5", on_error="skip")
    raw = [json.loads(line) for line in drone.read_text(encoding="utf-8").splitlines()]
    assert len(out) == 2
    for record, text in zip(raw[:2], out["text"], strict=True):
        messages = [dict(m) for m in record["messages"]]
        for m in messages:
            for call in m.get("tool_calls") or []:
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        assert text == original_render("qwen2_5", messages, tools=record["tools"])


def test_streamed_dataset_with_json_messages_is_templated():
    stream = _list_json().to_iterable_dataset()
    want = [reference(CHAT), reference(PLAIN)]
    assert [r["text"] for r in trlprep.maybe_apply_chat_template(stream, "qwen2.5")] == want
    assert [r["text"] for r in trlprep.apply_chat_template(stream, "qwen2.5")] == want


def test_polars_frame_holding_the_json_extension():
    pl = pytest.importorskip("polars")
    frame = pl.from_arrow(_list_json().data.table)
    out = trlprep.apply_chat_template(frame, "qwen2.5")
    assert out["text"].to_list() == [reference(CHAT), reference(PLAIN)]


def test_import_dataset_gives_a_json_extra_back_as_json_without_the_text_warning():
    """`import_dataset` (openai-chat) of a `Json` extra: its values come back as `Json`."""
    from trlprep.importers import import_dataset

    ds = _with_json_meta()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # returned as `Json`: no "returned as JSON text" warning
        out = import_dataset(ds, "openai-chat")
    assert out.features["meta"] == datasets.Json() and out["meta"] == META
