"""`--engine ray` reads every input the local engine reads (JSON arrays, CSV, Arrow IPC,
`save_to_disk` folders, gzip/zstd JSON Lines, JSON Lines whose columns mix kinds), skips
broken JSON Lines lines with `--on-bad-lines skip`, and prints the workers' warnings and
notes: each compared with `--engine local` on the same input (rows, rejects file, counts,
messages). On the session's local Ray instance with 2 CPUs (`ray_support`)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

REALDATA = Path(__file__).parent / "realdata"
ROWS = [{"chosen": f"The sky is blue {i}.", "rejected": f"The sky is red {i}."} for i in range(6)]
ROWS[3] = {"chosen": "Blue.", "rejected": "Green."}  # no shared prompt: refused by the edge
BAD = ["{broken", "[1, 2]"]  # lines that hold no JSON object


def _write(folder: Path, fmt: str, rows: list[dict]) -> Path:
    """`rows` written as one input of `fmt` (as people hold such files)."""
    if fmt == "json":
        path = folder / "in.json"
        path.write_text(json.dumps(rows))
    elif fmt == "json-wrapped":
        path = folder / "in.json"
        path.write_text(json.dumps({"data": rows}))
    elif fmt == "csv":
        path = folder / "in.csv"
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    elif fmt == "arrow":
        import pyarrow.feather as feather

        path = folder / "in.arrow"
        feather.write_feather(pa.Table.from_pylist(rows), path)
    elif fmt == "disk":
        datasets = pytest.importorskip("datasets")
        path = folder / "in_disk"
        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    elif fmt in ("jsonl.gz", "jsonl.zst", "jsonl"):
        path = folder / f"in.{fmt}"
        text = "".join(json.dumps(r) + "\n" for r in rows).encode()
        if fmt == "jsonl.gz":
            path.write_bytes(gzip.compress(text))
        elif fmt == "jsonl.zst":
            with pa.CompressedOutputStream(str(path), "zstd") as f:
                f.write(text)
        else:
            path.write_bytes(text)
    else:
        raise AssertionError(fmt)
    return path


def _run(src: Path, out: Path, *args: str, engine: str):
    return CliRunner().invoke(
        app, ["convert", str(src), "-o", str(out), "--overwrite", "--engine", engine, *args]
    )


def _both(src: Path, tmp: Path, *args: str, local: str = "local.jsonl"):
    """Run convert with both engines (each writes one file, the local engine `local`, Ray
    `ray_out` of the same suffix): (results, output rows, rejects texts) by engine."""
    results, rows, rejects = {}, {}, {}
    for engine in ("local", "ray"):
        out = tmp / (local if engine == "local" else "ray_out" + Path(local).suffix)
        r = results[engine] = _run(src, out, *args, engine=engine)
        if r.exit_code == 0:
            rows[engine] = (
                [json.loads(x) for x in out.read_text().splitlines()]
                if out.suffix == ".jsonl"
                else _read_back(out)
            )
        rej = tmp / (f"{out.stem}.rejects.jsonl" if engine == "local" else "ray_out.rejects.jsonl")
        rejects[engine] = rej.read_text() if rej.exists() else None
        if rej.exists():
            rej.unlink()
    return results, rows, rejects


def _read_back(out: Path) -> list[dict]:
    """The rows of a Parquet output as trlprep reads them (an extra column of mixed kinds is
    stored as tagged JSON text, read back as its values)."""
    from trlprep.io.adapters import _py_columns
    from trlprep.io.readers import read

    return _py_columns(read(str(out)).table, rows=True)


def _same_rows(got: list[dict] | None, want: list[dict] | None) -> None:
    """`got` equals `want` row for row; a failure says whether rows differ or only their
    order, and where (the full lists of real rows are too long to read)."""
    if got == want:
        return
    assert got is not None and want is not None, (got is None, want is None)
    key = (
        [json.dumps(r, sort_keys=True) for r in got],
        [json.dumps(r, sort_keys=True) for r in want],
    )
    at = {k: i for i, k in enumerate(key[1])}
    moved = [(i, at.get(k)) for i, k in enumerate(key[0]) if at.get(k) != i][:12]
    missing = sorted(set(key[1]) - set(key[0]))[:2]
    extra = sorted(set(key[0]) - set(key[1]))[:2]
    raise AssertionError(
        f"{len(got)} rows vs {len(want)} expected; (row, its place in the expected) where "
        f"they differ: {moved}; missing: {missing}; unexpected: {extra}"
    )


def _counts(output: str) -> list[str]:
    """The counts line without the engine's prefix and the output's name."""
    line = next(x for x in output.splitlines() if re.search(r"\d rows? in, ", x))
    return [re.sub(r"^.*?: (\d[\d,]* rows? in)", r"\1", line).split(" -> /")[0]]


def _messages(output: str) -> list[str]:
    """The warning / note / reason lines, in order."""
    keep = ("warning: ", "note: ", "  ", "error: ")
    return [x for x in output.splitlines() if x.startswith(keep) and "hint:" not in x]


@pytest.mark.parametrize(
    "fmt", ["json", "json-wrapped", "csv", "arrow", "disk", "jsonl.gz", "jsonl.zst"]
)
def test_cli_ray_reads_every_local_format(tmp_path, fmt):
    """Each format the local engine reads converts on Ray to the local rows, rejects file
    (rows named by line for JSON Lines, compressed or not, and CSV; by row otherwise) and counts,
    and validates to the local report."""
    src = _write(tmp_path, fmt, ROWS)
    results, rows, rejects = _both(src, tmp_path, "--to", "preference", "--on-error", "skip")
    local, got = results["local"], results["ray"]
    assert local.exit_code == got.exit_code == 0, (local.output, got.output)
    assert "6 rows in, 1 rejected, 5 converted -> 5 rows out" in got.output
    _same_rows(rows["ray"], rows["local"])
    assert len(rows["ray"]) == 5
    assert rejects["ray"] == rejects["local"]
    first = json.loads(rejects["ray"].splitlines()[0])
    line = {"csv": 5}.get(fmt, 4 if "jsonl" in fmt else None)  # CSV: the header is line 1
    assert (first["row"], first["line"]) == (3, line)
    assert _messages(got.output) == _messages(local.output)
    reports = [
        CliRunner().invoke(app, ["validate", str(src), "--engine", e, "--format", "json"])
        for e in ("local", "ray")
    ]
    assert reports[0].exit_code == reports[1].exit_code
    assert json.loads(reports[1].output) == json.loads(reports[0].output)


def test_cli_ray_mixed_kinds_jsonl_as_local(tmp_path):
    """A JSON Lines column holding text in some rows and numbers in others (which Ray's JSON
    reader cannot type) is read by trlprep's reader: the local rows, the values unchanged.
    An extra column of mixed kinds is carried as it is by both engines, stored in Parquet
    as JSON text, which both say once in the same warning."""
    rows = [
        {"prompt": f"p{i}", "completion": f"c{i}", "src": 7 if i == 1 else "x"} for i in range(5)
    ]
    src = _write(tmp_path, "jsonl", rows)
    for args in (["--on-error", "skip"], ["--coerce"]):
        results, out, rejects = _both(
            src, tmp_path, "--to", "language-modeling", *args, local="local.parquet"
        )
        assert results["ray"].exit_code == results["local"].exit_code == 0
        _same_rows(out["ray"], out["local"])
        assert rejects["ray"] == rejects["local"]
        assert _counts(results["ray"].output) == _counts(results["local"].output)
        said = [
            m.replace("ray_out.parquet", "local.parquet") for m in _messages(results["ray"].output)
        ]
        assert said == _messages(results["local"].output)
        assert sum("warning: column 'src' (an extra column)" in m for m in said) == 1
        assert [r["src"] for r in out["ray"]] == [r["src"] for r in rows]


def test_cli_ray_rejects_rows_of_another_kind_in_a_required_column_as_local(tmp_path):
    """A required column holding a number in some rows and text in others: with --on-error
    skip both engines reject those rows (line, stage read, reason) and convert the rest,
    on a plain route and through pairing by prompt (the kinds settled over the file, not
    over Ray's buckets of prompts); without it both stop naming the first such line."""
    rows = [{"prompt": f"q{i % 3}", "completion": f" a{i}", "label": i % 2 == 0} for i in range(12)]
    rows[4]["completion"], rows[7]["prompt"] = 4, 7
    src = _write(tmp_path, "jsonl", rows)
    for to in ("prompt-completion", "preference"):
        results, out, rejects = _both(src, tmp_path, "--to", to, "--on-error", "skip")
        assert results["local"].exit_code == results["ray"].exit_code == 0, results["ray"].output
        _same_rows(out["ray"], out["local"])
        assert rejects["ray"] == rejects["local"]
        found = [json.loads(x) for x in rejects["ray"].splitlines()]
        assert [(r["line"], r["stage"]) for r in found] == [(5, "read"), (8, "read")]
        assert _counts(results["ray"].output) == _counts(results["local"].output)
        assert _messages(results["ray"].output) == _messages(results["local"].output)
    results, _, _ = _both(src, tmp_path, "--to", "preference")
    assert results["local"].exit_code == results["ray"].exit_code == 1
    assert _messages(results["ray"].output) == _messages(results["local"].output)
    assert f"{src}:5: read: column 'completion' holds a number (4)" in results["ray"].output


def test_cli_ray_imports_a_layout_with_an_extra_of_mixed_kinds_as_local(tmp_path):
    """Real Alpaca rows with an extra column holding a value of another kind in each row:
    Ray imports them as the local engine does (no row refused, the values carried, stored
    as JSON text in Parquet) and prints the same warning once."""
    rows = json.loads((REALDATA / "alpaca_demo" / "alpaca_en_demo.json").read_text())[:6]
    extra = [7, "seven", [7], {"n": 7}, None, True]
    src = _write(tmp_path, "jsonl", [dict(r, source=v) for r, v in zip(rows, extra, strict=True)])
    results, out, rejects = _both(src, tmp_path, "--from", "alpaca", local="local.parquet")
    assert results["local"].exit_code == results["ray"].exit_code == 0, results["ray"].output
    _same_rows(out["ray"], out["local"])
    assert [r["source"] for r in out["ray"]] == extra
    assert _counts(results["ray"].output) == ["6 rows in, 0 rejected, 6 converted -> 6 rows out"]
    said = [m.replace("ray_out.parquet", "local.parquet") for m in _messages(results["ray"].output)]
    assert said == _messages(results["local"].output)
    assert sum("warning: column 'source' (an extra column)" in m for m in said) == 1


def _broken_shards(folder: Path) -> Path:
    """Two JSON Lines shards with broken lines (and a blank line) among good rows."""
    folder.mkdir()
    lines = [json.dumps(r) for r in ROWS]
    (folder / "train-00000-of-00002.jsonl").write_text(
        "\n".join([lines[0], BAD[0], lines[1], lines[2]]) + "\n"
    )
    (folder / "train-00001-of-00002.jsonl").write_text(
        "\n".join([lines[3], "", lines[4], BAD[1], lines[5]]) + "\n"
    )
    return folder


def test_cli_ray_on_bad_lines_skip_as_local(tmp_path):
    """`--on-bad-lines skip` on Ray: the broken lines skipped and reported (file:line,
    reason) as locally, rows in = out + rejected with the skipped lines counted apart, the
    same rejects file; without it both engines stop (exit 1) naming the same line."""
    src = _broken_shards(tmp_path / "shards")
    args = ["--to", "preference", "--on-error", "skip", "--on-bad-lines", "skip"]
    results, rows, rejects = _both(src, tmp_path, *args)
    local, got = results["local"], results["ray"]
    assert local.exit_code == got.exit_code == 0, got.output
    _same_rows(rows["ray"], rows["local"])
    assert len(rows["ray"]) == 5
    assert rejects["ray"] == rejects["local"]
    assert _counts(got.output) == _counts(local.output)
    assert "6 rows in, 1 rejected, 5 converted -> 5 rows out; 2 bad lines skipped" in got.output
    assert "1 rejected row and 2 bad lines -> " in got.output
    skipped = [json.loads(x) for x in rejects["ray"].splitlines() if '"read"' in x]
    assert [(r["line"], r["file"], r["stage"]) for r in skipped] == [
        (2, str(src / "train-00000-of-00002.jsonl"), "read"),
        (4, str(src / "train-00001-of-00002.jsonl"), "read"),
    ]
    assert f"skipped ({src / 'train-00000-of-00002.jsonl'}:2: " in got.output

    results, _, _ = _both(src, tmp_path, "--to", "preference")
    assert results["local"].exit_code == results["ray"].exit_code == 1
    where = f"{src / 'train-00000-of-00002.jsonl'}:2"
    assert where in results["local"].output and where in results["ray"].output

    reports = {}
    for engine in ("local", "ray"):
        for skip in ("error", "skip"):
            r = CliRunner().invoke(
                app,
                ["validate", str(src), "--engine", engine, "--format", "json"]
                + ["--on-bad-lines", skip],
            )
            assert r.exit_code == 1, r.output
            reports[engine, skip] = json.loads(r.output)
    assert reports["ray", "error"] == reports["local", "error"]
    assert reports["ray", "skip"] == reports["local", "skip"]
    assert reports["ray", "skip"]["issues"][0]["rule"] == "invalid-line"


def test_cli_ray_prints_worker_warnings_once_as_local(tmp_path):
    """A warning a conversion raises in a Ray worker (rows dropped for want of a prompt) and
    the plan's notes are printed on the driver, once each, as the local engine prints them."""
    src = _write(tmp_path, "jsonl", ROWS)
    results, rows, _ = _both(src, tmp_path, "--to", "preference", "--no-prompt", "drop")
    local, got = results["local"], results["ray"]
    assert local.exit_code == got.exit_code == 0, got.output
    _same_rows(rows["ray"], rows["local"])
    warning = "warning: line 4: chosen and rejected share no text, so no prompt; dropped"
    assert got.output.count(warning) == local.output.count(warning) == 1
    assert _messages(got.output) == _messages(local.output)


@st.composite
def inputs(draw):
    """(format, rows, broken lines at): implicit-preference rows, some without a shared
    prompt, and (JSON Lines) lines that hold no JSON object."""
    fmt = draw(st.sampled_from(["jsonl", "jsonl.gz", "json", "csv", "arrow"]))
    words = st.sampled_from(["sky", "sea", "The sky", "The sea is"])
    rows = [
        {"chosen": f"{draw(words)} blue {i}.", "rejected": f"{draw(words)} red {i}."}
        for i in range(draw(st.integers(1, 8)))
    ]
    bad = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=2))) if fmt == "jsonl" else []
    return fmt, rows, bad


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each try costs Ray jobs
)
@given(data=inputs(), drop=st.booleans())
def test_cli_ray_equals_local_over_formats_bad_lines_and_warnings(tmp_path_factory, data, drop):
    """Over formats, broken lines and warnings: the same exit code, rows, rejects file,
    counts and warning / note / reason lines from both engines."""
    fmt, rows, bad = data
    tmp = tmp_path_factory.mktemp("eq")
    src = _write(tmp, fmt, rows)
    if bad:
        lines = src.read_text().splitlines()
        for k, at in enumerate(bad):
            lines.insert(at + k, BAD[k % 2])
        src.write_text("\n".join(lines) + "\n")
    args = ["--to", "preference", "--on-error", "skip", "--on-bad-lines", "skip"]
    args += ["--no-prompt", "drop"] if drop else []
    results, out, rejects = _both(src, tmp, *args)
    local, got = results["local"], results["ray"]
    assert got.exit_code == local.exit_code, (got.output, local.output)
    _same_rows(out.get("ray"), out.get("local"))
    assert rejects["ray"] == rejects["local"]
    if local.exit_code == 0:
        assert _counts(got.output) == _counts(local.output)
    assert _messages(got.output) == _messages(local.output)


