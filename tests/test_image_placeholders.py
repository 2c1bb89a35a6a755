"""`<image>` placeholders (LLaVA / LLaMA-Factory's mllm_demo layout) become image parts
(issue 11, item 3): TRL's vision format, each `<image>` an image part where it stood and
the text around it text parts, when the row has as many images as placeholders; otherwise
the row fails with both counts. Renders equal the original vision template rendered by
transformers on the same part messages.
"""

from __future__ import annotations

import pytest
from templates_support import TEMPLATES_DIR, template_tokenizer

from trlprep.errors import RowFailures
from trlprep.io.readers import table_from_records
from trlprep.templates import apply_chat_template, load_template, render_table

needs_shared = pytest.mark.skipif(not TEMPLATES_DIR.exists(), reason="../shared is absent")

# the first row of LLaMA-Factory's data/mllm_demo.json (Apache-2.0)
MLLM_ROW = {
    "messages": [
        {"content": "<image>Who are they?", "role": "user"},
        {"content": "They're Kane and Gretzka from Bayern Munich.", "role": "assistant"},
        {"content": "What are they doing?<image>", "role": "user"},
        {"content": "They are celebrating on the soccer field.", "role": "assistant"},
    ],
    "images": ["mllm_demo_data/1.jpg", "mllm_demo_data/1.jpg"],
}
# the same conversation in TRL's vision format, written by hand
AS_PARTS = [
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Who are they?"}]},
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "They're Kane and Gretzka from Bayern Munich."}],
    },
    {
        "role": "user",
        "content": [{"type": "text", "text": "What are they doing?"}, {"type": "image"}],
    },
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "They are celebrating on the soccer field."}],
    },
]


@needs_shared
@pytest.mark.parametrize("name", ["qwen2_5_vl", "llava_next"])
def test_placeholders_render_as_the_original_vision_template(name):
    tokenizer = template_tokenizer(TEMPLATES_DIR / f"{name}.jinja")
    template = load_template(tokenizer)
    want = tokenizer.apply_chat_template(AS_PARTS, tokenize=False)
    out, report = render_table(table_from_records([MLLM_ROW]), "lm", template, num_proc=1)
    assert out.column("text").to_pylist() == [want]
    assert out.column("images").to_pylist() == [MLLM_ROW["images"]]
    assert report.image_rows == 1 and "<image>" not in want.replace("<image>\n", "")
    assert apply_chat_template(MLLM_ROW, tokenizer)["text"] == want


@needs_shared
def test_qwen_vl_prompt_completion_split_keeps_the_image_tokens():
    tokenizer = template_tokenizer(TEMPLATES_DIR / "qwen2_5_vl.jinja")
    row = {
        "prompt": MLLM_ROW["messages"][:3],
        "completion": MLLM_ROW["messages"][3:],
        "images": MLLM_ROW["images"],
    }
    out, _ = render_table(table_from_records([row]), "pc", load_template(tokenizer), num_proc=1)
    prompt = out.column("prompt")[0].as_py()
    assert prompt == tokenizer.apply_chat_template(
        AS_PARTS[:3], tokenize=False, add_generation_prompt=True
    )
    assert prompt.count("<|vision_start|><|image_pad|><|vision_end|>") == 2
    assert (
        out.column("completion")[0].as_py()
        == "They are celebrating on the soccer field.<|im_end|>\n"
    )


def test_counts_that_disagree_fail_every_such_row():
    rows = [
        MLLM_ROW,
        {**MLLM_ROW, "images": ["a.jpg"]},
        {**MLLM_ROW, "images": []},
        {
            "messages": [
                {"role": "user", "content": "no image"},
                {"role": "assistant", "content": "ok"},
            ],
            "images": [],
        },
    ]
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "lm", load_template("chatml"), num_proc=1)
    e = info.value
    assert e.rows == [0, 1, 2]
    # what was counted is named: here only placeholders
    assert e.reasons[1] == "the conversation holds 2 `<image>` placeholders but the row has 1 image"
    assert e.reasons[2].endswith("holds 2 `<image>` placeholders but the row has 0 images")
    assert "renders only text content" in e.reasons[0]  # counts agree: chatml has no images


def test_without_an_images_column_the_text_stays_text():
    row = {"messages": MLLM_ROW["messages"]}
    out, report = render_table(table_from_records([row]), "lm", load_template("chatml"))
    assert "<image>Who are they?" in out.column("text")[0].as_py()
    assert report.image_rows == 0


