"""Ray Data as the distributed engine: the local engine's stages run over a `ray.data.Dataset`.

Nothing is reimplemented: every block goes through the same planning (`trlprep.convert`),
the same Arrow -> Arrow edges and the same checks as the local engine, as
`map_batches(..., batch_format="pyarrow")` tasks. Chat templates and tokenizers run in an
actor pool (each actor loads them once). Rows carry the hidden `ROW_ID` (their global input
row index, numbered from the blocks' row counts), so errors name rows of the whole dataset
and validation merges per-block results into one report with global row numbers.

Pairing unpaired rows by prompt groups the rows by a hash of the prompt (Ray's groupby) and
pairs within each group in input order; unpairing with `order="blocks"` and importing
layouts need the local engine (`--engine local`). Needs the `ray` extra
(`pip install "trlprep[ray]"`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID, DataError, UsageError

if TYPE_CHECKING:
    import ray.data

    from trlprep.detect import Detection
    from trlprep.report import Report

PAIR_KEY = "__trlprep_pair_key__"


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray Data", hint='pip install "trlprep[ray]"') from None
    return ray


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to Ray: `address` "auto" or "ray://host:port" (None: a local instance)."""
    ray = _ray()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False)
    if address is None:
        kwargs["num_cpus"] = num_cpus
    ray.init(address=address, logging_level="ERROR", **kwargs)


# ---------------------------------------------------------------- global row numbers


def _arrow(block: Any) -> pa.Table:
    from ray.data.block import BlockAccessor

    return block if isinstance(block, pa.Table) else BlockAccessor.for_block(block).to_arrow()


def _blocks(ds: ray.data.Dataset) -> list[tuple[Any, int, int]]:
    """(block ref, offset of its first row, rows) of every block, in dataset order."""
    out, offset = [], 0
    for bundle in ds.materialize().iter_internal_ref_bundles():
        for entry in bundle.blocks:
            n = entry.metadata.num_rows
            out.append((entry.ref, offset, n))
            offset += n
    return out


def numbered(ds: ray.data.Dataset) -> tuple[ray.data.Dataset, int]:
    """`ds` with `ROW_ID` (each row's index in the whole dataset) and its row count."""
    ray = _ray()

    @ray.remote
    def number(block: Any, offset: int) -> pa.Table:
        t = _arrow(block)
        if ROW_ID in t.column_names:
            return t
        return t.append_column(ROW_ID, pa.array(np.arange(offset, offset + t.num_rows)))

    blocks = _blocks(ds)
    refs = [number.remote(ref, offset) for ref, offset, _ in blocks]
    total = sum(n for _, _, n in blocks)
    return (ray.data.from_arrow_refs(refs) if refs else ds), total


# ---------------------------------------------------------------- detect


def detect(ds: ray.data.Dataset) -> Detection:
    """Detect the type, format and modality of a Ray dataset, checking every row (the
    blocks stream through the driver, one at a time)."""
    from trlprep.detect import detect_batches
    from trlprep.readers import Batch

    def batches():
        offset = 0
        for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            if ROW_ID in b.column_names:
                b = b.drop_columns([ROW_ID])
            yield Batch(b, offset, None)
            offset += b.num_rows

    return detect_batches(batches())


# ---------------------------------------------------------------- convert


@dataclasses.dataclass
class _Stage:
    """One `map_batches` stage: the plan to apply to each block (a slice of the route)."""

    plan: Any  # convert.Plan, render None (made in each actor from `render_args`)
    check: bool = False  # check each block is of the planned source type
    coerce: bool = False
    render_args: dict[str, Any] | None = None


