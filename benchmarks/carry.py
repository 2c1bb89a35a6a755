"""What a device call carries for `benchmarks/gpu.sh`, and making its wheels fit.

    python3 benchmarks/carry.py check [DIR...]   sizes of what travels, exit 1 over 64 MiB
    python3 benchmarks/carry.py repack DIR       rewrite DIR's wheels LZMA-compressed

A device call carries the repository's tracked files (always) and the git-ignored folders
it names (the wheels, the baseline tree), 64 MiB in all. `check` prints each part's size
and their sum against that limit. `repack` rewrites each wheel of DIR with the same
members, byte for byte, in a ZIP compressed with LZMA instead of deflate: polars' runtime
wheel shrinks from 51.4 to 31.4 MiB. pip installs such a wheel as it does any other
(Python's zipfile reads LZMA members; the RECORD hashes are of the members, unchanged).
Standard library only: `check` also runs on the benchmark machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

LIMIT = 64 * 2**20  # the device tool's limit on what travels with one call
MIB = 2**20


def tracked_bytes(root: Path) -> tuple[int, str]:
    """The size of the files that always travel, and how it was measured: the tracked files
    and the untracked ones git does not ignore, where git knows the tree; else every file
    under `root` outside .git and build/ (a copy without its .git holds what travelled)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        names = {n for n in out.decode().split("\0") if n}
        return sum(_size(root / n) for n in names), "tracked and not-ignored files (git)"
    except (OSError, subprocess.CalledProcessError):
        total = 0
        for folder, dirs, files in os.walk(root):
            if Path(folder) == root:
                dirs[:] = [d for d in dirs if d not in (".git", "build")]
            total += sum(_size(Path(folder) / f) for f in files)
        return total, "files outside .git and build/"


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:  # listed by git but deleted in the work tree
        return 0


def folder_bytes(folder: Path) -> int:
    """The size of every file under `folder`."""
    return sum(_size(Path(d) / f) for d, _, files in os.walk(folder) for f in files)


def check(root: Path, folders: list[Path]) -> tuple[bool, list[str]]:
    """Whether the tracked tree and `folders` fit one call's 64 MiB, and a line per part."""
    tracked, how = tracked_bytes(root)
    lines = [f"  {how}: {tracked / MIB:.1f} MiB"]
    total = tracked
    for folder in folders:
        size = folder_bytes(folder)
        total += size
        lines.append(f"  {folder}: {size / MIB:.1f} MiB")
    fits = total <= LIMIT
    verdict = "fits" if fits else "does NOT fit: see benchmarks/gpu.sh's header"
    lines.append(f"  together {total / MIB:.1f} MiB of {LIMIT // MIB} MiB: {verdict}")
    return fits, lines


def repack(wheel: Path) -> tuple[int, int]:
    """Rewrite `wheel` in place with its members LZMA-compressed (bytes, names, times and
    modes as they were); returns its size before and after. A wheel already LZMA is left."""
    before = wheel.stat().st_size
    with zipfile.ZipFile(wheel) as zin:
        infos = zin.infolist()
        if all(i.compress_type == zipfile.ZIP_LZMA for i in infos):
            return before, before
        tmp = wheel.with_name(wheel.name + ".part")
        with zipfile.ZipFile(tmp, "w") as zout:
            for info in infos:
                out = zipfile.ZipInfo(info.filename, info.date_time)
                out.external_attr = info.external_attr
                out.compress_type = zipfile.ZIP_LZMA
                zout.writestr(out, zin.read(info))
    tmp.replace(wheel)
    return before, wheel.stat().st_size


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    if len(argv) >= 1 and argv[0] == "check":
        folders = [Path(a) for a in argv[1:] if a]
        missing = [f for f in folders if not f.is_dir()]
        if missing:
            print(f"{missing[0]}: no such folder", file=sys.stderr)
            return 2
        fits, lines = check(root, folders)
        print("what travels with the device call:\n" + "\n".join(lines))
        return 0 if fits else 1
    if len(argv) == 2 and argv[0] == "repack":
        folder = Path(argv[1])
        wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
        if not wheels:
            print(f"{folder}: no wheels (*.whl) there", file=sys.stderr)
            return 2
        for wheel in wheels:
            before, after = repack(wheel)
            print(f"{wheel.name}: {before / MIB:.1f} -> {after / MIB:.1f} MiB")
        print(f"{folder}: {folder_bytes(folder) / MIB:.1f} MiB")
        return 0
    print("usage:\n" + "\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
