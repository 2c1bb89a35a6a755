"""Conversations tokenised with TRL's `assistant_masks`: 1 on the tokens of assistant
messages the data trains on (`spans`), 0 elsewhere.

Per-message weights (OpenAI's `weight`, LLaMA-Factory's `loss_weight`, xtuner's `loss`
true/false where a message has no weight): an assistant message whose weight is 0 is masked out,
1 (or no weight) is trained on. A fractional weight is refused with its row: the loss is a
mean over trained tokens, and scaling some tokens in it would be a loss of its own.

Rendering is per row (Jinja); tokenising is one batched call of the fast tokenizer with
character offsets, the masks read off them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import UsageError
from trlprep.templates.rowvalues import check_read, column_values, side_values
from trlprep.templates.rules import RowError
from trlprep.templates.spans import assistant_spans, token_mask
from trlprep.templates.template import ChatTemplate

MASKS = "assistant_masks"  # TRL's column name
WEIGHT = "weight"
LOSS = "loss"  # xtuner's per-message switch, read as weight 1/0 where no weight is given


@dataclass
class Masked:
    """Each row's ids and assistant mask (empty lists for refused rows), the refused rows
    (row -> reason) and what the masks hold."""

    input_ids: list[list[int]]
    assistant_masks: list[list[int]]
    refused: dict[int, str] = field(default_factory=dict)
    weighted_out: int = 0  # assistant messages whose weight 0 left them out of the loss
    assistant_messages: int = 0


# the conversation and what its template reads beside it, carried (hidden) through the
# render that turns them into text
CARRIED = {
    "messages": "__trlprep_turns",
    "prompt": "__trlprep_turns_prompt",
    "completion": "__trlprep_turns_completion",
    "tools": "__trlprep_turns_tools",
    "chat_template_kwargs": "__trlprep_turns_kwargs",
}
# the columns one conversation is made of: language modeling's, prompt-completion's
CONVERSATIONS = (("messages",), ("prompt", "completion"))
SIDE = ("tools", "chat_template_kwargs")


def carry_turns(table: pa.Table, conversation: tuple[str, ...] = ("messages",)) -> pa.Table:
    """`table` with hidden copies (`CARRIED`) of the columns of its `conversation` and of
    what its template reads beside them."""
    for name in (*conversation, *SIDE):
        hidden = CARRIED[name]
        if name in table.column_names and hidden not in table.column_names:
            table = table.append_column(hidden, table.column(name))
    return table


def carried_conversation(table: pa.Table) -> tuple[str, ...] | None:
    """The conversation columns `table` carries hidden (`CONVERSATIONS`), or None."""
    return next(
        (c for c in CONVERSATIONS if all(CARRIED[n] in table.column_names for n in c)), None
    )


def carried_turns(table: pa.Table) -> pa.Table:
    """The hidden conversation columns of `table`, under their own names."""
    hidden = [c for c in CARRIED.values() if c in table.column_names]
    names = {v: k for k, v in CARRIED.items()}
    return table.select(hidden).rename_columns([names[c] for c in hidden])


def with_assistant_masks(
    table: pa.Table,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    max_length: int | None = None,
    truncation: str = "keep_start",
    num_proc: int | None = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
) -> pa.Table:
    """A tokenised language-modeling or prompt-completion table (`input_ids`, cut by
    `max_length` as `truncation` says) carrying its conversations (`carry_turns`) with
    `assistant_masks` beside its ids and the hidden columns dropped (prompt-completion: the
    masks of prompt + completion, over the same ids as `completion_mask`, as TRL's
    SFTTrainer tokenises them). Rows whose masks cannot be found exactly raise one
    `RowFailures` (stage `assistant masks`). `tools`, `template_kwargs`: the render's."""
    from trlprep.errors import RowFailures

    hidden = [c for c in CARRIED.values() if c in table.column_names]
    conversation = carried_conversation(table) or ("messages",)
    masked = mask_conversations(
        carried_turns(table), template, tokenizer, messages=conversation,
        texts=rendered_texts(table, conversation), num_proc=num_proc, tools=tools,
        template_kwargs=template_kwargs,
    )  # fmt: skip
    given = table.column("input_ids").to_pylist()
    masks = []
    for i, (ids, whole, mask) in enumerate(
        zip(given, masked.input_ids, masked.assistant_masks, strict=True)
    ):
        if i in masked.refused:
            masks.append([])
            continue
        at = len(whole) - len(ids) if truncation == "keep_end" else 0
        if whole[at : at + len(ids)] != ids:  # never expected: the same text, tokenised alike
            masked.refused[i] = "its token ids differ from those of its conversation"
        masks.append(mask[at : at + len(ids)])
    if masked.refused:
        rows = sorted(masked.refused)
        raise RowFailures(
            rows,
            [masked.refused[r] for r in rows],
            stage="assistant masks",
            hint="use a chat template with {% generation %} markers, or set these rows aside "
            "(--on-error skip)",
        )
    out = table.drop_columns(hidden)
    return out.append_column(MASKS, pa.array(masks, pa.list_(pa.int8())))


