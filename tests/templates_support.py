"""Shared helpers for the chat-template tests: tiny tokenizers and a conversation corpus.

No network: tokenizers are built with the `tokenizers` library and wrapped in
transformers' PreTrainedTokenizerFast, with the template under test attached.
"""

from __future__ import annotations

import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
TEMPLATES_DIR = SHARED / "data" / "chat_templates"

# plausible special tokens per template family (the values only need to be the same on both sides)
TOKENS = {
    "cohere": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "deepseek": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "gemma": ("<bos>", "<eos>"),
    "gptoss": (None, "<|return|>"),
    "glm": (None, "<|endoftext|>"),
    "idefics": ("<|begin_of_text|>", "<end_of_utterance>"),
    "lfm": ("<|startoftext|>", "<|im_end|>"),
    "llama": ("<|begin_of_text|>", "<|eot_id|>"),
    "phi": ("<s>", "<|endoftext|>"),
    "qwen": (None, "<|im_end|>"),
    "nemotron": ("<s>", "<|im_end|>"),
}


def tokens_for(name: str) -> tuple[str | None, str]:
    for prefix, toks in TOKENS.items():
        if name.startswith(prefix) or prefix in name:
            return toks
    return ("<s>", "</s>")


def tiny_tokenizer(template: str | None, bos: str | None = "<s>", eos: str = "</s>", words=()):
    """A word-level tokenizer with bos/eos special tokens and `template` as chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", eos] + ([bos] if bos else [])
    vocab = {w: i for i, w in enumerate(dict.fromkeys([*specials, *words]))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    kwargs = {"bos_token": bos} if bos else {}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, unk_token="<unk>", **kwargs)
    fast.chat_template = template
    return fast


def template_tokenizer(path: Path):
    bos, eos = tokens_for(path.stem)
    return tiny_tokenizer(path.read_text(encoding="utf-8"), bos=bos, eos=eos)


# ---------------------------------------------------------------- corpus

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city. Use <city> names & 'quotes'.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}

_USER = [
    "What color is the sky?",
    "Where is the sun?",
    '  Tell me a joke about <tags> & "quotes".  ',
    "Résumé in 日本語, please.\nTwo lines.",
    "How much is 2 + 2?",
]
_ASSISTANT = [
    "It is blue.",
    "In the sky.",
    "  Why did the chicken cross the road? To get to the other side.  ",
    "Voilà: 履歴書.\n",
    "4.",
]
_SYSTEM = ["You are a helpful assistant.", "Answer briefly.  "]


def _u(rng):
    return {"role": "user", "content": rng.choice(_USER)}


def _a(rng):
    return {"role": "assistant", "content": rng.choice(_ASSISTANT)}


def conversation(rng: random.Random, *, system: bool, turns: int, end: str = "assistant"):
    """system? + (user, assistant) * turns, ending on `end` (user or assistant)."""
    msgs = [{"role": "system", "content": rng.choice(_SYSTEM)}] if system else []
    for _ in range(turns):
        msgs += [_u(rng), _a(rng)]
    if end == "user":
        msgs.append(_u(rng))
    return msgs


def tool_exchange(rng: random.Random, system: bool):
    """A user asks, the assistant calls a tool, the tool answers, the assistant replies."""
    city = rng.choice(["Paris", "Tokyo"])
    msgs = [{"role": "system", "content": rng.choice(_SYSTEM)}] if system else []
    msgs += [
        {"role": "user", "content": f"What is the weather in {city}?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": city}},
                }
            ],
        },
        {"role": "tool", "name": "get_weather", "content": '{"temperature": 22}'},
        {"role": "assistant", "content": f"It is 22 degrees in {city}."},
    ]
    return msgs


def examples(seed: int = 0, n_plain: int = 6):
    """(label, type name, example, tools) covering system prompts, multi-turn, prefill, tools."""
    rng = random.Random(seed)
    out = []
    for k in range(n_plain):
        system = k % 2 == 0
        turns = k % 3
        prompt = conversation(rng, system=system, turns=turns, end="user")
        tag = f"plain{k}(system={system},turns={turns})"
        out.append((tag, "language-modeling", {"messages": prompt + [_a(rng)]}, None))
        out.append((tag, "prompt-only", {"prompt": prompt}, None))
        out.append((tag, "prompt-completion", {"prompt": prompt, "completion": [_a(rng)]}, None))
        out.append(
            (
                tag,
                "preference",
                {"prompt": prompt, "chosen": [_a(rng)], "rejected": [_a(rng)]},
                None,
            )
        )
        out.append(
            (
                tag,
                "preference-implicit",
                {"chosen": prompt + [_a(rng)], "rejected": prompt + [_a(rng)]},
                None,
            )
        )
        out.append(
            (
                tag,
                "unpaired-preference",
                {"prompt": prompt, "completion": [_a(rng)], "label": bool(k % 2)},
                None,
            )
        )
        out.append(
            (
                tag,
                "stepwise-supervision",
                {"prompt": prompt, "completions": ["Step 1.", " Step 2."], "labels": [True, False]},
                None,
            )
        )
    # a prefilled assistant prompt (continue_final_message)
    prefill = [_u(rng), {"role": "assistant", "content": "Sure, here is"}]
    out.append(("prefill", "prompt-only", {"prompt": prefill}, None))
    out.append(("prefill", "prompt-completion", {"prompt": prefill, "completion": [_a(rng)]}, None))
    # tool calls, with and without the tool schemas
    for system in (False, True):
        conv = tool_exchange(rng, system)
        tag = f"tools(system={system})"
        out.append((tag, "language-modeling", {"messages": conv}, [WEATHER_TOOL, ADD_TOOL]))
        out.append((tag, "prompt-only", {"prompt": conv[:-1]}, [WEATHER_TOOL]))
        out.append((tag, "prompt-completion", {"prompt": conv[:-1], "completion": conv[-1:]}, None))
        out.append(
            (
                tag,
                "preference",
                {"prompt": conv[: 1 + system], "chosen": conv[1 + system :], "rejected": [_a(rng)]},
                [WEATHER_TOOL],
            )
        )
    # template kwargs per row, and reasoning in the completion
    for k in range(2):
        prompt = conversation(rng, system=bool(k), turns=k, end="user")
        think = {"role": "assistant", "reasoning_content": "Let me think.", "content": "Done."}
        kw = {"enable_thinking": False}
        out.append(("kwargs", "prompt-only", {"prompt": prompt, "chat_template_kwargs": kw}, None))
        out.append(
            (
                "kwargs",
                "prompt-completion",
                {"prompt": prompt, "completion": [think], "chat_template_kwargs": kw},
                None,
            )
        )
        out.append(
            ("reasoning", "prompt-completion", {"prompt": prompt, "completion": [think]}, None)
        )
        out.append(
            (
                "reasoning",
                "preference",
                {"prompt": prompt, "chosen": [think], "rejected": [_a(rng)]},
                None,
            )
        )
    # vision: content parts (templates without vision support raise or render them as text)
    img = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}],
        },
    ]
    ans = [{"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]
    out.append(("vision", "language-modeling", {"messages": img + ans}, None))
    out.append(("vision", "prompt-completion", {"prompt": img, "completion": ans}, None))
    out.append(("vision", "preference", {"prompt": img, "chosen": ans, "rejected": ans}, None))
    return out
