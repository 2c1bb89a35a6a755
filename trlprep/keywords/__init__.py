"""Which keyword argument of which public Python function a CLI flag is: the flag table
(`FLAG_KEYWORDS`), the commands' functions, train's config keys (its TrainConfig fields and
the algorithms' options) and the function a flag another function lacks is said with
(`trlprep.convert`, `trlprep.ray.convert`); `trlprep.keywords.said.python_words` says them."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

# ---------------------------------------------------------------- CLI flags in Python's words

# What a flag's value looks like in a message, and how the keyword argument says it:
# BOOL takes none (`--coerce` -> `coerce=True`); CHOICE one of the listed words; NAME a type or
# layout name; PAIRS `a=b,c=d` (a dict); NUMBER digits; SOURCE a path, Hub id or file name.
BOOL, CHOICE, NAME, PAIRS, NUMBER, SOURCE = "bool", "choice", "name", "pairs", "number", "source"

# CLI flag -> (keyword argument of the Python API, kind, words a CHOICE takes). A flag the API
# has no keyword for (`--rejects`, `--engine`, `-o`) is left as it is;
# `tests/test_api_hints.py` checks every keyword against the API functions' signatures.
FLAG_KEYWORDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "map": ("map", PAIRS, ()),
    "role-map": ("role_map", PAIRS, ()),
    "map-role": ("role_map", PAIRS, ()),
    "template-kwarg": ("template_kwargs", PAIRS, ()),
    "from": ("from_", NAME, ()),
    "to": ("to", NAME, ()),
    "type": ("type", NAME, ()),
    "data-format": ("format", CHOICE, ("standard", "conversational")),
    "conversational": ("conversational", BOOL, ()),
    "coerce": ("coerce", BOOL, ()),
    "overwrite": ("overwrite", BOOL, ()),
    "allow-empty": ("allow_empty", BOOL, ()),
    "keep-empty-turns": ("keep_empty_turns", BOOL, ()),
    "tokenize": ("tokenize", BOOL, ()),
    "assistant-masks": ("assistant_masks", BOOL, ()),
    "strict": ("strict", BOOL, ()),
    "guide-only": ("guide_only", BOOL, ()),
    "margin": ("margin", BOOL, ()),
    "validate": ("validate", BOOL, ()),
    "on-error": ("on_error", CHOICE, ("stop", "skip")),
    "on-bad-lines": ("on_bad_lines", CHOICE, ("error", "skip")),
    "truncation": ("truncation", CHOICE, ("keep_start", "keep_end")),
    "order": ("order", CHOICE, ("interleaved", "blocks")),
    "split-mode": ("split_mode", CHOICE, ("word", "char")),
    "no-prompt": ("no_prompt", CHOICE, ("error", "warn", "drop")),
    "split-turns": ("split_turns", CHOICE, ("last", "all")),
    "inline-media": ("inline_media", CHOICE, ("keep", "move")),
    "label-merge": ("label_merge", CHOICE, ("all", "any", "last", "first-false-truncates")),
    "neutral": ("neutral", CHOICE, ("negative", "positive", "drop")),
    "pairing": ("pairing", CHOICE, ("best-vs-rest", "best-vs-worst", "all-pairs")),
    "prompt-style": ("prompt_style", CHOICE, ("auto", "alpaca", "plain")),
    "input-format": (
        "input_format",
        CHOICE,
        (
            "jsonl",
            "json",
            "parquet",
            "csv",
            "arrow",
            "text",
            "text-paragraph",
            "text-document",
            "disk",
            "hub",
        ),
    ),  # fmt: skip
    "output-format": ("output_format", CHOICE, ("parquet", "jsonl", "arrow", "disk")),
    "max-length": ("max_length", NUMBER, ()),
    "threshold": ("threshold", NUMBER, ()),
    "num-proc": ("num_proc", NUMBER, ()),
    "max-errors": ("max_errors", NUMBER, ()),
    "examples": ("examples", NUMBER, ()),
    "chat-template": ("chat_template", SOURCE, ()),
    "tokenizer": ("tokenizer", SOURCE, ()),
    "tools": ("tools", SOURCE, ()),
    "split": ("split", SOURCE, ()),
    "separator": ("separator", SOURCE, ()),
    "step-separator": ("step_separator", SOURCE, ()),
}

# the commands whose Python function a message can name instead: (as said, module, name)
COMMAND_FUNCTIONS = {
    "convert": ("trlprep.convert", "trlprep.api", "convert"),
    "validate": ("trlprep.validate", "trlprep.api", "validate"),
    "detect": ("trlprep.detect", "trlprep.api", "detect"),
    "report": ("trlprep.report", "trlprep.datareport.build", "report"),
    "import": ("trlprep.importers.import_dataset", "trlprep.importers.run", "import_dataset"),
    "train": ("trlprep.trainers.train", "trlprep.trainers.loop", "train"),
}
REPORT = "trlprep.datareport.build.report"
TRAIN = "trlprep.trainers.loop.train"
RAY = "trlprep.ray."
# functions whose keyword for a flag is named otherwise than FLAG_KEYWORDS says (train's
# config keys: a run has `data` and `eval_data`, each with its own layout and map)
RENAMED = {
    TRAIN: {
        "from": "data_from",
        "map": "data_map",
        "truncation": "truncation_mode",
        "template-kwarg": "template_kwargs",
    },  # fmt: skip
}
# public function -> {a keyword it took before: the keyword that replaced it}; the old one
# still works for now, with a DeprecationWarning (`take_renamed`)
OLD_KEYWORDS: dict[str, dict[str, str]] = {
    "trlprep.convert": {"map_role": "role_map"},
    "trlprep.validate": {"map_role": "role_map"},
    "trlprep.report": {"layout": "from_", "map_role": "role_map"},
    "trlprep.importers.import_dataset": {"layout": "from_", "map_role": "role_map"},
}


def take_renamed(function: str, options: dict[str, Any], new: str, value: Any) -> Any:
    """The value of keyword `new` of the public `function`: `value`, or the value `options`
    gives under the keyword's old name (taken out of `options`, with a DeprecationWarning
    at the caller's line naming `new`). Both given is a UsageError."""
    from trlprep.errors import UsageError, warn_user

    old = next((o for o, n in OLD_KEYWORDS[function].items() if n == new), None)
    if old is None or old not in options:
        return value
    given = options.pop(old)
    if value is not None:
        raise UsageError(
            f"{function}() got both {new}= and {old}=", hint=f"pass {new} alone ({old}'s new name)"
        )
    warn_user(
        f"{function}(): {old}= is renamed {new}=, the keyword every trlprep function takes "
        f"for it; pass {new}={given!r}",
        DeprecationWarning,
    )
    return given


