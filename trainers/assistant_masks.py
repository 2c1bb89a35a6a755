"""SFT's loss on what the data says to train on: conversational language-modeling rows
tokenised with their assistant masks (`trlprep.templates.assistant_tokens`), and
conversational prompt-completion rows with the masks of prompt + completion on their ids
(`onto_ids`: the loss where the assistant mask and, unless
`completion_only_loss=False`, the completion mask are both 1, as TRL's SFTTrainer).

- `assistant_only_loss=True` (TRL's SFTConfig name): the loss only on assistant messages
  (their content, tool calls and end-of-turn token);
- left unset, data whose messages carry a `weight` (OpenAI's 0/1, LLaMA-Factory's
  `loss_weight`, xtuner's `loss`) is trained as OpenAI's fine-tuning trains it: on the
  assistant messages whose weight is not 0, nothing else;
- `assistant_only_loss=False`: every token, the weights not used (said in the log).

Rows whose assistant tokens cannot be found exactly (a template that is not prefix-stable
and has no `{% generation %}` markers, a fractional weight) stop the run naming their
input line, or with `on_error="skip"` are left out and listed with the other rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import DataError, UsageError, in_callers_words
from trlprep.templates.assistant_tokens import (
    CARRIED,
    MASKS,
    carried_conversation,
    carried_turns,
    rendered_texts,
)
from trlprep.wording import plural


def apply(
    made: Any,
    options: Any,
    tokenizer: Any,
    chat_template: Any,
    *,
    on_error: str = "stop",
    path: str | None = None,
    log: Callable[[str], None] = lambda _: None,
    template_kwargs: dict[str, Any] | None = None,
    tools: list | None = None,
) -> tuple[Any, pa.Table | None, str | None]:
    """`made` (a `TrainingTable` of language-modeling or prompt-completion rows) with the
    masks of its assistant messages where its loss goes on them (language modeling:
    `input_ids` and `assistant_masks` in place of its text; prompt-completion: the whole
    conversation's ids and masks in hidden columns, put on its ids by `onto_ids`); the rows
    refused (as rejects: row, line, stage, reason, record) and what the loss is on (None:
    every token, or the completion)."""
    from trlprep.templates.assistant_tokens import has_weights

    table = made.table
    asked = getattr(options, "assistant_only_loss", None)
    conversation = carried_conversation(table)
    if conversation is None:
        if asked and MASKS not in table.column_names:
            raise _unmaskable(made)
        given = MASKS in table.column_names and asked is not False
        return made, None, "assistant messages" if given else None
    hidden = [c for c in CARRIED.values() if c in table.column_names]
    weighted = any(has_weights(table.column(CARRIED[c])) for c in conversation)
    if asked is False or (asked is None and not weighted):
        if weighted:
            log(
                in_callers_words(
                    "warning: the messages carry per-message weights, not used: "
                    "--no-assistant-only-loss trains on every token"
                    + (" of the completion" if conversation != ("messages",) else "")
                )
            )
        return made._replace(table=table.drop_columns(hidden)), None, None
    if asked is None:
        log(
            in_callers_words(
                "note: the messages carry per-message weights: the loss goes on the assistant "
                "messages whose weight is not 0, as OpenAI's fine-tuning trains them (pass "
                "--no-assistant-only-loss to train on every token)"
            )
        )
    args = (tokenizer, chat_template, on_error, path, log, template_kwargs, tools)
    return _masked(made, options, conversation, hidden, *args)


def _unmaskable(made: Any) -> UsageError:
    if made.route[-1] == "prompt-completion":  # TRL's SFTTrainer refuses it too
        return UsageError(
            "--assistant-only-loss masks the assistant messages of conversational data; this "
            "prompt-completion data is "
            + ("token ids" if "input_ids" in made.table.column_names else "standard text")
            + " (a prompt and a completion, no messages), so there are none to mask",
            hint="drop --assistant-only-loss (prompt-completion rows train on their completion "
            "only already), or give the prompt and completion as messages",
        )
    return UsageError(
        "--assistant-only-loss needs conversational language-modeling or prompt-completion "
        "data (messages) or token ids with an assistant_masks column; this data is "
        f"{' -> '.join(made.route)}",
        hint="drop --assistant-only-loss",
    )


def _masked(
    made,
    options,
    conversation,
    hidden,
    tokenizer,
    chat_template,
    on_error,
    path,
    log,
    kwargs,
    tools,
):
    from trlprep.templates.assistant_tokens import mask_conversations
    from trlprep.templates.sources import load_template

    table = made.table
    src = chat_template if chat_template is not None else tokenizer
    template = load_template(src, tokenizer, template_kwargs=kwargs)
    turns = carried_turns(table)
    whole = conversation == ("messages",)  # else prompt-completion: its text is theirs together
    texts = rendered_texts(table, conversation)
    # the weight-0 messages counted are those the loss could reach: the completion's only,
    # unless the whole conversation is trained
    everything = whole or getattr(options, "completion_only_loss", None) is False
    masked = mask_conversations(
        turns, template, tokenizer, messages=conversation, texts=texts,
        counted=None if everything else "completion", template_kwargs=kwargs, tools=tools,
    )  # fmt: skip
    lines = made.input_lines
    refused = sorted(masked.refused)
    if refused and on_error != "skip":
        r = refused[0]
        line = None if lines is None else int(lines[r])
        row = None if made.input_rows is None else int(made.input_rows[r])
        more = f" (and {plural(len(refused) - 1, 'other row')})" if len(refused) > 1 else ""
        e = DataError(
            f"assistant-only loss: {masked.refused[r]}{more}",
            hint="set the rows aside with --on-error skip (listed in the rejects file)",
            path=path,
            line=line,
            row=None if line is not None else row,
        )
        raise _counted(e, made, len(refused))
    keep = np.ones(table.num_rows, bool)
    keep[refused] = False
    rejects = _rejects(turns, made, refused, masked.refused) if refused else None
    ids = pa.array([x for x, k in zip(masked.input_ids, keep, strict=True) if k], _IDS)
    masks = pa.array([x for x, k in zip(masked.assistant_masks, keep, strict=True) if k], _IDS)
    if whole:
        out = table.drop_columns([*hidden, *(c for c in ("text",) if c in table.column_names)])
        out = out.filter(pa.array(keep)).append_column("input_ids", ids)
        out = out.append_column(MASKS, masks)
    else:  # the text stays to be tokenised (and cut) as prompt-completion rows are
        out = table.drop_columns(hidden).filter(pa.array(keep))
        out = out.append_column(WHOLE_IDS, ids).append_column(WHOLE_MASKS, masks)
    made = made._replace(
        table=out,
        input_rows=None if made.input_rows is None else np.asarray(made.input_rows)[keep],
        input_lines=None if lines is None else np.asarray(lines)[keep],
    )
    if masked.weighted_out:
        log(
            f"{masked.weighted_out:,} of {plural(masked.assistant_messages, 'assistant message')} "
            "have weight 0: left out of the loss"
        )
        return made, rejects, "assistant messages with weight 1"
    return made, rejects, "assistant messages"


# a prompt-completion row's whole conversation tokenised and its assistant mask (hidden)
WHOLE_IDS = "__trlprep_turns_ids"
WHOLE_MASKS = "__trlprep_turns_masks"


def onto_ids(
    table: pa.Table, ids: list[list[int]], completion: list[list[int]] | None, truncation: str
) -> list[list[int]]:
    """The loss mask of prompt-completion rows `ids` (their prompt and completion tokenised
    and cut as `truncation` says): their conversation's assistant mask (`WHOLE_MASKS`) over
    the same tokens, and with the `completion` mask where it applies (the loss where both
    are 1). TRL 1.16's SFTTrainer does the same: `_prepare_dataset` tokenises prompt +
    completion with `return_assistant_tokens_mask`, and its labels keep a token where every
    mask that applies is 1 ("assistant_masks" always, "completion_mask" only with
    completion_only_loss)."""
    out = []
    rows = zip(table[WHOLE_IDS].to_pylist(), table[WHOLE_MASKS].to_pylist(), ids, strict=True)
    for i, (whole, mask, x) in enumerate(rows):
        at = len(whole) - len(x) if truncation == "keep_end" else 0
        if whole[at : at + len(x)] != x:  # never expected: the same text, tokenised alike
            raise DataError(
                f"row {i + 1}: its prompt and completion tokenise otherwise than its "
                "conversation, so its assistant tokens cannot be placed",
                hint="report this with the row; --no-assistant-only-loss trains on the completion",
            )
        m = mask[at : at + len(x)]
        if completion is not None:
            m = [a & c for a, c in zip(m, completion[i], strict=True)]
        out.append(m)
    return out


_IDS = pa.list_(pa.int32())


def _rejects(turns: pa.Table, made: Any, refused: list[int], reasons: dict) -> pa.Table:
    from trlprep.importers.rejects import REJECTS_SCHEMA, records

    at = np.asarray(refused, np.int64)
    rows = at if made.input_rows is None else np.asarray(made.input_rows)[at]
    lines = None if made.input_lines is None else np.asarray(made.input_lines)[at]
    return pa.Table.from_arrays(
        [
            pa.array(rows, pa.int64()),
            pa.array(lines, pa.int64()) if lines is not None else pa.nulls(len(at), pa.int64()),
            pa.array(["assistant masks"] * len(at), pa.string()),
            pa.array([reasons[r] for r in refused], pa.string()),
            pa.array(records(turns.take(pa.array(at))), pa.string()),
        ],
        schema=REJECTS_SCHEMA,
    )


def loss_note(rows: dict[str, list], what: str) -> str:
    """`loss on WHAT: N of M tokens` over the rows trained on (their first token is never
    predicted)."""
    trained = sum(sum(m[1:]) for m in rows["mask"])
    total = sum(max(len(m) - 1, 0) for m in rows["mask"])
    return f"loss on {what}: {trained:,} of {plural(total, 'token')}"


__all__ = ["MASKS", "WHOLE_IDS", "WHOLE_MASKS", "apply", "loss_note", "onto_ids"]


def _counted(e: DataError, made: Any, refused: int) -> DataError:
    """`e` with the counts of the converted rows the masks refused (`RowCounts`, said as
    train's data line), where each converted row is one input row."""
    if made.table.num_rows != made.rows_in:  # rows the conversion made: no input count
        return e
    from trlprep.trainers.data_rejects import trained

    from trlprep.errors import RowCounts

    route = " -> ".join(made.route)
    n = made.rows_in
    return trained(e, RowCounts(n, refused, n - refused, "", route, "would train"), n)
