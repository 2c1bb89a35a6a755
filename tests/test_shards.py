"""Sharded inputs (a folder of files, a glob, several paths, the Hub repository layout) and
sharded outputs (`-o DIR/`, `--num-shards`, `--max-shard-size`), written atomically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.realdata.support import counts, rows_of, run, sample
from trlprep.errors import DataError, InputError, UsageError
from trlprep.io.readers import Inputs, iter_batches, read
from trlprep.io.shardout import ShardedOutput, parse_size
from trlprep.io.writers import write

ROWS = [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(10)]


def _jsonl(path: Path, rows: list[dict], blank_after: int | None = None) -> Path:
    lines = [json.dumps(r) for r in rows]
    if blank_after is not None:
        lines.insert(blank_after, "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _parquet(path: Path, rows: list[dict] | pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    pq.write_table(table, path)
    return path


def _hub_layout(root: Path) -> Path:
    """`data/{split}-i-of-n.parquet` as the Hub stores a dataset."""
    _parquet(root / "data" / "train-00000-of-00002.parquet", ROWS[:4])
    _parquet(root / "data" / "train-00001-of-00002.parquet", ROWS[4:])
    _parquet(root / "data" / "test-00000-of-00001.parquet", ROWS[:2])
    return root


# ---------------------------------------------------------------- reading several files


def test_a_folder_reads_its_files_in_name_order_with_lines_per_file(tmp_path):
    _jsonl(tmp_path / "d" / "b.jsonl", ROWS[5:], blank_after=1)
    _jsonl(tmp_path / "d" / "a.jsonl", ROWS[:5])
    (tmp_path / "d" / ".hidden.jsonl").write_text("not json\n")  # left out
    batches = list(iter_batches(tmp_path / "d"))
    assert [Path(b.path).name for b in batches] == ["a.jsonl", "b.jsonl"]
    assert [b.offset for b in batches] == [0, 5]
    assert list(batches[1].lines) == [1, 3, 4, 5, 6]  # b.jsonl's own lines (a blank line 2)
    src = read(tmp_path / "d")
    assert src.table.to_pylist() == ROWS
    assert src.shards.offsets()[1].endswith("b.jsonl: rows 5-9 (5)")


def test_a_glob_and_several_paths(tmp_path):
    for i in range(3):
        _parquet(tmp_path / f"part-{i}.parquet", ROWS[i * 4 : (i + 1) * 4])
    assert read(str(tmp_path / "part-*.parquet")).table.to_pylist() == ROWS
    given = Inputs([tmp_path / "part-2.parquet", tmp_path / "part-0.parquet"])  # order given
    assert read(given).table.to_pylist() == ROWS[8:] + ROWS[:4]
    with pytest.raises(InputError, match="no files match"):
        read(str(tmp_path / "nothing-*.parquet"))
    res = run("detect", tmp_path / "part-0.parquet", tmp_path / "part-1.parquet", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["num_rows"] == 8 and info["total_rows"] == 8
    assert [(Path(s["file"]).name, s["first_row"], s["rows"]) for s in info["shards"]] == [
        ("part-0.parquet", 0, 4),
        ("part-1.parquet", 4, 4),
    ]


def test_hub_layout_and_split(tmp_path):
    root = _hub_layout(tmp_path / "repo")
    assert read(root).table.to_pylist() == ROWS  # train when there are several splits
    assert read(root, split="test").table.to_pylist() == ROWS[:2]
    with pytest.raises(UsageError, match="no file names carry the split 'dev'") as e:
        read(root, split="dev")
    assert "train, test" in e.value.hint  # `datasets`' order
    folders = tmp_path / "folders"  # {split}/*.jsonl
    _jsonl(folders / "train" / "0.jsonl", ROWS[:3])
    _jsonl(folders / "validation" / "0.jsonl", ROWS[3:5])
    assert read(folders, split="validation").table.to_pylist() == ROWS[3:5]
    res = run("validate", root, "--split", "test", "--format", "json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["num_rows"] == 2
    assert rep["notes"][-1] == "total: 2 rows in 1 file"


def test_mixed_formats_are_an_error(tmp_path):
    _jsonl(tmp_path / "a.jsonl", ROWS[:2])
    _parquet(tmp_path / "b.parquet", ROWS[2:])
    with pytest.raises(InputError, match=r"mixes file formats: .*a.jsonl \(jsonl\), .*b.parquet"):
        read(tmp_path)
    res = run("detect", tmp_path)
    assert res.exit_code == 2 and "mixes file formats" in res.output


def test_a_column_missing_in_a_shard_is_named(tmp_path):
    _parquet(tmp_path / "p" / "0.parquet", ROWS[:2])
    _parquet(tmp_path / "p" / "1.parquet", [{"prompt": "x"}])
    with pytest.raises(DataError, match=r"shard .*1.parquet lacks column 'completion'"):
        read(tmp_path / "p")
    _jsonl(tmp_path / "j" / "0.jsonl", ROWS[:2])
    _jsonl(tmp_path / "j" / "1.jsonl", [{"prompt": "x", "completion": "y", "extra": 1}])
    res = run("convert", tmp_path / "j", "--to", "lm", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1 and "1.jsonl has column 'extra'" in res.output
    assert not (tmp_path / "out.jsonl").exists()


def test_convert_names_a_jsonl_shard_that_lacks_a_column(tmp_path):
    # a shard of one JSONL chunk: its columns are checked before its rows go on to convert
    pref = [{"prompt": f"q{i}", "chosen": "c", "rejected": "r"} for i in range(4)]
    _jsonl(tmp_path / "j" / "1.jsonl", pref)
    _jsonl(tmp_path / "j" / "2.jsonl", pref)
    _jsonl(tmp_path / "j" / "3.jsonl", [{"prompt": "a", "chosen": "b"}] * 2)
    out = tmp_path / "out.jsonl"
    res = run("convert", tmp_path / "j", "--to", "unpaired", "-o", out)
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    assert f"shard {tmp_path / 'j' / '3.jsonl'} lacks column 'rejected'" in flat
    assert not out.exists()
    # a shard's row without a required value: a row failure named by the shard's line
    _jsonl(tmp_path / "j" / "3.jsonl", [{**pref[0]}, {"prompt": "a", "chosen": "b"}])
    res = run("convert", tmp_path / "j", "--to", "unpaired", "-o", out)
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    assert f"error: {tmp_path / 'j' / '3.jsonl'}:2: read: column 'rejected': a required" in flat


def test_a_column_null_in_one_shard_takes_the_others_type(tmp_path):
    typed = pa.table({"prompt": ["a", "b"], "completion": ["c", "d"], "source": ["x", None]})
    empty = pa.table({"prompt": ["e"], "completion": ["f"], "source": pa.nulls(1)})
    _parquet(tmp_path / "0.parquet", empty)
    _parquet(tmp_path / "1.parquet", typed)
    batches = list(iter_batches(tmp_path))
    assert all(b.data.schema.field("source").type == pa.string() for b in batches)
    out = tmp_path.parent / f"{tmp_path.name}-out.parquet"
    res = run("convert", tmp_path, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).column("source").to_pylist() == [None, "x", None]


def test_bad_row_in_a_later_shard_is_named_by_file_and_line(tmp_path):
    _jsonl(tmp_path / "d" / "0.jsonl", ROWS[:3])
    _jsonl(tmp_path / "d" / "1.jsonl", [ROWS[3], {"prompt": "q", "completion": 5}])
    out = tmp_path / "out.jsonl"
    res = run("convert", tmp_path / "d", "--to", "lm", "-o", out)
    assert res.exit_code == 1
    assert f"{tmp_path / 'd' / '1.jsonl'}:2:" in res.output
    assert not out.exists()
    res = run("convert", tmp_path / "d", "--to", "lm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (5, 1, 4, 4)  # rows in = rows out + rejected, over shards
    assert f"{tmp_path / 'd' / '1.jsonl'}:2" in res.output
    rep = run("validate", tmp_path / "d")
    assert rep.exit_code == 1 and f"{tmp_path / 'd' / '1.jsonl'}:2" in rep.output
    assert "total: 5 rows in 2 files" in rep.output


def test_rejects_and_github_annotations_name_each_rows_shard(tmp_path):
    """The rejects file names each row's shard file; GitHub annotations point at the shard
    file and its line (not at the folder)."""
    d, v = tmp_path / "d", tmp_path / "v"
    _jsonl(d / "0.jsonl", [ROWS[0], {"prompt": "q", "completion": 5}])
    _jsonl(d / "1.jsonl", [ROWS[1], {"prompt": "q", "completion": 6}], blank_after=1)
    _jsonl(v / "0.jsonl", [ROWS[0], {"prompt": "q", "completion": ""}])
    _jsonl(v / "1.jsonl", [ROWS[1], {"prompt": "q", "completion": ""}], blank_after=1)
    out = tmp_path / "out.jsonl"
    res = run("convert", d, "--to", "lm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    rejects = rows_of(tmp_path / "out.rejects.jsonl")
    got = [(r["row"], r["file"], r["line"]) for r in rejects]
    assert got == [(1, str(d / "0.jsonl"), 2), (3, str(d / "1.jsonl"), 3)]
    rep = run("validate", v, "--format", "github")
    assert rep.exit_code == 1
    lines = [x for x in rep.output.splitlines() if x.startswith("::error")]
    assert lines[0].startswith(f"::error file={v / '0.jsonl'},line=2,")
    assert lines[1].startswith(f"::error file={v / '1.jsonl'},line=3,")


# ---------------------------------------------------------------- writing shards


def test_parse_size():
    assert parse_size("500MB") == 500 * 10**6
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("1.5GB") == 1_500_000_000
    with pytest.raises(UsageError, match="not a size"):
        parse_size("big")


def test_shards_read_back_by_datasets_and_trlprep(tmp_path):
    datasets = pytest.importorskip("datasets")
    src = _jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out"
    res = run("convert", src, "--to", "lm", "-o", out, "--num-shards", "4")
    assert res.exit_code == 0, res.output
    names = sorted(os.listdir(out))
    assert names == [f"train-{i:05d}-of-00004.parquet" for i in range(4)]
    assert [pq.ParquetFile(out / n).metadata.num_rows for n in names] == [3, 3, 3, 1]
    expected = [{"text": r["prompt"] + r["completion"]} for r in ROWS]
    ds = datasets.load_dataset("parquet", data_dir=str(out))
    assert list(ds) == ["train"] and ds["train"].to_list() == expected
    assert read(out).table.to_pylist() == expected
    assert run("detect", out).exit_code == 0
    # a trailing slash: one shard up to the default size; --split names the shards
    res = run("convert", src, "--to", "lm", "-o", f"{tmp_path / 'slash'}/")
    assert res.exit_code == 0, res.output
    assert os.listdir(tmp_path / "slash") == ["train-00000-of-00001.parquet"]
    _hub_layout(tmp_path / "repo")
    res = run("convert", tmp_path / "repo", "--split", "test", "--to", "lm",
              "-o", f"{tmp_path / 'jl'}/", "--output-format", "jsonl")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert os.listdir(tmp_path / "jl") == ["test-00000-of-00001.jsonl"]
    assert rows_of(tmp_path / "jl" / "test-00000-of-00001.jsonl") == expected[:2]
    # no suffix and no shard option: still a save_to_disk folder
    res = run("convert", src, "--to", "lm", "-o", tmp_path / "disk")
    assert res.exit_code == 0 and (tmp_path / "disk" / "state.json").exists()


def test_max_shard_size_cuts_shards(tmp_path):
    import random
    import string

    rng = random.Random(0)  # text zstd cannot squeeze: a shard's rows in one row group
    table = pa.table(
        {"text": ["".join(rng.choices(string.ascii_letters, k=280)) for _ in range(2000)]}
    )
    out = ShardedOutput(tmp_path / "out", max_shard_size="40kB")
    write(table, out)
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) > 2
    assert all(f.name.endswith(f"-of-{len(files):05d}.parquet") for f in files)
    assert all(f.stat().st_size <= 40_000 for f in files[1:-1])
    assert read(tmp_path / "out").table.equals(table)


def test_existing_output_and_empty_folder(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", ROWS)
    (tmp_path / "empty").mkdir()
    res = run("convert", src, "--to", "lm", "-o", tmp_path / "empty")  # an existing folder
    assert res.exit_code == 0, res.output
    assert os.listdir(tmp_path / "empty") == ["train-00000-of-00001.parquet"]
    res = run("convert", src, "--to", "lm", "-o", tmp_path / "empty", "--num-shards", "2")
    assert res.exit_code == 2 and "already exists" in res.output
    res = run("convert", src, "--to", "lm", "-o", tmp_path / "empty", "--num-shards", "2",
              "--overwrite")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(os.listdir(tmp_path / "empty")) == 2


def _leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if "trlprep-" in n)


def test_nothing_left_when_a_row_fails(tmp_path):
    _jsonl(tmp_path / "in.jsonl", [*ROWS, {"prompt": "q", "completion": 5}])
    out = tmp_path / "out"
    res = run("convert", tmp_path / "in.jsonl", "--to", "lm", "-o", out, "--num-shards", "2")
    assert res.exit_code == 1
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_failure_keeps_an_existing_output_untouched(tmp_path):
    out = tmp_path / "out"
    write(pa.table({"text": ["old"]}), ShardedOutput(out, num_shards=1))
    with pytest.raises(RuntimeError):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("trlprep.io.shardout.shard_name", _boom)
            write(pa.table({"text": ["new"]}), ShardedOutput(out, num_shards=1), overwrite=True)
    assert read(out).table.column("text").to_pylist() == ["old"]
    assert _leftovers(tmp_path) == []


def _boom(*args):
    raise RuntimeError("disk on fire")


SLOW_WRITE = """
import sys, time, pyarrow as pa
from trlprep.io.shardout import ShardedOutput
from trlprep.io.writers import open_writer
from trlprep.cli.app import handle_sigterm
handle_sigterm()
t = pa.table({"text": ["x" * 100] * 100})
with open_writer(ShardedOutput(sys.argv[1], max_shard_size="5kB"), t.schema) as w:
    for _ in range(10_000):
        w.write(t)
        print("wrote", flush=True)
        time.sleep(0.05)
