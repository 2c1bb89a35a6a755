"""Parse the template options the CLI takes: `--template-kwarg key=value` and `--tools FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trlprep.errors import InputError, UsageError


def parse_template_kwargs(items: list[str] | None) -> dict[str, Any]:
    """`key=value` pairs; a value that parses as JSON (`false`, `3`, `[..]`) is that value."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(
                f"--template-kwarg {item!r} is not key=value",
                hint="e.g. --template-kwarg enable_thinking=false "
                "--template-kwarg eos_token='</s>'",
            )
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def load_tools(path: str | None) -> list[dict[str, Any]] | None:
    """Tool schemas from a JSON file holding a list of JSON schemas (or one schema)."""
    if not path:
        return None
    try:
        tools = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such tools file") from None
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read the tools: {e}") from None
    if isinstance(tools, dict):
        tools = [tools]
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise InputError(
            f"{path}: tools must be a JSON list of tool schemas",
            hint='e.g. [{"type": "function", "function": {"name": ..., "parameters": ...}}]',
        )
    return tools
