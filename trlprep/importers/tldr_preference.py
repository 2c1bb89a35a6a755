"""OpenAI's summarize-from-feedback comparisons (`openai/summarize_from_feedback`, config
`comparisons`, or the released `comparisons/batch*.json` lines): `info` {id, post, title,
subreddit, site, article}, `summaries` [{text, policy, note}] (two), `choice` (0 or 1),
`worker`, `batch`, `split`, `extra` {confidence} -> preference, as TRL's
`examples/datasets/tldr_preference.py` (v0.17) writes `trl-lib/tldr-preference`, byte for byte.

The prompt follows the row's `batch`, as TRL's script does: CNN / Daily Mail batches
(`batch0_cnndm`, `cnndm0`, `cnndm2`) `"TITLE: {title}\\n\\n{article}\\n\\nTL;DR:"`, Reddit
batches (`batch3` .. `batch22`, `edit_b2_eval_test`) `"SUBREDDIT: r/{subreddit}\\n\\nTITLE:
{title}\\n\\nPOST: {post}\\n\\nTL;DR:"`, the post or article with each blank line made one
line break. TRL's script stops at any other batch; here such a row (or one with no `batch`)
gets the form of what its `info` holds (a post: Reddit's, else an article: CNN / Daily
Mail's), which is the form every known batch gets, and a note counts those rows and names
their batches. A row whose `info` lacks the text its batch needs (a null post in a Reddit
batch), or any text at all, is refused, as is a null title or subreddit (TRL would write
`None` into the prompt).

chosen = `summaries[choice].text`, rejected the other summary's, as they are: the released
summaries begin with a space, which separates them from `TL;DR:` (TRL adds none). A choice
other than 0 or 1, a `summaries` list not of two, a null or empty text are refused. Each
summary's `policy` (the model, or `ref` for the Reddit author's own TL;DR) becomes
`chosen_policy` / `rejected_policy`, following the texts; their `note`s and `info` (whose
texts are in the prompt) are left out; `worker`, `batch`, `split` and `extra` (the labeler's
`confidence`, kept as it is: the release does not document its scale, so no `margin` is
made of it) are carried along.

The `axis` config (`summary` {text, policy, note, axes {overall, accuracy, coverage,
coherence}}: one summary rated 1 to 7 on each axis, no pair) is read as unpaired preference
with `--threshold T`: prompt as above, completion the summary (a space put before it where
it starts with none, as TRL's tldr.py does), label `overall >= T`; `policy` and `axes` are
kept. Without `--threshold` it is refused, saying so.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.columns.listcut import spans
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError, UsageError
from trlprep.importers.alpaca import _join
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.tldr import mask, news_prompt, reddit_prompt, squeezed
from trlprep.registry import PREFERENCE, UNPAIRED_PREFERENCE, DatasetType, Format
from trlprep.wording import plural

NEWS_BATCHES = ("batch0_cnndm", "cnndm0", "cnndm2")  # TRL's CNN / Daily Mail batches
REDDIT_BATCHES = (*(f"batch{i}" for i in range(3, 23)), "edit_b2_eval_test")
LAYOUT = "tldr-preference"


def _axis(names: list[str]) -> bool:
    """The `axis` config: one rated `summary`, no `summaries` to pair."""
    return "summary" in names and "summaries" not in names


class TLDRPreference(Importer):
    name = LAYOUT
    aliases = (
        "summarize-from-feedback",
        "openai-summarize-from-feedback",
        "tldr-comparisons",
        "summarize-from-feedback-axis",
    )
    description = (
        "OpenAI summarize-from-feedback comparisons (info, summaries [two {text, policy}], "
        "choice 0|1, batch) -> preference as TRL's tldr_preference.py writes "
        "trl-lib/tldr-preference: the Reddit or CNN/DM prompt by batch (blank lines "
        "squeezed), chosen = summaries[choice].text as it is; policies kept as "
        "chosen_policy / rejected_policy. The axis config (one rated summary) -> unpaired "
        "preference with --threshold on axes.overall."
    )
    reads = "info, summaries, choice [+ batch] (axis config: info, summary [+ batch])"
    columns = ("info", "summaries", "choice", "batch", "summary")
    options_read = ("threshold",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = schema.names
        if "info" not in names or not pa.types.is_struct(schema.field("info").type):
            return False
        if _axis(names):
            return pa.types.is_struct(schema.field("summary").type)
        return (
            "choice" in names and "summaries" in names and is_list(schema.field("summaries").type)
        )

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return (UNPAIRED_PREFERENCE if _axis(schema.names) else PREFERENCE), Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        steps = [
            "prompt by batch, as TRL's tldr_preference.py: CNN/DM (batch0_cnndm, cnndm0, "
            'cnndm2) "TITLE: {title}\\n\\n{article}\\n\\nTL;DR:", Reddit (batch3..batch22, '
            'edit_b2_eval_test) "SUBREDDIT: r/{subreddit}\\n\\nTITLE: {title}\\n\\nPOST: '
            '{post}\\n\\nTL;DR:", each blank line of the text made one line break',
            "another batch: the form of what info holds (a post: Reddit, an article: CNN/DM), "
            "counted in a note; a missing text, title or subreddit -> reported",
        ]
        if _axis(schema.names):
            return [
                *steps,
                "completion: summary.text (a space put before it where it has none)",
                f"label: summary.axes.overall >= {opts.threshold}; a null overall -> reported",
                "summary.policy -> policy, summary.axes -> axes",
            ]
        return [
            *steps,
            "chosen: summaries[choice].text as it is (the released texts begin with a space), "
            "rejected: the other; a choice other than 0 or 1, summaries not two, a null or "
            "empty text -> reported",
            "summaries' policy -> chosen_policy / rejected_policy; their notes and info are "
            "left out; worker, batch, split, extra (confidence) carried",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        axis = _axis(table.column_names)
        require(table, "info", *(("summary",) if axis else ("summaries", "choice")), layout=LAYOUT)
        prompt, batch, odd = prompts(table, bad)
        if axis:
            _need_threshold(opts)  # no TRL script reads them: no note on their batches
            produced = {"prompt": prompt, **_rated(table, opts.threshold, bad)}
            return Converted(assemble(table, produced, ("info", "summary")))
        produced = {"prompt": prompt, **_pair(table, bad)}
        notes = _unknown_note(batch, odd & ~bad.mask)  # of the rows imported
        return Converted(assemble(table, produced, ("info", "summaries", "choice")), notes=notes)


def _need_threshold(opts: ImportOptions) -> None:
    """UsageError for axis evaluations without `--threshold`: nothing to label them by."""
    if opts.threshold is None:
        raise UsageError(
            "these rows are summarize-from-feedback's axis evaluations: each rates one "
            "summary from 1 to 7 (summary.axes.overall, accuracy, coverage, coherence), so "
            "there is no pair to make preference of",
            hint="pass --threshold T to read them as unpaired preference (label: overall >= T, "
            "e.g. --threshold 6), or use the comparisons config for pairs",
        )


def _string(col: pa.Array, name: str) -> pa.Array:
    """`col` as text (all-null columns too); DataError naming `name` for another kind."""
    if pa.types.is_null(col.type):
        return col.cast(pa.string())
    if not is_string(col.type):
        raise DataError(f"must hold text, not {col.type}", column=name)
    return col.cast(pa.string())


def _field(struct: pa.Array, name: str, column: str) -> pa.Array:
    """Text field `name` of each row of `struct` (null where the row or field is)."""
    if name not in {f.name for f in struct.type}:
        return pa.nulls(len(struct), pa.string())
    return _string(pc.struct_field(struct, name), f"{column}.{name}")


def prompts(table: pa.Table, bad: Rejections) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Each row's prompt, built from `info` as TRL's tldr_preference.py builds it for the
    row's `batch` (another batch: by what `info` holds), the batches, and where a batch
    TRL's script does not know was read so."""
    n = table.num_rows
    info = as_array(table.column("info"))
    if not pa.types.is_struct(info.type):
        raise DataError(
            f"must hold an object {{id, post, title, subreddit, article}}, not {info.type}",
            column="info",
        )
    post, article = _field(info, "post", "info"), _field(info, "article", "info")
    title, subreddit = _field(info, "title", "info"), _field(info, "subreddit", "info")
    batch = (
        _string(as_array(table.column("batch")), "batch")
        if "batch" in table.column_names
        else pa.nulls(n, pa.string())
    )
    news_batch = mask(pc.is_in(batch, pa.array(NEWS_BATCHES)))
    reddit_batch = mask(pc.is_in(batch, pa.array(REDDIT_BATCHES)))
    unknown = ~news_batch & ~reddit_batch
    has_post, has_article = mask(post.is_valid()), mask(article.is_valid())
    reddit = reddit_batch | (unknown & has_post)
    news = news_batch | (unknown & ~has_post & has_article)
    bad.add(~mask(info.is_valid()), "info is null: no prompt")
    _per_batch(bad, batch, reddit_batch & ~has_post, "info.post is null, which Reddit batch")
    _per_batch(bad, batch, news_batch & ~has_article, "info.article is null, which CNN/DM batch")
    bad.add(~reddit & ~news, "info holds neither a post nor an article: no prompt")
    none = "(TRL's script would write None)"
    bad.add(~mask(title.is_valid()), f"info.title is null {none}")
    bad.add(reddit & ~mask(subreddit.is_valid()), f"info.subreddit is null {none}")
    prompt = pc.if_else(
        pa.array(reddit),
        reddit_prompt(subreddit, title, squeezed(post)),
        news_prompt(title, squeezed(article)),
    )
    return prompt, batch, unknown & (reddit | news)


