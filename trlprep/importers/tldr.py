"""Reddit TL;DR posts (OpenAI's `tldr_3_filtered`, `vwxyzjn/summarize_from_feedback_tldr_3_
filtered`): `subreddit`, `title`, `post`, `summary` -> prompt-completion, as TRL's
`examples/datasets/tldr.py` (v0.17) writes `trl-lib/tldr`, byte for byte.

prompt = `"SUBREDDIT: r/{subreddit}\\n\\nTITLE: {title}\\n\\nPOST: {post}\\n\\nTL;DR:"` (the post
as it is), completion = `" " + summary` (TRL's leading space, added whatever the summary
starts with). A null field (TRL would write `None` into the prompt) and an empty summary (no
completion to learn) are refused. Other columns (`id`) are carried along.

The prompt builders are shared with the `tldr-preference` layout (`tldr_preference`), whose
TRL script builds the same Reddit prompt with the post's blank lines squeezed, and a CNN /
Daily Mail article's own.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_string
from trlprep.importers.alpaca import _join, _text
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.registry import PROMPT_COMPLETION, DatasetType, Format

FIELDS = ("subreddit", "title", "post")
CONSUMED = (*FIELDS, "summary")
ENDING = "\n\nTL;DR:"


def reddit_prompt(subreddit: pa.Array, title: pa.Array, post: pa.Array) -> pa.Array:
    """TRL's Reddit prompt: SUBREDDIT: r/.., TITLE: .., POST: .., TL;DR: (null where a part is)."""
    return _join("SUBREDDIT: r/", subreddit, "\n\nTITLE: ", title, "\n\nPOST: ", post, ENDING)


def news_prompt(title: pa.Array, article: pa.Array) -> pa.Array:
    """TRL's CNN / Daily Mail prompt: TITLE: .., the article, TL;DR: (null where a part is)."""
    return _join("TITLE: ", title, "\n\n", article, ENDING)


def squeezed(text: pa.Array) -> pa.Array:
    """Each blank line made a line break, as Python's `text.replace("\\n\\n", "\\n")` (one
    pass, left to right: three line breaks become two)."""
    return pc.replace_substring(text, "\n\n", "\n")


def mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, null as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), bool)


class TLDR(Importer):
    name = "tldr"
    aliases = ("reddit-tldr", "tldr-3-filtered", "tldr-sft")
    description = (
        "Reddit TL;DR posts (subreddit, title, post, summary: OpenAI's tldr_3_filtered) -> "
        "prompt-completion as TRL's tldr.py writes trl-lib/tldr: prompt 'SUBREDDIT: r/.. "
        "TITLE: .. POST: .. TL;DR:', completion ' ' + summary. Null fields and empty "
        "summaries are reported."
    )
    reads = "subreddit, title, post, summary [+ id]"
    columns = CONSUMED

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return all(c in schema.names and is_string(schema.field(c).type) for c in CONSUMED)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PROMPT_COMPLETION, Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            'prompt: "SUBREDDIT: r/{subreddit}\\n\\nTITLE: {title}\\n\\nPOST: {post}\\n\\n'
            "TL;DR:\" (TRL's tldr.py)",
            'completion: " " + summary (TRL\'s leading space)',
            "a null subreddit, title, post or summary, or an empty summary -> reported",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, *CONSUMED, layout="tldr")
        parts = [_text(table, name, bad) for name in FIELDS]
        for name, col in zip(FIELDS, parts, strict=True):
            bad.add(mask(col.is_null()), f"{name} is null (TRL's tldr.py would write None)")
        summary = _text(table, "summary", bad, required=True)
        produced = {"prompt": reddit_prompt(*parts), "completion": _join(" ", summary)}
        return Converted(assemble(table, produced, CONSUMED))
