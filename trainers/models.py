"""Load the tokenizer, the trained model (with the algorithm's head) and a frozen reference."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trlprep.errors import InputError, UsageError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_PACKING_KERNELS = ("flash_attention_2", "flash_attention_3")


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


def attention_kernel(requested: str | None) -> str:
    """The attention implementation: `requested`, or FlashAttention 2 on CUDA where the
    `flash_attn` package is installed, else PyTorch's sdpa."""
    if requested:
        return requested
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_model(
    path: str,
    head: str,
    tokenizer: Any,
    dtype: torch.dtype = torch.float32,
    attn_implementation: str | None = None,
    trained_head: str | None = None,
) -> nn.Module:
    """The model at `path` with the head the algorithm trains (a new head is initialised
    from the current seed when the checkpoint has none), with `attn_implementation`
    (transformers' default when None). `trained_head` (what the model is for, e.g. "reward
    model"): a checkpoint without the head's weights is refused, not given a random head."""
    import transformers

    check_model_path(path)
    cls_name, kwargs = _HEADS[head]
    cls = getattr(transformers, cls_name)
    if attn_implementation:
        kwargs = {**kwargs, "attn_implementation": attn_implementation}
    try:
        model, info = cls.from_pretrained(path, dtype=dtype, output_loading_info=True, **kwargs)
    except ImportError as e:  # the attention kernel's package is missing
        raise UsageError(
            f"--attn-implementation {attn_implementation}: {e}",
            hint="install its package, or use --attn-implementation sdpa",
        ) from e
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load {path!r} as {cls_name}: {e}") from e
    missing = sorted(info.get("missing_keys") or ())
    if trained_head is not None and missing:
        raise UsageError(
            f"{path} is no {trained_head}: its checkpoint has no {', '.join(missing)}, so a "
            "new head with random weights would score every completion",
            hint="give a sequence-classification checkpoint, e.g. the output of `trlprep train "
            "--algo reward`",
        )
    if tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def build_model(
    cfg: Any, head: str, tokenizer: Any, resume_from: Path | None, seqs_per_batch: int = 1
) -> nn.Module:
    """The model to train as `cfg` says: loaded (from the checkpoint when resuming), dropout
    off, gradient checkpointing (`None`: see `needs_checkpointing`), no KV cache, LoRA
    adapters with `cfg.lora_r`."""
    lora = cfg.lora_r is not None
    # a LoRA checkpoint holds only the adapters: the base comes from --model
    base = cfg.model if lora or resume_from is None else str(resume_from)
    model = load_model(
        base, head, tokenizer, attn_implementation=attention_kernel(cfg.attn_implementation)
    )
    if cfg.disable_dropout:
        disable_dropout(model)
    checkpointing = cfg.gradient_checkpointing
    if checkpointing is None:
        tokens = seqs_per_batch * (cfg.max_length or 2048)
        checkpointing = needs_checkpointing(model, tokens)
    if checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    model.config.use_cache = False
    if lora:
        model = apply_lora(
            model,
            head,
            r=cfg.lora_r,
            alpha=cfg.lora_alpha,
            dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
            adapter=str(resume_from) if resume_from else None,
        )
    return model


def activation_bytes(model: nn.Module, tokens: int) -> int:
    """A generous estimate of the activations a decoder keeps for backward without
    checkpointing: per token and layer, about 10 hidden-size and 5 MLP-size values in bf16
    (the inputs of every matrix product, norm and activation), times 1.5."""
    c = getattr(model, "config", None)
    c = getattr(c, "text_config", None) or c
    hidden = getattr(c, "hidden_size", 0) or 0
    inter = getattr(c, "intermediate_size", None) or 4 * hidden
    layers = getattr(c, "num_hidden_layers", 0) or 0
    return int(1.5 * tokens * layers * (10 * hidden + 5 * inter) * 2)


def needs_checkpointing(model: nn.Module, tokens: int) -> bool:
    """Gradient checkpointing unless training on CUDA where the weights, gradients, AdamW
    moments (16 bytes a parameter) and a micro-batch of `tokens` tokens' activations fit in
    70% of the device's free memory. On CPU it stays on (memory is what it saves there)."""
    if not torch.cuda.is_available():
        return True
    free, _ = torch.cuda.mem_get_info()
    params = sum(p.numel() for p in model.parameters())
    return 16 * params + activation_bytes(model, tokens) > 0.7 * free


def compile_forward(model: nn.Module, head: str) -> None:
    """Compile the training forward in place with `torch.compile`: for a causal LM the
    transformer under the LM head (the log-probs call it directly), else the whole model."""
    from trlprep.trainers.logps import backbone

    (backbone(model) if head == "causal-lm" else model).compile()


def packs_sequences(model: nn.Module) -> bool:
    """Whether padding-free batches save compute: only with FlashAttention kernels."""
    return getattr(model.config, "_attn_implementation", "") in _PACKING_KERNELS


def disable_dropout(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def frozen_copy(model: nn.Module) -> nn.Module:
    """The reference model: no gradients, eval mode."""
    model.requires_grad_(False)
    return model.eval()


_LORA_TASKS = {
    "causal-lm": "CAUSAL_LM",
    "sequence-classification": "SEQ_CLS",
    "token-classification": "TOKEN_CLS",
}


def apply_lora(
    model: nn.Module,
    head: str,
    *,
    r: int,
    alpha: int,
    dropout: float,
    target_modules: str | list[str],
    adapter: str | None = None,
) -> nn.Module:
    """Wrap `model` with trainable LoRA adapters (`peft`); `adapter` resumes saved ones.

    The LM head itself never gets an adapter: the log-probs multiply its weight directly.
    """
    try:
        from peft import LoraConfig, PeftModel, get_peft_model
    except ImportError:
        raise InputError("--lora-r needs the peft package", hint="pip install peft") from None
    if adapter is not None:
        return PeftModel.from_pretrained(model, adapter, is_trainable=True)
    if isinstance(target_modules, str) and target_modules != "all-linear":
        target_modules = [t.strip() for t in target_modules.split(",") if t.strip()]
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        task_type=_LORA_TASKS[head],
    )
    return get_peft_model(model, config)


def is_peft(model: nn.Module) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


class AdapterOff(nn.Module):
    """The reference of a LoRA run: the same model with its adapters switched off."""

    def __init__(self, policy: nn.Module, peft_model: nn.Module) -> None:
        super().__init__()
        self.policy, self.peft_model = policy, peft_model

    def forward(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with torch.no_grad(), self.peft_model.disable_adapter():
            return self.policy(*args, **kwargs)
