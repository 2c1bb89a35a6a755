"""What a data command's process loads and how it sets its allocators: `validate`, `convert`
and `report` need neither torch nor a model library (a light install is a promise), and a
`convert` that renders no template loads no Jinja; the CLI has freed memory given back to
the system at once (`trlprep.cli.allocators`), except for `train`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

PROBE = """
import os, sys
sys.argv = ["trlprep", *sys.argv[1:]]
from trlprep.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("torch", "transformers", "datasets", "ray", "accelerate", "tokenizers", "jinja2")
print("LOADED", ",".join(m for m in heavy if m in sys.modules))
for name in ("MIMALLOC_PURGE_DELAY", "_RJEM_MALLOC_CONF"):
    print("ENV", name, os.environ.get(name))
"""

NO_MODEL = {"torch", "transformers", "datasets", "ray", "accelerate", "tokenizers"}


def _probe(*argv: str, env: dict[str, str] | None = None) -> tuple[set[str], dict[str, str]]:
    """(the heavy modules loaded, the allocator settings) of `trlprep ARGV` in a fresh process."""
    unset = ("MIMALLOC_PURGE_DELAY", "_RJEM_MALLOC_CONF")
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, **(env or {})},
    )
    lines = done.stdout.splitlines()
    loaded = [x for x in lines if x.startswith("LOADED")][-1].split(" ", 1)[1]
    settings = dict(x.split(" ", 2)[1:] for x in lines if x.startswith("ENV "))
    return set(filter(None, loaded.split(","))), settings


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["validate", "{pref}"], set()),
        (["convert", "{pref}", "-o", "{tmp}/out.parquet"], set()),
        (["convert", "{pref}", "--to", "unpaired", "-o", "{tmp}/out.jsonl"], set()),
        (["report", "{pref}", "-o", "{tmp}/report.html"], {"jinja2"}),
    ],
)
def test_data_commands_load_no_model_library(tmp_path, argv, allowed):
    pref = EXAMPLES / "preference_conversational.jsonl"
    argv = [a.format(pref=pref, tmp=tmp_path) for a in argv]
    loaded, _ = _probe(*argv)
    assert loaded <= allowed, (argv, loaded - allowed)
    assert not loaded & NO_MODEL


def test_data_commands_give_freed_memory_back_and_keep_the_users_setting(tmp_path):
    data = str(EXAMPLES / "preference.jsonl")
    _, settings = _probe("validate", data)
    assert settings["MIMALLOC_PURGE_DELAY"] == "0"
    # polars puts its defaults first; jemalloc takes the last value of an option
    assert settings["_RJEM_MALLOC_CONF"].endswith("dirty_decay_ms:0,muzzy_decay_ms:0")
    _, settings = _probe("validate", data, env={"MIMALLOC_PURGE_DELAY": "250"})
    assert settings["MIMALLOC_PURGE_DELAY"] == "250"


def test_train_leaves_the_allocators_as_they_are():
    _, settings = _probe("train", "--help")
    assert settings["MIMALLOC_PURGE_DELAY"] == "None"
    assert "decay_ms:0" not in settings["_RJEM_MALLOC_CONF"]
