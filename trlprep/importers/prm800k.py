"""PRM800K -> stepwise supervision (standard format).

PRM800K (openai/prm800k, one labelled solution per row): `question.problem` is the prompt;
`label.steps[]` holds, per step, the candidate `completions[]` (`text`, `rating` -1/0/+1),
the `chosen_completion` index (the step the solution went on with) or, in phase 1, a
`human_completion` written by the labeller. As TRL's `examples/datasets/prm800k.py`
(`trl-lib/prm800k`) does, one solution gives several rows: every candidate that was not
chosen ends a trajectory (the chosen steps before it + that candidate), and the chosen path
itself is the last row; a human completion counts as correct. Rating +1 is a correct step,
-1 an incorrect one, and 0 (neutral: right but no progress) follows `--neutral`: `negative`
(the default, TRL's mapping: a label is `rating == 1`), `positive` (the paper's PRM
training and OpenR treat neutral as fine) or `drop` (trajectories holding a neutral step are
left out, by choice: counted in a note, not rejected). A step with all fields null ends
the solution (it happens in the data).

Rows that cannot be imported are reported with their reason: no problem text, no labelled
step, a candidate without a rating. The nested candidates are walked column-wise
(flattened steps and candidates, index arithmetic for each trajectory's prefix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array, ranges
from trlprep.errors import DataError
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.jsonarrow import lists_from, parent_rows, row_lengths
from trlprep.importers.messages import field_of
from trlprep.registry import STEPWISE_SUPERVISION, DatasetType, Format

_LS = pa.large_string()


class PRM800K(Importer):
    name = "prm800k"
    aliases = ("prm-800k",)
    description = (
        "OpenAI PRM800K labelled solutions (question.problem, label.steps[].completions "
        "with ratings -1/0/+1, chosen_completion, human_completion) -> stepwise "
        "supervision, one row per trajectory as TRL's prm800k script (each unchosen "
        "candidate ends one; the chosen path is the last). Neutral (0) steps: --neutral "
        "negative (default, as TRL) | positive | drop."
    )
    reads = "question {problem}, label {steps [{completions [{text, rating}], ...}]}"
    columns = ("question", "label")
    options_read = ("neutral",)

    def expansion(self, opts: ImportOptions) -> str | None:
        return "one row per trajectory, as TRL's prm800k script"

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if not {"question", "label"} <= set(schema.names):
            return False
        q, lab = schema.field("question").type, schema.field("label").type
        return (
            pa.types.is_struct(q)
            and q.get_field_index("problem") >= 0
            and pa.types.is_struct(lab)
            and lab.get_field_index("steps") >= 0
        )

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return STEPWISE_SUPERVISION, Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "prompt: question.problem",
            "one row per unchosen candidate step (chosen steps before it + it) and one for "
            "the chosen path (human completions count as correct)",
            f"labels: rating +1 -> true, -1 -> false, 0 -> {opts.neutral} (--neutral)",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "question", "label", layout="prm800k")
        n = table.num_rows
        questions = as_array(table.column("question"))
        labels = as_array(table.column("label"))
        if not pa.types.is_struct(questions.type) or not pa.types.is_struct(labels.type):
            raise DataError(
                "question and label must hold objects ({problem, ...} and {steps, ...})",
                column="question" if not pa.types.is_struct(questions.type) else "label",
            )
        problem = (
            questions.field("problem") if questions.type.get_field_index("problem") >= 0 else None
        )
        if problem is None or not (is_string(problem.type) or pa.types.is_null(problem.type)):
            raise DataError("question.problem must hold the problem text", column="question")
        problem = pc.if_else(questions.is_valid(), problem.cast(pa.string()), None)
        steps = field_of(labels, "steps")
        if steps is None or not (is_list(steps.type) or pa.types.is_null(steps.type)):
            raise DataError("label.steps must hold a list of steps", column="label")
        tr = trajectories_columns(steps, n)
        why = tr.why
        empty = np.asarray(
            pc.fill_null(pc.equal(problem, ""), True).to_numpy(zero_copy_only=False), bool
        )
        why[empty] = "question.problem is missing or empty"
        count = np.bincount(tr.rows, minlength=n)
        why[(count == 0) & (why == None)] = "no labelled step"  # noqa: E711
        keep = why[tr.rows] == None  # noqa: E711
        neutral = np.bincount(tr.owner[tr.ratings == 0], minlength=len(tr.rows)) > 0
        dropped = emptied = 0
        if opts.neutral == "drop":
            dropped = int((neutral & keep).sum())
            kept = np.bincount(tr.rows[keep & ~neutral], minlength=n)
            emptied = int(((count > 0) & (kept == 0) & (why == None)).sum())  # noqa: E711
            keep &= ~neutral
        ok_items = keep[tr.owner]
        labels_flat = tr.ratings[ok_items] == 1
        if opts.neutral == "positive":
            labels_flat |= tr.ratings[ok_items] == 0
        lengths = tr.lengths[keep]
        rows = tr.rows[keep]
        comps = lists_from(tr.texts.filter(pa.array(ok_items)), lengths)
        labs = lists_from(pa.array(labels_flat), lengths)
        prompts = problem.take(pa.array(rows, pa.int64()))
        bad.add_per_row(why != None, why)  # noqa: E711
        rows_arr = np.asarray(rows, np.int64)
        produced = {"prompt": prompts, "completions": comps, "labels": labs}
        consumed = [c for c in ("question", "label") if c in table.column_names]
        rest = table.drop_columns(consumed).take(pa.array(rows_arr))
        out = assemble(rest, produced, ())
        notes = []
        if dropped:
            notes.append(
                f"{dropped:,} trajectories with a neutral step were left out (--neutral drop)"
                + (f"; {emptied:,} of the solutions give no row" if emptied else "")
            )
        return Converted(out, rows=rows_arr, notes=notes)


@dataclass
class Trajectories:
    """Every trajectory of a batch: its row, its steps' texts and ratings (flat, `owner`
    giving each item's trajectory), its length; and per input row, the problem (or None)."""

    rows: np.ndarray
    texts: pa.Array
    ratings: np.ndarray  # -1/0/1 (a human completion counts as 1)
    owner: np.ndarray
    lengths: np.ndarray
    why: np.ndarray


