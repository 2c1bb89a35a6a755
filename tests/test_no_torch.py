"""Data work never needs torch: import trlprep and run data commands with torch unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Hides torch and accelerate from every import finder, as if they were not installed:
# `importlib.util.find_spec("torch")` is None and `import torch` raises ModuleNotFoundError.
_HIDE_TORCH = """
import importlib.abc, importlib.util, sys

BLOCKED = ("torch", "accelerate")


class Hide(importlib.abc.MetaPathFinder):
    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            return None
        find = getattr(self.inner, "find_spec", None)
        return find(name, path, target) if find else None

    def invalidate_caches(self):
        getattr(self.inner, "invalidate_caches", lambda: None)()


sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
assert importlib.util.find_spec("torch") is None
try:
    import torch  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("torch is still importable")
"""


def _run(body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = _HIDE_TORCH + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_detect_and_cli_without_torch(tmp_path):
    data = tmp_path / "pc.jsonl"
    data.write_text(
        json.dumps(
            {
                "prompt": [{"role": "user", "content": "Hi"}],
                "completion": [{"role": "assistant", "content": "Hello!"}],
            }
        )
        + "\n"
    )
    proc = _run(
        f"""
        import pkgutil, importlib
        import pyarrow as pa
        import trlprep

        det = trlprep.detect(pa.table({{"prompt": ["The sky is"], "completion": [" blue."]}}))
        assert (det.type.name, det.format.value) == ("prompt-completion", "standard"), det
        det = trlprep.detect([{{"chosen": "The sky is blue.", "rejected": "The sky is green."}}])
        assert det.type.name == "preference-implicit", det

        # every module of the data side imports (the trainers are the train extra's)
        for mod in pkgutil.walk_packages(trlprep.__path__, "trlprep."):
            if not mod.name.startswith(("trlprep.trainers", "trlprep.__main__")):
                importlib.import_module(mod.name)

        from trlprep.cli import main
        for argv in (["detect", "--json", {str(data)!r}], ["detect", {str(data)!r}]):
            sys.argv = ["trlprep", *argv]
            try:
                main()
            except SystemExit as e:
                assert e.code in (0, None), (argv, e.code)
        loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
        assert not loaded, loaded
        print("NO-TORCH-OK")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "NO-TORCH-OK" in proc.stdout
    assert '"type": "prompt-completion"' in proc.stdout
    assert "conversational" in proc.stdout


def test_the_guard_really_hides_torch(tmp_path):
    proc = _run(
        """
        try:
            import accelerate  # noqa: F401
        except ImportError:
            print("hidden")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "hidden" in proc.stdout
