"""Beyond the guide: unpaired preference -> preference, pairing completions of the same prompt.

Within each prompt (compared exactly: the same text, or the same messages, showing the same
media entries), the k-th row
labelled true is paired with the k-th row labelled false, in input order: the true
completion becomes `chosen`, the false one `rejected`. Rows left without a partner (a
prompt with more true than false rows, or the reverse) are reported, and returned by
`pair_by_prompt`. Output rows follow the order of their chosen rows; extra columns come
from the chosen row.

Media columns come from the chosen row too: one `images` list per row holds the prompt's
entries, then the completion's (TRL's DPO collator reads one `images` list for prompt,
chosen and rejected; validate counts the prompt with each completion against it). A pair
whose completions show media of their own that differ (another image, or one where the other
shows none) cannot be written so: both of its rows are refused, each saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import as_array, slice_lists, take_rows
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import (
    bools_column,
    check_format,
    content,
    no_nulls,
    output,
    rows_text,
    warn,
)

from trlprep.columns.arrowtypes import is_json_field, is_list
from trlprep.columns.placeholders import media_entries, shown_counts
from trlprep.errors import RowFailures
from trlprep.registry import MEDIA_COLUMNS, PREFERENCE, SINGLE_MEDIA_COLUMNS, Format


@dataclass
class Pairing:
    """Preference rows, and the input rows that found no partner (with their row numbers)."""

    table: pa.Table
    leftovers: pa.Table
    leftover_rows: np.ndarray
    chosen_rows: np.ndarray | None = None  # the input row of each pair's chosen, rejected
    rejected_rows: np.ndarray | None = None


def group_ids(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer per row, the same for equal values (text or messages), in first-seen order."""
    import polars as pl

    n = len(col)
    if n == 0:
        return np.zeros(0, np.int64)
    frame = pl.DataFrame({"k": pl.from_arrow(as_array(col))}).with_row_index("i")
    groups = (
        frame.group_by("k", maintain_order=True)
        .agg(pl.col("i"))
        .with_row_index("g")
        .explode("i")
        .sort("i")
    )
    return groups["g"].to_numpy().astype(np.int64)


def _entries_ids(
    col: pa.Array, start: np.ndarray | int, stop: np.ndarray | None = None
) -> np.ndarray:
    """`group_ids` of each row's entries `col[start:stop]` of a media list column, a null
    list's the same as an empty one's (neither shows an entry)."""
    if col.null_count:
        col = pc.fill_null(col, pa.scalar([], col.type))
    return group_ids(slice_lists(col, start, stop))


