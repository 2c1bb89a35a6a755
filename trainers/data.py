"""From a dataset to each algorithm's token-id rows, through the project's own steps: detect
it, convert it to the type the algorithm expects and render conversational rows with the chat
template (`data_table`, through `trlprep.api.convert`), then add token ids
(`trlprep.templates.tokenize_table`) — the same steps, with the same results, as
`trlprep convert --chat-template --tokenize`.

This module only picks their options the way TRL's trainers do and lays the id columns out as
each algorithm's rows (`LAYOUTS`): standard text gets an EOS after each completion (`add_eos`),
rendered chat text does not (the template wrote its end-of-turn); sequences longer than
`max_length` are truncated as `truncation_mode` says, and rows left with nothing to train on
(their prompt fills `max_length`) are dropped. Reward-model rows longer than `max_length` are
dropped rather than cut, as TRL's RewardTrainer does (a cut sequence would be scored on its
start). Process reward rows carry each step's label on the step's last token (the separator's),
-100 elsewhere; with `train_on_last_step_only` only the last step's label is kept, in training
only (as TRL's PRMTrainer).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from trlprep.trainers.data_rejects import reason_lines
from trlprep.trainers.data_table import MESSAGES_COLUMN, to_training_table

from trlprep.errors import DataError, TemplateNote, in_callers_words
from trlprep.wording import plural

# what each layout's tokenised rows hold (lists of token ids unless named otherwise)
LAYOUTS = {
    "lm": ("ids", "mask"),  # one sequence and which tokens are trained on
    # with keep_end, each side's sequence starts at its `<side>_prompt_start` in the prompt
    "pairs": ("prompt", "chosen", "rejected", "chosen_prompt_start", "rejected_prompt_start"),
    "unpaired": ("prompt", "completion", "label"),
    "scored-pairs": ("chosen", "rejected", "margin"),  # whole sequences (reward models)
    "stepwise": ("ids", "labels"),  # token labels: -100, or the step label on its last token
    # online algorithms' prompts: ids, rendered text, the original messages of conversational
    # data (reward functions get them, as TRL's) and every other column of the dataset
    "prompts": ("prompt", "prompt_text", "prompt_messages", "..."),
}


@dataclass
class Prepared:
    """Tokenised rows (columns as in `LAYOUTS`) and how the data got there."""

    rows: dict[str, list]
    source_type: str
    route: list[str]
    templated: bool
    dropped: int = 0
    notes: list[str] = field(default_factory=list)
    # rows the import or conversion left out (on_error="skip"): row, line, stage, reason, record
    rejects: pa.Table | None = None

    def __len__(self) -> int:
        return len(next(iter(self.rows.values())))


# why the conversion out of a type drops rows (as `trlprep convert` counts them)
_FILTERED = {
    "unpaired-preference": ": rows labelled false",
    "stepwise-supervision": ": rows with a step labelled false",
}


def _ids(table: pa.Table, name: str) -> list[list[int]]:
    return table.column(name).to_pylist()


def _lm_rows(table: pa.Table, completion_only_loss: bool | None) -> dict[str, list]:
    ids = _ids(table, "input_ids")
    if "completion_mask" in table.column_names and completion_only_loss is not False:
        return {"ids": ids, "mask": _ids(table, "completion_mask")}
    return {"ids": ids, "mask": [[1] * len(x) for x in ids]}


def _stepwise_rows(table: pa.Table, last_step_only: bool) -> dict[str, list]:
    """TRL's PRM layout from prompt ids and per-step ids (each ending with the separator)."""
    out: dict[str, list] = {"ids": [], "labels": []}
    for prompt, steps, labels in zip(
        _ids(table, "prompt_ids"),
        table.column("completions_ids").to_pylist(),
        table.column("labels").to_pylist(),
        strict=True,
    ):
        ids, token_labels = list(prompt), [-100] * len(prompt)
        # truncation keeps whole steps: keep_start the leading ones (the rest left off),
        # keep_end the trailing ones (those before them left empty, so steps meet their labels)
        for i, (step, label) in enumerate(zip(steps, labels, strict=False)):
            if not step:
                continue
            trained = not last_step_only or i == len(labels) - 1
            ids += step
            token_labels += [-100] * (len(step) - 1) + [int(label) if trained else -100]
        out["ids"].append(ids)
        out["labels"].append(token_labels)
    return out


