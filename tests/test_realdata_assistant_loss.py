"""SFT trains on what real chat data says to train on: xtuner's `loss: false`, OpenAI's
`weight`, LLaMA-Factory's `loss_weight`, and `--assistant-only-loss` (tiny chat model, its
byte-level tokenizer; the original Qwen templates from ../shared where needed)."""

from __future__ import annotations

import json
import re

import pytest
from realdata.support import TEMPLATES, TINY_MODEL, rows_of, run, sample
from trlprep.trainers.data import prepare
from trlprep.trainers.offline_options import SFTOptions

from trlprep.errors import DataError

XTUNER = sample("xtuner_qwen35_toolcalls")
LF_SFT = XTUNER.parents[1] / "llamafactory_v1" / "v1_sft_demo.first100.jsonl"
SFT = ["language-modeling", "prompt-completion"]


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)


def _template(name: str) -> str:
    path = TEMPLATES / f"{name}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    return str(path)


def _prepare(data, tok, said=None, **kw):
    kw.setdefault("options", SFTOptions())
    kw.setdefault("max_length", None)
    return prepare(
        str(data), "lm", SFT, tok, algo="sft",
        log=(said.append if said is not None else lambda _: None), **kw,
    )  # fmt: skip


def _masked(tok, ids, mask) -> str:
    return tok.decode([i for i, m in zip(ids, mask, strict=True) if m])


def test_xtuner_loss_false_turns_get_no_loss_and_the_masks_are_the_assistant_turns(tok):
    """Qwen2.5's original template renders every assistant turn (text and tool calls) as
    `<|im_start|>assistant\\n ... <|im_end|>`: the masked-in tokens are exactly those turns,
    less the two xtuner marks `loss: false`."""
    said: list[str] = []
    template = _template("qwen2_5")
    got = _prepare(XTUNER, tok, said, chat_template=template)
    assert len(got) == 12
    assert "data: 2 of 27 assistant messages have weight 0: left out of the loss" in said
    assert any("loss on assistant messages with weight 1 only" in s for s in said), said
    raw = rows_of(XTUNER)
    for row, ids, mask in zip(raw, got.rows["ids"], got.rows["mask"], strict=True):
        text = tok.decode(ids)
        turns = re.findall(r"<\|im_start\|>assistant\n(.*?<\|im_end\|>)", text, re.S)
        assistants = [m for m in row["messages"] if m["role"] == "assistant"]
        assert len(turns) == len(assistants)
        want = "".join(
            t for t, m in zip(turns, assistants, strict=True) if m.get("loss") is not False
        )
        assert _masked(tok, ids, mask) == want


def test_the_openai_chat_importer_reads_xtuners_loss_as_the_weight(tmp_path):
    out = tmp_path / "x.jsonl"
    res = run("convert", XTUNER, "--from", "openai-chat", "-o", out)
    assert res.exit_code == 0, res.output
    assert "message field loss -> weight (false: 0, true: 1)" in res.output
    for raw, row in zip(rows_of(XTUNER), rows_of(out), strict=True):
        want = [{False: 0.0, True: 1.0}.get(m.get("loss")) for m in raw["messages"]]
        assert [m.get("weight") for m in row["messages"]] == want


def test_rows_a_template_cannot_mask_exactly_are_refused_with_their_line(tok, tmp_path):
    """Qwen3 gives the last turn a think block, and an earlier one only when it comes after the
    last user turn and has reasoning: rows with another earlier assistant turn are not
    prefix-stable, and are refused; the others are masked."""
    template = _template("qwen3")
    opts = SFTOptions(assistant_only_loss=True)
    with pytest.raises(DataError) as stopped:
        _prepare(XTUNER, tok, chat_template=template, options=opts)
    assert stopped.value.line == 4 and stopped.value.path == str(XTUNER)
    assert "message 3 (assistant): the chat template" in stopped.value.message
    assert "is not prefix-stable" in stopped.value.message
    said: list[str] = []
    got = _prepare(XTUNER, tok, said, chat_template=template, options=opts, on_error="skip")
    lines = got.rejects.column("line").to_pylist()
    multi = [i + 1 for i, r in enumerate(rows_of(XTUNER)) if _thinks_otherwise(r["messages"])]
    assert lines == multi and len(got) == 12 - len(multi) > 0
    assert set(got.rejects.column("stage").to_pylist()) == {"assistant masks"}
    assert any(s.startswith(f"data: {len(multi)} rows left out: ") for s in said), said


def _thinks_otherwise(messages: list[dict]) -> bool:
    """An assistant turn, not the last, that Qwen3 renders without a think block in the whole
    conversation (before the last user turn, or without reasoning)."""
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return any(
        m["role"] == "assistant" and (i < last_user or not m.get("reasoning_content"))
        for i, m in enumerate(messages[:-1])
    )


def test_llamafactory_loss_weight_trains_the_assistant_turns_as_openai_does(tok):
    """Every user turn has loss_weight 0, every assistant turn 1: with weights in the data
    and no flag, the loss is on the assistant turns only (as OpenAI's fine-tuning)."""
    said: list[str] = []
    got = _prepare(LF_SFT, tok, said)
    assert any("the messages carry per-message weights" in s for s in said), said
    note = next(s for s in said if s.startswith("data: loss on assistant messages: "))
    trained = sum(sum(m[1:]) for m in got.rows["mask"])
    assert f"{trained:,} of " in note
    for ids, mask, row in zip(got.rows["ids"], got.rows["mask"], rows_of(LF_SFT), strict=True):
        answers = [m for m in row["messages"] if m["role"] == "assistant"]
        text = "".join(_content(m) + "<|im_end|>" for m in answers)
        assert _masked(tok, ids, mask) == text
    said.clear()
    every = _prepare(LF_SFT, tok, said, options=SFTOptions(assistant_only_loss=False))
    assert all(all(m) for m in every.rows["mask"])
    assert any("weights, not used: --no-assistant-only-loss" in s for s in said), said


