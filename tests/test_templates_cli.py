"""`trlprep templates` and `trlprep check-template`."""

from __future__ import annotations

import json

import pytest
from templates_support import tiny_tokenizer
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.templates import BUILTINS, ChatTemplate, load_template
from trlprep.templates.check import check_template

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def pref(i, system=False):
    prompt = [{"role": "user", "content": f"Question {i}?"}]
    if system:
        prompt.insert(0, {"role": "system", "content": "Be brief."})
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": f"Good answer {i}."}],
        "rejected": [{"role": "assistant", "content": "Bad."}],
    }


def statuses(report):
    return {c.name: c.status for c in report.checks}


def test_templates_lists_the_builtins():
    result = run("templates", "--json")
    assert result.exit_code == 0
    names = [t["name"] for t in json.loads(result.stdout)]
    assert names == list(BUILTINS)
    assert "qwen2.5" in run("templates").stdout


def test_check_template_passes_a_good_template():
    result = run("check-template", "--chat-template", "qwen2.5", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert checks["generation prompt"] == "pass"
    assert checks["prompt is a prefix"] == "pass"
    assert checks["EOS once at the end"] == "pass"
    assert checks["generation markers"] == "warn"


def test_probes_find_known_template_traits():
    gemma = statuses(check_template(load_template("gemma")))
    assert gemma["system role"] == "warn" and gemma["roles alternate"] == "warn"
    phi3 = statuses(check_template(load_template("phi3")))
    assert phi3["prefix-preserving"] == "warn"  # EOS closes the shorter conversation
    think = ChatTemplate(
        "{% for m in messages %}<{{ m.role }}>{% if m.reasoning_content is defined and loop.last %}"
        "<think>{{ m.reasoning_content }}</think>{% endif %}{{ m.content }}</{{ m.role }}>"
        "{% endfor %}{% if add_generation_prompt %}<assistant><think>{% endif %}",
        name="think",
    )
    traits = statuses(check_template(think))
    assert traits["prompt is a prefix"] == "warn"
    assert traits["history = turn by turn"] == "warn"
    marked = ChatTemplate(
        "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}"
        "{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}>{% endif %}"
    )
    assert statuses(check_template(marked))["generation markers"] == "pass"


def test_duplicated_eos_is_a_failure():
    doubled = ChatTemplate(
        "{% for m in messages %}{{ m.content }}{{ eos_token }}{% if m.role == 'assistant' %}"
        "{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}>{% endif %}",
        special_tokens={"eos_token": "</s>"},
    )
    report = check_template(doubled)
    assert statuses(report)["EOS once at the end"] == "fail" and report.failed


def test_bos_duplicated_by_the_tokenizer(tmp_path):
    src = "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"
    tok = tiny_tokenizer(src, bos="<s>", eos="</s>")
    assert (
        statuses(check_template(load_template(tok), tokenizer=tok))["BOS not duplicated"] == "pass"
    )
    from tokenizers import processors

    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.convert_tokens_to_ids("<s>"))]
    )
    report = check_template(load_template(tok), tokenizer=tok)
    assert statuses(report)["BOS not duplicated"] == "fail"


def test_check_template_with_data(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [pref(i) for i in range(20)])
    result = run(
        "check-template", "--chat-template", "chatml", data, "--json", "--max-length", "60"
    )
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["data renders"]["status"] == "pass"
    lengths = checks["lengths (chars)"]
    assert lengths["details"]["stats"]["prompt"]["max"] == len(
        "<|im_start|>user\nQuestion 19?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert 0 < lengths["details"]["over_max_length"] <= 1


def test_check_template_fails_on_data_the_template_rejects(tmp_path):
    rows = [pref(i) for i in range(5)] + [pref(5, system=True)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    result = run("check-template", "--chat-template", "gemma", data)
    assert result.exit_code == 1
    assert "line 6" in result.stdout and "System role not supported" in result.stdout


def test_check_template_names_the_file_line_as_validate_does(tmp_path):
    # two blank lines before the last row: row 5 is on line 8, so row and line differ
    rows = [json.dumps(pref(i)) for i in range(5)]
    bad = json.dumps(pref(5, system=True))
    (tmp_path / "d.jsonl").write_text("\n".join(rows) + "\n\n\n" + bad + "\n")
    data = str(tmp_path / "d.jsonl")
    result = run("check-template", "--chat-template", "gemma", data)
    assert result.exit_code == 1
    assert "line 8: " in result.stdout and "row 5" not in result.stdout
    checks = {c["name"]: c for c in json.loads(run("check-template", "--chat-template",
        "gemma", data, "--json").stdout)["checks"]}  # fmt: skip
    assert checks["data renders"]["details"] == {"row": 5, "rows": [5], "line": 8, "lines": [8]}
    out = str(tmp_path / "o.jsonl")
    said = run("convert", data, "--chat-template", "gemma", "-o", out).output
    assert "d.jsonl:8: chat template" in said  # the line convert names


def test_check_template_without_lines_names_rows_and_with_files_names_them(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [pref(i) for i in range(5)] + [pref(5, system=True)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    result = run("check-template", "--chat-template", "gemma", str(tmp_path / "d.parquet"))
    assert result.exit_code == 1
    assert "row 5: " in result.stdout  # no file lines: the 0-based row, as validate says
    folder = tmp_path / "shards"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", rows[:5])
    write_jsonl(folder / "b.jsonl", [pref(6), rows[5]])
    result = run("check-template", "--chat-template", "gemma", str(folder))
    assert result.exit_code == 1
    assert "b.jsonl:2: " in result.stdout


def test_check_template_token_lengths_with_a_tokenizer_folder(tmp_path):
    folder = tmp_path / "tok"
    words = ["Question", "Good", "answer", "Bad", "?", "."]
    tok = tiny_tokenizer(load_template("chatml").source, bos=None, eos="<|im_end|>", words=words)
    tok.save_pretrained(folder)
    data = write_jsonl(tmp_path / "d.jsonl", [pref(i) for i in range(3)])
    result = run("check-template", "--chat-template", str(folder), data, "--json")
    assert result.exit_code == 0, result.output
    names = [c["name"] for c in json.loads(result.stdout)["checks"]]
    assert "lengths (tokens)" in names


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["--chat-template", "nope"], 2, "not a built-in name"),
        (["--chat-template", "qwen2.5", "--template-kwarg", "novalue"], 2, "key=value"),
    ],
)
def test_check_template_usage_errors(args, code, text):
    result = run("check-template", *args)
    assert result.exit_code == code
    assert text in result.output


def test_missing_template_fails(tmp_path):
    folder = tmp_path / "plain"
    tiny_tokenizer(None).save_pretrained(folder)
    result = run("check-template", "--chat-template", str(folder), "--json")
    assert result.exit_code == 2  # a usage error: another --chat-template is the fix
    report = json.loads(result.stdout)
    assert report["checks"][0]["name"] == "template present"
    assert report["checks"][0]["status"] == "fail"
    assert "has no chat template" in report["checks"][0]["message"]
