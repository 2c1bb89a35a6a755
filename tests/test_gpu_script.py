"""benchmarks/gpu.sh works the first time a GPU is lent: its smoke mode (SMOKE=1) runs every
step's real command line on CPU with tiny sizes; a failing step is logged and the next runs;
the time budget skips what no longer fits; the install step installs only what is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.sh"
sys.path.insert(0, str(ROOT))

from benchmarks.wheels import plan  # noqa: E402

STEPS = (  # the planned ones, then the extras
    "train, after",
    "pytest -m gpu",
    "online, after",
    "profile",
    "train, before",
    "train, eager kernel",
    "train, liger",
    "train, logits recomputed",
    "train, checkpointing on",
    "online, before",
)
PLANNED = STEPS[:5]
TRAIN_STEPS = [s for s in STEPS if s.startswith("train")]
needs_shell = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("timeout") and shutil.which("md5sum")),
    reason="gpu.sh needs bash and coreutils",
)


def _fake_wheel(folder: Path, dist: str, version: str | None = None, tag: str = "py3-none-any"):
    folder.mkdir(exist_ok=True)
    version = version or metadata.version(dist)
    name = re.sub(r"[-_.]+", "_", dist)
    path = folder / f"{name}-{version}-{tag}.whl"
    path.write_bytes(b"")  # never opened: an installed distribution is not installed again
    return path


def _installed_wheels(folder: Path) -> Path:
    """A wheels folder naming only distributions installed here: nothing to install."""
    for dist in ("datasets", "polars", "trl", "pytest", "dill"):
        _fake_wheel(folder, dist)
    return folder


def _gpu_sh(tmp_path: Path, *args: str, timeout: int = 170, **env: str):
    log = tmp_path / "gpu-bench.log"
    full = {
        **os.environ,
        "PYTHON": sys.executable,
        "LOG": str(log),
        "WORKDIR": str(tmp_path / "work"),
        "TMPDIR": str(tmp_path),
        **env,
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=timeout
    )
    text = log.read_text() if log.exists() else ""
    return done.returncode, text, done.stdout + done.stderr


def _sections(log: str) -> dict[str, str]:
    """Each step's output, from its `=== NAME (at most ...)` line to its closing line."""
    out = {}
    for m in re.finditer(r"^=== (.+?) \(at most \d+s\): .*?^=== \1: [^\n]*$", log, re.M | re.S):
        out[m.group(1)] = m.group(0)
    return out


def _figures(section: str, algo: str, trainer: str) -> bool:
    """A table row `algo trainer <step s> <tokens/s>` with numbers."""
    return re.search(rf"^{algo}\s+{trainer}\s+\d+\.\d+\s+\d+", section, re.M) is not None


