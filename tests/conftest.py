"""Shared fixtures: the guide's example rows for every type and format."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _m(role: str, content) -> dict:
    return {"role": role, "content": content}


# One valid row per (type, format), as in TRL's "Dataset formats and types" table.
EXAMPLES: dict[tuple[str, str], dict] = {
    ("language-modeling", "standard"): {"text": "The sky is blue."},
    ("language-modeling", "conversational"): {
        "messages": [_m("user", "What color is the sky?"), _m("assistant", "It is blue.")]
    },
    ("prompt-only", "standard"): {"prompt": "The sky is"},
    ("prompt-only", "conversational"): {"prompt": [_m("user", "What color is the sky?")]},
    ("prompt-completion", "standard"): {"prompt": "The sky is", "completion": " blue."},
    ("prompt-completion", "conversational"): {
        "prompt": [_m("user", "What color is the sky?")],
        "completion": [_m("assistant", "It is blue.")],
    },
    ("preference", "standard"): {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
    ("preference", "conversational"): {
        "prompt": [_m("user", "What color is the sky?")],
        "chosen": [_m("assistant", "It is blue.")],
        "rejected": [_m("assistant", "It is green.")],
    },
    ("preference-implicit", "standard"): {
        "chosen": "The sky is blue.",
        "rejected": "The sky is green.",
    },
    ("preference-implicit", "conversational"): {
        "chosen": [_m("user", "What color is the sky?"), _m("assistant", "It is blue.")],
        "rejected": [_m("user", "What color is the sky?"), _m("assistant", "It is green.")],
    },
    ("unpaired-preference", "standard"): {
        "prompt": "The sky is",
        "completion": " blue.",
        "label": True,
    },
    ("unpaired-preference", "conversational"): {
        "prompt": [_m("user", "What color is the sky?")],
        "completion": [_m("assistant", "It is green.")],
        "label": False,
    },
    ("stepwise-supervision", "standard"): {
        "prompt": "Which number is larger, 9.8 or 9.11?",
        "completions": [
            "The fractional part of 9.8 is 0.8.",
            "The fractional part of 9.11 is 0.11.",
            "0.11 is greater than 0.8.",
            "Hence, 9.11 > 9.8.",
        ],
        "labels": [True, True, False, False],
    },
    ("stepwise-supervision", "conversational"): {
        "prompt": [_m("user", "Which number is larger, 9.8 or 9.11?")],
        "completions": ["The fractional part of 9.8 is 0.8.", "Hence, 9.8 > 9.11."],
        "labels": [True, True],
    },
}


@pytest.fixture
def examples() -> dict[tuple[str, str], dict]:
    import copy

    return copy.deepcopy(EXAMPLES)


def needs_shared() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared is absent")
    return SHARED
