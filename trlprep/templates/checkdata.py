"""check-template's data checks: render a sample of the data with the template and report
rows that fail, prompts that are not prefixes of the whole render, and lengths."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import DataError, RowFailures
from trlprep.templates.check import FAIL, PASS, WARN, Check
from trlprep.templates.rules import plan_for, type_of_keys
from trlprep.templates.table import render_table
from trlprep.templates.template import ChatTemplate
from trlprep.wording import plural


def check_data(
    template: ChatTemplate,
    table: pa.Table,
    tokenizer: Any,
    max_length: int | None,
    sample: int,
    seed: int,
    lines: np.ndarray | None = None,
    shards: Any = None,
) -> list[Check]:
    """Render a sample of `table` and report errors, prefix mismatches and lengths.

    A row is named by its file line (`lines`, 1-based, of a JSON Lines input; with
    `shards`, a `trlprep.io.shards.Shards`, by `file:line`), else by its row (0-based), as
    `validate` and `convert` name rows.

    A `messages` column that detection reads as another type (messages + boolean label:
    unpaired preference; conversations ending on a user turn: prompt-only) is rendered as
    `trlprep convert` renders it: split into prompt and completion.
    """
    from trlprep.detection.detect import detect_table
    from trlprep.importers import import_table, layout_read_as

    name_row = _row_namer(lines, shards)
    checks: list[Check] = []
    origin = None  # input row of each imported row
    layout = layout_read_as(table)
    if layout is not None:  # as `trlprep convert` reads it
        result = import_table(table, layout, on_error="skip")
        n_in, table, origin = table.num_rows, result.table, result.rows
        left = (
            f"; {plural(result.num_rejected, 'row')} it refuses left out"
            if result.num_rejected
            else ""
        )
        text = f"read as the {layout} layout, as `trlprep convert` reads it: {n_in} rows -> "
        checks.append(Check("data layout", PASS, text + f"{table.num_rows}{left}"))
    advice = "" if layout is not None else _import_advice(table)
    det = detect_table(table)
    reading = det.reading
    dtype = reading.stored if reading is not None else type_of_keys(table.column_names)
    if dtype is None:
        text = "cannot tell the dataset type from its columns (" + ", ".join(table.column_names)
        return [*checks, Check("data type", FAIL, text + ")" + advice)]
    from trlprep.registry import Format

    if det.format is Format.STANDARD:  # was: "row 0: prompt: expected a list of messages"
        text = (
            f"{dtype.name}: the data is standard text, and a chat template renders "
            "conversational data (lists of messages)"
        )
        text += advice or (
            ": make it messages first with `trlprep convert DATA --conversational -o OUT` "
            "(`trlprep convert --map` renames the columns where they need it) and check OUT"
        )
        return [*checks, Check("data format", FAIL, text)]
    n = table.num_rows
    picked = sorted(random.Random(seed).sample(range(n), min(sample, n)))
    sampled = table.take(pa.array(picked, pa.int64()))
    # messages name input rows (an imported row by the input row it came from)
    rows_idx = picked if origin is None else [int(origin[i]) for i in picked]
    if reading is not None:
        try:
            sampled, dtype = _read(sampled, reading)
        except RowFailures as e:
            rows = [rows_idx[r] for r in e.rows]
            more = f" ({plural(len(rows) - 1, 'more sampled row')})" if len(rows) > 1 else ""
            text = f"{reading.description}: {name_row(rows[0])}: {e.reasons[0]}{more}"
            return [*checks, Check("data type", FAIL, text, _at(rows, lines))]
    plan = plan_for(dtype)
    name = f"{dtype.name}, {len(picked)} of {n} rows sampled"
    try:
        out, rep = render_table(sampled, dtype, template, num_proc=1)
    except RowFailures as e:
        rows = [rows_idx[r] for r in e.rows]
        more = (
            f" ({plural(len(rows) - 1, 'more sampled row')} "
            + ("fails)" if len(rows) == 2 else "fail)")
            if len(rows) > 1
            else ""
        )
        text = f"{name}: {name_row(rows[0])}: {e.reasons[0]}{more}" + advice
        return [*checks, Check("data renders", FAIL, text, _at(rows, lines))]
    except DataError as e:
        row = rows_idx[e.row] if e.row is not None and e.row < len(rows_idx) else e.row
        where = "" if row is None else name_row(row)
        where += (", " if where else "") + (f"column {e.column}" if e.column else "")
        text = f"{name}: " + (f"{where}: " if where else "") + e.message + advice
        details = {"row": row} if row is None else _at([row], lines, many=False)
        return [*checks, Check("data renders", FAIL, text, details)]
    checks.append(Check("data renders", PASS, f"{name}: every sampled row renders"))
    if plan.prompt and plan.continuations:
        if rep.prefix_mismatch_rows:
            rows = [rows_idx[r] for r in rep.prefix_mismatch_examples]
            checks.append(
                Check(
                    "data prompt is a prefix",
                    WARN,
                    f"{rep.prefix_mismatch_rows} sampled row(s) have a rendered prompt that is not "
                    "a prefix of prompt+completion (the common prefix is used), e.g. "
                    + ", ".join(name_row(r) for r in rows),
                    {"rows": rows}
                    if lines is None
                    else {"rows": rows, "lines": _lines(rows, lines)},
                )
            )
        else:
            checks.append(
                Check("data prompt is a prefix", PASS, "prompts are prefixes on the sample")
            )
    columns = [plan.out_names[c] for c in plan.content]
    texts = {c: out.column(c).to_pylist() for c in columns}
    if sampled.num_rows:
        checks.append(_lengths(texts, tokenizer, max_length))
    return checks


def _row_namer(lines: np.ndarray | None, shards: Any) -> Callable[[int], str]:
    """How messages name an input row: `line N`, `FILE:N` (several files), else `row N`."""

    def name(row: int) -> str:
        line = int(lines[row]) if lines is not None and row < len(lines) else None
        if shards is not None:
            return shards.where(row, line)
        return f"line {line}" if line is not None else f"row {row}"

    return name


def _lines(rows: list[int], lines: np.ndarray) -> list[int]:
    return [int(lines[r]) for r in rows]


def _at(rows: list[int], lines: np.ndarray | None, many: bool = True) -> dict[str, Any]:
    """A failing check's details: the first row (0-based) and, many, all rows; with their
    file lines when the input has lines."""
    details: dict[str, Any] = {"row": rows[0], "rows": rows} if many else {"row": rows[0]}
    if lines is not None:
        details["line"] = int(lines[rows[0]])
        if many:
            details["lines"] = _lines(rows, lines)
    return details


def _read(table: pa.Table, reading: Any) -> tuple[pa.Table, Any]:
    """`table`'s `messages` read as detection reads it, and the type it then is."""
    from trlprep.converters.base import ConvertOptions
    from trlprep.converters.turns import read_prompt_only, read_unpaired
    from trlprep.registry import PROMPT_ONLY, UNPAIRED_PREFERENCE, Format

    if reading.kind == "last-assistant-turn":
        return read_unpaired(table, Format.CONVERSATIONAL, ConvertOptions()), UNPAIRED_PREFERENCE
    return read_prompt_only(table, Format.CONVERSATIONAL, ConvertOptions()), PROMPT_ONLY