def _per_batch(bad: Rejections, batch: pa.Array, rows: np.ndarray, said: str) -> None:
    """Refuse `rows`, each reason naming its own batch (`said` + " NAME builds its prompt from")."""
    if not rows.any():
        return
    names = np.asarray(batch.to_numpy(zero_copy_only=False), object)
    reasons = np.full(len(rows), None, object)
    reasons[rows] = [f"{said} {b} builds its prompt from" for b in names[rows]]
    bad.add_per_row(rows, reasons)


def _unknown_note(batch: pa.Array, rows: np.ndarray) -> list[str]:
    """One note per batch TRL's script does not know, counting its rows (per batch name, so
    the notes of an input read in chunks sum to those of the input read whole)."""
    if not rows.any():
        return []
    values = np.asarray(pc.fill_null(batch, "").to_numpy(zero_copy_only=False), object)
    values = values[rows].astype(str)
    names, counts = np.unique(values, return_counts=True)
    built = "prompt built from what info holds (a post: the Reddit form; else an article: the "
    return [
        f"{plural(k, 'row')} {'has' if k == 1 else 'have'} "
        + (
            f"batch {name!r}, which TRL's tldr_preference.py does not know: "
            if name
            else "no batch (TRL's tldr_preference.py needs one): "
        )
        + built
        + "CNN/DM form)"
        for name, k in zip(names.tolist(), counts.tolist(), strict=True)
    ]


