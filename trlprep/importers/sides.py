"""The two sides of a scored pair (SHP's `human_ref_A` / `human_ref_B`, WebGPT's `answer_0`
/ `answer_1`): which columns belong to one answer, and those columns put in chosen-first
order once the preferred answer is known.

Every other column pair `NAME<a>` / `NAME<b>` (SHP's `score_A` / `score_B`, WebGPT's
`quotes_0` / `quotes_1`) follows its answer as `chosen_NAME` / `rejected_NAME`, as the
`alpacafarm` layout's `generator_1` / `generator_2` become `chosen_generator` /
`rejected_generator`: the pair's columns name the answers by position, which chosen /
rejected replace.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.converters.arrowops import as_array
from trlprep.importers.messages import messages_from


def side_stems(names: list[str], suffixes: tuple[str, str], answer: str) -> list[str]:
    """The stems NAME of the column pairs NAME<a> / NAME<b> in `names` (in input order),
    the answers' own pair (`answer`) left out."""
    a, b = suffixes
    return [
        n[: -len(a)]
        for n in names
        if n.endswith(a) and len(n) > len(a) and n[: -len(a)] + b in names
        and n[: -len(a)] != answer
    ]  # fmt: skip


def sides_said(names: list[str], suffixes: tuple[str, str], answer: str) -> list[str]:
    """`--explain`'s line for the pairs `side_stems` finds (none: no line)."""
    stems = side_stems(names, suffixes, answer)
    if not stems:
        return []
    a, b = suffixes
    return [
        ", ".join(f"{s}{a} / {s}{b}" for s in stems)
        + " -> "
        + ", ".join(f"chosen_{s} / rejected_{s}" for s in stems)
    ]


def by_side(
    table: pa.Table, stems: list[str], suffixes: tuple[str, str], first: pa.Array
) -> tuple[dict[str, pa.Array], tuple[str, ...], list[str]]:
    """`chosen_NAME` / `rejected_NAME` of each stem (NAME<a> where `first` is true, else
    NAME<b>), the input columns they replace, and a note naming the pairs whose two columns
    hold different kinds (left as they are)."""
    a, b = suffixes
    produced: dict[str, pa.Array] = {}
    consumed: list[str] = []
    unlike = []
    for stem in stems:
        one, two = as_array(table.column(stem + a)), as_array(table.column(stem + b))
        if one.type != two.type:
            try:
                if pa.types.is_null(one.type):
                    one = one.cast(two.type)
                else:
                    two = two.cast(one.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                unlike.append(f"{stem}{a} / {stem}{b}")
                continue
        produced[f"chosen_{stem}"] = pc.if_else(first, one, two)
        produced[f"rejected_{stem}"] = pc.if_else(first, two, one)
        consumed += [stem + a, stem + b]
    notes = []
    if unlike:
        notes.append(
            "column pairs holding values of different kinds kept as they are (not made "
            "chosen_NAME / rejected_NAME): " + ", ".join(unlike)
        )
    return produced, tuple(consumed), notes


def as_messages(col: pa.Array, role: str) -> pa.Array:
    """Each text of `col` as a list of one message of `role`."""
    n = len(col)
    rows = np.arange(n, dtype=np.int64)
    return messages_from({"role": pa.array([role] * n, pa.string()), "content": col}, rows, n)


def numbers(col: pa.Array) -> np.ndarray | None:
    """A numeric or boolean column as floats (NaN where null); None for other kinds."""
    if pa.types.is_null(col.type):
        return np.full(len(col), np.nan)
    if not (
        pa.types.is_integer(col.type)
        or pa.types.is_floating(col.type)
        or pa.types.is_boolean(col.type)
    ):
        return None
    return np.asarray(pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(), float)
