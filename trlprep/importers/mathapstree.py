"""MATH-APS rollouts written as a tree (OmegaPRM, `save_data_tree=True`) -> stepwise supervision.

OpenR's `samples_math-aps-tree.jsonl`: a `question` beside `reasoning_steps`, its root node
`{text, mc_value, children}`: the root's text is the question, each child below it one
reasoning step, `mc_value` the Monte-Carlo estimate that rollouts from the step reach the
right answer. As OpenR's tree preprocessor does, every path from the root to a leaf is one
row: the question is the prompt, the steps along the path the completions, each labelled
`mc_value >= --threshold` (0.5 unless given; trlprep's threshold, as `--from ranked
--threshold` labels the flat file's prefixes, so both files of the same rollouts label a
step alike; OpenR's own labels are `> 0.5`). The root (the question alone, no step yet) is
the prompt and not a step. Walked a tree level at a time over whole Arrow columns.

Rows set aside, each with its reason: a null question or tree, a step with no text or no
`mc_value` (or NaN), and a tree holding the question alone.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections, require
from trlprep.importers.jsonarrow import lists_from, parent_rows, row_lengths
from trlprep.registry import STEPWISE_SUPERVISION, DatasetType, Format

TREE = "reasoning_steps"
NODE_FIELDS = ("text", "mc_value", "children")
THRESHOLD = 0.5  # OmegaPRM's and OpenR's cut between a good and a bad step


def is_tree_node(t: pa.DataType) -> bool:
    """True for a struct of `text`, `mc_value` and a list of `children`."""
    if not pa.types.is_struct(t) or not all(t.get_field_index(f) >= 0 for f in NODE_FIELDS):
        return False
    return is_list(t.field("children").type)


class MathAPSTree(Importer):
    name = "math-aps-tree"
    aliases = ("omegaprm-tree",)
    description = (
        "MATH-APS rollouts as a tree (OmegaPRM, OpenR: question + reasoning_steps "
        "{text, mc_value, children}) -> stepwise supervision: one row per path from the "
        "question to a leaf, each step labelled mc_value >= --threshold (0.5)."
    )
    reads = "question (or prompt), reasoning_steps: {text, mc_value, children} nested"
    columns = ("question", "prompt", TREE)
    options_read = ("threshold",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        prompt = next((n for n in ("prompt", "question") if n in schema.names), None)
        return (
            prompt is not None
            and is_string(schema.field(prompt).type)
            and TREE in schema.names
            and is_tree_node(schema.field(TREE).type)
        )

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return STEPWISE_SUPERVISION, Format.STANDARD

    def expansion(self, opts: ImportOptions) -> str | None:
        return "one row per path from the question to a leaf"

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "prompt: the question (the tree's root, no step yet)",
            "completions: the steps on each path from the root to a leaf, as written",
            f"labels: mc_value >= {_threshold(opts)} (--threshold)",
        ]

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        prompt = "prompt" if "prompt" in schema.names else "question"
        return {"prompt": prompt, "completions": TREE, "labels": TREE}

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        if "prompt" not in table.column_names and "question" in table.column_names:
            table = table.rename_columns(
                ["prompt" if n == "question" else n for n in table.column_names]
            )
        require(table, "prompt", TREE, layout="math-aps-tree")
        root = as_array(table.column(TREE))
        if not is_tree_node(root.type):
            raise DataError(
                f"must hold tree nodes {{text, mc_value, children}}, not {root.type}", column=TREE
            )
        n = table.num_rows
        bad.add(_null(table.column("prompt")), "question is null")
        bad.add(_null(root), f"{TREE} is null")
        texts, values, parents, leaf = _levels(root)
        owner = [np.arange(n, dtype=np.int64)]  # the input row of each node, per level
        for p in parents[1:]:
            owner.append(owner[-1][p])
        for d in range(1, len(texts)):
            row = owner[d]
            for mask, reason in (
                (_null(texts[d]), "a step's text is null"),
                (_null(values[d]) | np.isnan(_floats(values[d])), "a step's mc_value is null"),
            ):
                hit = np.zeros(n, dtype=bool)
                hit[row[mask]] = True
                bad.add(hit, reason)
        bad.add(leaf[0] & ~_null(root), "the tree holds the question alone: no step below it")
        ids, lengths, rows = _paths(parents, leaf)
        base = np.cumsum([0] + [len(t) for t in texts[1:]])  # global ids of levels 1..
        flat_ids = np.concatenate(
            [base[d - 1] + local for d, local in ids] or [np.zeros(0, np.int64)]
        )
        order = np.concatenate([at for at, _ in _placed(ids, lengths)] or [np.zeros(0, np.int64)])
        steps = np.empty(len(flat_ids), np.int64)
        steps[order] = flat_ids
        all_texts = _concat([t.cast(pa.string()) for t in texts[1:]], pa.string())
        all_values = _floats_concat(values[1:])
        threshold = _threshold(opts)
        labels = pa.array(all_values[steps] >= threshold)
        completions = lists_from(all_texts.take(pa.array(steps, pa.int64())), lengths)
        idx = pa.array(rows, pa.int64())
        out = pa.table(
            {
                "prompt": as_array(table.column("prompt")).take(idx),
                "completions": completions,
                "labels": lists_from(labels, lengths),
            }
        )
        for name in table.column_names:
            if name not in ("prompt", TREE):
                out = out.append_column(name, table.column(name).take(idx))
        return Converted(out, rows=rows)


def _threshold(opts: ImportOptions) -> float:
    return THRESHOLD if opts.threshold is None else float(opts.threshold)


def _null(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)


def _floats(arr: pa.Array) -> np.ndarray:
    """`mc_value`s as floats, nulls as 0 (they are refused apart)."""
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        if not pa.types.is_null(arr.type):
            raise DataError(f"mc_value must hold numbers, not {arr.type}", column=TREE)
    return np.asarray(pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy(), float)


def _floats_concat(values: list[pa.Array]) -> np.ndarray:
    return np.concatenate([_floats(v) for v in values] or [np.zeros(0)])


def _concat(arrays: list[pa.Array], t: pa.DataType) -> pa.Array:
    return pa.concat_arrays(arrays) if arrays else pa.array([], t)


def _levels(
    root: pa.Array,
) -> tuple[list[pa.Array], list[pa.Array], list[np.ndarray], list[np.ndarray]]:
    """Per tree level (0: the roots): the nodes' texts, values, each node's parent (its index
    in the level above; level 0: its row) and whether it is a leaf."""
    texts, values, parents, leaves = [], [], [np.arange(len(root), dtype=np.int64)], []
    nodes = root
    while True:
        texts.append(pc.struct_field(nodes, "text"))
        values.append(pc.struct_field(nodes, "mc_value"))
        children = pc.struct_field(nodes, "children")
        count = row_lengths(children)
        leaves.append(count == 0)
        if not count.sum() or not pa.types.is_struct(children.type.value_type):
            leaves[-1][:] = True  # children of no known shape (all empty, or null items)
            return texts, values, parents, leaves
        parents.append(parent_rows(children))
        nodes = pc.list_flatten(children)


def _paths(
    parents: list[np.ndarray], leaf: list[np.ndarray]
) -> tuple[list[tuple[int, np.ndarray]], np.ndarray, np.ndarray]:
    """The steps of every path from a root to a leaf below it, in the tree's order: per
    level d >= 1, (d, the level's node index of each path's step at d, for the paths that
    reach d); each path's length; its input row."""
    depth = len(leaf)
    ends = [(d, np.flatnonzero(leaf[d])) for d in range(1, depth)]
    # each path's node at every level (-1 past its end), walked up from its leaf
    at = np.full((sum(len(e) for _, e in ends), max(depth, 1)), -1, np.int64)
    length = np.zeros(len(at), np.int64)
    start = 0
    for d, nodes in ends:
        block = slice(start, start + len(nodes))
        length[block] = d
        cur = nodes
        for level in range(d, 0, -1):
            at[block, level] = cur
            cur = parents[level][cur]
        at[block, 0] = cur  # the input row
        start += len(nodes)
    # level-1 indices follow the rows and the children's order: sorting on them, level by
    # level, gives the tree's depth-first order
    keys = tuple(at[:, level] for level in range(depth - 1, 0, -1))
    order = np.lexsort(keys) if keys else np.arange(len(at))
    at, length = at[order], length[order]
    ids = [(d, at[at[:, d] >= 0, d]) for d in range(1, depth)]
    return ids, length, at[:, 0]


def _placed(ids: list[tuple[int, np.ndarray]], lengths: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Where each level's steps go in the flattened completions (path by path, in order)."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    out = []
    for d, _ in ids:
        reach = np.flatnonzero(lengths >= d)
        out.append((starts[reach] + (d - 1), d))
    return out
