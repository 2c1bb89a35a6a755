"""Ranked multi-completion data (UltraFeedback-like) -> preference pairs or unpaired rows.

Input: a `prompt` (UltraFeedback's `instruction` when there is no `prompt`), and either
- `completions` (a list of strings, or of message lists) with aligned `scores` (higher is
  better) or `ranks` (1 is best), or
- `completions` as a list of objects holding the text and its score, as UltraFeedback
  does: text from the first of `response`, `text`, `completion`, `content`, `output`,
  `answer` (Nectar's `answers` [{answer, model, rank}]);
  score from the first of `overall_score`, `score`, `rating`, `reward`, `pass_rate`
  (AceCode's share of unit tests passed), `mc_value` (MATH-APS's Monte-Carlo estimate that
  a `solution_prefix` reaches the right answer), or `rank`. Completions that all begin with
  their text prompt have it taken off (`promptstart`). Scores given by --map beside such
  objects (UltraFeedback's per-aspect ratings: `--map scores=completions.annotations.
  helpfulness.Rating`) are read instead of the objects' own, which then give the text only.

Scores written as text ("4") are read as numbers; a row holding one that is no number
(UltraFeedback's "N/A") is set aside (`textscores`). Rows whose completions a `--map
completions=completions[model=M]` pick left empty are left out as not paired (no error).

The pairing itself is `trlprep.converters.ranked` (`--pairing best-vs-rest | best-vs-worst |
all-pairs`, or `--threshold` for unpaired preference): ties are never paired and their count
is reported in the notes. Rows this importer sets aside, each with its reason: a null
prompt, completions or scores; a null completion or score inside; different numbers of
completions and scores; NaN scores; fewer than two completions (pairing) or none
(threshold); and, for pairing, rows whose completions all tie (they give no pair: left out
as `not paired`, no error). Boolean `scores` (each sample judged right or wrong) are the
scores 1 and 0. Other list columns with one entry per completion (`alignedlists`) are
split with them: each unpaired row gets its completion's entry, each pair `chosen_NAME`
and `rejected_NAME`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, is_messages, is_string
from trlprep.converters.arrowops import as_array
from trlprep.converters.base import ConversionWarning, ConvertOptions
from trlprep.converters.common import DEFAULT_MESSAGES
from trlprep.converters.ranked import ranked_pairs, ranked_to_unpaired
from trlprep.errors import DataError, UsageError
from trlprep.importers.alignedlists import (
    aligned_columns,
    aligned_notes,
    aligned_survey,
    split_entries,
    splittable,
)
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections, require
from trlprep.importers.fieldpaths import emptied_by_pick
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import field_of, messages_from
from trlprep.importers.promptstart import prompt_taken_off
from trlprep.importers.textscores import scores_from_text
from trlprep.registry import PREFERENCE, UNPAIRED_PREFERENCE, DatasetType, Format

TEXT_FIELDS = ("response", "text", "completion", "content", "output", "answer", "solution_prefix")
SCORE_FIELDS = ("overall_score", "score", "rating", "reward", "pass_rate", "mc_value")
RANK_FIELDS = ("rank",)
ROW = "__trlprep_import_row"
READ = ("prompt", "instruction", "scores", "ranks")  # never split with the completions


def ranked_options(opts: ImportOptions) -> set[str]:
    """What ranked completions are read with: --threshold (unpaired preference), else
    --pairing and --margin."""
    return {"threshold"} if opts.threshold is not None else {"pairing", "margin"}


def ranked_expansion(opts: ImportOptions, item: str) -> str:
    """How ranked completions become rows: pairs, or one row per completion."""
    if opts.threshold is not None:
        return f"one row per {item} on either side of --threshold"
    return f"one row per pair ({opts.pairing})"


class Ranked(Importer):
    name = "ranked"
    aliases = ("ultrafeedback",)
    description = (
        "A prompt with several scored or ranked completions (UltraFeedback-like) -> "
        "preference pairs (--pairing best-vs-rest | best-vs-worst | all-pairs) or, with "
        "--threshold, unpaired preference (good = score >= threshold, rank <= threshold). "
        "Ties are never paired and are counted."
    )
    reads = "prompt (or instruction), completions + scores|ranks (or [{response, score}])"
    columns = ("prompt", "instruction", "completions", "scores", "ranks")
    options_read = ("pairing", "margin", "threshold")

    def options_used(self, opts: ImportOptions) -> set[str]:
        return ranked_options(opts)

    def expansion(self, opts: ImportOptions) -> str | None:
        return ranked_expansion(opts, "completion")

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if not ({"prompt", "instruction"} & set(schema.names)) or "completions" not in schema.names:
            return False
        t = schema.field("completions").type
        if not is_list(t):
            return False
        if "labels" in schema.names:  # stepwise supervision
            return False
        if any(c in schema.names for c in ("scores", "ranks")):
            return True
        return _struct_fields(t.value_type) is not None

    def survey(self, table: pa.Table, opts: ImportOptions) -> set[str]:
        """Which list columns hold one entry per completion (`alignedlists`)."""
        return aligned_survey(table, "completions", READ)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        name = "prompt" if "prompt" in schema.names else "instruction"
        fmt = Format.CONVERSATIONAL if opts.conversational else Format.STANDARD
        if name in schema.names and is_messages(schema.field(name).type):
            fmt = Format.CONVERSATIONAL
        return (UNPAIRED_PREFERENCE if opts.threshold is not None else PREFERENCE), fmt

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        if opts.threshold is not None:
            return [
                f"one row per completion, label = score >= {opts.threshold} "
                f"(ranks: rank <= {opts.threshold})"
            ]
        return [f"pairs by {opts.pairing}" + (", margin = score difference" if opts.margin else "")]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        table = _normalise(table, opts)
        require(table, "prompt", "completions", layout="ranked")
        score_name = "scores" if "scores" in table.column_names else "ranks"
        src = opts.map.get("completions")
        unpicked = emptied_by_pick(table.column("completions"), "completions", src, "completion")
        if unpicked is not None:  # UltraFeedback rows another model answered: TRL's filter
            bad.add(*unpicked, tie=True)
        table = scores_from_text(table, score_name, bad)
        table, taken = prompt_taken_off(table, opts.conversational)
        table = _as_messages(table, opts)
        _check_rows(table, score_name, opts, bad)
        keep = np.flatnonzero(~bad.mask)
        dtype, fmt = self.landing(table.schema, opts)
        good = _typed_nulls(table.take(pa.array(keep, pa.int64())), fmt)
        good = good.append_column(ROW, pa.array(keep, pa.int64()))
        copts = ConvertOptions(pairing=opts.pairing, threshold=opts.threshold, margin=opts.margin)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConversionWarning)
            if dtype is UNPAIRED_PREFERENCE:
                out = ranked_to_unpaired(good, fmt, copts)
            else:
                out, chosen, rejected = ranked_pairs(good, fmt, copts)
        notes = [
            str(w.message)
            for w in caught
            if issubclass(w.category, ConversionWarning) and "(ties)" in str(w.message)
        ]
        rows = np.asarray(out.column(ROW).to_numpy(), np.int64)
        out = out.drop_columns([ROW])
        found = aligned_columns(table, "completions", READ)
        notes += aligned_notes(found, "completions", opts.map, pairs=dtype is PREFERENCE)
        split = splittable(table, found[0])
        if dtype is UNPAIRED_PREFERENCE:  # one row per completion, in order
            at = np.arange(len(rows)) - np.searchsorted(rows, rows)
            out = _placed(out, {n: {n: split_entries(table, [n], rows, at)[n]} for n in split})
        else:
            sides = {"chosen": chosen, "rejected": rejected}
            out = _placed(
                out,
                {
                    n: {
                        f"{side}_{n}": split_entries(table, [n], rows, at)[n]
                        for side, at in sides.items()
                    }
                    for n in split
                },
            )
        if dtype is PREFERENCE:
            paired = np.zeros(table.num_rows, dtype=bool)
            paired[rows] = True
            same = f"every completion has the same {score_name[:-1]}: no pair (ties)"
            bad.add(~paired, same, tie=True)
        note = None if taken is None else taken.note(~bad.mask)
        return Converted(out, rows=rows, notes=notes + [note] * (note is not None))


def _placed(out: pa.Table, entries: dict[str, dict[str, pa.Array]]) -> pa.Table:
    """`out` with each column of `entries` (a list copied whole onto every row) replaced,
    in its place, by the columns given for it (each row's own entry)."""
    for name, columns in entries.items():
        i = out.column_names.index(name)
        out = out.remove_column(i)
        for k, (new, arr) in enumerate(columns.items()):
            out = out.add_column(i + k, new, arr)
    return out


def _struct_fields(t: pa.DataType, text_only: bool = False) -> tuple[str, str, str] | None:
    """(text field, score field, 'scores'|'ranks') of completion objects, or None
    (`text_only`: the scores are given beside them: (text field, '', ''))."""
    if not pa.types.is_struct(t) or t.get_field_index("role") >= 0:
        return None
    names = [f.name for f in t]
    text = next((f for f in TEXT_FIELDS if f in names), None)
    if text_only:
        return None if text is None else (text, "", "")
    score = next((f for f in SCORE_FIELDS if f in names), None)
    rank = next((f for f in RANK_FIELDS if f in names), None)
    if text is None or (score is None and rank is None):
        return None
    return (text, score, "scores") if score is not None else (text, rank, "ranks")


def _as_messages(table: pa.Table, opts: ImportOptions) -> pa.Table:
    """With --conversational, a text prompt as one user message and each text completion
    as one assistant message; without it, a message-list prompt beside text completions
    is refused (the pairs would mix formats)."""
    prompt_t = table.schema.field("prompt").type
    comps_t = table.schema.field("completions").type
    text_comps = is_list(comps_t) and is_string(comps_t.value_type)
    if not opts.conversational:
        if is_messages(prompt_t) and text_comps:
            raise UsageError(
                "the prompt is a list of messages but the completions are text",
                hint="add --conversational to make each completion one assistant message "
                "(or map a text prompt)",
            )
        return table
    n = table.num_rows
    rows = np.arange(n, dtype=np.int64)
    if is_string(prompt_t):
        text = as_array(table.column("prompt")).cast(pa.string())
        valid = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), bool)
        user = pa.array(["user"] * n, pa.string())
        col = messages_from({"role": user, "content": text}, rows, n, valid)
        table = table.set_column(table.column_names.index("prompt"), "prompt", col)
    if text_comps:
        comps = as_array(table.column("completions"))
        items = pc.list_flatten(comps).cast(pa.string())
        m = len(items)
        role = pa.array(["assistant"] * m, pa.string())
        one = messages_from({"role": role, "content": items}, np.arange(m, dtype=np.int64), m)
        valid = np.asarray(comps.is_valid().to_numpy(zero_copy_only=False), bool)
        col = lists_from(one, row_lengths(comps), valid)
        table = table.set_column(table.column_names.index("completions"), "completions", col)
    return table


