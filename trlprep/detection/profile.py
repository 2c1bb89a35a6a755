"""What each column holds in each row of a record batch, merged over batches: kinds, example
rows, roles, how conversations end, and prompts repeated inside chosen/rejected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import (
    ValueKind,
    has_media_parts,
    is_list,
    json_kinds,
    value_kind,
)
from trlprep.registry import SIDE_COLUMNS

EXAMPLE_ROWS = 5  # example rows kept per kind of value and per problem
MESSAGES = "messages"  # the conversation column, read as another type by `readings`


@dataclass
class ColumnProfile:
    """Per-row kinds of one column: counts and a few example rows per kind."""

    kinds: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)
    roles: set[str] = field(default_factory=set)
    # rows by the role of their last message: assistant (after another message), user, ...
    last: Kinds | None = None
    parts: bool = False
    declared: set[str] = field(default_factory=set)  # kinds its Arrow type allows

    def add(self, kind: str, count: int, mask, offset: int) -> None:
        """Count `count` rows of `kind`; `mask` (true on those rows) gives example rows."""
        if count == 0:
            return
        self.kinds[kind] += count
        ex = self.examples.setdefault(kind, [])
        if len(ex) < EXAMPLE_ROWS:
            rows = pc.indices_nonzero(mask)[: EXAMPLE_ROWS - len(ex)]
            ex.extend(int(r) + offset for r in rows.to_pylist())


@dataclass
class Kinds:
    """Row counts by category, with a few example rows each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, codes: np.ndarray, names: tuple[str, ...], offset: int) -> None:
        """Count rows by `codes` (indices into `names`)."""
        for code, count in enumerate(np.bincount(codes, minlength=len(names)).tolist()):
            if not count:
                continue
            name = names[code]
            self.counts[name] += count
            ex = self.examples.setdefault(name, [])
            if len(ex) < EXAMPLE_ROWS:
                rows = np.flatnonzero(codes == code)[: EXAMPLE_ROWS - len(ex)]
                ex.extend(int(r) + offset for r in rows)


_ENDINGS = ("other", "assistant", "assistant-only", "user", "empty", "null")


def _last_turns(col: pa.Array, offset: int, into: Kinds) -> None:
    """Count the rows of a messages column by how they end (see `ColumnProfile.last`)."""
    from trlprep.columns.turnends import LastTurns

    last = LastTurns(col)
    codes = np.zeros(len(col), np.int64)  # other
    assistant = last.ends_on("assistant")
    codes[assistant] = 1
    codes[assistant & (last.length < 2)] = 2
    codes[last.ends_on("user")] = 3
    codes[last.length == 0] = 4
    if col.null_count:
        codes[~np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), bool)] = 5
    into.add(codes, _ENDINGS, offset)


@dataclass
class Profile:
    num_rows: int = 0
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    # rows where chosen/rejected repeat the explicit prompt (ambiguity)
    repeated_prompt: ColumnProfile = field(default_factory=ColumnProfile)


def _row_kind(kind: ValueKind) -> str:
    return {ValueKind.MESSAGES: "messages", ValueKind.STRING: "string"}.get(kind, kind.value)


def _json_list_kinds(kinds: pa.Array, text: pa.Array, side: bool) -> pa.Array:
    """`kinds` (`json_kinds` of the JSON text `text`) with each list told by its first item:
    objects `messages`, strings `list<string>` (no conversation), `empty-list`, else `list`;
    every list of a side column (videos, images, tools ...) `list`."""
    if side:
        return kinds
    is_list = pc.fill_null(pc.equal(kinds, "list"), False)
    if not pc.any(is_list).as_py():
        return kinds
    told = pc.case_when(
        pc.make_struct(
            pc.match_substring_regex(text, r"^\[\s*\{"),
            pc.match_substring_regex(text, r"^\[\s*\]"),
            pc.match_substring_regex(text, r'^\[\s*"'),
        ),
        "messages",
        "empty-list",
        ValueKind.STRINGS.value,
        "list",
    )
    return pc.if_else(is_list, told, kinds)