def _run(table: pa.Table, stage: _Stage) -> pa.Table:
    """Apply `stage.plan` to one block; rows a stage refuses raise one DataError naming the
    first (by global row number) and how many more in the block."""
    from trlprep.apply import Failure, InputRows, apply_checked
    from trlprep.kinds import settle_kinds
    from trlprep.stream import _check_batch

    if not table.num_rows:
        return table
    first = int(table.column(ROW_ID)[0].as_py())
    failures: list[Failure] = []
    if stage.check:
        _check_batch(table, stage.plan, first, None)
        s = settle_kinds(table, coerce=stage.coerce)
        if s.bad.any():
            idx = np.flatnonzero(s.bad)
            ids = np.asarray(table.column(ROW_ID).to_numpy())[idx]
            failures.append(Failure(ids, "read", list(s.reasons[idx])))
            table = s.table.filter(pa.array(~s.bad))
        else:
            table = s.table
    out, more = apply_checked(table, stage.plan, offset=first, source=InputRows(0, None))
    failures += more
    if failures:
        raise _failed(failures)
    return out


def _failed(failures: list[Any]) -> DataError:
    from trlprep.wording import plural

    ids = np.concatenate([f.rows for f in failures])
    f = min(failures, key=lambda f: int(f.rows.min()))
    i = int(np.argmin(f.rows))
    more = len(ids) - 1
    return DataError(
        f"row {int(f.rows[i])} (stage {f.stage}): {f.reasons[i]}"
        + (f" (and {plural(more, 'more row')} in the same block)" if more else ""),
        hint=f.hint or "fix the rows, or convert with `--engine local --on-error skip`",
    )


class _Converter:
    """A map_batches callable that loads the chat template / tokenizer once (per actor)."""

    def __init__(self, stage: _Stage) -> None:
        from trlprep.convert import make_render

        self.stage = stage
        if stage.render_args is not None:
            plan = dataclasses.replace(stage.plan, render=make_render(**stage.render_args))
            self.stage = dataclasses.replace(stage, plan=plan)

    def __call__(self, table: pa.Table) -> pa.Table:
        return _run(table, self.stage)


def _segment(plan: Any, steps: tuple, *, first: bool, src: str | None = None) -> Any:
    """`plan` restricted to `steps`, which may be none (the reading step only in the first
    segment); the chat template is added by the actor of the last one."""
    from trlprep.graph import Route
    from trlprep.registry import get_type

    start = plan.route.src if first else get_type(src or steps[0].src)
    end = get_type(steps[-1].dst) if steps else start
    return dataclasses.replace(
        plan, route=Route(start, end, tuple(steps)), reading=plan.reading if first else None
    )


def _pair_keys(table: pa.Table, fmt: Any, buckets: int) -> pa.Table:
    """Each row's bucket: a hash of its prompt modulo `buckets` (rows with equal prompts
    share one; a bucket holds many prompts, paired exactly inside)."""
    import polars as pl

    from trlprep.converters.arrowops import as_array
    from trlprep.converters.common import content

    prompt = as_array(content(table, "prompt", fmt))
    keys = pl.Series(pl.from_arrow(prompt)).hash(seed=0).to_numpy() % np.uint64(buckets)
    return table.append_column(PAIR_KEY, pa.array(keys.astype(np.int64)))


def _pair_group(table: pa.Table, stage: _Stage) -> pa.Table:
    """Pair the rows of one bucket of prompts, in input order."""
    import pyarrow.compute as pc

    table = table.drop_columns([PAIR_KEY])
    table = table.take(pc.sort_indices(table, [(ROW_ID, "ascending")]))
    return _run(table, stage)