def _objects_found(table: pa.Table) -> str:
    """', and its completion objects hold only FIELDS' where `completions` holds objects
    this importer cannot read, else ''."""
    t = table.schema.field("completions").type if "completions" in table.column_names else None
    if t is None or not is_list(t) or not pa.types.is_struct(t.value_type):
        return ""
    return "; its completion objects hold only " + ", ".join(f.name for f in t.value_type)


def _normalise(table: pa.Table, opts: ImportOptions | None = None) -> pa.Table:
    """`instruction` -> `prompt`; completion objects -> `completions` + `scores`/`ranks`
    (their text only where --map gave the scores: `scores=completions.annotations...`)."""
    for name in ("prompt", "instruction", "completions", "scores", "ranks"):
        if name in table.column_names and is_json_field(table.schema.field(name)):
            raise DataError(
                "rows hold values of different kinds (e.g. text in some, lists in others)",
                column=name,
                hint="make the column uniform (`trlprep detect` shows which rows differ)",
            )
    if "prompt" not in table.column_names and "instruction" in table.column_names:
        names = ["prompt" if n == "instruction" else n for n in table.column_names]
        table = table.rename_columns(names)
    table = _verdicts_as_scores(table)
    if "completions" not in table.column_names:
        return table
    comps = as_array(table.column("completions"))
    mapped = set(opts.map) if opts is not None else set()
    given = next((n for n in ("scores", "ranks") if n in table.column_names and n in mapped), None)
    lists = is_list(comps.type)
    picked = _struct_fields(comps.type.value_type, given is not None) if lists else None
    if picked is None:
        return table
    text, score, target = picked
    if given is None and target in table.column_names:
        raise DataError(
            f"completions hold their own scores, and the data also has a column {target!r}",
            column=target,
            hint=f"drop one of them (or rename it with --map {target}_orig={target})",
        )
    items = pc.list_flatten(comps)
    lengths = row_lengths(comps)
    valid = np.asarray(comps.is_valid().to_numpy(zero_copy_only=False), bool)
    texts = field_of(items, text)
    if not (is_string(texts.type) or is_messages(texts.type)):
        raise DataError(
            f"completion field {text!r} holds {texts.type}, not text", column="completions"
        )
    i = table.column_names.index("completions")
    table = table.set_column(i, "completions", lists_from(texts, lengths, valid))
    if given is not None:
        return table
    scores = field_of(items, score).cast(pa.float64())
    return table.append_column(target, lists_from(scores, lengths, valid))


