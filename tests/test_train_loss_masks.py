"""What SFT trains on beyond language-modeling messages: conversational prompt-completion rows
with `--assistant-only-loss` or per-message weights (the assistant mask and the completion
mask both, as TRL's SFTTrainer), and a resumed run keeping the loss mask it started with
(tiny chat model and its byte-level tokenizer; real samples from tests/realdata)."""

from __future__ import annotations

import json

import pytest
from realdata.support import TINY_MODEL, rows_of, run, sample, template_file
from test_realdata_assistant_loss import _masked, _prepare
from trlprep.trainers.offline_options import SFTOptions

from trlprep.errors import UsageError

XTUNER = sample("xtuner_qwen35_toolcalls")
LF_SFT = XTUNER.parents[1] / "llamafactory_v1" / "v1_sft_demo.first100.jsonl"

# the tiny model's template with TRL's {% generation %} markers (the text it renders is the
# same): transformers' assistant masks, the reference TRL builds its labels from
MARKED = (
    "{%- for message in messages -%}{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}{% generation %}{{- message['content'] + '<|im_end|>' -}}"
    "{% endgeneration %}{{- '\\n' -}}{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _say(role: str, text: str, **extra) -> dict:
    return {"role": role, "content": text, **extra}


ROWS = [
    {  # a tool message inside the completion
        "prompt": [_say("user", "What is 6 x 7?")],
        "completion": [
            _say("assistant", "Let me compute."),
            _say("tool", "42"),
            _say("assistant", "It is 42."),
        ],
    },
    {  # a user message inside the completion, an assistant one in the prompt
        "prompt": [_say("user", "Hi"), _say("assistant", "Hello!"), _say("user", "A colour?")],
        "completion": [
            _say("assistant", "Blue."),
            _say("user", "Another?"),
            _say("assistant", "Green."),
        ],
    },
]


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)


def _write(path, rows: list[dict]):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def trl_columns(tok, row: dict) -> dict[str, list[int]]:
    """TRL 1.16's `SFTTrainer._prepare_dataset` on a conversational prompt-completion row:
    prompt + completion tokenised with transformers' assistant masks (`{% generation %}`),
    the completion mask after the prompt tokenised with its generation prompt."""
    whole = tok.apply_chat_template(
        row["prompt"] + row["completion"], chat_template=MARKED, tokenize=True,
        return_dict=True, return_assistant_tokens_mask=True,
    )  # fmt: skip
    prompt = tok.apply_chat_template(
        row["prompt"], chat_template=MARKED, tokenize=True, add_generation_prompt=True,
        return_dict=True,
    )["input_ids"]  # fmt: skip
    ids = list(whole["input_ids"])
    return {
        "input_ids": ids,
        "completion_mask": [0] * len(prompt) + [1] * (len(ids) - len(prompt)),
        "assistant_masks": list(whole["assistant_masks"]),
    }


def _trl_labels(tok, row: dict, completion_only: bool) -> tuple[list[int], list[int]]:
    """TRL 1.16's labels: the loss where every mask that applies is 1 (the completion mask
    with completion_only_loss)."""
    got = trl_columns(tok, row)
    masks = zip(got["assistant_masks"], got["completion_mask"], strict=True)
    return got["input_ids"], [a & (c or not completion_only) for a, c in masks]


@pytest.mark.parametrize("completion_only", [True, False])
def test_conversational_prompt_completion_masks_are_trls(tok, tmp_path, completion_only):
    """The template renders prefix by prefix (no markers) and the masks equal TRL's labels
    built from transformers' {% generation %} masks; a tool or user message inside the
    completion gets no loss."""
    data = _write(tmp_path / "pc.jsonl", ROWS)
    said: list[str] = []
    opts = SFTOptions(assistant_only_loss=True, completion_only_loss=completion_only)
    got = _prepare(data, tok, said, options=opts)
    for row, ids, mask in zip(ROWS, got.rows["ids"], got.rows["mask"], strict=True):
        assert (ids, mask) == _trl_labels(tok, row, completion_only)
    first = _masked(tok, got.rows["ids"][0], got.rows["mask"][0])
    assert first == "Let me compute.<|im_end|>It is 42.<|im_end|>"
    second = _masked(tok, got.rows["ids"][1], got.rows["mask"][1])
    prompt_turn = "" if completion_only else "Hello!<|im_end|>"
    assert second == f"{prompt_turn}Blue.<|im_end|>Green.<|im_end|>"
    where = " in the completion" if completion_only else ""
    head = "data: prompt-completion (chat template applied): 2 rows in"
    assert f"{head}; loss on assistant messages{where} only" in said


