"""A Ray dataset whose blocks hold an extra of different kinds (text in one block, numbers
in another: Arrow cannot merge them) converts as the local engine converts those rows:
the extra carried as JSON text, said once, no raw ArrowTypeError."""

from __future__ import annotations

import json
import warnings

import pytest

pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402
from trlprep.errors import ROW_ID  # noqa: E402
from trlprep.ray.base import REJECT  # noqa: E402


def test_extra_of_one_kind_per_block_is_carried_as_json_text():
    import ray

    import trlprep.ray

    rows = [
        {"prompt": f"p{i}", "completion": f"c{i}", "extra": "t" if i < 2 else i} for i in range(4)
    ]
    ds = ray.data.from_items(rows, override_num_blocks=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = trlprep.ray.convert(ds, to="language-modeling").take_all()
    local = trlprep.convert(rows, to="language-modeling")
    assert [r["text"] for r in got] == [r["text"] for r in local]
    assert [json.loads(r["extra"]) for r in got] == [r["extra"] for r in local] == ["t", "t", 2, 3]
    said = [str(w.message) for w in caught if "'extra'" in str(w.message)]
    assert len(said) == 1 and "JSON text" in said[0], said


def test_read_column_of_one_kind_per_block_refuses_the_minority_rows_as_local(tmp_path):
    """`completion` text in block 1 and numbers in block 2 (fewer rows): Ray decides the
    kind by the whole dataset, as the local engine does, so the number rows are reject rows
    (stage read, rule mixed-kind) and the text rows convert, decoded (not '"c0"')."""
    import ray

    import trlprep.ray
    from trlprep.ray.conversion import convert_rows
    from trlprep.ray.numbering import numbered

    rows = [{"prompt": f"p{i}", "completion": f"c{i}" if i < 4 else i} for i in range(7)]
    ds = ray.data.from_items(rows, override_num_blocks=2)
    assert ds.materialize().num_blocks() == 2
    got = trlprep.ray.convert(ds, to="language-modeling", on_error="skip").take_all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        local = trlprep.convert(rows, to="language-modeling", on_error="skip")
    assert got == local == [{"text": f"p{i}c{i}"} for i in range(4)]
    said = [str(w.message) for w in caught if "left out" in str(w.message)]
    assert len(said) == 1 and "3 x read: column 'completion' holds a number" in said[0], said

    numbered_ds, _ = numbered(ds)
    rejects = convert_rows(numbered_ds, "language-modeling", collect=True).rejects().take_all()
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["convert", str(src), "-o", str(tmp_path / "out.jsonl"), "--to", "language-modeling"]
    r = CliRunner().invoke(app, [*args, "--on-error", "skip"])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "out.rejects.jsonl").read_text().splitlines()
    want = [(x["row"], x["stage"], x["reason"]) for x in map(json.loads, lines)]
    assert [(x[ROW_ID], *x[REJECT].values()) for x in rejects] == want
    assert [w[0] for w in want] == [4, 5, 6]


