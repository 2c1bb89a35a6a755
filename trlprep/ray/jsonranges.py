"""One local JSON Lines file read by several Ray tasks, each its own byte range of whole lines.

A big JSONL file read whole by one task would need the memory of the whole table in one
worker and parse on one core; it is cut into ranges of about `BLOCK_BYTES` instead (at
least one per CPU). The cuts are cuts the local reader makes too (`jsonl._line_chunks`
reads `CHUNK_BYTES` at a time and cuts each read after its last line break), and every
range is read as those same chunks: each chunk parses exactly as locally (the same Arrow
types, the same broken lines named), and `join_plan` joins the chunks' tables as
`joining.concat_tables` joins them locally. A first cheap pass counts each range's line
breaks (one task per range), so every range knows the file line it starts on. A
compressed file cannot be cut: it is read whole, as before.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from trlprep.io.jsonl import CHUNK_BYTES
from trlprep.io.sources import guard
from trlprep.ray.base import LINE

_WINDOW = 64 << 10  # bytes looked at once when searching for a line break
_COUNT_BYTES = 16 << 20  # bytes read at once when counting line breaks


@dataclass(frozen=True)
class Span:
    """Bytes `start`..`end` of a file, whole lines, the first being file line `line`."""

    start: int
    end: int
    line: int = 1
    chunk: int = CHUNK_BYTES  # the local reader's read size, whose cuts the span keeps


def cut_points(path: str, cpus: int, range_bytes: int, chunk_bytes: int) -> list[int]:
    """Where the uncompressed JSONL file `path` is cut into ranges: byte offsets (0 and its
    size included) at which the local reader cuts its chunks too, about `range_bytes`
    apart and at least `cpus` ranges where the file has that many chunks ([0, size]: read
    whole: a compressed file, or one chunk)."""
    from trlprep.io.sources import sniff, split_suffix

    size = os.path.getsize(path)
    reads = math.ceil(size / chunk_bytes)
    if reads < 2 or sniff(path) is not None or split_suffix(path)[1]:
        return [0, size]
    pieces = min(max(math.ceil(size / range_bytes), cpus), reads)
    grid = sorted({round(j * reads / pieces) for j in range(1, pieces)} - {0, reads})
    cuts = {0, size}
    with open(path, "rb") as f:
        for k in grid:
            cut = _local_cut(f, k * chunk_bytes, size)
            if cut is not None:
                cuts.add(cut)
    return sorted(cuts)


def _local_cut(f, at: int, size: int) -> int | None:
    """Where the local reader cuts after reading the file's first `at` bytes: after the last
    line break before `at`, when a line break follows at or after `at` (else that read's
    lines end the file's last chunk); None: no cut there."""
    pos, found = at, -1
    while pos > 0 and found < 0:
        lo = max(0, pos - _WINDOW)
        f.seek(lo)
        found = f.read(pos - lo).rfind(b"\n")
        found, pos = (lo + found if found >= 0 else -1), lo
    if found < 0:
        return None
    pos = at
    while pos < size:
        f.seek(pos)
        window = f.read(_WINDOW)
        if b"\n" in window:
            return found + 1
        pos += len(window) or size
    return None


def spans(cuts: list[int], counts: list[int], chunk_bytes: int) -> list[Span]:
    """The ranges between `cuts`, each with the file line it starts on (`counts`: each
    range's line breaks, `line_breaks`)."""
    out, line = [], 1
    for start, end, n in zip(cuts[:-1], cuts[1:], counts, strict=True):
        out.append(Span(start, end, line, chunk_bytes))
        line += n
    return out


def line_breaks(path: str, start: int, end: int) -> int:
    """How many line breaks bytes `start`..`end` of `path` hold."""
    n = 0
    with open(path, "rb") as f:
        f.seek(start)
        while start < end:
            data = guard(path, lambda n=min(_COUNT_BYTES, end - start): f.read(n))
            if not data:
                break
            n += data.count(b"\n")
            start += len(data)
    return n


def span_chunks(path: str, span: Span) -> Iterator[bytes]:
    """The local reader's chunks that make up `span`, read as `jsonl._line_chunks` reads
    them (`linechunks.line_chunks` over the span's bytes: the same blocks, so the same
    cuts; where the span starts the file, the encoding checked and a byte-order mark
    dropped): about one chunk in memory, not the span."""
    from trlprep.io.linechunks import line_chunks

    return line_chunks(path, span.chunk, start=span.start, end=span.end)


@dataclass(frozen=True)
class JoinPlan:
    """What `conform` does to each chunk's table so that they join as `concat_tables`
    joins them: content made parts (`parts`), tool-call arguments made JSON text
    (`arguments`), columns made tagged JSON text (`tagged`), all cast to `schema`."""

    parts: frozenset[str]
    arguments: frozenset[str]
    tagged: frozenset[str]
    schema: pa.Schema


def join_plan(schemas: list[pa.Schema]) -> JoinPlan | None:
    """How tables of `schemas` (one file's chunks, in order) are joined as
    `joining.concat_tables` joins them; None when they already share one schema. Worked
    out on empty tables of those schemas: no data moves to decide it."""
    from trlprep.columns.arrowtypes import is_json_field
    from trlprep.columns.textparts import parts_columns, same_content
    from trlprep.io.joining import (
        argument_columns,
        conflicting_columns,
        same_arguments,
        tag_columns,
    )
    from trlprep.io.sources import ARROW_ERRORS

    if all(s == schemas[0] for s in schemas):
        return None
    parts, arguments = parts_columns(schemas), argument_columns(schemas)
    empty = [same_arguments(same_content(s.empty_table(), parts), arguments) for s in schemas]
    tagged: set[str] = set()
    try:
        if any(is_json_field(f) for t in empty for f in t.schema):
            raise pa.ArrowInvalid("JSON text")
        pa.unify_schemas([t.schema for t in empty], promote_options="permissive")
    except ARROW_ERRORS:
        tagged = conflicting_columns([t.schema for t in empty])
    empty = [tag_columns(t, tagged) for t in empty]
    schema = pa.unify_schemas([t.schema for t in empty], promote_options="permissive")
    last = [f for f in schema if f.name == LINE]  # where a file read whole has it
    schema = pa.schema([f for f in schema if f.name != LINE] + last)
    return JoinPlan(frozenset(parts), frozenset(arguments), frozenset(tagged), schema)


def conform(table: pa.Table, plan: JoinPlan) -> pa.Table:
    """`table` (one chunk's) as it is in the file's chunks joined by `plan`."""
    from trlprep.columns.textparts import same_content
    from trlprep.io.joining import same_arguments, tag_columns

    table = same_arguments(same_content(table, set(plan.parts)), set(plan.arguments))
    table = tag_columns(table, set(plan.tagged))
    return pa.concat_tables([plan.schema.empty_table(), table], promote_options="permissive")


RANGE_BYTES = 128 << 20  # a JSONL file's bytes read by one task (`cut_points`)


def file_spans(paths: list[str], cpus: int) -> list[list[Span] | None]:
    """Each local JSONL file's ranges, one Ray task each (None: read whole, in one task),
    their line breaks counted in parallel (one task per range) to number their lines."""
    from trlprep.io import jsonl
    from trlprep.ray.base import _ray
    from trlprep.ray.numbering import _remote

    chunk = jsonl.CHUNK_BYTES  # read here: tests shrink it for both engines
    found: list[list[int] | None] = []
    for p in paths:
        try:
            cuts = cut_points(p, cpus, RANGE_BYTES, chunk)
        except OSError:  # the task's read names it as the local engine does
            cuts = []
        found.append(cuts if len(cuts) > 2 else None)
    counter = _remote(line_breaks)
    counts = [
        None
        if cuts is None
        else [counter.remote(p, a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        for p, cuts in zip(paths, found, strict=True)
    ]
    ray = _ray()
    return [
        None if cuts is None else spans(cuts, ray.get(refs), chunk)
        for cuts, refs in zip(found, counts, strict=True)
    ]


def joined(refs: list, schemas: list[pa.Schema]) -> list:
    """One cut file's blocks (`refs`, in order, of `schemas`) joined as the local reader
    joins its chunks; a file whose columns hold JSON text (rows of mixed kinds) in one
    block, as a file read whole is (what those values become is decided over all rows)."""
    from trlprep.columns.arrowtypes import is_json_field
    from trlprep.ray.numbering import _remote

    kept = [(r, s) for r, s in zip(refs, schemas, strict=True) if len(s) > 1]  # rows read
    if kept:  # a range with no rows hands back LINE alone, as an empty file does
        refs, schemas = [r for r, _ in kept], [s for _, s in kept]
    if len(refs) < 2:
        return refs
    plan = join_plan(schemas)
    if plan is not None:
        refs = [_remote(conform).remote(r, plan) for r in refs]
    schema = schemas[0] if plan is None else plan.schema
    if any(is_json_field(f) for f in schema):
        refs = [_remote(_one_block).remote(*refs)]
    return refs


def _one_block(*tables: pa.Table) -> pa.Table:
    return pa.concat_tables(tables)
