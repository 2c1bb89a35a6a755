"""`--truncation` gives the sequences TRL's own trainers train on (TRL's code run on CPU).

SFT: `SFTTrainer` prepares the dataset (tokenise, EOS, labels, truncate) with a one-layer
model; DPO: `DataCollatorForPreference` cuts each side (prompt + chosen, prompt + rejected).
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from templates_support import tiny_tokenizer

from trlprep.templates.tokenize import tokenize_table

pytest.importorskip("torch")
trl = pytest.importorskip("trl")

WORDS = ["p1", "p2", "p3", "p4", "c1", "c2", "c3", "c4", "c5"]
PROMPTS = ["p1 p2 p3 ", "p1 ", "p1 p2 p3 p4 ", "p1 p2 "]
COMPLETIONS = ["c1 c2 c3", "c1 c2 c3 c4 c5", "c1", "c1 c2"]


def _tokenizer():
    tok = tiny_tokenizer(None, words=WORDS)  # no BOS added: truncation alone is compared
    tok.pad_token = tok.eos_token
    return tok


def _sft_rows(rows: dict[str, list[str]], max_length: int, mode: str) -> list[dict]:
    """The rows TRL's SFTTrainer trains on (`input_ids`, `labels`)."""
    import tempfile
    import warnings

    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    tok = _tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=8, intermediate_size=8, num_hidden_layers=1,
        num_attention_heads=1, num_key_value_heads=1,
    )  # fmt: skip
    from accelerate.state import AcceleratorState

    # bf16 off and the Accelerator's process-wide state reset after: TRL's config defaults
    # to bf16, which later Accelerators of the same process could not change
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as out:
        warnings.simplefilter("ignore")  # keep_end is deprecated in TRL 1.x
        args = SFTConfig(
            output_dir=out, max_length=max_length, truncation_mode=mode, report_to=[],
            use_cpu=True, bf16=False, save_strategy="no",
        )  # fmt: skip
        try:
            trainer = SFTTrainer(
                model=LlamaForCausalLM(config), args=args, processing_class=tok,
                train_dataset=Dataset.from_dict(rows),
            )  # fmt: skip
            return [dict(r) for r in trainer.train_dataset]
        finally:
            AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.parametrize("mode", ["keep_start", "keep_end"])
def test_prompt_completion_is_cut_as_trl_sft_cuts_it(mode):
    rows = {"prompt": PROMPTS, "completion": COMPLETIONS}
    trl_rows = _sft_rows(rows, 4, mode)
    out, _ = tokenize_table(
        pa.table(rows), "pc", _tokenizer(), max_length=4, truncation=mode, add_eos=True,
        cut_away="keep",
    )  # fmt: skip
    ids, masks = out.column("input_ids").to_pylist(), out.column("completion_mask").to_pylist()
    ours = [  # TRL drops the rows left with nothing to train on (trlprep refuses them)
        {"input_ids": i, "labels": [t if m else -100 for t, m in zip(i, mask, strict=True)]}
        for i, mask in zip(ids, masks, strict=True)
        if any(mask)
    ]
    assert [{k: r[k] for k in ("input_ids", "labels")} for r in trl_rows] == ours


@pytest.mark.parametrize("mode", ["keep_start", "keep_end"])
def test_language_modeling_is_cut_as_trl_sft_cuts_it(mode):
    rows = {"text": [p + c for p, c in zip(PROMPTS, COMPLETIONS, strict=True)]}
    trl_rows = _sft_rows(rows, 3, mode)
    out, _ = tokenize_table(
        pa.table(rows), "lm", _tokenizer(), max_length=3, truncation=mode, add_eos=True
    )
    assert [r["input_ids"] for r in trl_rows] == out.column("input_ids").to_pylist()


@pytest.mark.parametrize("mode", ["keep_start", "keep_end"])
@pytest.mark.parametrize("max_length", [2, 4, 5, 7])
def test_preference_sides_are_cut_as_trl_dpo_collator_cuts_them(mode, max_length):
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    tok = _tokenizer()
    table = pa.table({"prompt": PROMPTS, "chosen": COMPLETIONS, "rejected": COMPLETIONS[::-1]})
    full, _ = tokenize_table(table, "preference", tok, add_eos=True)
    examples = [
        {f"{k}_ids": full.column(f"{k}_ids")[i].as_py() for k in ("prompt", "chosen", "rejected")}
        for i in range(full.num_rows)
    ]
    collator = DataCollatorForPreference(
        pad_token_id=tok.pad_token_id, max_length=max_length, truncation_mode=mode
    )
    batch = collator(examples)
    n = len(examples)
    out, _ = tokenize_table(
        table, "preference", tok, max_length=max_length, truncation=mode, add_eos=True,
        cut_away="keep",
    )  # fmt: skip
    for i in range(n):
        for s, side in enumerate(("chosen", "rejected")):
            start = 0
            if mode == "keep_end":
                start = out.column(f"{side}_prompt_start")[i].as_py()
            prompt = out.column("prompt_ids")[i].as_py()[start:]
            ids = out.column(f"{side}_ids")[i].as_py()
            real = batch["attention_mask"][s * n + i].bool()
            assert batch["input_ids"][s * n + i][real].tolist() == prompt + ids
            mask = batch["completion_mask"][s * n + i][real].tolist()
            assert mask == [0] * len(prompt) + [1] * len(ids)