def test_cli_ray_real_hh_gz_and_json_arrays_as_local(tmp_path):
    """Real samples: the HH-RLHF sample gzip-compressed (imported with --from hh, rows
    refused by the importer set aside), LLaMA-Factory's DPO demo (a JSON array of ShareGPT
    preference rows) and OpenAssistant trees (20 trees -> 73 pairs) give the local rows,
    rejects, counts (with the import's) and messages on Ray."""
    hh = tmp_path / "hh.jsonl.gz"
    hh.write_bytes(
        gzip.compress((REALDATA / "hh_rlhf/harmless-base-test.sample.jsonl").read_bytes())
    )
    cases = [
        (hh, ["--from", "hh", "--to", "preference", "--on-error", "skip"]),
        (REALDATA / "dpo_demo/dpo_en_demo.json", ["--to", "preference"]),
        (  # an import that makes several rows of one: its counts in the counts line
            REALDATA / "oasst_trees/en_100_tree.first20.jsonl",
            ["--from", "oasst-ranked", "--to", "preference", "--on-error", "skip"],
        ),
    ]
    for src, args in cases:
        results, rows, rejects = _both(src, tmp_path, *args)
        local, got = results["local"], results["ray"]
        assert local.exit_code == got.exit_code == 0, got.output
        _same_rows(rows["ray"], rows["local"])
        assert rows["ray"]
        assert rejects["ray"] == rejects["local"]
        assert _counts(got.output) == _counts(local.output)
        assert _messages(got.output) == _messages(local.output)