def take_renamed_options(function: str, options: dict[str, Any]) -> None:
    """`take_renamed` for the keywords of `function` that go in its `**options`
    (`map_role=` -> `role_map=`): the old one moved to the new name in `options`."""
    for old, new in OLD_KEYWORDS[function].items():
        if old in options and new != "from_":
            value = take_renamed(function, options, new, options.pop(new, None))
            options[new] = value


# more kinds of value, for train's options: FALSE (`--no-x` -> `x=False`), WORD (a word that
# looks like a value: `--algo prm`, `--loss-type apo_zero`), BOOL_OR (`--resume` or `--resume
# PATH`)
FALSE, WORD, BOOL_OR = "false", "word", "bool-or"
# the keyword of `trlprep.ray.convert` the importers' options go in: import_options={'map': ...}
NESTED = "import_options"


def fallback(func: Callable | None) -> tuple[Callable, str]:
    """The function a flag `func` does not take is said as, and its name: the Ray
    functions' `trlprep.ray.convert`, the others' `trlprep.convert`."""
    if func is not None and _qualname(func).startswith(RAY):
        from trlprep.ray.conversion import convert

        return convert, "trlprep.ray.convert"
    return _convert(), "trlprep.convert"


def _convert() -> Callable:
    return function_of("convert")


def _train_said(
    config: object = None, log: object = None, *, overwrite: bool = False, **options: object
) -> None:
    """Stands for `trlprep.trainers.train` in a hint's words while torch is not loaded."""


_train_said.__module__, _train_said.__name__ = TRAIN.rsplit(".", 1)


def function_of(command: str) -> Callable:
    """The Python function of CLI `command` (`convert` -> `trlprep.api.convert`)."""
    module, name = COMMAND_FUNCTIONS[command][1:]
    if command == "train" and module not in sys.modules:  # no torch imported to say a hint
        return _train_said
    return getattr(importlib.import_module(module), name)


def _qualname(func: Callable) -> str:
    func = inspect.unwrap(func)
    return f"{func.__module__}.{func.__name__}"


def keyword_of(flag: str, func: Callable | None = None) -> str | None:
    """The keyword argument of `func` (any API function: None) for `--flag`, or None."""
    said = spec(flag, func)
    return None if said is None else said[0]


def spec(flag: str, func: Callable | None) -> tuple[str, str, tuple[str, ...]] | None:
    """`--flag` as `func`'s keyword argument: (keyword, kind, choices), or None."""
    if func is not None and _qualname(func) == TRAIN:
        return _train_spec(flag)
    if flag not in FLAG_KEYWORDS:
        return None
    _, kind, choices = FLAG_KEYWORDS[flag]
    if func is None:
        return FLAG_KEYWORDS[flag]
    keyword = RENAMED.get(_qualname(func), {}).get(flag) or FLAG_KEYWORDS[flag][0]
    takes = api_keywords(func)
    if keyword in takes:
        return keyword, kind, choices
    if NESTED in takes and keyword in _import_fields():  # trlprep.ray.convert's
        return f"{NESTED}={{{keyword!r}: ", kind, choices
    return None


