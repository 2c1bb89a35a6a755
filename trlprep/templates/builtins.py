"""Chat templates written by this project for common model families, with their tokens.

Each built-in renders byte-identically to the model's original template (tested on a
corpus of conversations); `original` names the model whose template it reproduces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from trlprep.errors import UsageError


@dataclass(frozen=True)
class Builtin:
    """A built-in chat template: its name, the model it matches and its special tokens."""

    name: str
    original: str  # the model whose template it reproduces
    description: str
    special_tokens: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    tools: bool = False  # renders `tools` and assistant `tool_calls`
    system: bool = True  # accepts a system turn

    @property
    def filename(self) -> str:
        return f"{self.name}.jinja"

    def source(self) -> str:
        return _read(self.filename)


_LLAMA3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "chatml",
            "ChatML (e.g. TRL's setup_chat_format)",
            "<|im_start|>role ... <|im_end|> turns, no default system prompt",
            {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
        ),
        Builtin(
            "llama3",
            "meta-llama/Meta-Llama-3-8B-Instruct",
            "header-delimited turns ending in <|eot_id|>, contents trimmed",
            _LLAMA3,
            aliases=("llama-3",),
        ),
        Builtin(
            "llama3.1",
            "meta-llama/Llama-3.1-8B-Instruct",
            "Llama 3 turns with a dated system header, JSON tool calls and ipython turns",
            _LLAMA3,
            aliases=("llama3_1", "llama-3.1"),
            tools=True,
        ),
        Builtin(
            "qwen2.5",
            "Qwen/Qwen2.5-7B-Instruct",
            "ChatML with a default system prompt, <tool_call> calls and <tool_response> turns",
            {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
            aliases=("qwen2_5", "qwen-2.5"),
            tools=True,
        ),
        Builtin(
            "phi3",
            "microsoft/Phi-3-mini-128k-instruct",
            "<|role|> turns ending in <|end|>; EOS ends a conversation without a generation prompt",
            {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>"},
            aliases=("phi-3",),
        ),
        Builtin(
            "gemma",
            "google/gemma-7b-it",
            "<start_of_turn>user/model turns; raises on a system turn or non-alternating roles",
            {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
            system=False,
        ),
        Builtin(
            "mistral",
            "mistralai/Mistral-7B-Instruct-v0.1 (and v0.2)",
            "[INST] user turns, assistant turns ending in EOS; user/assistant only, alternating",
            {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
            system=False,
        ),
        Builtin(
            "zephyr",
            "HuggingFaceH4/zephyr-7b-beta",
            "<|role|> turns each ending in EOS and a newline",
            {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
        ),
    )
}
_ALIASES = {a: b.name for b in BUILTINS.values() for a in (b.name, *b.aliases)}


@cache
def _read(filename: str) -> str:
    return resources.files("trlprep.templates").joinpath("builtin", filename).read_text("utf-8")


def builtin_name(name: str) -> str | None:
    """The canonical built-in name for `name` (or an alias), None if there is none."""
    return _ALIASES.get(name.strip().lower())


def get_builtin(name: str) -> Builtin:
    canonical = builtin_name(name)
    if canonical is None:
        raise UsageError(
            f"unknown built-in chat template {name!r}",
            hint="run `trlprep templates` to list them: " + ", ".join(BUILTINS),
        )
    return BUILTINS[canonical]


def list_builtins() -> list[Builtin]:
    """The built-in templates, in a stable order."""
    return list(BUILTINS.values())
