"""The `trlprep convert` command that reads, converts, renders and tokenises a run's data as
the run did (its import, type, chat template, kwargs and cut): named in notes about rows
that command refuses too, so the user can list them."""

from __future__ import annotations

import os
import shlex
from typing import Any

from trlprep.conversion.unread import flag


def convert_command(
    data: Any,
    tokenizer: Any,
    *,
    to: str | None,
    max_length: int | None,
    truncation: str = "keep_start",
    chat_template: Any = None,
    template_kwargs: dict[str, Any] | None = None,
    tools: Any = None,
    data_layout: str | None = None,
    column_map: Any = None,
    import_options: dict[str, Any] | None = None,
    split: str | None = None,
) -> str:
    """`trlprep convert DATA ... --tokenize --tokenizer MODEL --max-length N -o OUT` for
    `data` (DATA unless a path) and the run's options; `to`: the type the run converted the
    data to (None: it trained on the data's own type); `tools`: the tools file (a list of
    schemas is named `TOOLS.json`, the file to write them to)."""
    path = os.fspath(data) if isinstance(data, (str, os.PathLike)) else None
    args = ["trlprep convert", shlex.quote(path) if path else "DATA"]
    if data_layout:
        args += ["--from", data_layout]
    if column_map:
        args += ["--map", shlex.quote(_pairs(column_map))]
    for name, value in (import_options or {}).items():
        if value is True:
            args.append(flag(name))
        elif value not in (None, False):
            args += [flag(name), shlex.quote(_pairs(value))]
    if split:
        args += ["--split", shlex.quote(split)]
    if to:
        args += ["--to", to]
    model = getattr(tokenizer, "name_or_path", "") or "MODEL"
    args += ["--tokenize", "--tokenizer", shlex.quote(model)]
    if isinstance(chat_template, (str, os.PathLike)):
        args += ["--chat-template", shlex.quote(os.fspath(chat_template))]
    for key, value in (template_kwargs or {}).items():
        args += ["--template-kwarg", shlex.quote(f"{key}={kwarg_text(value)}")]
    if tools:
        file = os.fspath(tools) if isinstance(tools, (str, os.PathLike)) else "TOOLS.json"
        args += ["--tools", shlex.quote(file)]
    if max_length:
        args += ["--max-length", str(max_length)]
        if truncation != "keep_start":
            args += ["--truncation", truncation]
    return " ".join([*args, "-o", "OUT"])


def _pairs(value: Any) -> str:
    """A mapping option as its flag takes it (`a=b,c=d`); anything else as it is."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def kwarg_text(value: Any) -> str:
    """A template kwarg's value as `--template-kwarg` reads it back (JSON literals)."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


__all__ = ["convert_command", "kwarg_text"]