def test_cli_ray_data_column_named_path_keeps_file_lines(tmp_path):
    """A data column named `path` (the name Ray gives its file column) does not cost the
    rows their file lines: the validation report names line 3, as locally."""
    src = tmp_path / "p.jsonl"
    src.write_text(
        '{"prompt": "a", "completion": "b", "path": "x"}\n\n'
        '{"prompt": "c", "completion": "", "path": "y"}\n'
    )
    reports = [
        CliRunner().invoke(app, ["validate", str(src), "--engine", e, "--format", "json"])
        for e in ("local", "ray")
    ]
    local, got = (json.loads(r.output) for r in reports)
    assert got == local
    assert [i["lines"] for i in got["issues"] if i["rule"] == "empty-string"] == [[3]]


def test_cli_ray_pairs_conversational_unpaired_rows_read_from_messages(tmp_path):
    """KTO rows (`messages` + `label`) to preference: Ray keys the pairs on the prompt read
    from the messages (it once keyed the raw rows and failed on a missing `prompt`); the
    real LLaMA-Factory sample has no prompt with both labels, so both engines stop alike."""
    src = REALDATA / "kto_demo/kto_en_demo.json"
    results, _, _ = _both(src, tmp_path, "--to", "preference", "--on-error", "skip")
    local, got = results["local"], results["ray"]
    assert local.exit_code == got.exit_code == 1, got.output
    assert "missing column" not in got.output
    error = [x for x in local.output.splitlines() if x.startswith("error: ")]
    assert error and error == [x for x in got.output.splitlines() if x.startswith("error: ")]
    assert "rows found no partner with the opposite label" in got.output