def tokenise(
    table: pa.Table,
    dtype: str,
    layout: str,
    tokenizer: Any,
    *,
    templated: bool,
    max_length: int | None,
    truncation: str = "keep_start",
    options: Any = None,
    training: bool = True,
    given_ids: tuple[str, ...] = (),
) -> tuple[dict[str, list], Any]:
    """One layout's rows from a standard table of type `dtype`, tokenised by
    `tokenize_table`, or from its `given_ids` columns (`trlprep convert --tokenize` output,
    cut by `refit_table`); returns the rows and its `TokenizeReport` (None for token ids
    given alone)."""
    from trlprep.trainers.tokenising import tokenize_pieces

    from trlprep.templates.refit import refit_table

    if layout == "prompts":
        return _prompt_rows(
            table, dtype, tokenizer, max_length=max_length, templated=templated, given=given_ids
        )
    tokenized_lm = dtype == "language-modeling" and "text" not in table.column_names
    if layout == "lm" and tokenized_lm and "input_ids" in table.column_names:
        cut = slice(None) if max_length is None else slice(None, max_length)
        if truncation == "keep_end" and max_length is not None:
            cut = slice(-max_length, None)
        ids = [list(x)[cut] for x in _ids(table, "input_ids")]  # tokenized language modeling
        return {"ids": ids, "mask": [[1] * len(x) for x in ids]}, None
    reward = layout == "scored-pairs"
    if given_ids:
        table, report = refit_table(
            table, dtype, max_length=None if reward else max_length, truncation=truncation
        )
    else:
        table, report = tokenize_pieces(
            table,
            dtype,
            tokenizer,
            max_length=None if reward else max_length,  # reward rows too long are dropped instead
            truncation=truncation,
            add_eos=not templated and layout != "stepwise",  # PRM: the separator ends each step
            step_separator=getattr(options, "step_separator", None),
            cut_away="keep",  # rows whose completion is cut away are dropped below, and said so
            templated=templated,  # rendered text: the template's BOS only
        )
    if layout == "lm":
        rows = _lm_rows(table, getattr(options, "completion_only_loss", None))
    elif layout == "pairs":
        rows = {k: _ids(table, f"{k}_ids") for k in ("prompt", "chosen", "rejected")}
        for k in ("chosen_prompt_start", "rejected_prompt_start"):  # keep_end: sides cut apart
            if k in table.column_names:
                rows[k] = table.column(k).to_pylist()
    elif layout == "unpaired":
        rows = {k: _ids(table, f"{k}_ids") for k in ("prompt", "completion")}
        rows["label"] = [bool(x) for x in table.column("label").to_pylist()]
    elif reward:
        rows = {k: _ids(table, f"{k}_ids") for k in ("chosen", "rejected")}
        has_margin = "margin" in table.column_names
        rows["margin"] = table.column("margin").to_pylist() if has_margin else [None] * len(table)
    elif layout == "stepwise":
        last_only = training and bool(getattr(options, "train_on_last_step_only", False))
        rows = _stepwise_rows(table, last_only)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return rows, report


