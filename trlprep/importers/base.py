"""What every importer shares: its interface, its result, and the per-batch pass around it
(its options: `importers.options`; label columns read as booleans with `--coerce`:
`importers.labelcoercion`).

An importer turns one record batch of a public layout (ShareGPT, Alpaca, ...) into a batch
of a TRL dataset type (its landing). `Importer.apply` runs the same steps for all of them:
rename columns (`ImportOptions.map`), run the layout's own conversion, validate the output
against the landing type, and set aside every input row that cannot be imported, with the
reason, its row index, its file line and the original row, so nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.mediacolumns import as_media_lists
from trlprep.errors import DataError, UsageError
from trlprep.importers.columnmap import rename
from trlprep.importers.fieldpaths import path_head
from trlprep.importers.labelcoercion import coercion_notes, labels_read, mapped_labels
from trlprep.importers.messages import roles_read
from trlprep.importers.options import ImportOptions
from trlprep.importers.rejects import NOT_PAIRED, Rejections, reject_invalid, rejects_table
from trlprep.importers.survey import seeing
from trlprep.io.jsonencode import settle_tools
from trlprep.io.jsontext import TOOLS
from trlprep.io.kinds import Settled, settle_kinds
from trlprep.registry import DatasetType, Format
from trlprep.validation.rolemap import unused_role_map_error


@dataclass
class Converted:
    """What an importer's `convert` made of a batch.

    `rows`: for every output row, the input row (within the batch) it came from; None when
    output row i is input row i. Output rows of rejected input rows are dropped afterwards.
    """

    table: pa.Table
    rows: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """One imported batch: the rows that landed, the rows set aside, and notes.

    `rows[i]` is the batch row output row i came from; `lines[i]` its file line (None when
    the input has no line numbers). `rejects` has the columns of `REJECTS_SCHEMA`: dataset
    row index, file line (null without line numbers), reason, and the original row.
    """

    table: pa.Table
    rejects: pa.Table
    rows: np.ndarray
    lines: np.ndarray | None
    dtype: DatasetType
    fmt: Format
    notes: list[str] = field(default_factory=list)
    # extras whose rows hold several kinds, carried as JSON text: column -> the kinds
    carried: dict[str, list[str]] = field(default_factory=dict)
    # the input's message roles the role map was matched against (lower-cased)
    roles_seen: set[str] = field(default_factory=set)

    @property
    def num_rejected(self) -> int:
        return self.rejects.num_rows

    @property
    def failed(self) -> pa.Table:
        """The rejected rows that are errors (not ties left unpaired: `NOT_PAIRED`)."""
        stage = self.rejects.column("stage")
        return self.rejects.filter(pc.not_equal(stage, NOT_PAIRED))

    @property
    def num_not_paired(self) -> int:
        return self.num_rejected - self.failed.num_rows


# ---------------------------------------------------------------- the importer interface


class Importer:
    """A public dataset layout and how it lands on a TRL dataset type.

    Subclasses set `name`, `description` and `reads`, and implement `landing` and
    `convert`; `apply` is the same for all.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str]  # one paragraph, shown by --explain
    reads: ClassVar[str]  # the input columns, in words
    # The layout's columns bear TRL names (`prompt`, `messages`) but its rows are never valid
    # TRL data, so the layout is read even where detection names a TRL type.
    looks_like_trl: ClassVar[bool] = False
    # TRL's trainers read the layout's rows as they are (validate checks them as the landing)
    trl_reads_as_is: ClassVar[bool] = False
    # The layout can keep rows whose final answer is empty (`ImportOptions.keep_empty_turns`).
    keeps_empty_turns: ClassVar[bool] = False
    # Another layout for the same data, landing elsewhere (named when a route fails).
    sibling: ClassVar[str | None] = None
    # The columns (after --map) the layout may read, optional ones included. The others are
    # extras, carried along unread: one whose rows mix kinds stays JSON text (`carried`).
    # None: any column may be read, so every column is settled to one kind.
    columns: ClassVar[tuple[str, ...] | None] = None
    # of the options only some layouts read (`conversion.unread.LAYOUT_OPTIONS`), those this
    # one reads: one given that no step of a conversion reads is said to do nothing
    options_read: ClassVar[tuple[str, ...]] = ()

    def options_used(self, opts: ImportOptions) -> set[str]:
        """The options of `LAYOUT_OPTIONS` this layout reads under `opts`."""
        return set(self.options_read)

    def carried(self, names: Iterable[str], opts: ImportOptions | None = None) -> set[str]:
        """Which input columns (`names`, as the user wrote them) are extras the layout
        carries along unread, as the plain path carries extras (`trlprep.io.kinds`): not a
        column of the layout nor one trlprep reads later (a type's column, a side column)."""
        if self.columns is None:
            return set()
        from trlprep.detection.columnroles import trl_column_names

        renamed = {src: dst for dst, src in (opts.map if opts else {}).items()}
        read = set(self.columns) | trl_column_names()
        # an object column a field is taken from (`--map prompt=body.messages`) is read
        heads = {path_head(src) for src in renamed if path_head(src) != src}
        return {n for n in names if renamed.get(n, n) not in read and n not in heads}

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        """True when data of `schema` is read as this layout even where its columns read as a
        TRL type (`looks_like_trl`, or a layout that knows it from the columns)."""
        return self.looks_like_trl

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        """True when `schema` (and `sample` rows, where the schema cannot tell) is this layout."""
        return False

    def needs_whole_input(self, schema: pa.Schema) -> bool:
        """True when rows of one record depend on rows of other batches (imported at once)."""
        return False

    def survey(self, table: pa.Table, opts: ImportOptions) -> set[str] | None:
        """What of a batch (renamed) decides the fields or content kinds every batch of the
        input is given (`importers.survey`); None: each batch is imported alone."""
        return None

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        """The TRL type and format that data of `schema` lands on (after `opts.map`)."""
        raise NotImplementedError

    def landing_of(
        self, schema: pa.Schema, opts: ImportOptions | None = None
    ) -> tuple[DatasetType, Format] | None:
        """`landing` of input columns `schema` (before `opts.map` renames them): what an
        import that refused every row would have made; None where that depends on rows."""
        from trlprep.importers.columnmap import rename

        opts = opts or ImportOptions()
        try:
            return self.landing(rename(schema.empty_table(), opts.map or {}).schema, opts)
        except Exception:  # a landing read off rows, or a schema it cannot place
            return None

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        """What the importer will do with data of `schema`, one step per line."""
        return []

    def reading_notes(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        """What the import makes of data of `schema` that `detect` says beside the layout
        (a default chosen from the columns), as the import's own notes say it."""
        return []

    def expansion(self, opts: ImportOptions) -> str | None:
        """How input rows become output rows when that is not one to one ("one row per
        instance"), said where a run's counts are printed; None for one row per row."""
        return None

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        """The input column (after --map) of each produced column named otherwise, e.g.
        ShareGPT's `messages` <- `conversations`: a refused row's reason names the input's."""
        return {}

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        """Turn renamed input rows into landing rows; mark rows that cannot be imported."""
        raise NotImplementedError

    def apply(
        self,
        batch: pa.Table | pa.RecordBatch,
        opts: ImportOptions | None = None,
        offset: int = 0,
        lines: np.ndarray | None = None,
        seen: frozenset[str] | None = None,
    ) -> ImportResult:
        """Import one batch (`offset`: its first row's index in the dataset; `lines`: the
        1-based file line of each row, when the input has them; `seen`: the whole input's
        `survey`, None where the batch is the whole input)."""
        opts = opts or ImportOptions()
        if opts.keep_empty_turns and not self.keeps_empty_turns:
            raise UsageError(
                f"keep_empty_turns (--keep-empty-turns) is not an option of the {self.name} layout",
                hint="it applies to hh",
            )
        original = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        carry = self.carried(original.column_names, opts)
        # names as written; a column --map renames to `label`/`labels` read as booleans too
        labels = mapped_labels(opts)
        settled = settle_kinds(original, coerce=opts.coerce, carry=carry, labels=labels)
        if original.num_rows and settled.bad.all():  # all of another kind than most rows'
            return _all_refused(original, settled, offset, lines)
        # a `tools` column renamed from one Arrow typed as one struct (read before the
        # renaming was known: a polars frame, Ray): each row's own schemas, null keys left out
        table = settle_tools(rename(settled.table, opts.map), [TOOLS])
        table, _ = as_media_lists(table)  # Qwen-VL's `image` lists, `video` -> `videos`
        dtype, fmt = self.landing(table.schema, opts)
        bad = Rejections(table.num_rows)
        bad.add_per_row(settled.bad, settled.reasons)
        with roles_read() as roles_seen, seeing(seen):
            conv = self.convert(table, opts, bad)
        out = conv.table
        rows = np.arange(out.num_rows) if conv.rows is None else np.asarray(conv.rows, np.int64)
        landing = None  # the landing rows' label columns read as booleans
        if opts.coerce:
            out, landing = labels_read(out, rows, dtype, fmt, bad, opts.map)
        at = np.arange(len(rows))  # the landing rows kept, as positions in `landing`
        keep = ~bad.mask[rows] if len(rows) else np.zeros(0, bool)
        out, rows, at = out.filter(pa.array(keep)), rows[keep], at[keep]
        sources = {**{k: k for k in opts.map}, **self.sources(table.schema, opts)}
        named = {out: opts.map.get(src, src) for out, src in sources.items()}
        ok = reject_invalid(
            out, rows, dtype, fmt, bad, named={k: v for k, v in named.items() if k != v}
        )
        if not ok.all():
            out, rows, at = out.filter(pa.array(ok)), rows[ok], at[ok]
        notes = coercion_notes(settled, labels, rows, landing, at, opts.map, conv.notes)
        return ImportResult(
            table=out,
            rejects=rejects_table(original, bad, offset, lines),
            rows=rows,
            lines=None if lines is None else np.asarray(lines)[rows],
            dtype=dtype,
            fmt=fmt,
            notes=notes,
            carried=settled.carried,
            roles_seen=roles_seen,
        )


def _all_refused(
    original: pa.Table, settled: Settled, offset: int, lines: np.ndarray | None
) -> ImportResult:
    """A batch whose every row holds another kind than most rows of the input: all of them
    rejected, none imported (its settled columns hold no type the layout could land on)."""
    bad = Rejections(original.num_rows)
    bad.add_per_row(settled.bad, settled.reasons)
    return ImportResult(
        table=pa.table({}),
        rejects=rejects_table(original, bad, offset, lines),
        rows=np.zeros(0, np.int64),
        lines=None if lines is None else np.zeros(0, np.int64),
        dtype=None,  # nothing landed
        fmt=None,
        carried=settled.carried,
    )


def check_roles_used(opts: ImportOptions | None, seen: set[str], layout: str) -> None:
    """UsageError when a --role-map key is the role of no message of the whole input."""
    if opts is not None and opts.role_map:
        said = None if layout == "map" else layout  # `--map`/`--role-map` alone: no layout
        error = unused_role_map_error(dict(opts.role_map), seen, fold_case=True, layout=said)
        if error is not None:
            raise error


def require(table: pa.Table, *names: str, layout: str) -> None:
    """Raise DataError when a column the layout needs is missing."""
    missing = [n for n in names if n not in table.column_names]
    if not missing:
        return
    what = (
        f"{layout} data needs a column {missing[0]!r} "
        f"(the data has {', '.join(table.column_names) or 'no columns'})"
    )
    other = _reads_as(table, layout)
    if other is not None:  # the flag is wrong, not the data: a usage error, as --from TYPE
        raise UsageError(
            f"{what}; the data looks like {other[0]}",
            column=missing[0],
            hint=f"{other[1]}, or rename a column with --map {missing[0]}=NAME",
        )
    raise DataError(
        what,
        column=missing[0],
        hint=f"rename a column with --map {missing[0]}=NAME, or pick another --from",
    )


def _reads_as(table: pa.Table, layout: str) -> tuple[str, str] | None:
    """What `table` reads as when `--from layout` does not fit it: another public layout,
    else one TRL type (with the advice to give), else None."""
    from trlprep.detection.detect import detect_table
    from trlprep.importers.registry import detect_layout

    head = table.slice(0, 1000)
    other = detect_layout(table.schema, head)
    if other is not None and other != layout:
        return f"the {other} layout", f"pass --from {other}"
    det = detect_table(head)
    if det.type is not None and det.format is not None and not det.problems:
        return f"{det.type.name} ({det.format.value})", "drop --from to read it as it is"
    return None


def assemble(table: pa.Table, produced: dict[str, pa.Array], consumed: tuple[str, ...]) -> pa.Table:
    """Produced columns first, then the input's other columns (carried along)."""
    arrays: list[Any] = list(produced.values())
    fields = [pa.field(k, v.type) for k, v in produced.items()]
    for f in table.schema:
        if f.name in consumed:
            continue
        if f.name in produced:
            raise DataError(
                f"the input already has a column {f.name!r}, which the import produces",
                column=f.name,
                hint=f"rename it first (--map {f.name}_orig={f.name})",
            )
        arrays.append(table.column(f.name))
        fields.append(f)
    arrays = [a if isinstance(a, pa.ChunkedArray) else pa.chunked_array([a]) for a in arrays]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
