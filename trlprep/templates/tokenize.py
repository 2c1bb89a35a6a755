"""Tokenise a templated (standard) table into the id columns trainers consume.

- language modeling: `input_ids`;
- prompt-completion: `input_ids` (prompt + completion) and `completion_mask`;
- prompt-only: `prompt_ids`; implicit preference: `chosen_ids`, `rejected_ids`;
- preference: `prompt_ids`, `chosen_ids`, `rejected_ids` (with `--truncation keep_end` also
  `chosen_prompt_start`, `rejected_prompt_start`: see `fit`); unpaired: `prompt_ids`,
  `completion_ids`;
- stepwise supervision (with `step_separator`): `prompt_ids`, and `completions_ids` with each
  step's ids followed by the separator's (TRL's PRM layout; steps are tokenised one by one).

Prompt and prompt+completion are tokenised whole and split, so the prompt ids are always a
prefix of the full sequence; rows where the tokenizer merges tokens across the boundary (the
prompt tokenised alone is not a prefix) are counted and split at the common prefix. Every
distinct prompt is tokenised once.

Special tokens (`encoder`): rendered text gets exactly `apply_chat_template(tokenize=True)`'s
ids, standard text the BOS its tokenizer adds (once) and, with `add_eos`, the tokenizer's EOS
appended to each completion (the whole text for language modeling, each side for implicit
preference) that does not already end with it, as TRL's trainers do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.errors import RowFailures, TrlprepError, UsageError
from trlprep.registry import DatasetType, Kind, get_type
from trlprep.templates.answercut import (
    answer_cut_warning,
    answers_cut,
    flag_words,
    merge_ends,
    whole_lengths,
)
from trlprep.templates.encoder import Encoder, with_eos
from trlprep.templates.fit import common_prefix, fit, fit_steps, truncate
from trlprep.templates.rules import plan_for
from trlprep.templates.tokenrecord import longest_sequence
from trlprep.templates.tokenrows import check_rows, cut_reason, failing_rows
from trlprep.wording import plural

TRUNCATION = ("keep_start", "keep_end")
CUT_AWAY = ("fail", "keep")
_IDS = pa.list_(pa.int32())
_STEP_IDS = pa.list_(_IDS)
_START = "_prompt_start"  # where a side's sequence starts in prompt_ids (keep_end pairs)


@dataclass
class TokenizeReport:
    """Rows tokenised, boundary merges, truncations and the longest sequence."""

    rows: int = 0
    boundary_merges: int = 0
    boundary_examples: list[int] = field(default_factory=list)
    truncated: int = 0
    prompt_cut: int = 0  # truncated rows whose prompt lost tokens
    completion_cut: int = 0  # truncated rows whose completion(s) or steps lost tokens
    answer_cut: int = 0  # rows cut before their reasoning's end (`answercut`)
    answer_need: int = 0  # the most tokens one of those needs to keep its answer whole
    answer_ends: list[str] = field(default_factory=list)  # the reasoning ends those hold
    max_tokens: int = 0
    max_length: int | None = None
    truncation: str = "keep_start"
    example_label: str = "rows"  # what the examples number: 0-based rows, or input "lines"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def truncation_note(self) -> str | None:
        """What truncation cut, in words (None when nothing was cut)."""
        if not self.truncated:
            return None
        limit = f"--max-length {self.max_length}" if self.max_length else "--max-length"
        side = "start" if self.truncation == "keep_end" else "end"
        what = []
        if self.completion_cut:
            what.append(f"the completion's {side} cut in {plural(self.completion_cut, 'row')}")
        if self.prompt_cut:
            what.append(f"the prompt's {side} cut in {plural(self.prompt_cut, 'row')}")
        tail = f": {', '.join(what)}" if what else f" (each sequence's {side} cut)"
        return f"{plural(self.truncated, 'row')} truncated to {limit}{tail}"

    def answer_cut_warning(self, said: Callable[[int], str] = flag_words) -> str | None:
        """The rows cut before their reasoning's end, in words (None when there are none)."""
        if not self.answer_cut or self.max_length is None:
            return None
        return answer_cut_warning(
            self.answer_cut, self.max_length, self.answer_need, said, self.answer_ends
        )

    def merge(self, other: TokenizeReport, examples: int = 5) -> None:
        """Add another batch's report to this one."""
        self.rows += other.rows
        self.boundary_merges += other.boundary_merges
        room = max(0, examples - len(self.boundary_examples))
        self.boundary_examples.extend(other.boundary_examples[:room])
        self.truncated += other.truncated
        self.prompt_cut += other.prompt_cut
        self.completion_cut += other.completion_cut
        self.answer_cut += other.answer_cut
        self.answer_need = max(self.answer_need, other.answer_need)
        self.answer_ends = merge_ends(self.answer_ends, other.answer_ends)
        self.max_length = self.max_length or other.max_length
        self.max_tokens = max(self.max_tokens, other.max_tokens)


