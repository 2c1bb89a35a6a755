"""The report measured on worker processes equals the report measured in one process.

The data is cut into many small pieces (several per worker) and holds what crosses piece
boundaries: rows the chat template or the tokenizer refuses, rows validation flags (shown
as examples), duplicates across pieces, remarks of a conversion. Every figure, example and
rejected row must be the same, in the same order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata.support import run

import trlprep
from trlprep.datareport import parallel

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "examples" / "tiny-chat-model")
ROWS = 600


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch):
    monkeypatch.setattr(parallel, "PIECE_ROWS", 39)  # ~15 pieces, not a divisor of anything
    monkeypatch.setattr(parallel, "IN_FLIGHT", 2)


@pytest.fixture
def here(monkeypatch):
    """The tokenizer loaded in this process (the helper process is tested on its own)."""
    from trlprep.datareport import loading

    monkeypatch.setattr(loading, "start", lambda *args, **kwargs: None)


def _both(path: Path, **kw) -> tuple[dict, dict]:
    one = trlprep.report(str(path), num_proc=1, **kw).to_dict()
    many = trlprep.report(str(path), num_proc=2, **kw).to_dict()
    return one, many


def _conversational(tmp_path: Path) -> Path:
    from benchmarks.synth import preference

    rows = preference(ROWS, conversational=True).to_pylist()
    for i in (3, 280, 599):  # the template cannot render a null content
        rows[i]["chosen"] = [{"role": "assistant", "content": None}]
    rows[352] = dict(rows[10])  # a duplicate, 2nd row of a later piece: a flagged example
    rows[480]["prompt"] = []  # an empty prompt: validation names it
    path = tmp_path / "conv.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_conversational_preference_workers_equal_one_process(tmp_path, here):
    one, many = _both(_conversational(tmp_path), chat_template=TINY, max_length=64, examples=4)
    assert one["rows"]["rejected"] >= 3  # the refused rows are counted ...
    assert one["rows"]["rejected_examples"][0]["row"] == 3  # ... and named in order
    assert one["duplicates"]["exact_rows"] >= 1
    assert [e["row"] for e in one["examples"]] == [0, 1, 2, 4, 352]
    assert one["examples"][-1]["flagged"] and "flagged" not in one["examples"][0]
    assert one["lengths"]["prompt"]["rows"] == ROWS - one["rows"]["rejected"]
    assert json.dumps(one, sort_keys=False) == json.dumps(many, sort_keys=False)


def test_standard_jsonl_workers_equal_one_process(tmp_path, here):
    rows = [
        {"prompt": f"Question {i % 37}?", "chosen": f" Yes, {i}.", "rejected": " No."}
        for i in range(ROWS)
    ]
    rows[181]["rejected"] = rows[181]["chosen"]  # an identical pair
    rows[520]["chosen"] = "  "  # an empty answer
    path = tmp_path / "std.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    one, many = _both(path, tokenizer=TINY, max_length=8, examples=2)
    assert one["summary"]["identical_pairs"] == 1
    assert one["summary"]["empty_answers"] == 1
    assert 0 < one["summary"]["truncated"] < ROWS
    assert [e["line"] for e in one["examples"]][:2] == [1, 2]  # file lines through pieces
    assert one == many


def test_implicit_pairs_remarks_and_stepwise_equal(tmp_path, here):
    from benchmarks.synth import implicit_preference, stepwise

    imp = tmp_path / "implicit.parquet"
    pq.write_table(implicit_preference(ROWS, conversational=False), imp)
    one, many = _both(imp, tokenizer=TINY)
    assert one["lengths"]["prompt"]["rows"] == ROWS
    assert one == many
    steps = tmp_path / "steps.parquet"
    pq.write_table(stepwise(240), steps)
    one, many = _both(steps, tokenizer=TINY)
    assert one["lengths"]["completion"]["rows"] == 240  # tokenize_table, in the workers
    assert one == many


def test_tiny_models_template_renders_fast_and_equal_to_jinja():
    from benchmarks.synth import preference
    from trlprep.templates import load_template, render_table
    from trlprep.templates.fast import renderer_for

    template = load_template(TINY)
    assert renderer_for(template.source) == "chatml"
    table = preference(500, conversational=True)
    fast, rep = render_table(table, "preference", template, num_proc=1)
    slow, _ = render_table(table, "preference", template, num_proc=1, fast=False)
    assert rep.fast_rows == 500
    assert fast.equals(slow)


def test_template_and_tokenizer_loaded_by_a_helper_process_equal_loaded_here(tmp_path):
    from trlprep.datareport import loading
    from trlprep.errors import InputError

    empty = tmp_path / "no-tokenizer"
    empty.mkdir()
    pending = loading.start(TINY, None, helper=True)
    failing = loading.start(None, str(empty), helper=True)  # both helpers start at once
    assert pending is not None and failing is not None
    here = loading.load(TINY, None)
    there = loading.finish(pending, TINY, None)
    assert there[0].source == here[0].source and there[0].name == here[0].name
    text = "<|im_start|>user\nCafé  naïve<|im_end|>\n"
    assert there[1](text)["input_ids"] == here[1](text)["input_ids"]
    assert there[1].all_special_tokens == here[1].all_special_tokens
    assert there[1].eos_token == here[1].eos_token
    assert failing.result()[0] == "error"  # the helper's error ...
    with pytest.raises(InputError) as err:  # ... raised here with its hint
        loading.finish(failing, None, str(empty))
    assert err.value.hint


def test_remarks_naming_rows_join_across_pieces_as_one_batch_would():
    from trlprep.datareport.collected import _add_remark

    remarks: list[str] = []
    for r in (
        "rows 1, 2: the chosen completion is only whitespace",
        "row 9: the other note",
        "rows 10, 11, 12, 13, 14 (and 2 more): the chosen completion is only whitespace",
        "row 40: the chosen completion is only whitespace",
        "a note without rows",
        "a note without rows",
    ):
        _add_remark(remarks, r)
    assert remarks == [
        "rows 1, 2, 10, 11, 12 (and 5 more): the chosen completion is only whitespace",
        "row 9: the other note",
        "a note without rows",
    ]


class _Rows:
    """A collector that counts the rows it measures here (picklable: workers may take it)."""

    want_examples = 0
    flagged = ()

    def __init__(self) -> None:
        self.data = []

    def add(self, table, offset, lines, path=None) -> None:
        self.data.append((offset, table.num_rows))


def _started(monkeypatch, rows: int, cores: int, num_proc=None) -> tuple[list, list]:
    started: list = []
    monkeypatch.setattr(parallel, "_run", lambda c, spec, pieces, w: started.append(w))
    monkeypatch.setattr("trlprep.templates.table.available_cores", lambda: cores)
    collector = _Rows()
    batches = [(pa.table({"x": list(range(100))}), i * 100, None) for i in range(rows // 100)]
    parallel.collect(collector, batches, num_proc)
    return started, collector.data


def test_workers_start_only_for_enough_rows_on_several_cores(monkeypatch, tmp_path):
    from trlprep.datareport import loading

    monkeypatch.setattr(parallel, "PARALLEL_ROWS", 1000)
    started, here = _started(monkeypatch, 900, cores=2)  # small: measured here, all rows
    assert started == [] and sum(n for _, n in here) == 900
    assert [o for o, _ in here] == sorted(o for o, _ in here)
    assert _started(monkeypatch, 1000, cores=2)[0] == [2]  # enough rows: 2 workers
    assert _started(monkeypatch, 5000, cores=1)[0] == []  # one core: here, however many
    assert _started(monkeypatch, 200, cores=2, num_proc=2)[0] == [2]  # asked for: workers
    # the tokenizer's helper process: for a big input on several cores only
    monkeypatch.setattr(loading, "HELPER_BYTES", 64)
    small, big, shards = tmp_path / "s.jsonl", tmp_path / "b.jsonl", tmp_path / "shards"
    small.write_bytes(b"x" * 63)
    big.write_bytes(b"x" * 64)
    shards.mkdir()
    for i in range(2):
        (shards / f"{i}.jsonl").write_bytes(b"x" * 40)
    assert not loading.pays(str(small)) and loading.pays(str(big)) and loading.pays(shards)
    assert not loading.pays(pa.table({"x": [1]}))  # rows in memory: loaded here
    monkeypatch.setattr("trlprep.templates.table.available_cores", lambda: 1)
    assert not loading.pays(str(big))


def test_small_file_loads_its_tokenizer_here_with_the_same_figures(monkeypatch, tmp_path):
    from trlprep.datareport import loading

    path = tmp_path / "pc.jsonl"
    rows = [{"prompt": f"Question {i}?", "completion": f" Answer {i}."} for i in range(50)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    asked, real_start = [], loading.start

    def start(chat_template, tokenizer, helper=None):
        asked.append(helper)
        return real_start(chat_template, tokenizer, helper=helper)

    monkeypatch.setattr(loading, "start", start)
    here = trlprep.report(str(path), tokenizer=TINY).to_dict()
    assert asked == [False]  # 50 rows: no helper process
    monkeypatch.setattr(loading, "HELPER_BYTES", 1)
    helped = trlprep.report(str(path), tokenizer=TINY).to_dict()
    assert asked[-1] is None  # a big input: the helper (where torch is not loaded yet)
    assert json.dumps(here) == json.dumps(helped)


def test_readme_and_help_say_when_workers_and_the_helper_start():
    from trlprep.datareport.loading import HELPER_BYTES
    from trlprep.datareport.parallel import PARALLEL_ROWS

    rows, mb = f"{PARALLEL_ROWS:,} rows or more", f"{HELPER_BYTES >> 20} MB or more"
    help_text = " ".join(run("report", "--help").output.split())
    assert rows in help_text and "every core)" not in help_text
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("no README.md beside tests/")
    speed = " ".join(readme.read_text().split("**Speed**")[1].split("\n\n")[0].split())
    assert rows in speed and mb in speed and "2 or more cores" in speed, speed
