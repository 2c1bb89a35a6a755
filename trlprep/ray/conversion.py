"""Conversions on Ray: plan from the first rows, then import, convert (pairing through a
groupby), render and tokenise block by block; the public `convert`, `apply_chat_template`
and `tokenize`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trlprep.errors import ROW_ID, DataError, warn_user
from trlprep.ray.base import HALF, LINE, PAIR_KEY, _context, _ray, unwrapped
from trlprep.ray.blocks import _Converter, _import, _keep, _run, _Stage
from trlprep.ray.numbering import in_row_order, numbered
from trlprep.ray.pairing import _pair_group, _pair_keys, _segment
from trlprep.ray.surveys import head_rows, import_survey, media_to_move, refused_ledger

if TYPE_CHECKING:
    import ray.data


@dataclasses.dataclass
class Converted:
    """A conversion on Ray: `rows` (output rows, with the hidden columns and reject rows
    among them) and what was planned. `output()` and `rejects()` split them."""

    rows: ray.data.Dataset
    plan: Any
    blocks_order: bool = False

    def output(self) -> ray.data.Dataset:
        """The converted rows without hidden columns, in input order (`--order blocks`:
        every first-of-pair row before any second one); materialized."""
        if not self.blocks_order:
            ds = settings(self.rows.map_batches(_keep, batch_format="pyarrow", fn_args=(False,)))
            return settings(in_row_order(ds, drop_row_ids=True))
        # a sort by (half, input row): Ray's union does not keep the order of its parts
        ds = self.rows.map_batches(_keep, batch_format="pyarrow", fn_args=(False, True))
        return finish(settings(ds).sort([HALF, ROW_ID]).drop_columns([HALF])).materialize()

    def rejects(self) -> ray.data.Dataset:
        """The refused input rows (and turns): ROW_ID, LINE and REJECT (stage, reason; and
        turn where the local rejects file has it: `--split-turns all` rendered)."""
        from trlprep.conversion.byturn import by_turn

        turned = self.plan is not None and by_turn(self.plan)
        return self.rows.map_batches(
            _keep, batch_format="pyarrow", fn_args=(True,), fn_kwargs={"turned": turned}
        )


def import_layout(
    ds: ray.data.Dataset,
    layout: str,
    options: Any = None,
    *,
    coerce: bool = False,
    collect: bool = True,
    notes: Any = None,
) -> ray.data.Dataset:
    """Import a public layout (sharegpt, alpaca, ...) block by block; `ds` must carry
    ROW_ID (`numbered`). Refused rows stay as reject rows (`Converted.rejects`), or fail
    the block (`collect=False`). `notes`: a notebook actor (`trlprep.ray.notes`) the
    importer's notes and warnings go to."""
    from trlprep.importers import ImportOptions, get_importer
    from trlprep.importers.columnmap import rename

    importer = get_importer(layout)
    opts = options or ImportOptions()
    schema = ds.schema()
    schema = getattr(schema, "base_schema", schema)
    names = [n for n in schema.names if n not in (ROW_ID, LINE)]
    schema = rename(pa.schema([schema.field(n) for n in names]).empty_table(), opts.map).schema
    seen = None
    if importer.needs_whole_input(schema):
        ds = ds.repartition(1)  # records span rows anywhere in the input
    elif importer.survey(schema.empty_table(), opts) is not None:
        seen = import_survey(ds, importer, opts)  # every block as the whole input decides
    return ds.map_batches(
        _import,
        batch_format="pyarrow",
        batch_size=None,
        fn_args=(importer, opts, coerce, collect, notes, seen),
    )


