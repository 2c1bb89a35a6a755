"""Load the shipped JSON Schemas (`trlprep.schemas` package data) and check row dicts with them.

The schemas are the documentation of record for one row of each type and format; checking
a dict with `jsonschema` is the slow fallback for single rows (`trlprep validate` checks
whole columns with Arrow instead).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from trlprep.errors import UsageError
from trlprep.registry import DatasetType, Format, get_format, get_type


def _resolve(dtype: str | DatasetType, fmt: str | Format) -> tuple[DatasetType, Format]:
    t, f = get_type(dtype), get_format(fmt)
    if not t.supports(f):
        raise UsageError(
            f"{t.name} has no {f.value} format",
            hint="use one of: " + ", ".join(x.value for x in t.all_formats),
        )
    return t, f


@cache
def _load(name: str) -> str:
    return files("trlprep.schemas").joinpath(name).read_text(encoding="utf-8")


def schema_for(dtype: str | DatasetType, fmt: str | Format = Format.STANDARD) -> dict[str, Any]:
    """The JSON Schema of one row of `dtype` (a name or alias) in `fmt`."""
    from trlprep.schemagen import schema_name

    t, f = _resolve(dtype, fmt)
    return json.loads(_load(schema_name(t, f)))


@cache
def _validator(type_name: str, fmt: Format):
    from jsonschema import Draft202012Validator

    schema = schema_for(type_name, fmt)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_row_with_schema(
    row: dict[str, Any], dtype: str | DatasetType, fmt: str | Format = Format.STANDARD
) -> list[str]:
    """The schema's complaints about one row dict (`path: message`); empty when it conforms."""
    t, f = _resolve(dtype, fmt)
    errors = sorted(_validator(t.name, f).iter_errors(row), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(row)'}: {e.message}" for e in errors]
