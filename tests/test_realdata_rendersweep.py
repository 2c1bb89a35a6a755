"""Pairs of real samples and original templates that the render sweep
(`tests/realdata/rendersweep.py`) found rendered wrong, and the sweep itself on one case.

Idefics3 and LLaVA-Next render content only given as parts: Idefics3 iterates a string
content character by character (every message rendered empty, silently), LLaVA-Next reads
`content[0]['text']` (raises). String contents now reach them as one text part each, as
TRL's vision format (`prepare_multimodal_messages`) gives them.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, TEMPLATES, counts, original_render, rows_of, run, sample

from trlprep.templates.inputs import prepare
from trlprep.templates.probes import parts_only_roles, parts_roles
from trlprep.templates.rules import RowError
from trlprep.templates.template import ChatTemplate

CHAT = HERE / "torchtune_assets" / "chat_tiny.json"  # a ShareGPT conversation of string contents
MIXED = sample("xtuner_inline_media")  # string content beside parts in each row
TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}
PARTS_ONLY = (
    "{% for m in messages %}<{{ m.role }}>{% for p in m.content %}{% if p.type == 'text' %}"
    "{{ p.text }}{% endif %}{% endfor %}{% endfor %}"
)
STRINGS = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"


def _as_parts(messages: list[dict]) -> list[dict]:
    """TRL's vision format: each string content one text part."""
    return [
        {**m, "content": [{"type": "text", "text": m["content"]}]}
        if isinstance(m.get("content"), str)
        else m
        for m in messages
    ]


def test_parts_only_roles_are_found_by_probe():
    assert parts_only_roles(ChatTemplate(PARTS_ONLY, special_tokens=TOKENS)) == {
        "system", "user", "assistant", "tool",
    }  # fmt: skip
    assert parts_only_roles(ChatTemplate(STRINGS, special_tokens=TOKENS)) == frozenset()


def test_string_content_reaches_a_parts_only_template_as_one_text_part():
    template = ChatTemplate(PARTS_ONLY, special_tokens=TOKENS)
    chat = [{"role": "user", "content": "Hi <b>"}, {"role": "assistant", "content": "Yo"}]
    roles = parts_roles(template)
    out, info = prepare(chat, "messages", roles, parts_only=parts_only_roles(template))
    assert out == _as_parts(chat) and not info.joined
    assert template.render(out) == "<user>Hi <b><assistant>Yo"
    # a template rendering strings gets them as they are
    same, _ = prepare(chat, "messages", roles, parts_only=frozenset())
    assert same is chat


