"""What is said of standard (string) text holding `<image>` / `<video>` / `<audio>`
placeholders beside its media: no chat template renders standard text, and TRL's trainers
give it to the processor as it is (`media-standard-text` in validate, a warning in convert)."""

from __future__ import annotations

from trlprep.columns.placeholders import PLACEHOLDERS

STANDARD_MARKS_HINT = (
    "pass --conversational: the text becomes messages with {a} {kind} part where each "
    "placeholder stands, which the model's own template renders; or write the model's own "
    "{kind} token in place of each placeholder"
)


def standard_marks_hint(kind: str, plain_text: bool = False) -> str:
    """What to do about standard text holding `kind` placeholders (`standard_marks_text`);
    `plain_text`: language modeling's `text`, which no conversion makes messages."""
    if plain_text:
        return (
            "plain text (language modeling) has no turns to make messages of: write the "
            f"model's own {kind} token in place of each placeholder, or, where the text holds "
            "a question and its answer, give them as prompt and completion columns and pass "
            "--conversational"
        )
    return STANDARD_MARKS_HINT.format(kind=kind, a="a" if kind == "video" else "an")


def standard_marks_text(kind: str) -> str:
    """What is said of standard (string) rows whose text holds `kind` placeholders beside
    their media (`media-standard-text` in validate, a warning in convert)."""
    mark = PLACEHOLDERS[kind]
    a = "a" if kind == "video" else "an"
    whose = " (LLaVA's and Idefics3's, not Qwen-VL's or Gemma 3's)" if kind == "image" else ""
    return (
        f"standard (string) text holds `{mark}` placeholders beside the row's {kind}s: no "
        "chat template renders standard text, and TRL's trainers give it to the processor "
        f"as it is, which reads `{mark}` as {a} {kind} only where that is its own {kind} "
        f"token{whose}"
    )