"""


def test_sigterm_leaves_nothing(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITE, str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    for _ in range(5):  # a few shards under way
        proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    time.sleep(0.1)
    assert proc.returncode != 0
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


# ---------------------------------------------------------------- real data


def test_hh_rlhf_over_shards_equals_over_the_file(tmp_path):
    """The real HH-RLHF sample cut into 3 JSONL shards: converting the folder gives the
    same rows as converting the file, and a bad-row message names the shard's own line."""
    hh = sample("hh_rlhf")
    lines = hh.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = [0, 50, 110, len(lines)]
    shards = tmp_path / "hh" / "data"
    shards.mkdir(parents=True)
    for i in range(3):
        (shards / f"train-{i:05d}-of-00003.jsonl").write_text("".join(lines[cut[i] : cut[i + 1]]))
    whole, over = tmp_path / "whole.jsonl", tmp_path / "over"
    res = run("convert", hh, "--to", "preference", "-o", whole)
    assert res.exit_code == 0, res.output
    res_shards = run(
        "convert", tmp_path / "hh", "--to", "preference", "-o", over, "--num-shards", "2"
    )
    assert res_shards.exit_code == 0, res_shards.output
    assert counts(res_shards.output) == counts(res.output) == (163, 0, 163, 163)
    assert read(over).table.to_pylist() == rows_of(whole)
    det = run("detect", tmp_path / "hh", "--json")
    info = json.loads(det.output)
    assert (info["type"], info["num_rows"]) == ("preference-implicit", 163)
    assert [s["first_row"] for s in info["shards"]] == [0, 50, 110]
    res = run("import", shards, "--from", "hh", "-o", tmp_path / "imp.jsonl", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    ref = run("import", hh, "--from", "hh", "-o", tmp_path / "ref.jsonl", "--on-error", "skip")
    assert counts(res.output) == counts(ref.output)
    assert rows_of(tmp_path / "imp.jsonl") == rows_of(tmp_path / "ref.jsonl")


def test_the_output_is_never_one_of_the_inputs(tmp_path):
    _jsonl(tmp_path / "d" / "a.jsonl", ROWS[:5])
    _jsonl(tmp_path / "d" / "b.jsonl", ROWS[5:])
    glob = str(tmp_path / "d" / "*.jsonl")
    res = run("convert", glob, "--to", "lm", "-o", tmp_path / "d" / "b.jsonl", "--overwrite")
    assert res.exit_code == 2 and "the output is the input" in res.output
    res = run("convert", tmp_path / "d", "--to", "lm", "-o", f"{tmp_path / 'd' / 'out'}/")
    assert res.exit_code == 2 and "inside the input folder" in res.output
    assert sorted(os.listdir(tmp_path / "d")) == ["a.jsonl", "b.jsonl"]


def test_a_jsonl_key_that_appears_late_in_a_shard_is_no_mismatch(tmp_path):
    from trlprep.io import jsonl

    late = [*ROWS[:6], {**ROWS[6], "source": "x"}]
    _jsonl(tmp_path / "0.jsonl", late)
    _jsonl(tmp_path / "1.jsonl", [{**ROWS[7], "source": "y"}])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsonl, "CHUNK_BYTES", 64)  # one or two rows a chunk
        src = read(tmp_path)
    assert src.table.column("source").to_pylist() == [None] * 6 + ["x", "y"]


