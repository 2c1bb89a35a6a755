"""Readings of a `messages` column as another type than language modeling, decided by
`trlprep.detection.detect` from how the rows end: with a boolean `label` beside it (the KTO layout)
it is unpaired preference (the last assistant turn is the completion, the turns before it
the prompt); when every conversation ends on a user turn (RLVR style) it is prompt-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trlprep.detection.profile import MESSAGES, Kinds, content_kinds
from trlprep.io.labels import COERCE_LABELS_HINT
from trlprep.registry import LANGUAGE_MODELING, PROMPT_ONLY, UNPAIRED_PREFERENCE, DatasetType
from trlprep.wording import kind_word, noun, plural

if TYPE_CHECKING:
    from trlprep.detection.detect import Detection


@dataclass(frozen=True)
class Reading:
    """A conversation column read as another type: `kind` is `last-assistant-turn` (the
    last assistant turn is the completion, the turns before it the prompt) or `prompt`
    (the whole conversation, which ends on a user turn, is the prompt)."""

    kind: str
    column: str
    stored: DatasetType
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "column": self.column, "description": self.description}


def read_turns(det: Detection, cols: dict, num_rows: int, problem) -> DatasetType | None:
    """Read conversations as unpaired preference (with a boolean `label`) or as prompts
    (every one ends on a user turn); None when they stay language modeling. `cols` are
    detection's column profiles, `problem` its callback reporting rows that disagree."""

    last = cols[MESSAGES].last or Kinds()
    label = cols.get("label")
    label_kinds = set(content_kinds(label)) if label is not None else set()
    taken = {"prompt", "completion", "chosen", "rejected"} & set(cols)
    if label is not None and "bool" in label_kinds and not taken:
        det.type = UNPAIRED_PREFERENCE
        det.reading = Reading(
            "last-assistant-turn",
            MESSAGES,
            LANGUAGE_MODELING,
            f"{MESSAGES!r} read as prompt (the turns before the last assistant turn) and "
            "completion (the last assistant turn); 'label' is the label",
        )
        det.columns = {"prompt": MESSAGES, "completion": MESSAGES, "label": "label"}
        det.extra_columns = [c for c in det.extra_columns if c != "label"]
        det.notes.append(
            "read as unpaired preference: messages + boolean label, the KTO layout "
            "(--from lm keeps it language modeling)"
        )
        why = {
            "user": ("ends", "end", " on a user turn"),
            "other": ("ends", "end", " on a turn that is not the assistant's"),
            "empty": ("has", "have", " no messages"),
            "assistant-only": ("holds", "hold", " only an assistant turn (no prompt)"),
        }
        for kind, (one, many, rest) in why.items():
            if last.counts.get(kind):
                text = (one if last.counts[kind] == 1 else many) + rest
                problem(
                    "no-completion",
                    f"column {MESSAGES!r}: {plural(last.counts[kind], 'row')} {text}, so no "
                    "completion to read as unpaired preference",
                    last.counts[kind],
                    last.examples.get(kind, []),
                )
        for kind in sorted(label_kinds - {"bool"}):  # a label that is no boolean
            count = label.kinds[kind]
            problem(
                "wrong-kind",
                f"column 'label': {plural(count, 'row')} {noun(count, 'holds', 'hold')} "
                f"{kind_word(kind)}, expected boolean",
                count,
                label.examples.get(kind, []),
                COERCE_LABELS_HINT,
            )
        if label.kinds.get("null"):
            problem(
                "missing-value",
                f"column 'label' is null in {label.kinds['null']} of {num_rows} rows",
                label.kinds["null"],
                label.examples.get("null", []),
            )
        return UNPAIRED_PREFERENCE
    if label is not None and label_kinds & {"int", "float", "number", "string"} and not taken:
        det.notes.append(
            "'label' beside 'messages' holds no booleans: if its values are "
            '0/1 or "true"/"false", --coerce reads them as booleans and the rows as unpaired '
            "preference (the KTO layout)"
        )
    ends_on_user = last.counts.get("user", 0)
    if num_rows and ends_on_user == num_rows and not taken:
        det.type = PROMPT_ONLY
        det.reading = Reading(
            "prompt",
            MESSAGES,
            LANGUAGE_MODELING,
            f"{MESSAGES!r} read as the prompt (every conversation ends on a user turn)",
        )
        det.columns = {"prompt": MESSAGES}
        det.notes.append(
            "read as prompt-only: every conversation ends on a user turn, RLVR style "
            "(--from lm keeps it language modeling)"
        )
        return PROMPT_ONLY
    if ends_on_user:
        det.notes.append(
            f"{ends_on_user} of {num_rows} conversations end on a user turn (no assistant "
            "answer to learn)"
        )
    return None
