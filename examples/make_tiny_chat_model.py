"""Build `examples/tiny-chat-model`: a tiny causal LM with random weights, for trying
`trlprep train` offline in seconds (it learns nothing useful).

- tokenizer: byte-level BPE (as GPT-2/Qwen) trained on the text of the shipped examples,
  with ChatML's special tokens and a ChatML chat template (Qwen 2.5's, without its default
  system prompt); `<|im_end|>` is the EOS, `<|endoftext|>` the padding;
- model: a 2-layer Llama (hidden size 64, 4 heads, 2 key/value heads), random weights from
  seed 0, float32, tied embeddings.

Deterministic: running it again writes the same files (a test checks that).

    python examples/make_tiny_chat_model.py [OUT_DIR]   # default: examples/tiny-chat-model
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 640
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# the files the tokenizer is trained on (named, so a new example file changes nothing; editing
# one of these changes the tokenizer: run this script again)
CORPUS = (
    "implicit_preference.jsonl",
    "language_modeling_conversational.jsonl",
    "preference.jsonl",
    "preference_conversational.jsonl",
    "prompt_completion.jsonl",
    "stepwise.jsonl",
    "unpaired.jsonl",
)


def corpus() -> list[str]:
    """Every string in the corpus files, in file and line order."""
    texts = []
    for path in (HERE / name for name in CORPUS):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(_strings(json.loads(line)))
    return texts


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
    )


def build_model(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


def main(out: Path) -> Path:
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # the class name transformers 4 knows too (transformers 5 writes its own alias)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "tiny-chat-model"
    print(main(target))