def _pair(table: pa.Table, bad: Rejections) -> dict[str, pa.Array]:
    """chosen / rejected (and their policies) from `summaries` and `choice`."""
    summaries = as_array(table.column("summaries"))
    if not (is_list(summaries.type) and pa.types.is_struct(summaries.type.value_type)):
        raise DataError(
            f"must hold lists of two summaries {{text, policy, note}}, not {summaries.type}",
            column="summaries",
        )
    values, offsets, lengths, valid = spans(summaries)
    fields = {f.name for f in values.type}
    if "text" not in fields:
        raise DataError("its summaries have no `text`", column="summaries")
    bad.add(~valid, "summaries is null: no pair")
    two = valid & (lengths == 2)
    said = np.char.add("summaries holds ", lengths.astype(str))
    said = np.char.add(said, np.where(lengths == 1, " summary", " summaries"))
    bad.add_per_row(valid & ~two, np.char.add(said, ", not 2: no pair").astype(object))
    second = _choice(as_array(table.column("choice")), bad)
    start = offsets[:-1]
    at_chosen = pa.array(start + second, pa.int64(), mask=~two)
    at_rejected = pa.array(start + 1 - second, pa.int64(), mask=~two)
    texts = _string(pc.struct_field(values, "text"), "summaries.text")
    produced = {"chosen": texts.take(at_chosen), "rejected": texts.take(at_rejected)}
    for side in ("chosen", "rejected"):
        col = produced[side]
        bad.add(two & ~mask(col.is_valid()), f"the {side} summary's text is null: no pair")
        bad.add(
            mask(pc.equal(col, "")),
            f"the {side} summary's text is empty (an empty answer gives no pair to learn from)",
        )
    if "policy" in fields:
        policy = _string(pc.struct_field(values, "policy"), "summaries.policy")
        produced["chosen_policy"] = policy.take(at_chosen)
        produced["rejected_policy"] = policy.take(at_rejected)
    return produced


