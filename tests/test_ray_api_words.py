"""`trlprep.ray`'s public functions (README) say keyword arguments where the CLI's
`--engine ray` says flags: their errors and returned reports, on real rows."""

from __future__ import annotations

import json

import pytest
from realdata.support import sample

import trlprep

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)

from trlprep import ray as engine  # noqa: E402

HH = sample("hh_rlhf")
KTO = sample("kto_demo")
HUMANEVAL = sample("humaneval")


def test_a_kto_report_with_0_1_labels_says_coerce_true():
    rows = json.loads(KTO.read_text(encoding="utf-8"))[:6]
    rows = [{**r, "label": int(r["label"] in (True, "true"))} for r in rows]
    ds = ray.data.from_items(rows)
    said = " ".join(engine.validate(ds).notes)
    assert "coerce=True reads them as booleans" in said and "--coerce" not in said
    from trlprep.ray.checking import validate  # what `--engine ray` calls: the CLI's words

    assert "--coerce reads them as booleans" in " ".join(validate(ds).notes)
    report = engine.validate(ds, coerce=True)
    assert report.valid and report.type == "unpaired-preference"


def test_hh_rows_with_empty_turns_name_on_error():
    rows = [json.loads(line) for line in HH.read_text(encoding="utf-8").splitlines()]
    with pytest.raises(trlprep.DataError) as info:
        engine.convert(ray.data.from_items(rows), "preference", from_="hh").materialize()
    e = info.value
    with pytest.raises(trlprep.DataError) as local:  # the import stops the run, as locally
        trlprep.convert(rows, "preference", from_="hh")
    assert type(e) is trlprep.DataError and (e.row, e.hint) == (local.value.row, local.value.hint)
    assert e.message.startswith("cannot import this row as hh: chosen: ends with an empty")
    assert "(3 more in this batch)" in e.hint
    assert "on_error='skip'" in e.hint and "on_error" not in e.message
    # the importers' options go in trlprep.ray.convert's import_options
    said = "import_options={'keep_empty_turns': True} keeps them as prompt-only rows"
    assert said in e.message and "--" not in e.message + e.hint, str(e)
    out = engine.convert(ray.data.from_items(rows), "preference", from_="hh", on_error="skip")
    assert 0 < out.count() < len(rows)


def test_humaneval_hint_names_import_options_of_ray_convert_and_works():
    rows = [json.loads(line) for line in HUMANEVAL.read_text(encoding="utf-8").splitlines()]
    with pytest.raises(trlprep.UsageError) as info:
        engine.convert(ray.data.from_items(rows), "pc").materialize()
    mapped = "import_options={'map': {'completion': 'canonical_solution'}}"
    assert f"pass `{mapped}` (OUT = trlprep.ray.convert(DATA, {mapped}))" in info.value.hint
    assert "--" not in str(info.value) and "trlprep.convert(" not in str(info.value)
    out = engine.convert(  # as the hint says (a dict; `map` alone renames, as locally)
        ray.data.from_items(rows),
        "pc",
        import_options={"map": {"completion": "canonical_solution"}},
    )
    got = out.take_all()
    assert len(got) == len(rows) and got[0]["completion"] == rows[0]["canonical_solution"]


def test_ray_convert_warns_of_an_unpairing_as_trlprep_convert_does():
    import warnings
    from pathlib import Path

    from trlprep.converters import UNPAIR_WARNING

    path = Path(__file__).resolve().parents[1] / "examples" / "preference.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = engine.convert(ray.data.from_items(rows), to="unpaired")
    assert out.count() == 2 * len(rows)
    said = [str(w.message) for w in caught if issubclass(w.category, trlprep.ConversionWarning)]
    assert said.count(UNPAIR_WARNING) == 1, said


def test_a_stop_carries_the_counts_trlprep_convert_carries():
    """Rows refused by the conversion (HH read as text, unpaired: none here) or by the
    import (HH's empty final turns): `trlprep.ray.convert`'s DataError says and carries the
    counts of `trlprep.convert`'s, over every block."""
    rows = [json.loads(line) for line in HH.read_text(encoding="utf-8").splitlines()]
    mixed = [{"prompt": "a", "chosen": "b", "rejected": "c"} for _ in range(6)]
    mixed[4] = {"prompt": "a", "chosen": "", "rejected": "c"}  # refused by validation
    for data, kw in ((mixed, {"to": "unpaired"}), (rows, {"to": "preference", "from_": "hh"})):
        with pytest.raises(trlprep.DataError) as local:
            trlprep.convert(data, **kw)
        blocks = ray.data.from_items(data, override_num_blocks=3)
        with pytest.raises(trlprep.DataError) as info:
            engine.convert(blocks, **kw).materialize()
        assert info.value.counts == local.value.counts and local.value.counts is not None
        assert info.value.message.endswith(local.value.counts.said)
    c = local.value.counts
    assert (c.rows_in, c.rejected, c.kept, c.kept_as) == (163, 4, 159, "would import")
    assert c.said.startswith("hh -> preference-implicit (conversational): 163 rows in")
