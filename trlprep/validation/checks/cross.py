"""Rules over several columns of a row, or over turn order: prompt endings, completion
starts, chosen == rejected, implicit prompts, step counts and image counts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, to_numpy_bool
from trlprep.columns.arrowtypes import ValueKind, value_kind
from trlprep.registry import DatasetType, Format
from trlprep.validation.checks.common import BatchSink, counts_key, counts_of
from trlprep.validation.checks.messages import MessagesInfo
from trlprep.validation.checks.rolecodes import EMPTY, ROLE_CODES


def cross_checks(
    dtype: DatasetType,
    fmt: Format,
    typed: dict[str, pa.Array],
    infos: dict[str, MessagesInfo],
    images: np.ndarray | None,
    sink: BatchSink,
    hashes: dict[str, np.ndarray] | None = None,
    media: dict[str, np.ndarray | None] | None = None,
) -> None:
    """Rules over several columns of a row (or over turn order within one).

    `hashes` (per-column row hashes) narrow chosen == rejected to rows whose hashes agree;
    `media`: entries per row of the `videos` / `audios` columns (`sides.media_columns`).
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
        _media_counts(roles, infos, media or {}, sink)
    elif fmt is Format.STANDARD:
        held = {"image": images, **(media or {})}
        unrendered_media(roles, typed, {k: v for k, v in held.items() if v is not None}, sink)


def _prompt_ending(info: MessagesInfo, column: str, sink: BatchSink) -> None:
    last = info.last_role
    sink.flag("continue-final-message", column, last == ROLE_CODES["assistant"])
    bad_ends = ("system", "developer")
    ends_on = {r: last == ROLE_CODES[r] for r in bad_ends}
    ends_badly = ends_on["system"] | ends_on["developer"]
    at = np.flatnonzero(ends_badly)  # each row said to end on its own last role
    sink.flag_values(
        "prompt-ending",
        column,
        pa.array(np.where(ends_on["system"][at], "system", "developer"), pa.string()),
        at,
        label=lambda r: f"ends on {r}",
    )


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
    import polars as pl

    try:
        df = pl.from_arrow(pa.table({"a": a, "b": b}))
        out[idx] = df.select((pl.col("a") == pl.col("b")).fill_null(False)).to_series().to_numpy()
    except Exception:  # polars cannot compare these nested types; skip the warning
        pass
    return out


def _implicit_prefix(c: pa.Array, r: pa.Array, fmt: Format, same, sink: BatchSink) -> None:
    """Rows whose prompt the default extraction (`--split-mode word`) cannot take: no
    shared start at all, or no turn/word boundary that leaves both completions non-empty.
    (A shared start that ends inside a word is fine: the cut backs off to a word boundary.)
    """
    from trlprep.converters.prefix import NO_SPLIT, message_split, split_points

    valid = to_numpy_bool(c.is_valid()) & to_numpy_bool(r.is_valid()) & ~same
    rows = np.flatnonzero(valid)
    if not len(rows):
        return
    take = pa.array(rows, pa.int64())
    cc, rr = c.take(take), r.take(take)
    try:
        k = message_split(cc, rr)[0] if fmt is Format.CONVERSATIONAL else split_points(cc, rr)
    except Exception:  # content of different layouts (string vs parts): not comparable
        k = np.where(_first_messages_equal(cc, rr), 1, 0)
    what = "the same first message" if fmt is Format.CONVERSATIONAL else "a shared start"
    none = np.zeros(len(c), dtype=bool)
    none[rows[k == 0]] = True
    sink.flag(
        "no-common-prefix",
        None,
        none,
        message=f"chosen and rejected have no {what}, so extracting the implicit "
        "prompt gives an empty prompt (refused unless --no-prompt warn|drop)",
    )
    nosplit = np.zeros(len(c), dtype=bool)
    nosplit[rows[k == NO_SPLIT]] = True
    boundary = "shared assistant turn" if fmt is Format.CONVERSATIONAL else "turn or word boundary"
    sink.flag(
        "no-common-prefix",
        "chosen+rejected",
        nosplit,
        message="one of chosen and rejected is a prefix of the other (or both are equal), "
        f"and no {boundary} leaves both completions non-empty: extracting the prompt "
        "refuses these rows",
    )


def _first_messages_equal(c: pa.Array, r: pa.Array) -> np.ndarray:
    import polars as pl

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


