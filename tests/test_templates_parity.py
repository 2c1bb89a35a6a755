"""Byte-for-byte parity with TRL's `apply_chat_template` for every original template in
../shared/data/chat_templates and every conversational type, on generated conversations
(system prompts, multi-turn, tool calls, a prefilled assistant prompt, template kwargs,
reasoning, vision parts) — one example at a time and through the table renderer.
Skipped without trl or ../shared.

Two deliberate differences: content given as text-only parts, on a role whose content the
template renders only as a string, is joined into that string (TRL hands the list over and
the template prints its repr or raises); image parts there are refused. String content, on a
role whose content the template renders only as parts (Idefics3 renders a string as
nothing, LLaVA-Next raises), is one text part, as TRL's vision format gives it. The expected
render is TRL's on the example so fitted.
"""

from __future__ import annotations

import collections

import pytest
from templates_support import TEMPLATES_DIR, examples, template_tokenizer

from trlprep.errors import DataError
from trlprep.io.readers import table_from_records
from trlprep.templates import apply_chat_template, load_template, render_table
from trlprep.templates.probes import parts_only_roles, parts_roles

trl = pytest.importorskip("trl")

TEMPLATE_PATHS = sorted(TEMPLATES_DIR.glob("*.jinja")) if TEMPLATES_DIR.exists() else []
pytestmark = pytest.mark.skipif(not TEMPLATE_PATHS, reason="../shared is not available")
CORPUS = examples(seed=0)


class Refused(Exception):
    """Image parts on a role the template renders only as text."""


def fitted(example, roles, parts_only=frozenset()):
    """The example as trlprep hands it to a template rendering parts for `roles` only (and
    only parts for `parts_only`)."""
    out = dict(example)
    for key, value in example.items():
        if not (isinstance(value, list) and value and isinstance(value[0], dict)):
            continue
        msgs = []
        for m in value:
            content = m.get("content")
            if isinstance(content, list) and m["role"] not in roles:
                if any(p["type"] != "text" for p in content):
                    raise Refused(m["role"])
                m = {**m, "content": "".join(p["text"] for p in content)}
            elif isinstance(content, str) and m["role"] in parts_only:
                m = {**m, "content": [{"type": "text", "text": content}]}
            msgs.append(m)
        out[key] = msgs
    return out


def trl_outcome(example, tokenizer, tools):
    try:
        template = load_template(tokenizer)
        example = fitted(example, parts_roles(template), parts_only_roles(template))
        return trl.apply_chat_template(example, tokenizer, tools=tools), None
    except Exception as e:  # the template's own error, or transformers' checks
        return None, e


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_single_examples_match_trl(path):
    tokenizer = template_tokenizer(path)
    rendered = 0
    for tag, type_name, example, tools in CORPUS:
        want, error = trl_outcome(example, tokenizer, tools)
        if error is None:
            got = apply_chat_template(example, tokenizer, tools=tools)
            assert {k: got[k] for k in want} == want, (path.stem, tag, type_name)
            rendered += 1
        else:
            with pytest.raises(DataError) as info:
                apply_chat_template(example, tokenizer, tools=tools)
            if type(error).__name__ == "TemplateError":  # raise_exception: same message kept
                assert str(error) in info.value.message, (path.stem, tag, type_name)
    assert rendered > 0


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_tables_match_trl(path):
    tokenizer = template_tokenizer(path)
    template = load_template(tokenizer)
    by_type = collections.defaultdict(list)
    for _, type_name, example, tools in CORPUS:
        want, error = trl_outcome(example, tokenizer, tools)
        if error is None:
            by_type[type_name].append(({**example, "tools": tools}, want))
    assert by_type
    for type_name, items in by_type.items():
        table = table_from_records([row for row, _ in items])
        out, report = render_table(table, type_name, template, num_proc=1)
        assert report.rows == len(items)
        for i, (got, (_, want)) in enumerate(zip(out.to_pylist(), items, strict=True)):
            assert {k: got[k] for k in want} == want, (path.stem, type_name, i)


def test_guide_outputs_phi3():
    """The guide's printed outputs for Phi-3 (dataset formats guide, apply_chat_template)."""
    path = TEMPLATES_DIR / "phi3.jinja"
    tokenizer = template_tokenizer(path)
    prompt = [{"role": "user", "content": "What color is the sky?"}]
    assert apply_chat_template({"prompt": prompt}, tokenizer) == {
        "prompt": "<|user|>\nWhat color is the sky?<|end|>\n<|assistant|>\n"
    }
    assert apply_chat_template({"messages": prompt}, tokenizer) == {
        "text": "<|user|>\nWhat color is the sky?<|end|>\n<|endoftext|>"
    }
    example = {"prompt": prompt, "completion": [{"role": "assistant", "content": "It is blue."}]}
    assert apply_chat_template(example, tokenizer) == {
        "prompt": "<|user|>\nWhat color is the sky?<|end|>\n<|assistant|>\n",
        "completion": "It is blue.<|end|>\n<|endoftext|>",
    }


def test_guide_dataset_map_output_phi3():
    import datasets

    tokenizer = template_tokenizer(TEMPLATES_DIR / "phi3.jinja")
    ds = datasets.Dataset.from_dict(
        {
            "prompt": [
                [{"role": "user", "content": "What color is the sky?"}],
                [{"role": "user", "content": "Where is the sun?"}],
            ],
            "completion": [
                [{"role": "assistant", "content": "It is blue."}],
                [{"role": "assistant", "content": "In the sky."}],
            ],
        }
    )
    out = apply_chat_template(ds, tokenizer, num_proc=1)
    assert isinstance(out, datasets.Dataset)
    assert out["prompt"] == [
        "<|user|>\nWhat color is the sky?<|end|>\n<|assistant|>\n",
        "<|user|>\nWhere is the sun?<|end|>\n<|assistant|>\n",
    ]
    assert out["completion"] == [
        "It is blue.<|end|>\n<|endoftext|>",
        "In the sky.<|end|>\n<|endoftext|>",
    ]


def test_guide_llama31_example():
    """The guide prints a ChatML render with a default system prompt under "Llama 3.1".

    That output is not what the Llama 3.1 template renders (a dated system header, checked
    here against TRL); it is ChatML with "You are a helpful assistant." inserted, as the
    Qwen 2 template does. trlprep follows the template, not the guide's mislabelled output.
    """
    example = {
        "prompt": [{"role": "user", "content": "What color is the sky?"}],
        "completion": [{"role": "assistant", "content": "It is blue."}],
    }
    guide = {
        "prompt": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "What color is the sky?<|im_end|>\n<|im_start|>assistant\n",
        "completion": "It is blue.<|im_end|>\n",
    }
    system = [{"role": "system", "content": "You are a helpful assistant."}]
    chatml = {**example, "prompt": system + example["prompt"]}
    assert apply_chat_template(chatml, "chatml") == guide
    llama = template_tokenizer(TEMPLATES_DIR / "llama3_1.jinja")
    got = apply_chat_template(example, llama)
    assert got == trl.apply_chat_template(example, llama)
    assert got != guide
    assert got["prompt"].startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date"
    )
    assert got["completion"] == "It is blue.<|eot_id|>"
