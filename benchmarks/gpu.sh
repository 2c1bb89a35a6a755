#!/usr/bin/env bash
# Every GPU figure of the trainer in one log, in under 10 minutes (one device call), on a CUDA
# machine without network that has torch, transformers, accelerate, pyarrow, peft, typer and
# jinja2.
#
#   benchmarks/gpu.sh WHEELS_DIR [BASELINE_DIR]      (or WHEELS=... BASELINE=... benchmarks/gpu.sh)
#   LOG=path (default build/gpu-bench.log), BUDGET=seconds (default 540), ONLY=words (some steps),
#   TRAIN=/ONLINE= (the benchmarks' settings), ALGOS_ONLINE=grpo,rloo, BEFORE_ARGS= (the
#   baseline's extra train options; default --checkpointing on, as 04dfc56^ defaulted)
#
# Prepare on a machine with network, in the repository root (build/ is git-ignored; carry it):
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d build/gpu-wheels \
#       polars polars-runtime-32 datasets dill multiprocess trl jsonschema \
#       jsonschema-specifications referencing rpds-py attrs xxhash liger-kernel \
#       pytest pluggy iniconfig     (leave out the last three where pytest is installed)
#   pip download ... -d build/gpu-wheels-liger-nightly liger-kernel-nightly   (optional: tried
#       when the liger-kernel release does not import; LIGER_NIGHTLY=dir names another folder)
#   # optional, the "before" side: the packages of the commit to compare with, measured by
#   # today's harness (older harnesses lack --no-trl); 04dfc56^ is the trainer before the GPU work
#   mkdir -p build/gpu-before && git archive BASE_COMMIT trlprep trainers converters \
#       schemas pyproject.toml | tar -x -C build/gpu-before && cp -r benchmarks build/gpu-before/
#
# (about 58 MB). With this workplace's device tool: carry build/gpu-wheels and
# build/gpu-wheels-liger-nightly (60 MB; with the 5 MB tree just under the 64 MiB a call may
# carry, so the baseline tree does not fit beside them) and run
#   LOG=$OUT/gpu-bench.log bash benchmarks/gpu.sh build/gpu-wheels     (timeout_s 600)
# The wheels are installed with --no-deps from the folder; trlprep itself is
# not installed: a folder of links lays out its packages as pyproject.toml maps them.
#
# What runs, most valuable first, each under a share of the budget (a step that fails or
# runs out of time is logged as such and the next one runs):
#   1. train, after:  SFT, DPO, KTO, trlprep vs TRL (tokens/s, TFLOP/s, MFU, peak memory)
#   2. pytest -m gpu (bf16 vs fp32, the fused log-prob kernels and Liger against the eager
#      ones, SFT's NLL, padding-free, fused AdamW, compile, static cache)
#   3. train with the eager log-prob kernel (--logps-kernel torch) instead of the default
#      fused one on CUDA: keep `auto` = fused only if it is the faster; then DPO and KTO with
#      the logits recomputed in backward (--no-loss-in-forward) instead of the head's
#      gradients computed with the loss in the forward: keep the default only if faster
#   4. online, after: GRPO, RLOO, trlprep vs TRL (step time, share in generate)
#   5. train, before: the baseline tree's trlprep (same settings), when given
#   6. the profile: SFT, trlprep and TRL side by side (top kernels, host/device time a step)
#   7. train with gradient checkpointing forced on (automatic turns it off on a large GPU:
#      this shows the memory side of that trade)
#   8. train with --logps-kernel liger (keep Liger as the default only if it is faster)
#   9. online, before (the baseline's GRPO and RLOO), when given and time is left
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WHEELS=${1:-${WHEELS:-}}
BASELINE=${2:-${BASELINE:-}}
LOG=${LOG:-$ROOT/build/gpu-bench.log}
BUDGET=${BUDGET:-540}
PY=${PYTHON:-python3}  # a GPU image may have no plain `python`
START=$(date +%s)
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

