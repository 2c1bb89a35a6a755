"""Rejected rows counted by stage and reason: reasons that differ only in their numbers are
one reason (`summarize`), its first rows kept as examples; what `Ledger.absorb` counts, made
where the rows are (a batch, a Ray block) so only the summaries travel."""

from __future__ import annotations

import re

import pyarrow as pa

EXAMPLES = 3  # rows named for each reason

# a number, not the digits ending a name (`response1`, `output_2`: a column, said as written)
_NUMBER = re.compile(r"\b(\d[\d,.]*\d|\d)")

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string()),
        pa.field("shape", pa.string()),  # the reason, every number as N
        pa.field("count", pa.int64()),
        pa.field("parts", pa.list_(pa.string())),  # text and numbers; numbers that vary: N
        pa.field("rows", pa.list_(pa.int64())),  # the first EXAMPLES rows
        pa.field("lines", pa.list_(pa.int64())),  # their lines
        pa.field("reason", pa.string()),  # the reason of the first row
        pa.field("first", pa.int64()),  # the first row
        # `--split-turns all` with a render: refused turns (a row's `turn` set), counted apart
        pa.field("turns", pa.int64()),  # how many of `count` are turns
        pa.field("turn_rows", pa.int64()),  # input rows whose first refused turn is here
        pa.field("shown_turns", pa.list_(pa.int64())),  # the turns of `rows` (null: whole)
        pa.field("first_turn", pa.int64()),  # the turn of the first row (null: whole)
    ]
)


def summarize(table: pa.Table) -> pa.Table:
    """Rejected rows (`row`, `line`, `stage`, `reason`) by stage and reason shape (reasons
    that differ only in their numbers), one `SUMMARY_SCHEMA` row each, in order of their
    first row: what `Ledger.absorb` counts. Summaries of parts of the rows, concatenated,
    count as the whole."""
    import polars as pl

    if not table.num_rows:
        return SUMMARY_SCHEMA.empty_table()
    number = _NUMBER.pattern
    df = pl.from_arrow(table.select(["row", "line", "stage", "reason"]))
    turn = table.column("turn") if "turn" in table.column_names else pa.nulls(len(table))
    df = df.with_columns(turn=pl.Series(turn.cast(pa.int64()), dtype=pl.Int64))
    df = df.sort(["row", "turn"], maintain_order=True, nulls_last=False).with_columns(
        shape=pl.col("reason").str.replace_all(number, "N"),
        nums=pl.col("reason").str.extract_all(number),
    )
    keys = ["stage", "shape"]
    groups = df.group_by(keys, maintain_order=True).agg(
        count=pl.len(),
        rows=pl.col("row").head(EXAMPLES),
        lines=pl.col("line").head(EXAMPLES),
        reason=pl.col("reason").first(),
        first=pl.col("row").first(),
        turns=pl.col("turn").count(),
        shown_turns=pl.col("turn").head(EXAMPLES),
        first_turn=pl.col("turn").first(),
    )
    # each row with refused turns counted once: in the group of its first refused turn
    firsts = df.filter(pl.col("turn").is_not_null())
    firsts = firsts.unique("row", keep="first", maintain_order=True)
    firsts = firsts.group_by(keys).agg(turn_rows=pl.len())
    groups = groups.join(firsts, on=keys, how="left", maintain_order="left").with_columns(
        pl.col("turn_rows").fill_null(0)
    )
    # the numbers that differ between the reasons of a shape are shown as N
    each = df.select(*keys, "nums").with_row_index("at").explode("nums")
    each = each.with_columns(pos=pl.int_range(pl.len()).over("at"))
    varies = each.group_by([*keys, "pos"]).agg(n=pl.col("nums").n_unique()).filter(pl.col("n") > 1)
    varies = varies.group_by(keys).agg(pl.col("pos"))
    groups = groups.join(varies, on=keys, how="left", maintain_order="left")
    parts = []
    for reason, pos in zip(groups["reason"].to_list(), groups["pos"].to_list(), strict=True):
        p = _NUMBER.split(reason)
        for i in pos or ():
            if 2 * i + 1 < len(p):  # (a reason holding a letter N has a shape of its own)
                p[2 * i + 1] = "N"
        parts.append(p)
    out = groups.drop("pos").with_columns(parts=pl.Series(parts, dtype=pl.List(pl.String)))
    return out.to_arrow().select(SUMMARY_SCHEMA.names).cast(SUMMARY_SCHEMA)


def _joined(seen: list[str], parts: list[str]) -> list[str]:
    """Two reasons' parts (text and numbers alternating) as one: numbers that differ as N."""
    if len(seen) != len(parts):
        return seen
    return [
        a if a == b or i % 2 == 0 else "N" for i, (a, b) in enumerate(zip(seen, parts, strict=True))
    ]
