"""Conversions between dataset types: every edge of the graph, registered in `EDGES`.

Importing this package imports every edge module, so `EDGES` holds all of them.
"""

from trlprep.converters import basic, implicit, pairing, stepwise, turns, unpairing  # noqa: F401
from trlprep.converters.base import EDGES, ConversionWarning, ConvertOptions, Edge, edge
from trlprep.converters.common import row_offset
from trlprep.converters.implicit import extract
from trlprep.converters.pairing import pair_by_prompt
from trlprep.converters.ranked import RANKED_CONVERSIONS, ranked_to_preference, ranked_to_unpaired
from trlprep.converters.unpairing import UNPAIR_WARNING, unpair

__all__ = [
    "EDGES",
    "RANKED_CONVERSIONS",
    "UNPAIR_WARNING",
    "ConversionWarning",
    "ConvertOptions",
    "Edge",
    "edge",
    "extract",
    "pair_by_prompt",
    "ranked_to_preference",
    "ranked_to_unpaired",
    "row_offset",
    "unpair",
]