def test_cli_ray_writes_the_local_engines_bytes(tmp_path):
    """A local output folder is written by the driver, block after block in row order, with
    the local engine's shard writer: the same bytes as `--engine local`, in the same shards,
    with a plain file's permissions."""
    src = REALDATA / "hh_rlhf/harmless-base-test.sample.jsonl"
    args = ["--from", "hh", "--to", "preference", "--on-error", "skip", "--num-shards", "2"]
    for engine in ("local", "ray"):
        r = _run(src, tmp_path / engine, "--output-format", "jsonl", *args, engine=engine)
        assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == ["train-00000-of-00002.jsonl", "train-00001-of-00002.jsonl"]
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == names
    for name in names:
        got = tmp_path / "ray" / name
        assert got.read_bytes() == (tmp_path / "local" / name).read_bytes()
        assert got.stat().st_mode & 0o777 == (tmp_path / "local" / name).stat().st_mode & 0o777


def test_cli_ray_renders_a_chat_template_as_local(tmp_path):
    """The real DPO demo (ShareGPT preference JSON) rendered with chatml in Ray's actor
    pool: the local rows, and the same summary (`-> standard with chatml`)."""
    src = REALDATA / "dpo_demo/dpo_en_demo.json"
    results, rows, _ = _both(src, tmp_path, "--to", "preference", "--chat-template", "chatml")
    assert results["local"].exit_code == results["ray"].exit_code == 0, results["ray"].output
    _same_rows(rows["ray"], rows["local"])
    assert rows["ray"] and rows["ray"][0]["prompt"].startswith("<|im_start|>")
    for r in results.values():
        assert "(conversational -> standard with chatml)" in r.output, r.output
    assert _counts(results["ray"].output) == _counts(results["local"].output)


