"""The string-column renderers equal the Jinja render wherever they are used."""

from __future__ import annotations

import collections
import hashlib

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from templates_support import TEMPLATES_DIR, examples, template_tokenizer

from trlprep.errors import DataError
from trlprep.io.readers import table_from_records
from trlprep.templates import load_template, render_table
from trlprep.templates.batch import TemplateReport
from trlprep.templates.fast import KNOWN, renderer_for

TYPES = [
    "language-modeling",
    "prompt-only",
    "prompt-completion",
    "preference",
    "preference-implicit",
    "unpaired-preference",
    "stepwise-supervision",
]


def both(table, type_name, template):
    """(fast table, fast report), (jinja table) — or the errors each raised."""
    try:
        fast = render_table(table, type_name, template, num_proc=1, fast=True)
    except DataError as e:
        fast = ("error", e.row, e.message)
    try:
        slow = render_table(table, type_name, template, num_proc=1, fast=False)
    except DataError as e:
        slow = ("error", e.row, e.message)
    return fast, slow


def assert_same(fast, slow):
    if isinstance(slow, tuple) and slow[0] == "error":
        assert fast == slow
        return
    assert fast[0].equals(slow[0])


FAST = ["chatml", "qwen2.5", "llama3"]


@pytest.mark.parametrize("name", FAST)
def test_corpus_fast_equals_jinja(name):
    template = load_template(name)
    by_type = collections.defaultdict(list)
    for _, type_name, example, tools in examples(seed=1):
        by_type[type_name].append({**example, "tools": tools})
    used = 0
    for type_name, rows in by_type.items():
        plain = [r for r in rows if r["tools"] is None and "chat_template_kwargs" not in r]
        for subset in (rows, plain):  # mixed batches fall back, plain ones go fast
            fast, slow = both(table_from_records(subset), type_name, template)
            assert_same(fast, slow)
            if not isinstance(fast, tuple) or fast[0] != "error":
                used += fast[1].fast_rows
    assert used > 0


@pytest.mark.parametrize(("stem", "name"), [("qwen2_5", "qwen2.5"), ("llama3", "llama3")])
def test_original_templates_are_recognised_and_equal_jinja(stem, name):
    path = TEMPLATES_DIR / f"{stem}.jinja"
    if not path.exists():
        pytest.skip("../shared is not available")
    text = path.read_text(encoding="utf-8")
    assert KNOWN[hashlib.sha256(text.encode()).hexdigest()] == name
    template = load_template(template_tokenizer(path))
    assert renderer_for(template.source) == name
    rows = [
        {
            "prompt": [{"role": "system", "content": " S "}, {"role": "user", "content": "Q\n"}],
            "chosen": [{"role": "assistant", "content": "\tgood "}],
            "rejected": [{"role": "assistant", "content": "bad"}],
        }
    ] * 3
    fast, slow = both(table_from_records(rows), "preference", template)
    assert fast[1].fast_rows == 3
    assert_same(fast, slow)


def test_llama3_needs_a_bos_token_and_python_whitespace_goes_to_jinja():
    rows = [{"messages": [{"role": "user", "content": "\u3000Q"}]}]
    fast, slow = both(table_from_records(rows), "language-modeling", load_template("llama3"))
    assert fast[1].fast_rows == 0
    assert_same(fast, slow)
    rows = [{"messages": [{"role": "user", "content": " Q "}]}]
    fast, slow = both(table_from_records(rows), "language-modeling", load_template("llama3"))
    assert fast[1].fast_rows == 1
    assert fast[0].column("text").to_pylist() == [
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
    ]
    no_bos = load_template("llama3").with_tokens(bos_token=None)
    assert renderer_for(no_bos.source) == "llama3"
    fast, slow = both(table_from_records(rows), "language-modeling", no_bos)
    assert not isinstance(fast[1], TemplateReport) or fast[1].fast_rows == 0
    assert_same(fast, slow)


def test_other_templates_never_go_fast():
    assert renderer_for(load_template("phi3").source) is None
    assert renderer_for(load_template("chatml").source + " ") is None


TEXT = st.text(alphabet=st.sampled_from(list("ab \n<|>é日\t\x1f\xa0\u3000\r")), max_size=8)
ROLE = st.sampled_from(["system", "user", "assistant"])
MESSAGES = st.lists(st.fixed_dictionaries({"role": ROLE, "content": TEXT}), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(FAST),
    type_name=st.sampled_from(TYPES),
    rows=st.lists(st.tuples(MESSAGES, MESSAGES, MESSAGES), min_size=1, max_size=5),
)
def test_random_conversations_fast_equals_jinja(name, type_name, rows):
    data = []
    for a, b, c in rows:
        data.append(
            {
                "messages": a + b,
                "prompt": a,
                "completion": b,
                "chosen": b,
                "rejected": c,
                "label": True,
                "completions": ["x"],
                "labels": [True],
            }
        )
    from trlprep.registry import Format, get_type

    cols = get_type(type_name).column_names(Format.CONVERSATIONAL)
    table = pa.Table.from_pylist([{k: r[k] for k in cols} for r in data])
    fast, slow = both(table, type_name, load_template(name))
    assert_same(fast, slow)
