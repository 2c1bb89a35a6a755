#!/usr/bin/env bash
# Every GPU figure of the trainer in one log, in under 10 minutes (one device call), on a CUDA
# machine without network that has torch, transformers, accelerate, pyarrow, peft, typer and
# jinja2 (and pandas, psutil, pyyaml, which datasets and trl need besides).
#
#   benchmarks/gpu.sh [WHEELS_DIR [BASELINE_DIR]]   (or WHEELS=... BASELINE=... benchmarks/gpu.sh)
#   LOG=path (default build/gpu-bench.log), BUDGET=seconds (default 540; SMOKE 900), SHARE_SCALE=
#   (each step's share of the budget times this; default 1, SMOKE 3), ONLY=words (some steps),
#   TRAIN=/ONLINE=/PROFILE_SIZES= (the benchmarks' sizes), ALGOS_TRAIN=sft,dpo,kto (narrows
#   every train step), ALGOS_ONLINE=grpo,rloo, ALGOS_PROFILE=sft, PROFILE_ARGS=, BEFORE_ARGS=
#   (the baseline's extra train options; default --checkpointing on, as 04dfc56^ defaulted),
#   WORKDIR= (models and data; default /tmp/trlprep-gpu-bench), PYTHON= (default python3)
#
#   SMOKE=1 benchmarks/gpu.sh [WHEELS_DIR [BASELINE_DIR]]: the same steps and command lines on
#   CPU with tiny sizes (a 64-wide Llama, vocabulary 1024, a few steps), in 3 to 5 minutes
#   on 2 cores: a renamed flag, a missing import or a broken step shows up before a GPU is lent.
#   The GPU-only steps say why they are skipped (pytest -m gpu runs: it collects and skips).
#   Exit 0 when every step that ran passed, 1 when one failed or timed out (the log says
#   which, and the steps after it still run), 2 for a usage error (a missing folder, no CUDA
#   without SMOKE).
#
# Prepare on a machine with network, in the repository root (build/ is git-ignored; carry it):
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d build/gpu-wheels \
#       polars polars-runtime-32 datasets dill multiprocess trl jsonschema \
#       jsonschema-specifications referencing rpds-py attrs xxhash liger-kernel \
#       pytest pluggy iniconfig
#   pip download ... -d build/gpu-wheels-liger-nightly liger-kernel-nightly   (optional: tried
#       when the liger-kernel release does not import; LIGER_NIGHTLY=dir names another folder;
#       0.8.5 did import on the H200, so this is only a fallback, and it does not fit, below)
#   # optional, the "before" side: the packages of the commit to compare with, measured by
#   # today's harness (older harnesses lack --no-trl); 04dfc56^ is the trainer before the GPU work
#   mkdir -p build/gpu-before && git archive BASE_COMMIT trlprep trainers converters \
#       schemas pyproject.toml | tar -x -C build/gpu-before && cp -r benchmarks build/gpu-before/
#
# Those are all the packages the code imports at run time beyond the machine's own (checked
# in a clean environment holding only the packages above plus pandas: `pip check` then
# misses only triton, which CUDA torch brings). Only the wheels whose distribution is not
# installed are installed (`benchmarks/wheels.py`; --no-deps, from the folder): the
# machine's own torch stack and pytest stay; `pip check` then logs any requirement still
# missing. Sizes (2026-12-06): the wheels 56.3 MiB (polars-runtime-32 alone 51.4), the
# nightly 0.9 MiB, the repository's tracked files 7.5 MiB. A device call carries at most
# 64 MiB with the tree: the tree and build/gpu-wheels make 63.7 MiB and fit; the nightly or
# the baseline tree do not fit beside them. Check before the call:
#   { git ls-files -z | xargs -0 cat; cat build/gpu-wheels/*.whl; } | wc -c   (< 67108864)
# Should it not fit, move polars_runtime_32-*.whl to build/gpu-wheels-runtime and install it
# in a first, short call (carry that folder; `python3 -m pip install --no-index --no-deps
# build/gpu-wheels-runtime/*.whl`): the machine stays warm, and this script then finds it
# installed. The same route serves a machine without pandas (datasets and trl import it;
# the H200 image had it; its cp312 wheel is 11.4 MiB). With this workplace's device tool:
# carry build/gpu-wheels and run
#   LOG=$OUT/gpu-bench.log bash benchmarks/gpu.sh build/gpu-wheels     (timeout_s 600)
# trlprep itself is not installed: a folder of links lays out its packages as pyproject.toml
# maps them.
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
SMOKE=${SMOKE:-}
LOG=${LOG:-$ROOT/build/gpu-bench.log}
# on CPU a step's time goes to starting processes (torch, transformers, TRL imported in each):
# the smoke run gives every step three times its GPU share
if [[ -n $SMOKE ]]; then BUDGET=${BUDGET:-900} SCALE=${SHARE_SCALE:-3}; else BUDGET=${BUDGET:-540} SCALE=${SHARE_SCALE:-1}; fi
PY=${PYTHON:-python3}  # a GPU image may have no plain `python`
START=$(date +%s)
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
SHIMS=$(mktemp -d "${TMPDIR:-/tmp}/trlprep-shims.XXXXXX")
trap 'rm -rf "$SHIMS"' EXIT
OK=() FAILED=() SKIPPED=()
RAN=  # the last step whose command ran

