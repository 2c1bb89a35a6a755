"""`trlprep train`: train a model on a dataset with one of the compact trainer's algorithms.

Options come from `--config train.yaml`, then from flags (which win). The common options and
the algorithm's own options (`--beta`, `--loss-type`, ...) are read from the dataclasses that
declare them, so `trlprep train --algo dpo --help` lists exactly what DPO takes. torch is
imported only when the command runs.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import typer

from trlprep.cli.app import command, out
from trlprep.errors import UsageError

_REQUIRED = ("algo", "model", "data", "output_dir")
_HIDDEN = ("options", "progress")
_HELP = """Usage: trlprep train --algo ALGO --model PATH_OR_ID --data PATH --output-dir DIR
                     [--eval-data PATH] [--config train.yaml] [--OPTION VALUE ...]

Train a causal LM offline (sft, dpo, cpo, orpo, kto, bco) or online on its own generations
(grpo, rloo, online-dpo, nash-md, xpo, ppo, gkd), a reward model (reward) or a process
reward model (prm). The data is converted to the type the algorithm expects and rendered
with the chat template when it is conversational. Every option can be set in the YAML
config; flags override it; list options (--reward-fn, --reward-model) repeat.
Multi-GPU: `accelerate launch -m trlprep train ...`.
"""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_bool(type_str: str) -> bool:
    return type_str.replace(" ", "") in ("bool", "bool|None")


def _coerce(name: str, type_str: str, raw: str) -> Any:
    t = type_str.replace(" ", "")
    if raw.lower() == "none" and "None" in t:
        return None
    try:
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
    except ValueError:
        raise UsageError(f"{_flag(name)} takes a number, not {raw!r}") from None
    if t.startswith("bool"):
        if raw.lower() in ("true", "yes", "1"):
            return True
        if raw.lower() in ("false", "no", "0"):
            return False
        raise UsageError(f"{_flag(name)} takes true or false, not {raw!r}")
    return raw


def _specs(algo_options: type | None) -> dict[str, str]:
    """Option name -> annotation string, common options first."""
    from trlprep.trainers.config import TrainConfig

    specs = {f.name: str(f.type) for f in fields(TrainConfig) if f.name not in _HIDDEN}
    if algo_options is not None:
        specs.update({f.name: str(f.type) for f in fields(algo_options)})
    return specs


def parse_args(args: list[str], specs: dict[str, str]) -> dict[str, Any]:
    """`--name value`, `--name=value`, `--flag`, `--no-flag` into typed values."""
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--"):
            raise UsageError(
                f"unexpected argument {token!r}", hint="options look like --name VALUE"
            )
        key, _, inline = token[2:].partition("=")
        name = key.replace("-", "_")
        negated = name.startswith("no_") and name[3:] in specs and _is_bool(specs[name[3:]])
        if negated:
            values[name[3:]] = False
            i += 1
            continue
        if name not in specs:
            raise UsageError(
                f"unknown option {_flag(name)}",
                hint="see `trlprep train --algo ALGO --help` for the options",
            )
        t = specs[name]
        nxt = args[i + 1] if i + 1 < len(args) else None
        takes_value = nxt is not None and not nxt.startswith("--")
        if inline:
            value, i = _coerce(name, t, inline), i + 1
        elif _is_bool(t) or (name == "resume" and not takes_value):
            values[name] = True
            i += 1
            continue
        elif takes_value:
            value, i = _coerce(name, t, nxt), i + 2
        else:
            raise UsageError(f"{_flag(name)} needs a value")
        if name in values and t.replace(" ", "").startswith("tuple"):  # a repeated list flag
            before = values[name]
            values[name] = [*(before if isinstance(before, list) else [before]), value]
        else:
            values[name] = value
    return values


def _print_help(algo_name: str | None) -> None:
    out.print(_HELP, markup=False)
    try:
        from trlprep.trainers.algorithms import ALGORITHMS
        from trlprep.trainers.config import TrainConfig
    except ImportError as e:
        out.print(f"(install the train extra to see every option: {e})", markup=False)
        return
    out.print("Algorithms: " + ", ".join(ALGORITHMS), markup=False)
    out.print("\nCommon options (default):", markup=False)
    for f in fields(TrainConfig):
        if f.name in _HIDDEN:
            continue
        default = "required" if f.name in _REQUIRED else _default(f)
        out.print(f"  {_flag(f.name):34} {default}", markup=False)
    if algo_name:
        from trlprep.trainers.algorithms import get_algorithm

        a = get_algorithm(algo_name)
        out.print(
            f"\n{a.name} ({a.title}): trains on {' or '.join(a.accepts)} data, "
            f"learning rate {a.learning_rate:g} by default",
            markup=False,
        )
        for f in fields(a.options):
            out.print(f"  {_flag(f.name):34} {_default(f)}", markup=False)
    else:
        out.print("\nAdd --algo ALGO to --help for that algorithm's options.", markup=False)
    out.print(
        "\n--config FILE                      YAML mapping of the options above", markup=False
    )


def _default(f: Any) -> str:
    if f.default is not MISSING:
        d = f.default
    elif f.default_factory is not MISSING:
        d = f.default_factory()
    else:
        return "required"
    if isinstance(d, tuple):
        return ",".join(map(str, d)) or "none"
    return repr(d) if isinstance(d, str) else str(d)


@command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def train_command(ctx: typer.Context) -> None:
    """Train with sft, dpo, grpo, ppo, ... or reward/prm models (`trlprep train --help`)."""
    args = list(ctx.args)
    algo_name = None
    for i, a in enumerate(args):
        if a == "--algo" and i + 1 < len(args):
            algo_name = args[i + 1]
        elif a.startswith("--algo="):
            algo_name = a.split("=", 1)[1]
    if "--help" in args or "-h" in args or not args:
        _print_help(algo_name)
        return
    try:
        from trlprep.trainers.algorithms import get_algorithm
        from trlprep.trainers.config import TrainConfig, load_config_file
        from trlprep.trainers.loop import train
    except ImportError as e:
        raise UsageError(
            f"training needs PyTorch and Accelerate ({e})",
            hint="pip install 'trlprep[train]'",
        ) from None

    config: dict[str, Any] = {}
    if "--config" in args:
        i = args.index("--config")
        if i + 1 >= len(args):
            raise UsageError("--config needs a file")
        config = load_config_file(args[i + 1])
        del args[i : i + 2]
    algo_name = algo_name or config.get("algo")
    if not algo_name:
        raise UsageError("--algo is required", hint="one of: sft, dpo, cpo, orpo, kto, bco, ...")
    algo = get_algorithm(str(algo_name))
    config.update(parse_args(args, _specs(algo.options)))
    cfg = TrainConfig.from_any(config)
    result = train(cfg, log=lambda msg: out.print(msg, markup=False))
    last = ", ".join(f"{k} {v:.4g}" for k, v in result.last_metrics.items() if k != "epoch")
    out.print(
        f"trained {result.global_step} steps; model saved to {result.output_dir}", markup=False
    )
    if last:
        out.print(last, markup=False)
