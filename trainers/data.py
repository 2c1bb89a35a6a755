"""From a dataset to each algorithm's token-id rows, through the project's own steps: detect
it, convert it to the type the algorithm expects and render conversational rows with the chat
template (`data_table`, through `trlprep.api.convert`), then add token ids
(`trlprep.templates.tokenize_table`) — the same steps, with the same results, as
`trlprep convert --chat-template --tokenize`.

This module only picks their options the way TRL's trainers do, says what was done (rows in,
left out, truncated, dropped) and has the id columns laid out as each algorithm's rows
(`data_layouts.LAYOUTS`, `tokenise`), dropping those with nothing to train on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from trlprep.trainers.data_layouts import tokenise, trainable, why_dropped
from trlprep.trainers.data_rejects import reason_lines
from trlprep.trainers.data_table import to_training_table
from trlprep.trainers.render_words import applied

from trlprep.errors import DataError, TemplateNote, in_callers_words
from trlprep.wording import noun, plural


@dataclass
class Prepared:
    """Tokenised rows (columns as in `data_layouts.LAYOUTS`) and how the data got there."""

    rows: dict[str, list]
    source_type: str
    route: list[str]
    templated: bool
    dropped: int = 0
    notes: list[str] = field(default_factory=list)
    # rows the import or conversion left out (on_error="skip"): row, line, stage, reason, record
    rejects: pa.Table | None = None
    assistant_masks: bool = False  # SFT's loss went by the assistant masks (and weights)
    loss_on: str | None = None  # what they put the loss on (None: every token, the completion)
    # the chat template a `convert --tokenize` file records its text was rendered with (name,
    # sha256, kwargs, tools); None: rendered here, or not rendered
    rendered_by: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(next(iter(self.rows.values())))


# why the conversion out of a type drops rows (as `trlprep convert` counts them)
_FILTERED = {
    "unpaired-preference": ": rows labelled false",
    "stepwise-supervision": ": rows with a step labelled false",
}


def _where(made: Any, keep: list[bool], most: int = 5) -> str:
    """` (lines 3, 9, ...)`: the first input lines (else rows) of the rows `keep` leaves out,
    where each training row comes from one input row (` (from line 3)`: both rows unpaired
    from its pair); else empty."""
    import numpy as np

    for said, word in ((made.input_lines, "line"), (made.input_rows, "row")):
        if said is not None and len(said) == len(keep):
            out = np.asarray(said)[~np.asarray(keep)]
            distinct = list(dict.fromkeys(int(x) for x in out))
            shown = ", ".join(map(str, distinct[:most])) + (", ..." * (len(distinct) > most))
            come = "from " if len(distinct) < len(out) else ""
            return f" ({come}{word}{'s' * (len(distinct) > 1)} {shown})"
    return ""


def prepare(
    data: Any,
    layout: str,
    accepts: Sequence[str],
    tokenizer: Any,
    *,
    max_length: int | None,
    truncation: str = "keep_start",
    chat_template: Any = None,
    template_kwargs: dict[str, Any] | None = None,
    tools: list | str | None = None,
    data_layout: str | None = None,
    column_map: str | None = None,
    algo: str = "",
    options: Any = None,
    training: bool = True,
    on_error: str = "stop",
    import_options: dict[str, Any] | None = None,
    label: str = "data",
    log: Callable[[str], None] = lambda _: None,
    split: str | None = None,
    progress: bool = False,
) -> Prepared:
    """Detect, convert, template and tokenise `data` for an algorithm's `layout` (`data_layout`
    and `column_map` import it first, as `trlprep convert --from/--map` does). Rows the import
    or conversion refuses stop it, or with `on_error="skip"` are left out, counted in the log
    and kept in `Prepared.rejects`. `import_options` are the importers' (`ImportOptions`);
    `label` leads every line logged ("eval data" for evaluation data). `split`: the split
    read of a DatasetDict (or its folder); the one it has, else `train` (said in the log),
    is read when none is named. `progress`: reading and tokenising show their
    rows, rate, percentage and time left on stderr. `tools` (schemas, or a JSON file of
    them, as `trlprep convert --tools` reads it) render every row without its own."""
    from trlprep.trainers.given_ids import choose

    from trlprep.importers.run import RejectedRowsWarning
    from trlprep.io.adapters import is_dataset_dict
    from trlprep.io.kinds import CarriedColumnWarning
    from trlprep.io.progress import showing
    from trlprep.io.splitfiles import default_split, left_out_note
    from trlprep.io.splitnames import split_note
    from trlprep.templates.refit import given_id_columns
    from trlprep.templates.tokenrecord import read_record

    if isinstance(data, (str, os.PathLike)):
        if (left := left_out_note(data, split=split)) is not None:  # as every command says it
            log(f"{label}: note: {left}")
        found = default_split(data, split)
        if found is not None:
            flag = "--split" if training else "--eval-split"
            log(f"{label}: note: {split_note(data, *found, flag=flag)}")
    elif split is None and is_dataset_dict(data) and len(names := list(data)) > 1:
        if "train" in names:  # the folder's rule (`datasetfolders.default_split_name`)
            flag = "split=" if training else "eval_split="
            log(f"{label}: note: {split_note('the DatasetDict', 'train', names, flag=flag)}")

    from rich.console import Console

    from trlprep.templates.options import load_tools, tools_said

    tools_file = os.fspath(tools) if isinstance(tools, (str, os.PathLike)) else None
    # (a schema that contradicts itself: warned of once, by the run's config)
    tools = load_tools(tools_file, warn=False) if tools_file else (list(tools) if tools else None)
    console = Console(stderr=True) if progress else None  # the progress bars' (transient)
    # conversations kept for SFT's assistant masks (None: where their messages carry weights)
    masks = layout == "lm" and (options is None or hasattr(options, "assistant_only_loss"))
    turns = (getattr(options, "assistant_only_loss", None) or None) if masks else False
    with (
        warnings.catch_warnings(record=True) as caught,
        showing(console, "reading", progress),
        tools_said(),
    ):
        warnings.simplefilter("always", UserWarning)  # every note, each time it is said
        made = _read_or_say_counts(
            lambda line: log(f"{label}: {line}"),
            data,
            accepts,
            tokenizer,
            chat_template=chat_template,
            template_kwargs=template_kwargs,
            tools=tools,
            algo=algo,
            keep_prompt_messages=layout == "prompts",
            layout=data_layout,
            column_map=column_map,
            import_options=import_options,
            on_error=on_error,
            split=split,
            template_may_go_unused=not training,  # the flag is refused on the training data
            keep_turns=turns,
        )
    rejects = []
    for w in caught:  # what a conversion says about some rows, said as `convert` says it
        if issubclass(w.category, CarriedColumnWarning):
            continue  # extra columns returned as JSON text: no data file here, not trained on
        if isinstance(w.message, RejectedRowsWarning):
            log(f"{label}: {in_callers_words(str(w.message))}")
            rejects.append(w.message.rejects)
        elif issubclass(w.category, TemplateNote):  # what the render did, as convert says it
            log(f"{label}: note: {in_callers_words(str(w.message))}")
        elif issubclass(w.category, UserWarning):  # conversion and template notes
            log(f"{label}: warning: {in_callers_words(str(w.message))}")
        else:  # deprecations and the like: not about the data
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    loss_what = None
    if masks:  # SFT's loss on assistant messages, as the flag or the data's weights say
        made, refused, loss_what = _masks_or_say_counts(
            lambda line: log(f"{label}: {line}"), made, options, tokenizer, chat_template,
            on_error=on_error, template_kwargs=template_kwargs, tools=tools,
            path=os.fspath(data) if isinstance(data, (str, os.PathLike)) else None,
            log=lambda msg: log(f"{label}: {msg}"),
        )  # fmt: skip
        if refused is not None:
            why = "; ".join(reason_lines(refused))
            log(f"{label}: {plural(refused.num_rows, 'row')} left out: {why}")
            rejects.append(refused)
    # in input-row order whichever stage refused each row, as convert writes its rejects file
    rejected = pa.concat_tables(rejects).sort_by("row") if rejects else None
    table, source, route, templated = made.table, made.source, made.route, made.templated
    left_out = 0 if rejected is None else rejected.num_rows
    loss_on = ""
    assistant = loss_what is not None  # the loss goes by assistant masks
    if layout == "lm" and route[-1] == "prompt-completion":
        whole = getattr(options, "completion_only_loss", None) is False
        if loss_what and not whole:
            loss_what += " in the completion"
        loss_on = f"; loss on {loss_what} only" if loss_what else ""
        loss_on = loss_on or ("; loss on every token" if whole else "; loss on the completion only")
    elif layout == "lm":
        loss_on = f"; loss on {loss_what} only" if loss_what else "; loss on every token"
    counts = f"{plural(made.rows_in, 'row')} in"
    if left_out:
        counts += f", {left_out:,} left out, {made.rows_in - left_out:,} converted"
    if left_out or table.num_rows != made.rows_in:
        counts += f" -> {plural(table.num_rows, 'row')}"
    if table.num_rows < made.rows_in - left_out:  # a filtering edge: say why rows went
        dropped = made.rows_in - left_out - table.num_rows
        counts += f" ({dropped:,} dropped by the conversion itself{_FILTERED.get(source, '')})"
    log(
        f"{label}: {' -> '.join(route)}"
        + (f" ({applied(template_kwargs, tools)})" if templated else "")
        + f": {counts}{loss_on}"
    )
    if table.num_rows == 0 and left_out:  # on_error="skip" and every row refused: counted
        raise DataError(
            f"every row was refused ({made.rows_in:,}): nothing to train on; "
            + "; ".join(reason_lines(rejected)),
            hint="fix the rows, or convert the data with `trlprep convert` (its rejects file "
            "lists every row and why)",
        )
    given = () if templated or route[-1] != source else given_id_columns(table, route[-1])
    # `trlprep convert --tokenize` output: its ids, unless its recorded options differ
    recorded = read_record(table.schema)
    picked = choose(
        table, route[-1], given, tokenizer, templated=templated,
        max_length=None if layout == "scored-pairs" else max_length,
        truncation="keep_end" if layout == "prompts" else truncation,
        step_separator=getattr(options, "step_separator", None) if layout == "stepwise" else None,
        path=os.fspath(data) if isinstance(data, (str, os.PathLike)) else None,
        chat_template=chat_template,
        template_kwargs=template_kwargs,
        tools=tools,
        tools_file=tools_file,
        layout=layout,
        log=lambda msg: log(f"{label}: {msg}"),
        input_rows=made.input_rows, input_lines=made.input_lines,
    )  # fmt: skip
    table, given, templated = picked.table, picked.given, picked.templated
    if given:
        read = given + (("assistant_masks",) if "assistant_masks" in table.column_names else ())
        log(f"{label}: token ids read from {', '.join(read)} (the text is not tokenised again)")
    with showing(console, f"tokenising {label}", progress):
        rows, report = tokenise(
            table,
            route[-1],
            layout,
            tokenizer,
            templated=templated,
            max_length=max_length,
            truncation=truncation,
            options=options,
            training=training,
            given_ids=given,
        )
    notes = []
    if report is not None and report.boundary_merges:
        examples = set(report.boundary_examples)
        n = len(next(iter(rows.values()), ()))
        at = _where(made, [i not in examples for i in range(n)]).replace(" (", " (e.g. ", 1)
        notes.append(
            f"{plural(report.boundary_merges, 'row')} where the tokenizer merges tokens across the "
            "prompt/completion boundary"
            + (at or f" (e.g. rows {', '.join(map(str, report.boundary_examples))})")
            + f"; {noun(report.boundary_merges, 'its', 'their')} completion starts where the "
            "two tokenisations diverge"
        )
    if report is not None and report.truncated and layout == "prompts":
        notes.append(
            f"{plural(report.truncated, 'prompt')} longer than max_length={max_length}: "
            f"{'its' if report.truncated == 1 else 'their'} start cut (generation goes on from "
            "the prompt's end; reward functions get the whole prompt, as in TRL 0.17's GRPO)"
        )
    elif report is not None and report.truncated:
        notes.append(f"{plural(report.truncated, 'row')} truncated to max_length={max_length}")
        cut = report.answer_cut_warning(lambda n: f"max_length={n}")
        if cut:
            notes.append(f"warning: {cut}")
    keep = trainable(rows, layout, max_length)
    dropped = keep.count(False)
    if dropped:
        rows = {k: [v for v, ok in zip(col, keep, strict=True) if ok] for k, col in rows.items()}
        from trlprep.trainers.convert_command import convert_command

        refused_by = convert_command(
            data, tokenizer, to=route[-1] if route[-1] != source else None,
            max_length=max_length, truncation=truncation,
            chat_template=chat_template if made.templated else None,
            template_kwargs=template_kwargs if made.templated else None,
            tools=(tools_file or tools) if made.templated else None,
            data_layout=data_layout, column_map=column_map, import_options=import_options,
            split=split,
        )  # fmt: skip
        why = why_dropped(layout, max_length, route[-1], refused_by, rows=dropped)
        if loss_what:  # the masks, not only max_length, can leave nothing
            within = f" within max_length={max_length}" if max_length else ""
            why = f"with nothing left to train on (no tokens of {loss_what}{within})"
        notes.append(f"dropped {plural(dropped, 'row')}{_where(made, keep)} {why}")
        using = "training on" if training else "evaluating on"
        notes.append(f"{using} {plural(len(keep) - dropped, 'row')}")
    if loss_what:
        from trlprep.trainers.assistant_masks import loss_note

        notes.append(loss_note(rows, loss_what))
    for note in notes:
        log(f"{label}: {note}")
    if dropped == len(keep):
        raise DataError(
            f"no {'training' if training else 'evaluation'} rows left after tokenisation"
            + ("" if training else " of --eval-data")
            + f": every row was dropped {why}",
            hint="raise --max-length" if max_length else "check that the rows have completions",
        )
    return Prepared(
        rows, source, route, templated, dropped=dropped, notes=notes, rejects=rejected,
        assistant_masks=assistant, loss_on=loss_what,
        rendered_by=recorded.get("chat_template") if recorded else None,
    )  # fmt: skip


def _read_or_say_counts(say: Callable[[str], None], *args: Any, **kw: Any) -> Any:
    """`to_training_table(*args, **kw)`; a read stopped by refused rows says its data line
    (`RowCounts`, in train's words) to `say` before its error, as a read that went on logs
    its own."""
    return _saying_counts(say, to_training_table, *args, **kw)


def _masks_or_say_counts(say: Callable[[str], None], *args: Any, **kw: Any) -> Any:
    """`assistant_masks.apply(*args, **kw)`, a stop by the rows it refuses said as
    `_read_or_say_counts` says a read's."""
    from trlprep.trainers import assistant_masks

    return _saying_counts(say, assistant_masks.apply, *args, **kw)


def _saying_counts(say: Callable[[str], None], step: Any, *args: Any, **kw: Any) -> Any:
    try:
        return step(*args, **kw)
    except DataError as e:
        if e.counts is not None:
            say(e.counts.said)
        raise
