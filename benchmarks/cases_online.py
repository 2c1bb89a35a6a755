"""Online algorithms: generation + update throughput, trlprep vs TRL's GRPO and RLOO trainers.

    python -m benchmarks online -- [--algos grpo,rloo,online-dpo,ppo] [--steps 4]
                                   [--vocab 32000] [--prompt-len 64] [--new-tokens 64]
    python -m benchmarks.cases_online [same options]

A small Llama (random weights, from a config) on synthetic prompts of `--prompt-len` tokens;
every step samples `--batch` completions of up to `--new-tokens` tokens (GRPO/RLOO: groups of
`--generations` per prompt; Online DPO: pairs; PPO: one per prompt, one PPO epoch), scores
them with a length reward and updates the policy. Each trainer runs in a fresh process (fp32
on CPU, bf16 on GPU). Reported per optimizer step (median over the steps after the first):
wall time, the share spent in `generate`, completion tokens generated per second (whole
step), and peak memory (RSS on CPU, allocated CUDA memory on GPU); the fastest of `--repeat`
runs counts. TRL 1.x has GRPO and RLOO trainers with the same sampling and loss, so those
two are compared in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from benchmarks.cases_train import _build, _option, _peak_cuda, _reset_peak_rss, phases
from benchmarks.measure import (
    device_name,
    exit_if_failed,
    print_row,
    print_table,
    print_time_spent,
    step_timer,
    tried,
)


def length_reward(completions: list, **kwargs: Any) -> list[float]:
    """Longer completions score higher (any cheap reward does: this measures the machinery)."""
    return [float(len(c)) for c in completions]


def _prompts(workdir: Path, vocab: int, prompt_len: int, rows: int) -> Path:
    rng = random.Random(0)
    path = workdir / f"prompts-{prompt_len}.jsonl"
    with open(path, "w") as f:
        for _ in range(rows):
            text = " ".join(f"w{rng.randrange(vocab - 4)}" for _ in range(prompt_len - 1))
            f.write(json.dumps({"prompt": " " + text}) + "\n")
    return path


def _summary(times: list[float], gen: list[float], tokens: list[float]) -> dict[str, float]:
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    step = statistics.median(steps) if steps else float("nan")
    per_step_tokens = statistics.median(tokens[1:]) if len(tokens) > 1 else float("nan")
    gen_share = sum(gen[1 : len(steps) + 1]) / sum(steps) if steps else float("nan")
    return {
        "step_s": step,
        "gen_share": gen_share,
        "tokens_per_s": per_step_tokens / step,
        "cuda_peak_mb": _peak_cuda(),
        "device": device_name(),
    }


def run_trlprep(algo: str, model: str, data: str, out: str, a: dict) -> tuple:
    started = time.perf_counter()
    import torch
    import trlprep.trainers
    from trlprep.trainers.loop import Trainer

    # the module whose `generate` the trainer calls: trainers/online/ since the online
    # algorithms moved there; gpu.sh's baseline (04dfc56^) has it in trainers/. Looked up on
    # disk rather than tried: an editable install of today's tree would answer the import.
    if (Path(trlprep.trainers.__file__).parent / "online").is_dir():
        from trlprep.trainers.online import rollout
    else:
        from trlprep.trainers import rollout  # type: ignore[no-redef]

    gpu = torch.cuda.is_available()
    options: dict[str, Any] = {"reward_fn": [length_reward], "max_new_tokens": a["new_tokens"]}
    options.update(a["set"])
    batch = a["batch"]
    if algo in ("grpo", "rloo"):
        options["num_generations"] = a["generations"]
    elif algo == "ppo":
        options["num_ppo_epochs"] = 1
    else:
        batch //= 2  # pairs: two completions per prompt
    t = Trainer(
        dict(
            algo=algo,
            model=model,
            data=data,
            output_dir=out,
            max_steps=a["steps"],
            batch_size=batch,
            max_length=None,
            logging_steps=1,
            save_steps=10**6,
            bf16=gpu,
            progress=False,
            gradient_checkpointing=True,
            options=options,
        ),  # fmt: skip
        log=lambda *_: None,
    )
    times: list[float] = []
    gen: list[float] = []
    step, generate = t.scheduler.step, rollout.generate

    def timed_step() -> None:
        step()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    def timed_generate(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = generate(*args, **kwargs)
        if gpu:
            torch.cuda.synchronize()
        gen.append(time.perf_counter() - t0)
        return out

    t.scheduler.step, rollout.generate = timed_step, timed_generate
    t.save = lambda: None
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    _reset_peak_rss()
    training = time.perf_counter()
    history = t.train().history
    spent = phases(started, training)
    # generations per step (Online DPO and XPO call generate twice a step)
    per_step = len(gen) // a["steps"]
    gen = [sum(gen[i : i + per_step]) for i in range(0, len(gen), per_step)]
    key = "tokens/responses_len_mean" if algo == "ppo" else "completions/mean_length"
    tokens = [r[key] * a["batch"] for r in history if key in r]
    return times[-1] - times[0], a["steps"], {**_summary(times, gen, tokens), **spent}


def run_trl(algo: str, model: str, data: str, out: str, a: dict) -> tuple:
    started = time.perf_counter()
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gpu = torch.cuda.is_available()
    timer, times = step_timer()
    gen: list[float] = []

    ds = load_dataset("json", data_files=data, split="train")
    tok = AutoTokenizer.from_pretrained(model)
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    common = dict(
        output_dir=out, max_steps=a["steps"], per_device_train_batch_size=a["batch"],
        num_generations=a["generations"], max_completion_length=a["new_tokens"],
        logging_steps=1, save_strategy="no", report_to="none", bf16=gpu, use_cpu=not gpu,
        gradient_checkpointing=True,
    )  # fmt: skip
    if algo == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        trainer = GRPOTrainer(
            m, reward_funcs=length_reward, args=GRPOConfig(**common), train_dataset=ds,
            processing_class=tok,
        )  # fmt: skip
    else:
        from trl import RLOOConfig, RLOOTrainer

        trainer = RLOOTrainer(
            m, reward_funcs=length_reward, args=RLOOConfig(**common), train_dataset=ds,
            processing_class=tok,
        )  # fmt: skip
    generate = trainer.model.generate

    def timed_generate(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = generate(*args, **kwargs)
        if gpu:
            torch.cuda.synchronize()
        gen.append(time.perf_counter() - t0)
        return out

    trainer.model.generate = timed_generate
    trainer.add_callback(timer)
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    _reset_peak_rss()
    training = time.perf_counter()
    trainer.train()
    spent = phases(started, training)
    key = "completions/mean_length"
    tokens = [r[key] * a["batch"] for r in trainer.state.log_history if key in r]
    return times[-1] - times[0], a["steps"], {**_summary(times, gen, tokens), **spent}


def main(argv: list[str] | None = None, workdir: Path | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks online", description=__doc__)
    ap.add_argument("--algos", default="grpo,rloo,online-dpo,ppo")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8, help="completions per step")
    ap.add_argument("--generations", type=int, default=4, help="GRPO/RLOO group size")
    ap.add_argument("--vocab", type=int, default=32_000)
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs per trainer (the fastest counts)")
    ap.add_argument("--no-trl", action="store_true", help="only trlprep")
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a trlprep algorithm option (e.g. generation_cache=dynamic)",
    )  # fmt: skip
    ap.add_argument("--workdir", type=Path, default=workdir or Path("/tmp/trlprep-bench"))
    if argv and argv[0] == "--":
        argv = argv[1:]
    args = ap.parse_args(argv)
    wd = args.workdir / "online"
    wd.mkdir(parents=True, exist_ok=True)
    _build(wd, args.vocab, args.hidden, args.layers, args.prompt_len + args.new_tokens, rows=1)
    model = str(wd / f"model-v{args.vocab}-h{args.hidden}-l{args.layers}")
    data = str(_prompts(wd, args.vocab, args.prompt_len, rows=args.batch * args.steps))
    opts = {
        "steps": args.steps, "batch": args.batch, "generations": args.generations,
        "new_tokens": args.new_tokens, "set": dict(_option(o) for o in args.set),
    }  # fmt: skip
    # found, not imported (each side's own process imports it)
    has_trl = not args.no_trl and find_spec("trl") is not None
    if not args.no_trl and not has_trl:
        print("trl is not installed: trlprep only")
    rows, failures, spent = [], [], []
    for algo in args.algos.split(","):
        impls = [("trlprep", run_trlprep)]
        if has_trl and algo in ("grpo", "rloo"):
            impls.append(("trl", run_trl))
        measured = {}
        for name, fn in impls:
            out = str(wd / f"out-{name}-{algo}")
            runs = [
                tried(failures, f"{name} {algo}", fn, algo, model, data, out, opts)
                for _ in range(args.repeat)
            ]
            runs = [r for r in runs if r is not None]
            spent += runs
            if not runs:
                rows.append((algo, name, "failed", "", "", ""))
                print_row(rows[-1])
                continue
            m = measured[name] = min(runs, key=lambda r: r.extra["step_s"])
            peak = m.extra["cuda_peak_mb"] or m.peak_rss_mb
            rows.append(
                (algo, name, f"{m.extra['step_s']:.2f}", f"{m.extra['gen_share']:.0%}",
                 f"{m.extra['tokens_per_s']:.0f}", f"{peak:.0f}")
            )  # fmt: skip
            print_row(rows[-1])
        if len(measured) == 2:
            a, b = measured["trlprep"], measured["trl"]
            pa = a.extra["cuda_peak_mb"] or a.peak_rss_mb
            pb = b.extra["cuda_peak_mb"] or b.peak_rss_mb
            speed = a.extra["tokens_per_s"] / b.extra["tokens_per_s"]
            rows.append((algo, "ratio", "", "", f"{speed:.2f}x", f"{pa / pb:.2f}x"))
            print_row(rows[-1])
    where = spent[0].extra["device"] if spent else "device unknown (no side ran)"
    print(
        f"{where}; vocab {args.vocab}, hidden {args.hidden}, {args.layers} layers, prompts "
        f"{args.prompt_len} tokens, up to {args.new_tokens} new tokens, {args.batch} "
        f"completions a step, {args.steps} steps"
    )
    print_table(rows, ("algo", "trainer", "step s", "generate", "gen tokens/s", "peak MiB"))
    print_time_spent(spent)
    exit_if_failed(failures)


if __name__ == "__main__":
    main()