def _import_advice(table: pa.Table) -> str:
    """How to import data that is a public layout (or needs --map) before rendering it."""
    from trlprep.detection.answerlists import answer_list_args
    from trlprep.detection.detect import detect_table
    from trlprep.detection.layouthint import (
        alpaca_suggestion,
        inner_messages,
        map_suggestion,
        paired_suggestion,
        paired_why,
        ranked_args,
    )
    from trlprep.importers import ImportOptions, detect_layout, get_importer

    head = table.slice(0, 1000)
    name = detect_layout(head.schema, head)
    if name is not None:
        det = detect_table(head)
        if (det.type, det.format) == get_importer(name).landing(head.schema, ImportOptions()):
            return ""  # importing lands where the data already is: the template is at fault
        return (
            f"; the columns are the {name} layout: convert it first (`trlprep convert DATA "
            f"--from {name} -o OUT`, add --chat-template to render it there) and check OUT"
        )
    alpaca = alpaca_suggestion(table.column_names)
    if alpaca is not None:  # an instruction with a context passage (Dolly): alpaca joins them
        return (
            f"; the columns look like an instruction, a context passage and its answer: "
            f"convert it first with `trlprep convert DATA --from alpaca --map {alpaca} "
            f"--conversational -o OUT` and check OUT"
        )
    ranked = ranked_args(table.schema)
    if ranked is not None:
        return (
            f"; column {ranked[1]!r} holds completions scored by {ranked[2]!r}: convert it "
            f"first with `trlprep convert DATA {ranked[0]} --conversational -o OUT` and check OUT"
        )
    inner = inner_messages(table.schema)
    if inner is not None:
        return (
            f"; the conversations are a field of an object column: convert it first with "
            f"`trlprep convert DATA --map messages={inner} -o OUT` and check OUT"
        )
    paired = paired_suggestion(table.column_names)
    if paired is not None:
        return (
            f"; the columns look like a prompt and two answers, {paired_why(paired)}: convert "
            f"it first with `trlprep convert DATA --map {paired} --conversational -o OUT` and "
            "check OUT"
        )
    mapping = map_suggestion(table.column_names, table.schema)
    listed = answer_list_args(head)
    if listed is not None:
        return (
            f"; column {listed[1]!r} holds generated answers, a list of texts per row: convert "
            f"it first with `trlprep convert DATA {listed[0]} --conversational -o OUT` and "
            "check OUT"
        )
    if mapping is not None:
        return (
            f"; the columns look like a prompt and its answer: convert it first with "
            f"`trlprep convert DATA --map {mapping} --conversational -o OUT` and check OUT"
        )
    return ""


def _lengths(texts: dict[str, list[str]], tokenizer: Any, max_length: int | None) -> Check:
    unit = "tokens" if tokenizer is not None else "chars"

    def length(s: str) -> int:
        if tokenizer is None:
            return len(s)
        return len(tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"])

    lengths = {c: np.array([length(t) for t in values]) for c, values in texts.items()}
    total = _sequence_lengths(lengths)
    stats = {
        c: {"p50": int(np.percentile(v, 50)), "p95": int(np.percentile(v, 95)), "max": int(v.max())}
        for c, v in {**lengths, "sequence": total}.items()
    }
    text = "; ".join(
        f"{c}: p50 {s['p50']}, p95 {s['p95']}, max {s['max']}" for c, s in stats.items()
    )
    details: dict[str, Any] = {"unit": unit, "stats": stats}
    if max_length:
        over = float((total > max_length).mean())
        details["over_max_length"] = over
        text += f"; {over:.1%} of rows over {max_length}"
        status = WARN if over > 0 else PASS
    else:
        status = PASS
    return Check(f"lengths ({unit})", status, text, details)


def _sequence_lengths(lengths: dict[str, np.ndarray]) -> np.ndarray:
    """Per row, the longest sequence a trainer builds (prompt + the longest continuation)."""
    prompt = lengths.get("prompt")
    others = [v for c, v in lengths.items() if c != "prompt"]
    longest = np.maximum.reduce(others) if others else np.zeros_like(prompt)
    return longest + (prompt if prompt is not None else 0)
