"""Validate data stored in a public layout (`validate --from sharegpt`) as it is trained on.

The input is imported batch by batch as `trlprep convert --from LAYOUT` and `train
--data-from LAYOUT` import it, and the imported rows are checked as their TRL type. A row
the import refuses is an `import-failed` error (its reason, rows and lines); every other
issue names the input's rows and file lines, not the imported rows' positions (a layout
may give several rows per input row, or none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.detection.detect import detect_batches
from trlprep.io.keptbatches import KeptBatches
from trlprep.io.readers import Batch
from trlprep.validation.checkplan import _needs_detection, make_plan
from trlprep.validation.report import Issue, Report, line_or_row
from trlprep.validation.rules import RULES

RULE = "import-failed"
NOT_PAIRED_RULE = "import-not-paired"


def validate_imported(
    read: Callable[[], Iterator[Batch]],
    layout: str,
    import_options: Any,
    *,
    path: str | None,
    type: Any,
    format: Any,
    strict: bool,
    max_errors: int,
    role_map: Any,
    one_schema: bool = False,
) -> Report:
    """The batches `read()` gives, imported from `layout` and validated (see the module
    docstring). `read` is called once and each row imported once. The type is detected on
    the first imported batch where that decides it (one batch, or `one_schema`: every
    batch has the first's schema, as Parquet's do); otherwise on every imported row, the
    imported batches kept (`io.keptbatches`: memory, then a scratch file) for the checks."""
    from trlprep.importers import ImportStats
    from trlprep.validation.validate import validate_batches

    class Stats(ImportStats):  # the first max(max_errors, 1) refused rows of each reason
        def add(self, n_in: int, result: Any, keep: int = 3) -> None:
            super().add(n_in, result, keep=max(max_errors, 1))

    schemas: list[pa.Schema] = []  # the input's columns, for what a refused import made

    def seen(batches: Iterator[Batch]) -> Iterator[Batch]:
        for b in batches:
            if not schemas:
                schemas.append(b.data.schema)
            yield b

    def imported(stats: Any, rows: list[np.ndarray] | None = None) -> Iterator[Batch]:
        from trlprep.importers import import_batches

        yield from import_batches(
            seen(read()), layout, import_options, on_error="skip", stats=stats, path=path,
            source_rows=rows,
        )  # fmt: skip

    stats, rows = Stats(), []
    batches: Iterator[Batch] = imported(stats, rows)
    det = None
    with KeptBatches() as kept:
        if _needs_detection(type, format):
            det, batches = _detect_head(batches, one_schema, kept)
        if getattr(import_options, "role_map", None):  # the import mapped (and checked) them
            role_map = None
        plan, notes = make_plan(det, type, format, role_map)
        report = validate_batches(
            batches, plan, strict=strict, max_errors=max_errors, path=path, notes=notes
        )
    to_input_rows(report, np.concatenate(rows) if rows else np.zeros(0, np.int64))
    say_none_imported(report, stats)
    say_landing(report, stats, layout, schemas[0] if schemas else None, import_options)
    report.notes.insert(0, imported_note(layout, stats, import_options))
    report.notes += [n for n in stats.notes if n not in report.notes]
    report.issues[:0] = import_issues(stats, layout, max_errors, import_options)
    return report


def _detect_head(
    batches: Iterator[Batch], one_schema: bool, kept: KeptBatches
) -> tuple[Any, Iterator[Batch]]:
    """Detection and the imported batches to check: on the first batch where it decides
    (the batches as they come, that one first), else on all of them, each kept in `kept`
    on the way and given back from there (imported once, not imported again)."""
    import itertools

    from trlprep.validation.validate import head_decides

    head = next(batches, None)
    if head is None:
        return detect_batches([]), iter(())
    det = detect_batches([head])
    if head_decides(det, head):
        second = None if one_schema else next(batches, None)
        if second is None:
            return det, itertools.chain([head], batches)
        head_and_second = [head, second]
    else:
        head_and_second = [head]
    det = detect_batches(kept.keep(itertools.chain(head_and_second, batches)))
    return det, kept.replay()


def say_none_imported(report: Report, stats: Any) -> None:
    """`empty-dataset` said as `no row could be imported` where the input has rows."""
    from trlprep.wording import all_refused, plural

    empty = report.issue("empty-dataset")
    if empty is None or not stats.rows_in:
        return
    rows = plural(stats.rows_in, "row")
    empty.message = (
        f"no row could be imported: {all_refused(stats.rows_in)} (see import-failed)"
        if stats.rejected == stats.rows_in
        else f"no row could be imported from the input's {rows}"
    )


def say_landing(
    report: Report, stats: Any, layout: str, schema: pa.Schema | None, options: Any
) -> None:
    """An import that refused every row checked no row: the report's type and format are
    those it would have made of input columns `schema` (not "unknown type"), where known."""
    if report.type is not None or not stats.rows_in or stats.rejected != stats.rows_in:
        return
    if schema is None:
        return
    from trlprep.importers import get_importer

    landed = get_importer(layout).landing_of(schema, options)
    if landed is not None:
        report.type, report.format = landed[0].name, landed[1].value


def import_flags(layout: str, options: Any = None, *, train: bool = False) -> str:
    """The flags that import as `layout` and `options` (their `map`) do: `--from hh`,
    `--from alpaca --map instruction=question`, `--map prompt=q,completion=a` (`--map`
    alone imports with the map layout); `train`'s own (`--data-from`, `--data-map`)."""
    import shlex

    mapping = dict(getattr(options, "map", None) or {})
    spec = shlex.quote(",".join(f"{new}={old}" for new, old in mapping.items()))
    from_, map_ = ("--data-from", "--data-map") if train else ("--from", "--map")
    if layout == "map" and mapping:
        return f"{map_} {spec}"
    return f"{from_} {layout}" + (f" {map_} {spec}" if mapping else "")