def _ints(arr: pa.Array | None, n: int, fill: int) -> np.ndarray:
    if arr is None or pa.types.is_null(arr.type):
        return np.full(n, fill, dtype=np.int64)
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        raise DataError(f"PRM800K steps hold {arr.type} where numbers belong", column="label")
    values = np.asarray(pc.fill_null(arr.cast(pa.float64()), np.nan).to_numpy(), float)
    whole = np.isfinite(values) & (values == np.round(values))
    return np.where(whole, values, fill).astype(np.int64)


def _null(arr: pa.Array | None, n: int) -> np.ndarray:
    if arr is None:
        return np.ones(n, dtype=bool)
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)


def trajectories_columns(steps: pa.Array, n: int) -> Trajectories:
    """Every trajectory (step texts, ratings) of each solution in a `label.steps` column.

    A human completion's rating is recorded as +1 (TRL labels it correct).
    """
    NONE = -(1 << 40)  # a rating that is missing or not -1/0/1
    why = np.full(n, None, dtype=object)
    if pa.types.is_null(steps.type):
        steps = pa.nulls(n, pa.list_(pa.struct([])))
    st = pc.list_flatten(steps)
    g = len(st)
    st_row = parent_rows(steps)
    n_steps = row_lengths(steps)
    step_start = np.cumsum(n_steps) - n_steps
    w = np.arange(g) - step_start[st_row]
    cands = field_of(st, "completions")
    human = field_of(st, "human_completion")
    chosen = _ints(field_of(st, "chosen_completion"), g, -1)
    chosen_null = _null(field_of(st, "chosen_completion"), g)
    cands_null, human_null = _null(cands, g), _null(human, g)
    allnull = cands_null & chosen_null & human_null
    stop = ~allnull & chosen_null & human_null  # alternates kept, then the solution ends
    big = np.iinfo(np.int64).max
    first_null = np.full(n, big)
    np.minimum.at(first_null, st_row[allnull], w[allnull])
    first_stop = np.full(n, big)
    np.minimum.at(first_stop, st_row[stop], w[stop])
    last_active = np.minimum(first_null - 1, first_stop)  # alternates up to this step
    path_len = np.minimum(np.minimum(first_null, first_stop), n_steps)
    active = w <= last_active[st_row]
    on_path = w < path_len[st_row]
    # candidates
    if cands is None or pa.types.is_null(cands.type):
        c = pa.nulls(0, pa.struct([]))
        c_step = np.zeros(0, np.int64)
    else:
        c = pc.list_flatten(cands)
        c_step = parent_rows(cands)
    k = len(c)
    per_step = np.bincount(c_step, minlength=g) if g else np.zeros(0, np.int64)
    c_start = np.cumsum(per_step) - per_step
    j = np.arange(k) - c_start[c_step] if k else np.zeros(0, np.int64)
    c_text = field_of(c, "text")
    c_text = pa.nulls(k, pa.string()) if c_text is None else c_text.cast(pa.string())
    c_rating = _ints(field_of(c, "rating"), k, NONE)
    c_rating[~np.isin(c_rating, (-1, 0, 1))] = NONE
    c_text_null = _null(c_text, k)
    alt = active[c_step] & (chosen_null[c_step] | (j != chosen[c_step]))
    # problems, the first in step order wins (as the per-row walk finds them)
    problems: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # rows, order, message
    bad_alt = alt & (c_text_null | (c_rating == NONE))
    if bad_alt.any():
        idx = np.flatnonzero(bad_alt)
        msg = np.array(
            [
                f"step {w[c_step[i]] + 1}: a candidate has no text"
                if c_text_null[i]
                else f"step {w[c_step[i]] + 1}: candidate {j[i]} has no rating -1/0/+1"
                for i in idx
            ],
            dtype=object,
        )
        problems.append((st_row[c_step[idx]], w[c_step[idx]] * 2, msg))
    use_cand = on_path & ~chosen_null
    out_of_range = use_cand & ((chosen < 0) | (chosen >= per_step))
    pick = np.where(use_cand & ~out_of_range, c_start + chosen, -1)
    picked = pick >= 0
    bad_pick = np.zeros(g, dtype=bool)
    bad_pick[picked] = c_rating[pick[picked]] == NONE
    pick_text_null = np.zeros(g, dtype=bool)
    pick_text_null[picked] = c_text_null[pick[picked]]
    h_text = field_of(human, "text") if human is not None else None
    h_text = pa.nulls(g, pa.string()) if h_text is None else h_text.cast(pa.string())
    use_human = on_path & chosen_null & ~human_null
    human_text_null = use_human & _null(h_text, g)
    for mask, text in (
        (out_of_range, "step {s}: chosen_completion {c} is not a candidate"),
        (bad_pick, "step {s}: the chosen candidate has no rating -1/0/+1"),
        (pick_text_null | human_text_null, "step {s}: the chosen step has no text"),
    ):
        if mask.any():
            idx = np.flatnonzero(mask)
            msg = np.array([text.format(s=w[i] + 1, c=chosen[i]) for i in idx], dtype=object)
            problems.append((st_row[idx], w[idx] * 2 + 1, msg))
    if problems:
        rows_p = np.concatenate([p[0] for p in problems])
        order = np.concatenate([p[1] for p in problems])
        msgs = np.concatenate([p[2] for p in problems])
        sort = np.lexsort((order, rows_p))
        rows_p, msgs = rows_p[sort], msgs[sort]
        first = np.ones(len(rows_p), dtype=bool)
        first[1:] = rows_p[1:] != rows_p[:-1]
        why[rows_p[first]] = msgs[first]
    # each path step's text and rating (by global step)
    path_text = pc.if_else(
        pa.array(use_human), h_text, c_text.take(pa.array(np.where(picked, pick, 0) if k else
                                                           np.zeros(g, np.int64), pa.int64()))
    ) if k else h_text  # fmt: skip
    path_rating = np.where(use_human, 1, NONE)
    if k:
        path_rating[picked] = c_rating[pick[picked]]
    # trajectories: every alternate (its path so far + it), then each row's whole path
    a_idx = np.flatnonzero(alt)
    a_step = c_step[a_idx]
    a_row, a_w = st_row[a_step], w[a_step]
    f_row = np.flatnonzero(path_len > 0)
    t_row = np.concatenate([a_row, f_row])
    t_plen = np.concatenate([a_w, path_len[f_row]])
    t_alt = np.concatenate([a_idx, np.full(len(f_row), -1)])
    t_key = np.concatenate([a_w * (1 << 20) + j[a_idx], np.full(len(f_row), big)])
    sort = np.lexsort((t_key, t_row))
    t_row, t_plen, t_alt = t_row[sort], t_plen[sort], t_alt[sort]
    is_alt = t_alt >= 0
    lengths = t_plen + is_alt
    begin = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    source = np.empty(total, dtype=np.int64)  # into [path steps..., candidates...]
    source[ranges(begin, t_plen)] = ranges(step_start[t_row], t_plen)
    source[(begin + t_plen)[is_alt]] = g + t_alt[is_alt]
    values = pa.concat_arrays([path_text.cast(pa.string()), c_text])
    ratings = np.concatenate([path_rating, c_rating])[source]
    owner = np.repeat(np.arange(len(t_row)), lengths)
    return Trajectories(
        rows=t_row,
        texts=values.take(pa.array(source, pa.int64())),
        ratings=ratings,
        owner=owner,
        lengths=lengths,
        why=why,
    )
