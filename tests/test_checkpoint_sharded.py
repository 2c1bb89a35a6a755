"""Checkpoints of a sharded run (FSDP, DeepSpeed), with an Accelerator stand-in (neither
runs on CPU): the gathered weights are what gets saved, the optimizer's shards go through
Accelerate's own state, only the main process writes, and resuming refuses a checkpoint
written by the other kind of run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_support import make_tokenizer, tiny_causal_lm  # noqa: E402
from trlprep.trainers import checkpoint as ckpt  # noqa: E402

from trlprep.errors import UsageError  # noqa: E402


class Acc:
    """The Accelerator calls a checkpoint makes, recorded."""

    def __init__(self, kind: str, main: bool = True):
        self.distributed_type = SimpleNamespace(value=kind)
        self.is_main_process = main
        self.saved: list[str] = []
        self.loaded: list[str] = []

    def wait_for_everyone(self) -> None:
        pass

    def save_state(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / f"optimizer_{int(not self.is_main_process)}.bin").write_bytes(b"shard")
        self.saved.append(path)

    def load_state(self, path: str) -> None:
        self.loaded.append(path)

    def get_state_dict(self, module):
        return {k: v.clone() for k, v in module.state_dict().items()}


def _save(folder: Path, acc: Acc, model, state_dict=None):
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return ckpt.save_step(
        folder, model, make_tokenizer(), opt, sched, step=2, position=(0, 2), num_tokens=10,
        algo="sft", algo_state={}, acc=acc, state_dict=state_dict,
    ), opt, sched  # fmt: skip


def test_sharded_checkpoint_saves_the_gathered_weights_and_accelerates_state(tmp_path):
    from transformers import AutoModelForCausalLM

    model = tiny_causal_lm(64)
    acc = Acc("FSDP")
    assert ckpt.is_sharded(acc) and not ckpt.is_sharded(Acc("MULTI_CPU"))
    wrapper = torch.nn.Module()
    wrapper.model = model
    gathered = ckpt.full_state_dict(acc, wrapper, "model.")
    assert set(gathered) == set(model.state_dict())
    gathered = {k: torch.full_like(v, 0.5) for k, v in gathered.items()}  # as if trained
    folder, _, _ = _save(tmp_path / "checkpoint-2", acc, model, gathered)
    assert acc.saved == [str(tmp_path / "checkpoint-2.tmp" / ckpt.ACCELERATE_STATE)]
    assert (folder / ckpt.ACCELERATE_STATE / "optimizer_0.bin").exists()
    assert not (tmp_path / "checkpoint-2.tmp").exists()
    state = torch.load(folder / ckpt.STATE_FILE, weights_only=False)
    assert "optimizer" not in state and state["global_step"] == 2
    saved = AutoModelForCausalLM.from_pretrained(folder)
    assert all(torch.all(p == 0.5) for p in saved.parameters())


def test_only_the_main_process_writes_files(tmp_path):
    model = tiny_causal_lm(64)
    other = Acc("DEEPSPEED", main=False)
    (tmp_path / "checkpoint-2.tmp").mkdir()  # the main process made it
    _save(tmp_path / "checkpoint-2", other, model, {})
    assert other.saved  # its optimizer shard, in Accelerate's state
    assert sorted(p.name for p in (tmp_path / "checkpoint-2.tmp").iterdir()) == [
        ckpt.ACCELERATE_STATE
    ]


def test_resuming_needs_the_kind_of_run_that_wrote_the_checkpoint(tmp_path):
    model = tiny_causal_lm(64)
    plain, opt, sched = _save(tmp_path / "plain" / "checkpoint-2", None, model)
    sharded, _, _ = _save(tmp_path / "sharded" / "checkpoint-2", Acc("FSDP"), model, {})
    with pytest.raises(UsageError, match="written by a sharded"):
        ckpt.restore(sharded, opt, sched, "sft", Acc("MULTI_CPU"))
    with pytest.raises(UsageError, match="written by an unsharded"):
        ckpt.restore(plain, opt, sched, "sft", Acc("FSDP"))
    acc = Acc("FSDP")
    state = ckpt.restore(sharded, opt, sched, "sft", acc)
    assert acc.loaded == [str(sharded / ckpt.ACCELERATE_STATE)]
    assert (state["global_step"], state["epoch"], state["batch_index"]) == (2, 0, 2)
    assert ckpt.restore(plain, opt, sched, "sft", None)["global_step"] == 2