def convert(
    ds: ray.data.Dataset,
    to: str | None = None,
    *,
    from_: str | None = None,
    chat_template: Any = None,
    tokenizer: Any = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
    tokenize: bool = False,
    max_length: int | None = None,
    truncation: str = "keep_start",
    guide_only: bool = False,
    on_error: str = "stop",
    coerce: bool = False,
    concurrency: int | None = None,
    **options: Any,
) -> ray.data.Dataset:
    """Convert a Ray dataset to type `to` through the conversion graph (lazily: a Dataset).

    Arguments as `trlprep.convert`; the type is planned from the first rows and every block
    is checked against it. A row a stage refuses fails the run with a DataError naming its
    global row number (`on_error="skip"` needs the local engine). `chat_template` and
    `tokenize` run in an actor pool of `concurrency` actors (default: Ray's autoscaling).
    Output rows are in input order.
    """
    from trlprep.convert import make_plan, make_render
    from trlprep.converters.base import ConvertOptions
    from trlprep.detect import detect_table
    from trlprep.registry import Format

    if on_error != "stop":
        raise UsageError(
            "--on-error skip needs --engine local (the Ray engine stops at the first bad row)",
            hint="drop --on-error skip, or use --engine local",
        )
    opts = ConvertOptions(**options)
    ds, total = numbered(ds)
    parts = max(1, ds.num_blocks())
    head = ds.take_batch(min(max(total, 1), 10_000), batch_format="pyarrow") if total else None
    if head is None:
        raise DataError("no rows to convert", hint="the Ray dataset is empty")
    head = head.drop_columns([ROW_ID])
    det = detect_table(head)
    render_args = dict(
        chat_template=chat_template, tokenizer=tokenizer, tools=tools,
        template_kwargs=template_kwargs, num_proc=1, tokenize=tokenize,
        max_length=max_length, truncation=truncation,
        conversational=det.format is Format.CONVERSATIONAL,
    )  # fmt: skip
    render = make_render(**render_args)
    plan = make_plan(det, to=to, from_=from_, options=opts, render=render, guide_only=guide_only)
    steps = plan.route.steps
    if steps and steps[-1].rows == "doubles" and opts.order == "blocks":
        raise UsageError(
            "--order blocks needs --engine local (every first-of-pair row before any second "
            "one is an order over the whole dataset)",
            hint="use --order interleaved, or --engine local",
        )
    at = next((i for i, e in enumerate(steps) if e.rows == "pairs"), None)
    bare = dataclasses.replace(plan, render=None)
    if at is None:
        stage = _Stage(bare, True, coerce, render_args if render else None)
        return finish(_map(ds, stage, concurrency))
    before, pairing, after = steps[:at], steps[at : at + 1], steps[at + 1 :]
    if before:
        ds = _map(ds, _Stage(_segment(bare, before, first=True), True, coerce), concurrency)
    seg = _segment(bare, pairing, first=not before)
    # one map_groups call per bucket, not per prompt (a call per prompt costs ~1 ms each)
    cpus = int(_ray().cluster_resources().get("CPU", 1))
    buckets = max(parts, 2 * cpus)
    ds = ds.map_batches(_pair_keys, batch_format="pyarrow", fn_args=(plan.fmt, buckets))
    stage = _Stage(seg, not before, coerce)
    ds = ds.groupby(PAIR_KEY, num_partitions=min(parts, buckets)).map_groups(
        _pair_group, batch_format="pyarrow", fn_args=(stage,)
    )
    ds = ds.sort(ROW_ID)
    if after or render is not None:
        seg = _segment(bare, after, first=False, src=pairing[-1].dst)
        ds = _map(ds, _Stage(seg, False, coerce, render_args if render else None), concurrency)
    return finish(ds)


def _map(ds: ray.data.Dataset, stage: _Stage, concurrency: int | None) -> ray.data.Dataset:
    if stage.render_args is None:
        return ds.map_batches(_run, batch_format="pyarrow", fn_args=(stage,))
    return ds.map_batches(
        _Converter,
        batch_format="pyarrow",
        fn_constructor_args=(stage,),
        concurrency=concurrency or (1, max(1, int(_ray().cluster_resources().get("CPU", 1)))),
    )


def finish(ds: ray.data.Dataset) -> ray.data.Dataset:
    """`ds` without the hidden `ROW_ID` column, its rows in input order."""
    ds = ds.drop_columns([ROW_ID])
    ds.context.execution_options.preserve_order = True
    ds.context.raise_original_map_exception = True  # a DataError stays one (in RayTaskError)
    return ds


