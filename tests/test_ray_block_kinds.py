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
