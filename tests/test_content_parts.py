"""Content given as a list of parts (issue 11, item 2).

Text-only parts on a template that renders only strings are joined (no separator) and said
once in the report; templates that render parts (Qwen2.5-VL, LLaVA-Next, Idefics3) get them
as they are. Renders equal the original template rendered by transformers on the messages
a user would give it. `detect` reports vision only for parts that are not text.
"""

from __future__ import annotations

import pytest
from templates_support import TEMPLATES_DIR, template_tokenizer

from trlprep.detection.detect import detect_batches
from trlprep.errors import RowFailures
from trlprep.io.readers import Batch, table_from_records
from trlprep.templates import load_template, render_table
from trlprep.templates.probes import parts_roles

STRING_ONLY = ["qwen2_5", "llama3", "llama3_1"]
WITH_PARTS = ["qwen2_5_vl", "llava_next", "idefics3"]
needs_shared = pytest.mark.skipif(not TEMPLATES_DIR.exists(), reason="../shared is absent")


def parts(*texts):
    return [{"type": "text", "text": t} for t in texts]


def chat(user, assistant):
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def joined(messages):
    return [
        {**m, "content": "".join(p["text"] for p in m["content"])}
        if isinstance(m["content"], list)
        else m
        for m in messages
    ]


ROWS = [chat(parts("Hello ", "there."), parts("Hi!")), chat("Plain?", "Plain.")]


@needs_shared
@pytest.mark.parametrize("name", STRING_ONLY)
def test_text_parts_are_joined_for_string_templates(name):
    tokenizer = template_tokenizer(TEMPLATES_DIR / f"{name}.jinja")
    template = load_template(tokenizer)
    assert parts_roles(template) == frozenset()
    out, report = render_table(
        table_from_records([{"messages": m} for m in ROWS]), "lm", template, num_proc=1
    )
    want = [tokenizer.apply_chat_template(joined(m), tokenize=False) for m in ROWS]
    got = out.column("text").to_pylist()
    assert got == want
    assert "Hello there." in got[0] and "'type'" not in got[0]
    assert report.joined_parts_rows == 1
    assert any("joined (no separator)" in n for n in report.notes())


@needs_shared
@pytest.mark.parametrize("name", WITH_PARTS)
def test_templates_that_take_parts_get_them_as_they_are(name):
    tokenizer = template_tokenizer(TEMPLATES_DIR / f"{name}.jinja")
    template = load_template(tokenizer)
    assert parts_roles(template) >= {"user", "assistant"}
    rows = ROWS[:1]
    out, report = render_table(
        table_from_records([{"messages": m} for m in rows]), "lm", template, num_proc=1
    )
    want = [tokenizer.apply_chat_template(m, tokenize=False) for m in rows]
    assert out.column("text").to_pylist() == want
    assert report.joined_parts_rows == 0 and report.notes() == []


def test_builtin_chatml_no_longer_raises_on_text_parts():
    rows = [
        {
            "prompt": [{"role": "user", "content": parts("a", "b")}],
            "completion": [{"role": "assistant", "content": parts("c")}],
        }
    ]
    out, report = render_table(table_from_records(rows), "pc", load_template("chatml"))
    assert out.column("prompt").to_pylist() == [
        "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n"
    ]
    assert out.column("completion").to_pylist() == ["c<|im_end|>\n"]
    assert report.joined_parts_rows == 1


def test_image_parts_on_a_string_template_fail_the_row():
    img = [{"type": "image"}, {"type": "text", "text": "What is it?"}]
    rows = [{"messages": chat(img, "A cat.")}, {"messages": chat("Q", "A")}]
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "lm", load_template("llama3"), num_proc=1)
    assert info.value.rows == [0]
    assert "message 0 (user) has image parts" in info.value.reasons[0]


def _detect(rows):
    table = table_from_records(rows)
    return detect_batches([Batch(table, 0, None)])


def test_detect_reports_vision_only_for_media_parts():
    assert not _detect([{"messages": chat(parts("Hi"), parts("Hello"))}]).vision
    img = [{"type": "image"}, {"type": "text", "text": "What is it?"}]
    assert _detect([{"messages": chat(img, parts("A cat."))}]).vision


TEXT_LIKE = ["reasoning", "thinking", "tool_call", "tool_use", "tool_result", "refusal"]
MEDIA = [
    {"type": "image"},
    {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
    {"type": "video", "video": "clip.mp4"},
    {"type": "audio", "audio": "a.wav"},
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    {"type": "file", "file": {"file_id": "f1"}},
]


@pytest.mark.parametrize("kind", TEXT_LIKE)
def test_reasoning_and_tool_parts_are_not_vision(kind):
    answer = [{"type": kind, "text": "Thinking it over."}, {"type": "text", "text": "4"}]
    det = _detect([{"messages": chat(parts("2+2?"), answer)}])
    assert not det.vision
    assert det.to_dict()["vision"] is False


@pytest.mark.parametrize("part", MEDIA, ids=lambda p: p["type"])
def test_media_parts_are_vision(part):
    assert _detect([{"messages": chat([part, *parts("What is it?")], parts("A cat."))}]).vision


def test_reasoning_parts_are_not_counted_as_images():
    from trlprep.templates.inputs import image_marks

    user = [{"type": "image"}, {"type": "text", "text": "What is it?"}]
    answer = [{"type": "reasoning", "text": "Fur, whiskers."}, {"type": "text", "text": "A cat."}]
    assert image_marks(chat(user, answer)) == (0, 1)


def test_reasoning_parts_on_a_string_template_are_refused_not_joined_into_the_answer():
    """A reasoning part's text joined into the content would train it as the answer; it is
    not an image part either: the row fails naming the part's type (validate: invalid-part)."""
    answer = [{"type": "reasoning", "text": "Add them. "}, {"type": "text", "text": "4"}]
    rows = [{"messages": chat(parts("2+2?"), answer)}, {"messages": chat(parts("1+1?"), "2")}]
    with pytest.raises(RowFailures) as err:
        render_table(table_from_records(rows), "lm", load_template("chatml"))
    assert err.value.rows == [0]
    assert "content part of type 'reasoning'" in str(err.value)
    assert "image" not in str(err.value)
