"""What a new user hit in the first hour, round two: help texts that name every choice."""

from __future__ import annotations

import typer

from trlprep.cli import app
from trlprep.importers import layout_names


def _option_help(command: str, flag: str) -> str:
    cmd = typer.main.get_command(app).commands[command]
    (param,) = [p for p in cmd.params if flag in getattr(p, "opts", ())]
    return param.help


def test_import_from_help_names_every_layout():
    said = _option_help("import", "--from")
    listed = said.removeprefix("Layout: ").split(" (detected")[0].split(" | ")
    assert listed == layout_names()  # swift and binarized were missing


def test_convert_of_question_answer_hints_the_map_not_a_layout(tmp_path):
    import json

    from typer.testing import CliRunner

    src = tmp_path / "qa.jsonl"
    src.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    res = CliRunner().invoke(app, ["convert", str(src), "--to", "pc", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    hint = res.output.split("hint:")[1]
    assert "pass `--map prompt=question,completion=answer`" in hint
    assert "--from LAYOUT" not in res.output  # no layout reads these columns


def test_chat_template_on_standard_text_names_conversational_where_it_works(tmp_path):
    import json

    from typer.testing import CliRunner

    pc, lm = tmp_path / "pc.jsonl", tmp_path / "lm.jsonl"
    pc.write_text(json.dumps({"prompt": "The sky is", "completion": " blue."}) + "\n")
    lm.write_text(json.dumps({"text": "The sky is blue."}) + "\n")
    runner = CliRunner()
    out = str(tmp_path / "out.jsonl")
    res = runner.invoke(app, ["convert", str(pc), "--chat-template", "chatml", "-o", out])
    assert res.exit_code == 2
    assert "hint: drop --chat-template, or pass --conversational" in res.output
    # the advice works as said
    res = runner.invoke(
        app, ["convert", str(pc), "--chat-template", "chatml", "--conversational", "-o", out]
    )
    assert res.exit_code == 0, res.output
    with open(out) as f:
        assert json.loads(f.readline())["prompt"].startswith("<|im_start|>user\nThe sky is")
    # language modeling has no turn to make a message of: --conversational is not advised
    res = runner.invoke(app, ["convert", str(lm), "--chat-template", "chatml", "-o", out + "2"])
    assert res.exit_code == 2 and "--conversational" not in res.output


def test_import_of_hh_empty_turns_advises_no_to_flag_import_lacks(tmp_path):
    from realdata.support import run, sample

    hh = str(sample("hh_rlhf"))
    res = run("import", hh, "--from", "hh", "-o", tmp_path / "pairs.jsonl")
    assert res.exit_code == 1
    assert "--keep-empty-turns keeps them as prompt-only rows" in res.output
    assert "--to" not in res.output  # `import` has no --to: it was advised
    # the advice works as said on import
    res = run("import", hh, "--from", "hh", "--keep-empty-turns", "-o", tmp_path / "p.jsonl")
    assert res.exit_code == 0, res.output
    assert "hh -> prompt-only (conversational): 163 rows in, 0 rejected" in res.output


SHAREGPT_ROLES = [
    {"messages": [{"role": "human", "content": "hi"}, {"role": "gpt", "content": "yo"}]},
    {"messages": [{"role": "human", "content": "a"}, {"role": "gpt", "content": "b"}]},
]


def _roles_file(tmp_path):
    import json

    path = tmp_path / "roles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SHAREGPT_ROLES))
    return path


def test_convert_of_unknown_roles_names_the_ready_role_map(tmp_path):
    from realdata.support import run

    src = _roles_file(tmp_path)
    res = run("convert", src, "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1
    assert "try --role-map human=user,gpt=assistant (rule unknown-role)" in res.output
    # the advice works as said
    res = run("convert", src, "--role-map", "human=user,gpt=assistant", "-o", tmp_path / "o2.jsonl")
    assert res.exit_code == 0, res.output


def test_api_convert_renames_roles_with_role_map_alone(tmp_path):
    import pytest

    import trlprep

    src = _roles_file(tmp_path)
    with pytest.raises(trlprep.DataError) as e:
        trlprep.convert(str(src))
    assert "try role_map={'human': 'user', 'gpt': 'assistant'}" in str(e.value)
    out = trlprep.convert(str(src), role_map={"human": "user", "gpt": "assistant"})
    assert [m["role"] for m in out.to_pylist()[0]["messages"]] == ["user", "assistant"]
    out = trlprep.convert(SHAREGPT_ROLES, role_map="human=user,gpt=assistant")
    assert [m["role"] for m in out[1]["messages"]] == ["user", "assistant"]


def test_a_chat_template_over_unknown_roles_refuses_them_with_the_role_map(tmp_path):
    """As convert without a template (and train) does: the rows are refused naming the ready
    --role-map (were rendered as written, `<|im_start|>human`, with a warning)."""
    from realdata.support import rows_of, run

    src = _roles_file(tmp_path)
    res = run("convert", src, "--chat-template", "chatml", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1
    assert "try --role-map human=user,gpt=assistant (rule unknown-role)" in res.output
    res = run("convert", src, "--chat-template", "chatml", "--role-map",
              "human=user,gpt=assistant", "-o", tmp_path / "o2.jsonl")  # fmt: skip
    assert res.exit_code == 0 and "warning:" not in res.output
    assert rows_of(tmp_path / "o2.jsonl")[0]["text"].startswith("<|im_start|>user\nhi")


def test_pack_of_untokenised_data_names_the_file_and_the_command(tmp_path):
    import json

    from realdata.support import run

    src = tmp_path / "pref.jsonl"
    src.write_text(json.dumps({"prompt": "a", "chosen": " b", "rejected": " c"}) + "\n")
    res = run("pack", src, "--seq-length", "8", "-o", tmp_path / "p.parquet")
    assert res.exit_code == 2
    assert f"{src}: packing needs the column 'input_ids'" in res.output
    assert "its columns are prompt, chosen, rejected" in res.output
    assert f"trlprep convert {src} [--to lm] --tokenize --tokenizer SRC -o OUT" in res.output
    res = run("pack", src, "--seq-length", "8", "--strategy", "bfs", "-o", tmp_path / "q")
    assert res.exit_code == 2 and "unknown --strategy 'bfs'" in res.output
    assert not (tmp_path / "q").exists() and not (tmp_path / "p.parquet").exists()


def test_validate_says_which_column_mixes_kinds_in_its_majority_note(tmp_path):
    import json

    from realdata.support import run

    rows = [{"prompt": f"p{i}", "chosen": f" c{i}", "rejected": " r"} for i in range(3)]
    rows.append({"prompt": "p", "chosen": 5, "rejected": " r"})
    src = tmp_path / "pref.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("validate", src)
    assert res.exit_code == 1
    assert (
        "note: rows mix formats (column 'chosen': 1 row holds number); checked as standard "
        "(the majority)" in res.output
    )
