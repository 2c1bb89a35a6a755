"""What `trlprep validate` checks a dataset as: its type, format, role map, and how a
`messages` column is read (`Detection.reading`). Given options win; detection fills the
gaps and adds notes saying what was decided."""

from __future__ import annotations

from dataclasses import dataclass, field

from trlprep.detection.detect import Detection, Reading
from trlprep.detection.heldwords import unmixed_kinds
from trlprep.errors import UsageError
from trlprep.registry import Column, DatasetType, Format, get_format, get_type
from trlprep.validation.rolemap import parse_role_map


@dataclass(frozen=True)
class Plan:
    """What to check: the type, the format and the role map."""

    dtype: DatasetType
    fmt: Format
    role_map: dict[str, str] = field(default_factory=dict)
    # a `messages` column read as `dtype` (as detect reads it); None: columns as they are
    reading: Reading | None = None

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.dtype.columns_in(self.fmt)


def make_plan(
    det: Detection | None,
    type: str | DatasetType | None = None,
    format: str | Format | None = None,
    role_map: str | dict[str, str] | None = None,
) -> tuple[Plan | None, list[str]]:
    """Decide the type and format to check: given ones win, detection fills the gaps."""
    roles = parse_role_map(role_map)
    notes: list[str] = []
    dtype = get_type(type) if type is not None else (det.type if det else None)
    if type is None and det is not None and _trl_reads_layout(det):
        dtype, landing = det.layout_landing
        format = format if format is not None else landing
        notes.append(
            f"checked as the {det.layout} layout ({dtype.name}, {landing.value}), as TRL "
            f"reads it and `trlprep convert` and `train` import it"
        )
        det = None  # the columns' own reading (a text prompt beside messages) does not apply
    reading = None
    if det is not None and det.reading is not None and dtype is det.type:
        reading = det.reading  # checked as detect reads it; --type language-modeling: as stored
        notes.append(
            f"{det.reading.description} (--type {det.reading.stored.name} checks the "
            "conversations as they are)"
        )
    if det is not None and det.layout is not None and det.layout_landing is None and dtype:
        notes.append(
            f"the columns also fit the {det.layout} layout: `--from {det.layout}` imports "
            f"them (trlprep convert DATA --from {det.layout} -o OUT)"
        )
    if det is not None and det.layout_landing is not None and type is None:
        t, f = det.layout_landing
        notes.append(
            f"`trlprep convert` reads this as the {det.layout} layout ({t.name}, {f.value}): "
            f"`trlprep convert DATA --from {det.layout} -o OUT` writes it as TRL reads it; "
            f"validate checks the columns as they are (`--from {det.layout}` checks them as "
            "imported)"
        )
    if dtype is None:
        if det is not None:  # the layout's reading is said above, in validate's words
            notes.extend(n for n in det.notes if not n.startswith("read as the "))
        return None, notes
    if format is not None:
        fmt = get_format(format)
        if not dtype.supports(fmt):
            raise UsageError(
                f"{dtype.name} has no {fmt.value} format",
                hint="use one of: " + ", ".join(f.value for f in dtype.all_formats),
            )
    else:
        fmt = _infer_format(det, dtype)
        if type is None and det is not None and det.format is None:
            notes.append(_undecided_format_note(det, dtype, fmt))
    if type is None or format is None:
        notes.insert(
            0,
            f"checked as {dtype.name} ({fmt.value})"
            + (" as detected" if type is None and format is None else ""),
        )
    if dtype.name == "stepwise-supervision" and fmt is Format.CONVERSATIONAL:
        notes.append("a conversational prompt for stepwise supervision is beyond the TRL guide")
    if det is not None:
        notes.extend(p.message for p in det.problems if p.code == "ambiguous-prompt")
        # detect's advice for labels of 0/1 (a KTO `label` beside messages, a thumbs_up
        # column beside prompt-completion): the rows are valid as they are, and --coerce
        # would check them as another type
        notes.extend(n for n in det.notes if "--coerce" in n)
    if reading is not None and fmt is not Format.CONVERSATIONAL:
        reading = None  # standard text has no turns to read
    return Plan(dtype, fmt, roles, reading), notes


def _trl_reads_layout(det: Detection) -> bool:
    """The columns are a layout that TRL's trainers read as they are (binarized preference
    with a text prompt: `maybe_extract_prompt` ignores the text), so validate checks that."""
    if det.layout is None or det.layout_landing is None:
        return False
    from trlprep.importers import get_importer

    return get_importer(det.layout).trl_reads_as_is


def _needs_detection(type: str | DatasetType | None, format: str | Format | None) -> bool:
    """Detection fills a missing type or format, and finds a `messages` column read as a
    given unpaired-preference or prompt-only type."""
    if type is None or format is None:
        return True
    return get_type(type).name in ("unpaired-preference", "prompt-only")


def _undecided_format_note(det: Detection, dtype: DatasetType, fmt: Format) -> str:
    """Why no format was detected: rows of a column holding several kinds (text and a
    number, say), or columns each holding one kind that is neither text nor messages."""
    unmixed = unmixed_kinds(det, dtype)
    if unmixed:
        return f"{'; '.join(unmixed)}; checked as {fmt.value}"
    mixed = [p.message for p in det.problems if p.code == "mixed-format"]
    what = f" ({'; '.join(mixed)})" if mixed else ""  # a number among text, say
    return f"rows mix formats{what}; checked as {fmt.value} (the majority)"


def _infer_format(det: Detection | None, dtype: DatasetType) -> Format:
    if det is None:
        return Format.STANDARD
    if det.format is not None and det.type is dtype and dtype.supports(det.format):
        return det.format
    kinds = det.column_kinds
    counts = {"string": 0, "messages": 0}
    for fmt in (Format.STANDARD, Format.CONVERSATIONAL):
        for name in dtype.content_columns(fmt):
            for k in counts:
                counts[k] += kinds.get(name, {}).get(k, 0)
    if dtype.supports(Format.TOKENIZED) and not any(counts.values()):
        if any(c.name_in(Format.TOKENIZED) in kinds for c in dtype.columns_in(Format.TOKENIZED)):
            return Format.TOKENIZED
    if counts["messages"] > counts["string"] and dtype.supports(Format.CONVERSATIONAL):
        return Format.CONVERSATIONAL
    return Format.STANDARD