@pytest.mark.parametrize(
    ("template", "args"),
    [
        ("idefics3", ["--template-kwarg", "bos_token=<|begin_of_text|>"]),
        ("llava_next", []),
    ],
)
def test_string_conversations_render_their_text(tmp_path, template, args):
    """Idefics3 rendered `System: <end_of_utterance>` for every message; LLaVA-Next refused
    the row ('str object' has no attribute 'text')."""
    if not (TEMPLATES / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    out = tmp_path / "o.jsonl"
    res = run("convert", CHAT, "--chat-template", TEMPLATES / f"{template}.jinja", *args,
              "-o", out)  # fmt: skip
    assert res.exit_code == 0 and counts(res.output) == (1, 0, 1, 1), res.output
    (row,) = rows_of(out)
    raw = json.loads(CHAT.read_text())[0]["conversations"]
    roles = {"system": "system", "human": "user", "gpt": "assistant"}
    messages = [{"role": roles[m["from"]], "content": m["value"]} for m in raw]
    assert "The meaning of life is 42." in row["text"]
    assert row["text"] == original_render(template, _as_parts(messages))


def test_content_of_two_kinds_renders_the_strings_on_idefics3(tmp_path):
    """xtuner's rows hold the system prompt and answers as strings beside image parts: the
    strings rendered empty."""
    if not (TEMPLATES / "idefics3.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    out = tmp_path / "o.jsonl"
    res = run("convert", MIXED, "--chat-template", TEMPLATES / "idefics3.jinja",
              "--template-kwarg", "bos_token=<|begin_of_text|>", "-o", out)  # fmt: skip
    assert res.exit_code == 0 and counts(res.output) == (4, 0, 4, 4), res.output
    raws = rows_of(MIXED)
    for raw, row in zip(raws, rows_of(out), strict=True):
        assert row["text"] == original_render("idefics3", _as_parts(raw["messages"]))
    assert "System: 你是一个专业的图像分析助手" in rows_of(out)[0]["text"]


def test_malformed_parts_are_refused_with_a_template_as_without(tmp_path):
    """xtuner's lines 3 and 4 nest the conversation inside a part (validate: invalid-part):
    `convert` refused them, `convert --chat-template` rendered them (the user's video and
    nothing else, as transformers does), silently; now both refuse them alike."""
    if not (TEMPLATES / "qwen2_5_vl.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    videos = sample("xtuner_video_paths")
    refused = {}
    for name, args in {
        "plain": [],
        "template": ["--chat-template", TEMPLATES / "qwen2_5_vl.jinja"],
    }.items():
        out = tmp_path / f"{name}.jsonl"
        res = run("convert", videos, *args, "--on-error", "skip", "-o", out)
        assert res.exit_code == 0 and counts(res.output) == (10, 2, 8, 8), res.output
        rejects = [json.loads(x) for x in out.with_suffix(".rejects.jsonl").open()]
        refused[name] = [(r["line"], r["stage"], r["reason"]) for r in rejects]
    assert refused["template"] == refused["plain"]
    assert [
        (line, reason.endswith("(rule invalid-part)")) for line, _, reason in refused["plain"]
    ] == [
        (3, True),
        (4, True),
    ]


def test_an_untyped_part_is_refused_on_any_template():
    chat = [{"role": "user", "content": [{"type": "text", "text": "a"}, {"role": "user"}]}]
    for source in (PARTS_ONLY, STRINGS):
        template = ChatTemplate(source, special_tokens=TOKENS)
        with pytest.raises(RowError, match="message 0: a content part has no type"):
            prepare(chat, "messages", parts_roles(template))


def test_the_sweep_finds_no_defect_on_a_case(capsys):
    """The sweep script runs (one case, the two templates the defect was on)."""
    import sys

    if not TEMPLATES.is_dir():
        pytest.skip("../shared (original chat templates) is absent")
    sys.path.insert(0, str(HERE))
    from rendersweep import main

    assert main(["--cases", "torchtune_chat,swift_mm1", "--templates", "idefics3,qwen3"]) == 0
    table = capsys.readouterr().out
    assert "| idefics3 | 2 | 4 | 0 | 0 | 0 | 0 | 0 |" in table, table


def test_split_turns_of_inline_media_render_in_one_run_as_in_two(tmp_path):
    """xtuner's rows show images and videos in later turns too: one run splitting and
    rendering moved every medium of the conversation to each turn's row, so the first
    turns' rows held more images than parts and were refused (4 rows -> 2); now each turn's
    row keeps the media its turns show, and renders as the original renders what TRL's
    trainers hand it (`prepare_multimodal_messages`: the system string one text part)."""
    from trl.data_utils import prepare_multimodal_messages

    template = TEMPLATES / "diffusion_gemma.jinja"
    if not template.exists():
        pytest.skip("../shared (original chat templates) is absent")
    kw = ["--template-kwarg", "bos_token=<bos>", "--template-kwarg", "eos_token=<eos>"]
    split = ["--to", "prompt-completion", "--split-turns", "all"]
    one, read, two = (tmp_path / f"{n}.jsonl" for n in ("one", "read", "two"))
    res = run("convert", MIXED, *split, "--chat-template", template, *kw, "-o", one)
    assert res.exit_code == 0 and counts(res.output) == (4, 0, 4, 8), res.output
    assert run("convert", MIXED, *split, "-o", read).exit_code == 0
    assert run("convert", read, "--chat-template", template, *kw, "-o", two).exit_code == 0
    rendered = rows_of(one)
    assert [(len(r["images"]), len(r["videos"])) for r in rendered[:3]] == [(2, 0), (3, 0), (3, 0)]
    assert [r["prompt"] for r in rendered] == [r["prompt"] for r in rows_of(two)]
    first = rows_of(read)[0]
    want = original_render(
        "diffusion_gemma", prepare_multimodal_messages(first["prompt"]), add_generation_prompt=True
    )
    assert rendered[0]["prompt"] == want


def test_the_sweep_renders_moved_media_as_trl_hands_them(capsys):
    """Where the render moved inline media to their columns, the sweep's reference is the
    original's render of the messages TRL's trainers prepare (the system string one text
    part, which Gemma's diffusion template ends with a space): no DIFFERENT row."""
    import sys

    if not TEMPLATES.is_dir():
        pytest.skip("../shared (original chat templates) is absent")
    sys.path.insert(0, str(HERE))
    from rendersweep import main

    assert main(["--cases", "xtuner_inline_media", "--templates", "diffusion_gemma"]) == 0
    assert "| diffusion_gemma | 1 | 4 | 0 | 0 | 0 | 0 | 0 |" in capsys.readouterr().out
