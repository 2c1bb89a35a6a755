"""Warnings of the public Python API name the caller's line (the user's code), not a line
inside trlprep, however deep in trlprep they are said (`errors.warn_user`)."""

from __future__ import annotations

import sys
import warnings

import pyarrow as pa
import pytest
from trlprep.converters.base import ConversionWarning

import trlprep
from trlprep.errors import warn_user
from trlprep.importers.run import RejectedRowsWarning

NO_PROMPT = [
    {"chosen": "abc", "rejected": "xyz"},
    {"chosen": "The sky is blue.", "rejected": "The sky is green."},
]
TOOL_CALL = [
    {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}],
            },
        ]
    }
]
PROMPT_COMPLETION = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": None}]
ALPACA = [
    {"instruction": "Say hi", "input": "", "output": "hi"},
    {"instruction": None, "input": "", "output": "y"},
]

# each call on one line: the warning must name that line of this file
CALLS = {
    "convert rejects": (
        RejectedRowsWarning,
        lambda: trlprep.convert(PROMPT_COMPLETION, on_error="skip"),
    ),
    "converter": (
        ConversionWarning,
        lambda: trlprep.convert(NO_PROMPT, to="preference", no_prompt="drop"),
    ),
    "import rejects": (
        RejectedRowsWarning,
        lambda: trlprep.convert(ALPACA, from_="alpaca", on_error="skip"),
    ),
    "template": (UserWarning, lambda: trlprep.convert(TOOL_CALL, chat_template="chatml")),
    "apply_chat_template": (
        UserWarning,
        lambda: trlprep.apply_chat_template(pa.Table.from_pylist(TOOL_CALL), "chatml"),
    ),
    "extract_prompt": (
        ConversionWarning,
        lambda: trlprep.extract_prompt(NO_PROMPT[0], no_prompt="warn"),
    ),
    "pack_dataset": (
        UserWarning,
        lambda: trlprep.pack_dataset(pa.table({"input_ids": [[1, 2], [3]], "x": ["a", "b"]}), 4),
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_public_functions_warning_names_the_callers_line(name):
    category, call = CALLS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    assert caught, "no warning"
    assert any(issubclass(w.category, category) for w in caught)
    for w in caught:
        assert (w.filename, w.lineno) == (__file__, call.__code__.co_firstlineno), w.message


def test_a_file_read_by_the_api_warns_at_the_callers_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": null}\n')
    with pytest.warns(RejectedRowsWarning) as caught:
        trlprep.convert(str(path), on_error="skip")
    assert {w.filename for w in caught} == {__file__}


def test_warn_user_called_here_names_this_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        warn_user("said here", UserWarning)
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_a_converter_called_directly_warns_at_the_callers_line():
    # converters/ and trainers/ live outside trlprep/ in a checkout: still trlprep's code
    from trlprep.converters.base import ConvertOptions
    from trlprep.converters.ranked import ranked_to_preference

    from trlprep.registry import Format

    table = pa.table({"prompt": ["p"], "completions": [["a"]], "scores": [[1.0]]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        ranked_to_preference(table, Format.STANDARD, ConvertOptions())
    assert caught, "no warning"
    assert {(w.filename, w.lineno) for w in caught} == {(__file__, line)}
