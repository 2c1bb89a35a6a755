"""`validate --coerce`: each batch read as `convert --coerce` reads it before it is checked.

Labels of 0/1 and "true"/"false" are read as booleans and numbers/booleans among text as
text (`trlprep.io.kinds`, `trlprep.io.labels`), so the checks see what convert would
convert. A row convert would refuse when reading (stage `read`: a label of 2, a list among
text) is flagged under the rule its reason names, and under no other (its values are
null once read, which the checks would call missing). `Coerced` counts the values read
for the report's notes, worded as convert's.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.io.kinds import Settled
from trlprep.io.sources import Batch
from trlprep.validation.checks.common import BatchSink

_RULE = re.compile(r" \(rule ([a-z-]+)\)")
_COLUMN = re.compile(r"^column '([^']*)'")
_VALUE = re.compile(r"^(column '[^']*' holds )(.*?)( where .*)$")
SHOWN = 5  # values named in an issue's message


@dataclass
class Coerced:
    """Values read as text / as booleans so far, per column (summed over batches)."""

    text: Counter = field(default_factory=Counter)
    booleans: Counter = field(default_factory=Counter)

    def settle(self, data: pa.Table | pa.RecordBatch) -> Settled:
        """`data` read as convert --coerce reads it (the text counts added here; the
        booleans by `count_kept`, once the rows with errors are known)."""
        s = settle_batch(data)
        self.text.update(s.coerced)
        return s

    def count_kept(self, s: Settled, sink: BatchSink) -> None:
        """Add the values read as booleans in the rows no error flags: the rows convert
        keeps, so validate's note counts what convert's says."""
        from trlprep.validation.rules import RULES, Severity

        failed = np.zeros(sink.num_rows, bool)
        for (rule, _), f in sink.flags.items():
            if RULES[rule].severity is Severity.ERROR:
                failed |= f.mask
        self.booleans.update(s.booleans_in(~failed))

    def notes(self, renamed: dict[str, str] | None = None) -> list[str]:
        """The counts as convert's notes say them (`renamed`: a label column --map renames,
        input -> the type's name, said as the importer says it)."""
        from trlprep.io.labels import READ_AS
        from trlprep.wording import plural

        return [
            f"column {column!r}: {plural(count, 'value')} of another kind (numbers, "
            "booleans) read as text (--coerce)"
            for column, count in self.text.items()
        ] + [
            f"column {column!r}{_imported_as(column, renamed)}: {plural(count, 'value')} "
            f"({READ_AS}) read as booleans (--coerce)"
            for column, count in self.booleans.items()
        ]


def _imported_as(column: str, renamed: dict[str, str] | None) -> str:
    name = (renamed or {}).get(column, column)
    return "" if name == column else f" (imported as {name!r})"


def coerced_options(import_options: Any, coerce: bool) -> Any:
    """`import_options` with `coerce` set (the importer reads the labels and the kinds as
    `convert --from LAYOUT --coerce` does; its refusals are import-failed errors)."""
    if not coerce:
        return import_options
    from trlprep.importers import ImportOptions

    return dataclasses.replace(import_options or ImportOptions(), coerce=True)


def settle_batch(data: pa.Table | pa.RecordBatch) -> Settled:
    """`data` settled with coerce, as convert's read stage settles it (the extras of the
    type the columns fit carried, its label columns read as booleans)."""
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.io.kinds import settle_kinds

    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    names = table.column_names
    return settle_kinds(
        table, coerce=True, carry=carried_columns(names), labels=label_columns(names)
    )


def settled_batches(batches: Iterable[Batch]) -> Iterator[Batch]:
    """The batches read with coerce (for detection: the type is found on what is checked)."""
    for b in batches:
        yield dataclasses.replace(b, data=settle_batch(b.data).table)


def flag_read(sink: BatchSink, s: Settled) -> None:
    """Flag the rows `s` could not read under the rule each reason names (no other flag
    stays on them: their values were set to null by the reading)."""
    if not s.bad.any():
        return
    for key in list(sink.flags):
        f = sink.flags[key]
        f.mask &= ~s.bad
        if not f.mask.any():
            del sink.flags[key]
    idx = np.flatnonzero(s.bad)
    coded = pa.array(s.reasons[idx], pa.string()).dictionary_encode()  # in first-row order
    reasons = coded.dictionary.to_pylist()
    at = coded.indices.to_numpy(zero_copy_only=False)
    groups: dict[tuple[str, str | None], list[int]] = {}
    for k in range(len(reasons)):
        rule, column = _RULE.search(reasons[k]), _COLUMN.match(reasons[k])
        key = (rule.group(1) if rule else "mixed-kind", column.group(1) if column else None)
        groups.setdefault(key, []).append(int(k))
    for (rule, column), ks in groups.items():
        message, hint = _worded([str(reasons[k]) for k in ks])
        mask = np.zeros(len(s.bad), bool)
        mask[idx[np.isin(at, ks)]] = True
        sink.flag(rule, column, mask, message=message, hint=hint)


def _worded(reasons: list[str]) -> tuple[str, str | None]:
    """One message for rows refused for one (rule, column): the first reason with the
    distinct values of the rows named; the hint the reason gives after its rule."""
    head, _, hint = reasons[0].partition("; ")
    head = _RULE.sub("", head)
    m = _VALUE.match(head)
    if m:
        values = list(dict.fromkeys(_VALUE.sub(r"\2", _RULE.sub("", r.partition("; ")[0]))
                                    for r in reasons))  # fmt: skip
        more = ", ..." if len(values) > SHOWN else ""
        head = m.group(1) + ", ".join(values[:SHOWN]) + more + m.group(3)
    return head, hint or None
