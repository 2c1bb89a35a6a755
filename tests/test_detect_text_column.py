"""`--map text=COLUMN` advised for data of one text column only."""

import pyarrow as pa

from trlprep.detection.textcolumn import text_column_suggestion


def test_a_lone_dictionary_encoded_text_column_is_advised():
    """Parquet gives strings back dictionary-encoded: the same advice as plain strings."""
    table = pa.table(
        {"example": pa.array(["a <tool_call>{}</tool_call>", "b"]).dictionary_encode()}
    )
    note = text_column_suggestion(table)
    assert note is not None and "--map text=example" in note and "`<tool_call>`" in note


def test_no_advice_beside_a_trl_types_columns():
    """Columns named as a TRL type reads them (here all null) are that type's, unfilled: the
    one text column beside them is not a document to train on."""
    table = pa.table(
        {"prompt": pa.nulls(1), "chosen": pa.nulls(1), "rejected": pa.nulls(1), "source": ["a"]}
    )
    assert text_column_suggestion(table) is None
    assert text_column_suggestion(table.select(["source"])) is not None
