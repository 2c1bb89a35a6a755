"""The driver's side of reading CSV / TSV files in ranges (`csvcuts`, `csvranges`): which
files are cut (their pieces scanned in parallel, every file's at once), each file's first
pass started before any file is waited on, then, file by file in order, the columns
decided, the ranges that read a column otherwise read again, and the blocks handed back;
or None where the file is to be read whole, as the local engine reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from trlprep.errors import TrlprepError
from trlprep.io import csvcuts
from trlprep.io.csvcuts import Cut, Range
from trlprep.io.csvjson import blank_ranges, json_plan
from trlprep.io.csvranges import Plan, Seen, change, decide, first_pass, settle


@dataclass(frozen=True)
class CsvParts:
    """How a CSV file is read in ranges: `cut` (an uncompressed file's) or `compressed`
    (ranges handed out as it is decompressed); `path`: the file, from the run's folder."""

    path: str
    cut: Cut | None = None
    compressed: bool = False


def csv_parts(paths: list[str], cpus: int) -> list[CsvParts | None]:
    """How each CSV file of `paths` is read in ranges (None: whole, in one task: a small
    file, or one whose cuts cannot be found); uncompressed files' pieces scanned in
    parallel, all files' at once."""
    import os

    from trlprep.io.sources import check_text_file, sniff, split_suffix
    from trlprep.ray.base import _ray

    found: list[CsvParts | list | None] = []
    for path in paths:
        try:
            size = os.path.getsize(path)
            check_text_file(path)
            if sniff(path) is not None or split_suffix(path)[1]:  # compressed
                big = size > csvcuts.RANGE_BYTES // 8
                found.append(CsvParts(path, compressed=True) if big else None)
            else:
                found.append(scan_pieces(path, cpus, _delimiter(path)))
        except (OSError, TrlprepError):  # the whole read names it as the local engine does
            found.append(None)
    out: list[CsvParts | None] = []
    for path, f in zip(paths, found, strict=True):
        if isinstance(f, list):
            try:
                cut = csvcuts.file_cut(path, _delimiter(path), _ray().get(f))
            except (OSError, TrlprepError):
                cut = None
            f = None if cut is None else CsvParts(path, cut)
        out.append(f)
    return out


def scan_pieces(path: str, cpus: int, delimiter: str) -> list | None:
    """The Ray tasks (refs of `PieceScan`s) scanning the pieces of the uncompressed CSV file
    `path`, about `csvcuts.RANGE_BYTES` each, at least one per CPU for a file of 8 MB a CPU or more
    (None: no bigger than a range, read whole)."""
    import math
    import os

    from trlprep.io.csvcuts import scan_piece
    from trlprep.ray.numbering import _remote

    size = os.path.getsize(path)
    pieces = math.ceil(size / csvcuts.RANGE_BYTES)
    if pieces < 2:
        return None
    pieces = max(pieces, min(cpus, size // (8 << 20)))
    bounds = csvcuts.piece_bounds(size, pieces)
    scan = _remote(scan_piece)
    return [scan.remote(path, a, b, delimiter) for a, b in zip(bounds, bounds[1:], strict=False)]


def _delimiter(path: str) -> str:
    from trlprep.io.sources import is_tab_separated

    return "\t" if is_tab_separated(path) else ","


@dataclass
class Pending:
    """A CSV file's ranges being read: `passes` (refs of each range's table and `Seen`)
    once started; a compressed file's `stream` of ranges until then."""

    parts: CsvParts
    name: str
    header: bytes = b""
    ranges: list[Range] = field(default_factory=list)
    passes: list = field(default_factory=list)
    stream: Any = None


@dataclass
class Read:
    """A CSV file read in ranges: its rows, columns and blocks (in order)."""

    rows: int
    names: list[str]
    blocks: list[Any]


def start_ranges(parts: CsvParts, name: str) -> Pending:
    """The first pass over the ranges of `parts` started (`name`: the file as the user
    gave it, in errors); a compressed file's decompressing task started."""
    from trlprep.io.csvcount import cut_stream
    from trlprep.ray.numbering import _remote

    pending = Pending(parts, name)
    if parts.compressed:
        task = _remote(cut_stream).options(num_returns="streaming")
        path, delimiter = parts.path, _delimiter(parts.path)
        pending.stream = task.remote(path, delimiter, csvcuts.RANGE_BYTES, name)
        return pending
    pending.header = csvcuts.header_bytes(parts.path, parts.cut)
    _first_passes(pending, parts.cut.ranges)
    return pending


def _first_passes(pending: Pending, ranges: list[Range], lines: Any = None) -> None:
    """The first pass over `ranges` started (added to the pending ones); `lines`: a range's
    records' lines, counted as it was cut (one range)."""
    from trlprep.ray.numbering import _remote

    first = _remote(first_pass).options(num_returns=2)
    delimiter, path = _delimiter(pending.parts.path), pending.parts.path
    pending.ranges += ranges
    pending.passes += [
        first.remote(
            path, pending.name, replace(r, data=None), pending.header, delimiter, r.data, lines
        )
        for r in ranges
    ]


def _handed_out(pending: Pending) -> bool:
    """A compressed file's ranges, as its task hands them out, each read as it comes;
    False: the file is to be read whole (its quotes do not read as CSV quoting)."""
    from trlprep.ray.base import _ray

    ray, ok = _ray(), False
    refs = iter(pending.stream)
    for ref in refs:
        meta = ray.get(ref)
        if isinstance(meta, bool):
            ok = meta
            break
        line, pending.header, start, lines = meta
        _first_passes(pending, [Range(start, start, line, next(refs))], lines)
    return ok and len(pending.ranges) > 1


def finish_ranges(pending: Pending) -> Read | None:
    """The file's rows read in ranges, each column typed as the file read whole (None: read
    it whole instead: why in `Seen.whole`, `decide`); the first range's error raised."""
    from trlprep.ray.base import _ray

    ray = _ray()
    if pending.stream is not None and not _handed_out(pending):
        return None
    seen: list[Seen] = []
    for _, ref in pending.passes:  # in order: the first error is the first raised
        seen.append(ray.get(ref))
        if seen[-1].error is not None:
            raise seen[-1].error
        if seen[-1].whole:
            return None
    plan = decide(seen)
    if plan is None:
        return None
    settled = _settled(pending, plan, seen)
    if plan.json:
        fields = ray.get([d for _, d in settled])
        final = json_plan(plan, [f for f, s in zip(fields, seen, strict=True) if s.rows])
        if final is None:
            return None
        if final.json != plan.json:  # JSON text that does not parse in some range: decoded nowhere
            plan, settled = final, _settled(pending, final, seen)
        elif final != plan:  # ranges of empty values only: their nulls typed as the others'
            again = blank_ranges(final, fields)
            plan, settled = final, _settled(pending, final, seen, settled, again)
    pending.ranges = [replace(r, data=None) for r in pending.ranges]  # bytes let go
    blocks = [t for (t, _), s in zip(settled, seen, strict=True) if s.rows]
    return Read(sum(s.rows for s in seen), seen[0].names, blocks or [settled[0][0]])


def _settled(
    pending: Pending,
    plan: Plan,
    seen: list[Seen],
    before: list[tuple] | None = None,
    again: set[int] | None = None,
) -> list[tuple]:
    """Each range's (table ref, decoded JSON fields ref or None): its first pass's table
    where the plan changes none of its columns, else `settle`'s (handed the range's bytes
    only where a column is read again: a compressed file's are let go otherwise); with
    `again`, only those ranges settled anew, the others' kept from `before`."""
    from trlprep.ray.numbering import _remote

    task = _remote(settle).options(num_returns=2)
    path, delimiter = pending.parts.path, _delimiter(pending.parts.path)
    out = []
    for k, (r, (table, _), s) in enumerate(zip(pending.ranges, pending.passes, seen, strict=True)):
        if before is not None and again is not None and k not in again:
            out.append(before[k])
            continue
        how = {change(s, plan, i) for i in range(len(plan.types))}
        if not plan.json and how == {None}:
            out.append((table, None))
            continue
        data = r.data if "read" in how else None
        bare = replace(r, data=None)
        out.append(task.remote(path, bare, pending.header, delimiter, table, plan, s, data))
    return out
