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


# What the optional folder `../shared` (beside the repository, not part of it) holds, and
# where to get each piece; tests that need it skip with this explanation when it is absent.
SHARED_PARTS = {
    "data/real/hh-rlhf-harmless-base-test.jsonl.gz": "Anthropic's HH-RLHF sample (from the "
    "Hugging Face Hub dataset Anthropic/hh-rlhf: harmless-base/test.jsonl.gz)",
    "data/chat_templates": "the original chat templates of public models (*.jinja, the "
    "trl/chat_templates/ folder of github.com/huggingface/trl)",
    "spec": "TRL v0.17's 'Dataset formats and types' guide as text (docs/source/"
    "dataset_formats.md of github.com/huggingface/trl at v0.17.0, saved as "
    "spec/trl-docs-v0.17.txt)",
}


def shared_skip_reason(part: str | None = None) -> str:
    """Why a test that needs `../shared` was skipped, and how to run it."""
    parts = {part: SHARED_PARTS[part]} if part in SHARED_PARTS else SHARED_PARTS
    wanted = "; ".join(f"{SHARED / k} = {v}" for k, v in parts.items())
    return (
        "optional reference data not found (these tests compare trlprep with real data and "
        f"original templates): {wanted}. Put it there to run them; nothing else is needed"
    )


def needs_shared(part: str | None = None) -> Path:
    """`../shared`, or a skip naming the optional data and where to get it."""
    if not SHARED.exists() or (part is not None and not (SHARED / part).exists()):
        pytest.skip(shared_skip_reason(part))
    return SHARED


@pytest.fixture(scope="module")
def tokenizer_loaded_here():
    """Reports load their tokenizer in the test's process (torch imported once), not in a
    helper process each (a fresh torch import per report: ~10 s each on a shared machine);
    `test_datareport_parallel.py` tests the helper itself."""
    from trlprep.datareport import loading

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loading, "start", lambda *args, **kwargs: None)
        yield


_TERSE = ("../shared", "sample is absent", "hh-rlhf sample")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Terse skip reasons about `../shared` (in any test file) become self-explaining."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return
    path, line, reason = report.longrepr
    if any(t in reason.lower() for t in _TERSE) and "optional reference data" not in reason:
        low = reason.lower()
        part = (
            "data/real/hh-rlhf-harmless-base-test.jsonl.gz"
            if "hh" in low
            else "spec"
            if "spec" in low
            else "data/chat_templates"
            if "template" in str(item.fspath)
            else None
        )
        report.longrepr = (path, line, "Skipped: " + shared_skip_reason(part))


def pytest_sessionfinish(session, exitstatus):
    """Stop a local Ray the tests started before the interpreter exits: left to the exit,
    Ray's background threads can crash it (a segfault after every test passed, CI rc 139)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
