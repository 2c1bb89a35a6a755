#!/usr/bin/env bash
# Every GPU figure of the trainer in one log, in 8 minutes (one device call, installs
# included), on a CUDA machine without network that has torch, transformers, accelerate,
# pyarrow, peft, typer and jinja2 (and pandas, psutil, pyyaml, which datasets and trl need).
#
#   benchmarks/gpu.sh [WHEELS_DIR [BASELINE_DIR]]   (or WHEELS=... BASELINE=... benchmarks/gpu.sh)
#   LOG=path (default build/gpu-bench.log), BUDGET=seconds (default 480; SMOKE 900: every
#   share below is scaled by BUDGET/480), ONLY=words (some steps), TRAIN=/ONLINE=/
#   PROFILE_SIZES= (the benchmarks' sizes), ALGOS_TRAIN=sft,dpo,kto (narrows every train
#   step), ALGOS_ONLINE=grpo,rloo, ALGOS_ONLINE_BEFORE=grpo, ALGOS_PROFILE=sft, PROFILE_ARGS=,
#   BEFORE_ARGS= (the baseline's extra train options; default --checkpointing on, as 04dfc56^
#   defaulted), WORKDIR= (models and data; default /tmp/trlprep-gpu-bench), PYTHON= (python3)
#
#   SMOKE=1 benchmarks/gpu.sh [WHEELS_DIR [BASELINE_DIR]]: the same steps and command lines on
#   CPU with tiny sizes (a 64-wide Llama, vocabulary 1024, a few steps), in 3 to 5 minutes
#   on 2 cores: a renamed flag, a missing import or a broken step shows up before a GPU is lent.
#   The GPU-only steps say why they are skipped (pytest -m gpu runs: it collects and skips).
#   Exit 0 when every step that ran passed, 1 when one failed or timed out (the log says
#   which, and the steps after it still run), 2 for a usage error (a missing folder, no CUDA
#   without SMOKE).
#
# Prepare on a machine with network, in the repository root (build/ is git-ignored):
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d build/gpu-wheels \
#       polars polars-runtime-32 datasets dill multiprocess trl jsonschema \
#       jsonschema-specifications referencing rpds-py attrs xxhash liger-kernel \
#       pytest pluggy iniconfig
#   python3 benchmarks/carry.py repack build/gpu-wheels     (2 to 5 minutes of one core)
#   # optional, the "before" side: the packages of the commit to compare with, measured by
#   # today's harness (older harnesses lack --no-trl); 04dfc56^ is the trainer before the GPU work
#   mkdir -p build/gpu-before && git archive BASE_COMMIT trlprep trainers converters \
#       schemas pyproject.toml | tar -x -C build/gpu-before && cp -r benchmarks build/gpu-before/
#   python3 benchmarks/carry.py check build/gpu-wheels build/gpu-before    (exit 0: it fits)
#
# What travels: a device call carries the tracked files (and untracked ones git does not
# ignore) always, and the ignored folders it names, 64 MiB in all. Sizes (2026-12-06): the
# tracked tree 8.3 MiB; the wheels 56.3 MiB as downloaded, polars-runtime-32 alone 51.4:
# 64.5 MiB, over the limit. `carry.py repack` rewrites each wheel with the same files, byte
# for byte, LZMA-compressed instead of deflate (pip reads such a wheel as any other; the
# installed polars is the same): the runtime becomes 31.4 MiB, the folder 35.8, and the
# tree, the wheels and the baseline tree (1.2 MiB) make 45.3 MiB, 18 to spare for test data.
# (Kept from the alternatives: polars 1.20's single wheel is 31.3 MiB but is not the polars
# the code is tested with; polars-runtime-compat is 50.7; stripping the runtime's symbols
# saves 4.) This script logs the same check at its start. The wheels are all the packages
# the code imports at run time beyond the machine's own (checked in a clean environment
# holding only them plus pandas: `pip check` then misses only triton, which CUDA torch
# brings). Only the wheels whose distribution is not installed are installed
# (`benchmarks/wheels.py`; --no-deps, from the folder): the machine's own torch stack and
# pytest stay; `pip check` then logs any requirement still missing. Should the
# liger-kernel release not import there, a nightly (pip download ... -d
# build/gpu-wheels-liger-nightly liger-kernel-nightly; LIGER_NIGHTLY=dir names another
# folder) is tried; 0.8.5 did import on the H200. With this workplace's device tool: carry
# build/gpu-wheels (and build/gpu-before) and run
#   LOG=$OUT/gpu-bench.log bash benchmarks/gpu.sh build/gpu-wheels build/gpu-before  (timeout_s 600)
# trlprep itself is not installed: a folder of links lays out its packages as pyproject.toml
# maps them.
#
# The plan, most valuable first, in seconds of the 480 s budget. Each benchmark side runs in
# a process of its own; on the H200 (2026-12-04 log) such a process took about 21 s (the
# train benchmark, 6 sides and a model build, 143 s; the baseline's, 2 sides and a build,
# 59 s), of which the timed steps are little: 8 x 1024 tokens a step at the issue's 55k to
# 115k tokens/s is 0.07 to 0.3 s a step. On 2 shared CPU cores (2026-12-06) building the
# 390M model took 18.7 s, a side's process at tiny sizes 4 to 19 s (imports and setup 3 to
# 8 s), and the parent process, which imported torch, transformers and trl (9 to 12 s there),
# now takes 0.2 s unless it builds the model. Every benchmark prints `time spent:` per side
# (process, imports and setup, training, timed steps): re-plan from those.
#   preamble  30 s: installs (about 10 s), versions and CUDA (one process importing the
#      stack), pip check
#   1. train, after       150 s: SFT, DPO, KTO, trlprep vs TRL (tokens/s, TFLOP/s, MFU, peak
#      memory): a model build (12 s) + 6 sides x 21 s + 6 s of steps
#   2. pytest -m gpu       45 s: bf16 vs fp32, the fused log-prob kernels and Liger against
#      the eager ones, SFT's NLL, padding-free, fused AdamW, compile, static cache (42 s)
#   3. online, after      145 s: GRPO, RLOO, trlprep vs TRL (step time, share in generate);
#      GRPO alone took 86 s (a build, trlprep compiling its decode step, TRL 1.3 s a step)
#   4. profile             60 s: SFT, trlprep and TRL side by side, 3 steps (top kernels,
#      host/device time a step): 2 sides x (21 s + the profiler's tables)
#   5. train, before       50 s: SFT and DPO of the baseline tree, same model (linked, not
#      built again): 2 sides x 21 s
#   = 480 s. A step may also use the time the steps before it left unused (its deadline is
#   the sum of the shares up to it); a step that fails or reaches its deadline is logged
#   as such and the next one runs. Then, only on the time still left, each at most:
#   6. train, eager kernel  50 s: SFT, DPO with --logps-kernel torch instead of the fused
#      default on CUDA (keep `auto` = fused only if it is the faster)
#   7. train, liger         50 s: SFT, DPO with --logps-kernel liger (default only if faster)
#   8. train, logits recomputed 30 s: DPO with --no-loss-in-forward (keep the default only
#      if faster)
#   9. train, checkpointing on 30 s: DPO with gradient checkpointing forced on (automatic
#      turns it off on a large GPU: the memory side of that trade)
#   10. online, before      60 s: the baseline's GRPO
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WHEELS=${1:-${WHEELS:-}}
BASELINE=${2:-${BASELINE:-}}
SMOKE=${SMOKE:-}
LOG=${LOG:-$ROOT/build/gpu-bench.log}
PLANNED=480  # the budget the shares below are planned for, in seconds
# on CPU a step's time goes to starting processes (torch, transformers, TRL imported in each):
# the smoke run scales every share to its larger budget
if [[ -n $SMOKE ]]; then BUDGET=${BUDGET:-900}; else BUDGET=${BUDGET:-$PLANNED}; fi
PY=${PYTHON:-python3}  # a GPU image may have no plain `python`
START=$(date +%s)
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
SHIMS=$(mktemp -d "${TMPDIR:-/tmp}/trlprep-shims.XXXXXX")
trap 'rm -rf "$SHIMS"' EXIT
OK=() FAILED=() SKIPPED=()
RAN=  # the last step whose command ran

