"""Reading tool-calling JSON Lines (a `tools` column of function schemas that differ per
row): trlprep's reader (each row's own schemas kept) vs `datasets`' JSON loader."""

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


def main(workdir: Path, rows: int, repeat: int = 3) -> None:
    path = make_data(workdir, rows)
    ours = in_process("trlprep read (1 thread)", run_trlprep, str(path), repeat, threads=1)
    ref = in_process(
        "datasets load_dataset json (1 thread)", run_datasets, str(path), repeat,
        str(workdir), threads=1,
    )  # fmt: skip
    table = [
        (m.name, f"{m.rows:,}", f"{m.seconds:.2f}", f"{m.rows_per_s:,.0f}", f"{m.peak_rss_mb:,.0f}")
        for m in (ours, ref)
    ]
    print(f"\nread: {rows:,}-row tool-calling JSON Lines (tools differ per row)")
    print_table(table, ("side", "rows", "wall s", "rows/s", "peak RSS MB"))
    print(f"ratio (trlprep / datasets rows/s): {ours.rows_per_s / ref.rows_per_s:.2f}x")
