"""Media given beside a conversation with no placeholder and no media part: placed at the
start of the first user message whose content is a string, as TRL's
`prepare_multimodal_messages` places images (validate: `media-unplaced`); rows with some
placeholders in another number keep the count rule; standard text beside media is said to
leave them out (`media-unrendered`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.columns.placeholders import map_placeholders
from trlprep.columns.unmarked import place_unmarked
from trlprep.compat.helpers import prepare_multimodal_messages

TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "data" / "chat_templates"
IMAGE, TEXT = {"type": "image"}, lambda t: {"type": "text", "text": t}


def U(c):
    return {"role": "user", "content": c}


def A(c):
    return {"role": "assistant", "content": c}


SYS = {"role": "system", "content": "Be brief."}


def _run(tmp_path: Path, rows: list[dict], *args: str):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(
        app, [args[0], str(path), *args[1:], *(["-o", str(out)] * (args[0] == "convert"))]
    )
    said = " ".join(res.output.split())
    rows_out = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return res.exit_code, said, rows_out


def _bare(messages: list[dict]) -> list[dict]:
    """TRL's prepared messages with the images taken out of their parts (as a file holds them)."""
    return [
        {**m, "content": [{k: v for k, v in p.items() if k != "image"} for p in m["content"]]}
        for m in messages
    ]


def test_the_column_placement_equals_trls_per_row_placement():
    convs = [
        [SYS, U("hi"), A("yo"), U("more")],  # after the system turn
        [U("x"), A("y")],
        [U("one"), A("two"), U("three")],
        [U("<image> marked"), A("ok")],  # its own placeholder: not placed again
    ]
    images = [["a", "b"], [], ["c"], ["d"]]
    table = pa.table({"messages": convs, "images": images})
    placed, rows = place_unmarked(table)
    assert rows["image"].tolist() == [True, False, True, False]
    out, bad, _ = map_placeholders(placed)
    assert len(bad) == 0
    for got, conv, imgs in zip(out.column("messages").to_pylist(), convs, images, strict=True):
        want = _bare(prepare_multimodal_messages(conv, images=imgs))
        if conv[0]["content"].startswith("<image>"):
            want[0]["content"] = [IMAGE, TEXT(" marked")]  # the placeholder where it stood
        assert [_given(m) for m in got] == want


def _given(message: dict) -> dict:
    """A message read from Arrow with its parts' null keys left out."""
    parts = [{k: v for k, v in p.items() if v is not None} for p in message["content"]]
    return {**message, "content": parts}


def test_convert_places_them_and_says_which_rows(tmp_path):
    rows = [{"messages": [SYS, U("hi"), A("yo")], "images": ["a", "b"]}]
    rows.append({"messages": [U("no image"), A("fine")], "images": []})
    code, said, out = _run(tmp_path, rows, "convert")
    assert code == 0, said
    assert "2 rows in, 0 rejected" in said
    assert "1 row (line 1): images given with no `<image>` placeholder or image part" in said
    assert out[0]["messages"][1] == U([IMAGE, IMAGE, TEXT("hi")])
    assert out[1]["messages"][0] == U([TEXT("no image")])


def test_some_placeholders_in_another_number_stay_refused(tmp_path):
    rows = [{"messages": [U("<image> hi"), A("yo")], "images": ["a", "b"]}]
    code, said, _ = _run(tmp_path, rows, "convert")
    assert code == 1
    assert "holds 1 `<image>` placeholder but the row has 2 images" in said
    code, said, _ = _run(tmp_path, rows, "validate")
    assert code == 1 and "image-count" in said and "media-unplaced" not in said


def test_no_user_message_with_string_content_stays_refused_as_trl_refuses(tmp_path):
    # TRL places images only in a user message whose content is a string: none here
    parts_first = {"messages": [U([TEXT("q")]), A("a")], "images": ["a"]}
    placed = {"messages": [U("q"), A([TEXT("a")])], "images": ["b"]}
    code, said, out = _run(tmp_path, [placed, parts_first], "convert", "--on-error", "skip")
    assert code == 0, said
    assert "2 rows in, 1 rejected" in said
    assert out[0]["messages"][0] == U([IMAGE, TEXT("q")])
    with pytest.raises(ValueError, match="does not match"):
        prepare_multimodal_messages(parts_first["messages"], images=["a"])
    code, said, _ = _run(tmp_path, [parts_first], "validate")
    assert code == 1 and "image-count" in said


