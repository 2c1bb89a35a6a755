"""Training step time, tokens/s, MFU and peak memory: trlprep's trainer vs TRL's, same run.

    python -m benchmarks train -- [--algos sft,dpo,kto] [--steps 4] [--vocab 128256]
                                  [--seq-len 1024] [--profile]
    python -m benchmarks.cases_train [same options]

A small Llama (random weights, built from a config) with a large vocabulary, so the LM
head dominates memory, on synthetic rows of `--seq-len` tokens (one word = one token of a
word-level tokenizer built here). Each trainer runs in a fresh process with the same model,
data and settings (fp32 on CPU, bf16 on GPU; gradient checkpointing on, as both default).
Peak memory: peak RSS during training on CPU (reset before `train()`), peak allocated CUDA
memory on GPU. Step time: median over the steps after the first. MFU: 6 N tokens/s over the
chip's dense bf16 peak (`measure.peak_flops`; set TRLPREP_PEAK_TFLOPS where unknown).
`--profile` records the steps after the first with torch.profiler on both sides and prints
each side's top kernels and host/device time per step. Each side trains with its defaults
for gradient checkpointing (trlprep: automatic, on on CPU; TRL: on) unless `--checkpointing`
forces it on both.
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from benchmarks.measure import (
    Profile,
    device_name,
    exit_if_failed,
    model_flops_per_token,
    peak_flops,
    print_row,
    print_table,
    print_time_spent,
    step_timer,
    tried,
)


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux: the peak then includes loading
        pass


def _build(workdir: Path, vocab: int, hidden: int, layers: int, seq_len: int, rows: int) -> None:
    """A tiny Llama with a `vocab`-word tokenizer, and SFT/DPO rows of ~seq_len tokens."""
    import json
    import random

    model_dir = workdir / f"model-v{vocab}-h{hidden}-l{layers}"
    if not (model_dir / "config.json").is_file():
        # imported only to build: a run that finds the model spares this process the
        # seconds of importing torch and transformers (each side imports them in its own)
        import torch
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

        words = ["<pad>", "<bos>", "<eos>", "<unk>"] + [f"w{i}" for i in range(vocab - 4)]
        tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
            unk_token="<unk>",
        )  # fmt: skip
        torch.manual_seed(0)
        cfg = LlamaConfig(
            vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 4,
            num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
            num_key_value_heads=max(1, hidden // 64), max_position_embeddings=seq_len + 8,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
        )  # fmt: skip
        LlamaForCausalLM(cfg).save_pretrained(model_dir)
        fast.save_pretrained(model_dir)
    rng = random.Random(0)

    def text(n: int) -> str:
        return " " + " ".join(f"w{rng.randrange(vocab - 4)}" for _ in range(n))

    prompt_len = 32
    comp = seq_len - prompt_len - 2  # room for <eos>
    with open(workdir / "sft.jsonl", "w") as f:
        for _ in range(rows):
            f.write(json.dumps({"prompt": text(prompt_len), "completion": text(comp)}) + "\n")
    with open(workdir / "dpo.jsonl", "w") as f:
        for _ in range(rows):
            row = {"prompt": text(prompt_len), "chosen": text(comp), "rejected": text(comp)}
            f.write(json.dumps(row) + "\n")
    with open(workdir / "kto.jsonl", "w") as f:
        for i in range(rows):
            row = {"prompt": text(prompt_len), "completion": text(comp), "label": i % 2 == 0}
            f.write(json.dumps(row) + "\n")


def _peak_cuda() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0


def _result(
    times: list[float],
    tokens: float,
    steps: int,
    flops_per_token: float,
    prof: Profile | None,
    phases: dict[str, float],
) -> tuple[float, int, dict[str, Any]]:
    diffs = [b - a for a, b in zip(times, times[1:], strict=False)]
    step = statistics.median(diffs) if diffs else float("nan")
    peak = peak_flops()
    achieved = flops_per_token * tokens / step
    extra = {
        "step_s": step,
        "tokens_per_s": tokens / step,
        "cuda_peak_mb": _peak_cuda(),
        "tflops": achieved / 1e12,
        "mfu": achieved / peak if peak else None,
        "profile": prof.report() if prof else None,
        "device": device_name(),
        **phases,
    }
    return sum(diffs), steps, extra


def phases(started: float, training: float) -> dict[str, float]:
    """Where a side's process spent its time, for planning gpu.sh's shares: `setup_s` from
    the side's first line (imports included) to `train()`, `train_s` in `train()` (the
    first, untimed step with its compilation, and the timed steps)."""
    now = time.perf_counter()
    return {"setup_s": training - started, "train_s": now - training}


def _setup(opts: dict) -> Any:
    """Thread count and the clock steps are timed with (wall, or this process's CPU time)."""
    import torch

    if opts["threads"]:
        torch.set_num_threads(opts["threads"])
    return time.process_time if opts["cpu_time"] else time.perf_counter


def _per_row_tokens(algo: str, first: dict[str, Any]) -> int:
    if algo == "dpo":
        return 2 * len(first["prompt_ids"]) + len(first["chosen_ids"]) + len(first["rejected_ids"])
    if algo == "kto":  # the completion and the mismatched KL pair (forward only)
        return len(first["prompt_ids"]) + len(first["completion_ids"])
    return len(first["input_ids"])


def run_trlprep(
    algo: str, model: str, data: str, out: str, steps: int, batch: int, opts: dict
) -> tuple:
    started = time.perf_counter()
    import torch
    from trlprep.trainers.loop import Trainer

    gpu = torch.cuda.is_available()
    clock = _setup(opts)
    t = Trainer(
        dict(
            algo=algo,
            model=model,
            data=data,
            output_dir=out,
            max_steps=steps,
            batch_size=batch,
            max_length=None,
            logging_steps=10**6,
            save_steps=10**6,
            learning_rate=1e-6,
            bf16=gpu,
            progress=False,
            gradient_checkpointing=opts["checkpointing"],
            **opts["trlprep"],
        ),  # fmt: skip
        log=lambda *_: None,
    )
    times: list[float] = []
    step = t.scheduler.step
    prof = Profile(steps - 1) if opts["profile"] else None

    def timed() -> None:  # called once per optimizer step
        step()
        if gpu:
            torch.cuda.synchronize()
        times.append(clock())
        if prof:
            prof.step()

    t.scheduler.step = timed
    t.save = lambda: None  # measure training, not checkpoint writing
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    _reset_peak_rss()
    training = time.perf_counter()
    t.train()
    spent = phases(started, training)
    rows = t.train_data.rows
    if algo == "dpo":
        per_row = [
            2 * len(p) + len(c) + len(r)
            for p, c, r in zip(rows["prompt"], rows["chosen"], rows["rejected"], strict=True)
        ]
    elif algo == "kto":
        per_row = [len(p) + len(c) for p, c in zip(rows["prompt"], rows["completion"], strict=True)]
    else:
        per_row = [len(ids) for ids in rows["ids"]]
    flops = model_flops_per_token(t._unwrapped())
    return _result(times, sum(per_row[:batch]), steps, flops, prof, spent)


def run_trl(
    algo: str, model: str, data: str, out: str, steps: int, batch: int, opts: dict
) -> tuple:
    started = time.perf_counter()
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gpu = torch.cuda.is_available()
    timer, times = step_timer(_setup(opts))

    ds = load_dataset("json", data_files=data, split="train")
    tok = AutoTokenizer.from_pretrained(model)
    common = dict(
        output_dir=out, max_steps=steps, per_device_train_batch_size=batch, max_length=None,
        logging_steps=10**6, save_strategy="no", report_to="none", learning_rate=1e-6,
        bf16=gpu, use_cpu=not gpu,
    )  # fmt: skip
    if opts["checkpointing"] is not None:
        common["gradient_checkpointing"] = opts["checkpointing"]
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    if algo == "sft":
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(m, SFTConfig(**common), train_dataset=ds, processing_class=tok)
    elif algo == "kto":
        from trl import KTOConfig, KTOTrainer

        trainer = KTOTrainer(m, args=KTOConfig(**common), train_dataset=ds, processing_class=tok)
    else:
        from trl import DPOConfig, DPOTrainer

        trainer = DPOTrainer(m, args=DPOConfig(**common), train_dataset=ds, processing_class=tok)
    trainer.add_callback(timer)
    prof = Profile(steps - 1) if opts["profile"] else None
    if prof:
        from transformers import TrainerCallback

        class Step(TrainerCallback):
            def on_step_end(self, *args: Any, **kwargs: Any) -> None:
                prof.step()

        trainer.add_callback(Step())
    tokens = _per_row_tokens(algo, trainer.train_dataset[0]) * batch
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    _reset_peak_rss()
    training = time.perf_counter()
    trainer.train()
    spent = phases(started, training)
    return _result(times, tokens, steps, model_flops_per_token(trainer.model), prof, spent)


def _option(text: str) -> tuple[str, Any]:
    key, _, raw = text.partition("=")
    value: Any = {"true": True, "false": False, "none": None}.get(raw.lower(), raw)
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            pass
    return key.replace("-", "_"), value


def main(argv: list[str] | None = None, workdir: Path | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks train", description=__doc__)
    ap.add_argument("--algos", default="sft,dpo", help="any of sft,dpo,kto")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=128_256)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--no-trl", action="store_true", help="only trlprep")
    ap.add_argument("--profile", action="store_true", help="torch.profiler on both sides")
    ap.add_argument(
        "--checkpointing", choices=("default", "on", "off"), default="default",
        help="gradient checkpointing on both sides (default: each trainer's own default)",
    )  # fmt: skip
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a trlprep TrainConfig option (e.g. torch_compile=true, attn_implementation=sdpa)",
    )  # fmt: skip
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument(
        "--cpu-time", action="store_true",
        help="time steps in process CPU time (robust to shared cores; CPU runs only)",
    )  # fmt: skip
    ap.add_argument("--workdir", type=Path, default=workdir or Path("/tmp/trlprep-bench"))
    if argv and argv[0] == "--":
        argv = argv[1:]
    args = ap.parse_args(argv)
    wd = args.workdir / "train"
    wd.mkdir(parents=True, exist_ok=True)
    _build(wd, args.vocab, args.hidden, args.layers, args.seq_len, rows=args.batch * args.steps)
    model = str(wd / f"model-v{args.vocab}-h{args.hidden}-l{args.layers}")
    opts = {
        "profile": args.profile,
        "checkpointing": {"default": None, "on": True, "off": False}[args.checkpointing],
        "trlprep": dict(_option(o) for o in args.set),
        "threads": args.threads,
        "cpu_time": args.cpu_time,
    }
    impls = [("trlprep", run_trlprep)]
    if not args.no_trl:
        # found, not imported: importing trl here would cost this process seconds that
        # each side's own process spends again
        if find_spec("trl") is not None:
            impls.append(("trl", run_trl))
        else:
            print("trl is not installed: trlprep only")
    rows, profiles, failures, spent = [], [], [], []
    for algo in args.algos.split(","):
        data = str(wd / f"{algo}.jsonl")
        measured = {}
        for name, fn in impls:
            out = str(wd / f"out-{name}-{algo}")
            m = tried(
                failures, f"{name} {algo}", fn, algo, model, data, out, args.steps, args.batch,
                opts,
            )  # fmt: skip
            if m is None:
                rows.append((algo, name, "failed", "", "", "", ""))
                print_row(rows[-1])
                continue
            measured[name] = m
            spent.append(m)
            peak = m.extra["cuda_peak_mb"] or m.peak_rss_mb
            mfu = m.extra["mfu"]
            rows.append(
                (algo, name, f"{m.extra['step_s']:.2f}", f"{m.extra['tokens_per_s']:.0f}",
                 f"{m.extra['tflops']:.2f}", "n/a" if mfu is None else f"{mfu:.1%}",
                 f"{peak:.0f}")
            )  # fmt: skip
            print_row(rows[-1])
            if m.extra["profile"]:
                profiles.append(f"--- profile: {name} {algo} ---\n{m.extra['profile']}")
        if len(measured) == 2:
            a, b = measured["trlprep"], measured["trl"]
            pa = a.extra["cuda_peak_mb"] or a.peak_rss_mb
            pb = b.extra["cuda_peak_mb"] or b.peak_rss_mb
            speed = a.extra["tokens_per_s"] / b.extra["tokens_per_s"]
            rows.append((algo, "ratio", "", f"{speed:.2f}x", "", "", f"{pa / pb:.2f}x"))
            print_row(rows[-1])
    where = spent[0].extra["device"] if spent else "device unknown (no side ran)"
    print(
        f"{where}; vocab {args.vocab}, seq {args.seq_len}, hidden {args.hidden}, "
        f"{args.layers} layers, batch {args.batch}, {args.steps} steps, checkpointing "
        f"{args.checkpointing}"
        + (f", trlprep {opts['trlprep']}" if opts["trlprep"] else "")
        + (f", {args.threads} threads" if args.threads else "")
        + (", step s in CPU time" if args.cpu_time else "")
    )
    print_table(rows, ("algo", "trainer", "step s", "tokens/s", "TFLOP/s", "MFU", "peak MiB"))
    for text in profiles:
        print(text)
    print_time_spent(spent)
    exit_if_failed(failures)


if __name__ == "__main__":
    main()
