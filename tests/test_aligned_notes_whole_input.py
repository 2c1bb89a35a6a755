"""`--from generations` / `--from ranked`: the note naming the list columns beside the
answers (`pred`, `report`, `score` beside SkyThought's `code`) is decided by the whole
input, as the split itself is (`importers.alignedlists`): a batch where a column is null
throughout, absent, or typed null names it as the whole input does, so the note (and the
output) do not depend on where the input is cut. Real sample: SkyThought's AMC 2023
evaluation output, its first three records read apart without `report` (lines written
before the script added it) or with no verdict yet (`pred`, `score`, `report` null)."""

from __future__ import annotations

import json
import warnings

import pyarrow as pa
from realdata.support import records, run, sample

from trlprep.importers import ImportOptions
from trlprep.importers.run import ImportStats, import_batches
from trlprep.io import jsonl
from trlprep.io.readers import Batch

DATA = sample("skythought_amc23")
SFT = ["--from", "generations", "--map", "prompt=question,completions=code"]
OPTS = ImportOptions.make(map="prompt=question,completions=code")
ONES = "list columns copied whole, one entry beside one answer of `code` wherever both are given"


def _unjudged() -> list[dict]:
    """The sample with its first three records not judged yet."""
    rows = records(DATA)
    for r in rows[:3]:
        r["pred"] = r["score"] = r["report"] = None
    return rows


def _notes(batches: list[pa.Table], layout: str = "generations") -> list[str]:
    stats, offset, cut = ImportStats(), 0, []
    for t in batches:
        cut.append(Batch(t, offset, None))
        offset += t.num_rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        list(import_batches(cut, layout, OPTS, on_error="skip", stats=stats))
    return stats.notes


def test_batches_read_apart_name_the_columns_the_whole_input_gives():
    rows = records(DATA)
    whole = _notes([pa.Table.from_pylist(rows)])
    assert whole == [f"{ONES} (nothing says it is per answer): pred, report, score"]
    # a first batch written before `report` was added: it named `pred, score` alone, a
    # second note beside the other batch's `pred, report, score`
    first = pa.Table.from_pylist(rows[:3]).drop_columns(["report"])
    assert _notes([first, pa.Table.from_pylist(rows[3:])]) == whole
    assert _notes([pa.Table.from_pylist(rows[3:]), first]) == whole
    # nor a batch where they are null throughout (typed null): named as the whole names them
    unjudged = pa.Table.from_pylist(_unjudged()[:3])
    assert unjudged.schema.field("pred").type == pa.null()
    assert _notes([unjudged, pa.Table.from_pylist(rows[3:])]) == whole


def test_a_list_given_beside_no_answer_is_named_in_no_note():
    rows = records(DATA)
    for r in rows:
        r["report"] = None if r["idx"] != 5 else [None]
    rows[5]["code"] = None  # the one row holding a report has no answer (refused)
    assert _notes([pa.Table.from_pylist(rows)]) == [
        f"{ONES} (nothing says it is per answer): pred, score"
    ]


def test_ranked_names_them_alike_in_any_batch():
    rows = records(DATA)
    for r in rows:
        r["scores"] = [1.0]
    whole = _notes([pa.Table.from_pylist(rows)], "ranked")
    first = pa.Table.from_pylist(rows[:3]).drop_columns(["report"])
    assert [n for n in whole if "list columns" in n] == [
        "list columns copied whole, one entry beside one answer of `code` wherever both are "
        "given (nothing says it is per answer): pred, report, score"
    ]
    assert _notes([first, pa.Table.from_pylist(rows[3:])], "ranked") == whole


def _convert(src, out, chunk: int):
    was, jsonl.CHUNK_BYTES = jsonl.CHUNK_BYTES, chunk
    try:
        res = run("convert", src, *SFT, "-o", out, "--overwrite")
    finally:
        jsonl.CHUNK_BYTES = was
    assert res.exit_code == 0, res.output
    return res.output.replace(str(out), "OUT"), out.read_bytes()


def test_convert_says_the_same_note_in_one_chunk_or_one_per_line(tmp_path):
    src = tmp_path / "unjudged.jsonl"
    rows = _unjudged()
    for r in rows[:3]:
        del r["report"]  # no `report` key in the lines before the first verdict
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole = _convert(src, tmp_path / "w.jsonl", 1 << 30)
    small = _convert(src, tmp_path / "c.jsonl", 1000)  # one line per chunk
    assert small == whole
    said = " ".join(whole[0].split())
    assert said.count(ONES) == 1 and "per answer): pred, report, score" in said