@needs_shared
def test_recurring_prompts_with_images_in_worker_processes(monkeypatch):
    """Prompts rendered once per (prompt, images) before the rows, in two processes."""
    import trlprep.templates.table as table_mod

    monkeypatch.setattr(table_mod, "MIN_ROWS_PER_WORKER", 4)
    monkeypatch.setattr(table_mod, "BATCH_ROWS", 8)
    tokenizer = template_tokenizer(TEMPLATES_DIR / "qwen2_5_vl.jinja")
    prompt = [{"role": "user", "content": "<image>Who?"}]
    rows = []
    for i in range(24):
        images = ["x.jpg"] if i % 3 else []  # same prompt text, with and without its image
        done = [{"role": "assistant", "content": f"A{i}"}]
        rows.append({"prompt": prompt, "completion": done, "images": images})
    table = table_from_records(rows)
    with pytest.raises(RowFailures) as info:
        render_table(table, "pc", load_template(tokenizer), num_proc=2)
    assert info.value.rows == list(range(0, 24, 3))
    kept = table.filter([bool(i % 3) for i in range(24)])
    out, report = render_table(kept, "pc", load_template(tokenizer), num_proc=2)
    want = tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Who?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert set(out.column("prompt").to_pylist()) == {want}
    assert report.image_rows == 16 and report.num_proc == 2


def test_columnar_mapping_equals_the_per_row_one():
    """`placeholders.map_placeholders` (used by convert) gives TRL's vision format, exactly
    what the template stage builds row by row."""
    import pyarrow as pa

    from trlprep.columns.placeholders import map_placeholders
    from trlprep.templates.inputs import prepare

    rows = [
        MLLM_ROW,
        {
            "messages": [
                {"role": "user", "content": "a<image><image>b"},
                {"role": "assistant", "content": ""},
            ],
            "images": ["x", "y"],
        },
        {"messages": [{"role": "user", "content": "no image"}], "images": []},
        {"messages": [{"role": "user", "content": "<image> one"}], "images": ["x", "y"]},
    ]
    out, bad, reasons = map_placeholders(table_from_records(rows))
    assert bad.tolist() == [3]
    assert reasons == ["the conversation holds 1 `<image>` placeholder but the row has 2 images"]
    every = frozenset({"system", "user", "assistant"})
    for row, got in zip(rows[:3], out.column("messages").to_pylist(), strict=False):
        want, _ = prepare(row["messages"], "messages", every, vision=True)
        clean = [
            {**m, "content": [{k: v for k, v in p.items() if v is not None} for p in m["content"]]}
            for m in got
        ]
        assert clean == want
    assert out.column("messages")[1].as_py()[0]["content"][1:3] == [
        {"type": "image", "text": None},
        {"type": "image", "text": None},
    ]
    plain = pa.table({"messages": [[{"role": "user", "content": "<image>"}]]})
    assert map_placeholders(plain)[0] is plain  # no images column: text stays text


def test_counted_images_names_what_was_counted():
    from trlprep.columns.placeholders import counted_images

    assert counted_images(2, 0) == "2 `<image>` placeholders"
    assert counted_images(0, 1) == "1 image part"
    assert counted_images(1, 2) == "1 `<image>` placeholder and 2 image parts"
    assert counted_images(0, 0) == "no `<image>` placeholder or image part"
    assert counted_images(3, 2, with_placeholders=False) == "2 image parts"


def test_a_mismatch_of_image_parts_names_image_parts():
    row = {
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "a"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
        ],
        "images": ["x", "y"],
    }
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records([row]), "lm", load_template("chatml"), num_proc=1)
    assert info.value.reasons == ["the conversation holds 1 image part but the row has 2 images"]


def test_validate_image_count_details_name_what_was_counted(tmp_path):
    import json

    import trlprep

    user = {"role": "user", "content": "<image><image>What?"}
    answer = {"role": "assistant", "content": "A cat."}
    path = tmp_path / "img.jsonl"
    path.write_text(json.dumps({"messages": [user, answer], "images": ["a.png"]}) + "\n")
    issue = next(i for i in trlprep.validate(path).issues if i.rule == "image-count")
    assert issue.message.endswith("(messages: 2 `<image>` placeholders, 1 image)")
    parts = [{"type": "image"}, {"type": "text", "text": "What?"}]
    row = {"messages": [{"role": "user", "content": parts}, answer], "images": ["a.png", "b.png"]}
    path.write_text(json.dumps(row) + "\n")
    issue = next(i for i in trlprep.validate(path).issues if i.rule == "image-count")
    assert issue.message.endswith("(messages: 1 image part, 2 images)")