def test_python_api_takes_folders_globs_and_inputs(tmp_path):
    import trlprep

    _hub_layout(tmp_path / "repo")
    _jsonl(tmp_path / "j" / "0.jsonl", ROWS[:5])
    _jsonl(tmp_path / "j" / "1.jsonl", ROWS[5:])
    assert trlprep.detect(tmp_path / "repo", split="test").num_rows == 2
    assert trlprep.convert(str(tmp_path / "j" / "*.jsonl"), to="lm").num_rows == 10
    both = trlprep.Inputs([tmp_path / "j" / "0.jsonl", tmp_path / "j" / "1.jsonl"])
    report = trlprep.validate(both)
    assert report.valid and report.num_rows == 10
    assert report.notes[-1] == "total: 10 rows in 2 files"


def test_bad_lines_of_several_files_each_count_and_name_their_file(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "0.jsonl").write_text(json.dumps(ROWS[0]) + "\nnot json\n")
    (tmp_path / "d" / "1.jsonl").write_text(json.dumps(ROWS[1]) + "\n{broken\n")  # line 2 too
    out = tmp_path / "out.jsonl"
    res = run("convert", tmp_path / "d", "--to", "lm", "-o", out, "--on-bad-lines", "skip")
    assert res.exit_code == 0, res.output
    assert "2 bad lines skipped" in res.output
    assert f"{tmp_path / 'd' / '0.jsonl'}:2" in res.output
    assert f"{tmp_path / 'd' / '1.jsonl'}:2" in res.output
    assert len(rows_of(out)) == 2


