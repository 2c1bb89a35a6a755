"""A tiny tokenizer and tiny Llama models built in-process (no network, no model hub)."""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "the sky is blue green red sea grass sun yellow good bad answer question what color "
    "of a an it and not yes no step one two three four so hence fact wrong right four "
    "plus equals five six seven eight nine ten hello world cat dog runs sits , . ? !"
).split()
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def make_tokenizer():
    """A word-level fast tokenizer that prepends <bos>, with <eos> and <pad> tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys([*SPECIALS, *WORDS]))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )


def llama_config(vocab_size: int, **overrides):
    from transformers import LlamaConfig

    kw = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    kw.update(overrides)
    return LlamaConfig(**kw)


def tiny_causal_lm(vocab_size: int, seed: int = 0, **overrides):
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(llama_config(vocab_size, **overrides)).eval()


def save_tiny_model(path: Path, seed: int = 0) -> Path:
    """A tiny Llama and its tokenizer saved with `save_pretrained` into `path`."""
    tok = make_tokenizer()
    model = tiny_causal_lm(len(tok), seed=seed)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
