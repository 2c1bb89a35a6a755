"""`trlprep report`'s text read as a new user reads it, on real samples: conversations
not rendered (no template) say so and show their messages, never `None`; counts agree
in number (`line 216`, `2 turns`); a language-modeling text has no prompt or completion
to cut, nor a second length row equal to the first; step labels and `--map` said plainly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trlprep.cli import app

REAL = Path(__file__).resolve().parent / "realdata"
TINY = str(Path(__file__).resolve().parent.parent / "examples" / "tiny-chat-model")


def _report(path: Path, *args: str) -> list[str]:
    res = CliRunner().invoke(app, ["report", str(path), *args])
    assert res.exit_code == 0, res.output
    return res.output.splitlines()


def _line(lines: list[str], start: str) -> str:
    return next(x for x in lines if x.startswith(start))


def test_unrendered_conversations_show_their_messages_and_say_so():
    path = REAL / "oasst_messages" / "en_100_message.first8.jsonl"
    lines = _report(path, "--examples", "1")
    head = _line(lines, "examples (")
    assert "not rendered: pass --chat-template MODEL" in head, head
    assert "rendered as trained" not in head.split(":")[0]
    shown = lines[lines.index(head) + 2]
    assert shown.startswith('   *text       [{"role": "user"') and "None" not in shown
    assert _line(lines, "conversation:").startswith("conversation: 2-4 turns (p50 4) per row,")


def test_rendered_conversations_keep_their_header():
    path = REAL / "oasst_messages" / "en_100_message.first8.jsonl"
    lines = _report(path, "--examples", "1", "--chat-template", "chatml")
    assert "examples (rendered as trained; * = in the loss;" in "\n".join(lines)
    assert "<|im_start|>user" in lines[-1]


def test_one_turn_count_is_said_once():
    lines = _report(REAL / "mllm_video_audio" / "mllm_video_demo.json", "--examples", "0")
    assert _line(lines, "conversation:").startswith("conversation: 2 turns per row,")


def test_one_line_named_in_the_singular():
    path = REAL / "glaive_toolcall" / "glaive_toolcall_en_demo.json"
    lines = _report(path, "--examples", "0")
    issue = _line(lines, "  duplicate-row, 1 row:")
    assert issue.endswith("(line 216 repeats line 174)"), issue
    assert issue.count("216") == 1, issue  # each place said once
    assert _line(lines, "validation:") == (
        "validation: valid (0 kinds of error, 1 kind of warning), as `trlprep validate --from "
        "sharegpt` says (the rows as imported)"
    )  # read as the sharegpt layout unnamed: `validate` alone checks the columns as they are


def test_validation_counts_kinds_of_issue_and_each_ones_rows():
    # 4 rows fail one rule: before, "INVALID (1 error, 0 warnings)" then "x4"
    path = REAL / "openai_drone_toolcalls" / "drone_training.first6.jsonl"
    lines = _report(path, "--examples", "0")
    assert (
        _line(lines, "validation:") == "validation: INVALID (1 kind of error, 0 kinds of warning)"
    )
    issue = _line(lines, "  double-encoded-arguments, 4 rows: column 'messages':")
    assert issue.endswith("(lines 3, 4, 5, 6)"), issue


def test_imports_that_make_several_rows_of_one_say_how_many_they_read():
    # PRM800K: 6 input rows, one row per trajectory -> 37; OASST: 20 trees -> 98 rows
    for path, read, made, how in (
        (
            REAL / "prm800k_openr" / "prm800k.jsonl",
            6,
            37,
            "one row per trajectory, as TRL's prm800k script",
        ),
        (REAL / "oasst_trees" / "en_100_tree.first20.jsonl", 20, 98, "one row per thread"),
    ):
        assert sum(1 for x in path.read_text().splitlines() if x.strip()) == read
        lines = _report(path, "--examples", "0")
        assert lines[0].endswith(f", {made} rows"), lines[0]
        assert (
            lines[2]
            == f"  import: {read} input rows -> {made} rows, {how}"
            + " (the figures below are of these)"
        )
        data = json.loads(CliRunner().invoke(app, ["report", str(path), "-f", "json"]).stdout)
        assert (data["report"]["input_rows"], data["report"]["imported_rows"]) == (read, made)
    one_per_row = _report(REAL / "alpaca_demo" / "alpaca_en_demo.json", "--examples", "0")
    assert not any(x.startswith("  import:") for x in one_per_row)


def test_language_modeling_lengths_and_truncation_name_no_prompt():
    path = REAL / "wiki_text" / "wiki_demo.txt"
    lines = _report(path, "--examples", "0", "--tokenizer", TINY)
    assert any(x.startswith("  text ") for x in lines)
    assert not any(x.startswith("  sequence ") for x in lines)
    cuts = lines[lines.index("truncated (keep_start):") + 1 :][:5]
    assert all("rows" in x or "row " in x for x in cuts), cuts
    assert not any("prompt cut" in x or "completion" in x for x in cuts), cuts


def test_step_labels_and_map_said_plainly():
    path = REAL / "math_shepherd_openr" / "math-shepherd.jsonl"
    share = _line(_report(path, "--examples", "0"), "  share of true labels:")
    assert share.startswith("  share of true labels: step 1 28.6%, step 2 "), share
    gsm = REAL / "gsm8k" / "test.jsonl"
    lines = _report(gsm, "--examples", "0", "--map", "prompt=question,completion=answer")
    assert "  columns renamed by --map, as `trlprep convert --map` reads them" in lines
    assert not any("map layout" in x for x in lines)


def test_json_report_examples_hold_the_messages():
    path = REAL / "oasst_messages" / "en_100_message.first8.jsonl"
    res = CliRunner().invoke(app, ["report", str(path), "-f", "json", "--examples", "1"])
    (part,) = json.loads(res.output)["examples"][0]["parts"]
    assert json.loads(part["text"])[0]["role"] == "user"


def test_rows_not_reportable_say_what_the_figures_cover(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": f"q {i}"},
                      {"role": "assistant", "content": "" if i % 3 else f"a {i}"}]}
        for i in range(9)
    ]  # fmt: skip
    path = tmp_path / "some_empty.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = _report(path, "--examples", "0", "--no-validate")
    assert lines[0].endswith(
        "9 rows, 6 not reportable: the figures below are of the other 3 rows"
    ), lines[0]
    assert lines[1] == "  6 rows failed at validation", lines[1]
    assert _line(lines, "conversation:").startswith("conversation: 2 turns per row,")


def test_text_checks_say_their_unit_rows():
    # before: "completion text: 0 empty/whitespace, 10.7% non-ASCII" (of what?)
    path = REAL / "alpaca_demo" / "alpaca_en_demo.json"
    rows = json.loads(path.read_text())
    non_ascii = sum(not r["output"].isascii() for r in rows)
    empty = sum(not r["output"].strip() for r in rows)
    assert (len(rows), non_ascii, empty) == (150, 16, 0)
    lines = _report(path, "--examples", "0")
    assert _line(lines, "completion text:") == (
        "completion text: 0 rows empty/whitespace, non-ASCII in 10.7% of rows"
    )


def test_patterns_not_listed_are_counted_and_examples_0_shows_no_row():
    # ToolBench: 12 role patterns, 5 listed; line 12 is named by validation, yet
    # `--examples 0` asks for no row (before: it was shown)
    path = REAL / "toolbench_trajectories" / "toolbench_train_messages.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    patterns = {tuple(m["role"] for m in r["messages"]) for r in rows}
    assert (len(rows), len(patterns)) == (34, 12)
    lines = _report(path, "--examples", "0")
    at = lines.index(_line(lines, "conversation:"))
    listed = [int(x.split()[0]) for x in lines[at + 1 : at + 6]]
    assert (
        lines[at + 6] == "         9  rows in 7 other patterns (-f json, -o report.html list more)"
    )
    assert sum(listed) + 9 == 34
    assert not any(x.startswith("examples (") or x.startswith("  line ") for x in lines)
    shown = _report(path, "--examples", "1")
    assert "  line 12:" in shown  # the row validation names, beside the first one


def test_conversation_figures_say_they_count_the_rows_the_template_refused():
    # qwen2.5 renders no image part: every row of LLaMA-Factory's mllm demo is refused, yet
    # the conversation figures are of the 6 rows read (before: under "the figures below are
    # of the other 0 rows", unqualified)
    path = REAL / "mllm_demo" / "mllm_demo.json"
    lines = _report(path, "--chat-template", "qwen2.5", "--examples", "0")
    assert lines[0].endswith("6 rows, 6 not reportable: the figures below are of the other 0 rows")
    assert _line(lines, "conversation").startswith(
        "conversation (of all 6 rows read, those refused above too): 4 turns per row,"
    )
    plain = _report(path, "--examples", "0")
    assert _line(plain, "conversation").startswith("conversation: 4 turns per row,")


def test_preference_line_gives_every_share_of_the_pairs():
    # before: "chosen longer in 0.0% of pairs" alone, where all 6 pairs are the same length
    lines = _report(
        Path(TINY).parent / "implicit_preference.jsonl", "--tokenizer", TINY, "--examples", "0"
    )
    assert _line(lines, "preference:") == (
        "preference: of 6 pairs, chosen longer in 0.0%, rejected longer in 0.0%, same length "
        "in 100.0% (mean 4.3 vs 4.3 tokens), 0 identical pairs"
    )


def test_unrendered_messages_shown_without_the_nulls_arrow_adds():
    # xtuner's line 1 has no `reasoning_content`, `loss` or `tool_calls`; other lines do,
    # and Arrow gave every message those fields as null: before, the example showed them
    path = REAL / "xtuner_qwen35_toolcalls" / "qwen35_tokenize_data.first12.jsonl"
    first = json.loads(path.read_text().splitlines()[0])["messages"]
    lines = _report(path, "--examples", "1")
    shown = lines[lines.index("  line 1:") + 1]
    assert shown == "    text       " + json.dumps(first, ensure_ascii=False)
    tool = REAL / "toolbench_trajectories" / "toolbench_train_messages.jsonl"
    data = json.loads(CliRunner().invoke(app, ["report", str(tool), "-f", "json"]).stdout)
    text = data["examples"][0]["parts"][0]["text"]
    assert '"content": null' in text  # the data's own null beside a function call
    assert '"tool_calls": null' not in text and '"name": null' not in text


def test_repeated_rows_named_once_the_rest_listed_after(tmp_path):
    src = (REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl").read_text().splitlines()
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join([*src, *src[:5]]) + "\n")  # lines 164-168 repeat lines 1-5
    issue = _line(_report(path, "--examples", "0"), "  duplicate-row, 5 rows:")
    assert issue.endswith(
        "(line 164 repeats line 1, line 165 repeats line 2, line 166 repeats line 3)"
        " (and lines 167, 168)"
    ), issue
    assert all(issue.count(str(n)) == 1 for n in range(164, 169)), issue
