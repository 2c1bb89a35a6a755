"""`trlprep train`: train a model on a dataset with one of the compact trainer's algorithms.

Options come from `--config train.yaml`, then from flags (which win). The common options and
the algorithm's own options (`--beta`, `--loss-type`, ...) are read from the dataclasses that
declare them, so `trlprep train --algo dpo --help` lists exactly what DPO takes. torch is
imported only when the command runs.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import typer

from trlprep.cli.app import command, out
from trlprep.cli.train_output import quiet_unless
from trlprep.conversion.unread import flag
from trlprep.errors import TrlprepError, UsageError
from trlprep.trainers.hub_bars import hub_output
from trlprep.trainers.hub_bars import main_process as is_main_process

_REQUIRED = ("algo", "model", "data", "output_dir")
_HIDDEN = ("options",)
# options of the command itself, not of the run (TrainConfig does not hold them)
_COMMAND_OPTIONS = {"overwrite": "bool"}
# TRL's (HfArgumentParser) option names -> ours, so a TRL command line mostly works as it is;
# names that only differ by `_`/`-` (--output_dir, --learning_rate, --beta, ...) need none
TRL_ALIASES = {
    "model_name_or_path": "model",
    "dataset_name": "data",
    "per_device_train_batch_size": "batch_size",
    "per_device_eval_batch_size": "eval_batch_size",
    "num_train_epochs": "num_epochs",
    "max_seq_length": "max_length",  # SFTConfig before TRL 0.20
    "resume_from_checkpoint": "resume",
    "overwrite_output_dir": "overwrite",
    "max_completion_length": "max_new_tokens",  # GRPOConfig, RLOOConfig, OnlineDPOConfig ...
    "response_length": "max_new_tokens",  # PPOConfig
}
# the names `trlprep convert` uses for the same options
_ALIASES = {
    **TRL_ALIASES, "from": "data_from", "map": "data_map", "template_kwarg": "template_kwargs"
}  # fmt: skip
# TRL options that change nothing here (trlprep trains, logs and saves by steps anyway)
TRL_IGNORED = (
    "do_train",
    "do_eval",
    "logging_strategy",
    "save_strategy",
    "eval_strategy",
    "evaluation_strategy",
    "logging_first_step",
)
_HELP = """Usage: trlprep train --algo ALGO --model PATH_OR_ID --data PATH --output-dir DIR
                     [--eval-data PATH] [--config train.yaml] [--OPTION VALUE ...]

