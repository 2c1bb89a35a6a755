"""Parse the template options the CLI takes: `--template-kwarg key=value` and `--tools FILE`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from trlprep.errors import InputError, UsageError

_SAID: ContextVar[bool] = ContextVar("trlprep_tools_said", default=False)


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


def load_tools(path: str | None, warn: bool = True) -> list[dict[str, Any]] | None:
    """Tool schemas from a JSON file holding a list of JSON schemas (or one schema); with
    `warn`, a schema that contradicts itself is warned of (`warn_contradictions`)."""
    if not path:
        return None
    from trlprep.io.remote import refuse_uri

    refuse_uri(path, "--tools file", local_only=True)
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
    if warn:
        warn_contradictions(tools, path)
    return tools


def warn_contradictions(tools: list[dict[str, Any]], where: str) -> None:
    """Warn of each tool schema of `tools` (from `where`: a file, `tools=`) that contradicts
    itself, as `trlprep validate` names it in a row's `tools` (`required-not-property`);
    nothing inside `tools_said`."""
    if _SAID.get():
        return
    from trlprep.errors import TrlprepWarning, warn_user
    from trlprep.validation.checks.toolschemas import RULE, schema_contradictions

    for said in schema_contradictions(tools):
        warn_user(
            f"{where}: {said}: the schema contradicts itself (it requires an argument it never "
            "defines, and a model trained with it learns both); add the property to its "
            f"`properties`, or take it out of `required` (rule {RULE})",
            TrlprepWarning,
        )


@contextmanager
def tools_said() -> Iterator[None]:
    """Inside: the tools' contradictions are not warned of again (a run that said them once,
    as it first read its tools, then hands them on: `trlprep train`)."""
    token = _SAID.set(True)
    try:
        yield
    finally:
        _SAID.reset(token)
