"""A Hub id without network fails in seconds, once, naming the id (issue 13, defect 10).
No test here reaches a network: the endpoint is a closed local port, or the clients are
set offline."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from trlprep.errors import InputError
from trlprep.io import sources
from trlprep.io.readers import read

MISSING = "trlprep-tests/no-such-dataset"


@pytest.fixture(autouse=True)
def fresh_probes(monkeypatch):
    monkeypatch.setattr(sources, "_HUB_PROBES", {})
    for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(v, raising=False)


def test_unreachable_endpoint_fails_fast_once(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: refused
    probes = []
    real = sources._probe
    monkeypatch.setattr(sources, "_probe", lambda e: probes.append(e) or real(e))
    for _ in range(2):
        start = time.monotonic()
        with pytest.raises(InputError) as e:
            read(MISSING)
        assert time.monotonic() - start < 10
        assert MISSING in e.value.message and "127.0.0.1:9" in e.value.message
        assert "HF_HUB_OFFLINE=1" in e.value.hint
    assert probes == ["http://127.0.0.1:9"]  # checked once per process


def test_silent_endpoint_times_out_in_seconds(monkeypatch):
    monkeypatch.setattr(sources, "HUB_TIMEOUT", 0.5)

    def hang(*a, **k):
        time.sleep(5)
        raise TimeoutError("timed out")

    monkeypatch.setattr("urllib.request.urlopen", hang)
    start = time.monotonic()
    assert "no answer within 0.5 s" in sources._probe("http://192.0.2.1")
    assert time.monotonic() - start < 3


def test_offline_mode_is_respected_without_probing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sources, "_probe", lambda e: pytest.fail("probed while offline"))
    sources.check_hub(MISSING)  # no probe, no error: the clients read their cache


def test_offline_missing_id_cli_fails_in_seconds(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "trlprep", "detect", MISSING],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert MISSING in done.stderr and "offline" in done.stderr.lower()
    assert time.monotonic() - start < 60  # imports included, on a loaded machine


def test_unreachable_tokenizer_id_fails_fast(monkeypatch):
    from trlprep.templates.sources import load_tokenizer

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(InputError, match="cannot be reached"):
        load_tokenizer("trlprep-tests/no-such-model")
    assert time.monotonic() - start < 10
