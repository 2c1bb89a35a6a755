"""What templating a table did, for the user: rows, renders, prompt reuse, notes, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trlprep.templates.probes import TOOL_TEMPLATES
from trlprep.wording import article, noun, plural

EXAMPLE_ROWS = 5


@dataclass
class TemplateReport:
    """What templating did: rows, renders, reuse of prompts, rows whose prompt was shortened."""

    template: str
    dataset_type: str = ""
    rows: int = 0
    renders: int = 0  # Jinja renders performed
    distinct_prompts: int = 0
    prefix_mismatch_rows: int = 0  # prompt not a prefix of prompt+completion: LCP used
    prefix_mismatch_examples: list[int] = field(default_factory=list)
    fast_rows: int = 0  # rows rendered by a string-column renderer instead of Jinja
    num_proc: int = 1
    joined_parts_rows: int = 0  # rows whose text-only content parts were joined into a string
    image_rows: int = 0  # rows whose `<image>` placeholders became image parts
    # rows whose `<video>` / `<audio>` placeholders became video / audio parts
    media_rows: dict[str, int] = field(default_factory=lambda: {"video": 0, "audio": 0})
    dropped_calls_rows: int = 0  # rows with tool calls the template does not render
    dropped_reasoning_rows: int = 0  # rows with reasoning the render leaves out (`reasoningkept`)
    ignored_tools_rows: int = 0  # rows given tools the template does not render
    # rows holding video / audio parts without a `videos` / `audios` column: count unchecked
    unchecked_media: dict[str, int] = field(default_factory=lambda: {"video": 0, "audio": 0})
    # rows rendered with video / audio parts the template renders nothing for (`mediaprobe`)
    dropped_media: dict[str, int] = field(default_factory=lambda: {"video": 0, "audio": 0})
    example_label: str = "rows"  # what the examples number: 0-based rows, or input "lines"

    def merge(self, other: TemplateReport) -> None:
        self.rows += other.rows
        self.renders += other.renders
        self.distinct_prompts += other.distinct_prompts
        self.prefix_mismatch_rows += other.prefix_mismatch_rows
        self.fast_rows += other.fast_rows
        self.joined_parts_rows += other.joined_parts_rows
        self.image_rows += other.image_rows
        self.dropped_calls_rows += other.dropped_calls_rows
        self.dropped_reasoning_rows += other.dropped_reasoning_rows
        self.ignored_tools_rows += other.ignored_tools_rows
        for kind, n in other.media_rows.items():
            self.media_rows[kind] = self.media_rows.get(kind, 0) + n
        for kind, n in other.unchecked_media.items():
            self.unchecked_media[kind] = self.unchecked_media.get(kind, 0) + n
        for kind, n in other.dropped_media.items():
            self.dropped_media[kind] = self.dropped_media.get(kind, 0) + n
        room = EXAMPLE_ROWS - len(self.prefix_mismatch_examples)
        self.prefix_mismatch_examples.extend(other.prefix_mismatch_examples[:room])

    def notes(self) -> list[str]:
        out = []
        if self.prefix_mismatch_rows:
            rows = ", ".join(map(str, self.prefix_mismatch_examples))
            out.append(
                f"{self.prefix_mismatch_rows} row(s) whose rendered prompt is not a prefix of the "
                "rendered prompt+completion (the template renders the prompt differently alone, "
                f"e.g. an added <think> block); the common prefix was used as prompt "
                f"({self.example_label} {rows})"
            )
        if self.joined_parts_rows:
            out.append(
                f"{self.joined_parts_rows} row(s) hold content as a list of text parts, which "
                f"{self.template} renders only as a string: the parts' text was joined (no "
                "separator)"
            )
        rows = {"image": self.image_rows, **self.media_rows}
        kinds = [k for k, n in rows.items() if n]
        if kinds:
            marks = ", ".join(f"`<{k}>`" for k in kinds)
            parts = ", ".join(f'{{"type": "{k}"}}' for k in kinds)
            part = article(kinds[0]) if len(kinds) == 1 else "its"
            out.append(
                ", ".join(f"{plural(rows[k], 'row')} with {k}s" for k in kinds)
                + f": each {marks} placeholder became {part} part ({parts}) and the text "
                "around it text parts"
            )
        for kind, n in self.unchecked_media.items():
            if n:
                out.append(
                    f"{_rows(n, 'hold')} {kind} parts and the data has no "
                    f"{kind}s column: their number is not checked (only image parts are "
                    f"checked, against images); the processor must be given one {kind} per "
                    "part"
                )
        return out

    def warnings(self) -> list[str]:
        """What the template silently left out of the text: tool calls, reasoning, tools, media."""
        out = []
        n, name = self.dropped_calls_rows, self.template
        if n:
            out.append(
                f"{_rows(n, 'hold')} assistant tool calls that {name} does not "
                "render (those turns come out without the call: nothing to train on for them); "
                f"use a template that renders tool calls ({TOOL_TEMPLATES})"
            )
        n = self.dropped_reasoning_rows
        if n:
            out.append(
                f"{_rows(n, 'hold')} assistant reasoning (a reasoning_content / thinking field "
                f"or <think> blocks in the content) that {name} leaves out of the text, whole "
                "or in part, as the model's own template does: it is not trained on (a template "
                "without reasoning drops all of it; Qwen-style ones keep only the reasoning of "
                "the turns after the last user message, and of several <think> blocks in one "
                "answer the first); to train on it, split the turns (--to prompt-completion "
                "--split-turns all), keep one <think> block per answer, or use a template that "
                "renders reasoning"
            )
        n = self.ignored_tools_rows
        if n:
            out.append(
                f"{_rows(n, 'give')} tools that {name} ignores (the tool "
                f"definitions are not in the text); use a template that renders tools "
                f"({TOOL_TEMPLATES})"
            )
        for kind, n in self.dropped_media.items():
            if n:
                out.append(
                    f"{_rows(n, 'hold')} {kind} parts that {name} does not "
                    f"render as {kind} (it prints nothing, or the part as text, for them: the "
                    f"model never sees the {kind}); use a template that renders {kind} parts"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "dataset_type": self.dataset_type,
            "rows": self.rows,
            "renders": self.renders,
            "distinct_prompts": self.distinct_prompts,
            "prefix_mismatch_rows": self.prefix_mismatch_rows,
            "prefix_mismatch_examples": self.prefix_mismatch_examples,
            "fast_rows": self.fast_rows,
            "num_proc": self.num_proc,
            "joined_parts_rows": self.joined_parts_rows,
            "image_rows": self.image_rows,
            "dropped_calls_rows": self.dropped_calls_rows,
            "dropped_reasoning_rows": self.dropped_reasoning_rows,
            "ignored_tools_rows": self.ignored_tools_rows,
            "unchecked_media_rows": dict(self.unchecked_media),
            "dropped_media_rows": dict(self.dropped_media),
            "notes": self.notes(),
            "warnings": self.warnings(),
        }


def _rows(n: int, verb: str) -> str:
    """'1 row holds' / '3 rows hold'."""
    return f"{plural(n, 'row')} {noun(n, verb + 's', verb)}"


__all__ = ["EXAMPLE_ROWS", "TemplateReport"]
