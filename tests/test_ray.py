"""`--engine ray` (trlprep.ray over Ray Data) gives the local engine's results, on a local
Ray instance with 2 CPUs started here. Skipped when Ray is not installed."""

from __future__ import annotations

import copy
import json
import os
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import trlprep
from trlprep.errors import DataError, TrlprepError, UsageError

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)

from trlprep import ray as engine  # noqa: E402
from trlprep.cli.ray_cmd import ray_errors  # noqa: E402

TYPES = sorted({t for t, f in EXAMPLES})
SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each try costs Ray jobs
)
TEXT = st.text(alphabet=st.sampled_from(list("ab c.é")), min_size=1, max_size=6)


def _fill(value, draw, pool):
    """`value` with every text replaced by a drawn one (prompts from a small pool)."""
    if isinstance(value, str):
        return draw(TEXT)
    if isinstance(value, list):
        return [_fill(v, draw, pool) for v in value]
    if isinstance(value, dict):
        return {k: (v if k == "role" else _fill(v, draw, pool)) for k, v in value.items()}
    return value


@st.composite
def datasets(draw):
    """(rows, type, format, blocks): rows of one type and format split into 1-3 blocks."""
    src, fmt = draw(st.sampled_from(sorted(EXAMPLES)))
    base = EXAMPLES[(src, fmt)]
    pool = [_fill(copy.deepcopy(base.get("prompt", "")), draw, None) for _ in range(2)]
    rows = []
    for i in range(draw(st.integers(1, 9))):
        row = _fill(copy.deepcopy(base), draw, pool)
        if "prompt" in row:
            row["prompt"] = copy.deepcopy(draw(st.sampled_from(pool)))
        if "label" in row:
            row["label"] = draw(st.booleans())
        if "labels" in row:
            row["labels"] = [draw(st.booleans()) for _ in row["labels"]]
        row["id"] = i
        rows.append(row)
    cuts = sorted(draw(st.lists(st.integers(1, len(rows)), max_size=2)))
    return rows, src, fmt, [0, *cuts, len(rows)]


