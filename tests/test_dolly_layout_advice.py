"""Databricks Dolly's layout (`instruction`, `context`, `response`, `category`): the advice
names `--from alpaca --map input=context,output=response`, which keeps the context passage
in the prompt, never `--map prompt=instruction,completion=response`, which drops it.

Dolly is CC BY-SA 3.0 (not one of tests/realdata's MIT/Apache licences), so these rows are
written for the test in its layout, as AlpacaFarm's tests do.
"""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run

ROWS = [
    {
        "instruction": "When did the bridge open?",
        "context": "The bridge opened to traffic on 3 May 1931 after four years of work.",
        "response": "It opened on 3 May 1931.",
        "category": "closed_qa",
    },
    {
        "instruction": "Which is a fruit: apple or chair?",
        "context": "",
        "response": "Apple.",
        "category": "classification",
    },
]
WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
)
NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n"
)
ALPACA = "--from alpaca --map input=context,output=response"


def _data(tmp_path):
    path = tmp_path / "dolly.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_detect_validate_convert_and_check_template_name_the_alpaca_import(tmp_path):
    data = _data(tmp_path)
    for args in (
        ("detect", data),
        ("validate", data),
        ("convert", data, "--to", "pc", "-o", tmp_path / "x.jsonl"),
        ("check-template", "--chat-template", "chatml", data),
    ):
        res = run(*args)
        assert res.exit_code == 1, res.output
        said = " ".join(res.output.split())
        assert ALPACA in said, (args[0], res.output)
        assert "--map prompt=instruction,completion=response -o" not in said


def test_the_advised_import_keeps_the_context(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", _data(tmp_path), *ALPACA.split(), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    assert rows_of(out) == [
        {
            "prompt": WITH_INPUT + "When did the bridge open?\n\n### Input:\nThe bridge opened to "
            "traffic on 3 May 1931 after four years of work.\n\n### Response:",
            "completion": "It opened on 3 May 1931.",
            "category": "closed_qa",
        },
        {
            "prompt": NO_INPUT + "Which is a fruit: apple or chair?\n\n### Response:",
            "completion": "Apple.",
            "category": "classification",
        },
    ]
