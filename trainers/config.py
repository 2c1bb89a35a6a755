"""The training configuration: common options with familiar (TRL/transformers) names, plus
the algorithm's own options, from Python keywords, a dict or a YAML file; and the resolved
configuration a run writes beside its outputs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trlprep.trainers.fieldtypes import coerce_fields

from trlprep.errors import InputError, UsageError
from trlprep.importers.options import ON_ERROR
from trlprep.templates.tokenize import TRUNCATION

SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
ATTENTION = ("sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")
LOGPS_KERNELS = ("auto", "torch", "fused", "liger")
CONFIG_FILE = "train_config.json"  # the resolved configuration of a run
# the algorithms' names, known without importing torch (hints say `algo='prm'`); a test
# checks them against `trlprep.trainers.algorithms.ALGORITHMS`
ALGORITHM_NAMES = (
    "sft", "dpo", "cpo", "orpo", "kto", "bco", "reward", "prm",
    "grpo", "rloo", "online-dpo", "nash-md", "xpo", "ppo", "gkd",
)  # fmt: skip


# TrainConfig fields that are the importers' options (`ImportOptions`)
IMPORT_FIELDS = (
    "role_map", "keep_empty_turns", "neutral", "pairing", "threshold", "prompt_style",
    "conversational", "coerce",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything `train` needs. `options` holds the algorithm's options (`beta`, ...);
    `learning_rate` None takes the algorithm's TRL default."""

    algo: str
    model: str
    data: Any
    output_dir: str
    eval_data: Any = None
    split: str | None = None  # the split of data read (a DatasetDict, its folder, Hub files)
    eval_split: str | None = None  # the split of eval_data read
    data_from: str | None = None  # a public layout (sharegpt, alpaca, ...), as convert --from
    data_map: str | None = None  # column renames applied first, as convert --map
    eval_data_from: str | None = None  # --eval-data's layout (default: data_from)
    eval_data_map: str | None = None  # --eval-data's renames (default: data_map)
    # the importers' options, as convert takes them (trlprep.importers.ImportOptions)
    role_map: str | None = None
    keep_empty_turns: bool = False
    neutral: str = "negative"
    pairing: str = "best-vs-rest"
    threshold: float | None = None
    prompt_style: str = "auto"
    conversational: bool = False
    coerce: bool = False  # labels of 0/1 or "true"/"false" read as booleans, as convert --coerce
    on_error: str = "stop"  # or skip: rows the import/conversion refuses are left out (listed)
    options: dict[str, Any] = field(default_factory=dict)
    max_steps: int = -1  # > 0 overrides num_epochs
    num_epochs: float = 3.0
    learning_rate: float | None = None
    batch_size: int = 8
    eval_batch_size: int | None = None
    gradient_accumulation_steps: int = 1
    max_length: int | None = 1024
    truncation_mode: str = "keep_start"  # or keep_end (each sequence's last max_length tokens)
    logging_steps: int = 10
    save_steps: int = 500
    eval_steps: int | None = None
    save_total_limit: int | None = None
    seed: int = 42
    bf16: bool | None = None  # None: where the accelerator supports it
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = 1.0  # 0 or None: no clipping (the norm is still logged)
    # None: on unless a CUDA device holds the activations with room to spare (models.py)
    gradient_checkpointing: bool | None = None
    attn_implementation: str | None = None  # None: flash_attention_2 where installed, else sdpa
    torch_compile: bool = False  # the transformer's training forward through torch.compile
    # LM head + log-probs: torch (chunked, eager), fused (chunked, compiled), liger (CUDA);
    # auto: fused on CUDA, torch elsewhere
    logps_kernel: str = "auto"
    # the LM head's gradients computed with the loss in the forward where the loss allows it
    # (SFT, DPO's pair-local losses, CPO, ORPO, KTO); False: logits recomputed in backward
    loss_in_forward: bool = True
    lora_r: int | None = None  # LoRA adapters (peft) of this rank instead of full training
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str = "all-linear"
    precompute_ref: bool = False  # reference log-probs computed once (cached), no ref model
    group_by_length: bool = False  # batches of similar lengths (within 50-batch groups)
    padding_free: bool | None = None  # None: when the attention kernel handles packed rows
    chat_template: str | None = None
    # passed to the chat template (`enable_thinking`, a `bos_token` the tokenizer lacks), as
    # convert's --template-kwarg / template_kwargs
    template_kwargs: dict[str, Any] | None = None
    # tool schemas for every row without its own `tools`, as convert's --tools FILE / tools=:
    # a list of schemas, or the path of a JSON file holding them (read as convert reads it)
    tools: list | str | None = None
    disable_dropout: bool = True
    resume: bool | str = False
    report_to: tuple[str, ...] = ()
    logits_chunk_mib: int | None = None  # None: 1024 on a CUDA device with room, else 256
    # bars on stderr: reading and tokenising the data (None: in a terminal), and the steps
    # (None: shown)
    progress: bool | None = None

    def import_options(self) -> dict[str, Any]:
        """The importers' options set away from their defaults, as `ImportOptions.make` takes
        them (a public layout's reading: `--data-from hh --keep-empty-turns`)."""
        from trlprep.importers import ImportOptions

        given = {name: getattr(self, name) for name in IMPORT_FIELDS}
        ImportOptions.make(**given)  # unknown --pairing, --neutral ... are refused
        defaults = ImportOptions()
        return {k: v for k, v in given.items() if v is not None and v != getattr(defaults, k, None)}

    def __post_init__(self) -> None:
        coerce_fields(self)  # YAML's `5e-7` (text) or a dict's "2" as the declared type
        self._check_ranges()
        if self.lr_scheduler_type not in SCHEDULERS:
            raise UsageError(
                f"unknown lr_scheduler_type {self.lr_scheduler_type!r}",
                hint="use one of: " + ", ".join(SCHEDULERS),
            )
        if self.truncation_mode not in TRUNCATION:
            raise UsageError(
                f"unknown truncation_mode {self.truncation_mode!r}",
                hint="use one of: " + ", ".join(TRUNCATION),
            )
        if self.attn_implementation not in (None, *ATTENTION):
            raise UsageError(
                f"unknown attn_implementation {self.attn_implementation!r}",
                hint="use one of: " + ", ".join(ATTENTION),
            )
        self.import_options()  # refused here, before anything is loaded
        self.template_kwargs = _template_kwargs(self.template_kwargs)
        # a missing or malformed tools file refused before anything loads (a schema that
        # contradicts itself warned of, once)
        self.tool_schemas(warn=True)
        given = [k for k in ("eval_split", "eval_data_from", "eval_data_map") if getattr(self, k)]
        if given and self.eval_data is None:
            flag = "--" + given[0].replace("_", "-")
            raise UsageError(
                f"{flag} is about --eval-data, and there is none",
                hint="pass --eval-data PATH (it may be --data's folder, another split of it)",
            )
        if self.on_error not in ON_ERROR:
            raise UsageError(
                f"unknown on_error {self.on_error!r}", hint="use one of: " + ", ".join(ON_ERROR)
            )
        if self.logps_kernel not in LOGPS_KERNELS:
            raise UsageError(
                f"unknown logps_kernel {self.logps_kernel!r}",
                hint="use one of: " + ", ".join(LOGPS_KERNELS),
            )
        if isinstance(self.report_to, str):
            self.report_to = tuple(s for s in self.report_to.split(",") if s and s != "none")
        self.report_to = tuple(self.report_to)

    def _check_ranges(self) -> None:
        for name in ("batch_size", "gradient_accumulation_steps", "logging_steps", "save_steps"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1")
        for name in ("eval_batch_size", "eval_steps", "max_length", "lora_r", "logits_chunk_mib"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} must be at least 1 (or none), not {value}")
        if self.max_grad_norm is not None and self.max_grad_norm < 0:
            raise UsageError(
                f"max_grad_norm must be 0 or more, not {self.max_grad_norm}",
                hint="0 (or none) trains without clipping; a positive value clips to that norm",
            )
        for name in ("warmup_steps", "weight_decay", "adam_epsilon", "learning_rate", "seed"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise UsageError(f"{name} must be 0 or more, not {value}")
        if not 0 <= self.warmup_ratio <= 1:
            raise UsageError(f"warmup_ratio must be in [0, 1], not {self.warmup_ratio}")
        for name in ("adam_beta1", "adam_beta2", "lora_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise UsageError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        if self.max_steps <= 0 and not self.num_epochs > 0:
            raise UsageError(
                f"num_epochs must be more than 0, not {self.num_epochs}",
                hint="give num_epochs > 0, or max_steps > 0 (which overrides num_epochs)",
            )

    @classmethod
    def from_any(cls, config: TrainConfig | dict[str, Any] | str | Path) -> TrainConfig:
        """A TrainConfig from itself, a dict, or a YAML/JSON file path. Keys that are not
        common options go to `options` (the algorithm checks them)."""
        if isinstance(config, TrainConfig):
            return config
        if isinstance(config, (str, Path)):
            config = load_config_file(config)
        common = {f.name for f in fields(cls)}
        values = {k.replace("-", "_"): v for k, v in config.items()}
        options = dict(values.pop("options", None) or {})
        options.update({k: v for k, v in values.items() if k not in common})
        missing = [k for k in ("algo", "model", "data", "output_dir") if values.get(k) is None]
        if missing:
            raise UsageError(f"missing required option(s): {', '.join(missing)}")
        return cls(**{k: v for k, v in values.items() if k in common}, options=options)

    def tool_schemas(self, warn: bool = False) -> list[dict[str, Any]] | None:
        """`tools` as the schemas themselves (a file read as `trlprep convert --tools` reads
        it); None when none are given. `warn`: a schema that contradicts itself is warned of
        (the check when the config is made: once a run)."""
        if isinstance(self.tools, str):
            from trlprep.templates.options import load_tools

            return load_tools(self.tools, warn=warn) or None
        if self.tools is not None and not all(isinstance(t, dict) for t in self.tools):
            raise UsageError(
                "tools must be a list of tool schemas (dicts) or the path of a JSON file",
                hint='give tools=[{"type": "function", "function": {"name": ..., '
                '"parameters": ...}}], as trlprep.convert takes them',
            )
        if warn and self.tools:
            from trlprep.templates.options import warn_contradictions

            warn_contradictions([dict(t) for t in self.tools], "tools=")
        return list(self.tools) if self.tools else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able snapshot (in-memory datasets are named by their type; `tools` as the
        schemas the data was rendered with, whether a file or a list gave them)."""
        d = asdict(self)
        d["tools"] = self.tool_schemas()
        for k in ("data", "eval_data"):
            if d[k] is not None and not isinstance(d[k], (str, Path)):
                d[k] = f"<{type(d[k]).__name__}>"
        return json.loads(json.dumps(d, default=str))


def _template_kwargs(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`template_kwargs` (a mapping: `coerce_fields` refused anything else) with names as its
    keys; None when empty."""
    bad = [k for k in value or {} if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        raise UsageError(
            f"template_kwargs: {bad[0]!r} is not a name the template can read",
            hint="give template_kwargs={'enable_thinking': False} (names as keys)",
        )
    return dict(value) if value else None


def resolved(cfg: TrainConfig, learning_rate: float, options: Any) -> dict[str, Any]:
    """The resolved configuration of a run, as `train_config.json` holds it: the config, the
    learning rate used and every algorithm option (defaults included)."""
    snapshot = {**cfg.to_json(), "learning_rate": learning_rate, "options": vars(options)}
    return json.loads(json.dumps(snapshot, default=_jsonable))


def save_resolved(
    cfg: TrainConfig,
    folder: Path,
    learning_rate: float,
    options: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    """The resolved configuration of a run (`resolved`) in `folder`, with `extra` entries
    (what the data made of the options: SFT's `loss_mask`)."""
    snapshot = {**resolved(cfg, learning_rate, options), **(extra or {})}
    (folder / CONFIG_FILE).write_text(json.dumps(snapshot, indent=2))


def _jsonable(x: Any) -> Any:
    """Options JSON cannot hold: sets as lists, callables (reward functions) by name."""
    if isinstance(x, (set, frozenset)):
        return sorted(x)
    return getattr(x, "__name__", None) or str(x)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Options from a YAML (or JSON) mapping."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file {str(p)!r} does not exist")
    text = p.read_text(encoding="utf-8")
    try:
        import yaml

        data = yaml.safe_load(text)
    except ImportError:  # pragma: no cover - pyyaml is in the train extra
        data = json.loads(text)
    except Exception as e:
        raise InputError(f"cannot parse {p}: {e}", hint="the config is a YAML mapping") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{p} must hold a mapping of option: value")
    return data