def _import_fields() -> set[str]:
    from dataclasses import fields

    from trlprep.importers import ImportOptions

    return {f.name for f in fields(ImportOptions)}


def _train_spec(flag: str) -> tuple[str, str, tuple[str, ...]] | None:
    """`--flag` of `trlprep train` as the key of `trlprep.trainers.train`'s config (its
    keyword arguments): a TrainConfig field or an algorithm's option (any word while the
    algorithms are not loaded: a hint's `trlprep train --algo prm --step-separator`)."""
    keyword = RENAMED[TRAIN].get(flag) or flag.replace("-", "_")
    types = _train_types()
    if keyword not in types and keyword.startswith("no_"):
        if types.get(keyword[3:], "bool").startswith("bool"):
            return keyword[3:], FALSE, ()
    if keyword not in types and "trlprep.trainers.algorithms" in sys.modules:
        return None
    said = types.get(keyword, "").replace(" ", "")
    if flag in FLAG_KEYWORDS and FLAG_KEYWORDS[flag][0] == keyword:
        return FLAG_KEYWORDS[flag]
    if keyword in ("data_from", "eval_data_from", "data_map", "eval_data_map"):  # as convert's
        return keyword, NAME if keyword.endswith("from") else PAIRS, ()
    if said in ("bool", "bool|None"):
        return keyword, BOOL, ()
    if said.startswith("bool|"):
        return keyword, BOOL_OR, ()
    if said.split("|")[0] in ("int", "float"):
        return keyword, NUMBER, ()
    return keyword, WORD, ()


def _train_types() -> dict[str, str]:
    """Keys `trlprep.trainers.train` takes -> their declared types: TrainConfig's fields,
    `overwrite`, and, once loaded, every algorithm's options."""
    from dataclasses import fields

    from trlprep.trainers.config import TrainConfig

    types = {f.name: str(f.type) for f in fields(TrainConfig)} | {"overwrite": "bool"}
    algorithms = sys.modules.get("trlprep.trainers.algorithms")
    for algo in getattr(algorithms, "ALGORITHMS", {}).values():
        types |= {f.name: str(f.type) for f in fields(algo.options) if f.name not in types}
    return types


def train_words() -> frozenset[str]:
    """Words that are values of train's options in a hint (`--algo prm`, `--logps-kernel
    torch`): the algorithms, schedulers, kernels, attention kinds, truncations."""
    from trlprep.trainers import config

    return frozenset(
        (*config.ALGORITHM_NAMES, *config.SCHEDULERS, *config.ATTENTION, *config.LOGPS_KERNELS,
         "keep_start", "keep_end", "stop", "skip")
    )  # fmt: skip


def api_keywords(func: Callable) -> frozenset[str]:
    """The keyword arguments `func` takes: its parameters, and the option names its
    `**options` stand for (convert's, the importers', train's config keys)."""
    func = inspect.unwrap(func)
    params = inspect.signature(func).parameters.values()
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if any(p.kind is p.VAR_KEYWORD for p in params):
        names |= _options_of(f"{func.__module__}.{func.__name__}")
    return frozenset(names)


def _options_of(qualname: str) -> set[str]:
    """What the `**options` of the API function `qualname` take (none of another)."""
    from dataclasses import fields

    if qualname == "trlprep.importers.run.import_dataset":
        from trlprep.importers import ImportOptions

        return {f.name for f in fields(ImportOptions)}
    if qualname == "trlprep.ray.conversion.convert":  # `**kwargs`: convert_rows' and options
        from trlprep.converters.base import ConvertOptions
        from trlprep.ray.conversion import convert_rows

        rows = set(inspect.signature(convert_rows).parameters) - {"ds", "options", "notes"}
        return rows | {f.name for f in fields(ConvertOptions)}
    if qualname == TRAIN:  # a config's keys, as keywords: TrainConfig's and the algorithms'
        importlib.import_module("trlprep.trainers.algorithms")
        return set(_train_types())
    if qualname not in ("trlprep.api.convert", "trlprep.api.validate", REPORT):
        return set()
    from trlprep.conversion.callkeywords import IMPORT_OPTIONS

    if qualname != "trlprep.api.convert":
        return set(IMPORT_OPTIONS)
    from trlprep.converters.base import ConvertOptions

    return set(IMPORT_OPTIONS) | {f.name for f in fields(ConvertOptions)}
