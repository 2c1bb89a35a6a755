"""What the report says of a public layout it imports: the layout and `ImportOptions` of
`report`'s keywords, the input rows the import made rows of (`import_rows`), the rows it
left out by reason (`import_examples`), reported rows named as input rows, and the error of
an import that refused every row."""

from __future__ import annotations

from typing import Any

import numpy as np

from trlprep.errors import NOT_PAIRED, DataError, UsageError


def import_options_of(layout: str | None, options: dict[str, Any]) -> tuple[str | None, Any]:
    """(the layout, its `ImportOptions` or None) from `report`'s importer keywords."""
    if not options:
        return layout, None
    from trlprep.importers import ImportOptions, is_layout, layout_names

    opts = ImportOptions.make(**options)  # an unknown keyword is a usage error naming it
    if layout is None and opts.map:
        layout = "map"  # as `trlprep convert --map` reads it
    if layout is None or not is_layout(layout):
        raise UsageError(
            f"from_={layout!r} is no public layout" if layout else "importer options need from_=",
            hint="layouts: " + ", ".join(layout_names()) + " (a TRL type goes in type=)",
        )
    return layout, opts


def all_refused_error(path: str | None, layout: str, stats: Any) -> DataError:
    """An import that refused every row: said so (with the first reason), not "no rows"."""
    from trlprep.wording import all_refused

    said = ""
    for reason, examples in stats.examples.items():
        first = examples[0] if examples else {}
        line, row = first.get("line"), first.get("row")
        where = f"line {line}: " if line is not None else f"row {row}: " if row is not None else ""
        said = f" ({where}{reason})"
        break
    return DataError(
        f"{path or 'data'}: no row could be imported as the {layout} layout: "
        f"{all_refused(stats.rejected)}{said}",
        hint=f"check --from {layout} (`trlprep detect DATA` says what the data looks like); "
        f"`trlprep validate DATA --from {layout}` lists the refused rows",
    )


def import_rows(stats: Any, layout: str | None, opts: Any) -> dict[str, Any]:
    """The input rows an import read, the rows it made of them and how, where it made a
    number other than one per row kept (OpenAssistant trees, PRM800K trajectories, ...)."""
    if stats is None or not stats.rows_in or stats.rows_out + stats.rejected == stats.rows_in:
        return {}
    from trlprep.importers import ImportOptions, get_importer

    how = get_importer(layout).expansion(opts or ImportOptions()) if layout else None
    return {"input_rows": stats.rows_in, "imported_rows": stats.rows_out, "expansion": how}


def as_input_rows(data: Any, origin: np.ndarray) -> None:
    """The reported rows (`row_ids`), examples' and rejected rows' `row` as the input row
    they came from (`origin`: the input row of each imported row), as `validate --from
    LAYOUT` names them."""
    data.row_ids = [origin[r] for r in data.row_ids]  # one array per batch
    for ex in [*data.examples, *data.rejected_examples]:
        if 0 <= ex.get("row", -1) < len(origin):
            ex["row"] = int(origin[ex["row"]])


def import_examples(data: Any, stats: Any) -> None:
    """The rows the import left out, by reason (each one's count and first rows, as
    validate and convert list them), and the first of them ahead of the other examples."""

    def stage(reason: str) -> str:
        return NOT_PAIRED if reason in stats.ties else "import"

    def at(e: dict[str, Any]) -> dict[str, Any]:
        return {"row": e["row"], **({"line": e["line"]} if e.get("line") is not None else {})}

    data.rejected_reasons = [
        {"stage": stage(reason), "reason": reason, "count": count,
         "examples": [at(e) for e in stats.examples.get(reason, [])[:3]]}
        for reason, count in stats.reasons.most_common()
    ]  # fmt: skip
    shown = [
        {**at(e), "stage": stage(reason), "reason": reason}
        for reason, _ in stats.reasons.most_common()
        for e in stats.examples.get(reason, [])
    ]
    data.rejected_examples[:0] = sorted(shown, key=lambda e: e["row"])[:5]
    del data.rejected_examples[5:]
