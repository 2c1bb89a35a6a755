"""Real samples read the way detect reads them, warnings that are true, and hints that
name the fix (--from LAYOUT, --map): validate, convert, check-template, detect."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from realdata.support import HERE, SHARED, rows_of, run, sample

KTO = sample("kto_demo")
HH = sample("hh_rlhf")
SHAREGPT = sample("fastchat_dummy")
ALPACA = sample("alpaca_demo")
GSM8K = sample("gsm8k")
V1_SFT = HERE / "llamafactory_v1" / "v1_sft_demo.first100.jsonl"
OASST_FLAT = HERE / "oasst_messages" / "en_100_message.first8.flat.jsonl"
HH_FULL = SHARED / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz"


def _report(*args) -> tuple[int, dict]:
    res = run("validate", *args, "--format", "json")
    return res.exit_code, json.loads(res.output)


def _rules(report: dict) -> dict[tuple[str, str | None], dict]:
    return {(i["rule"], i["column"]): i for i in report["issues"]}


# ---------------------------------------------------------------- item 1: KTO read as detected


def test_kto_validates_as_unpaired_preference():
    code, rep = _report(KTO)
    assert code == 0
    assert (rep["type"], rep["format"], rep["num_rows"]) == (
        "unpaired-preference",
        "conversational",
        50,
    )


def _kto_broken(tmp_path):
    rows = json.loads(KTO.read_text())
    rows[3]["messages"] = rows[3]["messages"][:-1]  # ends on the user turn
    rows[9]["messages"] = [
        {"role": "user", "content": "q"},
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "a"},
    ]  # the prompt part ends on a system turn
    path = tmp_path / "kto.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_kto_row_without_completion_is_an_error_naming_the_line(tmp_path):
    code, rep = _report(_kto_broken(tmp_path))
    assert code == 1
    found = _rules(rep)
    ending = found[("conversation-ending", "messages")]
    assert (ending["severity"], ending["lines"], ending["count"]) == ("error", [4], 1)
    assert "unpaired preference" in ending["message"]
    prompt = found[("prompt-ending", "messages (prompt part)")]
    assert prompt["lines"] == [10]
    # as language modeling both rows were fine conversations (the old reading)
    code, rep = _report(_kto_broken(tmp_path), "--type", "lm")
    assert rep["type"] == "language-modeling"
    assert ("conversation-ending", "messages") not in _rules(rep)


def test_user_ending_messages_validate_as_prompt_only(tmp_path):
    path = tmp_path / "rlvr.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "2+2?"}], "ground_truth": "4"},
        {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": ""}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, rep = _report(path)
    assert rep["type"] == "prompt-only"
    assert _rules(rep)[("empty-string", "messages")]["lines"] == [2]
    assert code == 1


# ---------------------------------------------------------------- item 2: true HH warnings


def test_hh_sample_has_no_word_split_warning():
    code, rep = _report(HH)
    assert code == 0
    assert not [i for i in rep["issues"] if i["rule"] == "no-common-prefix"]


@pytest.mark.skipif(not HH_FULL.exists(), reason="needs ../shared")
def test_hh_full_file_has_no_word_split_warning():
    code, rep = _report(HH_FULL)
    assert code == 0 and rep["num_rows"] == 2312
    assert not [i for i in rep["issues"] if i["rule"] == "no-common-prefix"]


def test_implicit_warning_names_the_rows_the_conversion_refuses(tmp_path):
    path = tmp_path / "imp.jsonl"
    rows = [
        {
            "chosen": "Human: hi\n\nAssistant: You are",
            "rejected": "Human: hi\n\nAssistant: You were",
        },
        {"chosen": "abc", "rejected": "abcd"},
        {"chosen": "x y", "rejected": "z"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, rep = _report(path)
    found = _rules(rep)
    assert found[("no-common-prefix", "chosen+rejected")]["lines"] == [2]
    assert found[("no-common-prefix", None)]["lines"] == [3]
    res = run("convert", path, "--to", "preference", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1
    assert "line 2" in res.output and "line 3" in res.output and "line 1" not in res.output


# ---------------------------------------------------------------- item 3: --separator escapes


@pytest.mark.parametrize(("given", "joined"), [("\\n", "\n"), ("\n", "\n"), ("\\t|\\\\", "\t|\\")])
def test_separator_escapes(tmp_path, given, joined):
    out = tmp_path / "lm.jsonl"
    res = run(
        "convert", GSM8K, "--map", "prompt=question,completion=answer", "--to", "lm",
        "--separator", given, "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    first = json.loads(GSM8K.read_text().splitlines()[0])
    assert rows_of(out)[0]["text"] == first["question"] + joined + first["answer"]


# ---------------------------------------------------------------- item 4: why nothing paired


def test_kto_to_preference_says_why_every_row_was_dropped(tmp_path):
    res = run("convert", KTO, "--to", "preference", "-o", tmp_path / "p.jsonl")
    assert res.exit_code == 1
    assert "no prompt has both a true and a false completion" in res.output
    assert "50 prompts have completions of one label only (32 only true, 18 only false)" in (
        res.output.replace("\n", " ")
    )


# ---------------------------------------------------------------- item 5: hints name the fix


@pytest.mark.parametrize(
    ("path", "fix"),
    [
        (SHAREGPT, "--from sharegpt"),
        (ALPACA, "--from alpaca"),
        (GSM8K, "--map prompt=question,completion=answer"),
    ],
)
def test_validate_names_the_import(path, fix):
    res = run("validate", path)
    assert res.exit_code == 1
    assert fix in res.output


def test_check_template_names_the_layout():
    """HH text cannot go through a chat template as it is: `--from hh` makes it messages."""
    res = run("check-template", "--chat-template", "chatml", HH, "--json")
    info = json.loads(res.output)
    failed = " ".join(c["message"] for c in info["checks"] if c["status"] == "fail")
    assert "--from hh" in failed, failed


def test_check_template_reads_a_layout_as_convert_does():
    """ShareGPT conversations are rendered as `trlprep convert` reads them (before: a fail
    telling to convert first)."""
    res = run("check-template", "--chat-template", "chatml", SHAREGPT, "--json")
    checks = {c["name"]: c for c in json.loads(res.output)["checks"]}
    assert checks["data layout"]["status"] == "pass"
    assert "read as the sharegpt layout" in checks["data layout"]["message"]
    assert checks["data renders"]["status"] == "pass", checks["data renders"]
    assert "language-modeling, 150 of 150 rows sampled" in checks["data renders"]["message"]


def test_convert_v1_hints_the_layout(tmp_path):
    res = run(
        "convert", V1_SFT, "--from", "lm", "--chat-template", "qwen2.5", "-o", tmp_path / "o.jsonl"
    )
    assert res.exit_code == 1
    assert "--from llamafactory-v1" in res.output


def test_convert_gsm8k_suggests_the_map(tmp_path):
    res = run("convert", GSM8K, "--to", "pc", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 1
    assert "--map prompt=question,completion=answer" in res.output


def test_detect_of_a_trl_type_loads_no_importer():
    code = (
        "import sys; from trlprep.api import detect; d = detect(sys.argv[1]); "
        "print(d.type.name, *(m in sys.modules for m in "
        "('trlprep.importers', 'trlprep.converters', 'polars')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(KTO)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["unpaired-preference", "False", "False", "False"]


# ---------------------------------------------------------------- item 6: detect as convert reads


def test_detect_reads_the_oasst_flat_export_as_convert_does():
    res = run("detect", OASST_FLAT, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["type"], info["format"], info["layout"]) == (
        "language-modeling",
        "conversational",
        "oasst",
    )
    text = run("detect", OASST_FLAT).output
    assert "oasst layout" in text and "language-modeling (standard)" not in text.split("note:")[0]
    conv = run("convert", OASST_FLAT, "--explain").output
    assert "read as the oasst layout" in conv


def test_kto_label_that_is_no_boolean_is_a_label_error(tmp_path):
    rows = json.loads(KTO.read_text())
    rows[7]["label"] = "yes"
    path = tmp_path / "kto.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, rep = _report(path)
    assert (code, rep["type"]) == (1, "unpaired-preference")
    assert _rules(rep)[("label-type", "label")]["lines"] == [8]
    det = run("detect", path)
    assert det.exit_code == 1 and "column 'label': 1 row holds string" in det.output


def test_validate_of_a_sharegpt_preference_file_names_the_layout():
    dpo = sample("dpo_demo")
    res = run("validate", dpo)
    assert res.exit_code == 1
    assert "--from sharegpt" in res.output


def test_kto_given_type_and_format_is_read_the_same_way():
    code, rep = _report(KTO, "--type", "unpaired", "--data-format", "conversational")
    assert (code, rep["type"], rep["num_rows"]) == (0, "unpaired-preference", 50)


def test_check_template_renders_kto_as_convert_does(tmp_path):
    res = run("check-template", "--chat-template", "qwen2.5", KTO, "--json")
    checks = {c["name"]: c for c in json.loads(res.output)["checks"]}
    assert checks["data renders"]["message"].startswith("unpaired-preference, 50 of 50")
    assert checks["data prompt is a prefix"]["status"] == "pass"
    res = run("check-template", "--chat-template", "qwen2.5", _kto_broken(tmp_path), "--json")
    checks = {c["name"]: c for c in json.loads(res.output)["checks"]}
    assert checks["data type"]["status"] == "fail"
    assert checks["data type"]["details"]["row"] == 3
    assert "the last turn is 'user'" in checks["data type"]["message"]