def token_columns(
    dtype: DatasetType | str, truncation: str = "keep_start", max_length: int | None = None
) -> tuple[str, ...]:
    """The id columns `tokenize_table` adds for `dtype` (with these truncation options)."""
    dtype = get_type(dtype)
    if dtype.name == "preference" and truncation == "keep_end" and max_length is not None:
        return ("prompt_ids", "chosen_ids", "rejected_ids", "chosen" + _START, "rejected" + _START)
    if dtype.name == "language-modeling":
        return ("input_ids",)
    if dtype.name == "prompt-completion":
        return ("input_ids", "completion_mask")
    if dtype.name == "preference":
        return ("prompt_ids", "chosen_ids", "rejected_ids")
    if dtype.name == "preference-implicit":
        return ("chosen_ids", "rejected_ids")
    if dtype.name == "prompt-only":
        return ("prompt_ids",)
    if dtype.name == "stepwise-supervision":
        return ("prompt_ids", "completions_ids")
    return ("prompt_ids", "completion_ids")


def tokenize_table(
    table: pa.Table,
    dtype: DatasetType | str,
    tokenizer: Any,
    *,
    max_length: int | None = None,
    truncation: str = "keep_start",
    row_offset: int = 0,
    add_eos: bool = False,
    step_separator: str | None = None,
    cut_away: str = "fail",
    templated: bool = False,
) -> tuple[pa.Table, TokenizeReport]:
    """Add the token-id columns of `dtype` to a standard (templated) table.

    `max_length` caps prompt + completion (each side of a pair on its own) as TRL's
    `truncation_mode` does: keep_start keeps the first `max_length` tokens, keep_end the last
    ones (see `fit`); with keep_end, preference rows also get `chosen_prompt_start` and
    `rejected_prompt_start`: where each side's sequence starts in `prompt_ids`. A stepwise
    row keeps only the steps that fit whole (a step's label belongs to its last token). `add_eos`
    appends the EOS token to completions as TRL does for standard text (the text columns are
    left as they are). Stepwise supervision needs `step_separator` (TRL's PRM default: "\\n").
    `templated`: the text was rendered by a chat template, so no BOS is added to it (the
    template wrote its own, or none); standard text gets the BOS its tokenizer adds.

    A row whose completion (either completion of a pair, every step) truncation cuts away
    entirely has nothing to train on: with `cut_away="fail"` those rows raise one
    `RowFailures` (stage `tokenize`); with "keep" they stay, with empty completion ids.
    """
    dtype = get_type(dtype)
    if truncation not in TRUNCATION:
        raise UsageError(f"unknown truncation {truncation!r}", hint="use keep_start or keep_end")
    if cut_away not in CUT_AWAY:
        raise UsageError(f"unknown cut_away {cut_away!r}", hint="use fail or keep")
    plan = plan_for(dtype)
    if dtype.name == "stepwise-supervision" and step_separator is None:
        raise UsageError(
            "tokenising stepwise-supervision data needs a step separator",
            hint="tokenise it with the trainer (`trlprep train --algo prm --step-separator`)",
        )
    columns = [plan.out_names[c] for c in plan.content]
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise UsageError("cannot tokenise: missing text column(s) " + ", ".join(missing))
    if table.schema.field(columns[0]).type not in (pa.string(), pa.large_string()):
        raise UsageError("tokenise text: apply a chat template first (--chat-template)")
    check_rows(table, columns)
    enc = Encoder(tokenizer, templated)
    try:
        out, report, cut = _tokenize(table, dtype, plan, columns, enc, max_length, truncation,
                                     row_offset, add_eos, step_separator)  # fmt: skip
    except TrlprepError:
        raise
    except Exception:  # the tokenizer's own error: find the rows it refuses
        failing_rows(table, columns, enc)
        raise
    if cut and cut_away == "fail":
        rows = sorted(cut)
        raise RowFailures(
            rows,
            [cut[r] for r in rows],
            stage="tokenize",
            hint="raise --max-length, keep the prompt's end (--truncation keep_end), or set "
            "these rows aside (--on-error skip)",
        )
    return out, report