def test_implicit_prompt_pairs_get_the_images_in_both_conversations(tmp_path):
    rows = [{"chosen": [U("q"), A("good")], "rejected": [U("q"), A("bad")], "images": ["a"]}]
    code, said, out = _run(tmp_path, rows, "convert")
    assert code == 0, said
    assert out[0]["chosen"][0] == out[0]["rejected"][0] == U([IMAGE, TEXT("q")])


def test_videos_go_first_as_ms_swift_orders_them_and_say_trl_places_images_only(tmp_path):
    rows = [{"messages": [U("q"), A("a")], "images": ["i"], "videos": [["f1", "f2"]]}]
    code, said, out = _run(tmp_path, rows, "convert")
    assert code == 0, said
    assert out[0]["messages"][0] == U([{"type": "video"}, IMAGE, TEXT("q")])
    assert "videos given with no `<video>` placeholder or video part were placed" in said
    assert "TRL's prepare_multimodal_messages places images only" in said


def test_validate_warns_with_the_count_and_no_count_error(tmp_path):
    rows = [{"prompt": [U(f"q{i}")], "completion": [A("a")], "images": ["x"]} for i in range(3)]
    code, said, _ = _run(tmp_path, rows, "validate")
    assert code == 0, said
    assert "warning: media-unplaced: 3 rows, lines 1, 2, 3" in said
    assert "image-count" not in said


def test_standard_text_beside_images_is_said_and_a_placeholder_is_not(tmp_path):
    rows = [
        {"prompt": "What is it?", "completion": "A cat.", "images": ["x"]},
        {"prompt": "<image> And this?", "completion": "A dog.", "images": ["y"]},
    ]
    code, said, _ = _run(tmp_path, rows, "validate")
    assert code == 0, said
    assert "warning: media-unrendered: 1 row, line 1" in said
    code, said, out = _run(tmp_path, rows, "convert")
    assert code == 0, said
    assert "1 row (line 1): images given beside standard (string) text" in said
    assert out[0]["prompt"] == "What is it?"  # left as it is: said, not changed


def _template(name: str) -> str:
    path = TEMPLATES / f"{name}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["qwen2_5_vl", "idefics3"])
def test_the_python_api_renders_as_transformers_renders_trls_messages(name):
    from templates_support import template_tokenizer

    template = _template(name)
    tok = template_tokenizer(TEMPLATES / f"{name}.jinja")
    example = {"prompt": [SYS, U("What?")], "completion": [A("A cat.")], "images": ["x", "y"]}
    prompt = prepare_multimodal_messages(example["prompt"], images=example["images"])
    completion = prepare_multimodal_messages(example["completion"])
    want = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    whole = tok.apply_chat_template(prompt + completion, tokenize=False)
    got = trlprep.apply_chat_template(example, template)  # was: refused, no placeholder
    assert (got["prompt"], got["prompt"] + got["completion"]) == (want, whole)
    from datasets import Dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rendered = trlprep.apply_chat_template(Dataset.from_list([example] * 2), template)
    assert rendered[1]["prompt"] == want
    assert any("2 rows: images given with no `<image>`" in str(w.message) for w in caught)


def test_the_counted_warning_adds_up_over_batches():
    from trlprep.converters.common import counted_rows_text, merge_row_warnings

    said = [f"{counted_rows_text(r)}: placed" for r in ([0, 2], [7], list(range(10, 16)))]
    said.append("rows 3, 4: other")
    assert merge_row_warnings(said) == [
        "9 rows (rows 0, 2, 7, 10, 11 (and 4 more)): placed",
        "rows 3, 4: other",
    ]
