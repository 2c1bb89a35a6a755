"""SFT's loss on what the data says to train on: conversational language-modeling rows
tokenised with their assistant masks (`trlprep.templates.assistant_tokens`).

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

from trlprep.errors import DataError, UsageError
from trlprep.templates.assistant_tokens import CARRIED, MASKS, carried_turns
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
) -> tuple[Any, pa.Table | None, str | None]:
    """`made` (a `TrainingTable` of language-modeling rows) with `input_ids` and
    `assistant_masks` in place of its text where its loss goes on assistant messages; the
    rows refused (as rejects: row, line, stage, reason, record) and what the loss is on
    (None: every token)."""
    table = made.table
    asked = getattr(options, "assistant_only_loss", None)
    if CARRIED["messages"] not in table.column_names:
        if asked and MASKS not in table.column_names:
            raise UsageError(
                "--assistant-only-loss needs conversational language-modeling data (a "
                "messages column) or token ids with an assistant_masks column; this data is "
                f"{' -> '.join(made.route)}",
                hint="drop --assistant-only-loss (prompt-completion rows train on their "
                "completion only already)",
            )
        given = MASKS in table.column_names and asked is not False
        return made, None, "assistant messages" if given else None
    from trlprep.templates.assistant_tokens import has_weights

    hidden = [c for c in CARRIED.values() if c in table.column_names]
    weighted = has_weights(table.column(CARRIED["messages"]))
    if asked is False or (asked is None and not weighted):
        if weighted:
            log(
                "warning: the messages carry per-message weights, not used: "
                "--no-assistant-only-loss trains on every token"
            )
        return made._replace(table=table.drop_columns(hidden)), None, None
    if asked is None:
        log(
            "note: the messages carry per-message weights: the loss goes on the assistant "
            "messages whose weight is not 0, as OpenAI's fine-tuning trains them (pass "
            "--no-assistant-only-loss to train on every token)"
        )
    return _masked(made, hidden, tokenizer, chat_template, on_error, path, log)


def _masked(made, hidden, tokenizer, chat_template, on_error, path, log):
    from trlprep.templates.assistant_tokens import mask_conversations
    from trlprep.templates.sources import load_template

    table = made.table
    template = load_template(chat_template if chat_template is not None else tokenizer, tokenizer)
    turns = carried_turns(table)
    texts = table.column("text").to_pylist() if "text" in table.column_names else None
    masked = mask_conversations(turns, template, tokenizer, texts=texts)
    lines = made.input_lines
    refused = sorted(masked.refused)
    if refused and on_error != "skip":
        r = refused[0]
        line = None if lines is None else int(lines[r])
        row = None if made.input_rows is None else int(made.input_rows[r])
        more = f" (and {plural(len(refused) - 1, 'other row')})" if len(refused) > 1 else ""
        raise DataError(
            f"assistant-only loss: {masked.refused[r]}{more}",
            hint="set the rows aside with --on-error skip (listed in the rejects file)",
            path=path,
            line=line,
            row=None if line is not None else row,
        )
    keep = np.ones(table.num_rows, bool)
    keep[refused] = False
    rejects = _rejects(turns, made, refused, masked.refused) if refused else None
    ids = pa.array([x for x, k in zip(masked.input_ids, keep, strict=True) if k], _IDS)
    masks = pa.array([x for x, k in zip(masked.assistant_masks, keep, strict=True) if k], _IDS)
    out = table.drop_columns([*hidden, *(c for c in ("text",) if c in table.column_names)])
    out = out.filter(pa.array(keep)).append_column("input_ids", ids).append_column(MASKS, masks)
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


__all__ = ["MASKS", "apply", "loss_note"]
