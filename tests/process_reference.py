"""Per-row statements of what the PRM800K and Math-Shepherd importers do column-wise.

The importers (trlprep/importers/prm800k.py, math_shepherd.py) work on whole Arrow
columns; these plain Python functions say the same thing one row at a time, so tests can
compare the two.
"""

from __future__ import annotations

import re
from typing import Any

from trlprep.importers.math_shepherd import _STRAY_LABEL_PROMPTS, STEP_TAG

_TAG_ONE = "\u2dbb"  # one character standing for the two-character tag, as TRL's script


def trajectories(steps: Any) -> tuple[list[tuple[list[str], list[int]]], str | None]:
    """The (step texts, ratings) of every trajectory of one solution, or a problem: the
    per-row statement of what `trajectories_columns` does for a whole column.

    A human completion's rating is recorded as +1 (TRL labels it correct).
    """
    if not steps:
        return [], None
    out: list[tuple[list[str], list[int]]] = []
    texts: list[str] = []
    ratings: list[int] = []
    for k, step in enumerate(steps, 1):
        step = step or {}
        candidates = step.get("completions")
        chosen = step.get("chosen_completion")
        human = step.get("human_completion")
        if candidates is None and chosen is None and human is None:
            break
        candidates = candidates or []
        for j, cand in enumerate(candidates):
            if j == chosen:
                continue
            if not cand or not isinstance(cand.get("text"), str):
                return [], f"step {k}: a candidate has no text"
            if cand.get("rating") not in (-1, 0, 1):
                return [], f"step {k}: candidate {j} has no rating -1/0/+1"
            out.append((texts + [cand["text"]], ratings + [cand["rating"]]))
        if chosen is not None:
            if not 0 <= chosen < len(candidates):
                return [], f"step {k}: chosen_completion {chosen} is not a candidate"
            pick = candidates[chosen]
            if pick.get("rating") not in (-1, 0, 1):
                return [], f"step {k}: the chosen candidate has no rating -1/0/+1"
            rating = pick["rating"]
        elif human is not None:
            pick, rating = human, 1
        else:
            break
        if not isinstance(pick.get("text"), str):
            return [], f"step {k}: the chosen step has no text"
        texts.append(pick["text"])
        ratings.append(rating)
    if texts:
        out.append((texts, ratings))
    return out, None


def parse_shepherd(text: Any, marks: Any) -> tuple[str, list[str], list[bool]] | str:
    """(prompt, steps, labels) of one Math-Shepherd row, or why it cannot be parsed (the
    per-row statement of what `parse_shepherd_columns` does for a whole column)."""
    if not isinstance(text, str) or not isinstance(marks, str):
        return "input or label is null"
    single = text.replace(STEP_TAG, _TAG_ONE)
    where = [m.start() for m in re.finditer(_TAG_ONE, single)]
    if not where:
        return "input holds no step tag 'ки'"
    if len(marks) != len(single) or any(marks[k] not in "+-" for k in where):
        return "label does not hold '+' or '-' where input holds each step tag"
    labels = [marks[k] == "+" for k in where]
    bounds = [0, *where]
    pieces = [single[a:b] for a, b in zip(bounds[:-1], where, strict=True)]
    prompt, steps = pieces[0], [p[1:].strip() for p in pieces[1:]]
    if prompt.startswith(_STRAY_LABEL_PROMPTS):
        labels = labels[1:]
    else:
        for marker in ("Step 1:", "step 1:"):
            if marker in prompt:
                before, _, first = prompt.partition(marker)
                if marker in first:
                    return f"input holds {marker!r} twice before its first tag"
                prompt, steps = before, [(marker + first).strip(), *steps]
                break
        else:
            if "?" not in prompt:
                return "cannot tell the problem from its first step (no 'Step 1:' and no '?')"
            before, _, first = prompt.partition("?")
            if "?" in first:
                return "cannot tell the problem from its first step (several '?', no 'Step 1:')"
            prompt, steps = before + "?", [first.strip(), *steps]
    prompt = prompt.strip()
    if len(steps) != len(labels):
        return "the number of steps and of labels differ"
    return prompt, steps, labels
