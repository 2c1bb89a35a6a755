"""`--assistant-masks`: conversations tokenised with TRL's `assistant_masks`
(`templates.assistant_tokens`): the conversations (language modeling's messages,
prompt-completion's prompt and completion) are kept, hidden, through the render
(`keep_turns`) and masked beside their token ids (`masked`)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from trlprep.errors import UsageError

# the columns one row's conversation is made of, by the type the conversion gives
_CONVERSATION = {
    "language-modeling": ("messages",),
    "prompt-completion": ("prompt", "completion"),
}


def asked(render: Any, assistant_masks: bool, tokenize: bool) -> Any:
    """`render` (`make_render`'s) set to add the masks where `assistant_masks` asks."""
    if not assistant_masks:
        return render
    if not tokenize:
        raise UsageError(
            "--assistant-masks marks the token ids of assistant messages: it needs --tokenize"
        )
    render.assistant_masks = True
    return render


def keep_turns(table: pa.Table, plan: Any) -> pa.Table:
    """`table` with its conversations kept for their masks where the plan asks for them; a
    UsageError where there are none to mask (another type, standard text)."""
    from trlprep.templates.assistant_tokens import carry_turns

    if not plan.render.assistant_masks:
        return table
    check_maskable(plan)
    return carry_turns(table, _CONVERSATION[plan.dst.name])


def check_maskable(plan: Any) -> None:
    """A UsageError where the plan asks for masks of rows that are not conversational
    language modeling or prompt-completion (nothing to mask)."""
    from trlprep.registry import Format

    r = plan.render
    if r is None or not r.assistant_masks:
        return
    if plan.dst.name not in _CONVERSATION or plan.fmt is not Format.CONVERSATIONAL:
        _refuse(plan)


def masked(table: pa.Table, plan: Any) -> pa.Table:
    """A tokenised table with its `assistant_masks` where the plan asks for them (rows
    whose masks cannot be found exactly: one `RowFailures`)."""
    from trlprep.templates.assistant_tokens import carried_conversation, with_assistant_masks

    r = plan.render
    if not r.assistant_masks:
        return table
    if carried_conversation(table) is None or r.template is None:
        _refuse(plan)
    return with_assistant_masks(
        table, r.template, r.tokenizer, max_length=r.max_length, truncation=r.truncation,
        num_proc=r.num_proc, tools=r.tools, template_kwargs=r.template_kwargs,
    )  # fmt: skip


def _refuse(plan: Any) -> None:
    raise UsageError(
        "--assistant-masks marks the assistant messages of conversational language modeling "
        f"or prompt-completion; this conversion gives {plan.dst.name} "
        f"({plan.fmt.name.lower()})",
        hint="drop --assistant-masks",
    )
