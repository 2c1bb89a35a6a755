"""Rules over several columns of a row, or over turn order: prompt endings, completion
starts, chosen == rejected, implicit prompts, step counts and image counts.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from trlprep import textops
from trlprep.arrowtypes import ValueKind, value_kind
from trlprep.checks import BatchSink, list_lengths, to_numpy_bool
from trlprep.msgchecks import EMPTY, ROLE_CODES, MessagesInfo
from trlprep.registry import DatasetType, Format


def cross_checks(
    dtype: DatasetType,
    fmt: Format,
    typed: dict[str, pa.Array],
    infos: dict[str, MessagesInfo],
    images: np.ndarray | None,
    sink: BatchSink,
    hashes: dict[str, np.ndarray] | None = None,
) -> None:
    """Rules over several columns of a row (or over turn order within one).

    `hashes` (per-column row hashes) narrow chosen == rejected to rows whose hashes agree.
    """
    roles = {c.role: c.name_in(fmt) for c in dtype.columns_in(fmt)}
    explicit = "prompt" in roles
    if "prompt" in infos:
        _prompt_ending(infos["prompt"], roles["prompt"], sink)
    if explicit:
        for role in ("completion", "chosen", "rejected"):
            if role in infos:
                first = infos[role].first_role
                bad = (first != ROLE_CODES["assistant"]) & (first != EMPTY)
                sink.flag("completion-not-assistant", roles[role], bad)
    if "chosen" in roles and "rejected" in roles:
        c, r = typed.get(roles["chosen"]), typed.get(roles["rejected"])
        if c is not None and r is not None:
            candidates = None
            if hashes is not None and roles["chosen"] in hashes and roles["rejected"] in hashes:
                candidates = hashes[roles["chosen"]] == hashes[roles["rejected"]]
            same = _equal(c, r, candidates)
            sink.flag("chosen-equals-rejected", None, same)
            if not explicit:
                _implicit_prefix(c, r, fmt, same, sink)
    if "completions" in typed and "labels" in typed:
        comp, lab = typed["completions"], typed["labels"]
        both = to_numpy_bool(comp.is_valid()) & to_numpy_bool(lab.is_valid())
        sink.flag("steps-mismatch", "labels", both & (list_lengths(comp) != list_lengths(lab)))
    if fmt is Format.CONVERSATIONAL:
        _image_counts(roles, infos, images, sink)


def _prompt_ending(info: MessagesInfo, column: str, sink: BatchSink) -> None:
    last = info.last_role
    sink.flag("continue-final-message", column, last == ROLE_CODES["assistant"])
    bad_ends = ("system", "developer")
    ends_on = {r: last == ROLE_CODES[r] for r in bad_ends}
    ends_badly = ends_on["system"] | ends_on["developer"]
    seen = [r for r in bad_ends if ends_on[r].any()]
    sink.flag("prompt-ending", column, ends_badly, details=[f"ends on {r}" for r in seen])


def _equal(a: pa.Array, b: pa.Array, candidates: np.ndarray | None = None) -> np.ndarray:
    """Rows where a == b; only `candidates` (rows whose hashes agree) are compared exactly."""
    out = np.zeros(len(a), dtype=bool)
    idx = np.arange(len(a)) if candidates is None else np.flatnonzero(candidates)
    if not len(idx):
        return out
    if candidates is not None:
        a, b = a.take(pa.array(idx)), b.take(pa.array(idx))
    if value_kind(a.type) is ValueKind.STRING:
        out[idx] = to_numpy_bool(pc.equal(a, b))
        return out
    try:
        df = pl.from_arrow(pa.table({"a": a, "b": b}))
        out[idx] = df.select((pl.col("a") == pl.col("b")).fill_null(False)).to_series().to_numpy()
    except Exception:  # polars cannot compare these nested types; skip the warning
        pass
    return out


def _implicit_prefix(c: pa.Array, r: pa.Array, fmt: Format, same, sink: BatchSink) -> None:
    valid = to_numpy_bool(c.is_valid()) & to_numpy_bool(r.is_valid()) & ~same
    if fmt is Format.STANDARD:
        lcp = textops.common_prefix_bytes(c, r)
        ok = (lcp > 0) & textops.prefix_on_word_boundary(c, r, lcp)
        message = (
            "the shared start of chosen and rejected is empty or ends inside a word, so "
            "extracting the prompt would split a word"
        )
    else:
        ok = _first_messages_equal(c, r)
        message = "chosen and rejected do not start with the same message"
    sink.flag("no-common-prefix", None, valid & ~ok, message=message)


def _first_messages_equal(c: pa.Array, r: pa.Array) -> np.ndarray:
    try:
        df = pl.from_arrow(pa.table({"c": c, "r": r}))
        same = pl.lit(True)
        for key in ("role", "content"):
            a = pl.col("c").list.first().struct.field(key)
            b = pl.col("r").list.first().struct.field(key)
            same = same & a.eq_missing(b)
        has = (pl.col("c").list.len() > 0) & (pl.col("r").list.len() > 0)
        return df.select((same & has).fill_null(False)).to_series().to_numpy()
    except Exception:  # content of different layouts (string vs parts): not comparable
        return np.zeros(len(c), dtype=bool)


def _image_counts(
    roles: dict[str, str], infos: dict[str, MessagesInfo], images: np.ndarray | None, sink
) -> None:
    parts = {role: info.images for role, info in infos.items()}
    if images is not None:  # `<image>` placeholders in text stand for images too
        parts = {
            role: p + (infos[role].placeholders if infos[role].placeholders is not None else 0)
            for role, p in parts.items()
        }
    if images is None and not any(p.any() for p in parts.values()):
        return
    n_images = images if images is not None else np.zeros(sink.num_rows, dtype=np.int64)
    prompt = parts.get("prompt")
    others = [r for r in parts if r != "prompt"]
    sequences = (
        [(f"{roles['prompt']}+{roles[r]}", prompt + parts[r]) for r in others]
        if prompt is not None and others
        else [(roles[r], parts[r]) for r in parts]
    )
    for label, count in sequences:
        bad = count != n_images
        if bad.any():
            i = np.flatnonzero(bad)[:3]
            sink.flag(
                "image-count",
                None,
                bad,
                details=[
                    f"{label}: {int(count[k])} image parts, {int(n_images[k])} images" for k in i
                ],
            )
