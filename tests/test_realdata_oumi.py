"""Oumi's dataset examples (oumi-ai/oumi `data/dataset_examples`).

- `vision_language_oumi_format.jsonl`: Oumi's conversation format, content a string in some
  messages and a list of items `{"type": "image_url" | "text", "content": ...}` in others.
  Before: every row refused (`invalid-part`: text parts without `text`, and `image-count`);
  now read as the `oumi` layout without `--from`, items made TRL's parts.
- `vision_language_dpo_format.jsonl`: a text `prompt` beside `chosen` / `rejected` holding the
  answers alone (assistant messages) and `images`. Before: read as `binarized` (implicit
  prompt), the prompt set aside as `prompt_text`, every row refused (`image-count`), and
  without images trained with an empty prompt; now the `prompt-answers` layout: explicit
  prompt, the user's message, the image placed at its start as TRL places it.
- `oumi_format.jsonl`: plain messages and a `metadata` object on one row: read as it is.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    HERE,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    train_one_step,
)

DIR = HERE / "oumi_dataset_examples"
VL = DIR / "vision_language_oumi_format.jsonl"
DPO = DIR / "vision_language_dpo_format.jsonl"
TEXT = DIR / "oumi_format.jsonl"
DOG = "https://example.com/image_of_dog.jpg"
BRIDGE = "https://example.com/golden_gate_bridge.jpg"
PICSUM = "https://picsum.photos/200/300"
# VL row 0 as TRL's vision format (image moved to `images`), written by hand from the record
VL_ROW0 = [
    {"role": "user",
     "content": [{"type": "image"}, {"type": "text", "text": "What breed is this dog?"}]},
    {"role": "assistant", "content": "This appears to be a Shih Tzu puppy."},
]  # fmt: skip
DPO_PROMPT0 = [
    {"role": "user",
     "content": [{"type": "image"}, {"type": "text", "text": "What do you see in this image?"}]},
]  # fmt: skip


def _bare(messages: list[dict]) -> list[dict]:
    """Messages with the null keys of typed parts left out; a string content as it is."""
    out = []
    for m in messages:
        c = m["content"]
        if isinstance(c, list):
            c = [{k: v for k, v in p.items() if v is not None} for p in c]
        out.append({**m, "content": c})
    return out


def test_detect_names_the_layouts():
    cases = [(VL, "oumi", "language-modeling"), (DPO, "prompt-answers", "preference")]
    for path, layout, dtype in cases:
        res = run("detect", path)
        assert res.exit_code == 0, res.output
        assert f"type           {dtype} (the {layout} layout, imported as convert does)" in (
            res.output
        )
        assert f"layout: {layout} (a public layout" in res.output
    info = json.loads(run("detect", TEXT, "--json").output)
    assert (info["type"], info["format"], info["extra_columns"]) == (
        "language-modeling",
        "conversational",
        ["metadata"],
    )


def test_oumi_items_become_trl_parts(tmp_path):
    out = tmp_path / "lm.parquet"  # Parquet: inline images moved to `images` by default
    res = run("convert", VL, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    assert "note: read as the oumi layout" in res.output
    rows = rows_of(out)
    assert [r["images"] for r in rows] == [[DOG], [BRIDGE]]
    assert _bare(rows[0]["messages"])[0] == VL_ROW0[0]
    assert rows[1]["metadata"]["category"] == "demo multi-turn vision-language conversations"
    out = tmp_path / "lm.jsonl"  # JSON Lines: kept inline, as transformers' parts hold them
    assert run("convert", VL, "-o", out).exit_code == 0
    row = rows_of(out)[0]
    assert row["messages"][0]["content"][0] == {"type": "image", "image": DOG}
    assert row["messages"][1] == VL_ROW0[1]


def test_validate_checks_the_oumi_rows_as_imported():
    res = run("validate", VL, "--from", "oumi")
    assert res.exit_code == 0, res.output
    assert "valid: 2 rows of language-modeling (conversational)" in res.output
    res = run("validate", VL)  # as they are: TRL cannot read the items; the note says how
    assert res.exit_code == 1
    assert "`trlprep convert DATA --from oumi -o OUT` writes it as TRL reads it" in (
        " ".join(res.output.split())
    )


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl", "llava_next", "idefics3"])
def test_oumi_renders_equal_the_originals(tmp_path, template):
    out = tmp_path / "vl.jsonl"
    res = run("convert", VL, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    lm = tmp_path / "lm.jsonl"
    assert run("convert", VL, "--inline-media", "move", "-o", lm).exit_code == 0
    kwargs = {"bos_token": "<|begin_of_text|>"} if template == "idefics3" else {}
    for got, row in zip(rows_of(out), rows_of(lm), strict=True):
        messages = _bare(row["messages"])
        if template in ("llava_next", "idefics3"):  # they render parts only
            messages = [
                {**m, "content": [{"type": "text", "text": m["content"]}]}
                if isinstance(m["content"], str)
                else m
                for m in messages
            ]
        assert got["text"] == original_render(template, messages, **kwargs)
        assert got["images"] == row["images"]  # the render keeps no part: moved first


def test_prompt_answers_make_an_explicit_prompt(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", DPO, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    assert "images given with no `<image>` placeholder or image part were placed" in res.output
    rows = rows_of(out)
    assert _bare(rows[0]["prompt"]) == DPO_PROMPT0
    assert rows[0]["images"] == [PICSUM]
    # beside images every string content is parts (TRL's vision format), answers too
    assert rows[0]["rejected"] == [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "I see a car driving on a road."}],
        }
    ]
    assert "prompt_text" not in rows[0]
    res = run("validate", DPO, "--from", "prompt-answers")
    assert res.exit_code == 0, res.output
    assert "valid: 3 rows of preference (conversational); 1 warning" in res.output


def test_prompt_answers_without_images_keep_the_prompt(tmp_path):
    """Without images the rows used to import as binarized: implicit preference, the prompt
    moved aside to `prompt_text`, so DPO trained with an empty prompt."""
    src = tmp_path / "text.jsonl"
    rows = [json.loads(line) for line in DPO.read_text().splitlines()]
    kept = [{k: v for k, v in r.items() if k != "images"} for r in rows]
    src.write_text("".join(json.dumps(r) + "\n" for r in kept))
    out = tmp_path / "pref.jsonl"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert got[1]["prompt"] == [
        {"role": "user", "content": "Describe the main subject of this image."}
    ]
    assert "prompt_text" not in got[1]
    out = tmp_path / "pc.jsonl"
    assert run("convert", src, "--to", "prompt-completion", "-o", out).exit_code == 0
    assert rows_of(out)[1]["completion"] == rows[1]["chosen"]


@pytest.mark.parametrize("template", ["qwen2_5_vl", "llava_next"])
def test_prompt_answers_render_equal_the_originals(tmp_path, template):
    out = tmp_path / "r.jsonl"
    res = run("convert", DPO, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    row = rows_of(out)[0]
    assert row["images"] == [PICSUM]
    prompt = DPO_PROMPT0
    full = original_render(template, prompt + [{"role": "assistant", "content": [
        {"type": "text", "text": "I see a car driving on a road."}]}])  # fmt: skip
    assert row["prompt"] == original_render(template, prompt, add_generation_prompt=True)
    assert row["prompt"] + row["rejected"] == full


def test_train_dpo_on_the_prompt_answers(tmp_path):
    res, record = train_one_step("dpo", DPO, tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "prompt-answers layout -> preference" in res.output
    assert record["loss"] > 0


def test_python_api_render_keeps_the_images():
    """`trlprep.convert(..., chat_template=...)` rendered the inline images away too."""
    import trlprep

    template = original_template_args("qwen2_5_vl")[1]
    with pytest.warns(UserWarning, match="moved to images / videos / audios columns before"):
        out = trlprep.convert(VL, chat_template=template)
    assert out.column("images").to_pylist() == [[DOG], [BRIDGE]]
    assert out.column("text")[0].as_py().count("<|image_pad|>") == 1
