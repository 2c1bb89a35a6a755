"""`trlprep.report` figures against references computed here, with the tokenizer directly."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import trlprep

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "examples" / "tiny-chat-model"
REAL = ROOT / "tests" / "realdata"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TINY))


def _nearest_rank(values: list[int], q: float) -> int:
    return int(np.quantile(np.asarray(values), q, method="inverted_cdf"))


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


WORDS = "the cat sat on a mat while rain fell over quiet hills and rivers ran far".split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


@pytest.fixture(scope="module")
def pref_rows() -> list[dict]:
    """Conversational preference rows with known duplicates, empty answers and oddities."""
    rng = random.Random(0)
    rows = []
    for i in range(120):
        prompt = [{"role": "user", "content": _sentence(rng, rng.randint(1, 60))}]
        if i % 10 == 0:
            prompt.insert(0, {"role": "system", "content": "Be brief."})
        chosen = [{"role": "assistant", "content": _sentence(rng, rng.randint(1, 80))}]
        rejected = [{"role": "assistant", "content": _sentence(rng, rng.randint(1, 40))}]
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    rows[5]["chosen"][0]["content"] = "   "  # an empty answer
    rows[6]["rejected"] = rows[6]["chosen"]  # an identical pair
    rows[7]["prompt"][0]["content"] += " café"  # non-ASCII
    rows[8]["chosen"][0]["content"] += " <|im_end|>"  # a literal special token
    rows[9]["prompt"] = rows[10]["prompt"]  # a prompt shared by 2 rows
    rows.append(rows[11])  # an exact duplicate row
    return rows


@pytest.fixture(scope="module")
def pref_report(tmp_path_factory, pref_rows):
    path = _write(tmp_path_factory.mktemp("pref") / "pref.jsonl", pref_rows)
    return trlprep.report(path, chat_template=str(TINY), max_length=128), pref_rows


def _reference_lengths(tok, rows):
    """Prompt and each answer's token count as TRL builds them: the prompt rendered with the
    generation prompt, each answer the rest of the whole conversation's render."""
    out = {"prompt": [], "chosen": [], "rejected": []}
    for r in rows:
        p_text = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        p_ids = tok(p_text, add_special_tokens=False)["input_ids"]
        out["prompt"].append(len(p_ids))
        for side in ("chosen", "rejected"):
            full = tok.apply_chat_template(r["prompt"] + r[side], tokenize=False)
            assert full.startswith(p_text)
            ids = tok(full, add_special_tokens=False)["input_ids"]
            assert ids[: len(p_ids)] == p_ids
            out[side].append(len(ids) - len(p_ids))
    return out


def test_lengths_equal_the_tokenizer_directly(pref_report, tok):
    rep, rows = pref_report
    ref = _reference_lengths(tok, rows)
    for role, values in ref.items():
        got = rep.data["lengths"][role]
        assert got["rows"] == len(values) == len(rows)
        assert got["min"] == min(values) and got["max"] == max(values)
        assert got["total"] == sum(values)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            assert got[name] == _nearest_rank(values, q), (role, name)
        assert sum(got["histogram"]["counts"]) == len(values)
    seq = [
        p + max(c, r) for p, c, r in zip(ref["prompt"], ref["chosen"], ref["rejected"], strict=True)
    ]
    assert rep.data["lengths"]["sequence"]["max"] == max(seq)


def test_truncation_counts_and_what_is_cut(pref_report, tok):
    rep, rows = pref_report
    ref = _reference_lengths(tok, rows)
    limits = {x["max_length"]: x for x in rep.data["truncation"]["limits"]}
    assert set(limits) == {128, 512, 1024, 2048, 4096, 8192}
    for limit, got in limits.items():
        over = [
            (p, max(c, r))
            for p, c, r in zip(ref["prompt"], ref["chosen"], ref["rejected"], strict=True)
            if p + max(c, r) > limit
        ]
        assert got["truncated"] == len(over)
        assert got["prompt_cut"] == sum(p > limit for p, _ in over)
        assert got["completion_lost"] == sum(p >= limit for p, _ in over)
        assert got["completion_cut"] == len(over)
    assert rep.data["summary"]["truncated"] == limits[128]["truncated"] > 0
    assert rep.data["summary"]["truncated_share"] == pytest.approx(
        limits[128]["truncated"] / len(rows)
    )