def convert_rows(
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
    collect: bool = True,
    coerce: bool = False,
    concurrency: int | None = None,
    notes: Any = None,
    assistant_masks: bool = False,
    shards: Any = None,
    **options: Any,
) -> Converted:
    """Plan and run a conversion on `ds` (numbered with `numbered`, perhaps imported);
    with `collect`, rows a stage refuses stay in the result as reject rows. `notes`: a
    notebook actor (`trlprep.ray.notes.notebook`) the workers' warnings and notes go to.
    `shards`: the files of an input of several (`read_numbered`'s), rows named in the
    workers' warnings by their file as the local engine names them."""
    from trlprep.conversion import masks
    from trlprep.conversion.convert import make_plan
    from trlprep.conversion.mediastage import moving_whole
    from trlprep.conversion.render import make_render
    from trlprep.converters.base import ConvertOptions
    from trlprep.detection.detect import detect_table
    from trlprep.registry import Format

    opts = ConvertOptions(**options)
    parts = max(1, ds.num_blocks())
    head = head_rows(ds, coerce=coerce)
    if head is None:
        raise DataError("no rows to convert", hint="the Ray dataset is empty")
    lines = None
    det = detect_table(head, lines)
    render_args = dict(  # loaded again in each actor, whose folder may not be this run's
        chat_template=_absolute(chat_template), tokenizer=_absolute(tokenizer), tools=tools,
        as_given=_as_given(chat_template, tokenizer),
        template_kwargs=template_kwargs, num_proc=1, tokenize=tokenize,
        max_length=max_length, truncation=truncation,
        conversational=det.format is Format.CONVERSATIONAL,
    )  # fmt: skip
    render = masks.asked(make_render(**render_args), assistant_masks, tokenize)
    plan = make_plan(
        det, to=to, from_=from_, options=opts, render=render, guide_only=guide_only, head=head
    )
    masks.check_maskable(plan)
    render_args["assistant_masks"] = assistant_masks  # set in each actor's render
    steps = plan.route.steps
    if opts.inline_media == "move":  # each block gets the media columns of the whole input
        images, unmovable = media_to_move(ds, coerce)
        plan.options = opts = moving_whole(opts, unmovable, images)
    blocks = bool(steps) and steps[-1].rows == "doubles" and opts.order == "blocks"
    bare = dataclasses.replace(plan, render=None)
    if blocks:  # interleaved in each block, then every first half before any second one
        bare = dataclasses.replace(bare, options=dataclasses.replace(opts, order="interleaved"))
    at = next((i for i, e in enumerate(steps) if e.rows == "pairs"), None)
    if at is None:
        stage = _Stage(
            bare, True, coerce, render_args if render else None, collect, blocks, notes, shards
        )
        return Converted(_map(ds, stage, concurrency, parts), plan, blocks)
    before, pairing, after = steps[:at], steps[at : at + 1], steps[at + 1 :]
    # the keys are the prompts of read rows: the rows are settled (mixed kinds, over whole
    # blocks as locally, not over buckets of prompts) and read (messages -> prompt and
    # completion) before pairing, even when no edge runs before it
    first = _Stage(
        _segment(bare, before, first=True), True, coerce, None, collect, notes=notes, shards=shards
    )
    ds = _map(ds, first, concurrency, parts)
    seg = _segment(bare, pairing, first=False)
    # one map_groups call per bucket, not per prompt (a call per prompt costs ~1 ms each)
    cpus = int(_ray().cluster_resources().get("CPU", 1))
    buckets = max(parts, 2 * cpus)
    ds = ds.map_batches(_pair_keys, batch_format="pyarrow", fn_args=(plan.fmt, buckets))
    halves = blocks and not after and not render
    stage = _Stage(seg, False, coerce, None, collect, halves, notes, shards)
    ds = ds.groupby(PAIR_KEY, num_partitions=min(parts, buckets)).map_groups(
        _pair_group, batch_format="pyarrow", fn_args=(stage,)
    )
    ds = ds.sort(ROW_ID)
    if after or render is not None:
        seg = _segment(bare, after, first=False, src=pairing[-1].dst)
        args = render_args if render else None
        last = _Stage(seg, False, coerce, args, collect, blocks, notes, shards)
        ds = _map(ds, last, concurrency, parts)  # (groupby's partitions: at most `parts`)
    return Converted(ds, plan, blocks)


