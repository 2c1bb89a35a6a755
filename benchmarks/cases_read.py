"""Reading tool-calling JSON Lines: trlprep's reader vs `datasets`' JSON loader, on a `tools`
column of function schemas that differ per row (each row's own schemas kept) and, in the
`arguments` variant, also on assistant tool calls whose arguments are JSON objects (each
call's own object kept as its JSON text); the `content` variant reads chat rows whose
message content is a string in some messages and a list of parts in others."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.cases_validate import _best_of
from benchmarks.measure import in_process, print_table

_SCHEMAS = [
    {"name": "get_weather", "description": "Weather of a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}},
    {"name": "convert", "description": "Convert an amount",
     "parameters": {"type": "object", "properties": {
         "amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}}}},
    {"name": "search", "description": "Search the web",
     "parameters": {"type": "object", "properties": {
         "query": {"type": "string"}, "limit": {"type": "integer", "default": 5}}}},
]  # fmt: skip


def make_data(workdir: Path, rows: int) -> Path:
    """Conversational prompt-completion rows, each with one or two of three tool schemas."""
    path = workdir / f"tools_{rows}.jsonl"
    if path.exists():
        return path
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            tools = [_SCHEMAS[i % 3]] + ([_SCHEMAS[(i + 1) % 3]] if i % 2 else [])
            row = {
                "prompt": [{"role": "user", "content": f"question {i}?"}],
                "completion": [{"role": "assistant", "content": f"answer {i}."}],
                "tools": tools,
            }
            f.write(json.dumps(row) + "\n")
    return path


_CITIES = ["Paris", "Zürich", "東京", "São Paulo", "New York"]


def _arguments(i: int) -> tuple[str, dict]:
    """The i-th call: a name and an arguments object whose keys differ per tool."""
    k = i % 3
    if k == 0:
        args: dict = {"city": _CITIES[i % 5]}
        if i % 2:
            args["unit"] = "celsius"
        return "get_weather", args
    if k == 1:
        return "convert", {"amount": i / 4, "from": "EUR", "to": "USD"}
    return "search", {"query": f"news {i}", "limit": i % 10, "filters": {"lang": ["en", "fr"]}}


def make_arguments_data(workdir: Path, rows: int) -> Path:
    """The same rows as `make_data`, the completion an assistant turn of one or two tool
    calls (OpenAI's layout, arguments as objects) and the tool's answer."""
    path = workdir / f"tool_arguments_{rows}.jsonl"
    if path.exists():
        return path
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            tools = [_SCHEMAS[i % 3]] + ([_SCHEMAS[(i + 1) % 3]] if i % 2 else [])
            calls = []
            for j in range(1 + i % 2):
                name, args = _arguments(i + j)
                calls.append(
                    {"id": f"call_{i}_{j}", "type": "function",
                     "function": {"name": name, "arguments": args}}
                )  # fmt: skip
            row = {
                "prompt": [{"role": "user", "content": f"question {i}?"}],
                "completion": [
                    {"role": "assistant", "content": None, "tool_calls": calls},
                    {"role": "tool", "tool_call_id": calls[0]["id"], "content": f"result {i}"},
                ],
                "tools": tools,
            }
            f.write(json.dumps(row) + "\n")
    return path


def make_content_data(workdir: Path, rows: int) -> Path:
    """Conversations whose content is a string in some messages and a list of parts (a text
    part, an inline image in every fourth row) in others: OpenAI's and transformers' mix."""
    path = workdir / f"content_kinds_{rows}.jsonl"
    if path.exists():
        return path
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            question = f"question {i}: what is in the picture?"
            user = question if i % 2 else [{"type": "text", "text": question}]
            if i % 4 == 0:
                user = [{"type": "image", "image": f"https://example.com/{i}.jpg"}, *user]
            answer = f"answer {i}."
            reply = [{"type": "text", "text": answer}] if i % 3 == 0 else answer
            row = {
                "messages": [
                    {"role": "system", "content": "You describe pictures."},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": reply},
                ]
            }
            f.write(json.dumps(row) + "\n")
    return path


def run_trlprep(path: str, repeat: int) -> tuple[float, int, dict]:
    from trlprep.io.readers import read

    rows: list[int] = []
    wall, cpu, runs = _best_of(repeat, lambda: rows.append(read(path).table.num_rows))
    return wall, rows[-1], {"cpu": cpu, "runs": runs}


def run_datasets(path: str, repeat: int, cache: str) -> tuple[float, int, dict]:
    import datasets

    datasets.disable_progress_bars()
    rows: list[int] = []

    def load() -> None:  # a fresh cache each run: the JSON is parsed, not a cache read
        import shutil
        import tempfile

        where = tempfile.mkdtemp(dir=cache)
        try:
            ds = datasets.load_dataset("json", data_files=path, split="train", cache_dir=where)
            rows.append(ds.num_rows)
        finally:
            shutil.rmtree(where, ignore_errors=True)

    wall, cpu, runs = _best_of(repeat, load)
    return wall, rows[-1], {"cpu": cpu, "runs": runs}


VARIANTS = ("tools", "arguments", "content")


def main(workdir: Path, rows: int, repeat: int = 3, variants: tuple[str, ...] = VARIANTS) -> None:
    for variant in variants:
        if variant == "tools":
            path = make_data(workdir, rows)
            what = "tool-calling JSON Lines (tools differ per row)"
        elif variant == "content":
            path = make_content_data(workdir, rows)
            what = "chat JSON Lines (content a string in some messages, parts in others)"
        else:
            path = make_arguments_data(workdir, rows)
            what = "tool-calling JSON Lines (tools differ per row, tool-call arguments as objects)"
        _compare(workdir, path, repeat, f"read ({variant}): {rows:,}-row {what}")


def _compare(workdir: Path, path: Path, repeat: int, title: str) -> None:
    ours = in_process("trlprep read (1 thread)", run_trlprep, str(path), repeat, threads=1)
    ref = in_process(
        "datasets load_dataset json (1 thread)", run_datasets, str(path), repeat,
        str(workdir), threads=1,
    )  # fmt: skip
    table = [
        (m.name, f"{m.rows:,}", f"{m.seconds:.2f}", f"{m.rows_per_s:,.0f}", f"{m.peak_rss_mb:,.0f}")
        for m in (ours, ref)
    ]
    print(f"\n{title}")
    print_table(table, ("side", "rows", "wall s", "rows/s", "peak RSS MB"))
    print(f"ratio (trlprep / datasets rows/s): {ours.rows_per_s / ref.rows_per_s:.2f}x")