def test_truncation_equals_the_trainers_tokenizer_truncation(pref_report):
    """The count the report gives at a max length is the count tokenize_table truncates
    (a limit above every prompt: no row loses its whole completion)."""
    from trlprep.conversion.apply import convert_table
    from trlprep.conversion.convert import make_plan
    from trlprep.conversion.render import make_render
    from trlprep.detection.detect import detect_table
    from trlprep.io.readers import read

    rep, _ = pref_report
    path = rep.data["report"]["path"]
    limit = rep.data["lengths"]["prompt"]["max"] + 1
    table = read(path).table
    for mode in ("keep_start", "keep_end"):
        render = make_render(
            chat_template=str(TINY), tokenize=True, max_length=limit, truncation=mode
        )
        plan = make_plan(detect_table(table), render=render)
        convert_table(table, plan)
        again = trlprep.report(
            path, chat_template=str(TINY), max_length=limit, truncation=mode, validate=False
        )
        assert again.data["summary"]["truncated"] == plan.render.token_report.truncated > 0


def test_keep_end_cuts_the_prompt_first(tmp_path):
    rows = [
        {"prompt": "a " * 50, "completion": " b" * 5},
        {"prompt": "a", "completion": " b" * 50},
        {"prompt": "a", "completion": " b"},
    ]
    path = _write(tmp_path / "pc.jsonl", rows)
    lim = trlprep.report(path, tokenizer=str(TINY), max_length=20, truncation="keep_end")
    at = lim.data["truncation"]["limits"][0]
    assert (at["max_length"], at["truncated"]) == (20, 2)
    assert at["prompt_cut"] == 2 and at["completion_cut"] == 1 and at["completion_lost"] == 0


def test_standard_lengths_carry_the_eos(tmp_path, tok):
    rows = [json.loads(x) for x in (ROOT / "examples" / "prompt_completion.jsonl").open()]
    rep = trlprep.report(ROOT / "examples" / "prompt_completion.jsonl", tokenizer=str(TINY))
    prompts, comps = [], []
    for r in rows:
        p = tok(r["prompt"], add_special_tokens=False)["input_ids"]
        full = tok(r["prompt"] + r["completion"] + tok.eos_token, add_special_tokens=False)
        prompts.append(len(p))
        comps.append(len(full["input_ids"]) - len(p))
    got = rep.data["lengths"]
    assert got["prompt"]["total"] == sum(prompts)
    assert got["completion"]["total"] == sum(comps)
    assert got["completion"]["max"] == max(comps)


def test_preference_duplicates_and_text_figures(pref_report):
    rep, rows = pref_report
    d = rep.data
    p = d["preference"]
    assert p["pairs"] == len(rows)
    assert p["identical_pairs"] == 1
    c, r = np.array(d["lengths"]["chosen"]["total"]), np.array(d["lengths"]["rejected"]["total"])
    assert p["chosen_mean"] == pytest.approx(c / len(rows))
    assert p["rejected_mean"] == pytest.approx(r / len(rows))
    assert p["chosen_longer"] + p["rejected_longer"] + p["same_length"] == len(rows)
    assert p["chosen_longer_share"] == pytest.approx(p["chosen_longer"] / len(rows))
    assert d["duplicates"]["exact_rows"] == 1
    assert d["duplicates"]["distinct_prompts"] == len({json.dumps(x["prompt"]) for x in rows})
    assert d["duplicates"]["top_shared_prompts"][0]["rows"] == 2
    by_role = d["text"]["by_role"]
    assert by_role["chosen"]["empty"] == 1 and by_role["rejected"]["empty"] == 0
    assert by_role["prompt"]["non_ascii"] == 1
    assert d["text"]["special_tokens_in_text"] == {"<|im_end|>": 1}
    assert d["summary"]["empty_answers"] == 1


def test_conversation_figures(pref_report):
    rep, rows = pref_report
    c = rep.data["conversation"]
    with_system = sum(r["prompt"][0]["role"] == "system" for r in rows)
    patterns = {x["pattern"]: x["rows"] for x in c["patterns"]}
    assert patterns == {"user, assistant": len(rows) - with_system,
                        "system, user, assistant": with_system}  # fmt: skip
    assert c["turns"]["max"] == 3 and c["turns"]["min"] == 2
    assert c["same_role_in_a_row"] == 0 and c["tool_calls"] == 0


