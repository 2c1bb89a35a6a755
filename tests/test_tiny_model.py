"""The tiny offline model shipped in examples/tiny-chat-model: small, rebuilt identically by
its script, a real BPE tokenizer with a ChatML template, and the README's command trains on
it with no network."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "tiny-chat-model"


def test_small_and_complete():
    size = sum(p.stat().st_size for p in MODEL.iterdir())
    assert size < 2 * 2**20, size
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (MODEL / name).is_file(), name


def test_the_script_rebuilds_the_same_model(tmp_path):
    from safetensors.torch import load_file

    script = runpy.run_path(str(ROOT / "examples" / "make_tiny_chat_model.py"))
    out = script["main"](tmp_path / "again")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (out / name).read_bytes() == (MODEL / name).read_bytes(), name
    ours, shipped = load_file(out / "model.safetensors"), load_file(MODEL / "model.safetensors")
    assert ours.keys() == shipped.keys()
    for k in ours:
        assert ours[k].equal(shipped[k]), k


def test_a_real_bpe_tokenizer_with_a_chatml_template():
    from transformers import AutoTokenizer

    from trlprep.templates import load_template

    tok = AutoTokenizer.from_pretrained(MODEL)
    assert json.loads((MODEL / "tokenizer.json").read_text())["model"]["type"] == "BPE"
    text = "The sky is blue."
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: round trip
    assert len(tok(text)["input_ids"]) < len(text)  # merges learnt, not one token per byte
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "It is blue."},
    ]
    rendered = tok.apply_chat_template(messages, tokenize=False)
    assert rendered == load_template("chatml").render(messages)
    assert rendered.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")


def test_the_readme_command_trains_offline(tmp_path, monkeypatch):
    """`trlprep train --algo dpo --model examples/tiny-chat-model --data
    examples/preference.jsonl --output-dir out`, as the README shows it."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    args = ["--model", "examples/tiny-chat-model", "--data", "examples/preference.jsonl"]
    r = CliRunner().invoke(app, ["train", "--algo", "dpo", *args, "--output-dir", str(out)])
    assert r.exit_code == 0, r.output
    assert "trained 3 steps" in r.output
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 3 and "rewards/accuracies" in records[-1]
    assert (out / "model.safetensors").is_file()
