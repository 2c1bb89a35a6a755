"""Built-in templates render byte-identically to the models' original templates.

Originals: Llama 3 / 3.1, Qwen 2.5, Phi-3 and Gemma from ../shared/data/chat_templates (skipped
without ../shared); ChatML, Mistral and Zephyr have no original there, so they are checked
against the well-known template texts below, reconstructed from public sources:
- CHATML: the ChatML template TRL's `setup_chat_format` installs (ChatMlSpecialTokens);
- MISTRAL: mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json `chat_template`
  (v0.2 ships the same one);
- ZEPHYR: HuggingFaceH4/zephyr-7b-beta tokenizer_config.json `chat_template`.
"""

from __future__ import annotations

import itertools
import random

import pytest
from templates_support import ADD_TOOL, TEMPLATES_DIR, WEATHER_TOOL

from trlprep.errors import UsageError
from trlprep.templates import BUILTINS, ChatTemplate, RenderError, list_builtins, load_template

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}"
)
ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
    "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' "
    "+ message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
    "{% endfor %}"
)
REFERENCES = {"chatml": CHATML, "mistral": MISTRAL, "zephyr": ZEPHYR}
SHARED_ORIGINALS = {
    "llama3": "llama3.jinja",
    "llama3.1": "llama3_1.jinja",
    "qwen2.5": "qwen2_5.jinja",
    "phi3": "phi3.jinja",
    "gemma": "gemma.jinja",
}


def original(name: str) -> ChatTemplate:
    builtin = load_template(name)
    if name in REFERENCES:
        text = REFERENCES[name]
    else:
        path = TEMPLATES_DIR / SHARED_ORIGINALS[name]
        if not path.exists():
            pytest.skip("../shared is not available")
        text = path.read_text(encoding="utf-8")
    return ChatTemplate(text, name=builtin.name, special_tokens=builtin.special_tokens)


# ---------------------------------------------------------------- corpus

TEXTS = [
    "Hello!",
    "  padded with spaces and a newline\n",
    "JSON-ish: {\"a\": 1} <b>bold</b> & 'quotes'",
    "日本語とémojis 🙂",
    "",
]


def _turn(role: str, rng: random.Random) -> dict:
    return {"role": role, "content": rng.choice(TEXTS)}


def conversations(seed: int = 0):
    """Plain conversations: system or not, 1-3 exchanges, ending on user or assistant."""
    rng = random.Random(seed)
    out = []
    for system, pairs, end in itertools.product((False, True), (0, 1, 2), ("user", "assistant")):
        msgs = [_turn("system", rng)] if system else []
        for _ in range(pairs):
            msgs += [_turn("user", rng), _turn("assistant", rng)]
        if end == "user" or not pairs:
            msgs.append(_turn("user", rng))
            if end == "assistant":
                msgs.append(_turn("assistant", rng))
        out.append(msgs)
    return out


def tool_conversations():
    call = {
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    }
    bare_call = {"name": "add", "arguments": '{"a": 1, "b": 2}'}  # no "function" wrapper
    return [
        [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": '{"temp": 21}'},
            {"role": "assistant", "content": "21 degrees."},
        ],
        [
            {"role": "user", "content": "Weather, and 1 + 2?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [call, bare_call]},
            {"role": "tool", "content": '{"temp": 21}'},
            {"role": "tool", "content": "3"},
            {"role": "user", "content": "Thanks"},
        ],
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "content": {"temp": 21}},
        ],
    ]


def cases(name: str):
    """(messages, render options) for a built-in: generation prompt on/off, prefill, tools."""
    info = BUILTINS[name]
    out = []
    for msgs in conversations():
        if not info.system and msgs[0]["role"] == "system":
            out.append((msgs, {}))  # must raise the same way
            continue
        out.append((msgs, {"add_generation_prompt": False}))
        out.append((msgs, {"add_generation_prompt": True}))
        if msgs[-1]["role"] == "assistant" and msgs[-1]["content"].strip():
            out.append((msgs, {"continue_final_message": True}))
    if info.tools:
        for msgs, tools in itertools.product(
            tool_conversations(), (None, [WEATHER_TOOL, ADD_TOOL])
        ):
            out.append((msgs, {"tools": tools}))
            out.append((msgs, {"tools": tools, "add_generation_prompt": True}))
        for msgs in conversations()[:6]:
            out.append((msgs, {"tools": [WEATHER_TOOL]}))
            out.append((msgs, {"tools": []}))
    if name == "llama3.1":
        msgs = tool_conversations()[0]
        search = {
            "type": "function",
            "function": {"name": "brave_search", "arguments": {"query": "x"}},
        }
        ipython = [
            {"role": "user", "content": "Search"},
            {"role": "assistant", "tool_calls": [search]},
        ]
        extra = [
            (msgs, {"tools": [WEATHER_TOOL], "tools_in_user_message": False}),
            (msgs, {"tools": [WEATHER_TOOL], "date_string": "01 Jan 2025"}),
            (msgs, {"custom_tools": [ADD_TOOL]}),
            (ipython, {"builtin_tools": ["brave_search", "code_interpreter"]}),
            (ipython, {"builtin_tools": ["wolfram_alpha"]}),
            ([{"role": "system", "content": "only"}], {"tools": [WEATHER_TOOL]}),  # raises
        ]
        out += extra
    if name in ("gemma", "mistral"):
        out.append(([_turn("user", random.Random(1))] * 2, {}))  # roles do not alternate
    if name == "mistral":
        out.append(([{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}], {}))
    return out


def outcome(template: ChatTemplate, msgs, opts):
    try:
        return ("ok", template.render(msgs, **opts))
    except RenderError as e:
        return ("error", e.message.split("raised: ")[-1].split("failed: ")[-1][:60])


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_matches_original(name):
    builtin, orig = load_template(name), original(name)
    assert builtin.source != orig.source  # written by this project, not a copy
    seen_ok = seen_error = 0
    for msgs, opts in cases(name):
        want, got = outcome(orig, msgs, opts), outcome(builtin, msgs, opts)
        assert got == want, (name, msgs, opts)
        seen_ok += want[0] == "ok"
        seen_error += want[0] == "error"
    assert seen_ok >= 10


def test_builtins_raise_the_originals_errors():
    gemma = load_template("gemma")
    with pytest.raises(RenderError, match="System role not supported"):
        gemma.render([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])
    with pytest.raises(RenderError, match="roles must alternate"):
        load_template("mistral").render([{"role": "assistant", "content": "x"}])


def test_listing_and_aliases():
    names = [b.name for b in list_builtins()]
    assert {"chatml", "llama3", "llama3.1", "qwen2.5", "phi3", "gemma", "mistral", "zephyr"} <= set(
        names
    )
    assert load_template("qwen2_5").name == "qwen2.5"
    assert load_template("Llama3_1").name == "llama3.1"
    with pytest.raises(UsageError, match="not a built-in name"):
        load_template("no-such-template")


def test_builtin_special_tokens_are_used():
    msgs = [{"role": "user", "content": "Hi"}]
    assert load_template("llama3").render(msgs).startswith("<|begin_of_text|>")
    assert load_template("phi3").render(msgs).endswith("<|endoftext|>")
    custom = load_template("phi3", template_kwargs={"eos_token": "<END>"})
    assert custom.render(msgs).endswith("<END>")