def test_without_the_flag_prompt_completion_trains_the_whole_completion(tok, tmp_path):
    """Unweighted rows and no flag: the completion mask alone, tool and user turns included."""
    got = _prepare(_write(tmp_path / "pc.jsonl", ROWS), tok)
    assert "42<|im_end|>" in _masked(tok, got.rows["ids"][0], got.rows["mask"][0])
    assert "Another?" in _masked(tok, got.rows["ids"][1], got.rows["mask"][1])


def test_standard_prompt_completion_refuses_assistant_only_loss(tmp_path):
    """As TRL's SFTTrainer: standard text has no messages to mask (exit 2)."""
    data = _write(tmp_path / "std.jsonl", [{"prompt": "2+2=", "completion": " 4"}])
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", data,
        "--assistant-only-loss", "--max-steps", 1, "--output-dir", tmp_path / "o",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "this prompt-completion data is standard text" in res.output
    assert "give the prompt and completion as messages" in res.output


WEIGHTED = [
    {
        "messages": [
            _say("system", "Be brief."),
            _say("user", "Hi"),
            _say("assistant", "Hello there, friend!", weight=0),
            _say("user", "Capital of France?"),
            _say("assistant", "Paris.", weight=1),
        ]
    },
    {"messages": [_say("user", "2+2?"), _say("assistant", "Five.", weight=0)]},
    {"messages": [_say("user", "Name a colour"), _say("assistant", "Blue.")]},
]


def test_weights_survive_convert_to_prompt_completion_and_train_reads_them(tok, tmp_path):
    """`trlprep convert --to prompt-completion` keeps OpenAI's weights in the messages; SFT on
    the file leaves the weight-0 completion out (its row has nothing left) and says so."""
    out = tmp_path / "pc.jsonl"
    res = run(
        "convert", _write(tmp_path / "w.jsonl", WEIGHTED), "--to", "prompt-completion", "-o", out
    )
    assert res.exit_code == 0, res.output
    converted = rows_of(out)
    assert [[m.get("weight") for m in r["completion"]] for r in converted] == [[1], [0], [None]]
    assert converted[0]["prompt"][2]["weight"] == 0
    said: list[str] = []
    got = _prepare(out, tok, said)
    assert [_masked(tok, i, m) for i, m in zip(got.rows["ids"], got.rows["mask"], strict=True)] == [
        "Paris.<|im_end|>",
        "Blue.<|im_end|>",
    ]
    # counted where the loss can reach: the completions (row 1's weight-0 answer is in a prompt)
    assert "data: 1 of 3 assistant messages have weight 0: left out of the loss" in said
    assert (
        "data: dropped 1 row (line 2) with nothing left to train on (no tokens of assistant "
        "messages with weight 1 in the completion)" in said
    )
    assert (
        "data: loss on assistant messages with weight 1 in the completion: 9 of 75 tokens" in said
    )
    said.clear()
    _prepare(out, tok, said, options=SFTOptions(completion_only_loss=False))
    assert "data: 2 of 4 assistant messages have weight 0: left out of the loss" in said
    said.clear()
    every = _prepare(out, tok, said, options=SFTOptions(assistant_only_loss=False))
    assert _masked(tok, every.rows["ids"][1], every.rows["mask"][1]) == "Five.<|im_end|>\n"
    assert any("weights, not used" in s for s in said), said


def test_llamafactory_converted_to_prompt_completion_trains_what_its_messages_train(tok, tmp_path):
    """LLaMA-Factory's loss_weight (0 on users, 1 on answers) read from the converted file:
    the same ids and the same trained tokens as the messages file (before, the newline after
    each answer's end-of-turn token was trained too)."""
    out = tmp_path / "lf_pc.jsonl"
    assert run("convert", LF_SFT, "--to", "prompt-completion", "-o", out).exit_code == 0
    assert {m["weight"] for r in rows_of(out) for m in r["completion"]} == {1.0}
    messages = _prepare(LF_SFT, tok).rows
    said: list[str] = []
    pc = _prepare(out, tok, said).rows
    assert pc["ids"] == messages["ids"] and pc["mask"] == messages["mask"]
    assert any("loss on assistant messages in the completion only" in s for s in said), said