def test_cli_ray_pairing_warns_once_as_local(tmp_path):
    """Pairing unpaired rows by prompt runs per bucket of prompts on Ray; the rows left
    without a partner are said once, counts summed and rows in order, as locally."""
    rows = [
        {"prompt": f"q{i % 7}", "completion": f" a{i}", "label": i % 3 != 0 or i > 20}
        for i in range(30)
    ]
    src = _write(tmp_path, "jsonl", rows)
    results, out, _ = _both(src, tmp_path, "--to", "preference")
    assert results["local"].exit_code == results["ray"].exit_code == 0, results["ray"].output
    _same_rows(out["ray"], out["local"])
    said = [m for m in _messages(results["ray"].output) if "no partner" in m]
    assert len(said) == 1 and said == [
        m for m in _messages(results["local"].output) if "no partner" in m
    ]


def test_cli_ray_validate_from_a_layout_as_local(tmp_path):
    """validate --from LAYOUT on Ray: the same issues, rows and lines as locally (the
    import's refusals as import-failed, a duplicate named by the input's lines)."""
    hh = REALDATA / "hh_rlhf" / "harmless-base-test.sample.jsonl"
    rows = hh.read_text().splitlines()
    path = tmp_path / "hh.jsonl"
    path.write_text("\n".join([*rows, rows[0]]) + "\n")  # the last line repeats the first
    runner = CliRunner()
    got = {}
    for engine in ("local", "ray"):
        args = ["validate", str(path), "--from", "hh", "--format", "json", "--engine", engine]
        res = runner.invoke(app, args)
        assert res.exit_code == 1, res.output
        report = json.loads(res.output[res.output.index("{") :])
        got[engine] = [(i["rule"], i["count"], i["rows"], i["lines"]) for i in report["issues"]]
    assert got["ray"] == got["local"]
    issues = {rule: (count, rows, lines) for rule, count, rows, lines in got["local"]}
    assert issues["import-failed"][0] == 4 and issues["import-failed"][2] == [87, 151, 154, 155]
    assert issues["duplicate-row"][2] == [len(rows) + 1]