# The plan (see the header): NAME:SECONDS, the planned steps first (their shares sum to
# PLANNED; each ends by the sum of the shares up to it), then the extras after "+", which run
# on the time the planned ones left, each for at most its share.
PLAN=("preamble:30" "train, after:150" "pytest -m gpu:45" "online, after:145" "profile:60"
    "train, before:50" + "train, eager kernel:50" "train, liger:50"
    "train, logits recomputed:30" "train, checkpointing on:30" "online, before:60")
declare -A SHARE=() DEADLINE=()
plan() {
    local item name secs planned=0 sum=0 extra= core=() more=()
    for item in "${PLAN[@]}"; do
        if [[ $item == + ]]; then extra=1; continue; fi
        name=${item%:*}
        if [[ -z $extra ]]; then
            # scaled as running sums, so that the shares add up to the budget exactly
            planned=$((planned + ${item##*:}))
            secs=$((planned * BUDGET / PLANNED - sum))
            sum=$((sum + secs))
            SHARE[$name]=$secs DEADLINE[$name]=$sum
            core+=("$name ${secs}s")
        else
            secs=$((${item##*:} * BUDGET / PLANNED))
            SHARE[$name]=$secs
            more+=("$name ${secs}s")
        fi
    done
    local scaled=
    ((BUDGET != PLANNED)) && scaled=" (the ${PLANNED}s plan scaled by ${BUDGET}/${PLANNED})"
    log "# plan, ${BUDGET}s${scaled}: $(join "${core[@]}") = ${sum}s; a step may also use" \
        "what the steps before it left unused; then, on the time still left, each at most:" \
        "$(join "${more[@]}")"
}

join() {
    local out
    out=$(printf '%s; ' "$@")
    out=${out%; }
    echo "${out:-none}"
}

log() { echo "$*" | tee -a "$LOG"; }
elapsed() { echo $(($(date +%s) - START)); }
left() { echo $((BUDGET - $(elapsed))); }
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

# run NAME DIR COMMAND...: COMMAND in DIR with that tree's packages, output to the log, until
# the step's deadline (a planned step) or for at most its share (an extra), never past the
# budget; skipped when that leaves under 20 s
run() {
    local name=$1 dir=$2 t max t0 rc took
    shift 2
    selected "$name" || return 0
    t=$(left)
    if [[ -n ${DEADLINE[$name]:-} ]]; then
        max=$((DEADLINE[$name] - $(elapsed)))
    else
        max=${SHARE[$name]}
    fi
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

# train NAME DIR WORKDIR ALGOS [OPTIONS...]: the train benchmark on ALGOS as pick keeps them
train() {
    local name=$1 dir=$2 wd=$3 algos
    algos=$(pick "$4")
    shift 4
    if [[ -z $algos ]]; then
        skip "$name" "ALGOS_TRAIN=$ALGOS_TRAIN keeps none of its algorithms"
        return
    fi
    run "$name" "$dir" $PY -m benchmarks --workdir "$wd" train -- --algos "$algos" "$@"
}

log "# trlprep GPU benchmarks${SMOKE:+ (SMOKE: tiny sizes, CPU allowed)}, $(date -u '+%Y-%m-%d %H:%M UTC')"
[[ -z $WHEELS || -d $WHEELS ]] || usage_error "$WHEELS: no such folder (the wheels; see this script's header)"
[[ -z $BASELINE || -d $BASELINE ]] || usage_error "$BASELINE: no such folder (the baseline tree; see this script's header)"
plan
$PY "$ROOT/benchmarks/carry.py" check $WHEELS $BASELINE 2>&1 | tee -a "$LOG"
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
# should the liger-kernel release not import against this torch / Triton, try a nightly
NIGHTLY=${LIGER_NIGHTLY:-${WHEELS:+$WHEELS-liger-nightly}}
if [[ -d ${NIGHTLY:-/nonexistent} ]] && ! $PY -c "import liger_kernel.transformers.functional" 2>/dev/null; then
    log "liger_kernel does not import; installing $NIGHTLY"
    $PY -m pip install -q --no-index --no-deps "$NIGHTLY"/*.whl 2>&1 | tail -3 | tee -a "$LOG"
fi
# the versions, whether each module imports, and CUDA, in one process (each import of the
# stack costs seconds)
$PY - <<'PYEOF' >"$SHIMS/versions" 2>&1
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
try:
    import torch

    print(f"CUDA: {'yes' if torch.cuda.is_available() else 'no'}")
except Exception as e:  # noqa: BLE001
    print(f"CUDA: no (torch does not import: {e})")
PYEOF
tee -a "$LOG" <"$SHIMS/versions"
LIGER_ERROR=$(grep -E "^liger-kernel" "$SHIMS/versions" | grep -E "not installed|does not import")
CUDA=$(grep -qx "CUDA: yes" "$SHIMS/versions" && echo yes)
if [[ -z $CUDA && -z $SMOKE ]]; then
    usage_error "no CUDA device here: SMOKE=1 runs the same steps with tiny sizes on CPU"
fi
log "# preamble done after $(elapsed)s (its share: ${SHARE[preamble]}s)"

if [[ -n $SMOKE ]]; then
    TRAIN=${TRAIN:-"--steps 3 --batch 2 --vocab 1024 --seq-len 64 --hidden 64 --layers 2"}
    PROFILE_SIZES=${PROFILE_SIZES:-"--steps 3 --batch 2 --vocab 1024 --seq-len 64 --hidden 64 --layers 2"}
    ONLINE=${ONLINE:-"--steps 2 --batch 4 --generations 2 --vocab 1024 --hidden 64 --layers 2 --new-tokens 8"}
    WD=${WORKDIR:-/tmp/trlprep-gpu-smoke}
else
    TRAIN=${TRAIN:-"--steps 6 --batch 8 --vocab 128256 --seq-len 1024 --hidden 1024 --layers 8"}
    # 3 steps: the first (compilation, warm-up) is left out, 2 are recorded
    PROFILE_SIZES=${PROFILE_SIZES:-"--steps 3 --batch 8 --vocab 128256 --seq-len 1024 --hidden 1024 --layers 8"}
    ONLINE=${ONLINE:-"--steps 3 --batch 16 --generations 4 --vocab 32000 --hidden 1024 --layers 8 --new-tokens 128"}
    WD=${WORKDIR:-/tmp/trlprep-gpu-bench}
fi
BASE=
[[ -n $BASELINE ]] && BASE=$(cd "$BASELINE" && pwd)
NO_BASE="no baseline folder given (see the header of this script)"

# the planned steps
train "train, after" "$ROOT" "$WD" sft,dpo,kto $TRAIN
run "pytest -m gpu" "$ROOT" $PY -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider
[[ -z $CUDA && $RAN == "pytest -m gpu" ]] && log "(no CUDA here: its tests skip; it ran for its imports)"
run "online, after" "$ROOT" $PY -m benchmarks --workdir "$WD" online -- --algos "${ALGOS_ONLINE:-grpo,rloo}" $ONLINE
run "profile" "$ROOT" $PY -m benchmarks --workdir "$WD" train -- --algos "${ALGOS_PROFILE:-sft}" ${PROFILE_ARGS:-} \
    $PROFILE_SIZES --profile
if [[ -n $BASE ]]; then
    # the same model files as the after side (built above), not built again
    mkdir -p "$WD-base/train" "$WD-base/online"
    for m in "$WD"/train/model-* "$WD"/online/model-*; do
        [[ -e $m ]] && ln -sfn "$m" "$WD-base/${m#"$WD"/}"
    done
    train "train, before" "$BASE" "$WD-base" sft,dpo $TRAIN --no-trl ${BEFORE_ARGS---checkpointing on}
else
    skip "train, before" "$NO_BASE"
fi
# the extras, on the time left
train "train, eager kernel" "$ROOT" "$WD" sft,dpo $TRAIN --no-trl --set logps_kernel=torch
if [[ -z $CUDA ]]; then
    skip "train, liger" "Liger's kernels need CUDA (--logps-kernel liger refuses a CPU run)"
elif [[ -z $LIGER_ERROR ]]; then
    train "train, liger" "$ROOT" "$WD" sft,dpo $TRAIN --no-trl --set logps_kernel=liger
else
    skip "train, liger" "liger_kernel: $LIGER_ERROR"
fi
train "train, logits recomputed" "$ROOT" "$WD" dpo $TRAIN --no-trl --set loss_in_forward=false
train "train, checkpointing on" "$ROOT" "$WD" dpo $TRAIN --no-trl --checkpointing on
if [[ -n $BASE ]]; then
    run "online, before" "$BASE" $PY -m benchmarks --workdir "$WD-base" online -- --algos "${ALGOS_ONLINE_BEFORE:-grpo}" $ONLINE --no-trl
else
    skip "online, before" "$NO_BASE"
fi

log "# summary: ${#OK[@]} steps passed; failed: $(join "${FAILED[@]}"); skipped: $(join "${SKIPPED[@]}")"
log "# done in $(elapsed)s of ${BUDGET}s; log: $LOG"
((${#FAILED[@]} == 0)) || exit 1
