"""The importers' options (`ImportOptions`): the knobs of `trlprep import` and
`trlprep convert --from`, made from CLI-style values and checked against their choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trlprep.errors import UsageError
from trlprep.importers.columnmap import parse_column_map
from trlprep.validation.rolemap import parse_role_map

PAIRINGS = ("best-vs-rest", "best-vs-worst", "all-pairs")
PROMPT_STYLES = ("auto", "alpaca", "plain")
ON_ERROR = ("stop", "skip")
NEUTRAL = ("negative", "positive", "drop")


@dataclass(frozen=True)
class ImportOptions:
    """Knobs of the importers (CLI flags of `trlprep import` / `trlprep convert --from`).

    `map`: output column -> input column, applied first by every importer (`prompt=question`).
    `role_map`: input role -> TRL role, over the importer's own defaults (`human=user`).
    """

    map: Mapping[str, str] = field(default_factory=dict)
    role_map: Mapping[str, str] = field(default_factory=dict)
    conversational: bool = False  # alpaca: conversational prompt-completion
    # alpaca, alpacafarm, standard format: alpaca (Stanford template) | plain | auto (the
    # layout's own: the template, except AlpacaEval's rows, which have no `input`: plain)
    prompt_style: str = "auto"
    pairing: str = "best-vs-rest"  # ranked -> preference
    threshold: float | None = None  # ranked -> unpaired preference (set = unpaired)
    margin: bool = False  # ranked -> preference: add the score difference as `margin`
    neutral: str = "negative"  # prm800k: a step rated 0 is negative | positive | drop
    coerce: bool = False  # numbers/booleans in a text column are read as their text
    keep_empty_turns: bool = False  # hh: keep empty final answers, landing on prompt-only

    @classmethod
    def make(
        cls,
        *,
        map: str | Mapping[str, str] | None = None,
        role_map: str | Mapping[str, str] | None = None,
        map_role: str | Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> ImportOptions:
        """Options from CLI-style values: `map="prompt=question"`, `role_map="human=user"`.

        `map_role` is another name for `role_map` (both may be given; `map_role` wins).
        """
        unknown = set(kwargs) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise UsageError(
                f"unknown import option {sorted(unknown)[0]!r}",
                hint="options: " + ", ".join(sorted(cls.__dataclass_fields__) + ["map_role"]),
            )
        roles = {**parse_role_map(_as_dict(role_map)), **parse_role_map(_as_dict(map_role))}
        opts = cls(map=parse_column_map(map), role_map=roles, **kwargs)
        from trlprep.errors import unknown_choice

        if opts.pairing not in PAIRINGS:
            raise unknown_choice("--pairing", opts.pairing, PAIRINGS)
        if opts.neutral not in NEUTRAL:
            raise unknown_choice("--neutral", opts.neutral, NEUTRAL)
        if opts.prompt_style not in PROMPT_STYLES:
            raise unknown_choice("--prompt-style", opts.prompt_style, PROMPT_STYLES)
        return opts


def _as_dict(spec: str | Mapping[str, str] | None) -> str | dict[str, str] | None:
    return dict(spec) if isinstance(spec, Mapping) else spec


def check_on_error(on_error: str) -> str:
    """`on_error` when it is one of `ON_ERROR`; else the error naming the choices."""
    if on_error not in ON_ERROR:
        from trlprep.errors import unknown_choice

        raise unknown_choice("--on-error", on_error, ON_ERROR)
    return on_error