def test_cli_ray_validate_from_a_layout_reads_and_imports_each_row_once(tmp_path, monkeypatch):
    """validate --from LAYOUT on Ray reads the file once and imports each row once (the
    imported blocks are materialized, then detected and checked from there), for a layout
    imported block by block (hh) and one imported whole (oasst). Counted in the workers:
    each call appends a line to a file under tmp_path."""
    import trlprep.ray.conversion as conversion
    import trlprep.ray.sources as sources

    log = tmp_path / "calls.log"
    imported, read = conversion._import, sources._read_file

    def counted_import(batch, *args):  # a closure: Ray pickles it by value
        with open(log, "a") as f:
            f.write(f"import {batch.num_rows}\n")
        return imported(batch, *args)

    def counted_read(path, *args):
        with open(log, "a") as f:
            f.write(f"read {path}\n")
        yield from read(path, *args)

    monkeypatch.setattr(conversion, "_import", counted_import)
    monkeypatch.setattr(sources, "_read_file", counted_read)
    hh = REALDATA / "hh_rlhf" / "harmless-base-test.sample.jsonl"
    oasst = REALDATA / "oasst_messages" / "en_100_message.first8.flat.jsonl"
    for path, layout in ((hh, "hh"), (oasst, "oasst")):
        log.write_text("")
        args = ["validate", str(path), "--from", layout, "--format", "json", "--engine", "ray"]
        res = CliRunner().invoke(app, args)
        assert res.exit_code in (0, 1), res.output
        calls = log.read_text().splitlines()
        reads = [c for c in calls if c.startswith("read ")]
        imports = [int(c.split()[1]) for c in calls if c.startswith("import ")]
        assert reads == [f"read {path}"], calls
        assert sum(imports) == len(path.read_text().splitlines()), calls
        if layout == "hh":
            assert len(imports) > 1, calls  # several blocks, each imported once


