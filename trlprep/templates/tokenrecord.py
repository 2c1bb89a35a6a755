"""The options a tokenised table was cut with (`trlprep convert --tokenize`), recorded in its
schema metadata under the `trlprep` key, and compared with a training run's own.

The record (JSON under `b"trlprep"`, `{"tokenize": {...}}`) names the dataset type, the
tokenizer (its name, vocabulary size and a fingerprint of its vocabulary and special tokens),
the chat template (name and a hash of its source, or none: standard text), whether the EOS
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
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from trlprep.io.datasetfolders import META_KEY as KEY

VERSION = 1


def tokenizer_identity(tokenizer: Any) -> dict[str, Any]:
    """Name, vocabulary size and a fingerprint (sha256 of the vocabulary and the BOS/EOS
    tokens, 16 hex digits) of `tokenizer`; the same tokenizer read from another path has
    the same fingerprint."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    special = [getattr(tokenizer, "bos_token", None), getattr(tokenizer, "eos_token", None)]
    digest = hashlib.sha256(json.dumps([vocab, special], ensure_ascii=False).encode())
    return {
        "name": str(getattr(tokenizer, "name_or_path", "") or ""),
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
) -> dict[str, Any]:
    """The record of one tokenisation (see the module docstring)."""
    return {
        "version": VERSION,
        "type": dtype,
        "tokenizer": tokenizer_identity(tokenizer),
        "chat_template": template_identity(template),
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


def longest_sequence(ids: dict[str, list], dtype: str) -> int:
    """The longest sequence the id columns make (a shared prompt counts with each answer
    from its side's start; stepwise: prompt + every step)."""
    if dtype == "stepwise-supervision":
        return max(
            (len(p) + sum(map(len, s)) for p, s in zip(ids["prompt_ids"], ids["completions_ids"],
                                                       strict=True)),
            default=0,
        )  # fmt: skip
    from trlprep.templates.tokenize import _IDS, _START, _longest

    types = {k: pa.int32() if k.endswith(_START) else _IDS for k in ids}
    prompts = max(map(len, ids.get("prompt_ids") or []), default=0)  # prompt-only rows
    return max(_longest(ids, types), prompts)


def nothing_cut(ids: dict[str, list], dtype: str, made_at: int, steps: list[int] | None) -> bool:
    """Whether ids cut at `made_at` show that no row was cut: every sequence is shorter than
    `made_at` (a cut sequence fills it), and for stepwise rows (cut at whole steps) every
    step is there (`steps`: each row's number of steps) and none was emptied."""
    if longest_sequence(ids, dtype) >= made_at:
        return False
    if dtype != "stepwise-supervision":
        return True
    rows = ids["completions_ids"]
    return steps is not None and all(
        len(r) == n and all(r) for r, n in zip(rows, steps, strict=True)
    )


def refit_problem(
    record: dict[str, Any],
    ids: Callable[[], dict[str, list]],
    *,
    max_length: int | None,
    truncation: str,
    steps: Callable[[], list[int] | None] = lambda: None,
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
    "template_identity",
    "tokenizer_identity",
    "with_record",
]
