"""xLAM's tool descriptions -> the function schemas TRL and chat templates read.

xLAM / APIGen (Salesforce/xlam-function-calling-60k and sets made like it) describe a tool as
`{"name", "description", "parameters": {ARG: {"type", "description", "default"?}}}`: the
parameters are a dict of argument -> spec, not a JSON Schema object, and each type is
Python's spelling (`str`, `int`, `List[int]`, `str, optional`, `Optional[float]`). TRL's
`tools` (and transformers' templates) read OpenAI's schema: `{"type": "function",
"function": {"name", "description", "parameters": {"type": "object", "properties": {...},
"required": [...]}}}`. The mapping:

- types: `str` -> `string`, `int` -> `integer`, `float` -> `number`, `bool` -> `boolean`,
  `list` / `List[X]` / `Set[X]` / `Tuple[...]` -> `array` (with `items` from X, from a
  tuple's one repeated type), `dict` / `Dict[...]` -> `object`, `Union[A, B]` -> a list of
  types, `Any` -> no `type` (any value). Names are matched case-insensitively; a type
  trlprep cannot map (`Callable[[float], float]`, `datetime`) is left out of the property,
  which then takes any value, and said in a note. A `type` that is not text is kept as is.
- required: an argument is required unless its type says it is optional (`, optional`
  after the type, `Optional[X]`, a `Union` with `None`); a boolean `required` in the spec
  wins. A `default` does not make it optional: xLAM's REST tools (from ToolBench) give a
  default, an example value, to required and optional arguments alike (`"week": {"type":
  "str", "default": "2022-10-08"}` beside `"amount": {"type": "int, optional", "default":
  "2"}`), and mark the optional ones in the type; the default is kept as JSON Schema's
  `default`.
- the spec's other keys (`description`, `default`, `enum`, ...) are kept, in their order,
  the mapped type where `type` stood; the tool's other keys too (`description` ...).

A tool already in OpenAI's shape (`{"type": "function", "function": ...}`) or whose
`parameters` are a JSON Schema object (`"type": "object"` with `properties`) is kept as it
is (only wrapped as `{"type": "function", "function": ...}`).
"""

from __future__ import annotations

from typing import Any

_SCALARS = {
    "str": "string",
    "string": "string",
    "text": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "double": "number",
    "decimal": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "none": "null",
    "nonetype": "null",
    "null": "null",
}
_ARRAYS = {"list", "array", "tuple", "set", "frozenset", "sequence", "iterable"}
_OBJECTS = {"dict", "object", "mapping"}
_OPTIONAL = "optional"


def parse_type(text: str) -> tuple[dict[str, Any] | None, bool]:
    """(the JSON Schema keywords of xLAM type `text`, whether it says the argument is
    optional); the keywords are None for a type that cannot be mapped, {} for `Any`."""
    t = text.strip()
    optional = False
    head, comma, tail = t.rpartition(",")
    if comma and tail.strip().lower() == _OPTIONAL and _balanced(head):
        t, optional = head.strip(), True
    if t.lower() == _OPTIONAL:  # "optional" alone: of no type
        return {}, True
    schema, also = _schema(t)
    return schema, optional or also


def _schema(t: str) -> tuple[dict[str, Any] | None, bool]:
    name, args = _split(t)
    if name is None:
        return None, False
    key = name.lower()
    if key == _OPTIONAL and len(args) == 1:
        return _schema(args[0])[0], True
    if key == "union" and args:
        parts = [_schema(a)[0] for a in args]
        kinds = [p.get("type") for p in parts if p is not None]
        if len(kinds) != len(parts) or not all(isinstance(k, str) for k in kinds):
            return None, False
        nullable = "null" in kinds
        kinds = list(dict.fromkeys(k for k in kinds if k != "null"))
        if not kinds:
            return {"type": "null"}, False
        return {"type": kinds[0] if len(kinds) == 1 else kinds}, nullable
    if key == "any" and not args:
        return {}, False
    if key in _SCALARS and not args:
        return {"type": _SCALARS[key]}, False
    if key in _ARRAYS:
        out: dict[str, Any] = {"type": "array"}
        items = [_schema(a)[0] for a in args if a != "..."]
        if items and all(i is not None and i == items[0] for i in items):
            if items[0]:
                out["items"] = items[0]
        return out, False
    if key in _OBJECTS:
        return {"type": "object"}, False
    return None, False


def _split(t: str) -> tuple[str | None, list[str]]:
    """`Name[a, b]` -> ("Name", ["a", "b"]) at the top level; ("Name", []) without brackets;
    (None, []) for text that is no such name."""
    t = t.strip()
    if "[" not in t:
        return (t if t.replace("_", "").replace(".", "").isalnum() else None), []
    at = t.index("[")
    if not t.endswith("]") or not _balanced(t):
        return None, []
    name, inner = t[:at].strip(), t[at + 1 : -1]
    args, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    if inner.strip():
        args.append(inner[start:].strip())
    return (name or None), args


def _balanced(t: str) -> bool:
    depth = 0
    for ch in t:
        depth += ch == "["
        depth -= ch == "]"
        if depth < 0:
            return False
    return depth == 0


def function_schema(tool: Any) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """(`tool` as `{"type": "function", "function": ...}`, None) or (None, why not); the
    xLAM type texts left unmapped come third."""
    if not isinstance(tool, dict):
        return None, "is not an object", []
    if isinstance(tool.get("function"), dict):
        return tool, None, []  # OpenAI's shape already
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        return None, "has no name", []
    params = tool.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return None, f"{name!r}: parameters is not an object", []
    if params.get("type") == "object" and isinstance(params.get("properties", {}), dict):
        return {"type": "function", "function": tool}, None, []  # a JSON Schema already
    properties: dict[str, Any] = {}
    required: list[str] = []
    unmapped: list[str] = []
    for arg, spec in params.items():
        if not isinstance(spec, dict):
            return None, f"{name!r}: parameter {arg!r} is not an object", []
        prop, optional, lost = _property(spec)
        unmapped += lost
        properties[arg] = prop
        explicit = spec.get("required")
        needed = explicit if isinstance(explicit, bool) else not optional
        if needed:
            required.append(arg)
    schema = {"type": "object", "properties": properties, "required": required}
    fn = {k: (schema if k == "parameters" else v) for k, v in tool.items()}
    fn.setdefault("parameters", schema)
    return {"type": "function", "function": fn}, None, unmapped


def _property(spec: dict[str, Any]) -> tuple[dict[str, Any], bool, list[str]]:
    """One argument's spec as a JSON Schema property, whether it is optional, and its type
    text where it could not be mapped."""
    prop: dict[str, Any] = {}
    optional = False
    lost: list[str] = []
    for key, value in spec.items():
        if key == "required" and isinstance(value, bool):
            continue
        if key == "type" and isinstance(value, str):
            mapped, optional = parse_type(value)
            if mapped is None:
                lost.append(value)
            else:
                prop.update(mapped)
            continue
        prop[key] = value
    return prop, optional, lost


def tools_schemas(value: Any) -> tuple[list[Any] | None, str | None, list[str]]:
    """A row's xLAM tool list as function schemas: (schemas, None, unmapped type texts), or
    (None, why not, [])."""
    if not isinstance(value, list):
        return None, f"not a list of tools ({type(value).__name__})", []
    out, unmapped = [], []
    for i, tool in enumerate(value):
        schema, problem, lost = function_schema(tool)
        if problem is not None:
            return None, f"tool {i} {problem}", []
        out.append(schema)
        unmapped += lost
    return out, None, unmapped