@unwrapped()
def convert(
    ds: ray.data.Dataset,
    to: str | None = None,
    *,
    from_: str | None = None,
    import_options: Any = None,
    on_error: str = "stop",
    coerce: bool = False,
    **kwargs: Any,
) -> ray.data.Dataset:
    """Convert a Ray dataset to type `to` through the conversion graph (a Dataset).

    Arguments as `trlprep.convert`; the type is planned from the first rows and every block
    is checked against it. Rows a stage refuses fail the run with the DataError
    `trlprep.convert` raises (the first row or file line, how many more), once every block
    ran; with `on_error="skip"` refused rows are left out. `chat_template`
    and `tokenize` run in an actor pool of `concurrency` actors (default: Ray's
    autoscaling). Output rows are in input order (`order="blocks"`: every first-of-pair
    row before any second one). `from_` may name a public layout (sharegpt, alpaca, ...):
    its rows are imported first (`import_options`: `trlprep.importers.ImportOptions`, or a
    dict of its options: `{"map": {"prompt": "question"}, "keep_empty_turns": True}`; a
    `map` without `from_` renames the columns, as `trlprep.convert(..., map=...)`).
    """
    from trlprep.converters.base import ConversionWarning
    from trlprep.importers import ImportOptions, is_layout

    if isinstance(import_options, dict):  # as hints say it: import_options={'map': ...}
        import_options = ImportOptions.make(**import_options)
    if from_ is None and import_options is not None and import_options.map:
        from_ = "map"  # the renames alone, as `trlprep.convert(..., map=...)` does
    from trlprep.importers.base import check_roles_used
    from trlprep.importers.options import check_on_error
    from trlprep.ray import notes as worker_notes

    check_on_error(on_error)
    _context()
    # refused rows always travel as reject rows: with "stop" they are counted on the
    # cluster and the run fails naming the first and how many more, as `trlprep.convert`
    ds, n_in = numbered(ds)
    source = ds  # (an import stopped by its refusals names the type it lands on)
    book = worker_notes.notebook()  # the workers' warnings, raised here once each
    try:
        conv, left, stopped, layout = None, True, None, None
        imported = from_ if from_ is not None and is_layout(from_) else None
        if imported is not None:
            ds = import_layout(ds, from_, import_options, coerce=coerce, notes=book)
            ds, layout, from_ = ds.materialize(), from_, None
            # as `trlprep.convert`: rows the import refuses stop the run before converting
            stopped = refused_ledger(ds, n_in) if on_error == "stop" else None
            if stopped is None and n_in:  # a --role-map key no message has, as locally
                check_roles_used(import_options, worker_notes.peek(book).roles, layout)
            left = stopped is None and head_rows(ds, 1) is not None  # (else every row refused)
            layout = layout if stopped is not None else None  # the import stopped it
        if left:
            conv = convert_rows(ds, to, from_=from_, coerce=coerce, notes=book, **kwargs)
            _say_unread(conv.plan, kwargs, imported, import_options)
            for message in conv.plan.route_warnings():  # as `trlprep.convert` warns it
                warn_user(message, ConversionWarning)
            if on_error == "stop":
                ds = conv.rows = conv.rows.materialize()
            stopped = refused_ledger(ds, n_in) if on_error == "stop" else None
        out = conv.output() if conv is not None and stopped is None else None
    finally:
        found = worker_notes.take(book)
        for message in found.conversion_warnings():  # those of several blocks merged
            warn_user(message, ConversionWarning)
        for category, message in found.warnings:
            if not issubclass(category, ConversionWarning):
                warn_user(message, category)
    if stopped is not None:  # the counts said in the error, as `trlprep.convert` says them
        if layout is not None:
            from trlprep.errors import with_counts
            from trlprep.importers.run import first_reject_error, import_counts

            e = first_reject_error(stopped.first, stopped.rejected - 1, layout)
            route = _landing(source, layout, import_options)
            raise with_counts(e, import_counts(route, n_in, stopped.rejected))
        stopped.hints.update(found.hints)
        for name, (rows_in, rows_out) in found.steps.items():
            stopped.count_step(name, rows_in, rows_out)
        raise stopped.returned_error(conv.plan)
    if out is None:  # every row refused, on_error="skip": nothing left, as locally
        return _ray().data.from_arrow(pa.table({}))
    _template_warnings(conv.plan, found.reports)
    from trlprep.io.kinds import carried_warning

    for column, kinds in found.carried.items():  # as `trlprep.convert` says it of a Table
        warn_user(carried_warning(column, kinds, "returned"), UserWarning)
    return out


