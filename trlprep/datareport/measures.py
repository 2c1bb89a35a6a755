"""What the data report keeps of the rows of one batch, measured on whole columns: token
lengths per role, identical pairs, margins and labels, row and prompt hashes, conversations
(role patterns, turns, tool calls, media, placeholders), text checks, and example rows.

Each function adds to a `Collected` (`collect.Collector` reads the batch and calls them).
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_messages
from trlprep.columns.inlinemedia import inline_media_per_row
from trlprep.columns.placeholders import media_counts
from trlprep.columns.textops import INVISIBLE
from trlprep.columns.textparts import has_marks, restored
from trlprep.datareport.collected import INDEX, Collected
from trlprep.datareport.plaintext import plain_text
from trlprep.errors import ROW_ID
from trlprep.registry import DatasetType

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
MEDIA = ("image", "video", "audio")  # counted from `images`, `videos`, `audios`


def keep_token_lengths(d: Collected, dtype: DatasetType, ids: pa.Table) -> None:
    """Token lengths per role (prompt, completion ...) of tokenised rows `ids`."""
    name = dtype.name
    lens: dict[str, np.ndarray] = {}

    def n(col: str) -> np.ndarray:
        return list_lengths(ids.column(col))

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
        counts = list_lengths(steps)
        flat = np.asarray(per_step.to_numpy(zero_copy_only=False), np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        tot = np.add.reduceat(flat, starts) if len(flat) else np.zeros(len(counts), np.int64)
        lens["completion"] = np.where(counts > 0, tot, 0)
    else:
        for role in ROLES[name]:
            col = "input_ids" if role == "text" else f"{role}_ids"
            lens[role] = n(col)
    keep_lengths(d, lens)


def keep_lengths(d: Collected, lens: dict[str, np.ndarray]) -> None:
    """Each role's token lengths `lens`, kept."""
    for role, arr in lens.items():
        d.lengths.setdefault(role, []).append(arr)


def keep_pairs_and_labels(d: Collected, dtype: DatasetType, canon: pa.Table) -> None:
    """Identical pairs, margins, and the labels of unpaired and stepwise rows."""
    if {"chosen", "rejected"} <= set(canon.column_names):
        from trlprep.validation.dupes import value_hashes

        same = value_hashes(canon.column("chosen")) == value_hashes(canon.column("rejected"))
        d.pairs += canon.num_rows
        d.identical_pairs += int(same.sum())
    if "margin" in canon.column_names:
        m = pc.cast(canon.column("margin"), pa.float64()).to_numpy(zero_copy_only=False)
        d.margins.append(np.asarray(m, np.float64))
    if dtype.name == "unpaired-preference" and "label" in canon.column_names:
        d.labels.append(np.asarray(canon.column("label").to_numpy(zero_copy_only=False)))
    if dtype.name == "stepwise-supervision" and "labels" in canon.column_names:
        d.step_labels.append(pl.from_arrow(canon.column("labels").combine_chunks()))


def keep_hashes(d: Collected, canon: pa.Table) -> None:
    """Each row's hash, and its prompt's (duplicates, shared prompts)."""
    from trlprep.validation.dupes import column_hashes, row_hash, value_hashes

    hashes = column_hashes(canon.drop_columns([ROW_ID]))
    if hashes is not None:
        d.row_hashes.append(row_hash(hashes))
    if "prompt" in canon.column_names:
        try:
            d.prompt_hashes.append(value_hashes(canon.column("prompt")))
        except Exception:  # noqa: BLE001 - a type polars cannot hash: no prompt figure
            pass