log() { echo "$*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
usage_error() {
    log "gpu.sh: $*"
    exit 2
}

# selected NAME: whether ONLY=word,word (when set) names this step
selected() {
    local w
    [[ -z ${ONLY:-} ]] && return 0
    for w in ${ONLY//,/ }; do [[ $1 == *"$w"* ]] && return 0; done
    return 1
}

skip() {
    selected "$1" || return 0
    SKIPPED+=("$1")
    log "=== $1: skipped: $2"
}

# run NAME MAX_SECONDS DIR COMMAND...: COMMAND in DIR with that tree's packages, output to the
# log, at most MAX_SECONDS (less when the budget has less left; skipped under 20 s)
run() {
    local name=$1 max=$(($2 * SCALE)) dir=$3 t t0 rc took
    shift 3
    selected "$name" || return 0
    t=$(left)
    ((t < max)) && max=$t
    if ((max < 20)); then
        skip "$name" "out of time budget (${t}s left of ${BUDGET}s)"
        return
    fi
    log "=== $name (at most ${max}s): $*"
    RAN=$name
    t0=$(date +%s)
    (cd "$(shim "$dir")" && PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout -k 10 "$max" "$@") 2>&1 |
        grep -v -E "Loading weights|Writing model shards|it/s\]|s/it\]|examples/s\]|warnings.warn|FutureWarning|^\s*$" | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    took=$(($(date +%s) - t0))
    if ((rc == 0)); then
        OK+=("$name")
        log "=== $name: exit 0 after ${took}s"
    elif ((rc == 124 || rc == 137)); then
        FAILED+=("$name (timed out)")
        log "=== $name: TIMED OUT after ${took}s (its share: ${max}s)"
    else
        FAILED+=("$name (exit $rc)")
        log "=== $name: FAILED, exit $rc after ${took}s"
    fi
}

# shim DIR: a folder that mirrors DIR (links) except that `trlprep` holds DIR/trlprep plus
# trainers, converters and schemas, as the installed package does; commands run inside it,
# so the current directory (first on sys.path) resolves `trlprep` to the shim's package.
# Made afresh by each run, so that a module added to the tree since is there too.
shim() {
    local src=$1 dest f
    dest=$SHIMS/$(echo "$src" | md5sum | cut -c1-8)
    rm -rf "$dest"
    mkdir -p "$dest/trlprep"
    for f in "$src"/*; do [[ $(basename "$f") == trlprep ]] || ln -sfn "$f" "$dest/"; done
    for f in "$src"/trlprep/*; do ln -sfn "$f" "$dest/trlprep/"; done
    for f in trainers converters schemas; do ln -sfn "$src/$f" "$dest/trlprep/$f"; done
    echo "$dest"
}

# pick DEFAULT: the algorithms of DEFAULT that ALGOS_TRAIN (when set) keeps, comma-separated
pick() {
    local a out=()
    for a in ${1//,/ }; do
        [[ -z ${ALGOS_TRAIN:-} || ,$ALGOS_TRAIN, == *",$a,"* ]] && out+=("$a")
    done
    (IFS=,; echo "${out[*]}")
}

# train NAME MAX DIR WORKDIR ALGOS [OPTIONS...]: the train benchmark on ALGOS as pick keeps them
train() {
    local name=$1 max=$2 dir=$3 wd=$4 algos
    algos=$(pick "$5")
    shift 5
    if [[ -z $algos ]]; then
        skip "$name" "ALGOS_TRAIN=$ALGOS_TRAIN keeps none of its algorithms"
        return
    fi
    run "$name" "$max" "$dir" $PY -m benchmarks --workdir "$wd" train -- --algos "$algos" "$@"
}

log "# trlprep GPU benchmarks${SMOKE:+ (SMOKE: tiny sizes, CPU allowed)}, $(date -u '+%Y-%m-%d %H:%M UTC')"
[[ -z $WHEELS || -d $WHEELS ]] || usage_error "$WHEELS: no such folder (the wheels; see this script's header)"
[[ -z $BASELINE || -d $BASELINE ]] || usage_error "$BASELINE: no such folder (the baseline tree; see this script's header)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"
else
    log "no nvidia-smi on this machine"
fi
if [[ -n $WHEELS ]]; then
    mapfile -t NEED < <($PY "$ROOT/benchmarks/wheels.py" "$WHEELS" 2>"$SHIMS/plan")
    log "$(cat "$SHIMS/plan")"
    if ((${#NEED[@]})); then
        $PY -m pip install -q --no-index --no-deps "${NEED[@]}" 2>&1 | tail -3 | tee -a "$LOG"
        rc=${PIPESTATUS[0]}
        ((rc == 0)) && log "installed ${#NEED[@]} wheels" || log "pip install FAILED, exit $rc"
        log "pip check: $($PY -m pip check 2>&1 | tail -8)"
    fi
fi
CUDA=$($PY -c "import torch; print('yes' if torch.cuda.is_available() else '')" 2>/dev/null)
if [[ -z $CUDA && -z $SMOKE ]]; then
    usage_error "no CUDA device here: SMOKE=1 runs the same steps with tiny sizes on CPU"
fi
# should the liger-kernel release not import against this torch / Triton, try a nightly
NIGHTLY=${LIGER_NIGHTLY:-${WHEELS:+$WHEELS-liger-nightly}}
if ! $PY -c "import liger_kernel.transformers.functional" 2>/dev/null && [[ -d ${NIGHTLY:-/nonexistent} ]]; then
    log "liger_kernel does not import; installing $NIGHTLY"
    $PY -m pip install -q --no-index --no-deps "$NIGHTLY"/*.whl 2>&1 | tail -3 | tee -a "$LOG"
fi
$PY - <<'PYEOF' 2>&1 | tee -a "$LOG"
import importlib
import sys
from importlib import metadata

print(f"python {sys.version.split()[0]}")
# the version from the installed distribution (liger_kernel has no __version__), and whether
# the module the trainer uses imports
for dist, module in (("torch", "torch"), ("transformers", "transformers"),
                     ("accelerate", "accelerate"), ("trl", "trl"), ("datasets", "datasets"),
                     ("polars", "polars"), ("pyarrow", "pyarrow"), ("peft", "peft"),
                     ("pytest", "pytest"),
                     ("liger-kernel", "liger_kernel.transformers.functional")):
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        print(f"{dist}: not installed")
        continue
    try:
        importlib.import_module(module)
        print(f"{dist} {version}")
    except Exception as e:  # noqa: BLE001
        print(f"{dist} {version}: {module} does not import ({type(e).__name__}: {str(e)[:300]})")
PYEOF

if [[ -n $SMOKE ]]; then
    TRAIN=${TRAIN:-"--steps 3 --batch 2 --vocab 1024 --seq-len 64 --hidden 64 --layers 2"}
    PROFILE_SIZES=${PROFILE_SIZES:-"--steps 3 --batch 2 --vocab 1024 --seq-len 64 --hidden 64 --layers 2"}
    ONLINE=${ONLINE:-"--steps 2 --batch 4 --generations 2 --vocab 1024 --hidden 64 --layers 2 --new-tokens 8"}
    WD=${WORKDIR:-/tmp/trlprep-gpu-smoke}
else
    TRAIN=${TRAIN:-"--steps 6 --batch 8 --vocab 128256 --seq-len 1024 --hidden 1024 --layers 8"}
    PROFILE_SIZES=${PROFILE_SIZES:-"--steps 4 --batch 8 --vocab 128256 --seq-len 1024 --hidden 1024 --layers 8"}
    ONLINE=${ONLINE:-"--steps 3 --batch 16 --generations 4 --vocab 32000 --hidden 1024 --layers 8 --new-tokens 128"}
    WD=${WORKDIR:-/tmp/trlprep-gpu-bench}
fi
BASE=
[[ -n $BASELINE ]] && BASE=$(cd "$BASELINE" && pwd)
NO_BASE="no baseline folder given (see the header of this script)"

# maxima from one H200 run (2026-12-04): train 143 s, GRPO alone 86 s, pytest 42 s, the
# before tree's train 59 s, a one-sided DPO profile 45 s
train "train, after" 170 "$ROOT" "$WD" sft,dpo,kto $TRAIN
run "pytest -m gpu" 60 "$ROOT" $PY -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider
[[ -z $CUDA && $RAN == "pytest -m gpu" ]] && log "(no CUDA here: its tests skip; it ran for its imports)"
train "train, eager kernel" 80 "$ROOT" "$WD" sft,dpo,kto $TRAIN --no-trl --set logps_kernel=torch
train "train, logits recomputed" 50 "$ROOT" "$WD" dpo,kto $TRAIN --no-trl --set loss_in_forward=false
run "online, after" 160 "$ROOT" $PY -m benchmarks --workdir "$WD" online -- --algos "${ALGOS_ONLINE:-grpo,rloo}" $ONLINE
if [[ -n $BASE ]]; then
    train "train, before" 75 "$BASE" "$WD-base" sft,dpo $TRAIN --no-trl ${BEFORE_ARGS---checkpointing on}
else
    skip "train, before" "$NO_BASE"
fi
run "profile" 100 "$ROOT" $PY -m benchmarks --workdir "$WD" train -- --algos "${ALGOS_PROFILE:-sft}" ${PROFILE_ARGS:-} \
    $PROFILE_SIZES --profile
train "train, checkpointing on" 40 "$ROOT" "$WD" sft,dpo $TRAIN --no-trl --checkpointing on
if [[ -z $CUDA ]]; then
    skip "train, liger" "Liger's kernels need CUDA (--logps-kernel liger refuses a CPU run)"
elif LIGER_ERROR=$($PY -c 'import liger_kernel.transformers.functional' 2>&1); then
    train "train, liger" 40 "$ROOT" "$WD" sft,dpo $TRAIN --no-trl --set logps_kernel=liger
else
    skip "train, liger" "liger_kernel does not import: $(tail -1 <<<"$LIGER_ERROR")"
fi
if [[ -n $BASE ]]; then
    run "online, before" 100 "$BASE" $PY -m benchmarks --workdir "$WD-base" online -- --algos "${ALGOS_ONLINE:-grpo,rloo}" $ONLINE --no-trl
else
    skip "online, before" "$NO_BASE"
fi

join() {
    local out
    out=$(printf '%s; ' "$@")
    out=${out%; }
    echo "${out:-none}"
}
log "# summary: ${#OK[@]} steps passed; failed: $(join "${FAILED[@]}"); skipped: $(join "${SKIPPED[@]}")"
log "# done in $(($(date +%s) - START))s; log: $LOG"
((${#FAILED[@]} == 0)) || exit 1