def test_xtuner_loss_false_in_the_prompt_is_not_trained_with_the_prompt(tok, tmp_path):
    """xtuner's `loss: false` turns land in the prompt of the converted file; trained on the
    whole conversation (--no-completion-only-loss) it is the messages file's loss, exactly."""
    template = str(template_file("qwen2_5"))
    out = tmp_path / "x_pc.jsonl"
    assert run("convert", XTUNER, "--to", "prompt-completion", "-o", out).exit_code == 0
    messages = _prepare(XTUNER, tok, chat_template=template).rows
    opts = SFTOptions(completion_only_loss=False)
    pc = _prepare(out, tok, chat_template=template, options=opts).rows
    assert pc["ids"] == messages["ids"] and pc["mask"] == messages["mask"]


# ------------------------------------------------------------------ resume


def _saved(tmp_path, config: dict):
    path = tmp_path / "train_config.json"
    path.write_text(json.dumps({"algo": "sft", **config}))
    return path


def _check(path, asked):
    from trlprep.trainers.resume import check_resume

    return check_resume(path, {"algo": "sft", "options": {"assistant_only_loss": asked}}, log=str)


def test_a_run_older_than_weights_is_resumed_without_masks(tmp_path):
    old = _saved(tmp_path, {"options": {"completion_only_loss": None}})
    assert _check(old, None) is False and _check(old, False) is False
    with pytest.raises(UsageError) as refused:
        _check(old, True)
    message = refused.value.message
    assert "trained without assistant masks" in message
    assert "started before the trainer read per-message weights" in message
    assert "this run asks for --assistant-only-loss" in message
    assert refused.value.hint.startswith("resume with --no-assistant-only-loss or without it")


def test_the_recorded_mask_is_kept_and_another_refused(tmp_path):
    record = {"assistant_only_loss": True, "loss_on": "assistant messages with weight 1"}
    saved = _saved(tmp_path, {"options": {"assistant_only_loss": None}, "loss_mask": record})
    assert _check(saved, None) is True and _check(saved, True) is True  # the same mask
    with pytest.raises(UsageError) as refused:
        _check(saved, False)
    assert "trained its loss on assistant messages with weight 1 only" in refused.value.message
    assert "this run asks for --no-assistant-only-loss" in refused.value.message
    assert refused.value.hint.startswith("resume with --assistant-only-loss or without it")


def test_a_run_saved_before_the_record_is_read_by_its_option(tmp_path):
    """Saved with assistant_only_loss but no loss_mask: a set option is the mask; unset, the
    mask is the data's (BY_DATA), judged once the data is read, never refused here as an
    option that changed (`null -> true`)."""
    from trlprep.trainers.resume import BY_DATA, check_data_mask

    asked_true = _saved(tmp_path, {"options": {"assistant_only_loss": True}})
    assert _check(asked_true, None) is True and _check(asked_true, True) is True
    with pytest.raises(UsageError) as refused:
        _check(asked_true, False)
    assert "trained its loss on assistant messages only" in refused.value.message
    assert "started before" not in refused.value.message
    unset = _saved(tmp_path, {"options": {"assistant_only_loss": None}})
    assert _check(unset, True) == BY_DATA and _check(unset, False) == BY_DATA
    check_data_mask(unset, True, "assistant messages with weight 1", True)  # the same mask
    with pytest.raises(UsageError) as refused:
        check_data_mask(unset, False, None, True)
    assert "trained without assistant masks (the loss on every token" in refused.value.message
    assert "this run asks for --assistant-only-loss" in refused.value.message


def test_resuming_a_run_saved_before_the_record_goes_by_its_data(tmp_path):
    """Weighted language modeling trained 1 step, its config made as the previous version
    saved it (options.assistant_only_loss null, no loss_mask): resumed with
    --assistant-only-loss it goes on (the same mask the weights made; before, refused as
    `null -> true`); with --no-assistant-only-loss it is refused (exit 2)."""
    from trlprep.trainers import train

    data = _write(tmp_path / "w.jsonl", WEIGHTED * 2)
    out = tmp_path / "run"
    base = {"algo": "sft", "model": TINY_MODEL, "data": str(data), "output_dir": str(out),
            "batch_size": 2, "bf16": False, "seed": 0, "progress": False}  # fmt: skip
    train({**base, "max_steps": 1, "save_steps": 1}, log=lambda _m: None)
    config = out / "train_config.json"
    saved = json.loads(config.read_text())
    assert saved["options"]["assistant_only_loss"] is None
    del saved["loss_mask"]
    config.write_text(json.dumps(saved))
    with pytest.raises(UsageError) as refused:
        train({**base, "max_steps": 2, "resume": True, "assistant_only_loss": False}, log=str)
    assert "trained its loss on assistant messages with weight 1 only" in refused.value.message
    said: list[str] = []
    train({**base, "max_steps": 2, "resume": True, "assistant_only_loss": True}, log=said.append)
    assert any(s.startswith("data: loss on assistant messages with weight 1: ") for s in said)
    assert json.loads(config.read_text())["loss_mask"]["assistant_only_loss"] is True


