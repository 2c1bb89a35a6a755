"""An empty dataset, the same in every command: an error (exit 1) unless `--allow-empty`."""

from __future__ import annotations

from typing import Any

import typer

from trlprep.errors import UsageError
from trlprep.io.skipped import empty_error

__all__ = ["ALLOW_EMPTY", "empty_error", "empty_input"]

ALLOW_EMPTY = typer.Option(
    False,
    "--allow-empty",
    help="Accept a dataset without rows (default: an error, exit 1).",
)


def empty_input(req: Any, from_type: str | None, bad: Any = None) -> None:
    """`convert`/`import` on an input without rows: refuse, or write an empty output.

    With `--allow-empty` the output holds the columns of the `--to` type (else of `--from`:
    a type, in standard format, or the type and format a layout lands on), and no rows.
    With `--on-error skip`, the rejects file is handled as for any run: the lines skipped as
    bad (`bad`, `--on-bad-lines skip`) go to it, and `--rejects FILE` is written even empty.
    """
    if not getattr(req, "allow_empty", False):
        raise empty_error(req.path, bad)
    import pyarrow as pa

    from trlprep.cli.app import err, out
    from trlprep.registry import Format, get_type

    name = req.to or from_type
    landing = _landing(req) if name is None else None
    if name is None and landing is None:
        raise UsageError(
            f"{req.path}: the dataset has no rows, so its type cannot be detected",
            hint="with --allow-empty, pass --to TYPE (the empty output's columns)"
            if not getattr(req, "layout_required", False)  # `import` has no --to
            else f"`trlprep convert DATA --from {req.from_ or 'LAYOUT'} --to TYPE --allow-empty` "
            "writes an empty output with TYPE's columns",
        )
    dtype, fmt = (get_type(name), Format.STANDARD) if landing is None else landing
    kinds = {"label": pa.bool_(), "labels": pa.list_(pa.bool_()), "steps": pa.list_(pa.string())}
    if fmt is Format.CONVERSATIONAL:
        message = pa.struct([("role", pa.string()), ("content", pa.string())])
        kinds["content"] = pa.list_(message)
    schema = pa.schema(
        [
            pa.field(c.name_in(fmt), kinds.get(c.kind.value, pa.string()))
            for c in dtype.columns_in(fmt)
            if c.required
        ]
    )
    if req.explain:
        out.print(f"{req.path}: no rows; would write an empty {dtype.name} output", markup=False)
        return
    from trlprep.io.writers import write

    rejects = _rejects(req, bad)  # checked before anything is written
    write(
        schema.empty_table(), req.output, output_format=req.output_format,
        overwrite=req.overwrite, inputs=(req.path,),
    )  # fmt: skip
    err.print(f"note: {req.path} has no rows (--allow-empty)", markup=False)
    err.print(
        f"{dtype.name}: 0 rows in, 0 rejected, 0 converted -> 0 rows out -> {req.output}",
        markup=False,
    )
    if rejects is not None:
        rejects.finish()
        rejects.rejects.commit()
        err.print(rejects.rejects.summary(0, len(bad) if bad else 0), markup=False)
    elif bad:
        err.print(f"note: {bad.summary(3)}", markup=False)


def _landing(req: Any) -> tuple[Any, Any] | None:
    """The type and format `--from LAYOUT` lands on, known without rows (None: no layout,
    or one whose landing depends on the columns, such as `--map`)."""
    from trlprep.importers import ImportOptions, get_importer, is_layout

    if req.from_ is None or not is_layout(req.from_):
        return None
    import pyarrow as pa

    try:
        return get_importer(req.from_).landing(pa.schema([]), req.import_options or ImportOptions())
    except UsageError:
        return None


def _rejects(req: Any, bad: Any) -> Any:
    """With `--on-error skip`: a `Ledger` whose rejects file takes the bad lines (else None)."""
    if getattr(req, "on_error", None) != "skip":
        return None
    from trlprep.conversion.ledger import Ledger
    from trlprep.importers import RejectsWriter, default_rejects_path

    explicit = req.rejects is not None
    path = req.rejects or default_rejects_path(req.output)
    ledger = Ledger(path=req.path, on_error="skip", bad_lines=bad)
    ledger.rejects = RejectsWriter(
        path, overwrite=req.overwrite, inputs=(req.path,), output=req.output, explicit=explicit
    )
    return ledger
