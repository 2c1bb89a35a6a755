"""The sandbox is configured like transformers' (same output) and keeps templates inside it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from templates_support import tiny_tokenizer

from trlprep.errors import InputError, UsageError
from trlprep.templates import ChatTemplate, RenderError, TemplateSecurityError, load_template

MSGS = [
    {"role": "system", "content": "Be <nice> & 'brief'"},
    {"role": "user", "content": "  Hi  "},
    {"role": "assistant", "content": "Hello", "reasoning_content": "think"},
]

# constructs whose rendering depends on the environment's options, globals and filters
FEATURES = {
    "trim_lstrip": (
        "{% for m in messages %}\n    {% if m.role == 'user' %}\n{{ m.content }}\n"
        "    {% endif %}\n{% endfor %}"
    ),
    "tojson": (
        "{{ messages | tojson }}|{{ messages[0] | tojson(indent=2) }}|"
        "{{ {'b': 1, 'a': 'é'} | tojson(sort_keys=True) }}"
    ),
    "tojson_ascii": (
        "{{ messages[0].content | tojson(ensure_ascii=True, separators=(',', ':')) }}"
    ),
    "loopcontrols": (
        "{% for m in messages %}{% if loop.first %}{% continue %}{% endif %}{{ m.role }}"
        "{% if m.role == 'user' %}{% break %}{% endif %}{% endfor %}"
    ),
    "generation": (
        "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}"
        "{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}"
    ),
    "namespace": (
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
        "{% endfor %}{{ ns.n }}"
    ),
    "dict": "{{ dict(a=1, b=messages[0].role) | tojson }}{{ dict.fromkeys(['x'], 0) }}",
    "reasoning_alias": (
        "{% for m in messages %}{{ m.thinking }}|{{ m.reasoning_content }};{% endfor %}"
    ),
    "special_tokens": (
        "{{ bos_token }}{{ eos_token }}{{ messages | length }}{{ add_generation_prompt }}"
    ),
    "strftime": "{{ strftime_now('%Y') | length }}",
    "trim_filter": "{{ messages[1].content | trim }}!",
}


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_renders_like_transformers(name):
    source = FEATURES[name]
    tok = tiny_tokenizer(source, bos="<s>", eos="</s>")
    template = load_template(tok)
    for gen in (False, True):
        want = tok.apply_chat_template(MSGS, tokenize=False, add_generation_prompt=gen)
        assert template.render(MSGS, add_generation_prompt=gen) == want


def test_continue_final_message_like_transformers():
    source = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>\n{% endfor %}"
    tok = tiny_tokenizer(source)
    template = load_template(tok)
    for last in ("Sure, here", "trailing space ", [{"type": "text", "text": "part"}]):
        msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": last}]
        want = tok.apply_chat_template(msgs, tokenize=False, continue_final_message=True)
        assert template.render(msgs, continue_final_message=True) == want


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=4))
def test_tojson_is_plain_json(texts):
    """tojson is json.dumps (no HTML escaping), whatever the content."""
    import json

    msgs = [{"role": "user", "content": t} for t in texts]
    out = ChatTemplate("{{ messages | tojson }}").render(msgs)
    assert out == json.dumps(msgs, ensure_ascii=False)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ raise_exception.__globals__['os'] }}",
        "{% set ns = namespace(__class__=1) %}",
        "{{ messages.append(1) }}",
        "{{ messages[0].update({'role': 'x'}) }}",
    ],
)
def test_templates_cannot_reach_python_internals(source):
    with pytest.raises(TemplateSecurityError) as info:
        ChatTemplate(source, name="evil.jinja").render(MSGS)
    assert "evil.jinja" in info.value.message
    assert "sandbox" in info.value.message
    assert info.value.exit_code == 2


def test_unsafe_attributes_render_nothing():
    """A bare unsafe attribute is undefined (renders empty, as in transformers), never its value."""
    assert (
        ChatTemplate("[{{ ''.__class__ }}][{{ raise_exception.__globals__ }}]").render(MSGS)
        == "[][]"
    )


def test_raise_exception_keeps_the_templates_message():
    t = ChatTemplate("{{ raise_exception('No system turns, please') }}", name="strict")
    with pytest.raises(RenderError) as info:
        t.render(MSGS)
    assert info.value.message == "strict raised: No system turns, please"
    assert info.value.exit_code == 1


def test_python_errors_inside_templates_are_render_errors():
    t = ChatTemplate("{{ messages[0].content + 1 }}", name="bad")
    with pytest.raises(RenderError, match="bad failed: TypeError"):
        t.render(MSGS)


def test_syntax_errors_are_reported_at_load():
    with pytest.raises(InputError, match="line 1"):
        ChatTemplate("{% for m in messages %}", name="broken")


def test_empty_conversation_and_conflicting_options():
    t = load_template("chatml")
    with pytest.raises(RenderError, match="empty conversation"):
        t.render([])
    with pytest.raises(UsageError):
        t.render(MSGS, add_generation_prompt=True, continue_final_message=True)


def test_none_keys_are_dropped_like_transformers():
    source = "{% for m in messages %}{{ 'tool_calls' in m }}{{ m.content is defined }}{% endfor %}"
    msgs = [{"role": "user", "content": None, "tool_calls": None}]
    tok = tiny_tokenizer(source)
    assert load_template(tok).render(msgs) == tok.apply_chat_template(msgs, tokenize=False)
    assert load_template(tok).render(msgs) == "FalseFalse"
