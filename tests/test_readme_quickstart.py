"""The README's Quickstart and CI snippet point at things that exist: the shipped files, the
extras, and an install that does not need an unpublished package."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start : end if end > 0 else None]


def _commands(section: str, fence: str) -> list[str]:
    block = re.search(rf"```{fence}\n(.*?)```", section, re.S)
    assert block, f"no ```{fence} block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_uses_what_the_repository_ships():
    commands = _commands(_section("Quickstart"), "bash")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    optional = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    extras = re.findall(r"^(\w+) = \[", optional, re.M)
    assert {"test", "train"} <= set(extras)
    for command in commands:
        for word in shlex.split(command):
            if word.startswith("examples/"):
                assert (ROOT / word).exists(), word
            if word.startswith(".[") and word.endswith("]"):
                assert set(word[2:-1].split(",")) <= set(extras), word
    joined = "\n".join(commands)
    for step in ("python3 -m venv", "pip install", "trlprep convert", "pytest"):
        assert step in joined, step
    # runnable as written in a clone: no placeholder to fill in
    assert not re.search(r"\$\{?[A-Z_]+|\bOWNER\b|<[^>]+>", joined), joined
    # the offline training command the tests run (tests/test_tiny_model.py)
    assert (
        "trlprep train --algo dpo --model examples/tiny-chat-model "
        "--data examples/preference.jsonl --output-dir out" in joined
    )


def test_ci_snippet_installs_from_the_repository():
    commands = _commands(_section("Using trlprep in CI"), "yaml")
    installs = [c for c in commands if "pip install" in c]
    assert installs and all("pip install trlprep" not in c for c in installs)
    assert any(re.search(r"pip install \.(/\S+)?$", c.removeprefix("- run: ")) for c in installs)
    # runnable as written (in trlprep's repository): no placeholder, a shipped example
    assert not re.search(r"\$\{?[A-Z_]+|\bOWNER\b|<[^>]+>", "\n".join(commands)), commands
    validate = [c for c in commands if "trlprep validate" in c]
    shipped = [w for c in validate for w in shlex.split(c) if w.startswith("examples/")]
    assert validate and len(shipped) == len(validate), validate
    assert all((ROOT / w).is_file() for w in shipped), shipped
