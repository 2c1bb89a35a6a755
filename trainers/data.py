"""From a dataset to each algorithm's token-id rows, through the project's own steps: detect
it, convert it to the type the algorithm expects and render conversational rows with the chat
template (`trlprep.api.convert`), then add token ids (`trlprep.templates.tokenize_table`) —
the same steps, with the same results, as `trlprep convert --chat-template --tokenize`.

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

import numpy as np
import pyarrow as pa

from trlprep.errors import DataError, UsageError
from trlprep.registry import Format, get_type
from trlprep.wording import noun, plural

# what each layout's tokenised rows hold (lists of token ids unless named otherwise)
LAYOUTS = {
    "lm": ("ids", "mask"),  # one sequence and which tokens are trained on
    "pairs": ("prompt", "chosen", "rejected"),
    "unpaired": ("prompt", "completion", "label"),
    "scored-pairs": ("chosen", "rejected", "margin"),  # whole sequences (reward models)
    "stepwise": ("ids", "labels"),  # token labels: -100, or the step label on its last token
    # online algorithms' prompts: ids, rendered text, the original messages of conversational
    # data (reward functions get them, as TRL's) and every other column of the dataset
    "prompts": ("prompt", "prompt_text", "prompt_messages", "..."),
}
MESSAGES_COLUMN = "__trlprep_prompt_messages"  # carries conversational prompts through convert


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


def write_rejects(rejects: pa.Table, path: os.PathLike) -> os.PathLike:
    """The rows left out (row, line, stage, reason, record) as JSON Lines, written
    atomically (as `trlprep convert --on-error skip` writes its rejects file)."""
    from trlprep.importers import RejectsWriter

    writer = RejectsWriter(path, overwrite=True)
    writer.write(rejects)
    writer.commit()
    return path


def to_training_table(
    data: Any,
    accepts: Sequence[str],
    tokenizer: Any,
    *,
    chat_template: Any = None,
    algo: str = "",
    keep_prompt_messages: bool = False,
    layout: str | None = None,
    column_map: str | dict[str, str] | None = None,
    on_error: str = "stop",
) -> tuple[pa.Table, str, list[str], bool]:
    """Detect `data`, convert it to the first of `accepts` unless it already is one of them,
    and render conversational rows with the chat template (the tokenizer's by default).

    Returns the standard-text table, the detected type, the route taken (led by the public
    layout the data was read as, if any) and whether a chat template was applied. With
    `keep_prompt_messages`, conversational prompts are also kept, unrendered, in the column
    `MESSAGES_COLUMN`. `layout` (a public layout) and `column_map` (`prompt=question`) import
    the data first, as `trlprep convert --from/--map` does. Rows the import or the
    conversion refuses stop it (a DataError naming the file line) or, with `on_error="skip"`,
    are left out with a `RejectedRowsWarning` holding them (their input rows and lines).
    """
    from trlprep.api import convert
    from trlprep.conversion.convert import unknown_reason
    from trlprep.conversion.graph import route
    from trlprep.detection.detect import detect_table
    from trlprep.importers import (
        ImportOptions,
        import_table,
        is_layout,
        layout_names,
        layout_read_as,
    )
    from trlprep.importers.run import RejectedRowsWarning, rejected_warning
    from trlprep.io.adapters import as_input
    from trlprep.templates.sources import NoTemplateError

    inp = as_input(data)
    table = raw = inp.table
    rows, lines = np.arange(table.num_rows), inp.source.lines  # each row's input row and line
    if table.num_rows == 0:  # as in every command (nothing to train on: no --allow-empty)
        where = f"{data}: " if isinstance(data, (str, os.PathLike)) else ""
        raise DataError(f"{where}the dataset has no rows", hint="check the file (and --split)")
    if keep_prompt_messages:
        table = _prompt_ids_as_queries(table)
    if layout is not None and not is_layout(layout):
        raise UsageError(
            f"--from takes a public layout here, not {layout!r}",
            hint="train reads the dataset type from the columns; layouts: "
            + ", ".join(layout_names()),
        )
    if layout is None:  # as `trlprep convert` reads it (ShareGPT, Alpaca, ...)
        layout = "map" if column_map else layout_read_as(table)
    if layout is not None:
        opts = ImportOptions.make(map=column_map) if column_map else None
        result = import_table(
            table, layout, opts, lines=lines, on_error=on_error, path=inp.source.path
        )
        table, rows, lines = result.table, result.rows, result.lines
        if result.num_rejected:
            warnings.warn(rejected_warning(result, layout), stacklevel=2)
    det = detect_table(table)
    if det.type is None:
        raise DataError(
            "cannot tell the dataset type: " + unknown_reason(det),
            hint=f"{algo} trains on {accepts[0]} data; run `trlprep detect` on it",
        )
    problems = [p for p in det.problems if p.code != "ambiguous-prompt"]
    if problems:
        p = problems[0]
        raise DataError(
            f"the data is not uniform: {p.message}"
            + (f" (e.g. {noun(len(p.rows), 'row')} {', '.join(map(str, p.rows))})" * bool(p.rows)),
            hint="run `trlprep validate` on it for every problem",
        )
    read_as = [f"{layout} layout"] if layout else []
    if det.format is Format.TOKENIZED:
        if det.type.name not in accepts:
            raise UsageError(
                f"{algo} cannot train on tokenized {det.type.name} data",
                hint=f"{algo} trains on {' or '.join(accepts)} data: give it the text, not "
                "token ids",
            )
        return table, det.type.name, [*read_as, det.type.name], False
    dst = target_type(det.type, accepts)
    templated = det.format is Format.CONVERSATIONAL
    if dst is det.type and not templated:
        return table, det.type.name, [*read_as, det.type.name], False
    try:
        names = route(det.type, dst).names()
    except UsageError as e:
        raise UsageError(
            f"{algo} trains on {' or '.join(accepts)} data; this data is {det.type.name} "
            f"and cannot be converted: {e.message}",
            hint=e.hint or "convert it with `trlprep convert` first",
        ) from e
    # the prompt messages: a `prompt` column, or `messages` that detect reads as the prompt
    reads_prompt = det.reading is not None and det.reading.kind == "prompt"
    prompt_col = "messages" if reads_prompt else "prompt"
    if keep_prompt_messages and templated and prompt_col in table.column_names:
        table = table.append_column(MESSAGES_COLUMN, table.column(prompt_col))
    template = chat_template if chat_template is not None else tokenizer
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RejectedRowsWarning)
            table = convert(
                table,
                to=dst.name if dst is not det.type else None,
                chat_template=template if templated else None,
                tokenizer=tokenizer if templated else None,
                on_error=on_error,
            )
    except NoTemplateError as e:
        if chat_template is not None:
            raise
        name = getattr(tokenizer, "name_or_path", "") or "the model"
        raise NoTemplateError(
            f"the data is conversational and the tokenizer of {name} has no chat template "
            "to render it",
            hint="pass --chat-template with a built-in name (`trlprep templates` lists them), "
            "a .jinja file or a tokenizer folder",
        ) from e
    for w in caught:  # the conversion's rejects, named by their input rows and lines
        if isinstance(w.message, RejectedRowsWarning) and w.message.rejects is not None:
            rejects = _as_input_rows(w.message.rejects, raw, rows, lines)
            warnings.warn(RejectedRowsWarning(str(w.message), rejects), stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return table, det.type.name, [*read_as, *names], templated


def _as_input_rows(rejects: pa.Table, raw: pa.Table, rows: np.ndarray, lines: Any) -> pa.Table:
    """`rejects` of a table derived from `raw` (its row i is `raw`'s row `rows[i]`, on file
    line `lines[i]`), named by `raw`'s rows and lines and holding `raw`'s records."""
    from trlprep.importers.rejects import records

    idx = np.asarray(rows)[rejects.column("row").to_numpy()]
    out = rejects.set_column(0, "row", pa.array(idx, pa.int64()))
    if lines is not None:
        at = np.asarray(lines)[rejects.column("row").to_numpy()].astype(np.int64)
        out = out.set_column(1, "line", pa.array(at, pa.int64()))
    records_at = out.schema.get_field_index("record")
    original = records(raw.take(pa.array(idx, pa.int64())))
    return out.set_column(records_at, out.schema.field(records_at), pa.array(original, pa.string()))


def _has_prompt(dtype: Any) -> bool:
    """Rows of this type hold a prompt apart from what is trained on (implicit preference
    holds one inside chosen/rejected, which conversion extracts)."""
    return dtype.name == "preference-implicit" or "prompt" in dtype.column_names(Format.STANDARD)


def target_type(source: Any, accepts: Sequence[str]) -> Any:
    """The type `source` data is converted to for an algorithm that trains on `accepts`.

    Data already of an accepted type stays as it is. Otherwise the first accepted type,
    except that data with a prompt goes to the first accepted type that keeps a prompt: SFT
    on preference data trains on prompt-completion rows (chosen as the completion, the loss on
    the completion only), not on language-modeling text that would train on the prompt too.
    """
    if source.name in accepts:
        return source
    if _has_prompt(source):
        for name in accepts:
            if _has_prompt(get_type(name)):
                return get_type(name)
    return get_type(accepts[0])


def _prompt_ids_as_queries(table: pa.Table) -> pa.Table:
    """Prompts given as token ids only (`trlprep convert --tokenize` output without its text
    column) as the tokenized queries PPO takes: the ids become tokenized language modeling's."""
    from trlprep.templates.tokenize import token_columns

    (prompt_ids,) = token_columns("prompt-only")
    (input_ids,) = token_columns("language-modeling")
    names = table.column_names
    text = get_type("prompt-only").column_names(Format.STANDARD)
    if prompt_ids not in names or input_ids in names or any(c in names for c in text):
        return table
    return table.rename_columns([input_ids if n == prompt_ids else n for n in names])


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
        # truncation keeps the leading steps that fit whole
        for i, (step, label) in enumerate(zip(steps, labels, strict=False)):
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
) -> tuple[dict[str, list], Any]:
    """One layout's rows from a standard table of type `dtype`, tokenised by
    `tokenize_table`; returns the rows and its `TokenizeReport` (None for token ids given)."""
    from trlprep.templates.tokenize import tokenize_table

    if layout == "prompts":
        return _prompt_rows(table, dtype, tokenizer, max_length=max_length, truncation=truncation)
    if layout == "lm" and "input_ids" in table.column_names and "text" not in table.column_names:
        cut = slice(None) if max_length is None else slice(None, max_length)
        if truncation == "keep_end" and max_length is not None:
            cut = slice(-max_length, None)
        ids = [list(x)[cut] for x in _ids(table, "input_ids")]  # tokenized language modeling
        return {"ids": ids, "mask": [[1] * len(x) for x in ids]}, None
    reward = layout == "scored-pairs"
    table, report = tokenize_table(
        table,
        dtype,
        tokenizer,
        max_length=None if reward else max_length,  # reward rows too long are dropped instead
        truncation=truncation,
        add_eos=not templated and layout != "stepwise",  # PRM: the separator ends each step
        step_separator=getattr(options, "step_separator", None),
        cut_away="keep",  # rows whose completion is cut away are dropped below, and said so
    )
    if layout == "lm":
        rows = _lm_rows(table, getattr(options, "completion_only_loss", None))
    elif layout == "pairs":
        rows = {k: _ids(table, f"{k}_ids") for k in ("prompt", "chosen", "rejected")}
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
    table: pa.Table, dtype: str, tokenizer: Any, *, max_length: int | None, truncation: str
) -> tuple[dict[str, list], Any]:
    """Prompt ids and text (prompt-only data; whole texts or token ids of language-modeling
    data, PPO's queries) and every other column, for generation and reward functions."""
    from trlprep.templates.tokenize import tokenize_table

    report = None
    if dtype == "language-modeling" and "text" not in table.column_names:  # tokenized
        cut = slice(None) if max_length is None else slice(None, max_length)
        if truncation == "keep_end" and max_length is not None:
            cut = slice(-max_length, None)
        ids = [list(x)[cut] for x in _ids(table, "input_ids")]
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
        used = {"input_ids", "attention_mask"}
    else:
        kind = "language-modeling" if dtype == "language-modeling" else "prompt-only"
        text = "text" if kind == "language-modeling" else "prompt"
        table, report = tokenize_table(
            table, kind, tokenizer, max_length=max_length, truncation=truncation
        )
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
    log: Callable[[str], None] = lambda _: None,
) -> Prepared:
    """Detect, convert, template and tokenise `data` for an algorithm's `layout` (`data_layout`
    and `column_map` import it first, as `trlprep convert --from/--map` does). Rows the import
    or conversion refuses stop it, or with `on_error="skip"` are left out, counted in the log
    and kept in `Prepared.rejects`."""
    from trlprep.converters.base import ConversionWarning

    from trlprep.importers.run import RejectedRowsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionWarning)
        warnings.simplefilter("always", RejectedRowsWarning)
        table, source, route, templated = to_training_table(
            data,
            accepts,
            tokenizer,
            chat_template=chat_template,
            algo=algo,
            keep_prompt_messages=layout == "prompts",
            layout=data_layout,
            column_map=column_map,
            on_error=on_error,
        )
    rejects = []
    for w in caught:  # what a conversion says about some rows, said as `convert` says it
        if isinstance(w.message, RejectedRowsWarning):
            log(f"data: {w.message}")
            rejects.append(w.message.rejects)
        elif issubclass(w.category, ConversionWarning):
            log(f"data: warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    rejected = pa.concat_tables(rejects) if rejects else None
    loss_on = ""
    if layout == "lm" and route[-1] == "prompt-completion":
        whole = getattr(options, "completion_only_loss", None) is False
        loss_on = "; loss on every token" if whole else "; loss on the completion only"
    elif layout == "lm":
        loss_on = "; loss on every token"
    left_out = 0 if rejected is None else rejected.num_rows
    log(
        f"data: {' -> '.join(route)}"
        + (" (chat template applied)" if templated else "")
        + f", {table.num_rows} rows{loss_on}"
        + (f" ({left_out} of {table.num_rows + left_out} left out)" if left_out else "")
    )
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
    )
    notes = []
    if report is not None and report.boundary_merges:
        notes.append(
            f"{plural(report.boundary_merges, 'row')} where the tokenizer merges tokens across the "
            f"prompt/completion boundary (e.g. rows {report.boundary_examples}); their "
            "completion starts where the two tokenisations diverge"
        )
    if report is not None and report.truncated:
        notes.append(f"{plural(report.truncated, 'row')} truncated to max_length={max_length}")
    keep = _trainable(rows, layout, max_length)
    dropped = keep.count(False)
    if dropped:
        rows = {k: [v for v, ok in zip(col, keep, strict=True) if ok] for k, col in rows.items()}
        why = (
            f"longer than max_length={max_length}"
            if layout == "scored-pairs"
            else "with nothing left to train on"
            + (
                f" (their completion is cut away by max_length={max_length}: the prompt fills it;"
                " `trlprep convert --tokenize` refuses these rows, listing each)"
                if max_length
                else ""
            )
        )
        notes.append(f"dropped {plural(dropped, 'row')} {why}")
    for note in notes:
        log(f"data: {note}")
    if dropped == len(keep):
        raise DataError(
            "no training rows left after tokenisation",
            hint="every row was dropped; raise --max-length"
            if max_length
            else "check that the rows have completions",
        )
    return Prepared(rows, source, route, templated, dropped=dropped, notes=notes, rejects=rejected)