def _prompt_rows(
    table: pa.Table,
    dtype: str,
    tokenizer: Any,
    *,
    max_length: int | None,
    templated: bool,
    given: tuple[str, ...] = (),
) -> tuple[dict[str, list], Any]:
    """Prompt ids and text (prompt-only data; whole texts or token ids of language-modeling
    data, PPO's queries) and every other column, for generation and reward functions. A
    prompt longer than `max_length` keeps its end (the question and the generation prompt
    are there), as TRL 0.17's GRPO cuts them; the text is the whole prompt."""
    from trlprep.trainers.tokenising import tokenize_pieces

    from trlprep.templates.refit import refit_table

    report = None
    if dtype == "language-modeling" and "text" not in table.column_names:  # tokenized
        cut = slice(None) if max_length is None else slice(-max_length, None)
        ids = [list(x)[cut] for x in _ids(table, "input_ids")]
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
        used = {"input_ids", "attention_mask"}
    else:
        kind = "language-modeling" if dtype == "language-modeling" else "prompt-only"
        text = "text" if kind == "language-modeling" else "prompt"
        if given:
            table, report = refit_table(table, kind, max_length=max_length, truncation="keep_end")
        else:
            table, report = tokenize_pieces(
                table, kind, tokenizer, max_length=max_length, truncation="keep_end",
                templated=templated,
            )  # fmt: skip
        ids = _ids(table, "input_ids" if kind == "language-modeling" else "prompt_ids")
        texts = table.column(text).to_pylist()
        used = {text, "input_ids", "prompt_ids"}
    rows: dict[str, list] = {"prompt": ids, "prompt_text": texts}
    if MESSAGES_COLUMN in table.column_names:
        rows["prompt_messages"] = table.column(MESSAGES_COLUMN).to_pylist()
    for name in table.column_names:
        if name not in used and name != MESSAGES_COLUMN and name not in rows:
            rows[name] = table.column(name).to_pylist()
    return rows, report


def _trainable(rows: dict[str, list], layout: str, max_length: int | None) -> list[bool]:
    """Rows with something to train on (and, for reward models, within `max_length`)."""
    if layout == "lm":
        return [any(m[1:]) for m in rows["mask"]]  # a sequence's first token is never predicted
    if layout == "pairs":
        return [bool(c) and bool(r) for c, r in zip(rows["chosen"], rows["rejected"], strict=True)]
    if layout == "unpaired":
        return [bool(c) for c in rows["completion"]]
    if layout == "prompts":  # generation needs a token to start from
        return [bool(p) for p in rows["prompt"]]
    if layout == "scored-pairs":
        n = max_length or float("inf")
        return [
            len(c) <= n and len(r) <= n
            for c, r in zip(rows["chosen"], rows["rejected"], strict=True)
        ]
    return [any(x != -100 for x in labels) for labels in rows["labels"]]


def _why_dropped(layout: str, max_length: int | None) -> str:
    """Why `_trainable` refused rows of `layout`."""
    if layout == "scored-pairs":
        return f"longer than max_length={max_length}"
    if not max_length:
        return "with nothing left to train on"
    if layout == "stepwise":
        return f"with nothing left to train on (max_length={max_length} leaves no whole step)"
    if layout == "prompts":
        return "with an empty prompt"
    return (
        f"with nothing left to train on (their completion is cut away by max_length="
        f"{max_length}: the prompt fills it; `trlprep convert --tokenize` refuses these rows, "
        "listing each)"
    )


