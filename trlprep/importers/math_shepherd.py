"""Math-Shepherd -> stepwise supervision (standard format).

Math-Shepherd (`input` with the step tag `ки` after each step, `label` the same text with
`+` or `-` in place of each tag): parsed as TRL's `examples/datasets/math_shepherd.py`
(`trl-lib/math_shepherd`): the prompt is the text before `Step 1:` (or `step 1:`, else up
to the first `?`), each step is stripped, and the label is the `+`/`-` at its tag.

Rows that cannot be imported are reported with their reason: no labelled step, tags that
do not line up with `+`/`-` labels. Parsed column-wise (Arrow splits and the tags' byte
positions in `label`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_string
from trlprep.converters.arrowops import as_array, offsets, string_data
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
from trlprep.registry import STEPWISE_SUPERVISION, DatasetType, Format

STEP_TAG = "ки"
_LS = pa.large_string()


# Prompts that carry a stray label before their first step (TRL's script drops that label).
_STRAY_LABEL_PROMPTS = (
    "Mr. Rocky",
    "Parker",
    "What is the smallest positive",
    " The Myth",
    "Let $\\mathbf{a}$",
    "Find the arithmetic",
    "Determine an ordered pair",
    "Determine the ordered pair",
    "At the Quill and Scroll stationery",
    "Round to the nearest",
    r"Calculate $\sqrt{10p}",
    r"Simplify $\sqrt{28x}",
)


class MathShepherd(Importer):
    name = "math-shepherd"
    aliases = ("mathshepherd", "shepherd")
    description = (
        "Math-Shepherd rows (input: problem and steps each ending in the tag 'ки'; label: "
        "the same text with '+' or '-' at each tag) -> stepwise supervision, parsed as "
        "TRL's math_shepherd script (prompt before 'Step 1:', steps stripped)."
    )
    reads = "input (steps tagged 'ки'), label (the same text with +/- at the tags)"
    columns = ("input", "label")

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if not all(
            c in schema.names and is_string(schema.field(c).type) for c in ("input", "label")
        ):
            return False
        if sample is None or sample.num_rows == 0:
            return False
        texts = [t for t in as_array(sample.column("input")).to_pylist() if t]
        return bool(texts) and all(STEP_TAG in t for t in texts)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return STEPWISE_SUPERVISION, Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "prompt: the text before 'Step 1:' (or 'step 1:', else up to the first '?'), stripped",
            "completions: the text between step tags 'ки', stripped",
            "labels: '+' at a tag in `label` -> true, '-' -> false",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "input", "label", layout="math-shepherd")
        for name in ("input", "label"):
            if not is_string(table.schema.field(name).type):
                raise DataError(f"must hold text, not {table.schema.field(name).type}", column=name)
        prompt, steps, labels, why = parse_shepherd_columns(
            as_array(table.column("input")), as_array(table.column("label"))
        )
        bad.add_per_row(why != None, why)  # noqa: E711
        produced = {"prompt": prompt, "completions": steps, "labels": labels}
        return Converted(assemble(table, produced, ("input", "label")))


def _strip(arr: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(arr)


def parse_shepherd_columns(
    inputs: pa.Array, marks: pa.Array
) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    """Columnar `parse_shepherd`: prompts, step lists, label lists and, per row, the problem
    (None where the row parses; its output values are then placeholders)."""
    n = len(inputs)
    why = np.full(n, None, dtype=object)
    marks_valid = np.asarray(marks.is_valid().to_numpy(zero_copy_only=False), bool)
    in_valid = np.asarray(inputs.is_valid().to_numpy(zero_copy_only=False), bool)
    inputs = pc.fill_null(inputs.cast(pa.large_string()), "")
    marks = pc.fill_null(marks.cast(pa.large_string()), "")
    why[~(marks_valid & in_valid)] = "input or label is null"
    pieces = pc.split_pattern(inputs, STEP_TAG)
    tags = row_lengths(pieces) - 1
    flat = pc.list_flatten(pieces)
    parent = parent_rows(pieces)
    first_of_row = np.cumsum(row_lengths(pieces)) - row_lengths(pieces)
    within = np.arange(len(flat)) - first_of_row[parent]
    _, blen = offsets(flat)
    # byte position, in `label`, of the tag after each piece (the tag is one byte there)
    step = blen + 1
    excl = np.cumsum(step) - step
    excl -= excl[first_of_row][parent]
    is_tag = within < tags[parent]
    pos = (excl + blen)[is_tag]
    tag_row = parent[is_tag]
    mstart, mlen = offsets(marks)
    _, ilen = offsets(inputs)
    aligned = mlen == ilen - (len(STEP_TAG.encode()) - 1) * tags
    data = string_data(marks)
    safe = aligned[tag_row]
    byte = np.zeros(len(pos), dtype=np.uint8)
    byte[safe] = data[mstart[tag_row[safe]] + pos[safe]]
    wrong = np.zeros(n, dtype=bool)
    wrong[tag_row[~np.isin(byte, (ord("+"), ord("-")))]] = True
    for mask, reason in (
        (tags == 0, "input holds no step tag 'ки'"),
        (wrong | ~aligned, "label does not hold '+' or '-' where input holds each step tag"),
    ):
        why[mask & (why == None)] = reason  # noqa: E711
    head = flat.take(pa.array(first_of_row, pa.int64()))
    stray = np.asarray(pc.starts_with(head, _STRAY_LABEL_PROMPTS[0]).to_numpy(
        zero_copy_only=False), bool)  # fmt: skip
    for prefix in _STRAY_LABEL_PROMPTS[1:]:
        stray |= np.asarray(pc.starts_with(head, prefix).to_numpy(zero_copy_only=False), bool)
    prompt = head
    first = pa.array([""] * n, pa.large_string())
    decided = stray.copy()
    for marker, keep_marker in (("Step 1:", True), ("step 1:", True), ("?", False)):
        count = np.asarray(pc.count_substring(head, marker).to_numpy(zero_copy_only=False))
        take = ~decided & (count >= 1)
        twice = take & (count > 1)
        why[twice & (why == None)] = (  # noqa: E711
            f"input holds {marker!r} twice before its first tag"
            if keep_marker
            else "cannot tell the problem from its first step (several '?', no 'Step 1:')"
        )
        parts = pc.split_pattern(head, marker, max_splits=1)
        before = pc.list_element(
            pc.if_else(pa.array(take), parts, pa.scalar(["", ""], parts.type)), 0
        )
        after = pc.list_element(
            pc.if_else(pa.array(take), parts, pa.scalar(["", ""], parts.type)), 1
        )
        if keep_marker:
            this_first = pc.binary_join_element_wise(
                pa.scalar(marker, _LS), after, pa.scalar("", _LS)
            )
        else:
            this_first = after
            before = pc.binary_join_element_wise(before, pa.scalar("?", _LS), pa.scalar("", _LS))
        mask = pa.array(take)
        prompt = pc.if_else(mask, before, prompt)
        first = pc.if_else(mask, this_first, first)
        decided |= take
    why[~decided & (why == None)] = (  # noqa: E711
        "cannot tell the problem from its first step (no 'Step 1:' and no '?')"
    )
    # steps: [first] (unless stray) + the pieces between tags, each stripped
    middle = is_tag & (within >= 1)
    values = pa.concat_arrays(
        [_strip(first).take(pa.array(np.flatnonzero(~stray), pa.int64())),
         _strip(flat.filter(pa.array(middle)))]
    )  # fmt: skip
    owner = np.concatenate([np.flatnonzero(~stray), parent[middle]])
    order = np.concatenate([np.full(int((~stray).sum()), -1), within[middle]])
    sort = np.lexsort((order, owner))
    counts = np.bincount(owner, minlength=n)
    steps = lists_from(values.take(pa.array(sort, pa.int64())).cast(pa.string()), counts)
    keep_label = ~(stray[tag_row] & (within[is_tag] == 0))
    label_counts = np.bincount(tag_row[keep_label], minlength=n)
    labels = lists_from(pa.array(byte[keep_label] == ord("+")), label_counts)
    return _strip(prompt).cast(pa.string()), steps, labels, why