def test_a_folder_whose_later_file_holds_the_majority_kind_converts_as_locally(tmp_path):
    """The first file's prompts are text, the second's (more rows) messages: both engines
    refuse the first file's rows (stage read, named by file and line) and convert the rest,
    to the same rows and the same rejects file."""
    folder = tmp_path / "in"
    folder.mkdir()
    text = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(2)]
    turns = [
        {
            "prompt": [{"role": "user", "content": f"q{i}"}],
            "completion": [{"role": "assistant", "content": f"a{i}"}],
        }
        for i in range(4)
    ]
    for name, rows in (("a.jsonl", text), ("b.jsonl", turns)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    outs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "out.jsonl"
        out.parent.mkdir()
        args = ["convert", str(folder), "-o", str(out), "--to", "language-modeling"]
        r = CliRunner().invoke(app, [*args, "--on-error", "skip", "--engine", engine])
        assert r.exit_code == 0, r.output
        written = sorted(out.glob("*.jsonl")) if out.is_dir() else [out]
        rows = [json.loads(line) for f in written for line in f.read_text().splitlines()]
        rejects = (tmp_path / engine / "out.rejects.jsonl").read_text().splitlines()
        outs[engine] = (rows, [json.loads(line) for line in rejects])
    assert outs["ray"] == outs["local"]
    rows, rejects = outs["local"]
    assert [r["messages"][0]["content"] for r in rows] == ["q0", "q1", "q2", "q3"]
    assert [(x["file"], x["line"], x["stage"]) for x in rejects] == [
        (str(folder / "a.jsonl"), 1, "read"),
        (str(folder / "a.jsonl"), 2, "read"),
    ]


def test_column_ray_keeps_as_python_objects_reads_as_local(tmp_path):
    """`completion` text in most rows and a number in one row of the same block: Ray keeps
    the column as pickled Python objects. Its number rows are named as the local engine
    names them (a number among strings), convert with skip gives the same rows, validate
    the same report, and with on_error='stop' the same DataError (not a RayTaskError)."""
    import ray

    import trlprep.ray
    from trlprep.errors import DataError
    from trlprep.ray.base import PICKLED

    rows = [{"prompt": f"p{i}", "completion": 5 if i in (3, 6) else f"c{i}"} for i in range(9)]
    ds = ray.data.from_items(rows, override_num_blocks=1)
    kind = ds.take_batch(9, batch_format="pyarrow").schema.field("completion").type
    assert getattr(kind, "extension_name", None) == PICKLED  # what this test is about
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = trlprep.ray.convert(ds, to="language-modeling", on_error="skip").take_all()
        assert got == trlprep.convert(rows, to="language-modeling", on_error="skip")
    # the same report; its hints name the engine's own convert
    said = json.dumps(trlprep.ray.validate(ds).to_dict())
    assert "trlprep.ray.convert(..., coerce=True)" in said
    assert json.loads(said.replace("trlprep.ray.convert", "trlprep.convert")) == (
        trlprep.validate(rows).to_dict()
    )
    errors = []
    for engine in (trlprep.ray, trlprep):
        with pytest.raises(DataError) as info:
            out = engine.convert(ds if engine is trlprep.ray else rows, to="language-modeling")
            getattr(out, "materialize", lambda: None)()
        errors.append(info.value)
    assert [type(e) for e in errors] == [DataError, DataError]
    assert str(errors[0]) == str(errors[1])
    assert str(errors[0]).startswith("row 3: read: column 'completion' holds a number (5)")
    assert "(1 more row fails)" in str(errors[0]) and errors[0].exit_code == 1


def test_mixed_kind_rows_in_a_folder_as_local_engine(tmp_path):
    """A JSON Lines folder whose first file holds a number among text completions: the
    Ray engine stops with the local engine's error (exit code 1), and with --on-error skip
    writes the same rows and the same rejects file, byte for byte."""
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [{"prompt": f"p{i}", "completion": 5 if i == 3 else f"c{i}"} for i in range(6)]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    more = [{"prompt": f"q{i}", "completion": f"d{i}"} for i in range(3)]
    (folder / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in more))
    said = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        args = ["convert", str(folder), "-o", str(out), "--to", "language-modeling"]
        r = CliRunner().invoke(app, [*args, "--engine", engine])
        assert r.exit_code == 1, r.output
        said[engine] = [x for x in r.output.splitlines() if x.startswith("error:")]
        r = CliRunner().invoke(app, [*args, "--engine", engine, "--on-error", "skip"])
        assert r.exit_code == 0, r.output
    assert said["ray"] == said["local"] and "a.jsonl:4: read:" in said["local"][0]
    assert "holds a number (5) where the other rows hold strings" in said["local"][0]
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    local = (tmp_path / "local.rejects.jsonl").read_bytes()
    assert (tmp_path / "ray.rejects.jsonl").read_bytes() == local
    assert [json.loads(x)["line"] for x in local.splitlines()] == [4]
