"""Shared by the online trainers' tests: a toy reward, prompts, a trainer on a tiny model with
small defaults, and a fake TensorBoard tracker for the histograms."""

from __future__ import annotations

from typing import Any

COLORS = {"blue", "green", "red", "yellow"}
PROMPTS = [{"prompt": "what color is the sky ?"}, {"prompt": "what color is the sea ?"}]


def colors(completions, **kwargs):
    """The share of colour words: dense enough for a tiny random model to climb quickly."""
    return [sum(w in COLORS for w in c.split()) / max(1, len(c.split())) for c in completions]


def make_trainer(model_dir, out, algo, data=PROMPTS, log=lambda *_: None, **kw) -> Any:
    """A `Trainer` of `algo` on `data` (rewarded by `colors`), 4 new tokens, 20 steps."""
    from trlprep.trainers.loop import Trainer

    rewards = {} if algo == "gkd" else {"reward_fn": [colors]}
    options = {**rewards, "max_new_tokens": 4, **kw.pop("options", {})}
    cfg = dict(
        algo=algo,
        model=str(model_dir),
        data=data,
        output_dir=str(out),
        batch_size=kw.pop("batch_size", 4),
        max_steps=kw.pop("max_steps", 20),
        logging_steps=kw.pop("logging_steps", 1),
        save_steps=kw.pop("save_steps", 1000),
        learning_rate=kw.pop("learning_rate", 1e-2),
        progress=False,
        gradient_checkpointing=False,
        options=options,
        **kw,
    )
    return Trainer(cfg, log=log)


def series(history, key):
    """`key` in every training record that has it."""
    return [r[key] for r in history if key in r and "loss" in r]


class FakeTensorBoard:
    """An Accelerate tracker whose (unwrapped) writer records `add_histogram` calls."""

    name = "tensorboard"

    def __init__(self):
        self.histograms, self.scalars = [], []
        self.tracker = self

    def add_histogram(self, name, values, step):
        self.histograms.append((name, [float(x) for x in values], step))


class TrackingAcc:
    """What `MetricsLog` uses of an Accelerator, with one fake TensorBoard tracker (none when
    not `installed`, as Accelerate leaves it when the package is missing)."""

    is_main_process, num_processes = True, 1

    def __init__(self, installed: bool = True):
        self.tb = FakeTensorBoard()
        self.trackers = [self.tb] if installed else []
        self.config = None

    def init_trackers(self, project, config=None):
        self.config = config

    def log(self, values, step=None):
        self.tb.scalars.append((step, values))

    def end_training(self):
        pass
