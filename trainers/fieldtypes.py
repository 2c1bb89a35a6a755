"""Option values checked and coerced to the types their dataclass fields declare, as the
command line's flags are: YAML 1.1 reads `5e-7` as text and a Python dict may hold `"2"`, so
numbers given as numeric text become numbers; a value of the wrong type is a UsageError
naming the option, the value and the type it takes (before any data or model is loaded)."""

from __future__ import annotations

import math
import os
from dataclasses import fields
from typing import Any

from trlprep.errors import UsageError

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
    "dict": "a mapping of option: value",
    "list": "a list",
}


class _NoMatch(Exception):
    pass


def coerce_fields(obj: Any) -> None:
    """Each field of the dataclass instance `obj` coerced in place to its annotation."""
    for f in fields(obj):
        setattr(obj, f.name, coerce(f.name, getattr(obj, f.name), str(f.type)))


def coerce_values(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """`values` (field name -> value) for the dataclass `cls`, coerced to its annotations;
    names that are not fields are left as they are."""
    types = {f.name: str(f.type) for f in fields(cls)}
    return {k: coerce(k, v, types[k]) if k in types else v for k, v in values.items()}


def coerce(name: str, value: Any, annotation: str) -> Any:
    """`value` as the type `annotation` names (`int`, `float | None`, `tuple[str, ...]`,
    ...); raises a UsageError naming `name` when it cannot be one."""
    kinds = [k.strip() for k in annotation.replace(" ", "").split("|")]
    if "Any" in kinds:
        return value
    if value is None or (
        "None" in kinds and isinstance(value, str) and value.strip().lower() in ("none", "null")
    ):
        if "None" in kinds:
            return None
        _refuse(name, value, kinds)
    for exact in (True, False):  # a value already of a declared type wins over conversions
        for kind in kinds:
            try:
                return _as(kind, value, exact, name)
            except _NoMatch:
                continue
    _refuse(name, value, kinds)


def _as(kind: str, value: Any, exact: bool, name: str) -> Any:
    base = kind.split("[", 1)[0]
    if base == "bool":
        if isinstance(value, bool):
            return value
        if not exact and isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
    elif base == "int" and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if not exact:
            number = _number(value)
            if number is not None and math.isfinite(number) and number == int(number):
                return int(number)
    elif base == "float" and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value)
        if not exact and (number := _number(value)) is not None:
            return number
    elif base == "str":
        if isinstance(value, str):
            return value
        if not exact and isinstance(value, os.PathLike):
            return os.fspath(value)
    elif base == "dict" and isinstance(value, dict):
        return value
    elif base == "list" and isinstance(value, (list, tuple)):
        return list(value)
    elif base == "tuple":
        if kind.startswith("tuple[float"):  # a number, comma-separated text or a list of either
            items = value if isinstance(value, (list, tuple)) else [value]
            parts = [x for v in items for x in (v.split(",") if isinstance(v, str) else [v])]
            numbers = tuple(_number(x) if isinstance(x, str) else x for x in parts)
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in numbers):
                return tuple(float(x) for x in numbers)
            raise UsageError(
                f"option {name} takes numbers (a list, or comma-separated text), not {value!r}"
            )
        return value  # names, or callables (reward functions): the field makes its tuple
    raise _NoMatch


def _number(value: Any) -> float | None:
    """A float from a float or numeric text (`"5e-7"`, `"1_000"`); None otherwise."""
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _refuse(name: str, value: Any, kinds: list[str]) -> None:
    wanted = [_EXPECTED.get(k.split("[", 1)[0], k) for k in kinds if k != "None"]
    if "None" in kinds:
        wanted.append("none")
    raise UsageError(
        f"option {name} takes {' or '.join(wanted)}, not {value!r} ({type(value).__name__})"
    )