def profile_batch(batch: pa.Table | pa.RecordBatch, offset: int, prof: Profile) -> None:
    n = batch.num_rows
    prof.num_rows += n
    for i, f in enumerate(batch.schema):
        col = batch.column(i)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        cp = prof.columns.setdefault(f.name, ColumnProfile())
        kind = value_kind(f)
        if kind not in (ValueKind.NULL, ValueKind.MIXED):
            cp.declared.add(_row_kind(kind))
        nulls = col.null_count
        if nulls:
            cp.add("null", nulls, pc.is_null(col), offset)
        if kind is ValueKind.MIXED:
            kinds = _json_list_kinds(json_kinds(col), col, f.name in SIDE_COLUMNS)
            for k in ("string", "messages", "empty-list", ValueKind.STRINGS.value, "list"):
                mask = pc.equal(kinds, k)
                cp.add(k, pc.sum(mask).as_py() or 0, mask, offset)
            for k in ("object", "bool", "number"):
                mask = pc.equal(kinds, k)
                cp.add(k, pc.sum(mask).as_py() or 0, mask, offset)
            continue
        if kind is ValueKind.NULL and is_list(f.type):
            cp.add("empty-list", n - nulls, pc.is_valid(col), offset)
            continue
        cp.add(_row_kind(kind), n - nulls, pc.is_valid(col), offset)
        if kind is ValueKind.MESSAGES:
            flat = pc.list_flatten(col)
            if flat.type.get_field_index("role") >= 0:
                roles = pc.unique(pc.struct_field(flat, "role")).to_pylist()
                cp.roles.update(r for r in roles if r is not None)
            cp.parts = cp.parts or has_media_parts(col)  # text-only parts: not vision
            if f.name == MESSAGES:
                cp.last = cp.last or Kinds()
                _last_turns(col, offset, cp.last)
    _profile_repeated_prompt(batch, offset, prof)


# up to this many rows, the repeated-prompt check runs in plain Python (importing polars
# would cost more than the check: start-up time of `trlprep detect` on a small file)
SMALL_BATCH = 4096


def _profile_repeated_prompt(batch, offset: int, prof: Profile) -> None:
    """Rows whose chosen (and rejected) start with the whole explicit prompt."""
    names = batch.schema.names
    if not {"prompt", "chosen", "rejected"} <= set(names):
        return
    kinds = {n: value_kind(batch.schema.field(n)) for n in ("prompt", "chosen", "rejected")}
    if all(k is ValueKind.STRING for k in kinds.values()):
        strings = True
    elif all(k is ValueKind.MESSAGES for k in kinds.values()):
        strings = False
    else:
        return
    columns = [batch.column(batch.schema.get_field_index(n)) for n in kinds]
    if batch.num_rows <= SMALL_BATCH:
        mask = _bool_array(repeated_small(*(c.to_pylist() for c in columns)))
    else:
        mask = repeated_polars(pa.table(dict(zip(kinds, columns, strict=True))), strings)
    prof.repeated_prompt.add("repeated", pc.sum(mask).as_py() or 0, mask, offset)


def repeated_small(prompts: list, chosen: list, rejected: list) -> list[bool]:
    """Per row: a non-empty prompt that both chosen and rejected start with (strings start
    with it, message lists hold it as their first turns)."""
    return [
        bool(p) and all(c is not None and c[: len(p)] == p for c in (ch, rj))
        for p, ch, rj in zip(prompts, chosen, rejected, strict=True)
    ]


def _bool_array(values: list[bool]) -> pa.Array:
    """A boolean Arrow array from its buffer (`pa.array` on a list imports pandas)."""
    bits = np.packbits(np.array(values, dtype=bool), bitorder="little").tobytes()
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def repeated_polars(table: pa.Table, strings: bool) -> pa.Array:
    """`repeated_small` on a large batch, columnar."""
    import polars as pl

    df = pl.from_arrow(table)
    if strings:
        p = pl.col("prompt")
        expr = (p.str.len_bytes() > 0) & pl.all_horizontal(
            pl.col(c).str.starts_with(p) for c in ("chosen", "rejected")
        )
    else:
        plen = pl.col("prompt").list.len()
        expr = (plen > 0) & pl.all_horizontal(
            pl.col(c).list.head(plen) == pl.col("prompt") for c in ("chosen", "rejected")
        )
    return df.select(expr.fill_null(False)).to_series().to_arrow()


def content_kinds(cp: ColumnProfile) -> dict[str, int]:
    kinds = {k: v for k, v in cp.kinds.items() if k != "null"}
    if not kinds and not cp.kinds:  # no rows at all: fall back on the schema
        return dict.fromkeys(cp.declared, 0)
    return kinds
