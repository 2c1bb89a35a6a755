"""How a conversion edge is declared: its endpoints, its function and what it loses.

Every edge is a pure function `(table, fmt, options) -> table` over Arrow tables of its
source type in one format (standard or conversational); the graph (`trlprep.conversion.graph`)
routes between types using only the metadata declared here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from trlprep.errors import TrlprepWarning
from trlprep.registry import Format, get_type


@dataclass(frozen=True)
class ConvertOptions:
    """Knobs of the conversions (CLI flags of `trlprep convert`)."""

    # standard-format joins: the string between prompt and completion (chosen) when they
    # are concatenated into one text, and between stepwise steps unless step_separator is set
    separator: str = ""
    step_separator: str | None = None  # stepwise: how steps are joined (None: `separator`)
    label_merge: str = "all"  # stepwise -> unpaired: all | any | last | first-false-truncates
    split_mode: str = "word"  # implicit prompt extraction, standard format: word | char
    order: str = "interleaved"  # unpairing: interleaved (chosen, rejected per pair) | blocks
    pairing: str = "best-vs-rest"  # ranked -> preference: best-vs-rest | best-vs-worst | all-pairs
    threshold: float | None = None  # ranked -> unpaired: score threshold
    # prompt extraction, rows whose chosen and rejected share no prompt: error | warn | drop
    no_prompt: str = "error"
    # unpairing with order="blocks": rows per block (None = the whole table; TRL's map uses 1000)
    block_rows: int | None = None
    margin: bool = False  # ranked -> preference: add a `margin` column (score difference)
    # language modeling (conversational) -> prompt-completion: split at the last assistant
    # turn ("last") or make one row per assistant turn ("all")
    split_turns: str = "last"
    allow_empty: bool = False  # a conversion that drops every row writes an empty output
    # images, videos and audios held inline in message parts: keep (as they are) | move (to
    # `images` / `videos` / `audios`, with bare {"type": "image"} ... parts: TRL's vision
    # layout)
    inline_media: str = "keep"
    # the format the CLI writes (`parquet`, `arrow`, `disk`, `jsonl`; "" unknown / Python):
    # kept media in an output of one struct per content part are warned about
    output_kind: str = ""
    # `move` chosen by the CLI for that output (no --inline-media given): said so
    moved_by_default: bool = False
    # media that a default `move` leaves in their parts: the whole input holds some of them
    # as data no URL or path names (`columns.inlinemedia.unmovable_media`)
    kept_media: tuple[str, ...] = ()
    # `medium:column` of the messages columns an input converted in chunks holds media inline
    # in, over the whole input: every chunk gets their media columns
    # (`conversion.mediastage.moving_whole`)
    media_columns: tuple[str, ...] = ()


def step_separator(opts: ConvertOptions) -> str:
    """The string joining stepwise steps (`step_separator`, else `separator`)."""
    return opts.separator if opts.step_separator is None else opts.step_separator


class ConversionWarning(TrlprepWarning):
    """Something a conversion did that the user should hear about (rows dropped, ties, ...)."""


ConvertFn = Callable[[pa.Table, Format, ConvertOptions], pa.Table]


@dataclass(frozen=True)
class Edge:
    """One conversion between two dataset types."""

    src: str
    dst: str
    fn: ConvertFn
    drops: str = ""  # what is lost, in words ("" = lossless)
    rows: str = "same"  # effect on the row count: same | filters | doubles | expands | pairs
    guide: bool = True  # one of the TRL guide's documented conversions
    description: str = ""
    needs: tuple[str, ...] = field(default=())  # source columns it reads
    joins: str = ""  # the texts it concatenates in standard format ("" = none)
    # the formats it converts (standard text has no turns: some edges are conversational only)
    formats: tuple[Format, ...] = (Format.STANDARD, Format.CONVERSATIONAL)
    # the ConvertOptions fields it reads, in every format / on standard text only (an option
    # that no step of a plan reads is said to do nothing: `conversion.unread`)
    reads: tuple[str, ...] = ()
    standard_reads: tuple[str, ...] = ()

    @property
    def lossy(self) -> bool:
        return bool(self.drops)

    def reads_in(self, fmt: Format) -> tuple[str, ...]:
        """The options this edge reads converting `fmt` data."""
        return self.reads + (self.standard_reads if fmt is Format.STANDARD else ())


EDGES: dict[tuple[str, str], Edge] = {}


def edge(
    src: str,
    dst: str,
    *,
    drops: str = "",
    rows: str = "same",
    guide: bool = True,
    description: str = "",
    formats: tuple[Format, ...] = (Format.STANDARD, Format.CONVERSATIONAL),
    joins: str = "",
    reads: tuple[str, ...] = (),
    standard_reads: tuple[str, ...] = (),
) -> Callable[[ConvertFn], ConvertFn]:
    """Register `fn` as the conversion from type `src` to type `dst` (names or aliases);
    `reads`: the `ConvertOptions` fields it reads (`standard_reads`: on standard text only)."""
    s, d = get_type(src), get_type(dst)
    unknown = set(reads + standard_reads) - set(ConvertOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"edge {s.name} -> {d.name} reads unknown options {sorted(unknown)}")

    def deco(fn: ConvertFn) -> ConvertFn:
        needs = s.column_names(formats[0])
        doc = description or (fn.__doc__ or "").strip()
        EDGES[(s.name, d.name)] = Edge(
            s.name, d.name, fn, drops, rows, guide, doc, needs, joins, tuple(formats),
            tuple(reads), tuple(standard_reads),
        )  # fmt: skip
        return fn

    return deco
