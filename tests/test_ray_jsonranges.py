"""`--engine ray` reads one JSON Lines file in several Ray tasks, each its own byte range of
whole lines (`trlprep.ray.jsonranges`), with the local engine's rows, types, file lines,
broken lines, outputs, rejects and counts. Ranges and the local reader's chunks are shrunk
(`RANGE_BYTES`, `jsonl.CHUNK_BYTES`) so a file of a few KB is cut into several tasks; Ray
tests run on the session's local Ray instance with 2 CPUs (`ray_support`)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.io import jsonl
from trlprep.ray.jsonranges import cut_points

REAL = Path(__file__).parent / "realdata"
BOM = b"\xef\xbb\xbf"
TOOLBENCH = REAL / "toolbench_trajectories/toolbench_train_messages.jsonl"
MIXED_FILES = ("LF_MEDIA", "LF_CALLS", "SG_CALLS")  # `realdata.support.mixed_rows`

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray, run_outcome  # noqa: E402, F401  (the session's Ray)
from realdata.support import mixed_file  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402


def _shrink(monkeypatch, range_bytes: int = 2048, chunk: int = 512) -> None:
    """Chunks of `chunk` bytes, ranges of about `range_bytes`."""
    from trlprep.ray import jsonranges

    monkeypatch.setattr(jsonl, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(jsonranges, "RANGE_BYTES", range_bytes)


@pytest.fixture
def small(monkeypatch):
    """Chunks of 512 bytes (both engines), ranges of about 2 KB."""
    _shrink(monkeypatch)


def _awkward(tmp: Path) -> Path:
    """A BOM, CRLF line ends, blank lines, a broken line, a line longer than a range, a
    column null for a while then text, ints then floats, no newline at the end."""
    rows = []
    for i in range(90):
        r = {"prompt": f"Question {i}?", "completion": f"Answer {i}."}
        r["score"] = i if i < 50 else i + 0.5
        r["note"] = None if i < 40 else f"n{i}"
        if i == 33:
            r["completion"] = "long " * 700
        rows.append(json.dumps(r))
        if i % 13 == 4:
            rows.append("")
        if i == 61:
            rows.append('{"prompt": "cut short"')
    path = tmp / "awkward.jsonl"
    path.write_bytes(BOM + "\r\n".join(rows).encode())
    return path


def _mixed(tmp: Path) -> Path:
    """An extra column holding text in the first chunks, a list in later ones (rows of
    mixed kinds once joined: tagged JSON text), and messages whose content is parts late."""
    rows = []
    for i in range(60):
        content = f"Hi {i}" if i < 45 else [{"type": "text", "text": f"Hi {i}"}]
        msgs = [{"role": "user", "content": content}, {"role": "assistant", "content": "Yo"}]
        rows.append({"messages": msgs, "source": f"s{i}" if i < 30 else [i, i + 1]})
    path = tmp / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _functions(tmp: Path) -> Path:
    """BFCL's rows with their schemas under `functions` (read as `tools` with `--map`),
    every third row's first schema given a key of its own (typed as one struct, the other
    rows would gain it as null)."""
    lines = (REAL / "bfcl/bfcl_v4.sample.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    for i, r in enumerate(rows):
        if i % 3 == 0 and r["function"]:
            r["function"][0] = {"x_origin": f"bfcl {i}", **r["function"][0]}
    path = tmp / "functions.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": r["id"], "prompt": r["question"][0], "functions": r["function"]})
            + "\n"
            for r in rows
        )
    )
    return path


def test_one_jsonl_file_is_read_in_several_tasks_with_the_local_rows_and_lines(tmp_path, small):
    from trlprep.errors import ROW_ID
    from trlprep.io.readers import read
    from trlprep.ray.base import LINE, _blocks
    from trlprep.ray.sources import read_numbered

    path = _awkward(tmp_path)
    want_bad, got_bad = jsonl.BadLines(), jsonl.BadLines()
    want = read(str(path), bad_lines=want_bad)
    ds, total, _ = read_numbered(str(path), bad_lines=got_bad)
    blocks = [ray.get(ref) for ref, _, _ in _blocks(ds)]
    assert len(blocks) > 4
    got = pa.concat_tables(blocks)
    assert total == got.num_rows == want.table.num_rows == 90
    assert got.drop_columns([LINE, ROW_ID]).schema == want.table.schema
    assert got.drop_columns([LINE, ROW_ID]).to_pylist() == want.table.to_pylist()
    assert got[LINE].to_pylist() == want.lines.tolist()
    assert got[ROW_ID].to_pylist() == list(range(90))
    assert got_bad.found == want_bad.found and len(got_bad) == 1


def _run(args: list[str], engine: str, out: Path) -> tuple[int, str, bytes, str | None]:
    """(exit code, messages, output bytes, rejects) of a run with `engine`."""
    argv = [*args, "--engine", engine]
    if args[0] == "convert":
        argv += ["-o", str(out), "--output-format", "jsonl", "--overwrite"]
    res = CliRunner().invoke(app, argv)
    return run_outcome(res, out)


CASES = {
    "awkward-skip": ["convert", "AWKWARD", "--on-bad-lines", "skip", "--on-error", "skip"],
    "awkward-stop": ["convert", "AWKWARD"],
    "mixed-kinds": ["convert", "MIXED", "--to", "prompt-completion", "--on-error", "skip"],
    "map-tools": ["convert", "FUNCTIONS", "--map", "tools=functions"]
    + ["--chat-template", "qwen2.5"],
    "hh": ["convert", REAL / "hh_rlhf/harmless-base-test.sample.jsonl", "--from", "hh"]
    + ["--to", "preference", "--on-error", "skip"],
    "toolbench": ["convert", TOOLBENCH, "--from", "openai-chat", "--on-error", "skip"],
    "drone-tools": ["convert", REAL / "openai_drone_toolcalls/drone_training.first6.jsonl"]
    + ["--from", "openai-chat", "--on-error", "skip"],
    "llamafactory": ["convert", REAL / "llamafactory_v1/v1_sft_demo.first100.jsonl"]
    + ["--from", "llamafactory-v1", "--on-error", "skip"],
    "validate-toolbench": ["validate", TOOLBENCH],
    # a few rows of another kind in the middle: what they need is written in every range
    "llamafactory-media": ["convert", "LF_MEDIA", "--on-error", "skip"],
    "llamafactory-calls": ["convert", "LF_CALLS", "--on-error", "skip"],
    "sharegpt-calls": ["convert", "SG_CALLS", "--from", "sharegpt", "--on-error", "skip"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_cli_ray_over_ranges_of_one_jsonl_file_equals_local(tmp_path, monkeypatch, case):
    """Ray reads the file in 4 to 7 ranges parsed in chunks of a quarter range; the local engine
    reads it in one chunk (its 32 MB), as it reads any file of this size: the chunks joined
    are the file read at once. (The local engine run on chunks this small is no reference:
    its convert streams each chunk apart, so a struct field absent from one chunk is
    written absent there, null elsewhere.)"""
    made = {"AWKWARD": _awkward, "MIXED": _mixed, "FUNCTIONS": _functions}
    made.update({k: functools.partial(mixed_file, k.lower()) for k in MIXED_FILES})
    args = [str(made[a](tmp_path)) if a in made else str(a) for a in CASES[case]]
    if not Path(args[1]).exists():
        pytest.skip(f"{args[1]} is missing")
    range_bytes = max(2048, Path(args[1]).stat().st_size // 6)  # 4 to 7 tasks: quick
    chunk = max(512, range_bytes // 4)
    cut = cut_points(args[1], 2, range_bytes, chunk)
    assert len(cut) > 3  # three ranges or more: three Ray tasks or more
    local = _run(args, "local", tmp_path / "local.jsonl")
    _shrink(monkeypatch, range_bytes, chunk)
    got = _run(args, "ray", tmp_path / "ray_out")
    assert got[0] == local[0]
    assert got[1] == local[1]
    assert got[2] == local[2]
    assert got[3] == local[3]
    if case.startswith("awkward"):
        assert local[0] == (0 if case.endswith("skip") else 1)
        # the broken line, in a later range, counted past a BOM, CRLF and blank lines
        assert re.search(r"(line |jsonl:)68\b", local[1]), local[1]
    if args[0] == "convert" and local[0] == 0:
        assert got[2]
