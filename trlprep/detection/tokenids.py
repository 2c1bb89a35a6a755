"""Samples held as token ids, not text (OpenAI's lm-human-preferences labels: `query`,
`sample0` ... `sample3` as GPT-2 token ids, `best` the preferred sample's index): no
layout reads them, since decoding needs the tokenizer they were made with; the advice says
how TRL's scripts decode them."""

from __future__ import annotations

import re

import pyarrow as pa

from trlprep.columns.arrowtypes import is_list

_SAMPLE = re.compile(r"^sample\d+$")


def token_id_samples(schema: pa.Schema) -> str | None:
    """The advice for lm-human-preferences' token-id columns, or None for other data."""
    names = set(schema.names)
    samples = sorted(n for n in names if _SAMPLE.match(n))
    if "query" not in names or "best" not in names or len(samples) < 2:
        return None
    if not all(_ids(schema.field(n).type) for n in ["query", *samples]):
        return None
    return (
        f"columns query and {', '.join(samples)} hold token ids, and best the index of the "
        "preferred sample (OpenAI's lm-human-preferences labels): trlprep reads text, never "
        "token ids, so decode them first with the tokenizer that made them (GPT-2), as TRL's "
        "examples/datasets/lm-human-preferences-*.py do: prompt = the query decoded and "
        "stripped, chosen = sample<best>, rejected = the first sample decoding otherwise; "
        "those columns are then preference data as they are"
    )


def _ids(t: pa.DataType) -> bool:
    return is_list(t) and (pa.types.is_integer(t.value_type) or pa.types.is_null(t.value_type))
