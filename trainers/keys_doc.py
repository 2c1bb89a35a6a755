"""The config keys `trlprep.trainers.train` takes, one line each, for its docstring
(`help(train)`): the same options, with the same help lines, as `trlprep train --help` lists,
said as keywords."""

from __future__ import annotations

from dataclasses import fields

# lines said otherwise in Python than on the command line
_PYTHON_LINES = {
    "template_kwargs": "Mapping passed to the chat template ({'enable_thinking': False}), as "
    "convert's template_kwargs.",
    "tools": "Tool schemas (a list, or a JSON file's path) for every row without its own, as "
    "convert's tools.",
    "overwrite": "Train into a non-empty output_dir (the previous run's files are removed once "
    "data and model load).",
}


def train_keys() -> dict[str, list[str]]:
    """Keys by group: "common" (TrainConfig's, `overwrite`) and each algorithm's own."""
    from trlprep.trainers.algorithms import ALGORITHMS
    from trlprep.trainers.config import TrainConfig

    common = [f.name for f in fields(TrainConfig) if f.name != "options"] + ["overwrite"]
    keys = {"common": common}
    for name, algo in ALGORITHMS.items():
        keys[name] = [f.name for f in fields(algo.options)]
    return keys


def keys_help(func: object) -> str:
    """Every key `func` (train) takes with its help line, common keys first, then each
    algorithm's (a key several share is listed under the first)."""
    from trlprep.cli.train_help import help_for
    from trlprep.keywords.said import python_words

    lines = ["", "Keys (keyword arguments; `trlprep train --algo ALGO --help` lists the same):"]
    seen: set[str] = set()
    for group, names in train_keys().items():
        new = [n for n in names if n not in seen]
        if not new:
            continue
        seen |= set(new)
        if group != "common":
            lines.append(f"  {group}:")
        for name in new:
            said = _PYTHON_LINES.get(name) or python_words(help_for(name), func)
            lines.append(f"    {name}: {said}")
    return "\n".join(lines) + "\n"
