"""The options a tokenised table was cut with (`trlprep convert --tokenize`), recorded in its
schema metadata under the `trlprep` key, and compared with a training run's own.

The record (JSON under `b"trlprep"`, `{"tokenize": {...}}`) names the dataset type, the
tokenizer (its name, vocabulary size and a fingerprint of its vocabulary and special tokens),
the chat template (name and a hash of its source, and the template kwargs and `--tools`
schemas it rendered with where some were given; or none: standard text), whether the EOS
was appended to completions, the step separator (stepwise supervision), `max_length` and
`truncation`. Parquet and Arrow IPC files keep it; `save_to_disk` folders and
`datasets.Dataset` objects keep it in their `DatasetInfo.description`
(`io.datasetfolders`); JSON Lines cannot, so a JSON Lines file is judged by what its ids
show.

`refit_problem` says whether the file's ids can be cut to a run's `max_length` /
`truncation` exactly as the run would cut ids it makes itself (None), or why not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.io.datasetfolders import META_KEY as KEY

_START = "_prompt_start"  # a pair side's start in prompt_ids (`tokenize._START`)

VERSION = 1


def tokenizer_identity(tokenizer: Any, name: str | None = None) -> dict[str, Any]:
    """Name (`name`, else the path or id it was loaded from), vocabulary size and a
    fingerprint (sha256 of the vocabulary and the BOS/EOS tokens, 16 hex digits) of
    `tokenizer`; the same tokenizer read from another path has the same fingerprint."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    special = [getattr(tokenizer, "bos_token", None), getattr(tokenizer, "eos_token", None)]
    digest = hashlib.sha256(json.dumps([vocab, special], ensure_ascii=False).encode())
    return {
        "name": name if name is not None else str(getattr(tokenizer, "name_or_path", "") or ""),
        "vocab_size": len(tokenizer),
        "fingerprint": digest.hexdigest()[:16],
    }


def template_identity(template: Any) -> dict[str, Any] | None:
    """A chat template's name and the sha256 of its source (16 hex digits); None: no
    template (standard text)."""
    if template is None:
        return None
    source = getattr(template, "source", "") or ""
    return {
        "name": str(getattr(template, "name", "") or ""),
        "sha256": hashlib.sha256(source.encode()).hexdigest()[:16],
    }


def step_separator_of(dtype: str, opts: Any) -> str | None:
    """Stepwise rows' step separator when tokenising: `opts.step_separator`, else TRL's PRM
    default (a newline); None for other types."""
    if dtype != "stepwise-supervision":
        return None
    given = getattr(opts, "step_separator", None)
    return "\n" if given is None else given


def make_record(
    dtype: str,
    tokenizer: Any,
    template: Any,
    *,
    add_eos: bool,
    max_length: int | None,
    truncation: str,
    step_separator: str | None = None,
    tokenizer_name: str | None = None,
    template_kwargs: Mapping[str, Any] | None = None,
    tools: list | None = None,
) -> dict[str, Any]:
    """The record of one tokenisation (see the module docstring); `tokenizer_name`: the
    tokenizer as the user named it, where it was loaded from another path;
    `template_kwargs`, `tools`: those the template rendered with (the tools given for rows
    without their own), kept beside its identity."""
    made = template_identity(template)
    if made is not None and template_kwargs:
        made["kwargs"] = json.loads(json.dumps(dict(template_kwargs), default=str))
    if made is not None and tools:
        made["tools"] = json.loads(json.dumps(list(tools), default=str))
    return {
        "version": VERSION,
        "type": dtype,
        "tokenizer": tokenizer_identity(tokenizer, tokenizer_name),
        "chat_template": made,
        "add_eos": add_eos,
        "step_separator": step_separator,
        "max_length": max_length,
        "truncation": truncation,
    }


def with_record(table: pa.Table, record: dict[str, Any]) -> pa.Table:
    """`table` with `record` in its schema metadata (other metadata kept)."""
    meta = dict(table.schema.metadata or {})
    meta[KEY] = json.dumps({"tokenize": record}, ensure_ascii=False).encode()
    return table.replace_schema_metadata(meta)


def read_record(schema: pa.Schema | None) -> dict[str, Any] | None:
    """The tokenisation record in `schema`'s metadata, or None (none, or unreadable)."""
    raw = (schema.metadata or {}).get(KEY) if schema is not None else None
    if not raw:
        return None
    try:
        record = json.loads(raw).get("tokenize")
    except (ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) else None


def described(record: dict[str, Any]) -> str:
    """The record's cutting options as `convert` flags: `--truncation keep_end
    --max-length 64` (or `no --max-length`)."""
    if record.get("max_length") is None:
        return "no --max-length"
    return f"--max-length {record['max_length']} --truncation {record.get('truncation')}"


IdColumns = pa.Table | Mapping[str, Any]  # id columns: a table, or arrays / lists by name


