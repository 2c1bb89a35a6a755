"""The Accelerate configs shipped in examples/accelerate/ load with Accelerate's own config
loader and launcher, and FSDP's resolves to sharding the model's decoder layer.

FSDP cannot run on CPU with Accelerate (it takes FSDP only for GPU-like distributed types,
not MULTI_CPU), and DeepSpeed is not installed: these configs are checked, not run."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from train_support import save_tiny_model  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "accelerate"
KINDS = {"ddp": "MULTI_GPU", "fsdp": "FSDP", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_configs_load_with_accelerates_loader(name):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert cfg.distributed_type.value == KINDS[name]
    assert cfg.num_processes > 1 and not cfg.use_cpu
    if name.startswith("zero"):
        assert cfg.deepspeed_config["zero_stage"] == int(name[-1])
        assert cfg.deepspeed_config["zero3_init_flag"] is (name == "zero3")


def _fsdp_environment() -> dict[str, str]:
    """The environment `accelerate launch --config_file fsdp.yaml` gives each process."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    argv = ["--config_file", str(CONFIGS / "fsdp.yaml"), "-m", "trlprep", "train"]
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(argv))
    assert args.use_fsdp
    env = prepare_multi_gpu_env(args)
    return {k: v for k, v in env.items() if k.startswith(("FSDP_", "ACCELERATE_USE_FSDP"))}


def test_fsdp_config_fully_shards_the_trained_models_decoder_layers(tmp_path, monkeypatch):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from trlprep.trainers.loop import Trainer

    env = _fsdp_environment()
    assert env["FSDP_VERSION"] == "2" and env["FSDP_RESHARD_AFTER_FORWARD"] == "true"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    # the module the trainer hands to Accelerate (the log-prob wrapper around the model)
    model = save_tiny_model(tmp_path / "model")
    cfg = dict(
        algo="sft",
        model=str(model),
        data=[{"text": "the sky is blue ."}] * 2,
        output_dir=str(tmp_path / "out"),
        batch_size=2,
        max_steps=1,
        progress=False,
    )
    for k in env:  # the Trainer itself runs without FSDP here (one CPU process)
        monkeypatch.delenv(k)
    trained = Trainer(cfg, log=lambda *_: None)
    module = trained.acc.unwrap_model(trained.policy)
    policy = fsdp2_prepare_auto_wrap_policy(plugin, module)
    wrapped = [type(m).__name__ for m in module.modules() if policy(m)]
    assert wrapped == ["LlamaDecoderLayer"] * 2  # each of the 2 decoder layers, nothing else
