"""Text already rendered with a chat template: rows whose text or message contents hold a
template's turn markers (`<|im_start|>`, `<|start_header_id|>`, `[INST]`, NeMo's
`<extra_id_1>`, ...). Rendering them with a template again templates them twice. Whole
columns at once (Polars' one-pass `contains_any`), rows by numpy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_messages, is_string

# markers that open (or head) a turn in common chat templates: an end-of-text token alone
# (`<|endoftext|>`, `</s>`) ends many plain texts and is left out
TURN_MARKERS: tuple[str, ...] = (
    "<|im_start|>",
    "<|start_header_id|>",
    "[INST]",
    "<<SYS>>",
    "<start_of_turn>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|START_OF_TURN_TOKEN|>",
    "<｜User｜>",
    "<｜Assistant｜>",
    "<extra_id_0>",
    "<extra_id_1>",
)

PRERENDERED_HINT = (
    "rendering it with a chat template again templates it twice: train or convert the "
    "text as it is, without --chat-template (and without --conversational, which is for raw "
    "text only)"
)


def prerendered_text(markers: list[str]) -> str:
    """What rows holding `markers` hold."""
    shown = ", ".join(f"`{m}`" for m in markers[:4])
    return f"the text is already rendered with a chat template (it holds {shown})"


def _strings_hit(texts: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Which of `texts` hold a turn marker, and the markers met (first seen first)."""
    import polars as pl

    if not len(texts) or texts.null_count == len(texts):
        return np.zeros(len(texts), bool), []
    series = pl.Series(texts.cast(pa.large_string()))
    hit = series.str.contains_any(list(TURN_MARKERS)).fill_null(False).to_numpy()
    found = series.filter(pl.Series(hit)).head(1000).str.extract_many(list(TURN_MARKERS))
    markers = dict.fromkeys(m for ms in found.to_list() for m in (ms or []))
    return np.asarray(hit, bool), list(markers)


def _message_texts(col: pa.Array) -> tuple[pa.Array, np.ndarray] | None:
    """Each message's string content and the row it belongs to (None: no string content)."""
    messages = pc.list_flatten(col)
    typ = messages.type
    if typ.get_field_index("content") < 0 or not is_string(typ.field("content").type):
        return None
    parents = np.asarray(pc.list_parent_indices(col).to_numpy(), np.int64)
    return messages.field("content"), parents


def prerendered_rows(table: pa.Table, columns: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Rows (positions in `table`) whose text or string message contents in `columns` hold
    a chat template's turn marker, and the markers found."""
    hit = np.zeros(table.num_rows, bool)
    markers: dict[str, None] = {}
    for name in columns:
        if name not in table.column_names:
            continue
        col = table.column(name).combine_chunks()
        if is_string(col.type):
            rows, found = _strings_hit(col)
            hit |= rows
        elif is_messages(col.type):
            texts = _message_texts(col)
            if texts is None:
                continue
            items, found = _strings_hit(texts[0])
            hit[texts[1][items]] = True
        else:
            continue
        markers.update(dict.fromkeys(found))
    return np.flatnonzero(hit), list(markers)
