"""`trlprep report` on conversations whose messages carry a per-message `weight` (OpenAI),
`loss_weight` (LLaMA-Factory) or `loss` true/false (xtuner): SFT then trains only on the
assistant messages whose weight is not 0, so the report says so with its counts, cuts each
rendered example where the loss starts and stops (stars no unrendered one), and `--fail-if`
reads the counts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app

REAL = Path(__file__).resolve().parent / "realdata"
XTUNER = REAL / "xtuner_qwen35_toolcalls" / "qwen35_tokenize_data.first12.jsonl"
V1 = REAL / "llamafactory_v1" / "v1_sft_demo.first100.jsonl"


def _run(*args: str):
    return CliRunner().invoke(app, ["report", *map(str, args)])


def _json(path: Path, *args: str) -> dict:
    res = _run(path, "-f", "json", *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout[res.stdout.index("{") :])


def _by_hand(path: Path, weight: str) -> dict[str, int]:
    """The counts read with polars: assistant messages, those weighted 0, their rows."""
    msgs = (
        pl.read_ndjson(path, infer_schema_length=None)
        .with_row_index("row")
        .select("row", "messages")
        .explode("messages")
        .unnest("messages")
    )
    bots = msgs.filter(pl.col("role") == "assistant")
    zero = bots.filter(pl.col(weight).cast(pl.Float64) == 0)
    return {
        "rows_with_weights": msgs.filter(pl.col(weight).is_not_null())["row"].n_unique(),
        "assistant_messages": bots.height,
        "assistant_messages_weight_0": zero.height,
        "rows_with_weight_0": zero["row"].n_unique(),
    }


def test_xtuner_loss_false_counts_equal_the_data():
    w = _json(XTUNER)["conversation"]["weights"]
    want = _by_hand(XTUNER, "loss")
    assert want == {
        "rows_with_weights": 2,
        "assistant_messages": 27,
        "assistant_messages_weight_0": 2,
        "rows_with_weight_0": 2,
    }
    assert {k: w[k] for k in want} == want
    assert w["assistant_messages_trained"] == 25 and w["fractional_weights"] == 0


def test_llamafactory_loss_weight_counts_equal_the_data():
    w = _json(V1)["conversation"]["weights"]
    want = _by_hand(V1, "loss_weight")
    assert want["rows_with_weights"] == 100 and want["assistant_messages_weight_0"] == 0
    assert {k: w[k] for k in want} == want


def test_text_says_what_sft_trains_on_and_stars_no_whole_text():
    res = _run(XTUNER, "--examples", "1", "--chat-template", "qwen2.5")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    loss = next(x for x in lines if x.startswith("loss:"))
    assert loss.startswith("loss: per-message weights in 2 rows: SFT trains only on the ")
    assert "(25 of 27)" in loss
    assert loss.endswith("; 2 assistant messages with weight 0 (or loss: false) in 2 rows left out")
    head = next(x for x in lines if x.startswith("examples ("))
    assert "the messages carry weights, SFT trains only on the assistant messages" in head
    # line 1: the render cut where the loss starts and stops (qwen2.5's original template)
    at = lines.index("  line 1:")
    assert lines[at + 1 : at + 4] == [
        "    text       '<|im_start|>system\\n这是单轮无think例子<|im_end|>\\n<|im_start|>user"
        "\\n这是第一个问题<|im_end|>\\n<|im_start|>assistant\\n'",
        "   *text       '我需要先调用一些工具才能知道<|im_end|>'",
        "    text       '\\n'",
    ]


def test_a_weight_0_message_is_not_in_the_example_loss():
    # line 4: the first answer has `loss: false`, the second none: only the second trained
    res = _run(XTUNER, "--examples", "4", "--chat-template", "qwen2.5", "--no-validate")
    lines = res.stdout.splitlines()
    at = lines.index("  line 4:")
    starred = [x for x in lines[at + 1 : at + 4] if x.startswith("   *")]
    assert starred == ["   *text       '好的，我知道这是第二个问题<|im_end|>'"]
    first = json.loads(XTUNER.read_text().splitlines()[3])["messages"]
    assert [m.get("loss") for m in first if m["role"] == "assistant"] == [False, None]
    assert "我需要先调用一些工具才能知道" in lines[at + 1]  # in the untrained part


def test_no_template_no_star():
    res = _run(XTUNER, "--examples", "1")
    assert not any(x.startswith("   *text") for x in res.stdout.splitlines()), res.stdout


def test_unweighted_conversations_keep_their_star_and_no_loss_line(tmp_path):
    path = tmp_path / "chat.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    path.write_text(json.dumps(row) + "\n")
    res = _run(path, "--examples", "1")
    assert res.exit_code == 0, res.output
    assert not any(x.startswith("loss:") for x in res.stdout.splitlines())
    assert "   *text" in res.stdout
    w = _json(path)["conversation"]["weights"]
    assert w["rows_with_weights"] == 0 and w["assistant_messages"] == 1


def test_openai_fractional_weight_is_named(tmp_path):
    path = tmp_path / "w.jsonl"
    rows = [
        [("user", None), ("assistant", 0), ("user", None), ("assistant", 1)],
        [("user", None), ("assistant", 0.5)],
        [("user", None), ("assistant", None)],
    ]
    path.write_text(
        "".join(
            json.dumps({"messages": [{"role": r, "content": "x", "weight": w} for r, w in row]})
            + "\n"
            for row in rows
        )
    )
    w = _json(path)["conversation"]["weights"]
    assert w == {
        "rows_with_weights": 2,
        "assistant_messages": 4,
        "assistant_messages_trained": 3,
        "assistant_messages_weight_0": 1,
        "rows_with_weight_0": 1,
        "fractional_weights": 1,
    }
    res = _run(path, "--examples", "0")
    assert "1 assistant message with a weight other than 0 or 1: SFT refuses" in res.stdout


def test_html_highlights_only_what_the_loss_trains_on(tmp_path):
    out = tmp_path / "r.html"
    res = _run(XTUNER, "-o", out, "--examples", "1")
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "SFT trains only on the assistant messages whose weight is not 0 (" in page
    for key, value in (("assistant_messages_trained", 25), ("assistant_messages", 27),
                       ("assistant_messages_weight_0", 2), ("rows_with_weight_0", 2)):  # fmt: skip
        assert f'<span data-key="conversation.weights.{key}">{value}</span>' in page
    examples = page[page.index('id="ex-') :]
    assert 'class="trained"' not in examples  # messages as JSON, not cut
    out2 = tmp_path / "t.html"
    res = _run(XTUNER, "-o", out2, "--examples", "4", "--chat-template", "qwen2.5")
    assert res.exit_code == 0, res.output
    line4 = out2.read_text().split('id="ex-4"')[1].split("<h3")[0]
    assert line4.count('class="trained"') == 1
    assert '<mark class="trained">好的，我知道这是第二个问题&lt;|im_end|&gt;</mark>' in line4


def test_fail_if_reads_the_weight_counts():
    key = "conversation.weights.assistant_messages_weight_0"
    assert _run(XTUNER, "--fail-if", f"{key} > 1").exit_code == 1
    assert _run(XTUNER, "--fail-if", f"{key} > 2").exit_code == 0
    assert _run(V1, "--fail-if", f"{key} > 0").exit_code == 0


def test_counts_and_cut_examples_the_same_over_processes(tmp_path, monkeypatch):
    """Pieces of 7 rows measured in two worker processes give the counts and the cut
    examples one process gives."""
    import trlprep.datareport.parallel as parallel

    monkeypatch.setattr(parallel, "PIECE_ROWS", 7)
    rows = []
    for i in range(40):
        first = {"role": "assistant", "content": f"a{i}", **({"weight": 0} if i % 3 == 0 else {})}
        rows.append({"messages": [
            {"role": "user", "content": f"q{i}"}, first,
            {"role": "user", "content": "more"}, {"role": "assistant", "content": f"b{i}"},
        ]})  # fmt: skip
    path = tmp_path / "w.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = []
    for num_proc in (1, 2):
        rep = trlprep.report(
            path, chat_template="qwen2.5", validate=False, num_proc=num_proc, examples=2
        )
        got.append((rep.data["conversation"]["weights"], rep.data["examples"]))
    assert got[0] == got[1]
    w = got[0][0]
    assert (w["rows_with_weights"], w["assistant_messages"]) == (14, 80)
    assert (w["assistant_messages_weight_0"], w["rows_with_weight_0"]) == (14, 14)
    first = got[0][1][0]["loss_parts"]  # row 0: its first answer weighted 0
    assert [p["text"] for p in first if p["trained"]] == ["b0<|im_end|>"]
    second = got[0][1][1]["loss_parts"]
    assert [p["text"] for p in second if p["trained"]] == ["a1<|im_end|>", "b1<|im_end|>"]


def test_prompt_completion_counts_the_completion_and_cuts_its_examples(tmp_path):
    """xtuner's rows converted to prompt-completion: the `loss: false` answers land in the
    prompts, which SFT never trains, so the figures count the completions' assistant messages
    (12, none weighted 0), and each example is cut where the loss starts and stops, the
    newline after <|im_end|> and the prompt's answers out (before: no loss line, the whole
    completion starred)."""
    pc = tmp_path / "x_pc.jsonl"
    res = CliRunner().invoke(app, ["convert", str(XTUNER), "--to", "pc", "-o", str(pc)])
    assert res.exit_code == 0, res.output
    completions = pl.read_ndjson(pc, infer_schema_length=None)["completion"].explode()
    assert completions.struct.field("role").to_list().count("assistant") == 12
    w = _json(pc)["conversation"]["weights"]
    assert w == {
        "rows_with_weights": 2,
        "assistant_messages": 12,
        "assistant_messages_trained": 12,
        "assistant_messages_weight_0": 0,
        "rows_with_weight_0": 0,
        "fractional_weights": 0,
    }
    res = _run(pc, "--examples", "4", "--chat-template", "qwen2.5", "--no-validate")
    lines = res.stdout.splitlines()
    loss = next(x for x in lines if x.startswith("loss:"))
    assert loss.startswith("loss: per-message weights in 2 rows: SFT trains only on the ")
    assert "(12 of 12)" in loss
    at = lines.index("  line 4:")
    shown = lines[at + 1 : at + 4]
    assert [x for x in shown if x.startswith("   *")] == [
        "   *text       '好的，我知道这是第二个问题<|im_end|>'"
    ]
    assert "我需要先调用一些工具才能知道" in shown[0] and shown[2] == "    text       '\\n'"


def test_prompt_completion_weight_0_and_fractional_completions_are_named(tmp_path):
    def say(role, weight=None):
        return {"role": role, "content": "x", **({"weight": weight} if weight is not None else {})}

    rows = [
        {"prompt": [say("user"), say("assistant", 0), say("user")],
         "completion": [say("assistant", 1)]},
        {"prompt": [say("user")], "completion": [say("assistant", 0)]},
        {"prompt": [say("user")], "completion": [say("assistant", 0.5)]},
    ]  # fmt: skip
    path = tmp_path / "pc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    w = _json(path)["conversation"]["weights"]
    assert w == {
        "rows_with_weights": 3,
        "assistant_messages": 3,  # the completions' (the prompt's weight-0 answer is not one)
        "assistant_messages_trained": 2,
        "assistant_messages_weight_0": 1,
        "rows_with_weight_0": 1,
        "fractional_weights": 1,
    }
    res = _run(path, "--examples", "0")
    assert "; 1 assistant message with weight 0 (or loss: false) in 1 row left out" in res.stdout
