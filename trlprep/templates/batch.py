"""Render one batch of rows with Jinja: completions split off the full render by offset.

Rows carry the table-wide id of their distinct prompt (PROMPT_GROUP) and, where prompts
repeat across batches, the prompt already rendered (PROMPT_TEXT, by `render_prompts` over
the table's distinct prompts first); otherwise each distinct prompt of the batch is rendered
once here.
A batch is what one process renders at a time (worker processes get batches as Arrow IPC).
Failures come back as data, not exceptions, so they cross process boundaries with their row
and column intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import content_is_parts, is_json_field
from trlprep.columns.placeholders import mismatch as media_mismatch
from trlprep.columns.placeholders import sequences
from trlprep.errors import TrlprepError
from trlprep.io.jsonargs import has_tagged_arguments
from trlprep.templates.inputs import media_marks, prepare, tool_call_error
from trlprep.templates.mediaprobe import media_error, media_roles, unrendered
from trlprep.templates.probes import parts_only_roles, parts_roles, tool_support
from trlprep.templates.reasoningkept import reasoning_left_out
from trlprep.templates.report import EXAMPLE_ROWS, TemplateReport
from trlprep.templates.rowvalues import (
    KWARGS_COLUMN,
    TOOLS_COLUMN,
    check_read,
    column_values,
    side_values,
)
from trlprep.templates.rules import Plan, RowError, plan_for, render_prompt, render_row
from trlprep.templates.template import ChatTemplate

# Per row, set by the table renderer: the id of its distinct prompt (with tools and kwargs)
# in the whole table, and that prompt rendered (where rendered once before the rows)
PROMPT_GROUP = "__trlprep_prompt_group"
PROMPT_TEXT = "__trlprep_prompt_text"
# Per row, set by the table renderer for each medium whose column the table has: how many
# media of that kind the row has (the media themselves stay behind)
MEDIA_COUNTS = {
    "image": "__trlprep_images",
    "video": "__trlprep_videos",
    "audio": "__trlprep_audios",
}
IMAGE_COUNT = MEDIA_COUNTS["image"]
# media beside images whose placeholders and parts are checked against their column
OTHER_MEDIA = ("video", "audio")
# what a row's prompt is prepared with beside its messages: rows differing in these are
# prepared (and their prompt rendered) apart
SIDE_KEYS = (TOOLS_COLUMN, KWARGS_COLUMN, *MEDIA_COUNTS.values())


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to render batches (picklable; the template compiles there)."""

    template: ChatTemplate
    dtype: str
    tools: list | None
    kwargs: dict[str, Any]


def render_batch(job: Job, batch: pa.Table | pa.RecordBatch, offset: int):
    """Render one batch: ({standard column: string array}, report, failures).

    Every row is tried; `failures` lists one dict per failing row (row, column, message,
    hint, kind), their texts are null. A failure that is not the row's (a template reaching
    outside the sandbox) ends the batch: it is the only failure returned, `kind` "template".
    """
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    plan = plan_for(job.dtype)
    rep = TemplateReport(job.template.name, job.dtype, rows=batch.num_rows)
    failures: list[dict] = []
    try:
        cols = _render(job, plan, batch, offset, rep, failures)
    except _Failure as f:
        return None, rep, [f.info]
    return cols, rep, failures


class _Failure(Exception):
    def __init__(self, info: dict):
        super().__init__(info["message"])
        self.info = info


def render_prompts(job: Job, batch: pa.Table | pa.RecordBatch, offset: int) -> pa.Array:
    """The rendered prompt of each row of `batch`, null where it cannot be rendered (the
    row's own render then reports the error, at its own row)."""
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    plan = plan_for(job.dtype)
    n = batch.num_rows
    rows = np.arange(n)
    prompts = column_values(batch, plan.prompt, offset, rows)
    tools, kwargs = side_values(batch, offset, rows, job.tools, job.kwargs)
    images = _image_counts(batch)
    media = _media_counts(batch, plan)
    prep = _Preparer(job, batch.schema, images is not None)
    out: list[str | None] = []
    for i, (prompt, t, k) in enumerate(zip(prompts, tools, kwargs, strict=True)):
        try:
            check_read(prompt, t, k)
            vision = images is not None and images[i] > 0
            prompt, _ = prep(prompt, plan.prompt, vision, _row_media(media, i))
            out.append(render_prompt(job.template, prompt, t, k, trusted=True))
        except (RowError, TrlprepError):
            out.append(None)
    return pa.array(out, pa.string())