def _content(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p["value"] for p in content)


def _with_a_last_turn(tmp_path, weight: float, answer: str):
    """The first LLaMA-Factory rows, each with one more exchange whose answer has `weight`."""
    out = tmp_path / f"lf-{weight}-{len(answer)}.jsonl"

    def said(role: str, text: str, w: float) -> dict:
        return {"role": role, "content": [{"type": "text", "value": text}], "loss_weight": w}

    with out.open("w") as f:
        for row in rows_of(LF_SFT)[:6]:
            row["messages"] += [said("user", "And now?", 0.0), said("assistant", answer, weight)]
            f.write(json.dumps(row) + "\n")
    return out


def _first_loss(data, out) -> float:
    from trlprep.trainers import train

    train(
        {"algo": "sft", "model": TINY_MODEL, "data": str(data), "output_dir": str(out),
         "max_steps": 1, "batch_size": 6, "bf16": False, "seed": 0},
        log=lambda _m: None,
    )  # fmt: skip
    return json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["loss"]


def test_weight_0_turns_get_no_gradient(tmp_path):
    """The loss of a step is the same whatever a weight-0 turn says (it is the last turn:
    nothing trained reads it), and changes with what a weight-1 turn says."""
    base = _first_loss(_with_a_last_turn(tmp_path, 0.0, "Landing now."), tmp_path / "a")
    reply = "A much longer, different reply!"
    other = _first_loss(_with_a_last_turn(tmp_path, 0.0, reply), tmp_path / "b")
    trained = _first_loss(_with_a_last_turn(tmp_path, 1.0, reply), tmp_path / "c")
    assert other == base
    assert trained != base


def test_assistant_only_loss_on_text_without_turns_is_a_usage_error(tmp_path):
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data",
        sample("alpaca_demo").parent / "alpaca_en_demo.json", "--assistant-only-loss",
        "--max-steps", 1, "--output-dir", tmp_path / "o",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "this prompt-completion data is standard text" in res.output  # Alpaca's layout


def test_convert_tokenize_writes_trls_assistant_masks_and_train_uses_them(tok, tmp_path):
    """`convert --tokenize --assistant-masks` writes the masks train makes itself; train on
    the file uses them (cut with its ids)."""
    template = _template("qwen2_5")
    out = tmp_path / "m.parquet"
    res = run(
        "convert", XTUNER, "--from", "openai-chat", "--chat-template", template,
        "--tokenizer", TINY_MODEL, "--tokenize", "--assistant-masks", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    written = rows_of(out)
    own = _prepare(XTUNER, tok, chat_template=template).rows
    assert [r["input_ids"] for r in written] == own["ids"]
    trained = own["mask"]
    assert [r["assistant_masks"] for r in written] == trained
    said: list[str] = []
    got = _prepare(out, tok, said, max_length=64, truncation="keep_end")
    assert got.rows["mask"] == [m[-64:] for m in trained]
    ones = sum(sum(m[-64:][1:]) for m in trained)
    assert f"data: loss on assistant messages: {ones:,} of 756 tokens" in said


def test_convert_assistant_masks_refuses_rows_by_line_and_other_types(tmp_path):
    template = _template("qwen3")
    args = ["--tokenizer", TINY_MODEL, "--tokenize", "--assistant-masks"]
    res = run("convert", XTUNER, "--chat-template", template, *args, "-o", tmp_path / "a.jsonl")
    assert res.exit_code == 1
    assert f"{XTUNER}:4" in res.output and "is not prefix-stable" in res.output
    alpaca = sample("alpaca_demo")
    res = run("convert", alpaca, *args, "-o", tmp_path / "b.jsonl")
    assert res.exit_code == 2
    assert "--assistant-masks marks the assistant messages of conversational" in res.output
    res = run("convert", XTUNER, "--assistant-masks", "-o", tmp_path / "c.jsonl")
    assert res.exit_code == 2 and "it needs --tokenize" in res.output


def test_resume_refuses_another_assistant_only_loss(tmp_path):
    """A run saved with --no-assistant-only-loss (no loss_mask record: an older version)
    refuses --assistant-only-loss on resume, naming both."""
    from trlprep.trainers.resume import check_resume

    from trlprep.errors import UsageError

    saved = tmp_path / "train_config.json"
    saved.write_text(json.dumps({"algo": "sft", "options": {"assistant_only_loss": False}}))
    new = {"algo": "sft", "options": {"assistant_only_loss": True}}
    with pytest.raises(UsageError) as refused:
        check_resume(saved, new, log=lambda _m: None)
    assert "trained without assistant masks" in refused.value.message
    assert "this run asks for --assistant-only-loss" in refused.value.message


def test_openai_tool_calls_given_as_json_text_are_masked_as_rendered(tok):
    """OpenAI's drone rows give tool-call arguments as JSON text: the masks read them as the
    renderer does (before, the two rows the template renders were refused by the masks)."""
    import warnings

    from trlprep.api import convert

    drone = sample("openai_drone_toolcalls")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 4 rows whose arguments are encoded twice
        out = convert(
            str(drone), chat_template="qwen2.5", tokenizer=TINY_MODEL, tokenize=True,
            assistant_masks=True, on_error="skip",
        )  # fmt: skip
    assert out.num_rows == 2
    for row in out.to_pylist():
        assert _masked(tok, row["input_ids"], row["assistant_masks"]) == (
            '<tool_call>\n{"name": "takeoff_drone", "arguments": {"altitude": 100}}\n'
            "</tool_call><|im_end|>"
        )
