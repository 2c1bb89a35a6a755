"""CSV integers written with leading zeros keep their text (`io/csvnumbers`)."""

from __future__ import annotations

import pyarrow as pa

from trlprep.io.wholeformats import read_csv


def _read(tmp_path, text: str) -> pa.Table:
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    return read_csv(str(path)).table


def test_zero_padded_integers_stay_text(tmp_path):
    table = _read(tmp_path, "code,n,x\n00000,1,0.50\n,2,\n042,3,1.5\n")
    assert table.column("code").to_pylist() == ["00000", None, "042"]
    # integers written as numbers stay numbers; floats are left as Arrow reads them
    assert pa.types.is_integer(table.schema.field("n").type)
    assert table.column("x").to_pylist() == [0.5, None, 1.5]


def test_a_column_of_plain_integers_with_gaps_stays_numbers(tmp_path):
    table = _read(tmp_path, "id,text\n1,a\n,b\n-3,c\n")
    assert pa.types.is_integer(table.schema.field("id").type)
    assert table.column("id").to_pylist() == [1, None, -3]
