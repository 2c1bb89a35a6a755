"""LLaMA-Factory's self-cognition set (`identity.json`): Alpaca records in English and
Chinese whose answers hold `{{name}}` and `{{author}}`, template variables left for the user
to fill. `validate` and `report` warn of them (`template-variable`, with the `sed` command
filling the ones found; were: valid, nothing said, and the model learnt to say `{{name}}`);
`convert` keeps the text as written; renders equal the originals."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, counts, original_render, original_template_args, rows_of, run

DATA = HERE / "llamafactory_identity" / "identity.json"


def _src() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def test_validate_warns_of_the_unfilled_variables():
    res = run("validate", DATA, "--from", "alpaca")
    assert res.exit_code == 0, res.output  # a warning: the file is valid
    said = " ".join(res.output.split())
    filled = [i for i, r in enumerate(_src()) if "{{" in r["output"]]
    assert len(filled) == 85
    assert "warning: template-variable (completion): 85 rows" in said
    assert "an unfilled template variable ({{author}}, {{name}})" in said
    assert "sed -e 's/{{author}}/YOUR_AUTHOR/g' -e 's/{{name}}/YOUR_NAME/g' DATA > FILLED" in said
    assert "valid: 91 rows of prompt-completion (standard); 1 warning" in said


def test_report_lists_the_warning_and_filled_data_has_none(tmp_path):
    res = run("report", DATA)
    assert res.exit_code == 0, res.output
    assert "template-variable, 85 rows" in " ".join(res.output.split())
    filled = tmp_path / "filled.json"
    text = DATA.read_text(encoding="utf-8").replace("{{name}}", "Ada").replace("{{author}}", "X")
    filled.write_text(text, encoding="utf-8")
    res = run("validate", filled, "--from", "alpaca")
    assert res.exit_code == 0 and "template-variable" not in res.output, res.output


@pytest.mark.parametrize(
    "text",
    ["{{ name }} in a Jinja template", "a dict literal {{'a': 1}}", "{{1}}", "{ {name} }"],
)
def test_code_and_spaced_braces_are_not_variables(tmp_path, text):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"prompt": "Write it.", "completion": text}) + "\n", "utf-8")
    res = run("validate", path)
    assert res.exit_code == 0 and "template-variable" not in res.output, res.output


def test_conversational_variables_are_named_on_the_messages(tmp_path):
    path = tmp_path / "m.jsonl"
    msgs = [
        {"role": "user", "content": "你是谁？"},
        {"role": "assistant", "content": "我是 {{name}}。"},
    ]
    path.write_text(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n", "utf-8")
    res = run("validate", path)
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "template-variable (messages): 1 row" in said and "({{name}})" in said


def test_convert_keeps_the_text_and_renders_as_the_originals(tmp_path):
    src = _src()
    out = tmp_path / "pc.jsonl"
    res = run("convert", DATA, "--conversational", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (91, 0, 91, 91)
    rows = rows_of(out)
    assert [r["completion"][0]["content"] for r in rows] == [r["output"] for r in src]
    assert rows[90]["prompt"] == [{"role": "user", "content": "你是OpenAI开发的ChatGPT吗？"}]
    for template in ("qwen2_5", "glm4moe"):
        rendered = tmp_path / f"{template}.jsonl"
        res = run("convert", DATA, "--conversational", *original_template_args(template),
                  "-o", rendered)  # fmt: skip
        assert res.exit_code == 0, res.output
        for row, r in zip(rows_of(rendered), src, strict=True):
            prompt = [{"role": "user", "content": r["instruction"]}]
            whole = prompt + [{"role": "assistant", "content": r["output"]}]
            want = original_render(template, prompt, add_generation_prompt=True)
            assert row["prompt"] == want
            assert row["prompt"] + row["completion"] == original_render(template, whole)


@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t")])
def test_an_excel_utf8_export_with_a_byte_order_mark_reads_the_same_rows(
    tmp_path, suffix, delimiter
):
    """The records saved as Excel's "CSV UTF-8" (a byte-order mark before the header)."""
    import csv

    path = tmp_path / f"identity{suffix}"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, ["instruction", "input", "output"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(_src())
    assert path.read_bytes().startswith(b"\xef\xbb\xbfinstruction")
    out, want = tmp_path / "o.jsonl", tmp_path / "w.jsonl"
    for src, dst in ((path, out), (DATA, want)):
        res = run("convert", src, "--conversational", "-o", dst)
        assert res.exit_code == 0, res.output
        assert counts(res.output) == (91, 0, 91, 91)
    assert rows_of(out) == rows_of(want)
    res = run("validate", path, "--from", "alpaca")
    said = " ".join(res.output.split())
    assert "template-variable (completion): 85 rows, lines 2, 3, 4, 5, 6" in said
