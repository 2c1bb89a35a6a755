"""Detect a dataset's type, format and modality from its schema and every one of its rows.

Each record batch is profiled with Arrow compute (what each column holds in each row), the
profiles are merged, and the type is read off the registry's column signatures. Rows that
disagree with the rest (a missing prompt, a string where others hold messages) are
reported as problems with counts and example rows, never silently guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_messages
from trlprep.detection.columnroles import pick_type
from trlprep.detection.heldwords import held, holds, text_under_a_chat_name
from trlprep.detection.profile import (
    MESSAGES,
    Profile,
    content_kinds,
    profile_batch,
)
from trlprep.detection.readings import Reading, read_turns
from trlprep.io.labels import COERCE_LABELS_HINT
from trlprep.io.readers import Batch
from trlprep.registry import (
    LANGUAGE_MODELING,
    MEDIA_COLUMNS,
    SIDE_COLUMNS,
    TYPES,
    DatasetType,
    Format,
    Kind,
    signature,
)
from trlprep.wording import kind_word, plural

# Problems that do not stop a conversion: an ambiguity resolved by a stated reading, and
# conversations without a completion to read (the conversion refuses those rows one by one).
PASSABLE = frozenset({"ambiguous-prompt", "no-completion"})
# Problems of single rows, not of the dataset's type: a conversion refuses those rows one by
# one (`trlprep.conversion.apply.split_missing`), so --on-error skip can set them aside.
ROW_LEVEL = frozenset({"missing-value"})
LAYOUT_ROWS = 1000  # rows of the first batch a public layout is recognised from


@dataclass
class Problem:
    """Something that makes the data non-uniform or ambiguous."""

    code: str
    message: str
    count: int = 0
    rows: list[int] = field(default_factory=list)
    lines: list[int] | None = None
    hint: str | None = None  # what to do, where a command stops on it

    def to_dict(self) -> dict[str, Any]:
        d = {"code": self.code, "message": self.message, "count": self.count, "rows": self.rows}
        if self.lines is not None:
            d["lines"] = self.lines
        if self.hint is not None:  # as `detect` prints it under the problem
            d["hint"] = self.hint
        return d


@dataclass
class Detection:
    """What a dataset is: type, format, modality, and how its columns map to roles."""

    type: DatasetType | None
    format: Format | None
    num_rows: int
    vision: bool = False
    columns: dict[str, str] = field(default_factory=dict)  # role -> column name
    extra_columns: list[str] = field(default_factory=list)
    side_columns: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    column_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # how a `messages` column is read as another type (None: columns are read as they are)
    reading: Reading | None = None
    # the public layout (`--from` name) the columns show (`trlprep.detection.layouthint`), and the
    # type it lands on where `trlprep convert` reads it even without --from
    layout: str | None = None
    layout_landing: tuple[DatasetType, Format] | None = None
    # the first rows imported from that layout, detected (its columns and roles as convert
    # writes them); `layout_rows`: rows the whole import gives, where the first rows are all
    layout_view: Detection | None = None
    layout_rows: int | None = None

    @property
    def stored_type(self) -> DatasetType | None:
        """The type of the columns as stored (language modeling for a `messages` reading)."""
        return self.reading.stored if self.reading is not None else self.type

    @property
    def uniform(self) -> bool:
        return not self.problems

    @property
    def tokenized(self) -> bool:
        return self.format is Format.TOKENIZED

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.name if self.type else None,
            "format": self.format.value if self.format else None,
            "vision": self.vision,
            "tokenized": self.tokenized,
            "num_rows": self.num_rows,
            "columns": self.columns,
            "extra_columns": self.extra_columns,
            "side_columns": self.side_columns,
            "roles": self.roles,
            "column_kinds": self.column_kinds,
            "problems": [p.to_dict() for p in self.problems],
            "notes": self.notes,
            "reading": self.reading.to_dict() if self.reading is not None else None,
            "layout": self.layout,
        }


# ---------------------------------------------------------------- decision


def _summarise(prof: Profile, lines: dict[int, int] | None) -> Detection:
    cols = prof.columns
    present = {n for n, cp in cols.items() if content_kinds(cp)}
    dtype, fmt_guess, shadowed = pick_type(present)
    det = Detection(type=dtype, format=None, num_rows=prof.num_rows)

    def problem(
        code: str, message: str, count: int, rows: list[int], hint: str | None = None
    ) -> None:
        det.problems.append(
            Problem(
                code,
                message,
                count,
                rows,
                [lines[r] for r in rows] if lines is not None else None,
                hint,
            )
        )

    det.column_kinds = {n: _in_order(cp.kinds) for n, cp in cols.items()}
    det.side_columns = [n for n in cols if n in SIDE_COLUMNS]
    media = {n for names in MEDIA_COLUMNS.values() for n in names}
    det.vision = any(n in cols for n in media) or any(cp.parts for cp in cols.values())
    det.roles = sorted(set().union(*(cp.roles for cp in cols.values())) if cols else set())

    if dtype is None:
        if not prof.num_rows and cols:  # names alone are not read as a type: say why
            det.notes.append(
                "no rows to detect the type from (the columns: " + ", ".join(sorted(cols)) + ")"
            )
        elif prof.num_rows or cols:
            det.notes.append(
                "no dataset type matches the columns "
                + (", ".join(sorted(cols)) or "(none)")
                + "; expected one of: "
                + "; ".join(
                    f"{t.name}: {'+'.join(t.column_names(Format.STANDARD))}" for t in TYPES.values()
                )
            )
            det.extra_columns = [n for n in cols if n not in SIDE_COLUMNS]
        return det

    used_fmt = fmt_guess
    if fmt_guess is not Format.TOKENIZED:
        # decide the format from what the content columns hold, row by row
        content = dtype.content_columns(Format.STANDARD)
        conv_names = dtype.content_columns(Format.CONVERSATIONAL)
        names = [c if c in cols else cc for c, cc in zip(content, conv_names, strict=True)]
        totals: Counter = Counter()
        for name in names:
            totals.update(content_kinds(cols[name]))
        kinds_seen = set(totals) - {"empty-list"}  # an empty list fits any list kind
        if kinds_seen <= {"string"} and (kinds_seen or not totals):
            used_fmt = Format.STANDARD
        elif kinds_seen <= {"messages"}:
            used_fmt = Format.CONVERSATIONAL
        else:
            used_fmt = None
            # the rows holding text or messages as most such rows do are not the problem (no
            # such majority: every kind is); numbers, objects ... are always named
            ranked = [(k, n) for k, n in totals.most_common() if k in ("string", "messages")]
            major = (
                ranked[0][0]
                if len(ranked) == 1 or (ranked and ranked[0][1] > ranked[1][1])
                else None
            )
            for name in names:
                for kind, count in sorted(content_kinds(cols[name]).items()):
                    if kind == major or (kind == "empty-list" and major == "messages"):
                        continue
                    problem(
                        "mixed-format",
                        f"column {name!r}: {plural(count, 'row')} {holds(count)} {held(kind)}",
                        count,
                        cols[name].examples.get(kind, []),
                    )
            if "messages" in totals and "string" in totals:
                det.notes.append(
                    f"rows mix text ({totals['string']} values) and message lists "
                    f"({totals['messages']} values); the format is undecided"
                )
    det.format = used_fmt
    role_cols = dtype.columns_in(fmt_guess if fmt_guess is Format.TOKENIZED else Format.STANDARD)
    fmt_for_names = used_fmt or fmt_guess
    for c in role_cols:
        name = c.name_in(fmt_for_names) if fmt_for_names else c.name
        if name not in cols and c.conversational_name and c.conversational_name in cols:
            name = c.conversational_name
        if name in cols:
            det.columns[c.role] = name
    type_cols = set(det.columns.values())
    det.extra_columns = [n for n in cols if n not in type_cols and n not in SIDE_COLUMNS]
    if used_fmt is Format.STANDARD:
        text_under_a_chat_name(role_cols, det, cols, problem)

    # rows missing a required column (null there, present elsewhere)
    for c in role_cols:
        name = det.columns.get(c.role)
        if not c.required or name is None:
            continue
        cp = cols[name]
        if cp.kinds.get("null"):
            problem(
                "missing-value",
                f"column {name!r} is null or absent in {cp.kinds['null']} of "
                f"{plural(prof.num_rows, 'row')} (rows of another type, or missing data)",
                cp.kinds["null"],
                cp.examples.get("null", []),
            )
        if c.kind is not Kind.CONTENT:
            continue
    # the label/steps columns must hold what the type needs
    expected = {Kind.LABEL: "bool", Kind.LABELS: "list<bool>", Kind.STEPS: "list<string>"}
    for c in role_cols:
        want = expected.get(c.kind)
        name = det.columns.get(c.role)
        if want and name:
            wrong = {
                k: v for k, v in content_kinds(cols[name]).items() if k not in (want, "empty-list")
            }
            for kind, count in wrong.items():
                problem(
                    "wrong-kind",
                    f"column {name!r}: {plural(count, 'row')} {holds(count)} "
                    f"{kind_word(kind)}, expected {kind_word(want)}",
                    count,
                    cols[name].examples.get(kind, []),
                    COERCE_LABELS_HINT if c.kind in (Kind.LABEL, Kind.LABELS) else None,
                )

    if dtype is LANGUAGE_MODELING and used_fmt is Format.CONVERSATIONAL and MESSAGES in cols:
        dtype = read_turns(det, cols, prof.num_rows, problem) or dtype
    for t in shadowed:
        if t.name in ("preference-implicit", "prompt-only", "prompt-completion"):
            continue  # subsets of the chosen type's own columns
        det.notes.append(
            f"columns {', '.join(sorted(signature(t, fmt_guess or Format.STANDARD)))} also fit "
            f"{t.name}; read as {dtype.name} (the larger match), others kept as extras"
        )
    rep = prof.repeated_prompt.kinds.get("repeated", 0)
    if dtype.name == "preference" and rep:
        problem(
            "ambiguous-prompt",
            f"in {plural(rep, 'row')} chosen and rejected start with the whole prompt: read as "
            "explicit "
            "preference because a 'prompt' column is present; if the prompt is implicit "
            "(repeated inside chosen/rejected), drop the 'prompt' column",
            rep,
            prof.repeated_prompt.examples.get("repeated", []),
        )
    if dtype.name == "stepwise-supervision" and used_fmt is Format.CONVERSATIONAL:
        det.notes.append(
            "stepwise supervision with a conversational prompt is accepted beyond the TRL "
            "guide (which defines it in standard format only)"
        )
    if not det.problems and prof.num_rows:
        rows = "the row is" if prof.num_rows == 1 else f"all {prof.num_rows:,} rows are"
        det.notes.append(f"{rows} {dtype.name} ({used_fmt})")
    return det


# the order one batch counts a column's kinds in (`profile_batch`): the kinds of an input
# read in batches listed as read whole, not in the order the batches first met them
KIND_ORDER = ("null", "string", "messages", "list", "object", "bool", "number")


def _in_order(kinds: Counter) -> dict[str, int]:
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    return dict(sorted(kinds.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def detect_batches(batches: Iterable[Batch]) -> Detection:
    """Detect from record batches (streamed: memory stays bounded by one batch)."""
    prof = Profile()
    line_of: dict[int, int] = {}
    has_lines = False
    heads: list = []  # the first LAYOUT_ROWS rows, whichever batches hold them
    held = 0
    for b in batches:
        if held < LAYOUT_ROWS or not heads:
            heads.append(b.data.slice(0, LAYOUT_ROWS - held))
            held += heads[-1].num_rows
        profile_batch(b.data, b.offset, prof)
        if b.lines is not None:
            has_lines = True
            end = b.offset + b.data.num_rows
            for r in _example_rows(prof):
                if b.offset <= r < end and r not in line_of:
                    line_of[r] = int(b.lines[r - b.offset])
    det = _summarise(prof, line_of if has_lines else None)
    if heads:
        from trlprep.detection.layouthint import suggest_import

        suggest_import(det, _joined(heads))
    return det


def _joined(parts: list) -> pa.Table | pa.RecordBatch:
    """The head's pieces as one table (one piece as it is); pieces whose types cannot be
    joined (batches not made to agree) leave the first piece alone."""
    if len(parts) == 1:
        return parts[0]
    tables = [p if isinstance(p, pa.Table) else pa.Table.from_batches([p]) for p in parts]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return parts[0]


def _example_rows(prof: Profile) -> set[int]:
    cps = [*prof.columns.values(), prof.repeated_prompt]
    cps += [cp.last for cp in prof.columns.values() if cp.last is not None]  # last turns
    return {r for cp in cps for ex in cp.examples.values() for r in ex}


def detect_table(table: pa.Table, lines: np.ndarray | None = None) -> Detection:
    """Detect from a whole Arrow table."""
    return detect_batches([Batch(table, 0, lines)])


def is_conversational_table(table: pa.Table) -> bool:
    """True when the type's content columns hold message lists (cheap: schema only)."""
    return any(is_messages(f.type) for f in table.schema if f.name in _CONTENT_NAMES)


_CONTENT_NAMES = {
    c for t in TYPES.values() for f in t.all_formats for c in t.content_columns(f)
} | {"messages"}
