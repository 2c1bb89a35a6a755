"""Rows refused while reading a training dataset, and a stopped conversion's error, named
as the user knows them: by input row and file line (the conversion sees the imported
table), with hints in `trlprep train`'s words (its flags, its rejects file); the import
options train refuses for its data (`check_keep_empty`) and the layout it should name. The rows left
out are written as `trlprep convert --on-error skip` writes them (`write_rejects`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import DataError, UsageError
from trlprep.wording import plural


def write_rejects(rejects: pa.Table, path: os.PathLike) -> os.PathLike:
    """The rows left out (row, line, stage, reason, record) as JSON Lines, written
    atomically (as `trlprep convert --on-error skip` writes its rejects file)."""
    from trlprep.importers import RejectsWriter

    writer = RejectsWriter(path, overwrite=True)
    writer.write(rejects)
    writer.commit()
    return path


@contextlib.contextmanager
def located(inp: Any, rows: np.ndarray, lines: Any) -> Iterator[None]:
    """A stopped conversion's error named by the input row and file line (the conversion
    sees the imported table, whose row `i` is input row `rows[i]`), and its hint in train's
    words: the conversion options are `trlprep convert`'s."""
    try:
        yield
    except DataError as e:
        row, line = e.row, e.line
        if row is not None and line is None and 0 <= row < len(rows):
            line = None if lines is None else int(np.asarray(lines)[row])
            row = int(np.asarray(rows)[row]) if line is None else None
        raise trained(
            DataError(
                e.message,
                hint=train_hint(e.hint),
                path=e.path or inp.source.path,
                line=line,
                row=row,
                column=e.column,
            ),
            e.counts,
            inp.table.num_rows,
        ) from e


def trained(e: DataError, counts: Any, rows_read: int) -> DataError:
    """`e`, a stop of train's data reading, with its `counts` (`RowCounts`, of the rows a
    step was given, or None) said as train's data line (`stopped_line`) and the Python
    API's own counts clause taken off its message (train logs the line)."""
    if counts is None:
        return e
    import dataclasses

    e.message = e.message.removesuffix(f"; {counts.said}")
    e.counts = dataclasses.replace(counts, said=stopped_line(counts, rows_read))
    return e


def stopped_line(counts: Any, rows_read: int) -> str:
    """Train's data line for a read stopped by refused rows (`counts`: `RowCounts` of the
    rows the stopping step was given, made of the input's `rows_read` rows): `ROUTE: N rows
    in, M left out, K would convert; nothing trained (stopped)`."""
    head = f"{counts.route}: " if counts.route else ""
    if rows_read != counts.rows_in:  # an import made the rows the step counted
        said = (
            f"{plural(rows_read, 'row')} in -> {counts.rows_in:,} imported, "
            f"{counts.rejected:,} of those left out"
        )
    else:
        said = f"{plural(rows_read, 'row')} in, {counts.rejected:,} left out"
    return f"{head}{said}, {counts.kept:,} {counts.kept_as}; nothing trained (stopped)"


# what `--on-error skip` does, in convert's words and in train's
_TRAIN_WORDS = {
    "to write the other rows and set these aside in a rejects file": (
        "to train on the other rows and list these in data.rejects.jsonl"
    ),
    "to import the other rows and set such rows aside with their reasons": (
        "to train on the other rows and list such rows in data.rejects.jsonl"
    ),
}
# flags of `trlprep convert` that train takes under another name
_TRAIN_FLAGS = {"--from": "--data-from", "--map": "--data-map"}


_KEEP_EMPTY = "keeps them as prompts for an online algorithm (grpo, rloo, ppo, ...)"
_CONVERT_EXAMPLE = re.compile(r" ?\(trlprep convert DATA [^()]*?-o OUT(?:[:;] ?([^()]*))?\)")


def train_words(text: str, prompts_only: bool = False) -> str:
    """Detection's advice (`pass --map X (trlprep convert DATA --map X -o OUT)`) in
    `trlprep train`'s words: its flags (`--data-map`, `--data-from`), no convert command.
    `prompts_only` (an online algorithm): a prompt and its answer are mapped as the prompt
    alone, so the answer stays a column for the reward functions."""
    text = _CONVERT_EXAMPLE.sub(lambda m: f" ({m[1]})" if m[1] else "", text)
    text = text.replace("keeps them as prompt-only rows", _KEEP_EMPTY)
    if prompts_only:  # prompt-completion -> prompt-only would drop the answer
        text = re.sub(
            r"`--map prompt=([^,`]+),completion=([^,`]+)`",
            r"`--map prompt=\1` (column '\2' stays, for --reward-fn, e.g. exact=\2)",
            text,
        )
    return re.sub(r"--[a-z][a-z-]*", lambda m: _TRAIN_FLAGS.get(m[0], m[0]), text)