def test_bad_lines_of_several_files_name_their_file_as_rejected_rows_do(tmp_path):
    """A skipped line of one of several files has its `file` in the rejects file and reads
    `file:line` in the counts line, as a row rejected later does."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "0.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    (d / "1.jsonl").write_text(
        json.dumps(ROWS[1]) + '\n{"prompt": \n{"prompt": "q", "completion": null}\n'
    )
    out = tmp_path / "out.jsonl"
    res = run("convert", d, "--to", "lm", "-o", out, "--on-bad-lines", "skip", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert f"1 bad line skipped ({d / '1.jsonl'}:2: invalid JSON" in said
    assert f"(e.g. {d / '1.jsonl'}:3)" in said
    assert "line /" not in said
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["file"], r["stage"]) for r in rejects] == [
        (3, str(d / "1.jsonl"), "read"),
        (2, str(d / "1.jsonl"), "read"),
    ]
    assert [list(r) for r in rejects] == [["row", "line", "file", "stage", "reason", "record"]] * 2


def test_several_splits_into_one_shard_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    train = pa.table({"text": [f"t{i}" for i in range(5)]})
    test = pa.table({"text": ["x", "y"]})
    out = ShardedOutput(tmp_path / "out", num_shards=2)
    write({"train": train, "test": test}, out)
    assert sorted(os.listdir(tmp_path / "out")) == [
        "test-00000-of-00002.parquet",
        "test-00001-of-00002.parquet",
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out"))
    assert ds["train"]["text"] == train.column("text").to_pylist()
    assert ds["test"]["text"] == ["x", "y"]
    assert read(tmp_path / "out", split="test").table.equals(test)
    with pytest.raises(UsageError, match="only be written to a folder"):
        write({"train": train, "test": test}, tmp_path / "one.parquet")
    assert _leftovers(tmp_path) == []


def test_overwrite_never_replaces_a_folder_holding_other_files(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", ROWS)
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    (home / "sub").mkdir()
    res = run("convert", src, "--to", "lm", "-o", home, "--num-shards", "2", "--overwrite")
    assert res.exit_code == 2 and "holds more than data files (notes.txt, sub)" in res.output
    assert sorted(os.listdir(home)) == ["notes.txt", "sub"]


def test_a_later_shard_of_another_kind_is_refused_as_the_minority(tmp_path):
    """The second file's answers are numbers, most rows' are text: the stop names the first
    such row by file and line and the rule, never `prompt` (text in every file)."""
    folder = tmp_path / "two"
    folder.mkdir()
    rows = [json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) for i in range(4)]
    (folder / "a.jsonl").write_text("\n".join(rows) + "\n")
    rows = [json.dumps({"prompt": f"p{i}", "completion": i * 11}) for i in range(4, 7)]
    (folder / "b.jsonl").write_text("\n".join(rows) + "\n")
    res = run("convert", folder, "--to", "language-modeling", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "b.jsonl:1: read: column 'completion' holds a number (44)" in said
    assert "(rule mixed-kind); pass --coerce" in said and "(2 more rows fail)" in said
    assert "'prompt'" not in said
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_max_shard_size_shards_do_not_depend_on_the_batches(tmp_path, fmt):
    """Shards are cut at rows measured from their values: a table written whole, in uneven
    batches or a row at a time gives the same shards, byte for byte."""
    import random
    import string

    from trlprep.io import writers

    rng = random.Random(1)
    table = pa.table(
        {
            "text": [
                "".join(rng.choices(string.ascii_letters, k=rng.randrange(50, 900)))
                for _ in range(600)
            ]
        }
    )
    found = []
    for name, edges in (("whole", []), ("uneven", [1, 37, 38, 250, 599]), ("rows", range(600))):
        bounds = [0, *edges, 600]
        out = ShardedOutput(tmp_path / name, max_shard_size="40kB")
        with writers.open_writer(out, table.schema, output_format=fmt) as w:
            for a, b in zip(bounds, bounds[1:], strict=False):
                w.write(table.slice(a, b - a))
        files = sorted((tmp_path / name).iterdir())
        found.append([(f.name, f.read_bytes()) for f in files])
    assert len(found[0]) > 3
    assert found[0] == found[1] == found[2]
