"""Real function-calling prompts: the Berkeley Function Calling Leaderboard (BFCL v4)."""

from __future__ import annotations

import json

from realdata.support import rows_of, run, sample

BFCL = sample("bfcl")


def test_map_onto_a_list_of_turns_names_the_column_and_its_values(tmp_path):
    out = tmp_path / "o.jsonl"
    res = run("convert", BFCL, "--map", "prompt=question,tools=function", "-o", out)
    assert res.exit_code == 2, res.output
    assert (
        "after --map the columns read as prompt-only, but column 'prompt' (from 'question') holds "
        "list<item: list<item: struct<role: string, content: string>>>: neither text nor a "
        "list of messages"
    ) in res.output
    assert "still match no TRL dataset type" not in res.output


def _flat(tmp_path):
    """What a user does first: one conversation per row (`question[0]`), TRL's names."""
    rows = [json.loads(line) for line in BFCL.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "flat.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "prompt": r["question"][0], "tools": r["function"]}))
            f.write("\n")
    return rows, path


def test_each_row_keeps_its_own_tool_schemas(tmp_path):
    rows, flat = _flat(tmp_path)
    out = tmp_path / "out.jsonl"
    res = run("convert", flat, "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    # written by hand from line 2: no parameter of another row (was "x": null, "a": null ...)
    assert got[1] == {
        "id": "simple_python_1",
        "prompt": [
            {"role": "user", "content": "Calculate the factorial of 5 using math functions."}
        ],
        "tools": [
            {
                "name": "math.factorial",
                "description": "Calculate the factorial of a given number.",
                "parameters": {
                    "type": "dict",
                    "properties": {
                        "number": {
                            "type": "integer",
                            "description": "The number for which factorial needs to be calculated.",
                        }
                    },
                    "required": ["number"],
                },
            }
        ],
    }
    assert [r["tools"] for r in got] == [r["function"] for r in rows]
