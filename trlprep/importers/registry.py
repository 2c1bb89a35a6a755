"""Every importer, by layout name: `IMPORTERS`, name lookup and layout auto-detection."""

from __future__ import annotations

import pyarrow as pa

from trlprep.errors import UsageError
from trlprep.importers.alpaca import Alpaca
from trlprep.importers.alpacafarm import AlpacaFarm
from trlprep.importers.arena import Arena
from trlprep.importers.base import Importer
from trlprep.importers.binarized import Binarized
from trlprep.importers.generations import Generations
from trlprep.importers.helpsteer3 import HelpSteer3
from trlprep.importers.hh import HH
from trlprep.importers.instructions import Instances, MTBench
from trlprep.importers.llamafactory import LlamaFactoryV1
from trlprep.importers.mapping import ColumnMap
from trlprep.importers.math_shepherd import MathShepherd
from trlprep.importers.mathapstree import MathAPSTree
from trlprep.importers.nemotron import Nemotron
from trlprep.importers.oasst import OASST, OASSTRanked
from trlprep.importers.openai_chat import OpenAIChat
from trlprep.importers.oumi import Oumi
from trlprep.importers.prm800k import PRM800K
from trlprep.importers.promptanswers import PromptAnswers
from trlprep.importers.ranked import Ranked
from trlprep.importers.saferlhf import SafeRLHF
from trlprep.importers.sharegpt import ShareGPT
from trlprep.importers.shp import SHP
from trlprep.importers.swift import Swift
from trlprep.importers.tldr import TLDR
from trlprep.importers.tldr_preference import TLDRPreference
from trlprep.importers.webgpt import WebGPT
from trlprep.importers.xlam import XLAM

IMPORTERS: dict[str, Importer] = {
    imp.name: imp
    for imp in (
        ShareGPT(),
        Alpaca(),
        HH(),
        OpenAIChat(),
        Ranked(),
        Generations(),
        PRM800K(),
        MathShepherd(),
        MathAPSTree(),
        OASST(),
        OASSTRanked(),
        LlamaFactoryV1(),
        Oumi(),
        Swift(),
        Binarized(),
        PromptAnswers(),
        AlpacaFarm(),
        SafeRLHF(),
        SHP(),
        WebGPT(),
        Arena(),
        TLDRPreference(),
        TLDR(),
        HelpSteer3(),
        MTBench(),
        Instances(),
        XLAM(),
        Nemotron(),
        ColumnMap(),
    )
}
_ALIASES: dict[str, str] = {
    **{name: name for name in IMPORTERS},
    **{alias: imp.name for imp in IMPORTERS.values() for alias in imp.aliases},
}


def layout_names() -> list[str]:
    return list(IMPORTERS)


def check_type_or_layout(name: str) -> None:
    """`--from` (the API's `from_`) names a dataset type or a public layout; a misspelt one
    is told both lists (and the closest name)."""
    import difflib

    from trlprep.registry import TYPES, get_type, type_names_with_aliases, type_suggestion

    try:
        get_type(name)
    except UsageError:
        names = [*TYPES, *layout_names()]
        close = difflib.get_close_matches(name.lower(), names, n=1)
        raise UsageError(
            f"unknown --from {name!r}: not a dataset type or a public layout"
            + (f" (did you mean {close[0]!r}?)" if close else type_suggestion(name.lower())),
            hint="dataset types: "
            + ", ".join(type_names_with_aliases())
            + "; layouts: "
            + ", ".join(layout_names()),
        ) from None


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def is_layout(name: str | None) -> bool:
    """True when `name` is an importer (layout) name or alias rather than a dataset type."""
    return name is not None and _key(name) in _ALIASES


def get_importer(name: str | Importer) -> Importer:
    """The importer for a layout name or alias (`sharegpt`, `openai`, `ultrafeedback`, ...)."""
    if isinstance(name, Importer):
        return name
    canonical = _ALIASES.get(_key(name))
    if canonical is None:
        layouts = ", ".join(
            f"{i.name}" + (f" ({', '.join(i.aliases)})" if i.aliases else "")
            for i in IMPORTERS.values()
        )
        raise UsageError(
            f"unknown layout {name!r}{_not_a_layout(name)}", hint="use one of: " + layouts
        )
    return IMPORTERS[canonical]


def _not_a_layout(name: str) -> str:
    """What `name`, which no layout has, is instead: a dataset type, or a misspelt layout."""
    import difflib

    from trlprep.registry import get_type

    try:
        dtype = get_type(name)
    except Exception:  # not a type either: the closest layout name, if any
        close = difflib.get_close_matches(_key(name), list(_ALIASES), n=1, cutoff=0.75)
        return f" (did you mean {_ALIASES[close[0]]!r}?)" if close else ""
    return (
        f": {dtype.name} is a dataset type; `trlprep import` reads public layouts, and "
        f"`trlprep convert DATA --from {name} ...` converts data of that type"
    )


def detect_layout(schema: pa.Schema, sample: pa.Table | None = None) -> str | None:
    """The one layout whose importer recognises `schema` (and `sample` rows), else None.

    HH transcripts are also valid standard implicit preference, so they are recognised only
    from `sample` rows; `map` never is (it needs --map).
    """
    found = [name for name, imp in IMPORTERS.items() if imp.sniff(schema, sample)]
    return found[0] if len(found) == 1 else None


def conversational_layout(data: pa.Table | pa.RecordBatch, *, read_as: bool = True) -> str | None:
    """`--conversational` with no layout named: the layout that makes `data`'s rows messages,
    the public layout convert reads it as (`layout_read_as`, unless `read_as` is False: the
    caller sniffed it already), else `hh` for HH transcripts (split into turns at their
    markers, not wrapped whole in one message), else "map" when the first rows are standard
    text; None for data that is messages already (or undecided)."""
    from trlprep.detection.detect import detect_table
    from trlprep.registry import Format

    layout = layout_read_as(data) if read_as else None
    if layout is not None:
        return layout
    head = data.slice(0, 1000)
    if detect_layout(data.schema, head if isinstance(head, pa.Table) else None) == "hh":
        return "hh"
    standard = detect_table(data.slice(0, 1000)).format is Format.STANDARD
    return "map" if standard else None


def layout_read_as(data: pa.Table | pa.RecordBatch) -> str | None:
    """The public layout `trlprep convert` reads `data` as without `--from`, else None.

    A layout is read when its importer recognises the columns (and first rows) and either
    the first rows do not read as one TRL type (ShareGPT `conversations`, or its single
    `chosen`/`rejected` messages), or the layout only looks like one (OASST trees,
    LLaMA-Factory v1 parts, UltraFeedback-binarized).
    """
    from trlprep.detection.detect import detect_table

    head = data.slice(0, 1000)
    name = detect_layout(data.schema, head)
    if name is None or get_importer(name).reads_over_trl(data.schema):
        return name
    det = detect_table(head)
    if det.type is None or (det.format is None and head.num_rows):
        return name
    if any(p.code != "ambiguous-prompt" for p in det.problems):
        return name
    return None


def layout_in_hint(error: UsageError, layout: str | None) -> UsageError:
    """`error` with its `--map` advice naming `layout`, the layout the data was read as
    without being named: `--map` alone reads the columns as they are instead."""
    if layout is None or layout == "map" or not error.hint:
        return error
    error.hint = error.hint.replace("--map ", f"--from {layout} --map ")
    return error
