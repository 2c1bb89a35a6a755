"""Skipped tests explain themselves: the optional data they need and where to get it."""

from __future__ import annotations

import conftest
import pytest


def test_a_missing_shared_folder_is_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "shared")
    with pytest.raises(pytest.skip.Exception) as e:
        conftest.needs_shared("data/real/hh-rlhf-harmless-base-test.jsonl.gz")
    msg = str(e.value)
    assert "optional reference data not found" in msg
    assert str(tmp_path / "shared" / "data/real/hh-rlhf-harmless-base-test.jsonl.gz") in msg
    assert "Anthropic/hh-rlhf" in msg and "../shared is absent" not in msg
    with pytest.raises(pytest.skip.Exception) as e:
        conftest.needs_shared()
    for where in ("Anthropic/hh-rlhf", "trl/chat_templates/", "dataset_formats.md"):
        assert where in str(e.value)


def test_present_parts_do_not_skip(tmp_path, monkeypatch):
    (tmp_path / "shared" / "spec").mkdir(parents=True)
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "shared")
    assert conftest.needs_shared("spec") == tmp_path / "shared"
    with pytest.raises(pytest.skip.Exception, match="chat_templates"):
        conftest.needs_shared("data/chat_templates")
