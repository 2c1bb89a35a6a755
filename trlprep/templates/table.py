"""Apply a chat template to a whole Arrow table: conversational type -> its standard twin.

Per-row Jinja is unavoidable, so the least of it is done: each distinct prompt (with its
tools and template kwargs) of the table is rendered once (before the rows, when it recurs
far apart) and reused for every completion, chosen and rejected of the rows that share it;
completions are split off the full render by offset; batches of rows go to worker processes
as Arrow IPC buffers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.placeholders import media_counts
from trlprep.errors import RowFailures, TrlprepError, UsageError
from trlprep.registry import MEDIA_COLUMNS, DatasetType, get_type
from trlprep.templates.batch import (
    MEDIA_COUNTS,
    PROMPT_GROUP,
    PROMPT_TEXT,
    SIDE_KEYS,
    Job,
    TemplateReport,
    group_rows,
    render_batch,
    render_prompts,
)
from trlprep.templates.rules import Plan, plan_for
from trlprep.templates.template import ChatTemplate

MIN_ROWS_PER_WORKER = 4096  # below this, starting worker processes costs more than it saves
PROGRESS_ROWS = 2048
BATCH_ROWS = 16_384  # rows rendered at a time in one process (bounds string array sizes)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def render_table(
    table: pa.Table,
    dtype: DatasetType | str,
    template: ChatTemplate,
    *,
    tools: list | None = None,
    template_kwargs: Mapping[str, Any] | None = None,
    num_proc: int | None = None,
    progress: bool | Callable[[int], None] = False,
    row_offset: int = 0,
    lines: np.ndarray | None = None,
    fast: bool = True,
) -> tuple[pa.Table, TemplateReport]:
    """Template a conversational table of type `dtype` into its standard twin.

    Content columns are replaced by their rendered text (`messages` becomes `text`); every
    other column (`ROW_ID` included) is kept as it is. Per-row `tools` (list or JSON string)
    and `chat_template_kwargs` columns are passed to the template; a row's values win over
    `tools`/`template_kwargs`. Messages are fitted to the template first
    (`templates.inputs`: tool-call arguments parsed, text parts joined for templates that
    take strings, `<image>` / `<video>` / `<audio>` placeholders of rows with `images` /
    `videos` / `audios` made media parts).
    `num_proc` defaults to the available cores. Every row is tried: rows that fail raise one
    `RowFailures` (stage "chat template", positions in `table`, the template's own message
    per row). `row_offset` shifts the row numbers of the report's examples; `lines` is
    accepted for callers that pass the file lines (the driver maps rows through `ROW_ID`).
    """
    dtype = get_type(dtype)
    plan = plan_for(dtype)
    missing = [c for c in plan.content if c not in table.column_names]
    if missing:
        raise UsageError(
            f"cannot template as {dtype.name}: missing column(s) " + ", ".join(missing),
            hint="the conversational columns of this type are " + ", ".join(plan.content),
        )
    job = Job(template, dtype.name, tools or None, dict(template_kwargs or {}))
    report = TemplateReport(template.name, dtype.name)
    n = table.num_rows
    tick = _progress_callback(progress, n)
    pieces: dict[int, tuple] = {}
    work = _with_media_counts(table)
    try:
        todo = [(s, work.slice(s, BATCH_ROWS)) for s in range(0, n, BATCH_ROWS)]
        media = any(c in work.column_names for c in MEDIA_COUNTS.values())
        if fast and not media:  # media are counted and placeholders made parts row by row
            todo = _render_fast(job, plan, todo, pieces, tick)
        jinja_rows = sum(batch.num_rows for _, batch in todo)
        workers = max(1, min(num_proc or available_cores(), jinja_rows // MIN_ROWS_PER_WORKER))
        report.num_proc = workers
        if workers > 1:
            from trlprep.templates.parallel import part_rows, run_parallel

            unit = part_rows(jinja_rows, workers)  # rows rendered together, in one task
        else:
            unit = PROGRESS_ROWS if tick else BATCH_ROWS
        if plan.prompt is not None and todo:
            todo = _with_prompt_texts(job, plan, todo, workers, unit, report)
        if workers > 1:
            pieces.update(run_parallel(job, todo, workers, tick))
        else:
            for start, batch in todo:
                for sub in range(0, batch.num_rows, unit):
                    part = batch.slice(sub, unit)
                    pieces[start + sub] = render_batch(job, part, start + sub)
                    if tick:
                        tick(part.num_rows)
    finally:
        if tick:
            tick(None)
    outputs, failures = [], []
    for cols, rep, errors in (pieces[k] for k in sorted(pieces)):
        failures.extend(errors or ())
        outputs.append(cols)
        report.merge(rep)
    if failures:
        raise _row_failures(failures, template)
    report.prefix_mismatch_examples = [r + row_offset for r in report.prefix_mismatch_examples]
    return _assemble(table, plan, outputs), report


def _with_prompt_texts(
    job: Job, plan: Plan, todo: list, workers: int, unit: int, report: TemplateReport
) -> list:
    """`todo` with, per row, the table-wide id of its distinct prompt (with its tools and
    template kwargs) and, when a prompt recurs in another `unit` of rows rendered together,
    every prompt rendered first: each distinct prompt is rendered once, wherever its rows
    are."""
    rows = pa.concat_tables([batch for _, batch in todo])
    keys = [plan.prompt, *(c for c in SIDE_KEYS if c in rows.column_names)]
    first, group = group_rows(rows, keys)
    report.distinct_prompts += len(first)
    bounds = np.cumsum([0] + [batch.num_rows for _, batch in todo])
    per_unit = sum(
        len(np.unique(group[a : min(a + unit, end)]))
        for at, end in zip(bounds[:-1], bounds[1:], strict=True)
        for a in range(at, end, unit)
    )
    columns = {PROMPT_GROUP: pa.chunked_array([pa.array(group, pa.int64())])}
    if per_unit > len(first):
        distinct = rows.select(keys).take(first)
        items = [(s, distinct.slice(s, BATCH_ROWS)) for s in range(0, len(first), BATCH_ROWS)]
        if workers > 1:
            from trlprep.templates.parallel import run_parallel

            done = run_parallel(job, items, workers, None, fn=render_prompts)
        else:
            done = {s: render_prompts(job, part, s) for s, part in items}
        texts = pa.chunked_array([done[s] for s in sorted(done)], pa.string())
        report.renders += len(texts) - texts.null_count
        columns[PROMPT_TEXT] = texts.take(pa.array(group, pa.int64()))
    out = []
    for (start, batch), at in zip(todo, bounds[:-1], strict=True):
        for name, column in columns.items():
            batch = batch.append_column(name, column.slice(at, batch.num_rows))
        out.append((start, batch))
    return out


def _render_fast(job: Job, plan: Plan, todo: list, pieces: dict, tick) -> list:
    """Render the batches a string-column renderer covers; give back the others."""
    from trlprep.templates.fast import renderer_for, try_fast

    if renderer_for(job.template.source) is None:
        return todo
    rest = []
    for start, batch in todo:
        cols = try_fast(job, plan, batch)
        if cols is None:
            rest.append((start, batch))
            continue
        rep = TemplateReport(job.template.name, job.dtype, rows=batch.num_rows)
        rep.fast_rows = batch.num_rows
        pieces[start] = (cols, rep, [])
        if tick:
            tick(batch.num_rows)
    return rest


def _assemble(table: pa.Table, plan: Plan, outputs: list[dict[str, pa.Array]]) -> pa.Table:
    fields, arrays = [], []
    for fld, column in zip(table.schema, table.columns, strict=True):
        if fld.name in plan.out_names:
            out = plan.out_names[fld.name]
            arrays.append(pa.chunked_array([o[out] for o in outputs], pa.string()))
            fields.append(pa.field(out, pa.string()))
        else:
            arrays.append(column)
            fields.append(fld)
    # datasets' feature description names the old columns: drop it, keep any other metadata
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"huggingface"}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta or None))


def _with_media_counts(table: pa.Table) -> pa.Table:
    """`table` with a hidden count column (`MEDIA_COUNTS`: entries per row) for each medium
    whose column it has, in place of the media columns: rendering reads only how many
    media a row has, so the media (paths, or image bytes) are not sent to the workers."""
    counts = media_counts(table)
    if not counts:
        return table
    media = [n for names in MEDIA_COLUMNS.values() for n in names if n in table.column_names]
    table = table.drop_columns(media)
    for kind, k in counts.items():
        table = table.append_column(MEDIA_COUNTS[kind], pa.array(k, pa.int64()))
    return table


def _row_failures(failures: list[dict], template: ChatTemplate) -> TrlprepError:
    """One RowFailures for every failing row (or the template's own error, not a row's)."""
    fatal = next((f for f in failures if f["kind"] == "template"), None)
    if fatal is not None:
        cls = fatal.get("cls", TrlprepError)
        return cls(fatal["message"], hint=fatal.get("hint"))
    failures = sorted(failures, key=lambda f: f["row"])
    reasons = [(f"{f['column']}: " if f["column"] else "") + f["message"] for f in failures]
    hint = next((f["hint"] for f in failures if f.get("hint")), None)
    return RowFailures(
        [f["row"] for f in failures],
        reasons,
        stage="chat template",
        hint=hint
        or f"the row does not fit what the template {template.name} accepts; "
        "fix or drop it (--on-error skip sets such rows aside)",
    )


def _progress_callback(progress: bool | Callable[[int], None], total: int):
    if callable(progress):
        return progress
    if not progress or total == 0:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("applying chat template", total=total)
    bar.start()

    def tick(k: int | None) -> None:
        if k is None:
            bar.stop()
        else:
            bar.advance(task, k)

    return tick


__all__ = ["TemplateReport", "available_cores", "render_table"]
