"""Columns whose rows hold different kinds of JSON value (GSM8K with one numeric `answer`,
Alpaca with `"output": 42`), settled before anything else reads them.

Readers keep such a column as tagged JSON text (`arrowtypes.JSON_FIELD_KEY`). Here the
kind most rows hold wins: rows of another kind are row failures naming the column as the
user wrote it (stage `read`), or, with `coerce`, numbers and booleans in a text column are
read as their text. The column is then decoded to its proper Arrow type.

Columns named in `carry` (the extras: no column of the dataset type, see
`trlprep.detection.columnroles.carried_columns`) are left as they are: one Arrow column cannot
hold an object in one row and a string in another, so such an extra stays tagged JSON
text, each value as the user wrote it (JSON Lines outputs and Python rows give the values
back; Parquet and Arrow store the text), and no row is refused for a column trlprep does
not read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, json_kinds
from trlprep.columns.textparts import has_marks
from trlprep.errors import TrlprepWarning
from trlprep.io.jsontext import decode_json_texts, tools_names
from trlprep.registry import SINGLE_MEDIA_COLUMNS

_NAMES = {
    "string": ("a string", "strings"),
    "number": ("a number", "numbers"),
    "bool": ("a boolean", "booleans"),
    "list": ("a list", "lists"),
    "object": ("an object", "objects"),
}
PREVIEW = 40
# LLaVA's and Qwen-VL's `image` / `video`: one path, or a list of them (`_paths_as_lists`);
# a string among the lists of `images` / `videos` stays a row failure
MEDIA_NAMES = frozenset(SINGLE_MEDIA_COLUMNS)
# what `--coerce` does for a text column holding numbers or booleans (validate says it too)
COERCE_ADVICE = "pass --coerce to read numbers as text"


def coerce_advice(kinds: Iterable[str]) -> str:
    """`COERCE_ADVICE` naming what the rows hold: numbers, booleans, or both."""
    held = {"number", "bool"} & set(kinds)
    if held == {"bool"}:
        return COERCE_ADVICE.replace("numbers", "booleans")
    return (
        COERCE_ADVICE.replace("numbers", "numbers and booleans")
        if len(held) == 2
        else COERCE_ADVICE
    )


# on a tagged column of one block of a larger dataset (`trlprep.ray.numbering`): the kind
# most rows of the whole dataset hold, which a block's own count could not tell
MAJOR_KIND_KEY = b"trlprep.major"


@dataclass
class Settled:
    """A table with its mixed-kind columns settled, and the rows that could not be."""

    table: pa.Table
    bad: np.ndarray  # per row: it holds a minority kind (and is to be set aside)
    reasons: np.ndarray  # per row: why (None where not bad)
    coerced: dict[str, int] = field(default_factory=dict)  # column -> values read as text
    booleans: dict[str, int] = field(default_factory=dict)  # column -> values read as booleans
    # extras whose rows hold several kinds, kept as JSON text: column -> the kinds, by count
    carried: dict[str, list[str]] = field(default_factory=dict)
    boolean_rows: dict[str, np.ndarray] = field(default_factory=dict)  # `booleans` per row

    def booleans_in(self, rows: np.ndarray) -> dict[str, int]:
        """`booleans` counted in `rows` only (indexes or a mask): the rows kept, where
        later stages refuse some (a refused row's values were read, but are not output)."""
        counts = {name: int(per[rows].sum()) for name, per in self.boolean_rows.items()}
        return {name: n for name, n in counts.items() if n}


def settle_kinds(
    table: pa.Table,
    *,
    coerce: bool = False,
    carry: Collection[str] = (),
    labels: Collection[str] | Mapping[str, str] = (),
) -> Settled:
    """Settle every tagged (mixed-kind) column of `table` but those in `carry`; see the
    module docstring. With `coerce`, the columns named in `labels` (the type's `label` or
    `labels`, `trlprep.detection.columnroles.label_columns`; a mapping: input column -> the
    type's column it is renamed to) are read as booleans (`trlprep.io.labels`)."""
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    coerced: dict[str, int] = {}
    booleans: dict[str, int] = {}
    per_row: dict[str, np.ndarray] = {}
    carried: dict[str, list[str]] = {}
    if coerce and labels:
        table = _read_labels(table, labels, bad, reasons, per_row)
        booleans = {name: int(per.sum()) for name, per in per_row.items()}
    if not any(is_json_field(f) for f in table.schema):
        return Settled(table, bad, reasons, booleans=booleans, boolean_rows=per_row)
    for i, f in enumerate(table.schema):
        if not is_json_field(f):
            continue
        given = f.metadata.get(MAJOR_KIND_KEY)
        if given is not None:
            f = f.with_metadata({k: v for k, v in f.metadata.items() if k != MAJOR_KIND_KEY})
            table = table.set_column(i, f, table.column(i))
        if f.name in carry:
            carried[f.name] = _kinds_by_count(table.column(i))
            continue
        text = table.column(i).combine_chunks()
        kinds = json_kinds(text)
        if f.name in MEDIA_NAMES and (lists := _paths_as_lists(f.name, text, kinds, given)):
            table = table.set_column(i, lists[0].with_metadata(None), lists[1])
            continue
        counts = pc.value_counts(pc.filter(kinds, pc.not_equal(kinds, "null")))
        if given is not None:
            major = given.decode()  # the whole dataset's, of which `table` is one block
        elif len(counts) < 2:
            # one kind whose nested values disagree: typed where they can be (message
            # content as strings and parts), else left as it is
            only = counts.field("values")[0].as_py() if len(counts) else None
            if f.name not in tools_names() and only == "list":
                decoded = decode_json_texts(f.name, text)
                if decoded is not None and has_marks(decoded[0].type):
                    table = table.set_column(i, decoded[0].with_metadata(None), decoded[1])
            continue
        else:
            values = counts.field("values").to_pylist()
            major = values[int(np.argmax(counts.field("counts").to_numpy()))]
        other = np.asarray(
            pc.and_(pc.not_equal(kinds, major), pc.not_equal(kinds, "null")).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        if coerce and major == "string":
            scalar = other & np.isin(
                np.asarray(kinds.to_numpy(zero_copy_only=False), dtype=object), ["number", "bool"]
            )
            if scalar.any():
                quoted = pc.binary_join_element_wise('"', text, '"', "")
                text = pc.if_else(pa.array(scalar), quoted, text)
                coerced[f.name] = int(scalar.sum())
                other &= ~scalar
        if other.any():
            idx = np.flatnonzero(other)
            shown = text.take(pa.array(idx)).to_pylist()
            row_kinds = kinds.take(pa.array(idx)).to_pylist()
            for j, value, kind in zip(idx, shown, row_kinds, strict=True):
                if reasons[j] is None:
                    value = value if len(value) <= PREVIEW else value[:PREVIEW] + "..."
                    # --coerce reads numbers and booleans as text, never lists or objects
                    scalar = major == "string" and kind in ("number", "bool")
                    reasons[j] = (
                        f"column {f.name!r} holds {_NAMES[kind][0]} ({value}) where the other "
                        f"rows hold {_NAMES[major][1]} (rule mixed-kind)"
                        + (f"; {coerce_advice([kind])}" if scalar else "")
                    )
            bad |= other
            text = pc.if_else(pa.array(other), pa.scalar(None, text.type), text)
        decoded = decode_json_texts(f.name, text)
        if decoded is not None:
            new_field, arr = decoded
            table = table.set_column(i, new_field.with_metadata(None), arr)
        else:
            table = table.set_column(i, f, text)
    return Settled(table, bad, reasons, coerced, booleans, carried, per_row)


def _paths_as_lists(
    name: str, text: pa.Array, kinds: pa.Array, given: bytes | None
) -> tuple[pa.Field, pa.Array] | None:
    """A media column holding one path (a string) in some rows and a list of them in others
    (Qwen-VL's `image`) as lists, each lone path a list of one, so no row is refused; an
    `image` of paths and objects (MiniCPM-V's named images) as objects, a lone path
    `{"<image>": PATH}` (`importers.namedimages`); None where it holds other kinds.
    `given`: the whole input's major kind, where this is one batch of it (whose rows may
    hold strings only, the lists being in other batches)."""
    held = set(pc.unique(kinds).to_pylist()) - {"null"}
    if name == "image" and (held == {"string", "object"} or (given == b"object" and held)):
        if held <= {"string", "object"}:  # MiniCPM-V: one path, or an object of named ones
            wrapped = pc.binary_join_element_wise('{"<image>":', text, "}", "")
            return decode_json_texts(name, pc.if_else(pc.equal(kinds, "string"), wrapped, text))
    mixed = held == {"string", "list"} or (given in (b"string", b"list") and held)
    if not mixed or not held <= {"string", "list"}:
        return None
    wrapped = pc.binary_join_element_wise("[", text, "]", "")
    return decode_json_texts(name, pc.if_else(pc.equal(kinds, "string"), wrapped, text))


def _read_labels(
    table: pa.Table,
    labels: Collection[str] | Mapping[str, str],
    bad: np.ndarray,
    reasons: np.ndarray,
    booleans: dict[str, np.ndarray],
) -> pa.Table:
    """`table` with its `labels` columns read as booleans; `bad`, `reasons`, `booleans`
    (the values read per row, by column) are filled in place."""
    from trlprep.io.labels import read_labels

    for i, f in enumerate(table.schema):
        done = pa.types.is_boolean(f.type) or (is_list(f.type) and f.type.value_type == pa.bool_())
        if f.name not in labels or done:
            continue
        as_name = labels.get(f.name) if isinstance(labels, Mapping) else None
        got = read_labels(f, table.column(i), as_name)
        table = table.set_column(i, got.field, got.values)
        if got.count:
            booleans[f.name] = got.per_row
        new = got.bad & (reasons == None)  # noqa: E711 (elementwise)
        reasons[new] = got.reasons[new]
        bad |= got.bad
    return table


class CarriedColumnWarning(TrlprepWarning):
    """An extra column of several kinds given back as JSON text (`carried_warning`): worth
    saying where the data is returned or written, not where it is only trained on."""


def carried_warning(column: str, kinds: list[str], stored: str, tagged: bool = True) -> str:
    """What happened to an extra column of several kinds (`Settled.carried`): `stored` says
    where its JSON text went ("written to out.parquet", "returned"); `tagged`: with the tag
    that lets trlprep read the values back (a save_to_disk folder keeps no tag)."""
    held = " and ".join(_NAMES[k][1] for k in kinds if k in _NAMES) or "values of several kinds"
    if len(kinds) == 1:  # objects (lists) whose keys (items) differ from row to row
        held += " of different shapes"
    back = (
        "trlprep reads it back as the values, other readers see the text"
        if tagged
        else "every reader, trlprep included, sees the text"
    )
    return (
        f"column {column!r} (an extra column) holds {held} in different rows, which one "
        f"Arrow column cannot hold: {stored} as JSON text (one string per row, each value as "
        f"written; {back})"
    )


def carried_kinds(table: pa.Table, columns: Collection[str]) -> dict[str, list[str]]:
    """The tagged JSON-text columns of `table` among `columns`, with the kinds their rows
    hold (most rows first; nulls aside)."""
    out = {}
    for i, f in enumerate(table.schema):
        if f.name in columns and is_json_field(f):
            out[f.name] = _kinds_by_count(table.column(i))
    return out


def _kinds_by_count(column: pa.ChunkedArray | pa.Array) -> list[str]:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    counts = pc.value_counts(json_kinds(column))
    order = np.argsort(-counts.field("counts").to_numpy(), kind="stable")
    names = counts.field("values").to_pylist()
    return [names[j] for j in order if names[j] not in ("null", None)]


def kind_counts(table: pa.Table, columns: Collection[str]) -> dict[str, dict[str, int]]:
    """Per tagged JSON-text column of `table` among `columns`: how many rows hold each kind
    (nulls aside), kinds in the order the rows first hold them."""
    out = {}
    for i, f in enumerate(table.schema):
        if f.name in columns and is_json_field(f):
            kinds = json_kinds(table.column(i).combine_chunks())
            counts = pc.value_counts(pc.filter(kinds, pc.not_equal(kinds, "null")))
            out[f.name] = dict(
                zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                )
            )
    return out


def major_kinds(per_block: list[dict[str, dict[str, int]]]) -> dict[str, str]:
    """The kind most rows hold, per column, from `kind_counts` of every block in row order
    (ties: the kind met first), for columns whose rows hold more than one kind."""
    totals: dict[str, dict[str, int]] = {}
    for counts in per_block:
        for name, by_kind in counts.items():
            into = totals.setdefault(name, {})
            for kind, n in by_kind.items():
                into[kind] = into.get(kind, 0) + n
    return {
        name: max(by_kind, key=lambda k: (by_kind[k], -list(by_kind).index(k)))
        for name, by_kind in totals.items()
        if len(by_kind) > 1
    }


def with_major_kinds(table: pa.Table, majors: Mapping[str, str]) -> pa.Table:
    """`table` with each tagged column of `majors` marked with its kind (`MAJOR_KIND_KEY`),
    so `settle_kinds` refuses that block's rows of another kind as the whole data's."""
    for i, f in enumerate(table.schema):
        if f.name in majors and is_json_field(f):
            meta = {**f.metadata, MAJOR_KIND_KEY: majors[f.name].encode()}
            table = table.set_column(i, f.with_metadata(meta), table.column(i))
    return table


def as_majority_text(table: pa.Table) -> pa.Table:
    """`table` with each tagged column whose whole-input majority is text shown as plain
    text, so a look at the first rows (format sniffing) sees the data's kind, not a first
    batch that holds only the minority kind."""
    for i, f in enumerate(table.schema):
        if is_json_field(f) and f.metadata.get(MAJOR_KIND_KEY) == b"string":
            table = table.set_column(i, pa.field(f.name, pa.string()), table.column(i))
    return table
