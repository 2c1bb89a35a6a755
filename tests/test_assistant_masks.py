"""Assistant masks (`templates.spans`, `templates.assistant_tokens`): the tokens of assistant
messages found by rendering prefixes agree with transformers' `{% generation %}` masks, and
decode to exactly each assistant text plus its end-of-turn token on the original templates."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from templates_support import TEMPLATES_DIR

from trlprep.templates.assistant_tokens import has_weights, mask_conversations
from trlprep.templates.template import ChatTemplate

# the original templates' special tokens (only what the templates read)
TOKENS = {
    "qwen2_5": ({}, "<|im_end|>"),
    "llama3_1": ({"bos_token": "<|begin_of_text|>"}, "<|eot_id|>"),
    "gemma": ({"bos_token": "<bos>"}, "<end_of_turn>"),
    "phi3": ({"eos_token": "<|endoftext|>"}, "<|end|>"),
}
SPECIAL = re.compile(r"<\|[a-z_]{2,20}\|>|<(?:start|end)_of_turn>|<bos>")

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "It is 4."}],
    [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!\nHow can I help?"},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue, like the sea."},
    ],
    [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "Two"},
        {"role": "user", "content": "Three"},
        {"role": "assistant", "content": "Four"},
        {"role": "user", "content": "Five"},
        {"role": "assistant", "content": "Six, then seven."},
    ],
]


def _original(name: str) -> str:
    path = TEMPLATES_DIR / f"{name}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    return path.read_text(encoding="utf-8")


def byte_tokenizer(template: str, tokens: dict[str, str] | None = None):
    """A byte-level tokenizer (every text decodes to itself) knowing the template's special
    tokens, with `template` as its chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE({c: i for i, c in enumerate(alphabet)}, []))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tokens = tokens or {}
    found = sorted({*SPECIAL.findall(template), *tokens.values()})
    tok.add_special_tokens(found)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **tokens)
    fast.add_special_tokens({"additional_special_tokens": found})
    fast.chat_template = template
    return fast


def _masked_text(tok, ids: list[int], mask: list[int]) -> str:
    return tok.decode([i for i, m in zip(ids, mask, strict=True) if m])


def _table(convs: list) -> pa.Table:
    return pa.table({"messages": convs})


def _with_markers(qwen: str) -> str:
    """Qwen2.5's original template with `{% generation %}` around each plain assistant
    turn's content and end-of-turn token (the text it renders is unchanged)."""
    head = '{%- for message in messages %}\n    {%- if (message.role == "user")'
    assert head in qwen
    marked = (
        "{%- for message in messages %}\n"
        '    {%- if message.role == "assistant" and not message.tool_calls %}'
        "{{- '<|im_start|>assistant\\n' }}{% generation %}"
        "{{- message.content + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}\n"
        '    {%- elif (message.role == "user")'
    )
    return qwen.replace(head, marked)