def _where(made: Any, keep: list[bool], most: int = 5) -> str:
    """` (lines 3, 9, ...)`: the first input lines (else rows) of the rows `keep` leaves out,
    where each training row is one input row; else empty."""
    import numpy as np

    for said, word in ((made.input_lines, "line"), (made.input_rows, "row")):
        if said is not None and len(said) == len(keep):
            out = np.asarray(said)[~np.asarray(keep)]
            shown = ", ".join(str(int(x)) for x in out[:most]) + (", ..." * (len(out) > most))
            return f" ({word}{'s' * (len(out) > 1)} {shown})"
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
    rows, rate, percentage and time left on stderr."""
    from trlprep.trainers.given_ids import choose

    from trlprep.importers.run import RejectedRowsWarning
    from trlprep.io.adapters import is_dataset_dict
    from trlprep.io.inputfiles import default_split, split_note
    from trlprep.io.kinds import CarriedColumnWarning
    from trlprep.io.progress import showing
    from trlprep.templates.refit import given_id_columns

    if isinstance(data, (str, os.PathLike)):
        found = default_split(data, split)
        if found is not None:
            flag = "--split" if training else "--eval-split"
            log(f"{label}: note: {split_note(data, *found, flag=flag)}")
    elif split is None and is_dataset_dict(data) and len(names := list(data)) > 1:
        if "train" in names:  # the folder's rule (`datasetfolders.default_split_name`)
            flag = "split=" if training else "eval_split="
            log(f"{label}: note: {split_note('the DatasetDict', 'train', names, flag=flag)}")

    from rich.console import Console

    console = Console(stderr=True) if progress else None  # the progress bars' (transient)
    with warnings.catch_warnings(record=True) as caught, showing(console, "reading", progress):
        warnings.simplefilter("always", UserWarning)  # every note, each time it is said
        made = to_training_table(
            data,
            accepts,
            tokenizer,
            chat_template=chat_template,
            algo=algo,
            keep_prompt_messages=layout == "prompts",
            layout=data_layout,
            column_map=column_map,
            import_options=import_options,
            on_error=on_error,
            split=split,
            template_may_go_unused=not training,  # the flag is refused on the training data
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
    rejected = pa.concat_tables(rejects) if rejects else None
    table, source, route, templated = made.table, made.source, made.route, made.templated
    left_out = 0 if rejected is None else rejected.num_rows
    if table.num_rows == 0 and left_out:  # on_error="skip" and every row refused
        raise DataError(
            f"every row was refused ({made.rows_in:,}): nothing to train on; "
            + "; ".join(reason_lines(rejected)),
            hint="fix the rows, or convert the data with `trlprep convert` (its rejects file "
            "lists every row and why)",
        )
    loss_on = ""
    if layout == "lm" and route[-1] == "prompt-completion":
        whole = getattr(options, "completion_only_loss", None) is False
        loss_on = "; loss on every token" if whole else "; loss on the completion only"
    elif layout == "lm":
        loss_on = "; loss on every token"
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
        + (" (chat template applied)" if templated else "")
        + f": {counts}{loss_on}"
    )
    given = () if templated or route[-1] != source else given_id_columns(table, route[-1])
    # `trlprep convert --tokenize` output: its ids, unless its recorded options differ
    picked = choose(
        table, route[-1], given, tokenizer, templated=templated,
        max_length=None if layout == "scored-pairs" else max_length,
        truncation="keep_end" if layout == "prompts" else truncation,
        step_separator=getattr(options, "step_separator", None) if layout == "stepwise" else None,
        path=os.fspath(data) if isinstance(data, (str, os.PathLike)) else None,
        chat_template=chat_template,
        layout=layout,
        log=lambda msg: log(f"{label}: {msg}"),
        input_rows=made.input_rows, input_lines=made.input_lines,
    )  # fmt: skip
    table, given, templated = picked.table, picked.given, picked.templated
    if given:
        log(f"{label}: token ids read from {', '.join(given)} (the text is not tokenised again)")
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
        notes.append(
            f"{plural(report.boundary_merges, 'row')} where the tokenizer merges tokens across the "
            "prompt/completion boundary (e.g. rows "
            f"{', '.join(map(str, report.boundary_examples))}); their "
            "completion starts where the two tokenisations diverge"
        )
    if report is not None and report.truncated and layout == "prompts":
        notes.append(
            f"{plural(report.truncated, 'prompt')} longer than max_length={max_length}: "
            f"{'its' if report.truncated == 1 else 'their'} start cut (generation goes on from "
            "the prompt's end; reward functions get the whole prompt, as in TRL 0.17's GRPO)"
        )
    elif report is not None and report.truncated:
        notes.append(f"{plural(report.truncated, 'row')} truncated to max_length={max_length}")
    keep = _trainable(rows, layout, max_length)
    dropped = keep.count(False)
    if dropped:
        rows = {k: [v for v, ok in zip(col, keep, strict=True) if ok] for k, col in rows.items()}
        why = _why_dropped(layout, max_length)
        notes.append(f"dropped {plural(dropped, 'row')}{_where(made, keep)} {why}")
        using = "training on" if training else "evaluating on"
        notes.append(f"{using} {plural(len(keep) - dropped, 'row')}")
    for note in notes:
        log(f"{label}: {note}")
    if dropped == len(keep):
        raise DataError(
            f"no {'training' if training else 'evaluation'} rows left after tokenisation"
            + ("" if training else " of --eval-data")
            + f": every row was dropped {why}",
            hint="raise --max-length" if max_length else "check that the rows have completions",
        )
    return Prepared(rows, source, route, templated, dropped=dropped, notes=notes, rejects=rejected)
