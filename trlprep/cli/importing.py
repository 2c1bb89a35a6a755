"""The layout a streamed `convert`/`import` reads, and its batches imported.

Which layout: named by `--from` (a type or a layout, a misspelt one told both lists),
sniffed from the columns, or chosen for `--conversational`; `--keep-empty-turns` checked
against it. Then each input batch is imported into a conversion `Unit`, the rows the
importer refuses (or of another kind than their column's) going to the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trlprep.cli.pipeline import Request
    from trlprep.conversion.ledger import Ledger
    from trlprep.conversion.stream import Unit
    from trlprep.importers import Importer, ImportOptions, ImportStats
    from trlprep.importers.survey import InlineMedia
    from trlprep.io.readers import Batch

from trlprep.cli.app import err
from trlprep.errors import ROW_ID, DataError, UsageError


def check_keep_empty(req: Request, layout: str | None) -> None:
    """`--keep-empty-turns` is an hh option that lands on prompt-only: refuse it elsewhere."""
    if req.import_options is None or not req.import_options.keep_empty_turns:
        return
    from trlprep.importers import get_importer
    from trlprep.registry import get_type

    if layout is None or get_importer(layout).name != "hh":
        raise UsageError("--keep-empty-turns is an option of the hh layout", hint="add --from hh")
    if req.to is not None and get_type(req.to).name != "prompt-only":
        raise UsageError(
            f"--keep-empty-turns keeps HH rows whose final Assistant turn is empty, which is "
            f"valid only as prompt-only data; for --to {req.to} an empty answer is an empty "
            "completion (rule empty-string)",
            hint="use --to prompt-only with it, or drop it and pass --on-error skip to set "
            "those rows aside",
        )


def sniff_layout(first: Batch, *, required: bool) -> str | None:
    """A public layout recognised from the columns, when the data is no TRL type (or is
    a layout whose columns only look like one: OASST trees, LLaMA-Factory v1 parts)."""
    from trlprep.importers import detect_layout, layout_names, layout_read_as

    name = detect_layout(first.data.schema, first.data.slice(0, 1000))
    if name is None and not required:
        from trlprep.detection.besidehints import prompt_beside_answers

        advice = prompt_beside_answers(first.data.slice(0, 1000))
        if advice is not None:
            err.print(f"note: {advice}", markup=False)
    if not required and layout_read_as(first.data) is None:
        return None
    if name is None and required:
        from trlprep.detection import answerfiles

        if answerfiles.answers_elsewhere(first.data.schema) is not None:  # no layout fits
            raise DataError("cannot tell the layout: " + answerfiles.WHAT, hint=answerfiles.JOIN)
        from trlprep.detection.layouthint import map_suggestion
        from trlprep.registry import TYPES

        cols = set(first.data.column_names)
        mapped = map_suggestion(first.data.column_names, first.data.schema)
        typed = max(  # the TRL type whose columns these are (the one reading most of them)
            (t for t in TYPES.values() for f in t.all_formats if set(t.column_names(f)) <= cols),
            key=lambda t: len(t.columns),
            default=None,
        )
        advice = "".join(f"; {a}" for a in _map_advice(first)) if typed else ""
        raise UsageError(
            "cannot tell the layout from the columns ("
            + ", ".join(first.data.column_names)
            + ")"
            + (f": {typed.name} data, a TRL type already" if typed else ""),
            hint=(
                "nothing to import: `trlprep convert` converts it (--to TYPE), `trlprep "
                f"validate` checks it{advice}; for a public layout pass --from "
                if typed
                else (f"pass --map {mapped}, or --from " if mapped else "pass --from ")
            )
            + " | ".join(layout_names()),
        )
    if name is not None:
        err.print(f"note: read as the {name} layout (pass --from to choose)", markup=False)
    return name


def _map_advice(first: Batch) -> list[str]:
    """`detect`'s `--map` advice for a TRL type with a column beside it that may hold what
    another type needs (an answer beside prompts: `--map completion=COLUMN`), as import
    takes it."""
    import pyarrow as pa

    from trlprep.detection.detect import detect_table

    data = first.data if isinstance(first.data, pa.Table) else pa.Table.from_batches([first.data])
    notes = detect_table(data.slice(0, 1000)).notes
    said = [n for n in notes if "`--map " in n]
    return [n.replace("(trlprep convert DATA ", "(trlprep import DATA ") for n in said]


def layout_for_conversational(first: Batch) -> str | None:
    """`--conversational` without a layout (`importers.conversational_layout`; the layout
    was sniffed already); a note when the data is messages already."""
    import pyarrow as pa

    from trlprep.cli.options import conversational_note
    from trlprep.importers import conversational_layout
    from trlprep.io.kinds import as_majority_text

    data = first.data if isinstance(first.data, pa.Table) else pa.Table.from_batches([first.data])
    return conversational_layout(as_majority_text(data), read_as=False) or conversational_note()


def layout_of(req: Request, first: Batch, layout: str | None, from_type: str | None) -> str | None:
    """The layout the input is imported from: named, or read off its first batch."""
    if layout is None and from_type is None:
        layout = sniff_layout(first, required=req.layout_required)
    if layout is None and req.import_options is not None and req.import_options.conversational:
        layout = layout_for_conversational(first)
    if layout is None and req.import_options is not None and req.import_options.role_map:
        layout = "map"  # TRL messages whose roles --role-map renames
    check_keep_empty(req, layout)
    return layout


def import_units(
    raw: Iterator[Batch],
    importer: Importer,
    opts: ImportOptions | None,
    stats: ImportStats,
    ledger: Ledger,
    coerce: bool = False,
    media: InlineMedia | None = None,
) -> Iterator[Unit]:
    """Import each input batch; rows the importer refuses go to the ledger (stage import),
    as do rows holding a value of another kind than their column's (stage read). `media`
    (a convert moving media held inline): filled with the media the whole imported input
    holds inline before the first unit comes (`importers.survey.media_surveyed`)."""
    import dataclasses

    import numpy as np
    import pyarrow as pa

    from trlprep.conversion.ledger import Ledger
    from trlprep.conversion.stream import Unit, read_stage
    from trlprep.importers import ImportOptions
    from trlprep.importers.base import check_roles_used
    from trlprep.importers.labelcoercion import mapped_labels
    from trlprep.importers.run import batches_to_import
    from trlprep.importers.survey import media_surveyed

    opts = opts or ImportOptions()
    if coerce and not opts.coerce:  # the importer reads the landing labels as booleans
        opts = dataclasses.replace(opts, coerce=True)
    how = importer.expansion(opts)
    if how:
        ledger.expansions["import"] = how  # said with the counts when rows multiply
    # OASST messages: the file at once; LLaMA-Factory v1, ShareGPT: each batch with what
    # the whole input holds (`importers.survey`)
    stream, seen = batches_to_import(raw, importer, opts)

    def read(b: Batch, into: Ledger) -> tuple[pa.Table, pa.Table, np.ndarray | None]:
        data = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
        carry = importer.carried(data.column_names, opts)  # the extras the layout leaves
        labels = mapped_labels(opts)  # --map label=COLUMN: read as booleans with --coerce
        return (data, *read_stage(data, b.offset, b.lines, into, coerce, carry, labels))

    if media is not None:

        def imported(b: Batch) -> pa.Table:
            _, settled, keep = read(b, Ledger())  # nothing counted: the import counts
            if keep is None:
                return importer.apply(settled, opts, b.offset, b.lines, seen=seen).table
            lines = None if b.lines is None else np.asarray(b.lines)[keep]
            return importer.apply(settled, opts, 0, lines, seen=seen).table

        stream = media_surveyed(stream, imported, media)
    for b in stream:
        ledger.settle(before=b.offset)  # the rows of earlier batches went through every stage
        data, settled, keep = read(b, ledger)
        ledger.rows_in += data.num_rows
        if keep is not None and not len(keep):  # every row of another kind than most rows'
            stats.rows_in += data.num_rows  # (its columns hold no type the import could read)
            continue
        if keep is None:
            result = importer.apply(settled, opts, b.offset, b.lines, seen=seen)
            rows = b.offset + np.asarray(result.rows, np.int64)
        else:  # the importer sees the kept rows: its row numbers map back through `keep`
            lines = None if b.lines is None else np.asarray(b.lines)[keep]
            result = importer.apply(settled, opts, 0, lines, seen=seen)
            rows = b.offset + keep[np.asarray(result.rows, np.int64)]
            if result.num_rejected:
                local = keep[result.rejects.column("row").to_numpy()]
                at = result.rejects.schema.get_field_index("row")
                result.rejects = result.rejects.set_column(
                    at, "row", pa.array(b.offset + local, pa.int64())
                ).select(result.rejects.column_names)
        stats.add(data.num_rows, result)
        ledger.reject(result.rejects)
        ledger.count_step("import", settled.num_rows - result.num_rejected, result.table.num_rows)
        if result.table.num_rows:
            table = result.table.append_column(ROW_ID, pa.array(rows))
            unit = Unit(data, b.offset, b.lines, table, result.lines, b.path)
            del b, data, settled, result, table  # the unit's, not held here past its yield
            yield unit
            del unit
    if ledger.rows_in:  # an empty input reads no role: --allow-empty says what it does
        check_roles_used(opts, stats.roles_seen, importer.name)