def test_prefix_masks_equal_transformers_generation_masks():
    qwen = _original("qwen2_5")
    marked = _with_markers(qwen)
    tok = byte_tokenizer(marked)
    table = _table(CONVERSATIONS)
    by_prefix = mask_conversations(table, ChatTemplate(qwen, name="qwen2_5"), tok)
    by_markers = mask_conversations(table, ChatTemplate(marked, name="marked"), tok)
    assert not by_prefix.refused and not by_markers.refused
    for i, conv in enumerate(CONVERSATIONS):
        want = tok.apply_chat_template(
            conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        assert by_prefix.input_ids[i] == list(want["input_ids"])
        assert by_prefix.assistant_masks[i] == list(want["assistant_masks"])
        assert by_markers.assistant_masks[i] == list(want["assistant_masks"])
        assert sum(want["assistant_masks"]) > 0


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_masked_tokens_are_the_assistant_texts_and_end_of_turn(name):
    src = _original(name)
    tokens, end = TOKENS[name]
    tok = byte_tokenizer(src, tokens)
    got = mask_conversations(_table(CONVERSATIONS), ChatTemplate(src, name, tokens), tok)
    assert not got.refused
    for i, conv in enumerate(CONVERSATIONS):
        text = "".join(m["content"] + end for m in conv if m["role"] == "assistant")
        assert _masked_text(tok, got.input_ids[i], got.assistant_masks[i]) == text
        assert tok.decode(got.input_ids[i]) == tok.apply_chat_template(conv, tokenize=False)


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_weight_0_messages_are_masked_out(name):
    src = _original(name)
    tokens, end = TOKENS[name]
    conv = [dict(m) for m in CONVERSATIONS[2]]
    conv[1]["weight"], conv[3]["weight"], conv[5]["weight"] = 1.0, 0.0, None
    tok = byte_tokenizer(src, tokens)
    got = mask_conversations(_table([conv]), ChatTemplate(src, name, tokens), tok)
    assert (
        _masked_text(tok, got.input_ids[0], got.assistant_masks[0])
        == f"Two{end}Six, then seven.{end}"
    )
    assert got.weighted_out == 1 and got.assistant_messages == 3


def test_generation_markers_place_weights_on_their_messages():
    marked = _with_markers(_original("qwen2_5"))
    tok = byte_tokenizer(marked)
    conv = [dict(m) for m in CONVERSATIONS[1]]
    conv[1]["weight"] = 0
    got = mask_conversations(_table([conv]), ChatTemplate(marked, name="marked"), tok)
    assert _masked_text(tok, got.input_ids[0], got.assistant_masks[0]) == (
        "Blue, like the sea.<|im_end|>"
    )


def test_a_template_that_is_not_prefix_stable_is_refused_not_guessed():
    """Qwen3 renders an earlier assistant turn without the empty think block it gives the
    last one: the multi-turn rows are refused, the single-turn one is masked."""
    src = _original("qwen3")
    tok = byte_tokenizer(src)
    got = mask_conversations(_table(CONVERSATIONS), ChatTemplate(src, name="qwen3"), tok)
    assert sorted(got.refused) == [1, 2]
    assert "message 2 (assistant): the chat template qwen3 is not prefix-stable" in got.refused[1]
    assert "{% generation %}" in got.refused[1]
    assert got.input_ids[1] == [] and got.assistant_masks[2] == []
    masked = _masked_text(tok, got.input_ids[0], got.assistant_masks[0])
    assert masked == "<think>\n\n</think>\n\nIt is 4.<|im_end|>"


def test_fractional_weights_and_leading_assistant_turns_are_refused():
    src = _original("qwen2_5")
    tok = byte_tokenizer(src)
    half = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0.5}]
    first = [{"role": "assistant", "content": "b"}, {"role": "user", "content": "a"}]
    got = mask_conversations(_table([half, first, CONVERSATIONS[0]]), ChatTemplate(src), tok)
    assert sorted(got.refused) == [0, 1]
    assert "message 2 (assistant) has weight 0.5: only 0" in got.refused[0]
    assert "an assistant message opens the conversation" in got.refused[1]


def test_weights_are_found_in_weight_and_loss_fields():
    def msgs(**extra):
        return pa.array([[{"role": "assistant", "content": "x", **extra}]])

    assert has_weights(msgs(weight=0.0)) and has_weights(msgs(loss=False))
    assert not has_weights(msgs()) and not has_weights(msgs(weight=None))
    assert not has_weights(pa.array([[{"role": "user", "content": "x"}]]))
    assert has_weights(pa.array(['[{"role": "assistant", "content": "x", "weight": 0}]']))


def test_worker_processes_give_the_masks_one_process_gives():
    """A table large enough for two workers: the same ids, masks and refused rows (a row
    refused past the first worker's part keeps its own position)."""
    src = _original("qwen2_5")
    tok = byte_tokenizer(src)
    half = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0.5}]
    convs = (CONVERSATIONS * 3000)[:9000]
    convs[8500] = half
    table = _table(convs)
    one = mask_conversations(table, ChatTemplate(src), tok, num_proc=1)
    two = mask_conversations(table, ChatTemplate(src), tok, num_proc=2)
    assert list(two.refused) == [8500] and two.refused == one.refused
    assert two.input_ids == one.input_ids and two.assistant_masks == one.assistant_masks
    assert (two.assistant_messages, two.weighted_out) == (one.assistant_messages, 0)