def keep_conversations(d: Collected, canon: pa.Table) -> None:
    """Role patterns, turns, same-role runs, tool calls, and the images, videos and audios
    of the rows' list columns, of message columns."""
    cols = [c for c in ("prompt", "messages", "completion", "chosen") if c in canon.column_names]
    cols = [c for c in cols if is_messages(canon.schema.field(c).type)]
    if not cols:
        return
    canon = _one_content_kind(canon, cols)
    frame = pl.from_arrow(canon.select(cols))
    conv = pl.concat_list([pl.col(c) for c in cols]) if len(cols) > 1 else pl.col(cols[0])
    roles = conv.list.eval(pl.element().struct.field("role"))
    # the fields of every message column (a completion's tool calls beside a prompt without)
    fields = {f.name for c in cols for f in canon.schema.field(c).type.value_type}
    tools = (
        conv.list.eval(pl.element().struct.field("tool_calls").list.len().fill_null(0)).list.sum()
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
    _keep_weights(d, canon, frame, cols)
    held = media_counts(canon)  # `images`, `videos`, `audios`; LLaVA's `image`, `video`
    for medium in MEDIA:
        col = f"{medium}s"
        # parts holding their medium inline (a URL or path in the part), beside the column's
        inline = sum(inline_media_per_row(canon.column(c), medium) for c in cols)
        setattr(d, f"inline_{col}", getattr(d, f"inline_{col}") + int(inline.sum()))
        rows_key = f"inline_{medium}_rows"
        setattr(d, rows_key, getattr(d, rows_key) + int((inline > 0).sum()))
        if medium in held:
            n = pa.array(held[medium] + inline)
        elif inline.any():  # held inline only
            n = pa.array(inline)
        else:
            continue
        total = int(pc.sum(n).as_py() or 0)
        rows = int(pc.sum(pc.cast(pc.greater(n, 0), pa.int64())).as_py() or 0)
        setattr(d, col, getattr(d, col) + total)
        setattr(d, f"{medium}_rows", getattr(d, f"{medium}_rows") + rows)
    _keep_placeholders(d, canon, frame)


def _one_content_kind(canon: pa.Table, cols: list[str]) -> pa.Table:
    """`canon` with the string contents of `cols` made text parts where another of them
    holds parts of that one type (a prompt whose media were placed beside a completion of
    strings): one list of the row's messages holds one struct type."""
    from trlprep.columns.textparts import (
        parts_content,
        string_content,
        strings_as_parts,
        without_marks,
    )

    types = {c: canon.schema.field(c).type for c in cols}
    parts = [t for t in types.values() if parts_content(t)]
    if not parts or not any(string_content(t) for t in types.values()):
        return canon
    for c, t in types.items():
        if string_content(t):
            arr = without_marks(strings_as_parts(canon.column(c)))
            if arr.type == parts[0]:
                i = canon.schema.get_field_index(c)
                canon = canon.set_column(i, canon.schema.field(i).with_type(arr.type), arr)
    return canon


def _keep_weights(d: Collected, canon: pa.Table, frame: pl.DataFrame, cols: list[str]) -> None:
    """Per-message weights as SFT reads them (`trainers.assistant_masks`): `weight`, else
    xtuner's `loss` true/false as 1/0; only assistant messages' weights count, and of
    prompt-completion rows only the completion's (prompt messages are never trained; a
    weight anywhere still makes SFT mask, and a fractional one anywhere refuses the row)."""
    trained = ["completion"] if "completion" in cols and "messages" not in cols else cols
    bot = pl.element().struct.field("role") == "assistant"
    n = frame.height
    weighted = np.zeros(n, bool)
    bots, zero, frac = (np.zeros(n, np.int64) for _ in range(3))
    for c in cols:
        w = _weight({f.name for f in canon.schema.field(c).type.value_type})
        conv = pl.col(c)
        stats = frame.select(
            conv.list.eval(w.is_not_null()).list.any().alias("set"),
            conv.list.eval(bot).list.sum().alias("bots"),
            conv.list.eval(bot & (w == 0)).list.sum().alias("zero"),
            conv.list.eval(bot & w.is_not_null() & (w != 0) & (w != 1)).list.sum().alias("frac"),
        ).fill_null(0)
        weighted |= stats["set"].cast(pl.Boolean).to_numpy()
        frac += stats["frac"].to_numpy()
        if c in trained:
            bots += stats["bots"].to_numpy()
            zero += stats["zero"].to_numpy()
    d.weighted_rows += int(weighted.sum())
    d.assistant_messages += int(bots.sum())
    d.weight_0_messages += int(zero.sum())
    d.weight_0_rows += int((zero > 0).sum())
    d.fractional_weights += int(frac.sum())


def _weight(fields: set[str]) -> pl.Expr:
    """A message's weight, of a list element with `fields`: `weight`, else `loss`
    true/false as 1/0."""
    el = pl.element().struct
    w = el.field("weight").cast(pl.Float64, strict=False) if "weight" in fields else None
    if "loss" in fields:
        loss = el.field("loss")
        loss = pl.when(loss.cast(pl.String, strict=False).is_in(["true", "false"])).then(
            (loss.cast(pl.String, strict=False) == "true").cast(pl.Float64)
        )
        w = loss if w is None else w.fill_null(loss)
    return pl.lit(None, pl.Float64) if w is None else w


def _keep_placeholders(d: Collected, canon: pa.Table, frame: pl.DataFrame) -> None:
    """Placeholders with no column of their medium beside them (validate warns)."""
    from trlprep.datareport.placeholders import unbacked_placeholders

    for medium, (total, rows) in unbacked_placeholders(canon, frame).items():
        setattr(d, f"{medium}_placeholders", getattr(d, f"{medium}_placeholders") + total)
        name = f"{medium}_placeholder_rows"
        setattr(d, name, getattr(d, name) + rows)


_BLANK = INVISIBLE  # nothing visible (an empty answer too)


def keep_text_checks(
    d: Collected, dtype: DatasetType, canon: pa.Table, specials: list[str]
) -> None:
    """Empty answers, non-ASCII and literal special tokens (`specials`) in the rows' text."""
    for role, col in ROLES[dtype.name].items():
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
            blank = pc.match_substring_regex(text, _BLANK).fill_null(True)
            calls = _calls_per_row(canon.column(col))  # a tool call is an answer, no text
            if calls is not None:
                blank = pc.and_(blank, pa.array(calls == 0))
            counter["empty"] += int(pc.sum(pc.cast(blank, pa.int64())).as_py() or 0)
        non_ascii = pc.match_substring_regex(text, "[^\\x00-\\x7f]").fill_null(False)
        counter["non_ascii"] += int(pc.sum(pc.cast(non_ascii, pa.int64())).as_py() or 0)
        for tok in specials:
            hit = pc.match_substring(text, tok).fill_null(False)
            k = int(pc.sum(pc.cast(hit, pa.int64())).as_py() or 0)
            if k:
                d.special_tokens[tok] = d.special_tokens.get(tok, 0) + k


def _calls_per_row(col: pa.ChunkedArray) -> np.ndarray | None:
    """The tool calls of each row of a message column; None for a column without them."""
    t = col.type
    if not is_messages(t) or t.value_type.get_field_index("tool_calls") < 0:
        return None
    msgs = pa.concat_arrays(col.chunks) if col.num_chunks != 1 else col.chunk(0)
    flat = pc.list_flatten(msgs)
    per_message = list_lengths(pc.struct_field(flat, "tool_calls"))
    parent = pc.list_parent_indices(msgs).to_numpy(zero_copy_only=False)
    return np.bincount(parent, weights=per_message, minlength=len(msgs)).astype(np.int64)


def keep_examples(
    d: Collected,
    dtype: DatasetType,
    texts: pa.Table,
    rid: np.ndarray,
    offset: int,
    lines: np.ndarray | None,
    want: int,
    flagged: set[int],
) -> None:
    """The rows shown as examples: the first `want` rows of the stream, and the `flagged`
    ones (named by validation)."""
    shown = sum(not e.get("flagged") for e in d.examples)
    room = max(0, min(want - shown, texts.num_rows))
    picked = list(range(room))
    if flagged:
        hit = np.flatnonzero(np.isin(rid, list(flagged)))
        picked += [int(i) for i in hit if i >= room]
    if not picked:
        return
    roles = dict(ROLES[dtype.name])
    if "text" not in texts.column_names and "messages" in texts.column_names:
        roles["text"] = "messages"  # not rendered (no template): the messages themselves
    rows = texts.take(pa.array(picked)).to_pylist()
    for c in [f.name for f in texts.schema if has_marks(f.type)]:
        for row in rows:  # contents of mixed kinds: each as the user gave it
            row[c] = restored(row[c])
    for i, row in zip(picked, rows, strict=True):
        parts = []
        for role, col in roles.items():
            value = row.get(col)
            # stepwise: the steps, one per line (messages, unrendered, stay JSON below)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = STEP_SEPARATOR.join(value)
            if value is not None and not isinstance(value, str):
                value = json.dumps(_as_given(value), ensure_ascii=False, default=str)
            parts.append({"role": role, "text": value, "trained": role in ANSWERS})
        ex = {**row_where(int(rid[i]), offset, lines), "parts": parts, INDEX: i}
        if i >= room:
            ex["flagged"] = True  # shown because validation names it
        d.examples.append(ex)


_PC = ("prompt", "completion")


def loss_parts(
    examples: list[dict], dtype: DatasetType, canon: pa.Table, template, tokenizer
) -> None:
    """Each rendered language-modeling or prompt-completion example's text cut where SFT's
    weighted loss starts and stops (`loss_parts`: [{"text", "trained"}], shown where the
    messages carry weights; prompt-completion: prompt and completion as one text, the loss
    in the completion only); none where the row renders otherwise alone or its spans
    cannot be found."""
    conversation = {"language-modeling": ("messages",), "prompt-completion": _PC}.get(dtype.name)
    if conversation is None or any(c not in canon.column_names for c in conversation):
        return
    from trlprep.templates.assistant_tokens import trained_spans

    for ex in examples:
        given = [p["text"] for p in ex.get("parts") or []]
        if len(given) != len(conversation) or not all(isinstance(t, str) for t in given):
            continue
        text = "".join(given)
        found = trained_spans(canon.slice(ex[INDEX], 1), template, tokenizer, messages=conversation)
        whole, spans = found[0]
        if spans is None or whole != text:
            continue
        if conversation == _PC:  # the prompt's messages are never trained
            spans = [(a, b) for a, b in spans if a >= len(given[0])]
        parts, at = [], 0
        for start, end in spans:
            if start > at:
                parts.append({"text": text[at:start], "trained": False})
            parts.append({"text": text[start:end], "trained": True})
            at = end
        if at < len(text):
            parts.append({"text": text[at:], "trained": False})
        ex["loss_parts"] = parts


def _as_given(value: object) -> object:
    """Messages without the null fields Arrow gives every message of a column where some
    message has them (`"loss": null`, a text part's `"text": null`); a null `content` is the
    data's own (beside a tool call) and kept."""
    if isinstance(value, dict):
        return {k: _as_given(v) for k, v in value.items() if v is not None or k == "content"}
    if isinstance(value, list):
        return [_as_given(v) for v in value]
    return value


def row_where(row: int, offset: int, lines: np.ndarray | None) -> dict[str, int]:
    """A row's number, and its file line where the input has lines."""
    out = {"row": row}
    if lines is not None:
        out["line"] = int(np.asarray(lines)[row - offset])
    return out