@pytest.mark.slow  # ~80 s of CPU: 14 processes each importing torch and transformers
@needs_shell
def test_smoke_run_logs_every_steps_figures_or_why_it_was_skipped(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    wheels = _installed_wheels(tmp_path / "wheels")
    rc, log, out = _gpu_sh(
        tmp_path, str(wheels), SMOKE="1", ALGOS_TRAIN="dpo", ALGOS_ONLINE="grpo",
        ALGOS_PROFILE="dpo", PROFILE_ARGS="--no-trl", timeout=400,
    )  # fmt: skip
    assert rc == 0, out[-3000:]
    assert f"wheels in {wheels}: 0 to install" in log
    assert "installed already: trl " in log
    steps = _sections(log)
    for step in STEPS:
        ran = re.search(rf"^=== {re.escape(step)}: exit 0 after \d+s$", log, re.M)
        skipped = re.search(rf"^=== {re.escape(step)}: skipped: \S.+$", log, re.M)
        assert ran or skipped, f"{step}: neither figures nor a skip line\n{log[-3000:]}"
        assert not (ran and skipped), step
    # every train step but Liger's (CUDA only) ran trlprep's DPO and gave figures
    for step in ("train, after", "train, eager kernel", "train, logits recomputed", "profile"):
        assert _figures(steps[step], "dpo", "trlprep"), steps.get(step, log)
    assert _figures(steps["train, checkpointing on"], "dpo", "trlprep")
    assert _figures(steps["train, after"], "dpo", "trl")
    assert re.search(r"^dpo\s+ratio\s+\d", steps["train, after"], re.M)
    assert "--- profile: trlprep dpo ---" in steps["profile"]
    assert re.search(r"^grpo\s+trlprep\s+\d+\.\d+\s+\d+%", steps["online, after"], re.M)
    assert re.search(r"^grpo\s+trl\s+\d+\.\d+\s+\d+%", steps["online, after"], re.M)
    assert "--set loss_in_forward=false" in steps["train, logits recomputed"]
    assert "--set logps_kernel=torch" in steps["train, eager kernel"]
    assert re.search(r"\d+ skipped|\d+ passed", steps["pytest -m gpu"])
    assert re.search(r"^=== train, liger: skipped: .*CUDA", log, re.M)
    assert "=== train, before: skipped: no baseline folder given" in log
    assert "# summary: 7 steps passed; failed: none" in log
    # where each side's process spent its time, for the next plan
    spent = r"^time spent: trlprep dpo: process \d+\.\d s \(\d"
    assert re.search(spent, steps["train, after"], re.M)
    assert re.search(r"^time spent: trl grpo: process ", steps["online, after"], re.M)
    assert "what travels with the device call:" in log and "# preamble done after" in log


@needs_shell
def test_a_failing_step_is_logged_and_the_next_one_runs_within_its_share(tmp_path):
    pytest.importorskip("torch")
    rc, log, out = _gpu_sh(tmp_path, SMOKE="1", ONLY="train", TRAIN="--no-such-flag", BUDGET="400")
    assert rc == 1, out[-3000:]
    failed = [s for s in TRAIN_STEPS if f"=== {s}: FAILED, exit 2 after" in log]
    assert failed == ["train, after", "train, eager kernel", "train, logits recomputed",
                      "train, checkpointing on"]  # fmt: skip
    assert log.count("unrecognized arguments: --no-such-flag") == 4
    assert "=== train, before: skipped: no baseline folder given" in log
    assert "=== online, after" not in log and "=== profile" not in log  # ONLY=train
    assert "failed: train, after (exit 2); train, eager kernel (exit 2)" in log
    # a planned step runs until its deadline: the preamble's share (25 s of 400) and its own
    # (125 s), less the seconds the preamble took; an extra gets its share (30 s x 400/480)
    # as the budget has more left
    cap = int(re.search(r"^=== train, after \(at most (\d+)s\)", log, re.M).group(1))
    assert 90 <= cap <= 150  # not the 375 s the budget had left
    assert "=== train, logits recomputed (at most 25s)" in log


@needs_shell
def test_steps_past_the_budget_are_skipped(tmp_path):
    pytest.importorskip("torch")
    # 20 s: the preamble (versions, imports) leaves less than a step's 20 s floor
    rc, log, _ = _gpu_sh(tmp_path, SMOKE="1", BUDGET="20", TRAIN="--no-such-flag")
    assert rc == 0
    for step in STEPS:
        if step.endswith("before"):
            assert f"=== {step}: skipped: no baseline folder given" in log
        elif step != "train, liger":
            assert re.search(rf"=== {re.escape(step)}: skipped: out of time budget", log), step
    assert "# summary: 0 steps passed; failed: none" in log


@needs_shell
def test_usage_errors_exit_2_before_anything_runs(tmp_path):
    rc, log, _ = _gpu_sh(tmp_path, str(tmp_path / "missing"), SMOKE="1")
    assert rc == 2
    assert "missing: no such folder (the wheels" in log
    assert "===" not in log
    wheels = _installed_wheels(tmp_path / "wheels")
    rc, log, _ = _gpu_sh(tmp_path, str(wheels), str(tmp_path / "nobase"), SMOKE="1")
    assert rc == 2 and "nobase: no such folder (the baseline tree" in log


@needs_shell
def test_without_cuda_the_full_run_refuses_and_points_to_smoke(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: the full run would start")
    rc, log, _ = _gpu_sh(tmp_path)
    assert rc == 2
    assert "no CUDA device here: SMOKE=1 runs the same steps" in log
    assert "=== train" not in log


def _plan(log: str) -> tuple[dict[str, int], int, dict[str, int]]:
    """The logged plan: the planned steps' shares, their sum, the extras' shares."""
    m = re.search(r"^# plan, \d+s[^:]*: (.+?) = (\d+)s; .*each at most: (.+)$", log, re.M)
    assert m, log[:2000]

    def shares(text: str) -> dict[str, int]:
        return {k: int(v) for k, v in re.findall(r"([a-z][^;]*?) (\d+)s(?:;|$)", text)}

    return shares(m.group(1)), int(m.group(2)), shares(m.group(3))


@needs_shell
def test_the_plan_is_logged_first_and_its_shares_sum_to_the_budget(tmp_path):
    # without CUDA the full run stops at its CUDA check, after logging the plan and sizes
    rc, log, _ = _gpu_sh(tmp_path, PYTHON="false")  # no Python: no CUDA either
    assert rc == 2
    planned, total, extras = _plan(log)
    assert list(planned) == ["preamble", *PLANNED]
    assert sum(planned.values()) == total == 480
    assert list(extras) == list(STEPS[5:]) and all(v > 0 for v in extras.values())
    # another budget scales every share; the planned ones still sum to it exactly
    rc, log, _ = _gpu_sh(tmp_path, PYTHON="false", BUDGET="900")
    planned, total, extras = _plan(log)
    assert sum(planned.values()) == total == 900
    assert planned["train, after"] in (281, 282) and extras["train, liger"] == 93
    assert "(the 480s plan scaled by 900/480)" in log


def test_wheels_plan_installs_only_what_is_missing(tmp_path):
    folder = tmp_path / "wheels"
    have = _fake_wheel(folder, "pytest")
    older = _fake_wheel(folder, "polars", "0.0.1")
    new = _fake_wheel(folder, "no-such-dist-trlprep", "1.0")
    other = _fake_wheel(folder, "other-platform-trlprep", "1.0", "cp27-cp27m-win32")
    (folder / "not-a-wheel.whl").write_bytes(b"")
    p = plan(folder)
    assert p.install == [new]
    notes = "\n".join(p.notes)
    assert f"installed already: pytest {metadata.version('pytest')}" in notes
    assert f"polars {metadata.version('polars')}; the folder has 0.0.1" in notes
    assert f"not for this Python or platform, left out: {other.name}" in notes
    assert "not a wheel's name, left out: not-a-wheel.whl" in notes
    assert "to install: no-such-dist-trlprep 1.0" in notes
    assert have.exists() and older.exists()


def test_wheels_plan_of_an_empty_folder_says_so(tmp_path):
    p = plan(tmp_path)
    assert p.install == [] and p.notes == [f"  no wheels (*.whl) in {tmp_path}"]


def test_wheels_script_prints_the_paths_to_install_and_exits_2_without_a_folder(tmp_path):
    new = _fake_wheel(tmp_path, "no-such-dist-trlprep", "1.0")
    _fake_wheel(tmp_path, "pytest")
    script = str(ROOT / "benchmarks" / "wheels.py")
    done = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [str(new)]
    assert "1 to install" in done.stderr and "installed already: pytest" in done.stderr
    done = subprocess.run([sys.executable, script, str(tmp_path / "x")], capture_output=True)
    assert done.returncode == 2


def test_a_benchmark_side_that_dies_or_raises_is_reported_and_the_others_go_on(capsys):
    from benchmarks.measure import exit_if_failed, in_process, tried

    # killed outright (no result sent back): reported at once, not waited on forever
    with pytest.raises(RuntimeError, match=r"died \(exit code 3\)"):
        in_process("dies", os._exit, 3)
    failures: list[str] = []
    assert tried(failures, "raises", int, "not a number") is None
    ok = tried(failures, "runs", tuple, [1.5, 2, {"k": 1}])  # (seconds, rows, extra)
    assert (ok.seconds, ok.rows, ok.extra["k"]) == (1.5, 2, 1)
    assert ok.extra["process_s"] > 0  # the whole process's wall time, for gpu.sh's plan
    assert failures == ["raises"]
    out = capsys.readouterr().out
    assert "FAILED: raises failed: ValueError" in out and "invalid literal for int()" in out
    with pytest.raises(SystemExit, match="failed: raises "):
        exit_if_failed(failures)
    exit_if_failed([])  # nothing failed: returns