def _blocks(table: pa.Table, cuts: list[int]):
    parts = [table.slice(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
    return ray.data.from_arrow(parts or [table])


def _rows(table: pa.Table) -> list[str]:
    return [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in table.to_pylist()]


def _outcome(fn):
    """The rows a conversion gives, or the kind of error it raises."""
    try:
        with warnings.catch_warnings(), ray_errors():
            warnings.simplefilter("ignore")
            return fn()
    except TrlprepError as e:
        return UsageError if isinstance(e, UsageError) else DataError


@SETTINGS
@given(
    data=datasets(),
    to=st.sampled_from(TYPES),
    on_error=st.sampled_from(["stop", "skip"]),
    order=st.sampled_from(["interleaved", "blocks"]),
)
def test_convert_ray_equals_local(data, to, on_error, order):
    rows, src, fmt, cuts = data
    table = pa.Table.from_pylist(rows)
    kw = dict(to=to, on_error=on_error, order=order)
    local = _outcome(lambda: _rows(trlprep.convert(table, **kw)))
    got = _outcome(lambda: [r for t in _ray_table(_blocks(table, cuts), **kw) for r in _rows(t)])
    if isinstance(local, list) and isinstance(got, list):
        assert got == local  # the same rows in the same order (input order kept)
    else:
        assert got == local, (src, fmt, to, got, local)


def _ray_table(ds, to, **kw) -> list[pa.Table]:
    return ray.get(engine.convert(ds, to=to, **kw).to_arrow_refs())


def test_pairing_groups_across_blocks():
    """Unpaired -> preference pairs rows of one prompt that lie in different blocks."""
    rows = [
        {"prompt": f"p{i % 3}", "completion": f" c{i}", "label": i % 2 == 0, "id": i}
        for i in range(12)
    ]
    table = pa.Table.from_pylist(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = trlprep.convert(table, to="preference")
    got = pa.concat_tables(_ray_table(_blocks(table, [0, 2, 5, 12]), "preference"))
    assert got.num_rows == local.num_rows == 6
    assert got.to_pylist() == local.to_pylist()


def test_rows_come_back_in_row_order_whatever_order_ray_gives_the_blocks():
    """Blocks that pass each other (Ray keeps their order only as a best effort) are put
    back in order; blocks whose rows interleave are sorted; rows of one input row (a pair's
    two halves) keep their order either way."""
    from trlprep.errors import ROW_ID
    from trlprep.ray.numbering import in_row_order

    def block(ids, tag):
        return pa.table({ROW_ID: ids, "v": [f"{tag}{i}" for i in range(len(ids))]})

    want = list(range(9))
    parts = [block([6, 7, 8], "c"), block([0, 1, 1, 2], "a"), block([], "e"), block([3, 4, 5], "b")]
    got = in_row_order(ray.data.from_arrow_refs([ray.put(t) for t in parts])).take_all()
    assert [r[ROW_ID] for r in got] == [0, 1, 1, 2, 3, 4, 5, 6, 7, 8]
    assert [r["v"] for r in got][:4] == ["a0", "a1", "a2", "a3"]  # the halves as they were
    interleaved = [block([1, 3, 5, 7], "x"), block([0, 2, 4, 6, 8], "y")]
    got = in_row_order(ray.data.from_arrow_refs([ray.put(t) for t in interleaved])).take_all()
    assert [r[ROW_ID] for r in got] == want
    unsorted = [block([2, 0, 1], "z")]
    got = in_row_order(ray.data.from_arrow_refs([ray.put(t) for t in unsorted])).take_all()
    assert [r[ROW_ID] for r in got] == [0, 1, 2]


def test_python_api_raises_the_workers_warnings_once_as_locally():
    """A warning raised in a Ray worker (a row dropped for want of a prompt) reaches the
    caller of `trlprep.ray.convert` as `trlprep.convert` raises it: once, same words."""
    rows = [
        {"chosen": f"The sky is blue {i}.", "rejected": f"The sky is red {i}."} for i in range(6)
    ]
    rows[3] = {"chosen": "Blue.", "rejected": "Green."}
    table = pa.Table.from_pylist(rows)

    def said(fn):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            out = fn()
        return out, [(w.category, str(w.message)) for w in got if "share no text" in str(w.message)]

    local, want = said(lambda: trlprep.convert(table, to="preference", no_prompt="drop"))
    blocks = ray.data.from_arrow([table.slice(0, 2), table.slice(2, 2), table.slice(4)])
    got, heard = said(lambda: engine.convert(blocks, to="preference", no_prompt="drop").take_all())
    assert len(want) == 1 and heard == want
    assert got == local.to_pylist()


def test_python_api_warns_of_an_extra_of_mixed_kinds_once_as_locally():
    """An extra column holding values of several kinds, in two blocks, comes back as JSON
    text from `trlprep.ray.convert` with the warning `trlprep.convert` gives, once."""
    from trlprep.io.readers import table_from_records

    src = [7, 7, "x", 7, "x", {"a": 1}]
    table = table_from_records([{"text": f"t{i}", "src": v} for i, v in enumerate(src)])

    def said(fn):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            out = fn()
        return out, [str(w.message) for w in got if "column 'src'" in str(w.message)]

    local, want = said(lambda: trlprep.convert(table, to="language-modeling"))
    blocks = ray.data.from_arrow([table.slice(0, 3), table.slice(3)])
    got, heard = said(lambda: engine.convert(blocks, to="language-modeling").take_all())
    assert len(want) == 1 and heard == want
    assert "holds numbers and strings and objects" in want[0]
    assert [r["src"] for r in got] == local.column("src").to_pylist()


def test_validate_ray_report_has_global_rows():
    """Per-block reports merge into the local report: same issues, same global rows."""
    rows = [{"prompt": "p", "completion": " c", "id": i} for i in range(10)]
    rows[3]["completion"] = ""
    rows[8]["completion"] = ""
    rows[9] = dict(rows[0])  # a duplicate of row 0
    table = pa.Table.from_pylist(rows)
    local = trlprep.validate(table)
    got = engine.validate(_blocks(table, [0, 4, 7, 10]))
    assert got.to_dict() == local.to_dict()
    assert any(8 in i.rows for i in got.issues)


def test_row_failure_names_global_row():
    """A row a conversion refuses in the last block is named by its global row number."""
    good = {"chosen": "The sky is blue.", "rejected": "The sky is green."}
    rows = [good] * 6 + [{"chosen": "Blue.", "rejected": "Green."}]
    ds = _blocks(pa.Table.from_pylist(rows), [0, 3, 7])
    with pytest.raises(DataError, match="row 6: .*share no text"), ray_errors():
        engine.convert(ds, to="preference").materialize()


def test_rows_with_null_required_values_are_row_failures_as_local():
    """A null chosen is a row failure on Ray too: set aside with skip (as locally), else
    named by its global row; a block whose rows all lack it is no data-wide error."""
    rows = [{"prompt": f"q{i}", "chosen": f" yes {i}", "rejected": f" no {i}"} for i in range(6)]
    rows[4]["chosen"] = rows[5]["chosen"] = None
    table = pa.Table.from_pylist(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = trlprep.convert(table, to="unpaired-preference", on_error="skip")
        got = _ray_table(_blocks(table, [0, 4, 6]), to="unpaired-preference", on_error="skip")
    assert [r for t in got for r in _rows(t)] == _rows(local) and local.num_rows == 8
    with pytest.raises(DataError, match="row 4: .*'chosen': a required value is null"):
        with ray_errors():
            engine.convert(_blocks(table, [0, 4, 6]), to="unpaired-preference").materialize()


def test_order_blocks_as_local():
    """Unpairing with order="blocks": every first-of-pair row before any second one."""
    rows = [{"prompt": f"q{i}", "chosen": f" yes {i}", "rejected": f" no {i}"} for i in range(7)]
    table = pa.Table.from_pylist(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = trlprep.convert(table, to="unpaired-preference", order="blocks")
        tables = _ray_table(_blocks(table, [0, 3, 7]), "unpaired-preference", order="blocks")
    got = pa.concat_tables(tables)
    assert got.to_pylist() == local.to_pylist()
    assert [r["label"] for r in got.to_pylist()] == [True] * 7 + [False] * 7


def test_cli_convert_and_validate_engine_ray(tmp_path):
    from typer.testing import CliRunner

    from trlprep.cli import app

    rows = [{"prompt": f"q{i}", "chosen": f" yes {i}", "rejected": f" no {i}"} for i in range(50)]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    runner = CliRunner()
    local, out = tmp_path / "local.jsonl", tmp_path / "ray_out"
    args = ["convert", str(src), "--to", "unpaired-preference"]
    r = runner.invoke(app, [*args, "-o", str(local)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*args, "-o", f"{out}/", "--engine", "ray"])  # a shard folder
    assert r.exit_code == 0, r.output
    assert "50 rows in, 0 rejected, 50 converted -> 100 rows out" in r.output
    got = pq.read_table(out).to_pylist()
    want = [json.loads(line) for line in local.read_text().splitlines()]
    assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, want))
    r = runner.invoke(app, ["validate", str(out), "--engine", "ray", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["num_rows"] == 100
    r = runner.invoke(app, [*args, "-o", str(out), "--engine", "nope"])
    assert r.exit_code == 2


def _sharegpt_shards(folder) -> None:
    """Two JSON Lines shards of ShareGPT rows, one bad row (unknown role) in each, a blank
    line in the second."""
    good = [
        {
            "conversations": [
                {"from": "human", "value": f"hi {i}"},
                {"from": "gpt", "value": f"ok {i}"},
            ]
        }
        for i in range(4)
    ]
    bad = {"conversations": [{"from": "alien", "value": "x"}, {"from": "gpt", "value": "y"}]}
    folder.mkdir()
    for k, rows in enumerate([[good[0], good[1], bad], [good[2], None, bad, good[3]]]):
        text = "".join("\n" if r is None else json.dumps(r) + "\n" for r in rows)
        (folder / f"train-{k:05d}-of-00002.jsonl").write_text(text)


def test_cli_ray_imports_layouts_skips_and_names_lines_as_local(tmp_path):
    """A sharded ShareGPT input: Ray imports it, sets the same rows aside with the same
    rejects file (row, line, file, stage, reason, record), names the same file:line when
    it stops, and writes `train-0000i-of-0000n.parquet` shards that `datasets` reads."""
    from typer.testing import CliRunner

    from trlprep.cli import app

    src = tmp_path / "sg"
    _sharegpt_shards(src)
    runner = CliRunner()
    args = ["convert", str(src), "--to", "prompt-completion", "--on-error", "skip"]
    local, out = tmp_path / "local.jsonl", tmp_path / "ray_out"
    r = runner.invoke(app, [*args, "-o", str(local)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*args, "-o", str(out), "--engine", "ray", "--num-shards", "2"])
    assert r.exit_code == 0, r.output
    assert "7 rows in, 2 rejected, 5 converted" not in r.output  # blank lines are no rows
    assert "6 rows in, 2 rejected, 4 converted -> 4 rows out" in r.output
    want = [json.loads(line) for line in local.read_text().splitlines()]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    assert pq.read_table(out).to_pylist() == want  # the input order, across shards
    datasets = pytest.importorskip("datasets")
    back = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert back.to_list() == want
    local_rejects = (tmp_path / "local.rejects.jsonl").read_text()
    assert (tmp_path / "ray_out.rejects.jsonl").read_text() == local_rejects
    assert [json.loads(x)["line"] for x in local_rejects.splitlines()] == [3, 3]
    stop = ["convert", str(src), "--to", "prompt-completion", "--overwrite"]
    r_local = runner.invoke(app, [*stop, "-o", str(local)])
    r_ray = runner.invoke(app, [*stop, "-o", str(out), "--engine", "ray"])
    assert r_local.exit_code == r_ray.exit_code == 1
    first = f"{src / 'train-00000-of-00002.jsonl'}:3: import:"
    assert first in r_local.output and first in r_ray.output
    assert "(1 more row fails)" in r_ray.output
    stopped = "6 rows in, 2 rejected, 4 would convert; nothing written (stopped)"  # every shard
    assert stopped in r_local.output and "ray: sharegpt -> " in r_ray.output
    assert r_ray.output.count(stopped) == 1


def test_cli_validate_ray_reports_as_local_over_shards(tmp_path):
    """`validate --engine ray` over JSON Lines shards gives the local report: the same
    rows, file lines (blank lines counted) and shard notes."""
    from typer.testing import CliRunner

    from trlprep.cli import app

    d = tmp_path / "v"
    d.mkdir()
    (d / "train-00000-of-00002.jsonl").write_text(
        '{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": ""}\n'
    )
    (d / "train-00001-of-00002.jsonl").write_text(
        '{"prompt": "c", "completion": "d"}\n\n{"prompt": "e", "completion": ""}\n'
    )
    runner = CliRunner()
    reports = [
        runner.invoke(app, ["validate", str(d), "--engine", engine, "--format", "json"])
        for engine in ("local", "ray")
    ]
    assert [r.exit_code for r in reports] == [1, 1]
    local, got = (json.loads(r.output) for r in reports)
    assert got == local
    assert got["issues"][0]["lines"] == [2, 3]


@st.composite
def sharegpt_rows(draw):
    """ShareGPT rows of 1-4 turns; some roles unknown (rows the importer refuses)."""
    roles = st.sampled_from(["human", "gpt", "gpt", "system", "alien"])
    n = draw(st.integers(1, 6))
    rows = [
        {
            "conversations": [
                {"from": draw(roles), "value": draw(TEXT)} for _ in range(draw(st.integers(1, 4)))
            ]
        }
        for _ in range(n)
    ]
    cuts = sorted(draw(st.lists(st.integers(1, n), max_size=2)))
    return rows, [0, *cuts, n]


@SETTINGS
@given(
    data=sharegpt_rows(),
    to=st.sampled_from(["language-modeling", "prompt-completion", "prompt-only"]),
    on_error=st.sampled_from(["stop", "skip"]),
)
def test_import_layout_ray_equals_local(data, to, on_error):
    """Importing a layout on Ray (the importer in map_batches) gives the local importer's
    rows, then the local conversion's, the refused rows left out or failing alike."""
    from trlprep.importers import get_importer

    rows, cuts = data
    table = pa.Table.from_pylist(rows)

    def local():
        result = get_importer("sharegpt").apply(table)
        if result.num_rejected and on_error == "stop":
            raise DataError("refused")
        return _rows(trlprep.convert(result.table, to=to, on_error=on_error))

    def on_ray():
        ds = engine.convert(_blocks(table, cuts), to=to, from_="sharegpt", on_error=on_error)
        return [r for t in ray.get(ds.to_arrow_refs()) for r in _rows(t)]

    want, got = _outcome(local), _outcome(on_ray)
    assert got == want, (rows, to, on_error)


def test_cli_ray_names_a_tokenizer_folders_template_as_given(tmp_path, monkeypatch):
    """`--chat-template FOLDER --tokenize` (the folder's template and tokenizer, a relative
    path): the summary and the token record name the folder as given, as locally."""
    from pathlib import Path

    from typer.testing import CliRunner

    from trlprep.cli import app
    from trlprep.templates.tokenrecord import read_record

    root = Path(__file__).parent
    monkeypatch.chdir(root.parent)
    model = os.path.join("examples", "tiny-chat-model")
    src = root / "realdata" / "dpo_demo" / "dpo_en_demo.json"
    args = ["convert", str(src), "--chat-template", model, "--tokenize"]
    local, out = tmp_path / "local.parquet", tmp_path / "ray_out"
    runner = CliRunner()
    r = runner.invoke(app, [*args, "-o", str(local)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*args, "-o", f"{out}/", "--engine", "ray"])  # a shard folder
    assert r.exit_code == 0, r.output
    assert f"(conversational -> standard with {model})" in " ".join(r.output.split())
    want = read_record(pq.read_schema(local))
    assert want["tokenizer"]["name"] == want["chat_template"]["name"] == model
    (shard,) = sorted(out.glob("*.parquet"))
    assert read_record(pq.read_schema(shard)) == want


@pytest.mark.parametrize("remote", [False, True])
def test_cli_ray_tokenised_parquet_keeps_the_record(tmp_path, remote, monkeypatch):
    """`convert --tokenize --engine ray` writes each Parquet shard with the options its ids
    were cut with, as the local engine writes its file (the driver's shard writer, or Ray's
    own writers for object storage, here a `file://` URI), and reading the folder back, as
    `train` does, finds it. The tokenizer is named as given (a relative path), though Ray's
    workers load it by its absolute path."""
    from pathlib import Path

    from typer.testing import CliRunner

    from trlprep.cli import app
    from trlprep.io.readers import read
    from trlprep.templates.tokenrecord import read_record

    root = Path(__file__).parent
    src = root / "realdata" / "dpo_demo" / "dpo_en_demo.json"
    monkeypatch.chdir(root.parent)
    model = os.path.join("examples", "tiny-chat-model")
    args = ["convert", str(src), "--chat-template", "chatml", "--tokenize", "--tokenizer", model,
            "--max-length", "48", "--truncation", "keep_end"]  # fmt: skip
    local, out = tmp_path / "local.parquet", tmp_path / "ray_out"
    runner = CliRunner()
    r = runner.invoke(app, [*args, "-o", str(local)])
    assert r.exit_code == 0, r.output
    target = out.as_uri() if remote else str(out)
    r = runner.invoke(app, [*args, "-o", target, "--engine", "ray", "--num-shards", "2"])
    assert r.exit_code == 0, r.output
    want = read_record(pq.read_schema(local))
    assert want is not None and (want["max_length"], want["truncation"]) == (48, "keep_end")
    assert want["tokenizer"]["name"] == model
    shards = sorted(out.glob("*.parquet"))
    assert len(shards) == 2
    for shard in shards:
        assert read_record(pq.read_schema(shard)) == want
    back = read(str(out)).table
    assert read_record(back.schema) == want
    assert back.num_rows == 30
    ids = ["prompt_ids", "chosen_ids", "rejected_ids"]
    assert sorted(map(json.dumps, back.select(ids).to_pylist())) == sorted(
        map(json.dumps, pq.read_table(local).select(ids).to_pylist())
    )