def longest_sequence(ids: IdColumns, dtype: str) -> int:
    """The longest sequence the id columns make (a shared prompt counts with each answer
    from its side's start; stepwise: prompt + every step), read column by column (a null
    list counts as empty, a null `*_prompt_start` as 0)."""
    table = ids if isinstance(ids, pa.Table) else pa.table(dict(ids))
    longest = 0
    for batch in table.to_batches():  # the columns' chunks aligned
        if batch.num_rows:
            longest = max(longest, int(_row_lengths(batch, dtype).max()))
    return longest


def _row_lengths(batch: pa.RecordBatch, dtype: str) -> np.ndarray:
    """Each row's longest sequence (see `longest_sequence`)."""
    names = batch.schema.names
    prompt = _lengths(batch.column("prompt_ids")) if "prompt_ids" in names else None
    longest = np.zeros(batch.num_rows, np.int64) if prompt is None else prompt  # prompt-only
    if dtype == "stepwise-supervision":
        return longest + step_id_counts(batch.column("completions_ids"))
    for name in names:
        if name == "prompt_ids" or name.endswith(_START):
            continue
        answer = _lengths(batch.column(name))
        if prompt is not None:
            start = name.removesuffix("_ids") + _START
            cut = 0
            if start in names:  # all None given as Python values: a null-typed column
                cut = pc.cast(batch.column(start), pa.int64()).fill_null(0).to_numpy()
            answer = answer + prompt - cut
        longest = np.maximum(longest, answer)
    return longest


def _lengths(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each row's list length (null: 0)."""
    if pa.types.is_null(column.type):  # lists given as Python values, all None
        return np.zeros(len(column), np.int64)
    return list_lengths(column)


def step_id_counts(column: pa.Array) -> np.ndarray:
    """Each row's number of ids over all its steps (a `completions_ids` array)."""
    if pa.types.is_null(column.type):
        return np.zeros(len(column), np.int64)
    steps = _lengths(pc.list_flatten(column))
    # flatten leaves out what a null row's slot spans, so rows are read off the lengths
    rows = np.repeat(np.arange(len(column)), _lengths(column))
    return np.bincount(rows, weights=steps, minlength=len(column)).astype(np.int64)


def nothing_cut(
    ids: IdColumns,
    dtype: str,
    made_at: int,
    steps: pa.Array | pa.ChunkedArray | list[int] | None,
) -> bool:
    """Whether ids cut at `made_at` show that no row was cut: every sequence is shorter than
    `made_at` (a cut sequence fills it), and for stepwise rows (cut at whole steps) every
    step is there (`steps`: each row's number of steps) and none was emptied."""
    table = ids if isinstance(ids, pa.Table) else pa.table(dict(ids))
    if longest_sequence(table, dtype) >= made_at:
        return False
    if dtype != "stepwise-supervision":
        return True
    if steps is None:
        return False
    rows = table.column("completions_ids")
    if pc.any(pc.is_null(rows)).as_py():  # no step list at all: not what was made
        return False
    counts = _lengths(rows)  # lists given as Python values may be null-typed
    wanted = pc.cast(pa.array(steps) if isinstance(steps, list) else steps, pa.int64())
    wanted = pc.fill_null(wanted, -1).to_numpy()  # an unknown count matches none
    if len(counts) != len(wanted) or not np.array_equal(counts, wanted):
        return False
    if pa.types.is_null(rows.type):  # no rows (a null row returned above)
        return True
    each = _lengths(pc.list_flatten(rows))  # a null step: emptied
    return len(each) == 0 or int(each.min()) > 0


def refit_problem(
    record: dict[str, Any],
    ids: Callable[[], IdColumns],
    *,
    max_length: int | None,
    truncation: str,
    steps: Callable[[], pa.Array | pa.ChunkedArray | None] = lambda: None,
) -> str | None:
    """None when ids made with `record`'s options can be cut to `max_length` / `truncation`
    exactly as those options would have cut them from the text; else which option differs,
    with both values. `ids` gives the id columns and `steps` each row's number of steps
    (stepwise), read only when the options alone do not settle it."""
    made_at, made_mode = record.get("max_length"), record.get("truncation", "keep_start")
    if made_at is None:
        return None  # whole sequences: any cut can be made from them
    if made_mode == truncation and max_length is not None and max_length <= made_at:
        return None  # the same cut, shorter or equal
    if nothing_cut(ids(), record.get("type", ""), made_at, steps()):
        return None  # cut at made_at, but no row reached it: whole sequences
    what = []
    if max_length is None or max_length > made_at:
        run = "none" if max_length is None else str(max_length)
        what.append(f"max length {made_at} (this run's max_length: {run})")
    if made_mode != truncation and max_length is not None:
        what.append(f"truncation {made_mode} (this run's truncation_mode: {truncation})")
    return "the file was cut with " + " and ".join(what)


__all__ = [
    "KEY",
    "described",
    "longest_sequence",
    "make_record",
    "nothing_cut",
    "read_record",
    "refit_problem",
    "step_id_counts",
    "template_identity",
    "tokenizer_identity",
    "with_record",
]
