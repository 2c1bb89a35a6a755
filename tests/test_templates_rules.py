"""Per-type templating rules, the table renderer and the dataset-level API (no ../shared needed)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trlprep.errors import DataError, RowFailures, UsageError
from trlprep.io.readers import table_from_records
from trlprep.templates import (
    ChatTemplate,
    apply_chat_template,
    apply_chat_template_with_report,
    load_template,
    maybe_apply_chat_template,
    plan_for,
    render_table,
)
from trlprep.templates import table as table_mod
from trlprep.templates.batch import Job

# A template whose generation prompt opens a <think> block that full renders do not have.
THINK = ChatTemplate(
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
    "{% if add_generation_prompt %}<assistant><think>{% endif %}",
    name="think",
)
TOOLS_ECHO = ChatTemplate(
    "{% if tools %}[{% for t in tools %}{{ t.function.name }};{% endfor %}]{% endif %}"
    "{% if flavour is defined %}({{ flavour }}){% endif %}"
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}",
    name="echo",
)


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def tool(name):
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


# ---------------------------------------------------------------- per-type rules


def test_plans_come_from_the_registry():
    assert plan_for("lm").wholes == ("messages",) and plan_for("lm").out_names == {
        "messages": "text"
    }
    assert plan_for("preference").prompt == "prompt"
    assert plan_for("preference").continuations == ("chosen", "rejected")
    assert plan_for("implicit").wholes == ("chosen", "rejected")
    assert plan_for("stepwise").continuations == ()  # steps stay text
    assert plan_for("unpaired").continuations == ("completion",)


def test_every_type_with_chatml():
    t = load_template("chatml")
    p = [user("Q")]
    r = "<|im_start|>user\nQ<|im_end|>\n"
    gen = r + "<|im_start|>assistant\n"
    ans = "<|im_start|>assistant\nA<|im_end|>\n"
    assert apply_chat_template({"messages": p + [assistant("A")]}, t) == {"text": r + ans}
    assert apply_chat_template({"prompt": p}, t) == {"prompt": gen}
    assert apply_chat_template({"prompt": p, "completion": [assistant("A")]}, t) == {
        "prompt": gen,
        "completion": "A<|im_end|>\n",
    }
    pref = {"prompt": p, "chosen": [assistant("A")], "rejected": [assistant("B")]}
    assert apply_chat_template(pref, t) == {
        "prompt": gen,
        "chosen": "A<|im_end|>\n",
        "rejected": "B<|im_end|>\n",
    }
    implicit = {"chosen": p + [assistant("A")], "rejected": p + [assistant("B")]}
    assert apply_chat_template(implicit, t)["chosen"] == r + ans
    unpaired = {"prompt": p, "completion": [assistant("A")], "label": False}
    assert apply_chat_template(unpaired, t) == {
        "prompt": gen,
        "completion": "A<|im_end|>\n",
        "label": False,
    }
    step = {"prompt": p, "completions": ["s1", "s2"], "labels": [True, False]}
    assert apply_chat_template(step, t) == {
        "prompt": gen,
        "completions": ["s1", "s2"],
        "labels": [True, False],
    }


def test_prompt_ending_with_assistant_is_continued():
    t = load_template("chatml")
    out = apply_chat_template({"prompt": [user("Q"), assistant("Sure, ")]}, t)
    assert out == {"prompt": "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nSure, "}


def test_prompt_ending_with_a_tool_turn_gets_the_generation_prompt():
    t = load_template("qwen2.5")
    prompt = [user("Q"), {"role": "tool", "content": "42"}]
    assert apply_chat_template({"prompt": prompt}, t)["prompt"].endswith("<|im_start|>assistant\n")


def test_prompt_ending_with_system_is_an_error():
    with pytest.raises(DataError) as info:
        apply_chat_template({"prompt": [{"role": "system", "content": "S"}]}, "chatml")
    assert info.value.column == "prompt"
    assert "'system'" in info.value.message


def test_prompt_not_a_prefix_uses_the_common_prefix():
    out = apply_chat_template({"prompt": [user("Q")], "completion": [assistant("A")]}, THINK)
    assert out == {"prompt": "<user>Q</user><assistant>", "completion": "A</assistant>"}


def test_unknown_keys_are_a_usage_error():
    with pytest.raises(UsageError, match="cannot tell the dataset type"):
        apply_chat_template({"question": [user("Q")]}, "chatml")


def test_maybe_apply_leaves_standard_data_alone():
    example = {"prompt": "The sky is", "completion": " blue."}
    assert maybe_apply_chat_template(example, "chatml") is example
    table = pa.table({"prompt": ["a"], "completion": ["b"]})
    assert maybe_apply_chat_template(table, "chatml") is table
    conv = {"prompt": [user("Q")]}
    assert maybe_apply_chat_template(conv, "chatml")["prompt"].startswith("<|im_start|>user")


def test_tools_and_kwargs_reach_the_template():
    ex = {"prompt": [user("Q")]}
    assert apply_chat_template(ex, TOOLS_ECHO, tools=[tool("f")], flavour="x")["prompt"] == (
        "[f;](x)<user>Q<assistant>"
    )
    row = {**ex, "tools": json.dumps([tool("g")]), "chat_template_kwargs": {"flavour": "y"}}
    assert apply_chat_template(row, TOOLS_ECHO, tools=[tool("f")], flavour="x")["prompt"] == (
        "[g;](y)<user>Q<assistant>"
    )


# ---------------------------------------------------------------- tables


def pref_rows(n, distinct=3):
    return [
        {
            "id": i,
            "prompt": [user(f"Q{i % distinct}")],
            "chosen": [assistant(f"good {i}")],
            "rejected": [assistant(f"bad {i}")],
        }
        for i in range(n)
    ]


def test_table_output_matches_single_examples_and_reuses_prompts():
    t = load_template("qwen2.5")
    rows = pref_rows(10)
    out, report = render_table(table_from_records(rows), "preference", t, num_proc=1, fast=False)
    assert out.column_names == ["id", "prompt", "chosen", "rejected"]
    assert out.schema.field("prompt").type == pa.string()
    for got, row in zip(out.to_pylist(), rows, strict=True):
        want = apply_chat_template({k: row[k] for k in ("prompt", "chosen", "rejected")}, t)
        assert got == {"id": row["id"], **want}
    assert report.rows == 10
    assert report.distinct_prompts == 3
    assert report.renders == 3 + 2 * 10
    assert report.prefix_mismatch_rows == 0


@pytest.mark.parametrize("num_proc", [1, 2])
def test_prompts_are_rendered_once_across_batches(monkeypatch, num_proc):
    # Batches of 4 rows; each prompt's rows are 6 apart (unpaired data in blocks order).
    monkeypatch.setattr(table_mod, "BATCH_ROWS", 4)
    monkeypatch.setattr(table_mod, "MIN_ROWS_PER_WORKER", 4)
    t = load_template("qwen2.5")
    rows = pref_rows(12, distinct=6)
    out, report = render_table(
        table_from_records(rows), "preference", t, num_proc=num_proc, fast=False
    )
    assert report.num_proc == num_proc
    assert report.distinct_prompts == 6
    assert report.renders == 6 + 2 * 12
    assert "__trlprep_prompt_text" not in out.column_names
    for got, row in zip(out.to_pylist(), rows, strict=True):
        want = apply_chat_template({k: row[k] for k in ("prompt", "chosen", "rejected")}, t)
        assert got == {"id": row["id"], **want}


@pytest.mark.parametrize("num_proc", [1, 2])
def test_a_failing_prompt_is_reported_at_its_first_row(monkeypatch, num_proc):
    monkeypatch.setattr(table_mod, "BATCH_ROWS", 4)
    monkeypatch.setattr(table_mod, "MIN_ROWS_PER_WORKER", 4)
    rows = [{"prompt": [user(f"Q{i % 5}")], "completion": [assistant("A")]} for i in range(15)]
    system = [{"role": "system", "content": "S"}, user("Q")]
    rows[7]["prompt"] = rows[12]["prompt"] = system  # gemma raises on a system turn
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "pc", load_template("gemma"), num_proc=num_proc)
    assert info.value.rows == [7, 12] and info.value.stage == "chat template"
    assert all("System role not supported" in r for r in info.value.reasons)
    assert info.value.message.startswith("chat template: row 7: prompt: ")
    rows[2]["completion"] = [user("not an answer"), user("twice")]  # an earlier failure
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "pc", load_template("gemma"), num_proc=num_proc)
    assert info.value.rows == [2, 7, 12]
    assert "1 more" not in info.value.message and "2 more rows fail" in info.value.message


def test_language_modeling_column_is_renamed_in_place():
    rows = [{"a": 1, "messages": [user("Q"), assistant("A")], "z": "keep"}]
    out, _ = render_table(table_from_records(rows), "lm", load_template("phi3"), num_proc=1)
    assert out.column_names == ["a", "text", "z"]
    assert out.column("text").to_pylist() == [
        "<|user|>\nQ<|end|>\n<|assistant|>\nA<|end|>\n<|endoftext|>"
    ]


def test_prefix_mismatch_rows_are_counted():
    rows = [{"prompt": [user(f"Q{i}")], "completion": [assistant("A")]} for i in range(7)]
    out, report = render_table(table_from_records(rows), "pc", THINK, num_proc=1, row_offset=100)
    assert report.prefix_mismatch_rows == 7
    assert report.prefix_mismatch_examples == [100, 101, 102, 103, 104]
    assert "common prefix" in report.notes()[0]
    assert out.column("prompt").to_pylist()[0] == "<user>Q0</user><assistant>"


def test_template_errors_name_the_row_line_and_message():
    rows = [{"prompt": [user("Q")], "completion": [assistant("A")]} for _ in range(5)]
    rows[3]["prompt"] = [{"role": "system", "content": "S"}, user("Q")]
    table = table_from_records(rows)
    with pytest.raises(RowFailures) as info:
        render_table(table, "pc", load_template("gemma"), num_proc=1, row_offset=10)
    e = info.value
    assert e.rows == [3]  # positions in the table given (the driver maps them via ROW_ID)
    assert e.reasons[0].startswith("prompt: gemma raised: System role not supported")
    assert e.exit_code == 1


def test_null_and_missing_columns():
    table = table_from_records([{"prompt": [user("Q")]}, {"prompt": None}])
    with pytest.raises(RowFailures) as info:
        render_table(table, "prompt-only", load_template("chatml"), num_proc=1)
    assert info.value.rows == [1] and "null" in info.value.reasons[0]
    with pytest.raises(UsageError, match="missing column"):
        render_table(table, "preference", load_template("chatml"), num_proc=1)


def test_per_row_tools_and_kwargs_columns():
    rows = [
        {
            "prompt": [user("Q")],
            "tools": [tool("a"), tool("b")],
            "chat_template_kwargs": {"flavour": "r"},
        },
        {"prompt": [user("Q")], "tools": None, "chat_template_kwargs": None},
    ]
    out, report = render_table(
        table_from_records(rows),
        "po",
        TOOLS_ECHO,
        tools=[tool("g")],
        template_kwargs={"flavour": "g"},
        num_proc=1,
    )
    assert out.column("prompt").to_pylist() == [
        "[a;b;](r)<user>Q<assistant>",
        "[g;](g)<user>Q<assistant>",
    ]
    assert report.distinct_prompts == 2
    as_json = table_from_records(
        [
            {"prompt": [user("Q")], "tools": json.dumps([tool("j")])},
            {"prompt": [user("Q")], "tools": ""},
        ]
    )
    out, _ = render_table(as_json, "po", TOOLS_ECHO, num_proc=1)
    assert out.column("prompt").to_pylist() == ["[j;]<user>Q<assistant>", "<user>Q<assistant>"]


def test_invalid_json_tools_name_the_row():
    table = pa.table({"prompt": [[user("Q")], [user("Q")]], "tools": ["[]", "[{"]})
    with pytest.raises(RowFailures) as info:
        render_table(table, "po", TOOLS_ECHO, num_proc=1)
    assert info.value.rows == [1] and info.value.reasons[0].startswith("tools: not valid JSON")


def test_arrow_nulls_from_schema_union_are_absent_keys():
    """Rows with different message keys share one struct type; a null field means absent."""
    src = "{% for m in messages %}{{ m.keys() | list | join(',') }};{% endfor %}"
    rows = [
        {"messages": [user("Q"), {"role": "assistant", "content": "A", "name": "bot"}]},
        {"messages": [user("Q"), assistant("B")]},
    ]
    out, _ = render_table(table_from_records(rows), "lm", ChatTemplate(src), num_proc=1)
    assert out.column("text").to_pylist() == [
        "role,content;role,content,name;",
        "role,content;role,content;",
    ]


def test_dataset_kinds_round_trip():
    import datasets
    import polars as pl

    rows = pref_rows(4)
    t = load_template("chatml")
    as_list = apply_chat_template(rows, t, num_proc=1)
    assert isinstance(as_list, list) and as_list[0]["chosen"] == "good 0<|im_end|>\n"
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    as_cols = apply_chat_template(cols, t, num_proc=1)
    assert as_cols["rejected"][3] == "bad 3<|im_end|>\n"
    frame = apply_chat_template(pl.DataFrame(rows), t, num_proc=1)
    assert isinstance(frame, pl.DataFrame) and frame["prompt"].dtype == pl.String
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)})
    out = apply_chat_template(dd, t, num_proc=1)
    assert isinstance(out, datasets.DatasetDict)
    assert out["train"]["chosen"] == [r["chosen"] for r in as_list]
    data, report = apply_chat_template_with_report(rows, t, num_proc=1)
    assert report.fast_rows == 4 and data == as_list


def test_parallel_workers_give_the_same_table(monkeypatch):
    monkeypatch.setattr(table_mod, "MIN_ROWS_PER_WORKER", 8)
    rows = pref_rows(60, distinct=7)
    rows[45]["prompt"] = [{"role": "system", "content": "S"}]
    table = table_from_records(rows[:40])
    t = load_template("qwen2.5")
    one, r1 = render_table(table, "preference", t, num_proc=1, fast=False)
    two, r2 = render_table(table, "preference", t, num_proc=2, fast=False)
    assert r2.num_proc == 2
    assert two.equals(one)
    assert r2.rows == r1.rows == 40
    rows[52]["prompt"] = [{"role": "system", "content": "S"}]
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "preference", t, num_proc=2, fast=False)
    assert info.value.rows == [45, 52]


def test_workers_receive_only_their_rows():
    # Pickling a slice sends every buffer it points into (the whole table, once per batch).
    from trlprep.templates.batch import render_batch
    from trlprep.templates.parallel import _ipc, _run_ipc

    table = table_from_records(pref_rows(400, distinct=50))
    part = table.slice(100, 10)
    assert _ipc(part).size * 10 < part.get_total_buffer_size()
    job = Job(load_template("qwen2.5"), "preference", None, {})
    cols, rep, error = _run_ipc(render_batch, job, _ipc(part), 100)
    expected, _ = render_table(part, "preference", job.template, num_proc=1, fast=False)
    assert error == [] and rep.rows == 10
    assert cols["chosen"].to_pylist() == expected.column("chosen").to_pylist()


# ---------------------------------------------------------------- invariants

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
TURNS = st.lists(st.tuples(TEXT, TEXT), min_size=0, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["chatml", "qwen2.5", "phi3", "llama3", "zephyr", "llama3.1"]),
    history=TURNS,
    question=TEXT,
    answer=TEXT,
)
def test_prompt_plus_completion_is_the_full_render(name, history, question, answer):
    t = load_template(name)
    prompt = [m for u, a in history for m in (user(u), assistant(a))] + [user(question)]
    out = apply_chat_template({"prompt": prompt, "completion": [assistant(answer)]}, t)
    full = t.render(prompt + [assistant(answer)])
    assert out["prompt"] + out["completion"] == full
    alone = t.render(prompt, add_generation_prompt=True)
    assert out["prompt"] == alone or not full.startswith(alone)