def test_examples_highlight_the_trained_part(pref_report, tok):
    rep, rows = pref_report
    ex = [e for e in rep.data["examples"] if not e.get("flagged")]
    assert len(ex) == 3 and [e["line"] for e in ex] == [1, 2, 3]
    named = {i["lines"][0] for i in rep.data["validation"]["issues"]} - {1, 2, 3}
    assert {e["line"] for e in rep.data["examples"] if e.get("flagged")} == named
    parts = {p["role"]: p for p in ex[0]["parts"]}
    full = tok.apply_chat_template(rows[0]["prompt"] + rows[0]["chosen"], tokenize=False)
    assert parts["prompt"]["text"] + parts["chosen"]["text"] == full
    assert parts["chosen"]["trained"] and not parts["prompt"]["trained"]


def test_unpaired_labels_real_kto_demo():
    path = REAL / "kto_demo" / "kto_en_demo.json"
    raw = json.loads(path.read_text())
    rep = trlprep.report(path, tokenizer=str(TINY), validate=False)
    lab = rep.data["labels"]
    assert lab["true"] == sum(r["label"] for r in raw)
    assert lab["false"] == sum(not r["label"] for r in raw)
    assert rep.data["report"]["type"] == "unpaired-preference"


def test_tool_calls_real_glaive_imported():
    path = REAL / "glaive_toolcall" / "glaive_toolcall_en_demo.json"
    raw = json.loads(path.read_text())
    shared = Path("/work/shared/data/chat_templates/qwen2_5.jinja")
    template = str(shared) if shared.exists() else None
    rep = trlprep.report(path, from_="sharegpt", chat_template=template, tokenizer=str(TINY),
                         validate=False)  # fmt: skip
    c = rep.data["conversation"]
    calls = sum(t["from"] == "function_call" for r in raw for t in r["conversations"])
    assert c["tool_calls"] == calls > 0
    assert c["rows"] == len(raw)
    assert rep.data["rows"]["in"] == len(raw)
    if template is not None:
        assert rep.data["rows"]["reported"] == len(raw)


def test_stepwise_steps_and_label_positions():
    path = ROOT / "examples" / "stepwise.jsonl"
    raw = [json.loads(x) for x in path.open()]
    rep = trlprep.report(path, tokenizer=str(TINY), validate=False)
    lab = rep.data["labels"]
    assert lab["steps"]["max"] == max(len(r["labels"]) for r in raw)
    first = lab["by_position"][0]
    assert first["steps"] == len(raw)
    assert first["true"] == sum(r["labels"][0] for r in raw)


def test_without_a_tokenizer_no_lengths(tmp_path, pref_rows):
    path = _write(tmp_path / "p.jsonl", pref_rows[:10])
    rep = trlprep.report(path)
    assert "lengths" not in rep.data and "truncation" not in rep.data
    assert rep.data["rows"]["in"] == 10
    assert "pass --tokenizer" in rep.to_text()


def test_rows_the_template_refuses_are_counted(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
            ]
        },
    ]  # fmt: skip  (the tiny template cannot render a tool call without content)
    path = _write(tmp_path / "m.jsonl", rows)
    rep = trlprep.report(path, chat_template=str(TINY), validate=False)
    rows_ = rep.data["rows"]
    assert rows_["in"] == 2
    assert rows_["reported"] == 1 and rows_["rejected_by_stage"] == {"chat template": 1}
    ex = rows_["rejected_examples"][0]
    assert ex["line"] == 2 and "tool" in ex["reason"]
    assert f"line 2 (chat template): {ex['reason']}" in rep.to_text()  # named, with why


def test_fail_if(pref_report):
    rep, _ = pref_report
    assert rep.failed(["truncated_share > 0.0001"])
    assert not rep.failed(["truncated_share > 1", "lengths.prompt.max > 100000"])
    with pytest.raises(trlprep.UsageError):
        rep.failed(["truncated_share >> 3"])
    with pytest.raises(trlprep.UsageError):
        rep.failed(["no_such_figure > 3"])


def test_real_hh_sample_imported():
    path = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"
    n = sum(1 for _ in path.open())
    rep = trlprep.report(path, from_="hh", tokenizer=str(TINY), validate=False)
    d = rep.data
    assert d["report"]["type"] == "preference-implicit"
    assert d["rows"]["in"] == n
    assert d["rows"]["reported"] + d["rows"]["rejected"] == n
    assert d["preference"]["pairs"] == d["rows"]["reported"]
    assert d["conversation"]["patterns"][0]["pattern"].startswith("user")