def test_imported_rows_named_by_an_issue_are_found_in_their_blocks():
    """`validate --from` on Ray names the input row of each imported row an issue names,
    fetched from the block holding it (no column of every row's id on the driver): the
    positions count the checked rows only, past reject rows and empty blocks."""
    import ray

    from trlprep.errors import ROW_ID
    from trlprep.ray.base import REJECT, REJECT_TYPE, _blocks
    from trlprep.ray.imported import _InputRows

    def block(ids, refused=()):
        reject = [{"stage": "import", "reason": "x"} if i in refused else None for i in ids]
        return pa.table({ROW_ID: pa.array(ids, pa.int64()), REJECT: pa.array(reject, REJECT_TYPE)})

    parts = [block([10, 11, 12], refused={11}), block([]), block([20, 21, 22, 23], {20, 22})]
    ds = ray.data.from_arrow_refs([ray.put(t) for t in parts])
    offsets, blocks = [0, 2, 2], _blocks(ds)
    checked = [(ref, at, n) for (ref, _, _), at, n in zip(blocks, offsets, [2, 0, 2], strict=True)]
    rows = _InputRows(checked, {0, 1, 3, 7})  # 7: past the checked rows, not fetched
    assert len(rows) == 4 and rows.ids == {0: 10, 1: 12, 3: 23}


def test_cli_ray_decodes_datasets_json_columns_from_object_storage_as_local(tmp_path):
    """A Parquet file `datasets` wrote with `Json` features (real glaive tool calls, rows
    whose messages differ in keys), read through Ray's own reader (a `file://` URI, as
    object storage is read): its `Json` columns are decoded as the local engine decodes
    them, and the rendered rows are the local ones."""
    datasets = pytest.importorskip("datasets")
    if not hasattr(datasets, "Json"):
        pytest.skip("datasets has no Json feature (datasets < 4.1)")
    from test_realdata_toolcalls import glaive_messages

    raw = json.loads((REALDATA / "glaive_toolcall/glaive_toolcall_en_demo.json").read_text())
    rows = [
        {"messages": glaive_messages(r), "tools": json.loads(r["tools"]) if r["tools"] else None}
        for r in raw[:12]
    ]
    ds = datasets.Dataset.from_list(rows, on_mixed_types="use_json")
    assert ds.features["messages"] == datasets.List(datasets.Json())
    src = tmp_path / "in.parquet"
    ds.to_parquet(str(src))
    results, out = {}, {}
    for engine, path in (("local", str(src)), ("ray", src.resolve().as_uri())):
        dest = tmp_path / ("local.jsonl" if engine == "local" else "ray_out.parquet")
        results[engine] = _run(path, dest, "--chat-template", "qwen2.5", engine=engine)
        assert results[engine].exit_code == 0, results[engine].output
        out[engine] = (
            [json.loads(x) for x in dest.read_text().splitlines()]
            if engine == "local"
            else _read_back(dest)
        )
    _same_rows(out["ray"], out["local"])
    assert len(out["ray"]) == 12
    assert all(r["text"].startswith("<|im_start|>system") for r in out["ray"])
    assert _counts(results["ray"].output) == _counts(results["local"].output)


def test_cli_ray_map_onto_tools_keeps_each_rows_schemas_as_local(tmp_path):
    """BFCL's schemas under another name (`functions`), `--map tools=functions`: each row
    keeps its own schemas (in its own key order) on Ray as locally, rendered alike."""
    raw = [json.loads(x) for x in (REALDATA / "bfcl/bfcl_v4.sample.jsonl").read_text().splitlines()]
    src = tmp_path / "functions.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": r["id"], "prompt": r["question"][0], "functions": r["function"]})
            + "\n"
            for r in raw
        )
    )
    args = ("--map", "tools=functions", "--chat-template", "qwen2.5")
    results, rows, _ = _both(src, tmp_path, *args)
    assert results["local"].exit_code == results["ray"].exit_code == 0, results["ray"].output
    _same_rows(rows["ray"], rows["local"])
    assert [json.dumps(r["tools"]) for r in rows["ray"]] == [json.dumps(r["function"]) for r in raw]
    assert _counts(results["ray"].output) == _counts(results["local"].output)