def train_hint(hint: str | None) -> str:
    """A conversion's hint for `trlprep train`: convert's flags train takes renamed, and the
    others (conversion options) pointed to `trlprep convert` (train converts with their
    defaults)."""
    text = (hint or "").removeprefix("nothing was written; ")
    for said, meant in _TRAIN_WORDS.items():  # convert's wording of what skipping does
        text = text.replace(said, meant)
    text = re.sub(r"--[a-z][a-z-]*", lambda m: _TRAIN_FLAGS.get(m[0], m[0]), text)
    from trlprep.trainers.config import IMPORT_FIELDS

    from trlprep.conversion.ledger import EVERY_ROW_FAILS

    taken = {"--on-error", *_TRAIN_FLAGS.values()}
    taken |= {"--" + f.replace("_", "-") for f in IMPORT_FIELDS}  # the importers' options
    other = sorted(set(re.findall(r"--[a-z][a-z-]*", text)) - taken)
    text = f"nothing was trained; {text or 'fix these rows'}"
    if "--on-error" not in text and EVERY_ROW_FAILS not in text:  # (no other rows to train on)
        text += "; --on-error skip trains on the other rows and lists these in data.rejects.jsonl"
    if other:
        text += (
            f"; {', '.join(other)} {'is an option' if len(other) == 1 else 'are options'} of "
            "`trlprep convert`: convert the data with it first and train on the output"
        )
    return text


def reason_lines(rejects: pa.Table, most: int = 3) -> list[str]:
    """The commonest reasons among `rejects`, each with its count and first input lines (or
    rows), as `convert` says them."""
    from trlprep.conversion.ledger import Ledger

    ledger = Ledger()
    ledger.reject(rejects)
    return ledger.reason_lines(most)


def nothing_imported(result: Any, layout: str, rows_in: int, path: str | None) -> DataError:
    """The error of an import (`on_error="skip"`) that refused every row, with the counts
    line train logs for a conversion that leaves no row, and the reasons."""
    counts = (
        f"{layout} -> {result.dtype.name}: {plural(rows_in, 'row')} in, "
        f"{result.num_rejected:,} left out, 0 converted -> 0 rows"
    )
    return DataError(
        f"every row was refused ({rows_in:,}): nothing to train on ({counts}); "
        + train_words("; ".join(reason_lines(result.rejects))),
        hint="fix the rows, or convert the data with `trlprep convert` (its rejects file "
        "lists every row and why)",
        path=path,
    )


def as_input_rows(rejects: pa.Table, raw: pa.Table, rows: np.ndarray, lines: Any) -> pa.Table:
    """`rejects` of a table derived from `raw` (its row i is `raw`'s row `rows[i]`, on file
    line `lines[i]`), named by `raw`'s rows and lines and holding `raw`'s records."""
    from trlprep.importers.rejects import records

    at = rejects.column("row").to_numpy()
    idx = np.asarray(rows)[at]
    columns = {"row": pa.array(idx, pa.int64())}
    if lines is not None:
        columns["line"] = pa.array(np.asarray(lines)[at], pa.int64())
    columns["record"] = pa.array(records(raw.take(pa.array(idx, pa.int64()))), pa.string())
    for name, values in columns.items():
        i = rejects.schema.get_field_index(name)
        rejects = rejects.set_column(i, rejects.schema.field(i), values)
    return rejects