def apply_chat_template(
    ds: ray.data.Dataset,
    template: Any,
    *,
    tokenizer: Any = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
    concurrency: int | None = None,
) -> ray.data.Dataset:
    """Render a conversational Ray dataset to standard text with `template` (actor pool)."""
    return convert(
        ds, chat_template=template, tokenizer=tokenizer, tools=tools,
        template_kwargs=template_kwargs, concurrency=concurrency,
    )  # fmt: skip


def tokenize(
    ds: ray.data.Dataset,
    tokenizer: Any,
    *,
    chat_template: Any = None,
    max_length: int | None = None,
    truncation: str = "keep_start",
    concurrency: int | None = None,
) -> ray.data.Dataset:
    """Add token ids to a Ray dataset (conversational rows rendered with the tokenizer's
    template, or `chat_template`, first), in an actor pool."""
    return convert(
        ds, chat_template=chat_template, tokenizer=tokenizer, tokenize=True,
        max_length=max_length, truncation=truncation, concurrency=concurrency,
    )  # fmt: skip


# ---------------------------------------------------------------- validate


def _check_block(block: Any, plan: Any, duplicates: bool) -> tuple:
    """Run every row rule on one block: (rows, its flags, row hashes, columns, seen)."""
    from trlprep.checks import BatchSink
    from trlprep.dupes import column_hashes, row_hash
    from trlprep.validate import check_batch

    t = _arrow(block)
    if ROW_ID in t.column_names:
        t = t.drop_columns([ROW_ID])
    sink = BatchSink(t.num_rows)
    hashes = column_hashes(t) if duplicates and t.num_rows else None
    seen = check_batch(t, plan, sink, hashes) if plan is not None and t.num_rows else set()
    rows = row_hash(hashes) if hashes is not None else None
    return t.num_rows, sink, rows, list(t.column_names), seen, hashes is None and t.num_rows > 0


def validate(
    ds: ray.data.Dataset,
    type: str | None = None,
    format: str | None = None,
    *,
    strict: bool = False,
    max_errors: int = 10,
    role_map: str | dict[str, str] | None = None,
    allow_empty: bool = False,
) -> Report:
    """Validate every row of a Ray dataset: one task per block, the blocks' flagged rows
    merged into one `Report` with global row numbers (as `trlprep.validate`)."""
    from trlprep.collect import Collector
    from trlprep.dupes import DuplicateFinder
    from trlprep.report import Report
    from trlprep.validate import _report_duplicates, _required, make_plan

    ray = _ray()
    det = detect(ds) if type is None or format is None else None
    plan, notes = make_plan(det, type, format, role_map)
    check = ray.remote(_check_block)
    blocks = _blocks(ds)
    results = ray.get([check.remote(ref, plan, True) for ref, _, _ in blocks])
    col = Collector(max_errors)
    finder: DuplicateFinder | None = DuplicateFinder()
    columns: dict[str, None] = {}
    for (_, offset, _), result in zip(blocks, results, strict=True):
        n, sink, hashes, names, seen, unhashable = result
        col.num_rows += n
        columns.update(dict.fromkeys(names))
        if not n:
            continue
        col.seen_columns |= seen
        if finder is not None:
            finder = None if unhashable else finder
        if finder is not None:
            finder.add(hashes, None)
        col.add_sink(sink, offset, None)
    if finder is not None:
        _report_duplicates(finder, col)
    else:
        notes.append("duplicate rows were not checked (a column type polars cannot hash)")
    if col.num_rows == 0:
        col.add("empty-dataset", None, [], count=0)
    elif plan is None:
        col.add(
            "unknown-type", None, [], count=col.num_rows,
            message="no dataset type matches the columns " + (", ".join(columns) or "(none)"),
        )  # fmt: skip
    report = Report(
        type=plan.dtype.name if plan else None,
        format=plan.fmt.value if plan else None,
        num_rows=col.num_rows,
        issues=col.issues(*_required(plan) if plan and col.num_rows else ()),
        strict=strict,
        notes=notes,
    )
    if allow_empty:
        report.allow_empty()
    return report