log() { echo "$*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }

# run NAME MAX_SECONDS DIR COMMAND...: COMMAND in DIR with that tree's packages, output to the log
# (ONLY=word,word runs just the steps whose names hold one of the words: ONLY=online,profile)
run() {
    local name=$1 max=$2 dir=$3 w hit=
    shift 3
    if [[ -n ${ONLY:-} ]]; then
        for w in ${ONLY//,/ }; do [[ $name == *"$w"* ]] && hit=1; done
        [[ -n $hit ]] || return 0
    fi
    local t
    t=$(left)
    ((t < max)) && max=$t
    if ((max < 20)); then
        log "=== $name: skipped (out of time budget)"
        return
    fi
    log "=== $name (at most ${max}s): $*"
    local t0
    t0=$(date +%s)
    (cd "$(shim "$dir")" && PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout -k 10 "$max" "$@") 2>&1 |
        grep -v -E "Loading weights|Writing model shards|it/s\]|s/it\]|examples/s\]|warnings.warn|FutureWarning|^\s*$" | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    log "=== $name: exit $rc after $(($(date +%s) - t0))s"
}

# shim DIR: a folder that mirrors DIR (links) except that `trlprep` holds DIR/trlprep plus
# trainers, converters and schemas, as the installed package does; commands run inside it,
# so the current directory (first on sys.path) resolves `trlprep` to the shim's package
shim() {
    local src=$1 dest f
    dest=/tmp/trlprep-shim-$(echo "$src" | md5sum | cut -c1-8)
    if [[ ! -d $dest/trlprep ]]; then
        mkdir -p "$dest/trlprep"
        for f in "$src"/*; do [[ $(basename "$f") == trlprep ]] || ln -sfn "$f" "$dest/"; done
        for f in "$src"/trlprep/*; do ln -sfn "$f" "$dest/trlprep/"; done
        for f in trainers converters schemas; do ln -sfn "$src/$f" "$dest/trlprep/$f"; done
    fi
    echo "$dest"
}

log "# trlprep GPU benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"
if [[ -n $WHEELS ]]; then
    log "installing the wheels of $WHEELS"
    $PY -m pip install -q --no-index --no-deps "$WHEELS"/*.whl 2>&1 | tail -3 | tee -a "$LOG"
fi
# Liger 0.8.5 failed to import against torch 2.11 / Triton 3.6: try a nightly beside the wheels
NIGHTLY=${LIGER_NIGHTLY:-${WHEELS:+$WHEELS-liger-nightly}}
if ! $PY -c "import liger_kernel.transformers.functional" 2>/dev/null && [[ -d ${NIGHTLY:-/nonexistent} ]]; then
    log "liger_kernel does not import; installing $NIGHTLY"
    $PY -m pip install -q --no-index --no-deps "$NIGHTLY"/*.whl 2>&1 | tail -3 | tee -a "$LOG"
fi
$PY - <<'EOF' 2>&1 | tee -a "$LOG"
import importlib
for name in ("torch", "transformers", "accelerate", "trl", "datasets", "polars", "liger_kernel"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except Exception as e:  # noqa: BLE001
        print(f"{name}: not available ({type(e).__name__}: {str(e)[:300]})")
EOF

TRAIN=${TRAIN:-"--steps 6 --batch 8 --vocab 128256 --seq-len 1024 --hidden 1024 --layers 8"}
ONLINE=${ONLINE:-"--steps 3 --batch 16 --generations 4 --vocab 32000 --hidden 1024 --layers 8 --new-tokens 128"}
WD=/tmp/trlprep-gpu-bench

# maxima from one H200 run (2026-12-04): train 143 s, GRPO alone 86 s, pytest 42 s, the
# before tree's train 59 s, a one-sided DPO profile 45 s
run "train, after" 170 "$ROOT" $PY -m benchmarks --workdir $WD train -- --algos sft,dpo,kto $TRAIN
run "pytest -m gpu" 60 "$ROOT" $PY -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider
run "train, eager kernel" 80 "$ROOT" $PY -m benchmarks --workdir $WD train -- --algos sft,dpo,kto $TRAIN \
    --no-trl --set logps_kernel=torch
run "train, logits recomputed" 50 "$ROOT" $PY -m benchmarks --workdir $WD train -- --algos dpo,kto $TRAIN \
    --no-trl --set loss_in_forward=false
run "online, after" 160 "$ROOT" $PY -m benchmarks --workdir $WD online -- --algos ${ALGOS_ONLINE:-grpo,rloo} $ONLINE
if [[ -n $BASELINE ]]; then
    BASE=$(cd "$BASELINE" && pwd)
    run "train, before" 75 "$BASE" $PY -m benchmarks --workdir $WD-base train -- --algos sft,dpo $TRAIN --no-trl ${BEFORE_ARGS---checkpointing on}
else
    log "=== before: no baseline folder given (see the header of this script)"
fi
run "profile" 100 "$ROOT" $PY -m benchmarks --workdir $WD train -- --algos ${ALGOS_PROFILE:-sft} ${PROFILE_ARGS:-} --steps 4 --batch 8 \
    --vocab 128256 --seq-len 1024 --hidden 1024 --layers 8 --profile
run "train, checkpointing on" 40 "$ROOT" $PY -m benchmarks --workdir $WD train -- --algos sft,dpo \
    $TRAIN --no-trl --checkpointing on
if $PY -c "import liger_kernel.transformers.functional" 2>/dev/null; then
    run "train, liger" 40 "$ROOT" $PY -m benchmarks --workdir $WD train -- --algos sft,dpo $TRAIN \
        --no-trl --set logps_kernel=liger
else
    log "=== train, liger: skipped: $($PY -c 'import liger_kernel.transformers.functional' 2>&1 | tail -1)"
fi
if [[ -n $BASELINE ]]; then
    run "online, before" 100 "$BASE" $PY -m benchmarks --workdir $WD-base online -- --algos grpo,rloo $ONLINE --no-trl
fi
log "# done in $(($(date +%s) - START))s; log: $LOG"