def _tokenize(
    table: pa.Table,
    dtype: DatasetType,
    plan: Any,
    columns: list[str],
    enc: Encoder,
    max_length: int | None,
    truncation: str,
    row_offset: int,
    add_eos: bool,
    step_separator: str | None,
) -> tuple[pa.Table, TokenizeReport, dict[int, str]]:
    report = TokenizeReport(rows=table.num_rows, max_length=max_length, truncation=truncation)
    cut: dict[int, str] = {}
    whole: dict[str, np.ndarray] = {}
    cuts_end = max_length is not None and truncation == "keep_start"
    prompt = plan.out_names.get(plan.prompt) if plan.prompt else None
    eos = getattr(enc.tok, "eos_token", None) if add_eos else None
    text = {
        c: (with_eos(table.column(c), eos) if eos and c != prompt else table.column(c)).to_pylist()
        for c in columns
    }
    if dtype.name == "stepwise-supervision":
        steps = next(c.name for c in dtype.columns if c.kind is Kind.STEPS)
        new = _stepwise(
            enc, text[prompt], table.column(steps), step_separator, max_length, truncation, report,
            cut,
        )  # fmt: skip
        types = {"prompt_ids": _IDS, "completions_ids": _STEP_IDS}
    elif prompt is None:  # language modeling, implicit preference: whole sequences
        fulls = {c: enc.many(text[c]) for c in columns}
        whole = whole_lengths(fulls, table, eos, enc.tok) if cuts_end else {}
        new = truncate_rows(
            {"input_ids" if c == "text" else f"{c}_ids": v for c, v in fulls.items()},
            max_length, truncation, report,
        )  # fmt: skip
        del fulls
        types = dict.fromkeys(new, _IDS)
    else:
        fulls = {c: enc.many([p + x for p, x in zip(text[prompt], text[c], strict=True)])
                 for c in columns if c != prompt}  # fmt: skip
        whole = whole_lengths(fulls, table, eos, enc.tok) if cuts_end else {}
        new = _split(enc, dtype, text, fulls, prompt, max_length, truncation, report, row_offset,
                     cut)  # fmt: skip
        del fulls
        types = {k: pa.int32() if k.endswith(_START) else _IDS for k in new}
    arrays = {name: pa.array(values, types[name]) for name, values in new.items()}
    if report.truncated and cuts_end:
        answers = (
            [c for c in columns if c != prompt] if dtype.name != "stepwise-supervision" else []
        )
        lost, need, ends = answers_cut(table, answers, prompt, arrays, enc.many, max_length, whole)
        report.answer_cut += lost
        report.answer_need = max(report.answer_need, need)
        report.answer_ends = merge_ends(report.answer_ends, ends)
    if dtype.name != "stepwise-supervision":  # a pair's prompt counts with its answer
        report.max_tokens = max(report.max_tokens, longest_sequence(arrays, dtype.name))
    for name, arr in arrays.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    return table, report, cut