def test_cli_ray_coerce_reads_labels_as_local(tmp_path):
    """KTO rows with 0/1 and "true"/"false" labels (one 2, one "yes"): `--coerce` reads the
    labels as booleans and rejects the others by line on Ray as locally (rows, rejects,
    counts, the note saying how many were read), plain and with `--map label=thumbs_up`."""
    values = [1, 0, "TRUE", 2, False, "yes", "0", 1]
    for column, args in (("label", ()), ("thumbs_up", ("--map", "label=thumbs_up"))):
        rows = [{"prompt": f"p{i}", "completion": f"c{i}", column: v} for i, v in enumerate(values)]
        src = _write(tmp_path, "jsonl", rows)
        got, out, rejects = _both(src, tmp_path, *args, "--coerce", "--on-error", "skip")
        assert got["local"].exit_code == got["ray"].exit_code == 0, got["ray"].output
        _same_rows(out["ray"], out["local"])
        assert [r["label"] for r in out["ray"]] == [True, False, True, False, False, True]
        assert rejects["ray"] == rejects["local"]
        assert [json.loads(x)["line"] for x in rejects["ray"].splitlines()] == [4, 6]
        assert _counts(got["ray"].output) == _counts(got["local"].output)
        said = [m for m in _messages(got["ray"].output) if "read as booleans" in m]
        assert said and said == [
            m for m in _messages(got["local"].output) if "read as booleans" in m
        ]


def test_cli_ray_validate_coerce_as_local(tmp_path):
    """`validate --coerce --engine ray` gives the local report (errors on the rows convert
    --coerce rejects, the note saying how many labels were read), plain and with --map."""
    values = [1, 0, "TRUE", 2, False, "yes", "0", 1]
    for column, args in (("label", ()), ("thumbs_up", ("--map", "label=thumbs_up"))):
        rows = [{"prompt": f"p{i}", "completion": f"c{i}", column: v} for i, v in enumerate(values)]
        src = _write(tmp_path, "jsonl", rows)
        reports = [
            CliRunner().invoke(
                app, ["validate", str(src), *args, "--coerce", "--engine", e, "--format", "json"]
            )
            for e in ("local", "ray")
        ]
        assert reports[0].exit_code == reports[1].exit_code == 1, reports[1].output
        got, want = json.loads(reports[1].output), json.loads(reports[0].output)
        assert got == want
        lines = sorted(x for i in got["issues"] if i["severity"] == "error" for x in i["lines"])
        assert lines == [4, 6]
        assert any("read as booleans (--coerce)" in n for n in got["notes"]), got["notes"]


def test_cli_ray_coerce_note_counts_only_kept_rows(tmp_path):
    """A stepwise row `["true", null]` read, then rejected (by validation; by the import
    with `--map labels=ok`): its value is not counted in the note, on Ray as locally."""
    from trlprep.io.labels import READ_AS

    steps = [["true", "false"], ["true", None], [1]]
    for column, args in (("labels", ()), ("ok", ("--map", "labels=ok"))):
        rows = [
            {"prompt": f"p{i}", "completions": ["a"] * len(s), column: s}
            for i, s in enumerate(steps)
        ]
        src = _write(tmp_path, "jsonl", rows)
        got, _, _ = _both(src, tmp_path, *args, "--coerce", "--on-error", "skip")
        assert got["local"].exit_code == got["ray"].exit_code == 0, got["ray"].output
        for engine in ("local", "ray"):
            said = [m for m in _messages(got[engine].output) if "read as booleans" in m]
            note = f"column {column!r}: 3 values ({READ_AS}) read as booleans (--coerce)"
            assert said == [f"note: {note}"], engine
