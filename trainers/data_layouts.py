"""Each algorithm's token-id rows (`LAYOUTS`) from a standard table, as TRL's trainers lay
them out: standard text gets an EOS after each completion (`add_eos`), rendered chat text
does not (the template wrote its end-of-turn); sequences longer than `max_length` are
truncated as `truncation_mode` says, and rows left with nothing to train on (their prompt
fills `max_length`) are dropped (`trainable`). Reward-model rows longer than `max_length`
are dropped rather than cut, as TRL's RewardTrainer does (a cut sequence would be scored on
its start). Process reward rows carry each step's label on the step's last token (the
separator's), -100 elsewhere; with `train_on_last_step_only` only the last step's label is
kept, in training only (as TRL's PRMTrainer).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from trlprep.trainers.assistant_masks import WHOLE_MASKS, onto_ids
from trlprep.trainers.data_table import MESSAGES_COLUMN

from trlprep.errors import UsageError
from trlprep.wording import noun

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


def _ids(table: pa.Table, name: str) -> list[list[int]]:
    return table.column(name).to_pylist()


def _lm_rows(table: pa.Table, options: Any, truncation: str) -> dict[str, list]:
    """Ids and the loss mask: where every mask that applies is 1, as TRL's SFTTrainer builds
    its labels (`completion_mask` unless `completion_only_loss=False`, `assistant_masks`
    unless `assistant_only_loss=False`)."""
    ids = _ids(table, "input_ids")
    completion = None
    if "completion_mask" in table.column_names and (
        getattr(options, "completion_only_loss", None) is not False
    ):
        completion = _ids(table, "completion_mask")
    if WHOLE_MASKS in table.column_names:  # prompt-completion rows' assistant masks
        return {"ids": ids, "mask": onto_ids(table, ids, completion, truncation)}
    assistant = None
    if _MASKS in table.column_names and getattr(options, "assistant_only_loss", None) is not False:
        # the file's masks, cut from the side its ids were cut from
        keep_end = truncation == "keep_end"
        assistant = [
            list(m)[len(m) - len(x) :] if keep_end else list(m)[: len(x)]
            for x, m in zip(ids, _ids(table, _MASKS), strict=True)
        ]
    if assistant is not None and completion is not None:
        both = zip(assistant, completion, strict=True)
        return {"ids": ids, "mask": [[a & c for a, c in zip(*m, strict=True)] for m in both]}
    if assistant is not None or completion is not None:
        return {"ids": ids, "mask": assistant if assistant is not None else completion}
    return {"ids": ids, "mask": [[1] * len(x) for x in ids]}


_MASKS = "assistant_masks"  # TRL's column: 1 on the tokens of assistant messages


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
        if (
            "assistant_masks" in table.column_names
            and getattr(options, "assistant_only_loss", None) is not False
        ):  # TRL's column: the loss on assistant messages only
            return {
                "ids": ids,
                "mask": [list(m)[cut] for m in _ids(table, "assistant_masks")],
            }, None
        return {"ids": ids, "mask": [[1] * len(x) for x in ids]}, None
    reward = layout == "scored-pairs"
    if given_ids:
        table, report = refit_table(
            table, dtype, max_length=None if reward else max_length, truncation=truncation
        )
    else:
        if _MASKS in table.column_names and layout == "lm":
            raise UsageError(
                "the data's assistant_masks belong to its token ids, and this run tokenises "
                "its text again (see the note above): the masks would not fit the new ids",
                hint="train with the options the file was tokenised with (the note names "
                "them), or tokenise the conversations again with `trlprep convert --tokenize "
                "--assistant-masks` and this run's options",
            )
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
        rows = _lm_rows(table, options, truncation)
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


def trainable(rows: dict[str, list], layout: str, max_length: int | None) -> list[bool]:
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


def why_dropped(
    layout: str,
    max_length: int | None,
    dtype: str = "",
    refused_by: str | None = None,
    rows: int = 2,
) -> str:
    """Why `trainable` refused `rows` rows of `layout` (tokenised as `dtype` data);
    `refused_by`: the `trlprep convert` command that refuses them too, for a note to name."""
    if layout == "scored-pairs":
        return f"longer than max_length={max_length}"
    if not max_length:
        return "with nothing left to train on"
    if layout == "stepwise":
        return f"with nothing left to train on (max_length={max_length} leaves no whole step)"
    if layout == "prompts":
        return "with an empty prompt"
    if dtype == "language-modeling":  # no completion: a sequence of one token predicts none
        return "with nothing left to train on (one token or none: nothing to predict)"
    these = f"{noun(rows, 'this')} {noun(rows, 'row')}"
    each = noun(rows, "it", "each")
    listed = f"; `{refused_by}` refuses {these}, listing {each}" if refused_by else ""
    return (
        f"with nothing left to train on ({noun(rows, 'its', 'their')} completion is cut away "
        f"by max_length={max_length}: the prompt fills it{listed})"
    )
