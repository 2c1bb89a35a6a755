"""Templates that drop tool calls or tools are found by probes, and said (issue 11, round 2).

A template that renders an assistant tool-call turn without the call (Llama 3) leaves the
training target out silently: rows are counted and warned about. A template that raises on a
tool-call turn (ChatML on a message without content) fails the row saying so. The tool role
is probed for content parts like the other roles.
"""

from __future__ import annotations

import pytest
from templates_support import TEMPLATES_DIR, template_tokenizer

from trlprep.errors import RowFailures
from trlprep.io.readers import table_from_records
from trlprep.templates import load_template, render_table
from trlprep.templates.probes import parts_roles, tool_support

CALL = {"type": "function", "function": {"name": "get_tip", "arguments": {"bill": 100}}}
TOOL = {
    "type": "function",
    "function": {
        "name": "get_tip",
        "description": "Tip for a bill",
        "parameters": {"type": "object", "properties": {"bill": {"type": "number"}}},
    },
}
CHAT = [
    {"role": "user", "content": "Tip on 100?"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "content": '{"tip": 15}'},
    {"role": "assistant", "content": "15."},
]
PLAIN = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]


def original(stem: str):
    path = TEMPLATES_DIR / f"{stem}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    return template_tokenizer(path)


@pytest.mark.parametrize(
    ("name", "renders"),
    [("chatml", False), ("llama3", False), ("llama3.1", True), ("qwen2.5", True)],
)
def test_builtin_tool_support(name, renders):
    support = tool_support(load_template(name))
    assert (support.calls, support.calls_with_tools, support.tools) == (renders,) * 3


@pytest.mark.parametrize(("stem", "renders"), [("llama3", False), ("llama3_1", True)])
def test_original_template_tool_support(stem, renders):
    support = tool_support(load_template(original(stem)))
    assert support.calls is renders and support.tools is renders


def test_llama3_drops_tool_calls_and_tools_counted_and_warned():
    table = table_from_records([{"messages": CHAT, "tools": [TOOL]}, {"messages": PLAIN}])
    out, report = render_table(table, "lm", load_template("llama3"), num_proc=1)
    assert report.dropped_calls_rows == 1 and report.ignored_tools_rows == 1
    warnings = report.warnings()
    assert warnings[0].startswith("1 row holds assistant tool calls that llama3 does not render")
    assert "(qwen2.5, llama3.1)" in warnings[0]
    assert warnings[1].startswith("1 row gives tools that llama3 ignores")
    assert report.to_dict()["warnings"] == warnings
    # the render is the original template's: the call is gone there too
    text = out.column("text").to_pylist()[0]
    assert "get_tip" not in text
    tok = original("llama3")
    assert text == tok.apply_chat_template(CHAT, tools=[TOOL], tokenize=False)


def test_qwen_renders_tool_calls_and_tools_no_warning():
    table = table_from_records([{"messages": CHAT, "tools": [TOOL]}])
    out, report = render_table(table, "lm", load_template("qwen2.5"), num_proc=1)
    assert report.dropped_calls_rows == report.ignored_tools_rows == 0
    assert report.warnings() == []
    assert '{"name": "get_tip", "arguments": {"bill": 100}}' in out.column("text").to_pylist()[0]


def test_global_tools_on_a_template_that_ignores_them_are_counted():
    table = table_from_records([{"messages": PLAIN}, {"messages": PLAIN}])
    _, report = render_table(table, "lm", load_template("chatml"), tools=[TOOL], num_proc=1)
    assert report.ignored_tools_rows == 2 and report.dropped_calls_rows == 0


def test_chatml_on_a_tool_call_turn_without_content_names_the_row_and_a_template():
    bare = [{**m} for m in CHAT]
    del bare[1]["content"]
    table = table_from_records([{"messages": PLAIN}, {"messages": bare}])
    with pytest.raises(RowFailures) as err:
        render_table(table, "lm", load_template("chatml"), num_proc=1)
    assert err.value.rows == [1]
    reason = err.value.reasons[0]
    assert reason.startswith(
        "messages: chatml cannot render tool-call turns: message 1 holds tool calls and no "
        "content (chatml raised:"
    )
    assert "--chat-template qwen2.5 (or llama3.1)" in err.value.hint


def test_other_row_errors_are_not_blamed_on_tool_calls():
    """A row failing for its own reason keeps that reason, tool calls or not."""
    bare = [{**m} for m in CHAT]
    del bare[1]["content"]
    table = table_from_records([{"messages": bare, "images": ["a.png"]}])  # no placeholder
    with pytest.raises(RowFailures) as err:
        render_table(table, "lm", load_template("chatml"), num_proc=1)
    assert "image" in err.value.reasons[0]
    assert "cannot render tool-call turns" not in err.value.reasons[0]


def test_tool_role_is_probed_for_content_parts():
    """Qwen2.5-VL renders a tool message's parts (images included), as for other roles."""
    tok = original("qwen2_5_vl")
    template = load_template(tok)
    assert "tool" in parts_roles(template)
    assert "tool" not in parts_roles(load_template("qwen2.5"))
    chat = [
        {"role": "user", "content": [{"type": "text", "text": "Show it."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Calling."}]},
        {"role": "tool", "content": [{"type": "image"}, {"type": "text", "text": "the chart"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Here."}]},
    ]
    table = table_from_records([{"messages": chat, "images": ["a.png"]}])
    out, _ = render_table(table, "lm", template, num_proc=1)
    assert out.column("text").to_pylist()[0] == tok.apply_chat_template(chat, tokenize=False)


def test_python_api_warns_once_on_a_dataset():
    import warnings

    import trlprep

    rows = [{"messages": CHAT}, {"messages": CHAT}, {"messages": PLAIN}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.apply_chat_template(rows, "llama3", num_proc=1)
        trlprep.apply_chat_template(rows, "qwen2.5", num_proc=1)
    said = [str(w.message) for w in caught if "tool calls" in str(w.message)]
    assert said == [
        "2 rows hold assistant tool calls that llama3 does not render (those turns come out "
        "without the call: nothing to train on for them); use a template that renders tool "
        "calls (qwen2.5, llama3.1)"
    ]


def test_convert_api_warns_too():
    import warnings

    import trlprep

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.convert([{"messages": CHAT}], chat_template="llama3")
    assert any("1 row holds assistant tool calls that llama3" in str(w.message) for w in caught)


def test_one_example_on_chatml_says_it_cannot_render_tool_call_turns():
    import trlprep
    from trlprep.errors import DataError

    bare = [{**m} for m in CHAT]
    del bare[1]["content"]
    with pytest.raises(DataError) as err:
        trlprep.apply_chat_template({"messages": bare}, "chatml")
    assert "chatml cannot render tool-call turns: message 1 holds tool calls" in str(err.value)
