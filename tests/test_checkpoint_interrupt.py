"""A checkpoint or final model interrupted while it is written (Ctrl-C, SIGTERM: both raise
in the main thread) leaves nothing half-written behind: no `checkpoint-N.tmp` folder, no
model without its tokenizer in the output folder."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


class _Model:
    """Writes its weights, then is interrupted (Ctrl-C) when `stop` says so."""

    def __init__(self, stop: bool = False):
        self.stop = stop

    def save_pretrained(self, folder, **_):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"weights")


class _Tokenizer(_Model):
    def save_pretrained(self, folder, **_):
        if self.stop:
            raise KeyboardInterrupt
        (folder / "tokenizer.json").write_text("{}")


def test_an_interrupted_checkpoint_leaves_no_folder(tmp_path):
    import torch
    from trlprep.trainers.checkpoint import checkpoints, save_step

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    kw = dict(step=2, position=(0, 2), num_tokens=8, algo="dpo", algo_state={})
    with pytest.raises(KeyboardInterrupt):
        save_step(tmp_path / "checkpoint-2", _Model(), _Tokenizer(stop=True), opt, sched, **kw)
    assert list(tmp_path.iterdir()) == []  # neither checkpoint-2 nor checkpoint-2.tmp
    save_step(tmp_path / "checkpoint-2", _Model(), _Tokenizer(), opt, sched, **kw)
    assert checkpoints(tmp_path) == [tmp_path / "checkpoint-2"]


def test_an_interrupted_final_model_leaves_no_model_without_its_tokenizer(tmp_path):
    from trlprep.trainers.checkpoint import save_final

    (tmp_path / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(KeyboardInterrupt):
        save_final(tmp_path, _Model(), _Tokenizer(stop=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]
    save_final(tmp_path, _Model(), _Tokenizer())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "metrics.jsonl",
        "model.safetensors",
        "tokenizer.json",
    ]


def test_a_rotation_interrupted_while_deleting_leaves_no_checkpoint_without_weights(
    tmp_path, monkeypatch
):
    """`--save-total-limit`: the oldest checkpoint stopped half-deleted (its weights gone, its
    trainer state not yet) is no checkpoint any more, and the next rotation removes it."""
    import shutil

    from trlprep.trainers import checkpoint as ckpt

    for step in (1, 2, 3):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / ckpt.STATE_FILE).write_bytes(b"state")
        (folder / "model.safetensors").write_bytes(b"weights")
    real_rmtree = shutil.rmtree

    def stopped(path, *a, **kw):  # the weights deleted, then Ctrl-C
        (path / "model.safetensors").unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.shutil, "rmtree", stopped)
    with pytest.raises(KeyboardInterrupt):
        ckpt.rotate(tmp_path, keep=2)
    assert [p.name for p in ckpt.checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-3"]
    monkeypatch.setattr(ckpt.shutil, "rmtree", real_rmtree)
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "checkpoint-4" / ckpt.STATE_FILE).write_bytes(b"state")
    ckpt.rotate(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-3", "checkpoint-4"]