def test_real_hh_remarks_name_file_lines_as_convert_does():
    """The prompt extraction's remarks name the file's lines (`lines 87, ...`), as convert
    says them, not 0-based rows."""
    path = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"
    remarks = trlprep.report(path, validate=False).data["rows"]["remarks"]
    assert any(r.startswith("lines 87, 151, 154") and "only whitespace" in r for r in remarks)
    assert not any(r.startswith("row") for r in remarks)


def test_tables_and_datasets_report_like_their_file():
    import datasets

    from trlprep.io.readers import read

    path = ROOT / "examples" / "unpaired.jsonl"
    on_file = trlprep.report(path, tokenizer=str(TINY))
    table = read(path).table
    for data in (table, datasets.Dataset(table)):
        rep = trlprep.report(data, tokenizer=str(TINY))
        assert rep.data["lengths"] == on_file.data["lengths"]
        assert rep.data["labels"] == on_file.data["labels"]
        assert rep.data["validation"]["valid"] == on_file.data["validation"]["valid"]
        assert "line" not in rep.data["examples"][0]  # rows of a table have no file lines


def test_tokenized_data_is_refused(tmp_path):
    path = _write(tmp_path / "t.jsonl", [{"input_ids": [1, 2, 3]}])
    with pytest.raises(trlprep.UsageError, match="already tokenized"):
        trlprep.report(path)


def test_tokenising_in_slices_changes_no_figure(pref_report, monkeypatch):
    from trlprep.datareport import collect

    rep, _ = pref_report
    monkeypatch.setattr(collect, "TOKENIZE_ROWS", 7)
    again = trlprep.report(rep.data["report"]["path"], chat_template=str(TINY), max_length=128)
    for key in ("lengths", "truncation", "preference", "duplicates", "examples"):
        assert again.data[key] == rep.data[key], key


def test_implicit_prompt_is_extracted_as_trainers_do(tok):
    """HH-style implicit pairs: lengths after TRL's extract_prompt, not of the raw pairs."""
    from trl.data_utils import maybe_extract_prompt

    path = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"
    rows = [json.loads(x) for x in path.open()][:40]
    rep = trlprep.report(path, tokenizer=str(TINY), validate=False)
    d = rep.data
    assert d["report"]["type"] == "preference-implicit"
    assert d["report"]["measured_as"] == "preference"
    assert "measured as preference" in rep.to_text()
    eos = tok.eos_token
    want = {"prompt": [], "chosen": [], "rejected": []}
    for r in rows:
        ex = maybe_extract_prompt({"chosen": r["chosen"], "rejected": r["rejected"]})
        p = tok(ex["prompt"], add_special_tokens=False)["input_ids"]
        fulls = {
            side: tok(ex["prompt"] + ex[side] + eos, add_special_tokens=False)["input_ids"]
            for side in ("chosen", "rejected")
        }
        # the prompt's ids are those it shares with both prompt + answer (a token may span
        # the prompt's end: "Assistant:" + " Sure")
        k = min(_shared(p, f) for f in fulls.values())
        want["prompt"].append(k)
        for side, full in fulls.items():
            want[side].append(len(full) - k)
    sub = trlprep.report(
        _write_rows(rows), tokenizer=str(TINY), validate=False, type="preference-implicit",
        split_mode="char",  # TRL's cut (the default, "word", backs off to a word boundary)
    )  # fmt: skip
    for role, values in want.items():
        assert sub.data["lengths"][role]["max"] == max(values), role
        assert sub.data["lengths"][role]["total"] == sum(values), role
    assert d["lengths"]["prompt"]["min"] > 0  # the raw pairs' shared prompt is measured


def _shared(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _write_rows(rows: list[dict]) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "rows.jsonl"
    return _write(path, rows)


def test_report_of_an_empty_file_says_it_has_no_rows(tmp_path):
    """An empty input is an error (exit 1) in the words convert and validate use."""
    from typer.testing import CliRunner

    from trlprep.cli import app

    src = tmp_path / "empty.jsonl"
    src.write_text("")
    res = CliRunner().invoke(app, ["report", str(src)])
    assert res.exit_code == 1
    assert f"{src}: the dataset has no rows" in res.output
    assert "cannot tell the dataset type" not in res.output