def truncate_rows(
    columns: dict[str, list[list[int]]],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> dict[str, list[list[int]]]:
    """Whole sequences (each column's) cut by `truncate`; the report counts rows, not
    sequences (an implicit pair whose two sides are cut is one truncated row)."""
    cut: set[int] = set()
    out = {}
    for name, seqs in columns.items():
        side = TokenizeReport()
        out[name] = []
        for i, x in enumerate(seqs):
            before = side.truncated
            out[name].append(truncate(x, max_length, mode, side))
            if side.truncated != before:
                cut.add(i)
    report.truncated += len(cut)
    return out


def _split(
    enc: Encoder,
    dtype: DatasetType,
    text: dict[str, list[str]],
    fulls: dict[str, list[list[int]]],
    prompt: str,
    max_length: int | None,
    truncation: str,
    report: TokenizeReport,
    row_offset: int,
    cut: dict[int, str],
) -> dict[str, list]:
    """Prompt ids and each completion's ids, split off prompt + completion tokenised whole
    (`fulls`, per completion column); rows whose completions truncation cuts away entirely go
    to `cut` with a reason."""
    rest = [c for c in text if c != prompt]
    p_ids = enc.distinct(text[prompt])
    prompts, parts, starts = [], {c: [] for c in rest}, {c: [] for c in rest}
    for i, p in enumerate(p_ids):
        full = [fulls[c][i] for c in rest]
        k = min([common_prefix(p, f) for f in full], default=len(p))
        if k < len(p):
            report.boundary_merges += 1
            if len(report.boundary_examples) < 5:
                report.boundary_examples.append(i + row_offset)
        whole = [f[k:] for f in full]
        row = fit(full[0][:k] if full else p, whole, max_length, truncation, report)
        # a pair with either side left without a token has no log-ratio to train on: refused,
        # as `trlprep train` drops it (`trainable`), whichever side it is
        gone = [c for c, t in zip(rest, row.tails, strict=True) if not t]
        if max_length is not None and any(whole) and gone:
            empty = [c for c, w in zip(rest, whole, strict=True) if not w]
            cut[i] = cut_reason(rest, gone, k, max_length, empty)
        prompts.append(row.prompt)
        for c, tail, start in zip(rest, row.tails, row.starts, strict=True):
            parts[c].append(tail)
            starts[c].append(start)
    if dtype.name == "prompt-completion":
        tails = parts[rest[0]]
        return {
            "input_ids": [h + t for h, t in zip(prompts, tails, strict=True)],
            "completion_mask": [
                [0] * len(h) + [1] * len(t) for h, t in zip(prompts, tails, strict=True)
            ],
        }
    out = {"prompt_ids": prompts, **{f"{c}_ids": parts[c] for c in rest}}
    if len(rest) > 1 and max_length is not None and truncation == "keep_end":
        out.update({f"{c}_prompt_start": starts[c] for c in rest})
    return out


def _stepwise(
    enc: Encoder,
    prompts: list[str],
    steps: pa.ChunkedArray,
    separator: str,
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
    cut: dict[int, str],
) -> dict[str, list]:
    """Prompt ids, and each row's steps as ids each followed by the separator's ids; rows
    left without any step go to `cut` with a reason."""
    sep = enc.pieces([separator])[0] if separator else []
    flat = enc.pieces(pc.list_flatten(steps).to_pylist())
    counts = list_lengths(steps).tolist()
    out: dict[str, list] = {"prompt_ids": [], "completions_ids": []}
    start = 0
    for i, (whole, n) in enumerate(zip(enc.distinct(prompts), counts, strict=True)):
        steps_ids = [ids + sep for ids in flat[start : start + n]]
        start += n
        prompt, row = fit_steps(whole, steps_ids, max_length, mode, report)
        if steps_ids and not any(row):
            which, step = ("last", steps_ids[-1]) if mode == "keep_end" else ("first", steps_ids[0])
            cut[i] = (
                f"every step is cut away by --max-length {max_length} (prompt is "
                f"{plural(len(whole), 'token')}, the {which} step {len(step)})"
            )
        report.max_tokens = max(report.max_tokens, len(prompt) + sum(map(len, row)))
        out["prompt_ids"].append(prompt)
        out["completions_ids"].append(row)
    return out


__all__ = ["CUT_AWAY", "TRUNCATION", "TokenizeReport", "tokenize_table"]
