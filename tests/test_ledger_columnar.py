"""`Ledger.reject` counts rejected rows by stage and reason shape column-wise
(`ledger.summarize`); its counts, wording, examples and first row are those of the
row-by-row count it replaced (kept here as the reference), for one table or many, and for
summaries of parts merged in any order (as the Ray engine merges its blocks')."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from trlprep.conversion.ledger import Ledger, summarize, where
from trlprep.importers.rejects import REJECTS_SCHEMA
from trlprep.io.shards import Shards

_NUMBER = re.compile(r"(\d[\d,.]*\d|\d)")


class _RowByRow:
    """The row-by-row count `Ledger.reject` did before it was made column-wise."""

    def __init__(self, shards=None):
        self.rejected, self.first, self.shards = 0, None, shards
        self.by_stage, self.reasons = Counter(), Counter()
        self.examples, self.wording = {}, {}

    def reject(self, table):
        rows = table.column("row").to_pylist()
        lines = table.column("line").to_pylist()
        stages = table.column("stage").to_pylist()
        reasons = table.column("reason").to_pylist()
        self.rejected += len(rows)
        at = int(np.argmin(rows))
        if self.first is None or rows[at] < self.first["row"]:
            self.first = {
                "row": rows[at], "line": lines[at], "stage": stages[at], "reason": reasons[at]
            }  # fmt: skip
        for row, line, stage, reason in zip(rows, lines, stages, reasons, strict=True):
            self.by_stage[stage] += 1
            key = (stage, _NUMBER.sub("N", reason))
            self.reasons[key] += 1
            parts, seen = _NUMBER.split(reason), self.wording.get(key)
            if seen is not None:
                pairs = enumerate(zip(seen, parts, strict=True))
                parts = [a if a == b or i % 2 == 0 else "N" for i, (a, b) in pairs]
            self.wording[key] = parts
            ex = self.examples.setdefault(key, [])
            if len(ex) < 3:
                ex.append(self.shards.where(row, line) if self.shards else where(row, line))


REASONS = [
    "column 'chosen': ends with an empty turn",
    "{a} tokens, more than --max-length {b}",
    "row {a}: {b} messages, {a}.5 turns",
    "no shared prompt",
    "Nothing in {a}",
]


@st.composite
def rejected(draw):
    """A rejects table in input order: rows with lines (or none), stages and reasons."""
    n = draw(st.integers(1, 40))
    rows = sorted(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n, unique=True)))
    lined = draw(st.booleans())
    reasons = [
        draw(st.sampled_from(REASONS)).format(
            a=draw(st.sampled_from([1, 7, 1200])), b=draw(st.sampled_from([3, 4]))
        )
        for _ in rows
    ]
    stages = [draw(st.sampled_from(["import", "convert", "template"])) for _ in rows]
    return pa.Table.from_arrays(
        [
            pa.array(rows, pa.int64()),
            pa.array([r + 2 for r in rows] if lined else [None] * n, pa.int64()),
            pa.array(stages),
            pa.array(reasons),
            pa.array(["{}"] * n),
        ],
        schema=REJECTS_SCHEMA,
    )


def _state(ledger):
    return (
        ledger.rejected, ledger.first, dict(ledger.by_stage),
        ledger.reasons.most_common(), ledger.wording, ledger.examples,
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(rejected(), st.integers(1, 5), st.booleans())
def test_reject_counts_as_row_by_row(table, parts, sharded):
    """Fed in batches (in input order), the ledger says what the row-by-row count said."""
    shards = None
    if sharded:
        shards = Shards(["a.jsonl", "b.jsonl"])
        shards.starts, shards.rows = [0, 100], [100, 401]
    want, got = _RowByRow(shards), Ledger(on_error="skip", shards=shards)
    cuts = np.linspace(0, table.num_rows, parts + 1).astype(int)
    for a, b in zip(cuts, cuts[1:], strict=False):
        if b > a:
            want.reject(table.slice(a, b - a))
            got.reject(table.slice(a, b - a))
    assert _state(got) == _state(want)
    assert got.reason_lines()  # and prints them


@settings(max_examples=40, deadline=None)
@given(rejected(), st.integers(1, 5), st.randoms())
def test_summaries_of_parts_in_any_order_count_as_the_whole(table, parts, rnd):
    """Summaries of slices in any order (rows not in input order within them either),
    absorbed as one concatenated table, count as the whole table fed at once."""
    want = _RowByRow()
    want.reject(table)
    idx = list(range(table.num_rows))
    rnd.shuffle(idx)
    shuffled = table.take(pa.array(idx))
    cuts = np.linspace(0, table.num_rows, parts + 1).astype(int)
    pieces = [summarize(shuffled.slice(a, b - a)) for a, b in zip(cuts, cuts[1:], strict=False)]
    random.Random(0).shuffle(pieces)
    got = Ledger()
    got.absorb(pa.concat_tables(pieces))
    assert _state(got) == _state(want)


def test_with_files_names_each_rows_file():
    shards = Shards(["a.jsonl", "b.jsonl", "c.jsonl"])
    shards.starts, shards.rows = [0, 3, 3], [3, 0, 5]
    ledger = Ledger(shards=shards)
    t = pa.table({"row": pa.array([0, 2, 3, 7], pa.int64()), "line": pa.array([1, 3, 1, 5])})
    files = ledger._with_files(t).column("file").to_pylist()
    assert files == [shards.locate(r)[0] for r in [0, 2, 3, 7]] == ["a.jsonl"] * 2 + ["c.jsonl"] * 2
