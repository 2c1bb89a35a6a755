"""The JSON Schemas: generate `schemas/*.json`, one JSON Schema (draft 2020-12) per dataset
type and format, and load the shipped ones to check row dicts.

Each schema describes one row. It is built from `trlprep.registry`, so the committed files
never drift from the dataset model (a test compares them). Regenerate with

    python -m trlprep.validation.schemas          # write schemas/*.json
    python -m trlprep.validation.schemas --check  # exit 1 if the committed files are stale

The schemas are the documentation of record for one row of each type and format; checking
a dict with `jsonschema` (`validate_row_with_schema`) is the slow fallback for single rows
(`trlprep validate` checks whole columns with Arrow instead).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from trlprep.errors import UsageError
from trlprep.registry import (
    MESSAGE_FIELD_TYPES,
    PART_TYPES,
    TYPES,
    DatasetType,
    Format,
    Kind,
    get_format,
    get_type,
)
from trlprep.validation.rules import ALLOWED_ROLES, BEYOND_SCHEMA

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://trlprep.dev/schemas/"


def schema_name(dtype: DatasetType, fmt: Format) -> str:
    """File name of a schema, e.g. `preference.conversational.json`."""
    return f"{dtype.name}.{fmt.value}.json"


def _nullable(kind: str) -> list[str]:
    return [kind, "null"]


def _defs() -> dict[str, Any]:
    msg_fields: dict[str, Any] = {}
    for name, kind in MESSAGE_FIELD_TYPES.items():
        if kind == "array":
            msg_fields[name] = {"type": _nullable("array"), "items": {"type": "object"}}
        else:
            msg_fields[name] = {"type": _nullable(kind)}
    return {
        "part": {
            "description": "One piece of list-of-parts content: text, an image, a video or audio.",
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": list(PART_TYPES)},
                "text": {"type": _nullable("string")},
            },
            "if": {"properties": {"type": {"const": "text"}}},
            "then": {
                "required": ["text"],
                "properties": {"text": {"type": "string", "minLength": 1}},
            },
        },
        "message": {
            "description": "A chat message: a role and content (or tool_calls); other keys "
            "are carried along.",
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"enum": list(ALLOWED_ROLES)},
                "content": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"$ref": "#/$defs/part"}},
                        {"type": "null"},
                    ]
                },
                **msg_fields,
            },
            "anyOf": [
                {
                    "required": ["content"],
                    "properties": {
                        "content": {
                            "anyOf": [
                                {"type": "string", "minLength": 1},
                                {"type": "array", "minItems": 1},
                            ]
                        }
                    },
                },
                {
                    "required": ["tool_calls"],
                    "properties": {"tool_calls": {"type": "array", "minItems": 1}},
                },
            ],
        },
        "later_message": {
            "description": "A message after the first: anything but a system message.",
            "allOf": [
                {"$ref": "#/$defs/message"},
                {"properties": {"role": {"not": {"const": "system"}}}},
            ],
        },
        "messages": {
            "description": "A non-empty conversation; a system message may only come first.",
            "type": "array",
            "minItems": 1,
            "prefixItems": [{"$ref": "#/$defs/message"}],
            "items": {"$ref": "#/$defs/later_message"},
        },
        "reply": {
            "description": "A completion: messages starting with an assistant turn.",
            "type": "array",
            "minItems": 1,
            "prefixItems": [
                {
                    "allOf": [
                        {"$ref": "#/$defs/message"},
                        {"required": ["role"], "properties": {"role": {"const": "assistant"}}},
                    ]
                }
            ],
            "items": {"$ref": "#/$defs/later_message"},
        },
        "text": {"type": "string", "minLength": 1},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "parameters": {"type": _nullable("object")},
            },
        },
        "tool": {
            "description": 'A function schema: {"type": "function", "function": {...}} or '
            "the bare function object.",
            "anyOf": [
                {
                    "type": "object",
                    "required": ["function"],
                    "properties": {
                        "type": {"enum": ["function", None]},
                        "function": {"$ref": "#/$defs/function"},
                    },
                },
                {"$ref": "#/$defs/function"},
            ],
        },
    }


_SIDE: dict[str, Any] = {
    "tools": {
        "description": "Function schemas offered to the model, as a list or its JSON text.",
        "anyOf": [
            {"type": "array", "items": {"$ref": "#/$defs/tool"}},
            {"type": "string", "contentMediaType": "application/json"},
            {"type": "null"},
        ],
    },
    "chat_template_kwargs": {
        "description": "Extra keyword arguments for the chat template (object or JSON text).",
        "type": ["object", "string", "null"],
    },
    "images": {"description": "The row's images, in placeholder order.", "type": ["array", "null"]},
    "image": {
        "description": "The row's single image (Qwen-VL: or a list of them; MiniCPM-V: or an "
        "object of named images)."
    },
    "video": {"description": "The row's video (Qwen-VL: or a list of them), read as videos."},
    "videos": {
        "description": "The row's videos, in the order of their placeholders and video parts.",
        "type": ["array", "null"],
    },
    "audios": {
        "description": "The row's audio clips, in the order of their placeholders and audio parts.",
        "type": ["array", "null"],
    },
    "margin": {
        "description": "Reward margin between chosen and rejected.",
        "type": ["number", "null"],
    },
}


def _column_schema(kind: Kind, role: str, fmt: Format, explicit: bool) -> dict[str, Any]:
    if kind is Kind.CONTENT:
        if fmt is Format.STANDARD:
            return {"$ref": "#/$defs/text"}
        if explicit and role in ("completion", "chosen", "rejected"):
            return {"$ref": "#/$defs/reply"}
        return {"$ref": "#/$defs/messages"}
    if kind is Kind.STEPS:
        return {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/text"}}
    if kind is Kind.LABEL:
        return {"type": "boolean"}
    if kind is Kind.LABELS:
        return {"type": "array", "minItems": 1, "items": {"type": "boolean"}}
    if kind is Kind.TOKENS:
        return {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}
    if kind is Kind.MASK:
        return {"type": _nullable("array"), "items": {"enum": [0, 1]}}
    raise ValueError(kind)  # pragma: no cover - every Kind is handled above


def build_schema(dtype: DatasetType, fmt: Format) -> dict[str, Any]:
    """The JSON Schema of one row of `dtype` in `fmt`."""
    cols = dtype.columns_in(fmt)
    explicit = any(c.role == "prompt" for c in cols)
    properties = {c.name_in(fmt): _column_schema(c.kind, c.role, fmt, explicit) for c in cols}
    for name, sub in _SIDE.items():
        properties.setdefault(name, sub)
    note = (
        ""
        if fmt is not Format.CONVERSATIONAL or dtype.name != "stepwise-supervision"
        else (
            " A conversational prompt is accepted beyond the TRL guide, which defines stepwise "
            "supervision in standard format only."
        )
    )
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": BASE_ID + schema_name(dtype, fmt),
        "title": f"{dtype.title} ({fmt.value})",
        "description": dtype.description + note,
        "$comment": "One row. Checked by `trlprep validate` but beyond JSON Schema: "
        + "; ".join(BEYOND_SCHEMA)
        + ".",
        "type": "object",
        "required": list(dtype.column_names(fmt)),
        "properties": properties,
        "additionalProperties": True,
    }
    if fmt is not Format.STANDARD or any(c.kind is not Kind.CONTENT for c in cols):
        schema["$defs"] = _defs()
    else:
        schema["$defs"] = {k: v for k, v in _defs().items() if k in ("text", "function", "tool")}
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema, keyed by file name."""
    return {schema_name(t, f): build_schema(t, f) for t in TYPES.values() for f in t.all_formats}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def schemas_dir() -> Path:
    return Path(str(files("trlprep.schemas")))


# ---------------------------------------------------------------- loading


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trlprep.validation.schemas", description=__doc__)
    ap.add_argument("--check", action="store_true", help="fail if committed files are stale")
    ap.add_argument("--out", type=Path, default=None, help="folder (default: trlprep.schemas)")
    args = ap.parse_args(argv)
    out = args.out or schemas_dir()
    want = {name: dumps(s) for name, s in all_schemas().items()}
    have = {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.json")}
    stale = sorted(n for n in want.keys() | have.keys() if want.get(n) != have.get(n))
    if args.check:
        for n in stale:
            print(f"stale: {out / n}", file=sys.stderr)
        return 1 if stale else 0
    for n in have.keys() - want.keys():
        (out / n).unlink()
    for n, text in want.items():
        if have.get(n) != text:
            (out / n).write_text(text, encoding="utf-8")
    print(f"wrote {len(want)} schemas to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