Train a causal LM offline (sft, dpo, cpo, orpo, kto, bco) or online on its own generations
(grpo, rloo, online-dpo, nash-md, xpo, ppo, gkd), a reward model (reward) or a process
reward model (prm). The data is converted to the type the algorithm expects and rendered
with the chat template when it is conversational. Every option can be set in the YAML
config; flags override it; list options (--reward-fn, --reward-model) repeat.
Multi-GPU: `accelerate launch -m trlprep train ...`; several CPU processes:
`torchrun --nproc_per_node N -m trlprep train ...` (--batch-size is per process).
"""


_BOOL_WORDS = ("true", "false", "yes", "no", "1", "0")


def _said_as_flags(e: UsageError) -> UsageError:
    """A config check's error (written with config keys, as YAML and Python give them) with
    the keys it names said as this command's flags: `batch_size must be at least 1` ->
    `--batch-size must ...`, `missing required option(s): data, output_dir`, `did you mean
    learning_rate?`."""
    import re

    missing = "missing required option(s): "
    if e.message.startswith(missing):
        names = e.message[len(missing) :].split(", ")
        e.message = missing + ", ".join(flag(n) for n in names)
    else:
        e.message = re.sub(r"^([a-z][a-z0-9_]*) must ", lambda m: f"{flag(m[1])} must ", e.message)
    if e.hint:
        e.hint = re.sub(
            r"did you mean ([a-z][a-z0-9_]*)\?", lambda m: f"did you mean {flag(m[1])}?", e.hint
        )
    e.args = (e.message, *e.args[1:])
    return e


def _unknown_for(e: UsageError, algo: str) -> UsageError:
    """An unknown option's error naming the algorithms that take it, and this one's help."""
    from trlprep.trainers.algorithms import algorithms_taking

    if not e.message.startswith("unknown option --"):
        return e
    name = e.message.removeprefix("unknown option --").replace("-", "_")
    takers = algorithms_taking(name)
    if takers:
        e.message += f" for --algo {algo}: it is an option of {', '.join(takers)}"
    e.hint = f"`trlprep train --algo {algo} --help` lists {algo}'s options"
    e.args = (e.message, *e.args[1:])
    return e


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
        raise UsageError(f"{flag(name)} takes a number, not {raw!r}") from None
    if t.startswith("bool"):
        if raw.lower() in ("true", "yes", "1"):
            return True
        if raw.lower() in ("false", "no", "0"):
            return False
        if "str" in t:  # bool | str: --resume PATH
            return raw
        raise UsageError(f"{flag(name)} takes true or false, not {raw!r}")
    return raw


def _specs(algo_options: type | None) -> dict[str, str]:
    """Option name -> annotation string, common options first."""
    from trlprep.trainers.config import TrainConfig

    specs = {f.name: str(f.type) for f in fields(TrainConfig) if f.name not in _HIDDEN}
    specs.update(_COMMAND_OPTIONS)
    if algo_options is not None:
        specs.update({f.name: str(f.type) for f in fields(algo_options)})
    return specs


def parse_args(
    args: list[str], specs: dict[str, str], ignored: list[str] | None = None
) -> dict[str, Any]:
    """`--name value`, `--name=value`, `--flag`, `--no-flag` into typed values; TRL's names
    (`TRL_ALIASES`) as ours; TRL options without effect here are skipped (named in
    `ignored`)."""
    values: dict[str, Any] = {}
    ignored = ignored if ignored is not None else []
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--"):
            raise UsageError(
                f"unexpected argument {token!r}", hint="options look like --name VALUE"
            )
        key, _, inline = token[2:].partition("=")
        name = key.replace("-", "_")
        if name in TRL_IGNORED:
            nxt = args[i + 1] if i + 1 < len(args) else None
            i += 1 if inline or nxt is None or nxt.startswith("--") else 2
            ignored.append(name)
            continue
        name = _ALIASES.get(name, name)
        if name == "use_peft":  # TRL's LoRA switch; its rank defaults to 16 there
            on = _coerce(name, "bool", inline) if inline else True
            if on:
                values.setdefault("lora_r", 16)
            i += 1
            continue
        if name.startswith("no_"):
            name = "no_" + _ALIASES.get(name[3:], name[3:])
        negated = name.startswith("no_") and name[3:] in specs and _is_bool(specs[name[3:]])
        if negated:
            values[name[3:]] = False
            i += 1
            continue
        if name not in specs:
            raise UsageError(
                f"unknown option {flag(name)}",
                hint="see `trlprep train --algo ALGO --help` for the options",
            )
        t = specs[name]
        nxt = args[i + 1] if i + 1 < len(args) else None
        takes_value = nxt is not None and not nxt.startswith("--")
        if inline:
            value, i = _coerce(name, t, inline), i + 1
        elif _is_bool(t) and takes_value and nxt.lower() in _BOOL_WORDS:  # --flag true|false
            value, i = _coerce(name, t, nxt), i + 2
        elif _is_bool(t) or (name == "resume" and not takes_value):
            values[name] = True
            i += 1
            continue
        elif takes_value:
            value, i = _coerce(name, t, nxt), i + 2
        else:
            raise UsageError(f"{flag(name)} needs a value")
        if name == "template_kwargs":  # repeated key=value, parsed as convert parses them
            from trlprep.templates.options import parse_template_kwargs

            values[name] = {**values.get(name, {}), **parse_template_kwargs([value])}
        elif name in values and t.replace(" ", "").startswith("tuple"):  # a repeated list flag
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
    from trlprep.cli.train_help import help_for

    out.print("\nCommon options ([default]):", markup=False)
    for f in fields(TrainConfig):
        if f.name in _HIDDEN:
            continue
        default = "required" if f.name in _REQUIRED else _default(f)
        out.print(f"  {flag(f.name):34} {help_for(f.name)} [{default}]", markup=False)
    if algo_name:
        from trlprep.trainers.algorithms import get_algorithm

        a = get_algorithm(algo_name)
        out.print(
            f"\n{a.name} ({a.title}): trains on {' or '.join(a.accepts)} data, "
            f"learning rate {a.learning_rate:g} by default",
            markup=False,
        )
        for f in fields(a.options):
            out.print(f"  {flag(f.name):34} {help_for(f.name)} [{_default(f)}]", markup=False)
    else:
        out.print("\nAdd --algo ALGO to --help for that algorithm's options.", markup=False)
    out.print(
        "\n--config FILE                      YAML mapping of the options above"
        "\n--overwrite                        train into a non-empty --output-dir (the previous"
        "\n                                   run's files are removed once data and model load)",
        markup=False,
    )
    aliases = ", ".join(f"--{k} (--{v.replace('_', '-')})" for k, v in TRL_ALIASES.items())
    out.print(
        "\nTRL's option names work too: --output_dir, --learning_rate, ... (any option with _), "
        f"{aliases}, --use_peft (--lora-r 16); ignored: "
        + ", ".join("--" + n for n in TRL_IGNORED),
        markup=False,
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


def _probe_output_dir(folder: Path) -> None:
    """Before any data or model is loaded, make and remove a folder where the run will write
    (the output folder, or its nearest existing parent): a place that takes none (`/proc`, a
    read-only disk) is one message naming it, not a late traceback; nothing is left behind."""
    import tempfile

    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".trlprep-probe-", dir=existing))
    except OSError as e:
        from trlprep.errors import InputError

        reason = e.strerror or str(e) or type(e).__name__
        raise InputError(
            f"--output-dir {folder}: cannot create the folder: {reason}",
            hint="choose a folder you can write to (--output-dir DIR)",
        ) from None


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
        from trlprep.trainers.fieldtypes import coerce
        from trlprep.trainers.loop import Trainer
        from trlprep.trainers.metrics import METRICS_FILE
        from trlprep.trainers.preflight import check_output_dir, check_trackers
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
        config = {_ALIASES.get(k.replace("-", "_"), k): v for k, v in config.items()}
        del args[i : i + 2]
    algo_name = algo_name or config.get("algo")
    if not algo_name:
        raise UsageError("--algo is required", hint="one of: sft, dpo, cpo, orpo, kto, bco, ...")
    algo = get_algorithm(str(algo_name))
    ignored: list[str] = []
    try:
        given = parse_args(args, _specs(algo.options), ignored)
    except UsageError as e:
        raise _unknown_for(e, algo.name) from None
    if isinstance(config.get("template_kwargs"), dict) and "template_kwargs" in given:
        given["template_kwargs"] = {**config["template_kwargs"], **given["template_kwargs"]}
    config.update(given)
    main_process = is_main_process()
    for name in ignored if main_process else ():
        out.print(f"note: --{name} (a TRL option) changes nothing here; ignored", markup=False)
    overwrite = coerce("overwrite", config.pop("overwrite", False), "bool")
    try:
        cfg = TrainConfig.from_any(config)
    except UsageError as e:
        raise _said_as_flags(e) from None
    # before any data or model is loaded: trackers, and the output folder policy
    check_trackers(cfg.report_to, cfg.output_dir)
    if main_process:  # `accelerate launch`: one judges
        check_output_dir(cfg.output_dir, overwrite=overwrite, resume=cfg.resume)
        _probe_output_dir(Path(cfg.output_dir))
    from trlprep.trainers.hub_bars import shown

    bars = shown(cfg.progress)
    metrics = Path(cfg.output_dir) / METRICS_FILE
    log = lambda msg: out.print(msg, markup=False)  # noqa: E731
    with hub_output(bars, main_process):
        # checked above; --overwrite clears the previous run once the data and model are ready
        try:
            trainer = Trainer(cfg, log=log, overwrite=overwrite)
        except UsageError as e:
            raise quiet_unless(main_process, _said_as_flags(e)) from None
        except TrlprepError as e:  # the data's and the model's: the same in every process
            raise quiet_unless(main_process, e) from None
        result = trainer.train()
    if not result.main_process:  # the main process says the summary, once
        return
    last = ", ".join(f"{k} {v:.4g}" for k, v in result.last_metrics.items() if k != "epoch")
    steps = result.global_step
    said = f"trained {steps} step{'' if steps == 1 else 's'}"
    if result.resumed_at == steps:  # a finished run resumed: nothing was trained
        said = (
            f"nothing left to train: the run was resumed at its last step, {steps} (raise "
            "--max-steps or --num-epochs to train on)"
        )
    out.print(f"{said}; model saved to {result.output_dir}", markup=False)
    if last:
        out.print(last, markup=False)
    evals = [r for r in result.history if any(k.startswith("eval_") for k in r)]
    if evals:  # the last evaluation's, beside the training metrics
        said = ", ".join(f"{k} {v:.4g}" for k, v in evals[-1].items() if k.startswith("eval_"))
        out.print(f"evaluation at step {evals[-1]['step']}: {said}", markup=False)
    out.print(f"metrics: {metrics}", markup=False)
