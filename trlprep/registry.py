"""The dataset model: every dataset type, format and column role, declared once.

Detection, the JSON Schemas, validation, the conversion graph and the trainers all read
this module; nothing else spells out which columns a type has.
Reference: TRL v0.17, "Dataset formats and types".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from trlprep.errors import UsageError


class Format(str, Enum):
    """How the text of a dataset is stored."""

    STANDARD = "standard"  # plain strings
    CONVERSATIONAL = "conversational"  # lists of {role, content} messages
    TOKENIZED = "tokenized"  # token ids (language modeling only, as PPO consumes)

    def __str__(self) -> str:
        return self.value


class Kind(str, Enum):
    """What one column of a type holds."""

    CONTENT = "content"  # a string (standard) or a list of messages (conversational)
    STEPS = "steps"  # a list of strings (stepwise completions; text in every format)
    LABEL = "label"  # a boolean
    LABELS = "labels"  # a list of booleans, one per step
    TOKENS = "tokens"  # a list of token ids
    MASK = "mask"  # a list of 0/1 ints aligned with TOKENS


@dataclass(frozen=True)
class Column:
    """One column of a dataset type.

    `conversational_name` is set where the conversational format renames the column
    (language modeling: `text` becomes `messages`).
    """

    name: str
    kind: Kind
    role: str  # the part it plays: prompt, completion, chosen, ...
    conversational_name: str | None = None
    required: bool = True

    def name_in(self, fmt: Format) -> str:
        if fmt is Format.CONVERSATIONAL and self.conversational_name:
            return self.conversational_name
        return self.name


@dataclass(frozen=True)
class DatasetType:
    """A dataset type: its names, its columns and which trainers expect it."""

    name: str
    aliases: tuple[str, ...]
    title: str
    columns: tuple[Column, ...]
    formats: tuple[Format, ...]
    trainers: tuple[str, ...]
    description: str
    # formats accepted beyond the TRL guide (documented as such)
    extended_formats: tuple[Format, ...] = ()
    tokenized_columns: tuple[Column, ...] = ()

    def columns_in(self, fmt: Format) -> tuple[Column, ...]:
        if fmt is Format.TOKENIZED:
            return self.tokenized_columns
        return self.columns

    def column_names(self, fmt: Format, required_only: bool = True) -> tuple[str, ...]:
        return tuple(
            c.name_in(fmt) for c in self.columns_in(fmt) if c.required or not required_only
        )

    def content_columns(self, fmt: Format) -> tuple[str, ...]:
        """Columns that hold text or messages (the ones the format applies to)."""
        return tuple(c.name_in(fmt) for c in self.columns_in(fmt) if c.kind is Kind.CONTENT)

    def supports(self, fmt: Format) -> bool:
        return fmt in self.formats or fmt in self.extended_formats

    @property
    def all_formats(self) -> tuple[Format, ...]:
        return self.formats + self.extended_formats

    def __str__(self) -> str:
        return self.name


_S, _C = Format.STANDARD, Format.CONVERSATIONAL


def _content(name: str, conversational_name: str | None = None) -> Column:
    return Column(name, Kind.CONTENT, role=name, conversational_name=conversational_name)


LANGUAGE_MODELING = DatasetType(
    name="language-modeling",
    aliases=("lm",),
    title="Language modeling",
    columns=(Column("text", Kind.CONTENT, role="text", conversational_name="messages"),),
    formats=(_S, _C),
    trainers=("SFTTrainer", "PPOTrainer (tokenized)"),
    description="A full text sequence (`text`), or a whole conversation (`messages`).",
    extended_formats=(Format.TOKENIZED,),
    tokenized_columns=(
        Column("input_ids", Kind.TOKENS, role="input_ids"),
        Column("attention_mask", Kind.MASK, role="attention_mask", required=False),
    ),
)
PROMPT_ONLY = DatasetType(
    name="prompt-only",
    aliases=("po", "prompt"),
    title="Prompt-only",
    columns=(_content("prompt"),),
    formats=(_S, _C),
    trainers=("GRPOTrainer", "OnlineDPOTrainer", "NashMDTrainer", "XPOTrainer"),
    description="Only a prompt; the model generates the completion.",
)
PROMPT_COMPLETION = DatasetType(
    name="prompt-completion",
    aliases=("pc",),
    title="Prompt-completion",
    columns=(_content("prompt"), _content("completion")),
    formats=(_S, _C),
    trainers=("SFTTrainer", "GKDTrainer"),
    description="A prompt and its completion.",
)
PREFERENCE = DatasetType(
    name="preference",
    aliases=("pref", "explicit"),
    title="Preference",
    columns=(_content("prompt"), _content("chosen"), _content("rejected")),
    formats=(_S, _C),
    trainers=("DPOTrainer", "CPOTrainer", "ORPOTrainer", "KTOTrainer"),
    description="A prompt (explicit) with a chosen and a rejected completion.",
)
PREFERENCE_IMPLICIT = DatasetType(
    name="preference-implicit",
    aliases=("implicit",),
    title="Preference with implicit prompt",
    columns=(_content("chosen"), _content("rejected")),
    formats=(_S, _C),
    trainers=("RewardTrainer",),
    description="Chosen and rejected sequences that both contain the shared prompt.",
)
UNPAIRED_PREFERENCE = DatasetType(
    name="unpaired-preference",
    aliases=("unpaired",),
    title="Unpaired preference",
    columns=(_content("prompt"), _content("completion"), Column("label", Kind.LABEL, "label")),
    formats=(_S, _C),
    trainers=("KTOTrainer", "BCOTrainer", "IterativeSFTTrainer"),
    description="A prompt, one completion and a boolean label (desirable or not).",
)
STEPWISE_SUPERVISION = DatasetType(
    name="stepwise-supervision",
    aliases=("stepwise",),
    title="Stepwise supervision",
    columns=(
        _content("prompt"),
        Column("completions", Kind.STEPS, role="completions"),
        Column("labels", Kind.LABELS, role="labels"),
    ),
    formats=(_S,),
    # Beyond the guide: a conversational prompt with text steps.
    extended_formats=(_C,),
    trainers=("PRMTrainer",),
    description="A prompt and a list of completion steps, each with its own label.",
)

TYPES: dict[str, DatasetType] = {
    t.name: t
    for t in (
        LANGUAGE_MODELING,
        PROMPT_ONLY,
        PROMPT_COMPLETION,
        PREFERENCE_IMPLICIT,
        PREFERENCE,
        UNPAIRED_PREFERENCE,
        STEPWISE_SUPERVISION,
    )
}
_ALIASES: dict[str, str] = {
    **{t.name: t.name for t in TYPES.values()},
    **{a: t.name for t in TYPES.values() for a in t.aliases},
    "preference-explicit": "preference",
    "language_modeling": "language-modeling",
}

# Message roles a chat template understands; `developer` is OpenAI Harmony's.
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
EXTRA_ROLES: tuple[str, ...] = ("developer",)
# Optional message fields carried through untouched.
MESSAGE_FIELDS: tuple[str, ...] = (
    "role",
    "content",
    "tool_calls",
    "tool_call_id",
    "name",
    "thinking",
    "reasoning_content",
    "weight",
)
# JSON type of each optional message field (the schemas and the validator read this).
MESSAGE_FIELD_TYPES: dict[str, str] = {
    "tool_calls": "array",
    "tool_call_id": "string",
    "name": "string",
    "thinking": "string",
    "reasoning_content": "string",
    "weight": "number",
}
# Kinds of content parts (`{"type": ..., ...}`) in list-of-parts message content; `text`
# parts carry their text in a `text` field.
PART_TYPES: tuple[str, ...] = ("text", "image", "image_url", "video", "audio", "input_audio")
# Per-row side columns trlprep understands (anything else is an extra, carried along).
SIDE_COLUMNS: tuple[str, ...] = (
    "tools", "chat_template_kwargs", "images", "image", "videos", "video", "audios", "margin",
)  # fmt: skip
IMAGE_COLUMNS: tuple[str, ...] = ("images", "image")
# The columns holding each medium beside the conversation (`<image>`, `<video>`, `<audio>`
# placeholders and image / video / audio parts are counted against them).
MEDIA_COLUMNS: dict[str, tuple[str, ...]] = {
    "image": IMAGE_COLUMNS,
    "video": ("videos", "video"),
    "audio": ("audios",),
}
# Columns of one medium entry per row (LLaVA's and Qwen-VL's `image`, `video`); Qwen-VL also
# gives a list there (several images): `columns.mediacolumns` makes those lists `images` /
# `videos`, as TRL reads `image` as one image.
SINGLE_MEDIA_COLUMNS: dict[str, str] = {"image": "images", "video": "videos"}
# Role names other tools use, mapped when asked (--role-map, importers, maybe_convert_to_chatml).
COMMON_ROLE_MAP: dict[str, str] = {
    "human": "user",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "function": "tool",
    "observation": "tool",
}


def get_type(name: str | DatasetType) -> DatasetType:
    """Resolve a type name or alias (`pref`, `unpaired`, ...) to its DatasetType."""
    if isinstance(name, DatasetType):
        return name
    key = name.strip().lower().replace("_", "-")
    canonical = _ALIASES.get(key) or _ALIASES.get(name)
    if canonical is None:
        raise UsageError(
            f"unknown dataset type {name!r}" + type_suggestion(key),
            hint="use one of: " + ", ".join(type_names_with_aliases()),
        )
    return TYPES[canonical]


def type_suggestion(key: str) -> str:
    """` (did you mean ...?)` for a misspelt type, or the types a trainer reads when `key`
    names a trainer (`dpo`, `kto`, `sft`), else nothing."""
    import difflib

    readers = [
        t.name
        for t in TYPES.values()
        if any(tr.split()[0].lower() == key.replace("-", "") + "trainer" for tr in t.trainers)
    ]
    if readers:
        return f" ({key} is a trainer: it reads {' or '.join(readers)})"
    close = difflib.get_close_matches(key, list(_ALIASES), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_format(name: str | Format) -> Format:
    if isinstance(name, Format):
        return name
    try:
        return Format(name.strip().lower())
    except ValueError:
        from trlprep.errors import did_you_mean

        values = [f.value for f in Format]
        raise UsageError(
            f"unknown format {name!r}" + did_you_mean(name, values),
            hint="use one of: " + ", ".join(values),
        ) from None


def type_names_with_aliases() -> list[str]:
    return [f"{t.name} ({', '.join(t.aliases)})" for t in TYPES.values()]


def signature(dtype: DatasetType, fmt: Format) -> frozenset[str]:
    """The set of required column names that identifies `dtype` in `fmt`."""
    return frozenset(dtype.column_names(fmt))


def all_type_columns() -> frozenset[str]:
    """Every column name any type uses, in any format."""
    return frozenset(
        c.name_in(f)
        for t in TYPES.values()
        for f in Format
        for c in t.columns_in(f)
        if t.supports(f) or f is not Format.TOKENIZED
    )