def rendered_texts(table: pa.Table, conversation: tuple[str, ...]) -> list[str | None] | None:
    """Each row's conversation as the conversion rendered it: language modeling's `text`,
    prompt-completion's prompt and completion text one after the other (None: not there)."""
    import pyarrow.compute as pc

    names = ["text"] if conversation == ("messages",) else list(conversation)
    if any(c not in table.column_names for c in names):
        return None
    if len(names) == 1:
        return table.column(names[0]).to_pylist()
    return pc.binary_join_element_wise(*(table[c] for c in names), "").to_pylist()


def has_weights(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a messages column holds a per-message `weight` that is set in some message."""
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = t.value_type
        if pa.types.is_struct(item):
            flat = pc.list_flatten(column)
            return any(
                item.get_field_index(f) >= 0 and pc.struct_field(flat, f).null_count < len(flat)
                for f in (WEIGHT, LOSS)
            )
        return False
    if pa.types.is_string(t) or pa.types.is_large_string(t):  # JSON text
        return any(
            isinstance(m, dict) and (m.get(WEIGHT) is not None or m.get(LOSS) is not None)
            for v in column.to_pylist()
            if v
            for m in (json.loads(v) if isinstance(v, str) else v)
        )
    return False


def mask_conversations(
    table: pa.Table,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    messages: str | tuple[str, ...] = "messages",
    texts: list[str | None] | None = None,
    num_proc: int | None = None,
    counted: str | None = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
) -> Masked:
    """Render and tokenise the conversations of column `messages` (several columns: each
    row's conversation is theirs one after the other, as `prompt` + `completion`; with the
    row's `tools` and `chat_template_kwargs` columns, as the table renderer reads them) with
    their assistant masks. `texts`: each row's text as the conversion rendered it; a row whose
    conversation renders otherwise here is refused rather than masked on other text.
    `counted`: the column whose assistant messages `Masked` counts (those the loss can
    reach: a prompt-completion row's completion); None: every column's. `tools` and
    `template_kwargs`: the job's, under each row's own `tools` and `chat_template_kwargs`.
    Large tables are rendered in `num_proc` worker processes (default: the cores), as the
    table renderer does; the tokenizer runs once, batched, here."""
    from trlprep.templates.table import MIN_ROWS_PER_WORKER, available_cores

    tok = _fast(tokenizer)
    ends = [str(t) for t in getattr(tok, "all_special_tokens", [])]
    ends += [t.content for t in getattr(tok, "added_tokens_decoder", {}).values()]
    n = table.num_rows
    side = (tools, dict(template_kwargs or {}))
    job = (template, tuple(dict.fromkeys(ends)), messages, counted, side)
    workers = max(1, min(num_proc or available_cores(), n // MIN_ROWS_PER_WORKER))
    if workers > 1:
        from trlprep.templates.parallel import run_parallel

        parts = run_parallel(job, [(0, table)], workers, None, fn=_spans_batch)
    else:
        parts = {0: _spans_batch(job, table, 0)}
    out = Masked([[] for _ in range(n)], [[] for _ in range(n)])
    rendered: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    kept: list[int] = []
    for start in sorted(parts):
        found, counts = parts[start]
        out.weighted_out += counts[0]
        out.assistant_messages += counts[1]
        for i, (text, trained) in enumerate(found, start):
            if trained is None:
                out.refused[i] = text
            elif texts is not None and texts[i] is not None and texts[i] != text:
                out.refused[i] = (
                    f"{_label(messages)}: the conversation renders otherwise alone than in the "
                    "converted table (media or parts the table's renderer prepares), so its "
                    "assistant tokens cannot be placed exactly"
                )
            else:
                rendered.append(text)
                spans.append(trained)
                kept.append(i)
    if rendered:
        enc = tok(rendered, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        for i, ids, offs, row_spans in zip(
            kept, enc["input_ids"], enc["offset_mapping"], spans, strict=True
        ):
            out.input_ids[i] = list(ids)
            offsets = np.asarray(offs, np.int64).reshape(-1, 2)
            out.assistant_masks[i] = token_mask(offsets, row_spans).tolist()
    return out


def _label(messages: str | tuple[str, ...]) -> str:
    return messages if isinstance(messages, str) else "+".join(messages)


def trained_spans(
    table: pa.Table,
    template: ChatTemplate,
    tokenizer: Any = None,
    *,
    messages: str | tuple[str, ...] = "messages",
    tools: Any = None,
    template_kwargs: dict | None = None,
) -> list[tuple[str, list[tuple[int, int]] | None]]:
    """Per row of `table` (a few rows: rendered here, one by one): its render and the
    character spans SFT's weighted loss trains on (`mask_conversations`' spans), or why the
    row is refused and None."""
    ends: list[str] = []
    if tokenizer is not None:
        ends = [str(t) for t in getattr(tokenizer, "all_special_tokens", [])]
        ends += [t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values()]
    side = (tools, dict(template_kwargs or {}))
    job = (template, tuple(dict.fromkeys(ends)), messages, None, side)
    return _spans_batch(job, table, 0)[0]


def _spans_batch(job: tuple, batch: pa.Table, start: int) -> tuple[list, tuple[int, int]]:
    """Per row of `batch`: (its render, the character spans trained on) or (why it is
    refused, None); and the counts of weight-0 and of assistant messages."""
    from trlprep.io.jsonargs import has_tagged_arguments
    from trlprep.templates.inputs import prepare
    from trlprep.templates.probes import parts_only_roles, parts_roles

    template, ends, messages, counted, (job_tools, job_kwargs) = job
    columns = (messages,) if isinstance(messages, str) else tuple(messages)
    label = _label(messages)
    n = batch.num_rows
    # tool-call arguments as JSON text: read as the renderer reads them, column by column
    args_text = {c: has_tagged_arguments(batch.schema.field(c).type) for c in columns}
    convs = {c: column_values(batch, c, start) for c in columns}
    tools, kwargs = side_values(batch, start, np.arange(n), job_tools, job_kwargs)
    roles = parts_roles(template)
    parts_only = parts_only_roles(template)
    tally = Masked([], [])
    found: list[tuple[str, list | None]] = []
    for i in range(n):
        try:
            check_read(*(convs[c][i] for c in columns), tools[i], kwargs[i])
            chat: list = []
            first = 0  # the first message counted
            for c in columns:
                if c == counted:
                    first = len(chat)
                if not isinstance(convs[c][i], list):
                    raise RowError("the conversation is missing", c)
                part, _ = prepare(
                    convs[c][i], c, roles, template_name=template.name,
                    args_text=args_text[c], parts_only=parts_only,
                )  # fmt: skip
                chat += part
            if not chat:
                raise RowError("the conversation is empty", label)
            text, spans = assistant_spans(
                template, chat, tools[i], kwargs[i], end_tokens=ends, column=label
            )
            found.append((text, _weighted(chat, spans, tally, label, first)))
        except RowError as e:
            hint = f" ({e.hint})" if e.hint else ""
            found.append((f"{e.column or label}: {e.message}{hint}", None))
    return found, (tally.weighted_out, tally.assistant_messages)


def _weighted(
    chat: list, found: list, out: Masked, column: str, first: int = 0
) -> list[tuple[int, int]]:
    """The spans trained on: those of messages whose weight is not 0; a fractional weight is
    refused (RowError), and so are weights that the marked spans cannot be put on. `out`
    counts the assistant messages from `first` on, and those of them with weight 0."""
    weights = {}
    for i, m in enumerate(chat):
        w = m.get(WEIGHT) if isinstance(m, dict) else None
        if w is None and isinstance(m, dict) and isinstance(m.get(LOSS), bool):
            w = int(m[LOSS])
        if w is None or m.get("role") != "assistant":
            continue
        if w not in (0, 1):  # true/false read as 1/0
            raise RowError(
                f"message {i + 1} (assistant) has weight {w!r}: only 0 (left out of the loss) "
                "or 1 (trained on) is taken",
                column,
                hint="set each weight to 0 or 1 (a fractional weight would scale that message's "
                "tokens in the loss, which this trainer does not do)",
            )
        weights[i] = int(w)
    out.assistant_messages += sum(1 for m in chat[first:] if m.get("role") == "assistant")
    if any(s.message is None for s in found):
        if any(w == 0 for w in weights.values()):
            raise RowError(
                f"the template's {{% generation %}} markers mark {len(found)} spans for "
                f"{sum(1 for m in chat if m.get('role') == 'assistant')} assistant messages, so "
                "the messages' weights cannot be put on them",
                column,
                hint="use a template that marks each assistant message once",
            )
    out.weighted_out += sum(1 for i, w in weights.items() if w == 0 and i >= first)
    return [(s.start, s.end) for s in found if weights.get(s.message, 1)]


def _fast(tokenizer: Any) -> Any:
    from trlprep.templates.sources import load_tokenizer

    tok = load_tokenizer(tokenizer)
    if not getattr(tok, "is_fast", False):
        raise UsageError(
            "assistant masks need a fast tokenizer (its character offsets place each token)",
            hint="load the model's fast tokenizer (a tokenizer.json beside it)",
        )
    return tok


__all__ = [
    "CARRIED",
    "CONVERSATIONS",
    "MASKS",
    "WEIGHT",
    "Masked",
    "carried_conversation",
    "carried_turns",
    "carry_turns",
    "has_weights",
    "mask_conversations",
    "rendered_texts",
    "with_assistant_masks",
]