class _Preparer:
    """`inputs.prepare` with the job's template and the roles it renders parts for."""

    def __init__(self, job: Job, schema: pa.Schema, vision_data: bool = False) -> None:
        self.template = job.template
        self.vision_data = vision_data  # an image column: TRL's vision data
        self.roles = parts_roles(job.template)
        self.parts_only = parts_only_roles(job.template)
        self.args_text = {f.name for f in schema if has_tagged_arguments(f.type)}

    def __call__(self, messages: Any, column: str, vision: bool, media: tuple[str, ...] = ()):
        if not isinstance(messages, list):
            return messages, None
        return prepare(
            messages,
            column,
            self.roles,
            vision=vision,
            template_name=self.template.name,
            args_text=column in self.args_text,
            media=media,
            parts_only=self.parts_only,
            vision_data=self.vision_data,
        )


def _image_counts(batch: pa.Table) -> np.ndarray | None:
    if IMAGE_COUNT not in batch.column_names:
        return None
    return np.asarray(batch.column(IMAGE_COUNT).to_numpy(), np.int64)


def _media_counts(batch: pa.Table, plan: Plan) -> dict[str, np.ndarray | None]:
    """Per media kind (`video`, `audio`): the entries of the row's `videos`/`audios` column
    (its hidden count, `MEDIA_COUNTS`), against which its placeholders and parts are counted
    (None: no such column; the kind is then left out where no conversation column can hold
    content parts, else its parts are counted as unchecked)."""
    convs = [c for c in plan.content if c in batch.column_names]
    parts = any(
        content_is_parts(batch.schema.field(c).type) or is_json_field(batch.schema.field(c))
        for c in convs
    )
    out: dict[str, np.ndarray | None] = {}
    for kind in OTHER_MEDIA:
        if MEDIA_COUNTS[kind] in batch.column_names:
            out[kind] = np.asarray(batch.column(MEDIA_COUNTS[kind]).to_numpy(), np.int64)
        elif parts:
            out[kind] = None
    return out


def _row_media(media: dict[str, np.ndarray | None], i: int) -> tuple[str, ...]:
    """The kinds of media row `i` has entries of (its placeholders become parts)."""
    return tuple(k for k, held in media.items() if held is not None and held[i] > 0)


