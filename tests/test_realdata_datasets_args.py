"""Tool-call arguments in `datasets` (issue 11 round 2, item 4): JSON text, parsed by trlprep.

`datasets` cannot hold each row's own object, so arguments reach a `Dataset` as text: the
user's exact text (glaive's `function_call` values hold the arguments spaced as `json.dumps`
writes them). trlprep's TRL-compatible helpers parse them, so the render equals the original
template given the arguments as objects.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import original_render, run, sample

datasets = pytest.importorskip("datasets")

import trlprep  # noqa: E402
from trlprep.importers.run import import_dataset  # noqa: E402

GLAIVE = sample("glaive_toolcall")
DRONE = sample("openai_drone_toolcalls")


def _objects(messages: list[dict]) -> list[dict]:
    """Messages as a transformers user hands them over: no None keys, arguments parsed."""
    out = []
    for m in messages:
        m = {k: v for k, v in m.items() if v is not None}
        if m.get("tool_calls"):
            m["tool_calls"] = [
                {
                    **c,
                    "function": {
                        **c["function"],
                        "arguments": json.loads(c["function"]["arguments"]),
                    },
                }
                for c in m["tool_calls"]
            ]
        out.append(m)
    return out


@pytest.fixture(scope="module")
def glaive_dataset():
    raw = json.loads(GLAIVE.read_text(encoding="utf-8"))
    return raw, import_dataset(datasets.Dataset.from_list(raw), "sharegpt")


def test_import_dataset_keeps_the_users_argument_text(glaive_dataset):
    raw, ds = glaive_dataset
    calls = 0
    for before, after in zip(raw, ds, strict=True):
        values = [t["value"] for t in before["conversations"] if t["from"] == "function_call"]
        args = [
            c["function"]["arguments"]
            for m in after["messages"]
            if m["tool_calls"]
            for c in m["tool_calls"]
        ]
        for value, text in zip(values, args, strict=True):
            assert text in value  # the user's exact text, not re-serialised compactly
            calls += 1
    assert calls == 36
    row11 = ds[11]["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert row11 == '{"bill_amount": 100, "tip_percentage": 15}'


def test_trlprep_apply_chat_template_on_the_dataset_renders_objects(glaive_dataset):
    _, ds = glaive_dataset
    out = trlprep.apply_chat_template(ds, "qwen2.5", num_proc=1)
    text = out[11]["text"]
    assert '"arguments": {"bill_amount": 100, "tip_percentage": 15}}' in text
    want = original_render(
        "qwen2_5", _objects(ds[11]["messages"]), tools=json.loads(ds[11]["tools"])
    )
    assert text == want
    one = trlprep.maybe_apply_chat_template(ds[11], "qwen2.5")
    assert one["text"] == want


def test_parquet_output_loaded_by_datasets_renders_objects(tmp_path):
    out = tmp_path / "glaive.parquet"
    res = run("convert", GLAIVE, "--from", "sharegpt", "-o", out)
    assert res.exit_code == 0, res.output
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert isinstance(ds[11]["messages"][1]["tool_calls"][0]["function"]["arguments"], str)
    rendered = trlprep.maybe_apply_chat_template(ds, "qwen2.5", num_proc=1)
    want = original_render(
        "qwen2_5", _objects(ds[11]["messages"]), tools=json.loads(ds[11]["tools"])
    )
    assert rendered[11]["text"] == want


def test_openai_string_arguments_from_parquet_via_datasets_name_the_way_out(tmp_path):
    """String arguments sit in Parquet as their JSON literal: by path trlprep reads them
    back exactly; loaded with `datasets`, the refusal says to pass the path."""
    src = tmp_path / "drone.jsonl"
    src.write_text("".join(DRONE.read_text(encoding="utf-8").splitlines(True)[:2]))
    out = tmp_path / "drone.parquet"
    assert run("convert", src, "--from", "openai-chat", "-o", out).exit_code == 0
    by_path = trlprep.apply_chat_template(str(out), "qwen2.5", num_proc=1)
    assert '"arguments": {"altitude": 100}' in by_path.column("text")[0].as_py()
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    with pytest.raises(trlprep.errors.DataError) as err:
        trlprep.apply_chat_template(ds, "qwen2.5", num_proc=1)
    assert "pass its path to trlprep instead" in str(err.value.hint)