def imported_note(layout: str, stats: Any, options: Any = None) -> str:
    """What the import did, in counts (`stats`: `rows_in`, `rows_out`, `rejected`), and the
    flags that import so (`import_flags`)."""
    from trlprep.wording import plural

    flags = import_flags(layout, options)
    unpaired = getattr(stats, "not_paired", 0)
    failed = stats.rejected - unpaired
    source = f" from the {layout} layout" if flags.startswith("--from") else ""  # --map alone
    return (
        f"imported{source} as `trlprep convert {flags}` and "
        f"`train {import_flags(layout, options, train=True)}` import it: "
        f"{plural(stats.rows_in, 'input row')} -> {plural(stats.rows_out, 'row')} checked"
        + (f", {plural(unpaired, 'tie')} not paired" if unpaired else "")
        + (f", {failed:,} not importable" if failed else "")
    )


def to_input_rows(report: Report, source: np.ndarray) -> None:
    """The issues' rows (positions among the imported rows) as the input's rows
    (`source[i]`: the input row imported row i came from). An input row that gave several
    imported rows is named once (its line with it), and the count says both numbers."""
    from trlprep.validation.report import repeat_details
    from trlprep.wording import plural

    if not len(source):
        return
    inside = range(len(source))
    for issue in report.issues:
        if issue.repeats:  # `line 9 repeats line 2`, or the input's rows without lines
            local = repeat_details(issue.repeats, line_or_row)
            issue.repeats = list(
                dict.fromkeys(
                    (int(source[r]), ln, int(source[fr]), fl)
                    for r, ln, fr, fl in issue.repeats
                    if r in inside and fr in inside
                )
            )
            named = repeat_details(issue.repeats, line_or_row)
            issue.message = issue.message.replace(f"({local})", f"({named})")
        if not issue.rows:
            continue
        lines = issue.lines if issue.lines is not None else [None] * len(issue.rows)
        pairs = [
            (int(source[r]), ln) for r, ln in zip(issue.rows, lines, strict=False) if r in inside
        ]
        shown = len(pairs)
        pairs = list(dict.fromkeys(pairs))
        issue.rows = [r for r, _ in pairs]
        if issue.lines is not None:
            issue.lines = [ln for _, ln in pairs]
        if len(pairs) < shown:  # several imported rows of one input row
            if issue.count == shown:  # every row is shown: count the input's rows
                issue.message += (
                    f" ({plural(issue.count, 'imported row')} from "
                    f"{plural(len(pairs), 'input row')})"
                )
                issue.count = len(pairs)
            else:
                issue.message += f" ({plural(issue.count, 'imported row')})"


def import_issues(stats: Any, layout: str, max_errors: int, options: Any = None) -> list[Issue]:
    """One `import-failed` error per reason (`stats`: `reasons` counts, `examples` rows),
    its hint naming the flags of this import (`import_flags`); rows that tie, which the
    import leaves unpaired (`stats.ties`), an `import-not-paired` warning per reason."""
    issues = []
    for reason, count in stats.reasons.most_common():
        tie = reason in getattr(stats, "ties", ())
        rule = RULES[NOT_PAIRED_RULE if tie else RULE]
        hint = rule.hint.replace("--from LAYOUT", import_flags(layout, options))
        shown = stats.examples.get(reason, [])[: max(max_errors, 1)]
        lines = [e["line"] for e in shown]
        said = "not paired by" if tie else "cannot be imported from"
        issues.append(
            Issue(
                rule.id,
                rule.severity,
                f"{said} the {layout} layout: {reason}",
                hint,
                count=count,
                rows=[e["row"] for e in shown],
                lines=lines if all(x is not None for x in lines) else None,
            )  # fmt: skip
        )
    return issues


__all__ = [
    "import_flags",
    "import_issues",
    "imported_note",
    "say_none_imported",
    "to_input_rows",
    "validate_imported",
]
