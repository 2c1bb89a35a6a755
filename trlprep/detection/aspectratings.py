"""Completions rated per aspect (UltraFeedback: `completions[].annotations.ASPECT.Rating`):
the `--map` that labels or pairs them by one aspect, as TRL's `ultrafeedback.py` does, where
`--from ranked` alone reads `overall_score`."""

from __future__ import annotations

import pyarrow as pa

from trlprep.columns.arrowtypes import is_list


def aspect_advice(schema: pa.Schema) -> str | None:
    """The advice for completion objects holding `annotations` of rated aspects, or None."""
    if "completions" not in schema.names:
        return None
    t = schema.field("completions").type
    if not (is_list(t) and pa.types.is_struct(t.value_type)):
        return None
    item = t.value_type
    i = item.get_field_index("annotations")
    if i < 0 or not pa.types.is_struct(item.field(i).type):
        return None
    aspects = [
        f.name
        for f in item.field(i).type
        if pa.types.is_struct(f.type) and f.type.get_field_index("Rating") >= 0
    ]
    if not aspects:
        return None
    a = "helpfulness" if "helpfulness" in aspects else aspects[0]
    advice = (
        f"the completions are rated per aspect ({', '.join(aspects)}): `--from ranked` alone "
        f"reads each one's own score; by one aspect: --map scores=completions.annotations.{a}"
        ".Rating"
    )
    if item.get_field_index("model") < 0:
        return advice
    pick = "completions[model=M]"
    return (
        f"{advice}; one model M's answers only, as TRL's ultrafeedback.py makes them (with "
        f"--threshold 5 --conversational): --map completions={pick},scores={pick}"
        f".annotations.{a}.Rating"
    )
