"""Stream a dataset once and keep, per row, only the numbers the data report needs.

Each batch is read as its detected type (`apply.apply_checked`, no route), rendered with
the chat template (conversational data) and tokenised with `tokenize_table`, untruncated,
so the lengths are those of the sequences the trainer sees. Per row the collector keeps a
few integers (token lengths, turn counts, 64-bit hashes), never the text: memory grows by
tens of bytes per row, not with the data.

Each batch's numbers are measured on their own (`Collector.part`, what a worker process
runs) and put after the previous batches' (`collected.merge`).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_messages
from trlprep.datareport.collected import INDEX, REMARKS, Collected, merge
from trlprep.datareport.plaintext import plain_text
from trlprep.errors import ROW_ID, RowFailures
from trlprep.registry import DatasetType, Format

# role of each text column of a standard (templated) table, per type
ROLES = {
    "language-modeling": {"text": "text"},
    "prompt-only": {"prompt": "prompt"},
    "prompt-completion": {"prompt": "prompt", "completion": "completion"},
    "preference": {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
    "preference-implicit": {"chosen": "chosen", "rejected": "rejected"},
    "unpaired-preference": {"prompt": "prompt", "completion": "completion"},
    "stepwise-supervision": {"prompt": "prompt", "completion": "completions"},
}
ANSWERS = ("completion", "chosen", "rejected", "text")
STEP_SEPARATOR = "\n"  # TRL's PRM default
EXAMPLES = 3
MEDIA = ("image", "video", "audio")  # counted from `images`, `videos`, `audios`
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
        self.flagged = set(list(sorted(flagged or ()))[:FLAGGED])  # rows validation names
        self.data = Collected()
        self.num_proc: int | None = None  # the template renderer's processes (None: all)
        self.specials = _special_tokens(tokenizer)
        self.fast = None
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

    def add(self, raw: pa.Table, offset: int, lines: np.ndarray | None) -> None:
        """Read one input batch as the report's type and keep its per-row numbers."""
        merge(self.data, self.part(raw, offset, lines), self.want_examples, self.flagged)

    def part(self, raw: pa.Table, offset: int, lines: np.ndarray | None) -> Collected:
        """The numbers of one input batch alone (its example candidates: its first rows and
        the flagged ones; `merge` keeps those the batch's place in the stream leaves room for)."""
        self.data, kept = Collected(), self.data
        try:
            self._measure(raw, offset, lines)
            return self.data
        finally:
            self.data = kept

    def _measure(self, raw: pa.Table, offset: int, lines: np.ndarray | None) -> None:
        from trlprep.conversion.apply import InputRows, apply_checked

        d = self.data
        d.rows_in += raw.num_rows
        with warnings.catch_warnings(record=True) as caught:  # the conversion's remarks
            warnings.simplefilter("always")
            source = InputRows(offset, lines) if lines is not None else None  # remarks: lines
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
            self._conversation(canon)
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
                    self._keep_lengths(fast)
                    kept.append(part.column(ROW_ID).combine_chunks())
                    continue
                ids = self._retry(part, self._tokenize, "tokenize", offset, lines)
                if ids is not None:
                    self._lengths(ids)
                    kept.append(ids.column(ROW_ID).combine_chunks())
            if not kept:
                return
            done = pa.concat_arrays(kept)
            texts = texts.filter(pc.is_in(texts.column(ROW_ID), done))
            canon = canon.filter(pc.is_in(canon.column(ROW_ID), done))
        self._text_checks(canon)
        rid = np.asarray(texts.column(ROW_ID).to_numpy(), np.int64)
        d.row_ids.append(rid)
        if lines is not None:
            d.lines.append(np.asarray(lines)[rid - offset])
        self._pairs_and_labels(canon, texts)
        self._hashes(canon)
        self._examples(texts, rid, offset, lines)

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

    def _reject(self, stage: str, ids, reasons: list[str], offset: int, lines) -> None:
        d = self.data
        ids = np.asarray(ids, np.int64)
        d.rejected[stage] = d.rejected.get(stage, 0) + len(ids)
        for i, why in zip(ids[: max(0, 5 - len(d.rejected_examples))], reasons, strict=False):
            where = _where(int(i), offset, lines)
            d.rejected_examples.append({**where, "stage": stage, "reason": why})

    # ------------------------------------------------------------------ figures per row

    def _lengths(self, ids: pa.Table) -> None:
        """Token lengths per role (prompt, completion ...)."""
        name = self.dtype.name
        lens: dict[str, np.ndarray] = {}

        def n(col: str) -> np.ndarray:
            return np.asarray(pc.list_value_length(ids.column(col)).fill_null(0), np.int64)

        if name == "language-modeling":
            lens["text"] = n("input_ids")
        elif name == "prompt-completion":
            total = n("input_ids")
            mask = ids.column("completion_mask")
            flat = np.asarray(pc.list_flatten(mask).to_numpy(zero_copy_only=False), np.int64)
            starts = np.concatenate([[0], np.cumsum(total)[:-1]]).astype(np.int64)
            comp = np.add.reduceat(flat, starts) if len(flat) else np.zeros(len(total), np.int64)
            comp = np.where(total > 0, comp, 0)
            lens["prompt"], lens["completion"] = total - comp, comp
        elif name == "stepwise-supervision":
            lens["prompt"] = n("prompt_ids")
            steps = ids.column("completions_ids")
            per_step = pc.list_value_length(pc.list_flatten(steps))
            counts = np.asarray(pc.list_value_length(steps).fill_null(0), np.int64)
            flat = np.asarray(per_step.to_numpy(zero_copy_only=False), np.int64)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            tot = np.add.reduceat(flat, starts) if len(flat) else np.zeros(len(counts), np.int64)
            lens["completion"] = np.where(counts > 0, tot, 0)
        else:
            for role in ROLES[name]:
                col = "input_ids" if role == "text" else f"{role}_ids"
                lens[role] = n(col)
        self._keep_lengths(lens)

    def _keep_lengths(self, lens: dict[str, np.ndarray]) -> None:
        for role, arr in lens.items():
            self.data.lengths.setdefault(role, []).append(arr)

    def _pairs_and_labels(self, canon: pa.Table, texts: pa.Table) -> None:
        d = self.data
        if {"chosen", "rejected"} <= set(canon.column_names):
            from trlprep.validation.dupes import value_hashes

            same = value_hashes(canon.column("chosen")) == value_hashes(canon.column("rejected"))
            d.identical_pairs += int(same.sum())
        if "margin" in canon.column_names:
            m = pc.cast(canon.column("margin"), pa.float64()).to_numpy(zero_copy_only=False)
            d.margins.append(np.asarray(m, np.float64))
        if self.dtype.name == "unpaired-preference" and "label" in canon.column_names:
            d.labels.append(np.asarray(canon.column("label").to_numpy(zero_copy_only=False)))
        if self.dtype.name == "stepwise-supervision" and "labels" in canon.column_names:
            d.step_labels.append(pl.from_arrow(canon.column("labels").combine_chunks()))

    def _hashes(self, canon: pa.Table) -> None:
        from trlprep.validation.dupes import column_hashes, row_hash, value_hashes

        d = self.data
        hashes = column_hashes(canon.drop_columns([ROW_ID]))
        if hashes is not None:
            d.row_hashes.append(row_hash(hashes))
        if "prompt" in canon.column_names:
            try:
                d.prompt_hashes.append(value_hashes(canon.column("prompt")))
            except Exception:  # noqa: BLE001 - a type polars cannot hash: no prompt figure
                pass

    def _conversation(self, canon: pa.Table) -> None:
        """Role patterns, turns, same-role runs, tool calls, and the images, videos and audios
        of the rows' list columns, of message columns."""
        d = self.data
        cols = [
            c for c in ("prompt", "messages", "completion", "chosen") if c in canon.column_names
        ]
        cols = [c for c in cols if is_messages(canon.schema.field(c).type)]
        if not cols:
            return
        frame = pl.from_arrow(canon.select(cols))
        conv = pl.concat_list([pl.col(c) for c in cols]) if len(cols) > 1 else pl.col(cols[0])
        roles = conv.list.eval(pl.element().struct.field("role"))
        fields = {f.name for f in canon.schema.field(cols[0]).type.value_type}
        tools = (
            conv.list.eval(
                pl.element().struct.field("tool_calls").list.len().fill_null(0)
            ).list.sum()
            if "tool_calls" in fields
            else pl.lit(0)
        )
        stats = frame.select(
            roles.list.join(",").alias("pattern"),
            roles.list.len().alias("turns"),
            roles.list.eval(pl.element() == pl.element().shift(1)).list.any().alias("same"),
            tools.alias("tools"),
            (roles.list.eval(pl.element() == "tool").list.any()).alias("tool_role"),
        )
        for pattern, count in stats.group_by("pattern").len().iter_rows():
            key = pattern or "(empty)"
            d.patterns[key] = d.patterns.get(key, 0) + count
        d.turns.append(stats["turns"].fill_null(0).to_numpy().astype(np.int64))
        d.same_role_rows += int(stats["same"].fill_null(False).sum())
        d.tool_calls += int(stats["tools"].fill_null(0).sum())
        d.tool_rows += int(
            ((stats["tools"].fill_null(0) > 0) | stats["tool_role"].fill_null(False)).sum()
        )
        for medium in MEDIA:
            col = f"{medium}s"
            if col not in canon.column_names or not is_list(canon.schema.field(col).type):
                continue
            n = pc.list_value_length(canon.column(col)).fill_null(0)
            total = int(pc.sum(n).as_py() or 0)
            rows = int(pc.sum(pc.cast(pc.greater(n, 0), pa.int64())).as_py() or 0)
            setattr(d, col, getattr(d, col) + total)
            setattr(d, f"{medium}_rows", getattr(d, f"{medium}_rows") + rows)
        self._placeholders(canon, frame)

    def _placeholders(self, canon: pa.Table, frame: pl.DataFrame) -> None:
        """Placeholders with no column of their medium beside them (validate warns)."""
        from trlprep.datareport.placeholders import unbacked_placeholders

        d = self.data
        for medium, (total, rows) in unbacked_placeholders(canon, frame).items():
            setattr(d, f"{medium}_placeholders", getattr(d, f"{medium}_placeholders") + total)
            name = f"{medium}_placeholder_rows"
            setattr(d, name, getattr(d, name) + rows)

    def _text_checks(self, canon: pa.Table) -> None:
        """Empty answers, non-ASCII and literal special tokens in the rows' own text."""
        d = self.data
        for role, col in ROLES[self.dtype.name].items():
            if role == "text" and "messages" in canon.column_names:
                col = "messages"
            if col not in canon.column_names:
                continue
            text = plain_text(canon.column(col))
            if text is None:
                continue
            counter = d.text.setdefault(role, {"rows": 0, "empty": 0, "non_ascii": 0})
            counter["rows"] += len(text)
            if role in ANSWERS:
                blank = pc.equal(pc.utf8_trim_whitespace(text), "").fill_null(True)
                counter["empty"] += int(pc.sum(pc.cast(blank, pa.int64())).as_py() or 0)
            non_ascii = pc.match_substring_regex(text, "[^\\x00-\\x7f]").fill_null(False)
            counter["non_ascii"] += int(pc.sum(pc.cast(non_ascii, pa.int64())).as_py() or 0)
            for tok in self.specials:
                hit = pc.match_substring(text, tok).fill_null(False)
                k = int(pc.sum(pc.cast(hit, pa.int64())).as_py() or 0)
                if k:
                    d.special_tokens[tok] = d.special_tokens.get(tok, 0) + k

    def _examples(self, texts: pa.Table, rid: np.ndarray, offset: int, lines) -> None:
        d = self.data
        shown = sum(not e.get("flagged") for e in d.examples)
        room = max(0, min(self.want_examples - shown, texts.num_rows))
        picked = list(range(room))
        if self.flagged:
            hit = np.flatnonzero(np.isin(rid, list(self.flagged)))
            picked += [int(i) for i in hit if i >= room]
        if not picked:
            return
        roles = dict(ROLES[self.dtype.name])
        if "text" not in texts.column_names and "messages" in texts.column_names:
            roles["text"] = "messages"  # not rendered (no template): the messages themselves
        rows = texts.take(pa.array(picked)).to_pylist()
        for i, row in zip(picked, rows, strict=True):
            parts = []
            for role, col in roles.items():
                value = row.get(col)
                # stepwise: the steps, one per line (messages, unrendered, stay JSON below)
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    value = STEP_SEPARATOR.join(value)
                if value is not None and not isinstance(value, str):
                    value = json.dumps(value, ensure_ascii=False, default=str)
                parts.append({"role": role, "text": value, "trained": role in ANSWERS})
            ex = {**_where(int(rid[i]), offset, lines), "parts": parts, INDEX: i}
            if i >= room:
                ex["flagged"] = True  # shown because validation names it
            d.examples.append(ex)


class _Pickled:
    """An object kept pickled until it is used."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def load(self) -> Any:
        import pickle

        return pickle.loads(self.data)


def _where(row: int, offset: int, lines) -> dict[str, int]:
    out = {"row": row}
    if lines is not None:
        out["line"] = int(np.asarray(lines)[row - offset])
    return out


def _special_tokens(tokenizer: Any) -> list[str]:
    if tokenizer is None:
        return []
    toks = getattr(tokenizer, "all_special_tokens", None) or []
    return sorted({t for t in toks if isinstance(t, str) and len(t) > 1})


__all__ = ["ANSWERS", "ROLES", "Collected", "Collector", "merge"]
