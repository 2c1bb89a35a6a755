"""Stream a dataset once and keep, per row, only the numbers the data report needs.

Each batch is read as its detected type (`apply.apply_checked`, no route), rendered with
the chat template (conversational data) and tokenised with `tokenize_table`, untruncated,
so the lengths are those of the sequences the trainer sees. Per row the collector keeps a
few integers (token lengths, turn counts, 64-bit hashes), never the text: memory grows by
tens of bytes per row, not with the data.

Each batch's numbers are measured on their own (`Collector.part`, what a worker process
runs; the figures of its rows: `measures`) and put after the previous batches'
(`collected.merge`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.datareport.collected import REMARKS, Collected, merge
from trlprep.datareport.measures import (
    ANSWERS,
    ROLES,
    STEP_SEPARATOR,
    keep_conversations,
    keep_examples,
    keep_hashes,
    keep_lengths,
    keep_pairs_and_labels,
    keep_text_checks,
    keep_token_lengths,
    loss_parts,
    row_where,
)
from trlprep.datareport.reasoningneed import ENDS, NEED, WHOLE, reasoning_needs
from trlprep.errors import ROW_ID, RowFailures
from trlprep.registry import DatasetType, Format

EXAMPLES = 3
TOKENIZE_ROWS = 8192  # rows tokenised at a time (their id lists are the memory peak)
FLAGGED = 5  # rows named by validation issues also shown rendered, at most


class Collector:
    """Feed batches with `add`; the per-row numbers are in `data`."""

    def __init__(
        self,
        dtype: DatasetType,
        fmt: Format,
        plan: Any,
        template: Any,
        tokenizer: Any,
        examples: int = EXAMPLES,
        flagged: set[int] | None = None,
    ) -> None:
        self.dtype, self.fmt, self.plan = dtype, fmt, plan
        self.template, self.tokenizer = template, tokenizer
        self.want_examples = examples
        # rows validation names, shown beside the first rows (none where none is asked for)
        self.flagged = set(list(sorted(flagged or ()))[:FLAGGED]) if examples else set()
        self.data = Collected()
        # the files of an input of several (`trlprep.io.shards.Shards`): remarks name rows by
        # their file (`a.parquet row 3`, `a.jsonl:4`), as convert's warnings do
        self.shards: Any = None
        self.num_proc: int | None = None  # the template renderer's processes (None: all)
        self.specials = _special_tokens(tokenizer)
        self.fast = None
        # rows longer than this are measured for a cut before their reasoning's end
        # (`reasoningneed`); None: not measured (keep_end keeps the end)
        self.cut_from: int | None = 512
        if tokenizer is not None:
            from trlprep.datareport.tokens import FastLengths

            self.fast = FastLengths(  # as `_tokenize` measures the rows it gets whole
                tokenizer, add_eos=fmt is Format.STANDARD, templated=fmt is Format.CONVERSATIONAL
            )

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a worker process: the tokenizer travels as bytes, loaded there only
        when a batch needs it whole (the Rust backend in `fast` measures the others)."""
        import pickle

        state = dict(self.__dict__)
        if state["tokenizer"] is not None:
            state["tokenizer"] = _Pickled(pickle.dumps(state["tokenizer"]))
        return state

    def _whole_tokenizer(self) -> Any:
        if isinstance(self.tokenizer, _Pickled):
            self.tokenizer = self.tokenizer.load()
        return self.tokenizer

    def add(
        self, raw: pa.Table, offset: int, lines: np.ndarray | None, path: str | None = None
    ) -> None:
        """Read one input batch as the report's type and keep its per-row numbers."""
        merge(self.data, self.part(raw, offset, lines, path), self.want_examples, self.flagged)

    def part(
        self, raw: pa.Table, offset: int, lines: np.ndarray | None, path: str | None = None
    ) -> Collected:
        """The numbers of one input batch alone (its example candidates: its first rows and
        the flagged ones; `merge` keeps those the batch's place in the stream leaves room for)."""
        self.data, kept = Collected(), self.data
        try:
            self._measure(raw, offset, lines, path)
            return self.data
        finally:
            self.data = kept

    def _measure(
        self, raw: pa.Table, offset: int, lines: np.ndarray | None, path: str | None = None
    ) -> None:
        from trlprep.conversion.apply import InputRows, apply_checked

        d = self.data
        d.rows_in += raw.num_rows
        with warnings.catch_warnings(record=True) as caught:  # the conversion's remarks
            warnings.simplefilter("always")
            # remarks name lines (`file:line` where the input is several files, else
            # `file row N`)
            named = lines is not None or self.shards is not None
            source = InputRows(offset, lines, path, self.shards) if named else None
            canon, failures = apply_checked(
                raw, self.plan, offset=offset, lines=lines, source=source
            )
        for w in caught:
            if len(d.remarks) < REMARKS and str(w.message) not in d.remarks:
                d.remarks.append(str(w.message))
        for f in failures:
            self._reject(f.stage, f.rows, f.reasons, offset, lines)
        if canon.num_rows == 0:
            return
        if self.fmt is Format.CONVERSATIONAL:  # every row read, rendered or not
            keep_conversations(d, canon)
        if self.fmt is Format.CONVERSATIONAL and self.template is not None:
            texts = self._retry(canon, self._render, "chat template", offset, lines)
            if texts is None:
                return
            canon = canon.filter(pc.is_in(canon.column(ROW_ID), texts.column(ROW_ID)))
        else:
            texts = canon
        if self.tokenizer is not None and (texts is not canon or self.fmt is Format.STANDARD):
            kept = []
            for start in range(0, texts.num_rows, TOKENIZE_ROWS):  # token lists: bounded
                part = texts.slice(start, TOKENIZE_ROWS)
                fast = self.fast.lengths(part, self.dtype) if self.fast else None
                if fast is not None:  # the Rust backend, lengths only
                    keep_lengths(d, fast)
                    self._keep_needs(part, fast)
                    kept.append(part.column(ROW_ID).combine_chunks())
                    continue
                ids = self._retry(part, self._tokenize, "tokenize", offset, lines)
                if ids is not None:
                    keep_token_lengths(d, self.dtype, ids)
                    self._keep_needs(
                        ids,
                        {r: v[-1] for r, v in d.lengths.items() if r not in (NEED, WHOLE, ENDS)},
                    )
                    kept.append(ids.column(ROW_ID).combine_chunks())
            if not kept:
                return
            done = pa.concat_arrays(kept)
            texts = texts.filter(pc.is_in(texts.column(ROW_ID), done))
            canon = canon.filter(pc.is_in(canon.column(ROW_ID), done))
        keep_text_checks(d, self.dtype, canon, self.specials)
        rid = np.asarray(texts.column(ROW_ID).to_numpy(), np.int64)
        d.row_ids.append(rid)
        if lines is not None:
            d.lines.append(np.asarray(lines)[rid - offset])
        keep_pairs_and_labels(d, self.dtype, canon)
        keep_hashes(d, canon)
        first = len(d.examples)
        keep_examples(d, self.dtype, texts, rid, offset, lines, self.want_examples, self.flagged)
        if self.fmt is Format.CONVERSATIONAL and self.template is not None:
            loss_parts(d.examples[first:], self.dtype, canon, self.template, self.tokenizer)

    # ------------------------------------------------------------------ stages

    def _retry(self, table: pa.Table, fn, stage: str, offset: int, lines) -> pa.Table | None:
        """`fn(table)`, setting aside (and counting) the rows it refuses (None: all)."""
        while table.num_rows:
            try:
                return fn(table)
            except RowFailures as e:
                bad = np.unique(np.asarray(e.rows, np.int64))
                if not len(bad):
                    raise
                ids = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)[bad]
                self._reject(stage, ids, list(e.reasons), offset, lines)
                keep = np.ones(table.num_rows, bool)
                keep[bad] = False
                table = table.filter(pa.array(keep))
        return None

    def _render(self, table: pa.Table) -> pa.Table:
        from trlprep.templates import render_table

        out, _ = render_table(table, self.dtype, self.template, num_proc=self.num_proc)
        return out

    def _tokenize(self, table: pa.Table) -> pa.Table:
        from trlprep.templates import tokenize_table

        out, _ = tokenize_table(
            table, self.dtype, self._whole_tokenizer(), add_eos=self.fmt is Format.STANDARD,
            step_separator=STEP_SEPARATOR, templated=self.fmt is Format.CONVERSATIONAL,
        )  # fmt: skip
        return out

    def _keep_needs(self, part: pa.Table, lengths: dict[str, np.ndarray]) -> None:
        """The rows' reasoning needs (`reasoningneed`), kept beside their lengths."""
        if self.cut_from is None:
            return
        need = reasoning_needs(self.dtype, part, lengths, self.cut_from, self._count)
        if need is not None:
            keep_lengths(self.data, need)

    def _count(self, texts: list[str]) -> np.ndarray:
        """Token lengths of `texts` as the report measures its rows."""
        if self.fast is not None and self.fast.backend is not None:
            return self.fast.count(pa.array(texts, pa.large_string()))
        from trlprep.templates.encoder import Encoder

        enc = Encoder(self._whole_tokenizer(), templated=self.fmt is Format.CONVERSATIONAL)
        return np.array([len(x) for x in enc.many(texts)], np.int64)

    def _reject(self, stage: str, ids, reasons: list[str], offset: int, lines) -> None:
        d = self.data
        ids = np.asarray(ids, np.int64)
        d.rejected[stage] = d.rejected.get(stage, 0) + len(ids)
        for i, why in zip(ids[: max(0, 5 - len(d.rejected_examples))], reasons, strict=False):
            where = row_where(int(i), offset, lines)
            d.rejected_examples.append({**where, "stage": stage, "reason": why})


class _Pickled:
    """An object kept pickled until it is used."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def load(self) -> Any:
        import pickle

        return pickle.loads(self.data)


def _special_tokens(tokenizer: Any) -> list[str]:
    if tokenizer is None:
        return []
    toks = getattr(tokenizer, "all_special_tokens", None) or []
    return sorted({t for t in toks if isinstance(t, str) and len(t) > 1})


__all__ = ["ANSWERS", "ROLES", "Collected", "Collector", "merge"]