def _choice(col: pa.Array, bad: Rejections) -> np.ndarray:
    """1 where the second summary is chosen, else 0; rows without a choice go to `bad`."""
    numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
    if not (numeric or pa.types.is_null(col.type) or pa.types.is_boolean(col.type)):
        raise DataError(
            f"must hold 0 or 1 (which summary the labeler chose), not {col.type}", column="choice"
        )
    value = np.asarray(
        pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False), float
    )
    bad.add(np.isnan(value), "choice is null: no pair")
    bad.add(~np.isin(value, (0.0, 1.0)), "choice is not 0 or 1: no pair")
    return (value == 1.0).astype(np.int64)


def _rated(table: pa.Table, threshold: float | None, bad: Rejections) -> dict[str, pa.Array]:
    """completion and label (and policy, axes) of the axis config's rated `summary`."""
    summary = as_array(table.column("summary"))
    if not pa.types.is_struct(summary.type):
        raise DataError(
            f"must hold an object {{text, policy, axes}}, not {summary.type}", column="summary"
        )
    text = _field(summary, "text", "summary")
    bad.add(~mask(text.is_valid()), "summary.text is null")
    bad.add(mask(pc.equal(text, "")), "summary.text is empty")
    spaced = mask(pc.utf8_is_space(pc.utf8_slice_codeunits(text, 0, 1)))
    completion = pc.if_else(pa.array(spaced), text, _join(" ", text))
    names = {f.name for f in summary.type}
    axes = pc.struct_field(summary, "axes") if "axes" in names else None
    if (
        axes is None
        or not pa.types.is_struct(axes.type)
        or "overall" not in {f.name for f in axes.type}
    ):
        raise DataError("its rows have no axes.overall rating to label", column="summary")
    overall = pc.struct_field(axes, "overall")
    if not (pa.types.is_integer(overall.type) or pa.types.is_floating(overall.type)):
        if not pa.types.is_null(overall.type):
            raise DataError(
                f"axes.overall must hold a rating (1 to 7), not {overall.type}", column="summary"
            )
        overall = overall.cast(pa.float64())
    bad.add(~mask(overall.is_valid()), "summary.axes.overall is null: no label")
    label = pc.fill_null(pc.greater_equal(overall.cast(pa.float64()), float(threshold)), False)
    produced = {"completion": completion, "label": label}
    if "policy" in names:
        produced["policy"] = _field(summary, "policy", "summary")
    produced["axes"] = axes
    return produced