def _render(
    job: Job, plan: Plan, batch: pa.Table, offset: int, rep: TemplateReport, failures: list
):
    n = batch.num_rows
    side = [c for c in SIDE_KEYS if c in batch.column_names]
    out: dict[str, list[str]] = {plan.out_names[c]: [None] * n for c in plan.content}
    grouped = PROMPT_GROUP in batch.column_names
    if grouped:
        ids = batch.column(PROMPT_GROUP).to_numpy()
        _, first, group = np.unique(ids, return_index=True, return_inverse=True)
    elif plan.prompt is not None:
        first, group = group_rows(batch, [plan.prompt, *side])
    else:
        first, group = np.arange(n), np.arange(n)
    rep.distinct_prompts = len(first) if plan.prompt and not grouped else 0  # else: table's
    prompts = column_values(batch, plan.prompt, offset, first) if plan.prompt else None
    rows = {c: column_values(batch, c, offset) for c in plan.continuations + plan.wholes}
    tools_g, kwargs_g = side_values(batch, offset, first, job.tools, job.kwargs)
    images = _image_counts(batch)
    media = _media_counts(batch, plan)
    prep = _Preparer(job, batch.schema, images is not None)
    support = tool_support(job.template)
    counted = {"image": images, **media} if images is not None else media
    shown = media_roles(job.template) if media else {}
    prepared: dict[int, Any] = {}  # group -> (prompt, what preparing did) or the RowError
    seqs = sequences([*([plan.prompt] if prompts is not None else []), *rows])
    prompt_text: list[str | None] = [None] * len(first)
    if PROMPT_TEXT in batch.column_names:  # null where it failed: rendered again, it reports
        prompt_text = batch.column(PROMPT_TEXT).take(first).to_pylist()
    for i in range(n):
        g = int(group[i])
        vision = images is not None and images[i] > 0
        kinds = _row_media(media, i)
        row = {c: rows[c][i] for c in rows}
        try:
            check_read(tools_g[g], kwargs_g[g], *row.values())
            for kind, held in counted.items():  # each sequence holds the row's media
                marks = {c: media_marks(row[c], kind) for c in rows}
                if prompts is not None:
                    marks[plan.prompt] = media_marks(prompts[g], kind)
                if held is None:
                    rep.unchecked_media[kind] += any(p for _, p in marks.values())
                    continue
                for seq in seqs:
                    holders = sum(marks[c][0] for c in seq)
                    parts = sum(marks[c][1] for c in seq)
                    if holders + parts == held[i]:
                        continue
                    raise RowError(
                        ("+".join(seq) + ": " if len(seqs) > 1 else "")
                        + media_mismatch(kind, holders, parts, int(held[i])),
                        None,
                        hint=f"each {kind} needs one `<{kind}>` placeholder (or {kind} part) "
                        "where it goes in the conversation"
                        + ("" if kind == "image" else f", one per entry of the {kind}s column"),
                    )
            joined, calls = False, False
            if prompts is not None:
                if g not in prepared:
                    try:
                        check_read(prompts[g])
                        prepared[g] = prep(prompts[g], plan.prompt, vision, kinds)
                    except RowError as e:
                        prepared[g] = e
                if isinstance(prepared[g], RowError):
                    raise prepared[g]
                row[plan.prompt], info = prepared[g]
                joined = bool(info and info.joined)
                calls = bool(info and info.tool_calls is not None)
            for c in rows:
                row[c], info = prep(row[c], c, vision, kinds)
                joined = joined or bool(info and info.joined)
                calls = calls or bool(info and info.tool_calls is not None)
            if prompts is not None and prompt_text[g] is None:
                prompt_text[g] = render_prompt(
                    job.template, row[plan.prompt], tools_g[g], kwargs_g[g], trusted=True
                )
                rep.renders += 1
            texts, shortened = render_row(
                plan,
                job.template,
                row,
                tools_g[g],
                kwargs_g[g],
                prompt_text=prompt_text[g],
                trusted=True,
            )
        except RowError as e:
            e = tool_call_error(e, job.template, row, bool(tools_g[g]))
            e = media_error(e, job.template, row)
            failures.append(
                {
                    "row": offset + i,
                    "column": e.column,
                    "message": e.message,
                    "hint": e.hint,
                    "kind": "render",
                }
            )
            continue
        except TrlprepError as e:  # e.g. a template reaching outside the sandbox
            raise _Failure(
                {
                    "row": offset + i,
                    "column": None,
                    "message": e.message,
                    "hint": e.hint,
                    "kind": "template",
                    "cls": type(e),
                }
            ) from None
        rep.renders += len(plan.continuations) + len(plan.wholes)
        rep.joined_parts_rows += joined
        rep.dropped_calls_rows += calls and not support.renders_calls(bool(tools_g[g]))
        rep.ignored_tools_rows += bool(tools_g[g]) and not support.tools
        rep.image_rows += vision
        for kind in kinds:
            rep.media_rows[kind] += 1
        for kind in media:
            rep.dropped_media[kind] += any(unrendered(v, kind, shown[kind]) for v in row.values())
        if shortened:
            rep.prefix_mismatch_rows += 1
            if len(rep.prefix_mismatch_examples) < EXAMPLE_ROWS:
                rep.prefix_mismatch_examples.append(offset + i)
        # what is trained on: completions and whole conversations (a prompt is context)
        trained = [row[c] for c in rows]
        rep.dropped_reasoning_rows += reasoning_left_out(trained, "".join(texts.values()))
        for name, text in texts.items():
            out[name][i] = text
    return {name: pa.array(values, pa.string()) for name, values in out.items()}


def group_rows(batch: pa.Table, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct key, group of each row) over the key columns."""
    n = batch.num_rows
    try:
        import polars as pl

        df = pl.from_arrow(batch.select(columns), rechunk=False)
        if isinstance(df, pl.Series):  # pragma: no cover - one column tables come back as frames
            df = df.to_frame()
        g = df.with_row_index("__row").group_by(columns, maintain_order=True).agg(pl.col("__row"))
        members = g.get_column("__row")
        first = members.list.first().to_numpy().astype(np.int64)
        lengths = members.list.len().to_numpy()
        group = np.empty(n, np.int64)
        group[members.explode().to_numpy()] = np.repeat(np.arange(len(first)), lengths)
        return first, group
    except Exception:  # a column type polars cannot group: no reuse, same result
        return np.arange(n), np.arange(n)