def refuse_invalid(
    table: pa.Table,
    dtype: Any,
    fmt: Any,
    raw: pa.Table,
    rows: np.ndarray,
    lines: Any,
    *,
    on_error: str,
    path: str | None,
) -> tuple[pa.Table, np.ndarray, Any]:
    """`table` (read as `dtype` in `fmt`; its row i is `raw`'s row `rows[i]`, on file line
    `lines[i]`) less the rows that break an error rule of `trlprep validate` (an empty
    chosen, an empty assistant answer, ...), with their input rows and lines. Such rows stop
    it (a DataError naming the first file line, in train's words) or, with
    `on_error="skip"`, are left out with a `RejectedRowsWarning` listing them."""
    import warnings

    from trlprep.conversion.ledger import Ledger
    from trlprep.importers.rejects import REJECTS_SCHEMA, invalid_rows
    from trlprep.importers.run import RejectedRowsWarning

    try:
        why = invalid_rows(table, dtype, fmt)
    except DataError:  # a column the type lacks (a reading of messages): the conversion's
        return table, rows, lines
    # null values are the conversion's own refusal (stage `read`), said as convert says them
    said = pa.array(why, pa.string())
    null_value = pc.fill_null(pc.ends_with(said, "(rule null-value)"), False)
    bad = np.asarray(said.is_valid()) & ~np.asarray(null_value)
    if not bad.any():
        return table, rows, lines
    at = np.flatnonzero(bad)
    n = len(at)
    rejects = pa.table(
        [
            pa.array(at, pa.int64()),
            pa.nulls(n, pa.int64()),
            pa.array(["validation"] * n, pa.string()),
            pa.array([f"the row fails {dtype.name} validation: {w}" for w in why[at]]),
            pa.nulls(n, pa.string()),
        ],
        schema=REJECTS_SCHEMA,
    )
    rejects = as_input_rows(rejects, raw, rows, lines)
    ledger = Ledger(path=path, on_error=on_error)
    ledger.rows_in = raw.num_rows
    ledger.reject(rejects)
    if on_error != "skip":
        from trlprep.errors import RowCounts

        ledger.hints["validation"] = "fix the rows (`trlprep validate` lists every one)"
        e = ledger.error()
        route = f"{dtype.name} ({fmt.value})"  # checked before converting: none converted yet
        counts = RowCounts(raw.num_rows, n, raw.num_rows - n, "", route, "pass validation")
        stop = DataError(e.message, hint=train_hint(e.hint), path=e.path, line=e.line, row=e.row)
        raise trained(stop, counts, raw.num_rows)
    message = f"{plural(n, 'row')} {'was' if n == 1 else 'were'} left out: " + "; ".join(
        ledger.reason_lines(3)
    )
    warnings.warn(RejectedRowsWarning(message, rejects), stacklevel=3)
    keep = ~bad
    return (
        table.filter(pa.array(keep)),
        np.asarray(rows)[keep],
        (None if lines is None else np.asarray(lines)[keep]),
    )


def check_keep_empty(layout: str | None, target: str, import_options: dict | None) -> None:
    """`--keep-empty-turns` reads HH transcripts ending on an empty answer as prompts: refused
    without the hh layout (it would be ignored) and for an algorithm that needs completions,
    as `trlprep convert` refuses it."""
    if not (import_options or {}).get("keep_empty_turns"):
        return
    from trlprep.importers import get_importer

    if layout is None or get_importer(layout).name != "hh":
        raise UsageError(
            "--keep-empty-turns is an option of the hh layout, and the data is not read as hh"
            + ("" if layout is None else f" (read as the {layout} layout)"),
            hint="add --data-from hh, or drop --keep-empty-turns",
        )
    if target != "prompt-only":
        raise UsageError(
            "--keep-empty-turns keeps HH rows whose final Assistant turn is empty, which are "
            f"prompts only; this algorithm trains on {target} data, where such a row has no "
            "answer to train on",
            hint="drop --keep-empty-turns and pass --on-error skip to leave those rows out, or "
            "use it with an online algorithm (grpo, rloo, ppo, ...)",
        )


def sibling_layout(layout: str | None, dst: Any, import_options: dict | None) -> str | None:
    """The other layout of the same data that reaches `dst`, as `trlprep convert` advises
    it (OASST trees: `oasst` lands on chats, `--data-from oasst-ranked` on pairs), else None."""
    from trlprep.conversion.graph import route
    from trlprep.importers import ImportOptions, get_importer

    importer = get_importer(layout) if layout is not None else None
    if importer is None or importer.sibling is None:
        return None
    other = get_importer(importer.sibling)
    lands, _ = other.landing(pa.schema([]), ImportOptions.make(**(import_options or {})))
    try:
        route(lands, dst)
    except UsageError:
        return None
    said = f"--data-from {other.name} imports the same data as {lands.name}"
    return said if lands is dst else f"{said}, from which {dst.name} is reachable"
