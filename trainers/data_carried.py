"""The hidden columns a training table carries through the conversion (each row's input
position, the conversational prompts reward functions get, the turns assistant masks are
cut from, the token record of a file made by `trlprep convert --tokenize`) and the type an
algorithm trains data of one type as."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import TrlprepError
from trlprep.registry import Format, get_type
from trlprep.wording import plural

MESSAGES_COLUMN = "__trlprep_prompt_messages"  # carries conversational prompts through convert
# carried through convert: each output row's position in the converted table, so rows of a
# conversion that unpairs, splits or filters rows are still named by their input lines
INPUT_ROW = "__trlprep_input_row"


def kept_turns(table: pa.Table, dst: str, keep: bool | None) -> pa.Table:
    """`table` carrying its conversation (the messages of language modeling, the prompt and
    completion of prompt-completion) hidden for its assistant masks, where `keep` asks for
    them or, None, where its messages carry weights."""
    from trlprep.templates.assistant_tokens import carry_turns, has_weights

    pc = ("prompt", "completion")
    conversation = {"language-modeling": ("messages",), "prompt-completion": pc}.get(dst)
    if conversation is None or any(c not in table.column_names for c in conversation):
        return table
    if keep or any(has_weights(table[c]) for c in conversation):
        return carry_turns(table, conversation)
    return table


def numbered(table: pa.Table) -> pa.Table:
    """`table` with `INPUT_ROW`: each row's position."""
    return table.append_column(INPUT_ROW, pa.array(np.arange(table.num_rows), pa.int64()))


def rendered_by_template(raw: pa.Table) -> bool:
    """Whether `raw` is `convert --chat-template --tokenize` output (its record names one)."""
    from trlprep.templates.tokenrecord import read_record

    record = read_record(raw.schema)
    return record is not None and record.get("chat_template") is not None


def with_record_of(raw: pa.Table, table: pa.Table) -> pa.Table:
    """`table` (converted) with the tokenisation record of the data it came from, if any
    (`templates.tokenrecord`): its text was rendered by a chat template, or not."""
    from trlprep.templates.tokenrecord import KEY

    record = (raw.schema.metadata or {}).get(KEY)
    if record is None or KEY in (table.schema.metadata or {}):
        return table
    return table.replace_schema_metadata({**(table.schema.metadata or {}), KEY: record})


def prompt_messages(source: pa.Table, dst: Any, rows: int) -> tuple[Any, str]:
    """The conversational prompts of `source` (rows a conversion to `dst` kept) where its
    prompt is no column of its own (messages + label, implicit preference): the same
    conversion without the chat template. (None, why) if it does not give one prompt a
    row of the `rows` the templated conversion gave."""
    from trlprep.api import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # said once already, by the conversion itself
            plain = convert(source, to=dst.name)
    except TrlprepError as e:
        return None, f"converting the prompts without the chat template failed: {e.message}"
    if "prompt" not in plain.column_names:
        return None, f"the conversion to {dst.name} without the chat template gives no prompt"
    if plain.num_rows != rows:
        return None, (
            f"the conversion without the chat template gives {plural(plain.num_rows, 'row')}, "
            f"with it {plural(rows, 'row')}"
        )
    return plain.column("prompt"), ""


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


def prompt_ids_as_queries(table: pa.Table) -> pa.Table:
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