def _sequences(roles: dict[str, str], names: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The conversations a row's media go with: the prompt followed by each other column
    (`prompt+chosen`, ...), or each column alone; (label, roles) pairs."""
    others = [r for r in names if r != "prompt"]
    if "prompt" in names and others:
        return [(f"{roles['prompt']}+{roles[r]}", ("prompt", r)) for r in others]
    return [(roles[r], (r,)) for r in names]


def _media_counts(
    roles: dict[str, str],
    infos: dict[str, MessagesInfo],
    media: dict[str, np.ndarray | None],
    sink: BatchSink,
) -> None:
    """Video / audio parts and `<video>` / `<audio>` placeholders against the row's
    `videos` / `audios` entries (`media-count`); without such a column, the placeholders
    are text and the rows holding those parts are counted as unchecked."""
    from trlprep.columns.placeholders import counted
    from trlprep.columns.placeholders import held as held_text

    for kind in ("video", "audio"):
        parts = {r: info.media[kind] for r, info in infos.items() if kind in info.media}
        held = media.get(kind)
        if held is None:
            if parts:
                holding = np.logical_or.reduce([p > 0 for p in parts.values()])
                n = int(np.count_nonzero(holding))
                sink.unchecked_media[kind] = sink.unchecked_media.get(kind, 0) + n
            continue
        zeros = np.zeros(sink.num_rows, np.int64)
        full = {r: parts.get(r, zeros) for r in infos}
        marks = {r: infos[r].marks.get(kind, zeros) for r in infos}
        placed = _unplaced(infos, {r: full[r] + marks[r] for r in infos}, held, kind, sink)
        for label, which in _sequences(roles, list(full)):
            shown = sum(full[r] for r in which)
            holders = sum(marks[r] for r in which)
            bad = (shown + holders != held) & ~placed
            if bad.any():
                at = np.flatnonzero(bad)  # each row said with its own counts

                def said(key: str, label=label, kind=kind) -> str:
                    holders, shown, held = counts_of(key)
                    return f"{label}: {counted(kind, holders, shown)}, " + held_text(kind, held)

                sink.flag_values(
                    "media-count", None, counts_key(at, holders, shown, held), at, label=said
                )


def _inline_beside_images(
    inline: dict[str, np.ndarray], images: np.ndarray | None, sink
) -> np.ndarray:
    """Flags (and returns) the rows whose messages hold images inline and whose `images`
    column holds images too: which part an entry belongs to cannot be told."""
    n_inline = sum(inline.values())
    bad = np.zeros(sink.num_rows, dtype=bool)
    if images is None:
        return bad
    bad = (n_inline > 0) & (images > 0)
    if bad.any():
        at = np.flatnonzero(bad)  # each row said with its own counts
        sink.flag_values(
            "image-count",
            None,
            counts_key(at, n_inline, images),
            at,
            label=lambda key: "{} inline, {} in images".format(*counts_of(key)),
            message="a row holds images both inline in its message parts and in its images "
            "column, so the entries cannot be matched to the parts",
            hint="keep each row's images in one place: every image part inline (and no "
            'images entries), or bare {"type": "image"} parts, one per entry of images',
        )
    return bad


def _image_counts(
    roles: dict[str, str], infos: dict[str, MessagesInfo], images: np.ndarray | None, sink
) -> None:
    from trlprep.columns.placeholders import counted_images
    from trlprep.wording import plural

    inline = {role: info.inline_images for role, info in infos.items()}
    inline = {role: v for role, v in inline.items() if v is not None}
    # image parts that stand for an entry of `images` (inline ones hold their image)
    only = {role: info.images - inline.get(role, 0) for role, info in infos.items()}
    beside = np.zeros(sink.num_rows, dtype=bool)
    if inline:
        beside = _inline_beside_images(inline, images, sink)
    holders = {role: 0 for role in only}
    if images is not None:  # `<image>` placeholders in text stand for images too
        holders = {
            r: (infos[r].placeholders if infos[r].placeholders is not None else 0) for r in only
        }
    parts = {role: p + holders[role] for role, p in only.items()}
    if images is None and not any(p.any() for p in parts.values()):
        return
    n_images = images if images is not None else np.zeros(sink.num_rows, dtype=np.int64)
    counted = images is not None  # placeholders counted too
    given = {r: parts[r] + inline.get(r, 0) for r in parts}
    placed = _unplaced(infos, given, n_images, "image", sink) & ~beside
    for label, which in _sequences(roles, list(parts)):
        count = sum(parts[r] for r in which)
        held = sum(np.broadcast_to(holders[r], count.shape) for r in which)
        shown = sum(np.broadcast_to(only[r], count.shape) for r in which)
        bad = (count != n_images) & ~beside & ~placed  # those said already, or placed
        if bad.any():
            at = np.flatnonzero(bad)  # each row said with its own counts

            def said(key: str, label=label) -> str:
                held, shown, n = counts_of(key)
                return (
                    f"{label}: {counted_images(held, shown, with_placeholders=counted)}"
                    + f", {plural(n, 'image')}"
                )

            sink.flag_values(
                "image-count",
                None,
                counts_key(at, held, shown, n_images),
                at,
                label=said,
            )


def _unplaced(
    infos: dict[str, MessagesInfo],
    given: dict[str, np.ndarray],
    held: np.ndarray,
    kind: str,
    sink: BatchSink,
) -> np.ndarray:
    """Rows holding `kind` media with no placeholder or part of it in any conversation
    (`given`: per role, its placeholders and parts) and a user message of string content
    where they go: convert places them at the start of that message, as TRL does
    (`columns.unmarked`); flagged `media-unplaced` and returned."""
    from trlprep.columns.placeholders import PLACEHOLDERS
    from trlprep.columns.unmarked import targets
    from trlprep.wording import plural

    rows = held > 0
    for count in given.values():
        rows = rows & (np.broadcast_to(count, rows.shape) == 0)
    for role in targets(list(infos)):
        reach = infos[role].string_user
        rows = rows & (reach if reach is not None else False)
    if rows.any():
        mark = PLACEHOLDERS[kind]
        how = (
            "as TRL's prepare_multimodal_messages does"
            if kind == "image"
            else "as ms-swift does (TRL places images only)"
        )
        at = np.flatnonzero(rows)  # each row's count of media, a detail at its first row
        sink.flag_values(
            "media-unplaced",
            None,
            pa.array(held[at]),
            at,
            label=lambda v, kind=kind: plural(int(v), kind),
            message=f"the row gives {kind}s and no `{mark}` placeholder or {kind} part: "
            f"convert places them at the start of the first user message, {how}",
            hint=f"nothing to do where the {kind}s go before the first question; else "
            f"write `{mark}` where each stands",
        )
    return rows


def unrendered_media(
    roles: dict[str, str],
    typed: dict[str, pa.Array],
    held: dict[str, np.ndarray],
    sink: BatchSink,
) -> None:
    """Standard (string) rows giving media and no placeholder of them in their text
    (`media-unrendered`): no template renders them, and TRL's trainers give the text to the
    processor as it is, so nothing in it stands for the media; rows whose text holds
    placeholders (`media-standard-text`): given as they are, they stand for the media only
    where a placeholder is the processor's own media token."""
    from trlprep.columns.placeholders import PLACEHOLDERS
    from trlprep.columns.standardmarks import standard_marks_hint, standard_marks_text
    from trlprep.wording import plural

    texts = [a for a in typed.values() if value_kind(a.type) is ValueKind.STRING]
    if not texts:
        return
    for kind, n in held.items():
        marks = sum(
            np.asarray(
                pc.fill_null(pc.count_substring(a, PLACEHOLDERS[kind]), 0).to_numpy(
                    zero_copy_only=False
                ),
                np.int64,
            )
            for a in texts
        )
        mark = PLACEHOLDERS[kind]
        marked = np.flatnonzero((n > 0) & (marks > 0))
        if len(marked):
            sink.flag_values(
                "media-standard-text",
                None,
                pa.array(marks[marked]),
                marked,
                label=lambda v, mark=mark: plural(int(v), f"`{mark}`"),
                message=standard_marks_text(kind),
                hint=standard_marks_hint(kind, set(roles) == {"text"}),
            )
        rows = (n > 0) & (marks == 0)
        if not rows.any():
            continue
        at = np.flatnonzero(rows)  # each row's count of media, a detail at its first row
        sink.flag_values(
            "media-unrendered",
            None,
            pa.array(n[at]),
            at,
            label=lambda v, kind=kind: plural(int(v), kind),
            message=f"the row gives {kind}s beside standard (string) text with no `{mark}` "
            f"placeholder: nothing renders them, and TRL's trainers give the text to the "
            f"processor as it is, so nothing in it stands for them",
            hint=f"pass --conversational: the text becomes messages and the {kind}s are placed "
            "at the start of the first user message, as TRL's prepare_multimodal_messages "
            f"places images; or write the model's own {kind} token where each stands",
        )
