"""Property: the vectorised validator and the JSON Schemas agree on which rows are invalid.

Rows are generated valid for a (type, format) and then, most of the time, broken by one
mutation the schemas can express. Rules beyond JSON Schema (listed in `trlprep.validation.rules`:
prompt endings, step/label counts, image counts, mask length, tools/kwargs given as JSON
text, and values whose nested structure Arrow cannot unify across rows) never fire on the
generated valid rows, so the two verdicts must be equal.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trlprep.columns.arrowtypes import is_json_field
from trlprep.io.readers import table_from_records
from trlprep.registry import TYPES, Format
from trlprep.validation.rules import Severity
from trlprep.validation.schemas import validate_row_with_schema
from trlprep.validation.validate import validate_table

PAIRS = [(t.name, f.value) for t in TYPES.values() for f in t.all_formats]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
TOOL_CALL = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
BARE_TOOL = {"name": "search", "parameters": {"type": "object"}}


# ---------------------------------------------------------------- valid rows


@st.composite
def part(draw, images: bool):
    if images and draw(st.booleans()):
        return {"type": "image"}
    return {"type": "text", "text": draw(text)}


@st.composite
def message(draw, role: str, images: bool = False):
    m = {"role": role}
    kind = draw(st.sampled_from(["string", "parts", "calls"]))
    if kind == "string":
        m["content"] = draw(text)
    elif kind == "parts":
        m["content"] = draw(st.lists(part(images), min_size=1, max_size=3))
    else:
        m["content"] = draw(st.sampled_from([None, ""]))
        m["tool_calls"] = [TOOL_CALL]
    for key in ("name", "thinking", "reasoning_content"):
        if draw(st.integers(0, 5)) == 0:
            m[key] = draw(st.one_of(st.none(), text))
    if draw(st.integers(0, 5)) == 0:
        m["weight"] = draw(st.sampled_from([0.0, 1.0]))
    return m


OTHER_ROLES = ["user", "assistant", "tool", "developer"]


@st.composite
def conversation(draw, kind: str, images: bool = False):
    """kind: prompt (ends on user/tool/assistant), reply (starts on assistant), any."""
    n = draw(st.integers(1, 3))
    roles = [draw(st.sampled_from(["system", *OTHER_ROLES]))] + [
        draw(st.sampled_from(OTHER_ROLES)) for _ in range(n - 1)
    ]
    if kind == "reply":
        roles[0] = "assistant"
    if kind == "prompt" and roles[-1] in ("system", "developer"):
        roles.append("user")
    return [draw(message(r, images)) for r in roles]


def _images_in(messages) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if p.get("type") == "image"
    )


@st.composite
def valid_row(draw, type_name: str, fmt: str):
    t = TYPES[type_name]
    f = Format(fmt)
    row = {}
    explicit = any(c.role == "prompt" for c in t.columns_in(f))
    image_source = "prompt" if explicit else t.columns_in(f)[0].name_in(f)
    vision = f is Format.CONVERSATIONAL and type_name != "preference-implicit"
    for c in t.columns_in(f):
        name = c.name_in(f)
        if c.kind.value == "content":
            if f is Format.STANDARD:
                row[name] = draw(text)
            else:
                kind = "prompt" if c.role == "prompt" else "reply" if explicit else "any"
                row[name] = draw(conversation(kind, images=vision and name == image_source))
        elif c.kind.value == "label":
            row[name] = draw(st.booleans())
        elif c.kind.value == "tokens":
            row[name] = draw(st.lists(st.integers(0, 1000), min_size=1, max_size=5))
        elif c.kind.value == "mask":
            if draw(st.booleans()):
                row[name] = [draw(st.sampled_from([0, 1])) for _ in row["input_ids"]]
    if "completions" in {c.name for c in t.columns}:
        steps = draw(st.lists(text, min_size=1, max_size=4))
        row["completions"] = steps
        row["labels"] = [draw(st.booleans()) for _ in steps]
    if vision:
        n = _images_in(row[image_source])
        if n or draw(st.booleans()):
            row["images"] = [f"img{i}.png" for i in range(n)]
    if draw(st.booleans()):
        tools = draw(st.lists(st.sampled_from([TOOL, BARE_TOOL]), max_size=2))
        row["tools"] = json.dumps(tools) if draw(st.booleans()) else tools
    if draw(st.integers(0, 3)) == 0:
        row["margin"] = draw(st.floats(-5, 5, allow_nan=False))
    if draw(st.integers(0, 3)) == 0:
        row["chat_template_kwargs"] = {"enable_thinking": draw(st.booleans())}
    if draw(st.integers(0, 3)) == 0:
        row["source"] = draw(text)
    return row


# ---------------------------------------------------------------- mutations


def _messages_of(row):
    return [
        (k, v)
        for k, v in row.items()
        if isinstance(v, list) and v and isinstance(v[0], dict) and "role" in v[0]
    ]


def _string_content_messages(row):
    return [
        m
        for _, msgs in _messages_of(row)
        for m in msgs
        if isinstance(m.get("content"), str) and not m.get("tool_calls")
    ]


def mutations(type_name: str, fmt: str, row: dict) -> list:
    t = TYPES[type_name]
    f = Format(fmt)
    required = list(t.column_names(f))
    out = []
    for name in required:
        out.append(lambda r, n=name: r.pop(n))
        out.append(lambda r, n=name: r.update({n: None}))
        out.append(lambda r, n=name: r.update({n: 5}))
    content_cols = t.content_columns(f)
    for name in content_cols:
        if f is Format.STANDARD:
            out.append(lambda r, n=name: r.update({n: ""}))
            out.append(lambda r, n=name: r.update({n: [{"role": "user", "content": "x"}]}))
        else:
            out.append(lambda r, n=name: r.update({n: []}))
            out.append(lambda r, n=name: r.update({n: "plain text"}))
            out.append(lambda r, n=name: r[n][0].update({"role": "human"}))
            out.append(lambda r, n=name: r[n][0].pop("role"))
            out.append(lambda r, n=name: r[n].insert(1, {"role": "system", "content": "s"}))
            out.append(lambda r, n=name: r[n].append(None))
            out.append(lambda r, n=name: r[n][0].update({"content": 5, "tool_calls": None}))
            out.append(lambda r, n=name: r[n][0].update({"content": ["a"], "tool_calls": None}))
            out.append(lambda r, n=name: r[n][0].update({"content": None, "tool_calls": None}))
            out.append(
                lambda r, n=name: r[n][0].update(
                    {"content": [{"type": "bogus"}], "tool_calls": None}
                )
            )
            out.append(
                lambda r, n=name: r[n][0].update(
                    {"content": [{"type": "text"}], "tool_calls": None}
                )
            )
            out.append(lambda r, n=name: r[n][0].update({"name": 7}))
            out.append(lambda r, n=name: r[n][0].update({"tool_calls": "call f", "content": "x"}))
    explicit = "prompt" in content_cols
    if f is Format.CONVERSATIONAL and explicit:
        for name in content_cols:
            if name != "prompt":
                out.append(lambda r, n=name: r[n][0].update({"role": "user"}))
    if _string_content_messages(row):
        out.append(lambda r: _string_content_messages(r)[0].update({"content": ""}))
    if "label" in row:
        out.append(lambda r: r.update({"label": 1}))
        out.append(lambda r: r.update({"label": "true"}))
    if "completions" in row:
        out.append(lambda r: r.update({"labels": [1] * len(r["completions"])}))
        out.append(lambda r: r.update({"completions": [], "labels": []}))
        out.append(lambda r: r["completions"].__setitem__(0, ""))
        out.append(lambda r: r["completions"].__setitem__(0, None))
        out.append(lambda r: r["labels"].__setitem__(0, None))
    if "input_ids" in row:
        out.append(lambda r: r.update({"input_ids": [], "attention_mask": None}))
        out.append(lambda r: r["input_ids"].__setitem__(0, -1))
        if "attention_mask" in row:
            out.append(lambda r: r["attention_mask"].__setitem__(0, 2))
    out.append(lambda r: r.update({"tools": [{"type": "function"}]}))
    out.append(lambda r: r.update({"tools": [{"name": ""}]}))
    out.append(lambda r: r.update({"margin": "wide"}))
    out.append(lambda r: r.update({"images": "img.png"}))
    return out


@st.composite
def case(draw, type_name: str, fmt: str):
    """(row, mutated?) for one (type, format)."""
    row = draw(valid_row(type_name, fmt))
    if draw(st.integers(0, 3)) == 0:
        return row, False
    ops = mutations(type_name, fmt, row)
    op = draw(st.sampled_from(ops))
    op(row)
    return row, True


def _vectorised_errors(rows, type_name, fmt):
    table = table_from_records(rows)
    report = validate_table(table, type=type_name, format=fmt)
    mixed = any(is_json_field(f) for f in table.schema)
    return [i for i in report.issues if i.severity is Severity.ERROR], mixed


@st.composite
def pair_and_case(draw):
    t, f = draw(st.sampled_from(PAIRS))
    row, mutated = draw(case(t, f))
    return t, f, row, mutated


@st.composite
def pair_and_rows(draw):
    t, f = draw(st.sampled_from(PAIRS))
    cases = draw(st.lists(case(t, f), min_size=2, max_size=4))
    return t, f, [r for r, _ in cases]


@SETTINGS
@given(pair_and_case())
def test_one_row_same_verdict(data):
    type_name, fmt, row, mutated = data
    assume(row)  # a row without any key makes a table without columns (and rows)
    schema_errors = validate_row_with_schema(row, type_name, fmt)
    # the generator is right about which rows are valid (so the test is not vacuous)
    assert bool(schema_errors) == mutated, (row, schema_errors)
    errors, _ = _vectorised_errors([row], type_name, fmt)
    assert bool(errors) == bool(schema_errors), (row, schema_errors, errors)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair_and_rows())
def test_dataset_same_verdict(data):
    type_name, fmt, rows = data
    assume(any(rows))  # rows without any key make a table without columns (and rows)
    schema_bad = [bool(validate_row_with_schema(r, type_name, fmt)) for r in rows]
    errors, mixed = _vectorised_errors(rows, type_name, fmt)
    assert bool(errors) == any(schema_bad), (rows, schema_bad, errors)
    # unless a column's rows disagree in Arrow type (then a value can taint its column),
    # the errors name exactly the rows the schema rejects
    if not mixed and not any(i.rule == "missing-column" for i in errors):
        flagged = {r for i in errors for r in i.rows}
        assert flagged == {k for k, bad in enumerate(schema_bad) if bad}, (rows, errors)
