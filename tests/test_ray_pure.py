"""Helpers of the Ray engine that run without a Ray cluster: the output format of a
converted dataset, and the pairing warnings merged over blocks."""

from __future__ import annotations

import pytest
from trlprep.converters.base import ConversionWarning

from trlprep.errors import UsageError
from trlprep.ray.notes import Notes
from trlprep.ray.output import output_format_of


@pytest.mark.parametrize(
    "output, fmt, want",
    [
        ("out/", None, "parquet"),
        ("out.jsonl", None, "jsonl"),
        ("out", "ndjson", "jsonl"),
        ("out/", "ndjson", "jsonl"),
        ("out", "pq", "parquet"),
        ("out", "JSONL", "jsonl"),
    ],
)
def test_output_format_takes_every_outputs_aliases(output, fmt, want):
    assert output_format_of(output, fmt) == want


def test_output_format_ray_cannot_write_is_refused():
    with pytest.raises(UsageError, match="parquet or jsonl"):
        output_format_of("out", "arrow")


def test_a_pairing_step_that_made_pairs_drops_the_nothing_paired_head():
    """Some block paired: the merged warning does not say nothing could be paired. The
    step is known as pairing by its edge's row effect, not its name."""
    from trlprep.converters.pairing import _NOTHING_PAIRED, _no_partner

    said = [_NOTHING_PAIRED + _no_partner(2, 1, 1, "rows 0, 1", 1, 1)]
    notes = Notes(
        warnings=[(ConversionWarning, m) for m in said],
        steps={"unpaired-preference -> preference": [6, 2]},
    )
    assert not notes.conversion_warnings()[0].startswith(_NOTHING_PAIRED)
    notes.steps = {"unpaired-preference -> preference": [2, 0]}
    assert notes.conversion_warnings()[0].startswith(_NOTHING_PAIRED)


def test_only_the_refused_rows_of_a_block_leave_the_workers():
    """`validate --from` on Ray fetches the refused rows' row, line and reason, not blocks."""
    import pyarrow as pa

    from trlprep.errors import ROW_ID
    from trlprep.ray.base import LINE, REJECT
    from trlprep.ray.checking import _refused

    reject = pa.array([None, {"reason": "bad"}, None], pa.struct([("reason", pa.string())]))
    block = pa.table(
        {"messages": ["a", "b", "c"], ROW_ID: [0, 1, 2], LINE: [1, 2, 3], REJECT: reject}
    )
    got = _refused(block)
    assert got.column_names == [ROW_ID, LINE, "reason"]
    assert got.to_pylist() == [{ROW_ID: 1, LINE: 2, "reason": "bad"}]
    assert _refused(block.drop_columns([REJECT])).num_rows == 0
