"""Which wheels of a folder `benchmarks/gpu.sh` must install into this Python.

    python benchmarks/wheels.py WHEELS_DIR

Prints the paths of the wheels whose distribution is not installed, one a line, on stdout
(what `pip install --no-index --no-deps` is then given), and on stderr what it decided for
each wheel: a distribution already installed is kept, whatever version the folder has (the
machine's own torch stack and test tools stay as they are), and a wheel built for another
Python or platform is reported, not installed. Exit 0; 2 when the folder does not exist.
Runs on the benchmark machine before anything is installed: standard library and
`packaging` (which transformers requires) only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Plan:
    install: list[Path]
    notes: list[str]


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def plan(folder: Path) -> Plan:
    """The wheels of `folder` to install here, and a line for each wheel saying why."""
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    here = set(sys_tags())
    install: list[Path] = []
    notes: list[str] = []
    for wheel in sorted(folder.glob("*.whl")):
        try:
            name, version, _, tags = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename as e:
            notes.append(f"  not a wheel's name, left out: {wheel.name} ({e})")
            continue
        have = _installed(name)
        if have is not None:
            same = "" if have == str(version) else f"; the folder has {version}"
            notes.append(f"  installed already: {name} {have}{same}")
        elif not tags & here:
            tag = sorted(str(t) for t in tags)[0]
            notes.append(f"  not for this Python or platform, left out: {wheel.name} ({tag})")
        else:
            install.append(wheel)
            notes.append(f"  to install: {name} {version}")
    if not install and not notes:
        notes.append(f"  no wheels (*.whl) in {folder}")
    return Plan(install, notes)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python benchmarks/wheels.py WHEELS_DIR", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    if not folder.is_dir():
        print(f"{folder}: no such folder (the wheels to install; see gpu.sh)", file=sys.stderr)
        return 2
    p = plan(folder)
    print(f"wheels in {folder}: {len(p.install)} to install", file=sys.stderr)
    print("\n".join(p.notes), file=sys.stderr)
    for wheel in p.install:
        print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
