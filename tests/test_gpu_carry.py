"""benchmarks/carry.py: what a device call carries is measured against its 64 MiB limit, and
a wheel repacked with LZMA installs with pip as the deflated one did, files byte for byte."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.carry import LIMIT, check, repack  # noqa: E402

MODULE = b"VALUE = 42\n" + b"# filler that compresses\n" * 2000


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, deflated as pip download gives them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trlprep_carry_probe-1.0-py3-none-any.whl"
    info = "trlprep_carry_probe-1.0.dist-info"
    members = {
        "trlprep_carry_probe.py": MODULE,
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: trlprep-carry-probe\nVersion: 1.0\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in members) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr(f"{info}/RECORD", record)
    return path


def test_a_repacked_wheel_is_lzma_and_installs_the_same_files(tmp_path):
    wheel = _wheel(tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    before, after = repack(wheel)
    assert before > 0 and after == wheel.stat().st_size
    with zipfile.ZipFile(wheel) as z:
        assert z.namelist() == names
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_LZMA}
        assert z.read("trlprep_carry_probe.py") == MODULE
    assert repack(wheel) == (after, after)  # already LZMA: left as it is
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
         "--no-compile", "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (target / "trlprep_carry_probe.py").read_bytes() == MODULE


def test_check_sums_the_tree_and_the_folders_against_the_limit(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.whl").write_bytes(b"x" * 2048)
    fits, lines = check(ROOT, [small])
    assert fits, lines
    assert lines[1] == f"  {small}: 0.0 MiB" and "fits" in lines[-1]
    big = tmp_path / "big"
    big.mkdir()
    with open(big / "runtime.whl", "wb") as f:
        f.truncate(LIMIT)  # sparse: its size, not its disk blocks, is what travels
    fits, lines = check(ROOT, [small, big])
    assert not fits
    assert lines[2] == f"  {big}: 64.0 MiB" and "does NOT fit" in lines[-1]


def test_the_script_exits_1_when_over_and_2_for_a_missing_folder(tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    with open(big / "runtime.whl", "wb") as f:
        f.truncate(LIMIT)
    script = str(ROOT / "benchmarks" / "carry.py")
    done = subprocess.run([sys.executable, script, "check", str(big)], capture_output=True)
    assert done.returncode == 1 and b"does NOT fit" in done.stdout
    done = subprocess.run(
        [sys.executable, script, "check", str(tmp_path / "no")], capture_output=True
    )
    assert done.returncode == 2 and b"no such folder" in done.stderr
    done = subprocess.run([sys.executable, script, "repack", str(tmp_path)], capture_output=True)
    assert done.returncode == 2 and b"no wheels" in done.stderr
