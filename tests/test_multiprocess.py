"""Training on 2 processes (gloo on CPU, as `torchrun --nproc_per_node 2` starts them) equals
one process with the same global batch: the same rows each step, the same losses, metrics,
epoch, token counts and final weights; files written once; resuming exact; evaluation
sharded without duplicates. Every run's optimizer step takes 4 rows (1 process x 4, or
2 processes x 2, or 2 processes x 1 x 2 micro-batches), with ragged last steps on purpose
(a last global micro-batch of 1 row: one process has none and runs a filler row, which
must change nothing: KTO's KL estimate, BCO's running mean, losses, metrics, token counts).
KTO's KL estimate is that of the optimizer step's whole global batch, so it is the same on
1 process x 4 rows, 1 process x 2 rows x 2 micro-batches and 2 processes x 1 row x 2;
BCO's running mean is updated per global micro-batch (as TRL's), so it is compared with
the same global micro-batch on 1 and 2 processes.

The 2-process runs of every case happen in one spawn (start-up is most of the cost)."""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from train_support import save_tiny_model  # noqa: E402

COLORS = [
    ("sky", "blue", "green"),
    ("grass", "green", "red"),
    ("sun", "yellow", "blue"),
    ("sea", "blue", "yellow"),
    ("cat", "red", "dog"),
    ("dog", "yellow green", "cat"),
    ("world", "green", "five six"),
    ("sky", "blue", "red red"),
    ("sea", "blue green", "yellow"),
]
PREFERENCE = [
    {"prompt": f"what color is the {a} ?", "chosen": f" {b} .", "rejected": f" {c} ."}
    for a, b, c in COLORS
]  # 9 rows: global micro-batches of 4, 4, 1
UNPAIRED = [
    {"prompt": f"what color is the {a} ?", "completion": f" {c} .", "label": ok}
    for i, (a, b, _) in enumerate(COLORS)
    for c, ok in ((b, i % 3 != 1), (b + " no", i % 3 == 1))
][:10]  # 10 rows: 4, 4, 2
STEPS = [
    ("two plus two equals four", "so four", "hence four"),
    ("two plus three equals five",),
    ("two plus two equals five", "so five"),
    ("two plus three equals six", "so six", "hence six", "wrong"),
    ("three plus four equals seven",),
]
STEPWISE = [
    {
        "prompt": "what is the answer ?",
        "completions": list(steps),
        "labels": [("five" in x) == (i % 2 == 1) for x in steps],
    }
    for i, steps in enumerate(STEPS * 2)
][:9]  # 9 rows of 1 to 4 labelled steps: a mean over each process's rows is not the step's
TEXT = [{"text": " ".join(["the sky is blue ."] * (1 + i % 3) + ["so"] * i)} for i in range(5)]
# 5 rows: global micro-batches of 4 and 1 (a filler on the second process)

BASE = dict(
    logging_steps=1,
    save_steps=1000,
    learning_rate=1e-2,
    progress=False,
    gradient_checkpointing=False,
    eval_data=None,
)
# name: (config, batch size per process on 1 and 2 processes, or the options that differ)
# (evaluated at the end on 5 rows: global batches of 4 and 1; checkpoints every 2 steps)
CASES = {
    "dpo": (
        dict(algo="dpo", data=PREFERENCE, eval_data=PREFERENCE[:5], max_steps=4, save_steps=2),
        (4, 2),
    ),
    "kto": (dict(algo="kto", data=UNPAIRED, max_steps=3), (4, 2)),
    "sft": (dict(algo="sft", data=TEXT, max_steps=2, gradient_accumulation_steps=2), (4, 2)),
    # 9 rows, 3 steps an epoch (4, 4, 1 rows), 4 steps: the ragged step, then epoch 2
    "kto-steps": (
        dict(algo="kto", data=UNPAIRED[:9], eval_data=UNPAIRED[:5], max_steps=4),
        (dict(batch_size=4), dict(batch_size=1, gradient_accumulation_steps=2)),
    ),
    "bco": (dict(algo="bco", data=UNPAIRED[:9], eval_data=UNPAIRED[:5], max_steps=4), (4, 2)),
    # PRM's loss and accuracy: over the labelled tokens of the whole step; the reward
    # model's min/max: of the global micro-batch (both were means of each process's)
    "prm": (
        dict(algo="prm", data=STEPWISE, eval_data=STEPWISE[:5], max_steps=3, step_separator=" ."),
        (4, 2),
    ),
    "reward": (dict(algo="reward", data=PREFERENCE, max_steps=3), (4, 2)),
}
# GRPO on 2 processes x 2 completions a step (its samples are random: no one-process twin)
GRPO = dict(
    BASE,
    algo="grpo",
    data=[{"prompt": f"what color is the {a} ?"} for a, _, _ in COLORS],
    batch_size=2,
    max_steps=2,
    options={"reward_fn": ["length"], "num_generations": 2, "max_new_tokens": 3},
)
# run on this process only, compared with a case's one-process run
ONE_PROCESS = {"kto-accum": ("kto-steps", dict(batch_size=2, gradient_accumulation_steps=2))}