def _landing(ds: ray.data.Dataset, layout: str, import_options: Any) -> str:
    """`LAYOUT -> TYPE (FORMAT)`: what importing `ds` (numbered) from `layout` makes, as
    the local import names it (the layout alone where its landing depends on its rows)."""
    from trlprep.importers import ImportOptions, get_importer

    head = ds.take_batch(1, batch_format="pyarrow")  # the input's columns, as read
    head = head.drop_columns([c for c in (ROW_ID, LINE) if c in head.column_names])
    landed = get_importer(layout).landing_of(head.schema, import_options or ImportOptions())
    return layout if landed is None else f"{layout} -> {landed[0].name} ({landed[1].value})"


def _say_unread(plan: Any, kwargs: dict[str, Any], layout: str | None, imports: Any) -> None:
    """A warning per option given (`kwargs` as written, the layout's options away from their
    defaults) that no step reads, said once, here on the driver."""
    from trlprep.conversion.unread import CHECKED, given_import_options, warn_unread
    from trlprep.importers import get_importer

    given = {k: v for k, v in kwargs.items() if k in CHECKED} | given_import_options(imports)
    if given:
        importer = get_importer(layout) if layout is not None else None
        warn_unread(plan, given, importer=importer, import_options=imports)


def _template_warnings(plan: Any, reports: list[tuple[str, Any]]) -> None:
    """What the chat template left out and did to some rows, the workers' reports merged,
    raised as `trlprep.convert` raises them."""
    from trlprep.conversion.apply import merge_reports
    from trlprep.errors import TemplateNote

    if plan.render is None:
        return
    merge_reports(plan, reports)
    for message in plan.warnings():
        warn_user(message, UserWarning)
    if plan.render.report is not None:
        for message in plan.render.report.notes():
            warn_user(message, TemplateNote)


def _map(
    ds: ray.data.Dataset, stage: _Stage, concurrency: int | None, blocks: int
) -> ray.data.Dataset:
    """`stage` over `ds` (of at most `blocks` blocks): tasks, or an actor pool where it
    renders (each actor loads the template and tokenizer once)."""
    if stage.render_args is None:
        return ds.map_batches(_run, batch_format="pyarrow", fn_args=(stage,))
    cpus = max(1, int(_ray().cluster_resources().get("CPU", 1)))
    return ds.map_batches(
        _Converter,
        batch_format="pyarrow",
        fn_constructor_args=(stage,),
        compute=actor_pool(concurrency, cpus, blocks),
    )


def actor_pool(concurrency: int | None, cpus: int, blocks: int) -> Any:
    """The render's actor pool: `concurrency` actors, else from one up to one per CPU and
    no more than the blocks to render: Ray kills an actor still starting when the last
    block is done, and prints that a worker died (a second actor for one block did so)."""
    from ray.data import ActorPoolStrategy

    if concurrency:  # (`concurrency=` is deprecated since Ray 2.51 and says so on every run)
        return ActorPoolStrategy(size=concurrency)
    return ActorPoolStrategy(min_size=1, max_size=max(1, min(cpus, blocks)))


def finish(ds: ray.data.Dataset) -> ray.data.Dataset:
    """`ds` without the hidden `ROW_ID` column, its rows in input order."""
    return settings(ds.drop_columns([ROW_ID]))


def settings(ds: ray.data.Dataset) -> ray.data.Dataset:
    """`ds` keeping its rows' order in what runs on it; a DataError stays one."""
    ds.context.execution_options.preserve_order = True
    ds.context.raise_original_map_exception = True  # not wrapped in a RayTaskError
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


def _as_given(*sources: Any) -> dict[str, str]:
    """The absolute paths `_absolute` makes -> the paths as the user gave them: templates
    and tokenizers are named so in messages and token records, as the local engine names
    them."""
    import os

    return {
        _absolute(s): os.fspath(s)
        for s in sources
        if isinstance(s, (str, os.PathLike)) and _absolute(s) != os.fspath(s)
    }


def _absolute(source: Any) -> Any:
    """A local file or folder named relative to this run's folder, made absolute (a name
    such as a built-in template or a Hub id, or an object, as it is)."""
    import os

    if isinstance(source, (str, os.PathLike)) and os.path.exists(source):
        return os.path.abspath(source)
    return source