def prompt_groups(table: pa.Table, prompt: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """`group_ids` of the prompts, told apart by the media their parts stand for too (the
    first entries of `images` / `videos` / `audios`, a single `image` the prompt shows): the
    same question of another image is another prompt."""
    group = group_ids(prompt)
    for kind, names in MEDIA_COLUMNS.items():
        n = None  # the prompt's parts of this kind: counted once, for its first column
        for name in names:
            col = table.column(name) if name in table.column_names else None
            if col is None or is_json_field(table.schema.field(name)):
                continue
            if not is_list(col.type) and name not in SINGLE_MEDIA_COLUMNS:
                continue
            n = shown_counts(prompt, kind) if n is None else n
            if not n.any():
                continue
            if is_list(col.type):
                media = _entries_ids(as_array(col), 0, n)
            else:  # one entry (`image`), the prompt's where it shows one
                media = np.where(n > 0, group_ids(col), -1)
            both = pa.StructArray.from_arrays([pa.array(group), pa.array(media)], ["p", "m"])
            group = group_ids(both)
    return group


def _rank_within(group: np.ndarray, label: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... for the rows of each (group, label), in row order."""
    n = len(group)
    rows = np.arange(n)
    order = np.lexsort((rows, label, group))
    g, lab = group[order], label[order]
    start = np.ones(n, dtype=bool)
    start[1:] = (g[1:] != g[:-1]) | (lab[1:] != lab[:-1])
    run_start = np.maximum.accumulate(np.where(start, rows, 0))
    rank = np.empty(n, np.int64)
    rank[order] = rows - run_start
    return rank


def pair_by_prompt(table: pa.Table, fmt: Format, opts: ConvertOptions) -> Pairing:
    """Pair true and false completions of the same prompt (see module doc)."""
    fmt = check_format(fmt)
    prompt = content(table, "prompt", fmt)
    completion = content(table, "completion", fmt)
    label_col = bools_column(table, "label", listed=False)
    no_nulls(prompt, "prompt")
    no_nulls(label_col, "label")
    n = table.num_rows
    label = label_col.to_numpy(zero_copy_only=False).astype(bool) if n else np.zeros(0, bool)
    group = prompt_groups(table, prompt)
    key = group * max(n, 1) + _rank_within(group, label)
    trues, falses = np.flatnonzero(label), np.flatnonzero(~label)
    _, it, jf = np.intersect1d(key[trues], key[falses], assume_unique=True, return_indices=True)
    order = np.argsort(trues[it], kind="stable")
    chosen_rows, rejected_rows = trues[it][order], falses[jf][order]
    paired = np.zeros(n, dtype=bool)
    paired[chosen_rows] = True
    paired[rejected_rows] = True
    left = np.flatnonzero(~paired)
    produced = {
        "prompt": take_rows(prompt, chosen_rows),
        "chosen": take_rows(completion, chosen_rows),
        "rejected": take_rows(completion, rejected_rows),
    }
    out = output(
        table, PREFERENCE, fmt, produced, {"prompt", "completion", "label"}, rows=chosen_rows
    )
    left_table = table.take(pa.array(left, pa.int64()))
    return Pairing(out, left_table, left, chosen_rows, rejected_rows)


@edge(
    "unpaired-preference",
    "preference",
    drops="rows without a partner of the opposite label for the same prompt, and labels",
    rows="pairs",
    guide=False,
    description="Pair each true completion with a false completion of the same prompt.",
)
def unpaired_to_preference(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    result = pair_by_prompt(table, fmt, opts)
    if fmt is Format.CONVERSATIONAL:
        refuse_differing_media(table, result.chosen_rows, result.rejected_rows)
    left = result.leftover_rows
    if len(left):
        label = table.column("label").to_numpy(zero_copy_only=False)[left].astype(bool)
        lonely = _one_label_prompts(table, fmt)
        head = _NOTHING_PAIRED if result.table.num_rows == 0 else ""
        n_true = int(label.sum())
        warn(head + _no_partner(len(left), n_true, len(left) - n_true, rows_text(left), *lonely))
    return result.table


# how the no-partner warning opens where no pair was made at all
_NOTHING_PAIRED = "no prompt has both a true and a false completion, so nothing can be paired: "


def _no_partner(n: int, n_true: int, n_false: int, rows: str, only_true: int, only_false: int):
    prompts = only_true + only_false
    return (
        f"{n} {'row' if n == 1 else 'rows'} found no partner with the opposite label and the "
        f"same prompt ({n_true} true, {n_false} false; {rows}) and {'was' if n == 1 else 'were'}"
        f" left out; {prompts} {'prompt has' if prompts == 1 else 'prompts have'} completions of"
        f" one label only ({only_true} only true, {only_false} only false)"
    )


_NO_PARTNER = re.compile(
    rf"^(?P<head>{re.escape(_NOTHING_PAIRED)})?"
    r"(?P<n>\d+) rows? found no partner with the opposite label and the same prompt "
    r"\((?P<t>\d+) true, (?P<f>\d+) false; (?P<rows>.+)\) and (?:was|were) left out; "
    r"\d+ prompts? ha(?:s|ve) completions of one label only "
    r"\((?P<ot>\d+) only true, (?P<of>\d+) only false\)$"
)


def merge_pairing_warnings(messages: list[str], paired: bool = False) -> list[str]:
    """The pairing warnings of groups of prompts paired apart (Ray's buckets: every prompt
    in one) made the one warning pairing the whole table gives: counts summed, rows merged
    (`merge_row_warnings`); the others as they were, in order. `paired`: some group made
    pairs (a group that made none does not say nothing could be paired)."""
    from trlprep.converters.common import merge_rows_texts

    if paired:
        messages = [
            m.removeprefix(_NOTHING_PAIRED) if _NO_PARTNER.match(m) else m for m in messages
        ]
    found = [(i, _NO_PARTNER.match(m)) for i, m in enumerate(messages)]
    found = [(i, m) for i, m in found if m is not None]
    if len(found) < 2:
        return list(messages)
    total = {k: sum(int(m[k]) for _, m in found) for k in ("n", "t", "f", "ot", "of")}
    rows = merge_rows_texts(m["rows"] for _, m in found)
    head = found[0][1]["head"] if all(m["head"] for _, m in found) else ""
    merged = (head or "") + _no_partner(
        total["n"], total["t"], total["f"], rows, total["ot"], total["of"]
    )
    first = found[0][0]
    skip = {i for i, _ in found}
    return [
        merged if i == first else m for i, m in enumerate(messages) if i == first or i not in skip
    ]


def _one_label_prompts(table: pa.Table, fmt: Format) -> tuple[int, int]:
    """How many prompts have completions of true or false labels only (none can pair)."""
    groups = prompt_groups(table, content(table, "prompt", fmt))
    label = table.column("label").to_numpy(zero_copy_only=False).astype(bool)
    with_true = np.unique(groups[label])
    with_false = np.unique(groups[~label])
    only_true = len(np.setdiff1d(with_true, with_false))
    only_false = len(np.setdiff1d(with_false, with_true))
    return only_true, only_false


def refuse_differing_media(table: pa.Table, chosen: np.ndarray, rejected: np.ndarray) -> None:
    """Refuse (`RowFailures`, both rows of each pair) the pairs of `table`'s rows `chosen`
    and `rejected` whose completions show media of their own that differ (see the module
    docstring); rows whose media column does not hold exactly what they show are left for
    validate."""
    if not len(chosen):
        return
    prompt, completion = table.column("prompt"), table.column("completion")
    why: dict[int, str] = {}
    for kind, names in MEDIA_COLUMNS.items():
        present = [n for n in names if n in table.column_names]
        if not present:
            continue
        p, c = shown_counts(prompt, kind), shown_counts(completion, kind)
        for name in present:
            own = _own_entries(table, name, p, c)
            if own is None:
                continue
            ids, exact = own
            differ = (c[chosen] != c[rejected]) | (ids[chosen] != ids[rejected])
            differ &= exact[chosen] & exact[rejected]
            for i in np.flatnonzero(differ):
                t, f = int(chosen[i]), int(rejected[i])
                why.setdefault(t, _differing(kind, name, ("true", c[t]), ("false", c[f])))
                why.setdefault(f, _differing(kind, name, ("false", c[f]), ("true", c[t])))
    if not why:
        return
    rows = sorted(why)
    raise RowFailures(
        rows,
        [why[r] for r in rows],
        stage="conversion",
        hint="pair completions that show the same media (or none of their own), or keep these "
        "rows unpaired (--to unpaired-preference)",
    )


def _own_entries(
    table: pa.Table, name: str, p: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(per row, an id of the entries of media column `name` its completion shows, equal
    for equal entries; whether the column holds exactly the prompt's and the completion's
    entries), given each row's entries shown by its prompt `p` and completion `c`; None for
    a column of JSON text or of no kind validate counts."""
    col, field = as_array(table.column(name)), table.schema.field(name)
    held = media_entries(field, col)
    if held is None or is_json_field(field):
        return None
    if is_list(col.type):
        return _entries_ids(col, p), held == p + c
    mine = pa.array((held == 1) & (p == 0) & (c == 1))  # the one entry, shown by the completion
    ids = group_ids(pa.StructArray.from_arrays([mine, col], ["own", "v"]))
    return np.where(np.asarray(mine), ids, -1), held == p + c


def _differing(kind: str, name: str, this: tuple[str, int], other: tuple[str, int]) -> str:
    """Why a row of a pair is refused: its completion (`this`: its label, the entries of
    its own it shows) and its partner's (`other`) show different media."""
    counts = f"this {this[0]} one shows {this[1]} of its own, the {other[0]} one {other[1]}"
    if this[1] == other[1]:
        counts += ", other entries"
    return (
        f"paired with the {other[0]} completion of the same prompt, which shows other "
        f"{kind}s ({counts}): the pair's one {name!r} column holds the prompt's entries and "
        f"one completion's (TRL's DPO reads one {name!r} for prompt, chosen and rejected)"
    )
