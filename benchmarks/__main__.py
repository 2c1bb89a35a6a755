"""trlprep benchmarks: each case measures trlprep and its reference in the same run.

python -m benchmarks validate --rows 1000000
python -m benchmarks read --rows 100000 [--variant tools|arguments|content|all]
python -m benchmarks stream --gb 5 [--convert] [--media]
python -m benchmarks rayread --gb 1 [--cpus 2] [--format csv]
python -m benchmarks convert --rows 1000000
python -m benchmarks report --rows 100000 [--ref-rows 2000]
python -m benchmarks train -- [--algos sft,dpo] [--steps 4]
python -m benchmarks online -- [--algos grpo,rloo,online-dpo,ppo] [--steps 4]
python -m benchmarks startup [--repeat 10]
python -m benchmarks answercut [--rows 4000] [--words 700] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "trlprep-bench")
    sub = ap.add_subparsers(dest="case", required=True)
    v = sub.add_parser("validate", help="validate vs jsonschema per row")
    v.add_argument("--rows", type=int, default=1_000_000)
    v.add_argument("--sample", type=int, default=20_000, help="rows jsonschema validates")
    v.add_argument("--repeat", type=int, default=3, help="runs per trlprep side (best counts)")
    rd = sub.add_parser("read", help="tool-calling JSON Lines: trlprep's reader vs datasets")
    rd.add_argument("--rows", type=int, default=100_000)
    rd.add_argument("--repeat", type=int, default=3, help="runs per side (best counts)")
    rd.add_argument(
        "--variant",
        choices=("tools", "arguments", "content", "all"),
        default="all",
        help="tools: schemas per row; arguments: also tool-call arguments as objects; "
        "content: message content a string in some messages, parts in others",
    )
    s = sub.add_parser("stream", help="peak RSS on a JSONL larger than memory budget")
    s.add_argument("--gb", type=float, default=1.0)
    s.add_argument("--convert", action="store_true", help="also stream a conversion")
    s.add_argument("--media", action="store_true", help="also JSONL with inline images -> Parquet")
    rr = sub.add_parser("rayread", help="--engine ray on one big JSONL/CSV: whole vs ranges")
    rr.add_argument("--gb", type=float, default=1.0)
    rr.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    rr.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    c = sub.add_parser("convert", help="every conversion vs the guide's datasets recipe")
    c.add_argument("--rows", type=int, default=1_000_000)
    c.add_argument("--ref-rows", type=int, default=100_000, help="rows the recipe runs on")
    c.add_argument("--only", default=None, help="substring filter on edge names")
    c.add_argument("--engine", choices=("local", "ray"), default="local", help="ray: local vs Ray")
    c.add_argument("--cpus", type=int, default=2, help="--engine ray: CPUs of the Ray instance")
    sub.add_parser("templates", help="chat templating vs TRL's maybe_apply_chat_template")
    rp = sub.add_parser("report", help="data report vs apply_chat_template + tokenizer per row")
    rp.add_argument("--rows", type=int, default=100_000)
    rp.add_argument("--ref-rows", type=int, default=2_000, help="rows the per-row loop runs on")
    sub.add_parser("train", help="training step time/memory vs TRL's trainers")
    sub.add_parser("online", help="generation + update throughput vs TRL's GRPO/RLOO")
    st = sub.add_parser("startup", help="trlprep --version and detect on 8 rows (< 0.3 s)")
    st.add_argument("--repeat", type=int, default=10, help="fresh processes per command")
    ac = sub.add_parser("answercut", help="tokenising with --max-length inside the reasoning")
    ac.add_argument("--rows", type=int, default=4000)
    ac.add_argument("--words", type=int, default=700, help="words of reasoning per row")
    ac.add_argument("--repeat", type=int, default=3, help="runs per side (best counts)")
    # the options of templates/train/online pass through to their own parsers
    args, unknown = ap.parse_known_args()
    if unknown and args.case not in ("templates", "train", "online"):
        ap.error("unrecognized arguments: " + " ".join(unknown))
    args.rest = [a for a in unknown if a != "--"]
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.case == "validate":
        from benchmarks.cases_validate import main as run

        run(args.workdir, args.rows, args.sample, args.repeat)
    elif args.case == "read":
        from benchmarks.cases_read import VARIANTS
        from benchmarks.cases_read import main as run

        variants = VARIANTS if args.variant == "all" else (args.variant,)
        run(args.workdir, args.rows, args.repeat, variants)
    elif args.case == "stream":
        from benchmarks.cases_stream import main as run

        run(args.workdir, args.gb, args.convert, args.media)
    elif args.case == "rayread":
        from benchmarks.cases_rayread import main as run

        run(args.workdir, args.gb, args.cpus, args.format)
    elif args.case == "templates":
        from benchmarks.cases_templates import main as run

        run(args.rest)
    elif args.case == "train":
        from benchmarks.cases_train import main as run

        run(args.rest, args.workdir)
    elif args.case == "online":
        from benchmarks.cases_online import main as run

        run(args.rest, args.workdir)
    elif args.case == "startup":
        from benchmarks.cases_startup import main as run

        run(args.workdir, args.repeat)
    elif args.case == "answercut":
        from benchmarks.cases_answercut import main as run

        run(args.rows, args.words, args.repeat)
    elif args.case == "report":
        from benchmarks.cases_report import main as run

        run(args.workdir, args.rows, args.ref_rows)
    elif args.case == "convert" and args.engine == "ray":
        from benchmarks.cases_ray import main as run

        run(args.workdir, args.rows, args.only, args.cpus)
    elif args.case == "convert":
        from benchmarks.cases_convert import main as run

        run(args.workdir, args.rows, args.ref_rows, args.only)


if __name__ == "__main__":
    main()
