"""The folder tree keeps the layering ARCHITECTURE.md states: each part of the core imports
(at module level) only the parts below it, every module says its job in a docstring, and
`trlprep/` stays a short list of entries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first, as in ARCHITECTURE.md: a part may import, at module level, only parts
# listed before it (imports inside functions are free: they load where they are used).
ORDER = [
    "errors",
    "wording",
    "keywords/",
    "registry",
    "columns/",
    "io/",
    "converters",
    "detection/",
    "validation/",
    "templates/",
    "importers/",
    "compat/",
    "conversion/",
    "datareport/",
    "api",
    "ray/",
    "cli/",
]


def _part(module: str) -> str | None:
    """The part of the core a `trlprep...` module belongs to (None outside the core)."""
    names = module.split(".")
    if names[0] != "trlprep" or len(names) < 2 or names[1] in ("trainers", "schemas"):
        return None
    if names[1] == "converters":
        return "converters"
    return names[1] + ("/" if (ROOT / "trlprep" / names[1]).is_dir() else "")


def _file_part(path: Path) -> str | None:
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "converters":
        return "converters"
    return _part("trlprep." + rel.parts[1].removesuffix(".py"))


def _module_level_imports(path: Path) -> list[tuple[int, str]]:
    imported = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            base = [node.module]
            if node.module == "trlprep":  # `from trlprep import ray`: the submodule
                base = [f"trlprep.{a.name}" for a in node.names]
            imported += [(node.lineno, m) for m in base]
        elif isinstance(node, ast.Import):
            imported += [(node.lineno, a.name) for a in node.names]
    return imported


def _core_files() -> list[Path]:
    files = [*(ROOT / "trlprep").rglob("*.py"), *(ROOT / "converters").rglob("*.py")]
    return sorted(f for f in files if f.name != "__main__.py")


def test_no_module_reaches_up():
    rank = {part: i for i, part in enumerate(ORDER)}
    upward = []
    for path in _core_files():
        mine = _file_part(path)
        if mine is None or path == ROOT / "trlprep" / "__init__.py":
            continue
        for line, module in _module_level_imports(path):
            theirs = _part(module)
            if theirs is None or theirs == mine or theirs not in rank:
                continue
            if rank[theirs] > rank[mine]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {module}")
    assert not upward, "\n".join(upward)


def test_every_part_of_the_core_is_placed():
    parts = {_file_part(p) for p in _core_files()} - {None}
    parts.discard("__init__")
    assert parts <= set(ORDER), parts - set(ORDER)


@pytest.mark.parametrize("folder", ["trlprep", "converters", "trainers"])
def test_every_module_says_its_job(folder):
    missing = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / folder).rglob("*.py"))
        if p.name != "__main__.py"
        and p.stat().st_size
        and not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert not missing, missing


def test_trlprep_top_is_a_short_list():
    entries = [
        p.name
        for p in (ROOT / "trlprep").iterdir()
        if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").exists())
    ]
    assert len(entries) <= 16, sorted(entries)


def test_losses_import_nothing_of_trlprep():
    for path in sorted((ROOT / "trainers" / "losses").rglob("*.py")):
        imported = [m for _, m in _module_level_imports(path) if m.startswith("trlprep")]
        assert all(m.startswith("trlprep.trainers.losses") for m in imported), (path, imported)


def test_architecture_names_every_folder():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    folders = [p.name for p in (ROOT / "trlprep").iterdir() if (p / "__init__.py").exists()]
    folders += ["online", "losses"]
    absent = [f for f in folders if f"`{f}/`" not in text and f"`trainers/{f}/`" not in text]
    assert not absent, absent


def test_every_package_is_installed():
    """pyproject.toml lists packages one by one: a folder left out is missing from a wheel."""
    tomllib = pytest.importorskip("tomllib")
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {name: ROOT / folder for name, folder in setup["package-dir"].items()}
    found = set()
    for name, folder in dirs.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((name, *rel)))
    assert found <= set(setup["packages"]), sorted(found - set(setup["packages"]))
