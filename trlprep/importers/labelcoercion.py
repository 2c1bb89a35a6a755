"""Label columns read as booleans in an import with `--coerce` (`trlprep.io.labels`): the
input columns `--map` renames to a type's `label`/`labels`, the landing rows' label columns,
the rows with no boolean reading refused, and the notes saying how many values were read."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from trlprep.importers.options import ImportOptions
from trlprep.importers.rejects import Rejections
from trlprep.io.kinds import Settled, settle_kinds
from trlprep.io.labels import LABEL_KINDS, READ_AS
from trlprep.registry import DatasetType, Format, Kind
from trlprep.wording import plural


def mapped_labels(opts: ImportOptions | None) -> dict[str, str]:
    """The input columns `--map` renames to a type's `label`/`labels` (input -> that
    name): read as booleans before the import with --coerce (`trlprep.io.labels`)."""
    return {src: dst for dst, src in (opts.map if opts else {}).items() if dst in LABEL_KINDS}


def labels_read(
    out: pa.Table,
    rows: np.ndarray,
    dtype: DatasetType,
    fmt: Format,
    bad: Rejections,
    renamed: Mapping[str, str],
) -> tuple[pa.Table, Settled | None]:
    """The landing rows with the type's label columns read as booleans (--coerce,
    `trlprep.io.labels`), and that reading (its values read per row: `coercion_notes`);
    rows with no boolean reading are marked in `bad`, the reason naming a column by the
    input's name (`renamed`: --map)."""
    names = {c.name_in(fmt) for c in dtype.columns_in(fmt) if c.kind in (Kind.LABEL, Kind.LABELS)}
    if not names & set(out.column_names):
        return out, None
    s = settle_kinds(out, coerce=True, carry=set(out.column_names) - names, labels=names)
    if s.bad.any():
        mask = np.zeros(len(bad.reason), bool)
        reasons = np.full(len(bad.reason), None, dtype=object)
        at = np.flatnonzero(s.bad)
        mask[rows[at]] = True
        for name in names:
            said = [
                r.replace(f"column {name!r}", f"column {_named(name, renamed)}")
                for r in s.reasons[at]
            ]
            s.reasons[at] = np.asarray(said, dtype=object)
        reasons[rows[at]] = s.reasons[at]
        bad.add_per_row(mask, reasons)
    return s.table, s


def _named(name: str, renamed: Mapping[str, str]) -> str:
    """A landing column as the input names it: `'label'`, `'ok' (imported as 'label')`."""
    src = renamed.get(name, name)
    return repr(name) if src == name else f"{src!r} (imported as {name!r})"


def _booleans_notes(s: Settled | None, kept: np.ndarray, renamed: Mapping[str, str]) -> list[str]:
    """The notes of the landing values read as booleans in the `kept` rows, each column
    named by the input's name (`renamed`: --map)."""
    return [
        f"column {_named(name, renamed)}: {plural(count, 'value')} ({READ_AS}) read as "
        "booleans (--coerce)"
        for name, count in ({} if s is None else s.booleans_in(kept)).items()
    ]


def coercion_notes(
    settled: Settled,
    labels: Mapping[str, str],
    rows: np.ndarray,
    landing: Settled | None,
    at: np.ndarray,
    renamed: Mapping[str, str],
    layout_notes: list[str],
) -> list[str]:
    """The notes of an imported batch: the input's values read as text or as booleans
    (`settled`, `labels`: input column -> label column) in the imported `rows`, the
    layout's own `layout_notes`, then the landing's values read as booleans (`landing`, in
    its kept rows `at`; `renamed`: --map)."""
    return (  # values read as booleans: counted in the rows imported only
        [
            f"column {name!r}: {plural(count, 'value')} of another kind (numbers, "
            "booleans) read as text (--coerce)"
            for name, count in settled.coerced.items()
        ]
        + [
            f"column {name!r} (imported as {labels[name]!r}): {plural(count, 'value')} "
            f"({READ_AS}) read as booleans (--coerce)"
            for name, count in settled.booleans_in(rows).items()
        ]
        + layout_notes
        + _booleans_notes(landing, at, renamed)
    )


__all__ = ["coercion_notes", "labels_read", "mapped_labels"]