def test_a_prompt_completion_run_saved_before_the_record_keeps_its_completion_loss(tok, tmp_path):
    """The previous version trained prompt-completion rows on their completion whatever
    their weights: resumed without the flag, they are trained so still (not by the masks the
    weights now make), and --assistant-only-loss is refused."""
    from trlprep.trainers import train

    pc = tmp_path / "pc.jsonl"
    assert (
        run("convert", _write(tmp_path / "w.jsonl", WEIGHTED), "--to", "pc", "-o", pc).exit_code
        == 0
    )
    out = tmp_path / "run"
    base = {"algo": "sft", "model": TINY_MODEL, "data": str(pc), "output_dir": str(out),
            "batch_size": 1, "bf16": False, "seed": 0, "progress": False}  # fmt: skip
    train({**base, "max_steps": 1, "save_steps": 1, "assistant_only_loss": False}, log=str)
    config = out / "train_config.json"
    saved = json.loads(config.read_text())
    del saved["loss_mask"]
    saved["options"]["assistant_only_loss"] = None
    config.write_text(json.dumps(saved))
    with pytest.raises(UsageError) as refused:
        train({**base, "max_steps": 2, "resume": True, "assistant_only_loss": True}, log=str)
    assert "trained without assistant masks" in refused.value.message
    said: list[str] = []
    train({**base, "max_steps": 2, "resume": True}, log=said.append)
    assert "resume: assistant_only_loss=False, as the run being resumed was trained" in said
    assert any(s.endswith("3 rows in; loss on the completion only") for s in said), said
    assert json.loads(config.read_text())["loss_mask"]["assistant_only_loss"] is False


def test_resuming_a_run_older_than_weights_trains_what_it_started_training(tmp_path):
    """A weighted file trained 1 step, its config made as an older run's (no loss_mask, no
    assistant_only_loss): resumed without the flag it goes on without masks, and records
    that; resumed with --assistant-only-loss it is refused (exit 2)."""
    from trlprep.trainers import train

    data = _write(tmp_path / "w.jsonl", WEIGHTED * 2)
    out = tmp_path / "run"
    base = {"algo": "sft", "model": TINY_MODEL, "data": str(data), "output_dir": str(out),
            "batch_size": 2, "bf16": False, "seed": 0, "progress": False}  # fmt: skip
    train({**base, "max_steps": 1, "save_steps": 1}, log=lambda _m: None)
    config = out / "train_config.json"
    saved = json.loads(config.read_text())
    assert saved["loss_mask"] == {
        "assistant_only_loss": True,
        "loss_on": "assistant messages with weight 1",
    }
    del saved["loss_mask"], saved["options"]["assistant_only_loss"]
    config.write_text(json.dumps(saved))
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", data, "--output-dir", out,
        "--resume", "--max-steps", 2, "--assistant-only-loss",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "trained without assistant masks" in res.output
    said: list[str] = []
    train({**base, "max_steps": 2, "resume": True}, log=said.append)
    assert "resume: assistant_only_loss=False, as the run being resumed was trained" in said
    assert any(s.endswith("6 rows in; loss on every token") for s in said), said
    assert json.loads(config.read_text())["loss_mask"]["assistant_only_loss"] is False


@pytest.mark.parametrize("truncation", ["keep_start", "keep_end"])
def test_cut_prompt_completion_rows_keep_their_masks_on_the_same_tokens(tok, tmp_path, truncation):
    """Cut to max_length, the masks are TRL's labels cut the same way (its slice of the
    sequence)."""
    data = _write(tmp_path / "pc.jsonl", ROWS)
    opts = SFTOptions(assistant_only_loss=True)
    got = _prepare(data, tok, options=opts, max_length=40, truncation=truncation)
    cut = slice(None, 40) if truncation == "keep_start" else slice(-40, None)
    for row, ids, mask in zip(ROWS, got.rows["ids"], got.rows["mask"], strict=True):
        want_ids, want_mask = _trl_labels(tok, row, completion_only=True)
        assert len(want_ids) > 40 and (ids, mask) == (want_ids[cut], want_mask[cut])