def _verdicts_as_scores(table: pa.Table) -> pa.Table:
    """`scores` of booleans (each sample's answer judged correct or not, as reasoning
    models' evaluation outputs keep them) as the scores 1 and 0."""
    if "scores" not in table.column_names:
        return table
    t = table.schema.field("scores").type
    if not (is_list(t) and pa.types.is_boolean(t.value_type)):
        return table
    to = pa.large_list(pa.float64()) if pa.types.is_large_list(t) else pa.list_(pa.float64())
    return table.set_column(table.column_names.index("scores"), "scores", table["scores"].cast(to))


def _check_rows(table: pa.Table, score_name: str, opts: ImportOptions, bad: Rejections) -> None:
    """Mark rows the ranked conversion cannot take, each with its reason."""
    if score_name not in table.column_names:
        raise DataError(
            "ranked data needs a `scores` or `ranks` column (aligned with `completions`)"
            + _objects_found(table),
            hint="or completion objects with a text field ("
            + ", ".join(TEXT_FIELDS)
            + ") and a score field ("
            + ", ".join(SCORE_FIELDS + RANK_FIELDS)
            + "), e.g. {response, overall_score}",
        )
    n = table.num_rows
    prompt = table.column("prompt")
    comps = as_array(table.column("completions"))
    scores = as_array(table.column(score_name))
    if not is_list(comps.type):
        raise DataError(f"must hold lists, not {comps.type}", column="completions")
    if not (
        is_list(scores.type)
        and (
            pa.types.is_integer(scores.type.value_type)
            or pa.types.is_floating(scores.type.value_type)
            or pa.types.is_null(scores.type.value_type)
        )
    ):
        raise DataError(f"must hold lists of numbers, not {scores.type}", column=score_name)

    def null(arr) -> np.ndarray:
        return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)

    bad.add(null(prompt), "prompt is null")
    bad.add(null(comps), "completions is null")
    bad.add(null(scores), f"{score_name} is null")
    lc, ls = row_lengths(comps), row_lengths(scores)
    bad.add(lc != ls, f"different numbers of completions and {score_name}")
    for arr, what in ((comps, "a completion"), (scores, f"a {score_name[:-1]}")):
        items = pc.list_flatten(arr)
        parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False), np.int64)
        mask = np.zeros(n, dtype=bool)
        mask[parent[null(items)]] = True
        bad.add(mask, f"{what} is null")
        if arr is scores and len(items):
            values = np.asarray(pc.fill_null(items.cast(pa.float64()), 0.0).to_numpy(), float)
            mask = np.zeros(n, dtype=bool)
            mask[parent[np.isnan(values)]] = True
            bad.add(mask, f"a {score_name[:-1]} is NaN")
    if opts.threshold is None:
        bad.add(lc < 2, "fewer than two completions: nothing to pair")
    else:
        bad.add(lc == 0, "no completions")


def _typed_nulls(table: pa.Table, fmt: Format) -> pa.Table:
    """Columns whose values are all null (no type inferred) get the type the pairing reads."""
    text = DEFAULT_MESSAGES if fmt is Format.CONVERSATIONAL else pa.string()
    want = {"prompt": text, "completions": pa.list_(text)}
    want.update({name: pa.list_(pa.float64()) for name in ("scores", "ranks")})
    for name, t in want.items():
        if name not in table.column_names:
            continue
        col = table.column(name)
        inner = col.type.value_type if is_list(col.type) else col.type
        if pa.types.is_null(inner):
            i = table.column_names.index(name)
            table = table.set_column(i, name, col.cast(t))
    return table
