"""What the chat template rendered a run's data with (its template kwargs and tools), in the
words of train's log lines and messages: said where the data's route is logged, and where a
tokenised file's recorded render is compared with the run's."""

from __future__ import annotations

from typing import Any

from trlprep.trainers.convert_command import kwarg_text


def kwargs_text(template_kwargs: dict[str, Any] | None) -> str:
    """`enable_thinking=false, date_string=01 Jan 2025` (values as `--template-kwarg` reads
    them back), or `none`."""
    said = [f"{k}={kwarg_text(v)}" for k, v in (template_kwargs or {}).items()]
    return ", ".join(said) or "none"


def tool_names(tools: list | None) -> list[str]:
    """The names of tool schemas, wrapped (`{"type": "function", "function": {...}}`) or bare."""
    names = []
    for tool in tools or []:
        inner = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        names.append(str(inner.get("name") or "?"))
    return names


def tools_text(tools: list | None) -> str:
    """`2 tools (get_weather, search)`, or `no tools`."""
    names = tool_names(tools)
    if not names:
        return "no tools"
    return f"{len(names)} tool{'s' if len(names) != 1 else ''} ({', '.join(names)})"


def applied(template_kwargs: dict[str, Any] | None, tools: list | None) -> str:
    """`chat template applied`, with the template kwargs and the tools given for rows without
    their own where some were given."""
    with_ = []
    if template_kwargs:
        with_.append(f"template kwargs {kwargs_text(template_kwargs)}")
    if tools:
        with_.append(f"{tools_text(tools)} for rows without their own")
    return "chat template applied" + (" with " + " and ".join(with_) if with_ else "")


__all__ = ["applied", "kwargs_text", "tool_names", "tools_text"]
