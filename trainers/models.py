"""Load the tokenizer, the trained model (with the algorithm's head) and a frozen reference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trlprep.errors import InputError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_model_path(path: str) -> None:
    """A local folder must exist; anything else must look like a Hub id (`org/name`)."""
    p = Path(path).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise InputError(
                f"{path!r} holds no config.json",
                hint="point --model at a folder written by save_pretrained, or a Hub id",
            )
        return
    if not _HUB_ID.match(path) or path.startswith((".", "/", "~")):
        raise InputError(
            f"model path {path!r} does not exist",
            hint="give a model folder (save_pretrained output) or a Hub id such as org/name",
        )


def load_tokenizer(path: str) -> Any:
    """The model's tokenizer; without a pad token, EOS pads (as TRL does)."""
    from transformers import AutoTokenizer

    check_model_path(path)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise InputError(f"cannot load a tokenizer from {path!r}: {e}") from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


_HEADS = {
    "causal-lm": ("AutoModelForCausalLM", {}),
    "sequence-classification": ("AutoModelForSequenceClassification", {"num_labels": 1}),
    "token-classification": ("AutoModelForTokenClassification", {"num_labels": 2}),
}


def load_model(
    path: str, head: str, tokenizer: Any, dtype: torch.dtype = torch.float32
) -> nn.Module:
    """The model at `path` with the head the algorithm trains (a new head is initialised
    from the current seed when the checkpoint has none)."""
    import transformers

    check_model_path(path)
    cls_name, kwargs = _HEADS[head]
    cls = getattr(transformers, cls_name)
    try:
        model = cls.from_pretrained(path, dtype=dtype, **kwargs)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load {path!r} as {cls_name}: {e}") from e
    if tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def disable_dropout(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def frozen_copy(model: nn.Module) -> nn.Module:
    """The reference model: no gradients, eval mode."""
    model.requires_grad_(False)
    return model.eval()