def _config(model, out, name, world, options=None):
    cfg, sizes = CASES[name]
    size = sizes[0] if world == 1 else sizes[1]
    size = options or (size if isinstance(size, dict) else {"batch_size": size})
    kw = {**BASE, **cfg, **size}
    kw.setdefault("eval_batch_size", 4 // world)
    return dict(model=str(model), output_dir=str(out), **kw)


def _worker(rank, world, port, model, root, q):
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from trlprep.trainers.loop import Trainer

    try:
        for name in CASES:
            Trainer(_config(model, f"{root}/{name}", name, world), log=lambda *_: None).train()
        # resume the uninterrupted run's checkpoint-2 in a folder of its own
        part = f"{root}/resume-part"
        if rank == 0:
            os.makedirs(part)
            shutil.copytree(f"{root}/dpo/checkpoint-2", f"{part}/checkpoint-2")
        torch.distributed.barrier()  # joined by the first Trainer's Accelerator
        cfg = _config(model, part, "dpo", world)
        Trainer({**cfg, "resume": True}, log=lambda *_: None).train()
        grpo = {**GRPO, "model": str(model), "output_dir": f"{root}/grpo"}
        Trainer(grpo, log=lambda *_: None).train()
        q.put((rank, None))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        import traceback

        q.put((rank, traceback.format_exc() + repr(e)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import torch.multiprocessing as mp

    root = tmp_path_factory.mktemp("mp")
    model = save_tiny_model(root / "model")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_worker, args=(r, 2, port, model, str(root / "two"), q))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    # meanwhile, the same cases on this process alone
    from trlprep.trainers.loop import Trainer

    for name in CASES:
        Trainer(_config(model, root / "one" / name, name, 1), log=lambda *_: None).train()
    for name, (case, options) in ONE_PROCESS.items():
        cfg = _config(model, root / "one" / name, case, 1, options)
        Trainer(cfg, log=lambda *_: None).train()
    errors = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    failed = [f"rank {r}:\n{e}" for r, e in errors if e]
    assert not failed, "\n".join(failed)
    return root


def _logged(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def _assert_same_records(one, two):
    assert [r["step"] for r in two] == [r["step"] for r in one]  # written once, each step
    for a, b in zip(one, two, strict=True):
        assert sorted(a) == sorted(b)
        for key in a:
            if key == "train_steps_per_second":
                continue
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), (a["step"], key)


def _assert_same_weights(a, b):
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-3, atol=1e-4)  # Adam: grads ~0


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_processes_train_as_one(runs, name):
    one, two = _logged(runs / "one" / name), _logged(runs / "two" / name)
    _assert_same_records(one, two)
    tokens = [[r["num_tokens"] for r in run if "num_tokens" in r] for run in (one, two)]
    assert tokens[1] == tokens[0] and tokens[0][-1] > 0  # counted over processes
    _assert_same_weights(runs / "one" / name, runs / "two" / name)


def test_dpo_steps_cover_the_epoch_as_one_process(runs):
    epochs = [r["epoch"] for r in _logged(runs / "two" / "dpo") if "epoch" in r]
    assert epochs == [round(x, 4) for x in (1 / 3, 2 / 3, 1.0, 4 / 3)]  # 9 rows, 4 a step


def test_evaluation_shards_and_pools_every_row_once(runs):
    one, two = _logged(runs / "one" / "dpo"), _logged(runs / "two" / "dpo")
    assert [r["eval_loss"] for r in two if "eval_loss" in r] == pytest.approx(
        [r["eval_loss"] for r in one if "eval_loss" in r], rel=1e-5
    )
    assert len([r for r in two if "eval_loss" in r]) == 1


def test_checkpoints_are_written_once_and_resuming_is_exact(runs):
    full, part = runs / "two" / "dpo", runs / "two" / "resume-part"
    assert sorted(p.name for p in full.iterdir() if p.name.startswith("checkpoint")) == [
        "checkpoint-2",
        "checkpoint-4",
    ]
    assert not list(full.glob("*.tmp"))
    want = {r["step"]: r for r in _logged(full) if "loss" in r}
    got = [r for r in _logged(part) if "loss" in r]
    assert [r["step"] for r in got] == [3, 4]
    for r in got:
        for key in ("loss", "rewards/margins", "learning_rate", "num_tokens", "epoch"):
            assert r[key] == pytest.approx(want[r["step"]][key], rel=1e-6, abs=1e-9), key
    _assert_same_weights(full, part)


def test_completions_of_every_process_are_written(runs):
    """`completions.jsonl` holds each step's whole global batch (it held the main process's
    half: 2 of 4 completions a step)."""
    lines = (runs / "two" / "grpo" / "completions.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == [1] * 4 + [2] * 4


def test_kto_kl_is_the_whole_steps_whatever_processes_and_accumulation(runs):
    """1 x 4 rows, 1 x 2 rows x 2 micro-batches, 2 x 1 row x 2: the same KL each step (and
    the same losses and metrics), the ragged last step's filler row left out."""
    whole = _logged(runs / "one" / "kto-steps")
    _assert_same_records(whole, _logged(runs / "one" / "kto-accum"))
    _assert_same_records(whole, _logged(runs / "two" / "kto-steps"))
    kl = [r["kl"] for r in whole if "kl" in r]
    assert len(kl) == 4 and max(kl) > 0.1  # an estimate above its clamp at 0 is compared
    assert [r["epoch"] for r in whole if "epoch" in r] == [
        round(x, 4) for x in (1 / 3, 2 / 3, 1.0, 4 / 3)
    ]
    assert [r["eval_kl"] for r in _logged(runs / "two" / "kto-steps") if "eval_kl" in r]


def test_bco_running_mean_leaves_filler_rows_out(runs):
    one, two = _logged(runs / "one" / "bco"), _logged(runs / "two" / "bco")
    deltas = [(a["delta"], b["delta"]) for a, b in zip(one, two, strict=True) if "delta" in a]
    assert len(deltas) == 4 and len({a for a, _ in deltas}) == 4  # it moves every step
    for a, b in deltas:  # a filler row (the global micro-batch's first) would shift it
        assert b == pytest.approx(a, rel=1e-5, abs=1e-7)
    state = torch.load(
        runs / "two" / "bco" / "checkpoint-4" / "trainer_state.pt", weights_only=False
    )
    assert state["algo_state"]["running"]["count"] == pytest.approx(9 + 4, rel=1e-6)


@pytest.mark.parametrize(
    "split",
    [(1, 4, 1), (1, 2, 2), (1, 1, 4), (2, 2, 1), (2, 1, 2), (4, 1, 1)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_kto_pairs_are_the_steps_whatever_the_split(split):
    """The mismatched (prompt, completion) pairs of each optimizer step are the same set
    for every (processes, batch size, accumulation) with 4 rows a step, over 2 epochs of 9
    rows (steps of 4, 4, 1)."""
    from trlprep.trainers.sampling import BatchStream

    world, batch, accumulation = split
    rows = {"prompt": [f"p{i}" for i in range(9)], "completion": [f"c{i}" for i in range(9)]}

    def steps(world, batch, accumulation):
        streams = [
            BatchStream(
                rows,
                batch,
                seed=1,
                rank=r,
                world=world,
                pair_previous="completion",
                accumulation=accumulation,
            )
            for r in range(world)
        ]
        out = []
        for epoch in range(2):
            per_epoch = streams[0].per_epoch
            for first in range(0, per_epoch, accumulation):
                pairs = {
                    (row["prompt"], row["kl_completion"])
                    for s in streams
                    for index in range(first, min(first + accumulation, per_epoch))
                    for row in s.batch(epoch, index)
                }
                out.append(pairs)
        return out

    want = steps(1, 4, 1)
    assert [len(p) for p in want] == [4, 4, 1, 4, 4, 1]
    assert all(c[1:] != p[1:] for step in want[:2] for p, c in step)  # mismatched
    assert steps(world, batch, accumulation) == want
