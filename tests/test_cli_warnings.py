"""trlprep's warnings reach a CLI user as one `warning: ...` line (no Python file and line);
other libraries' warnings keep Python's form."""

from __future__ import annotations

import warnings

import pytest
from trlprep.converters.base import ConversionWarning
from typer.testing import CliRunner

import trlprep.detection.detect as detect_module
from trlprep.cli import app
from trlprep.errors import TrlprepWarning, warn_user


def _detect_warning(monkeypatch, say):
    real = detect_module.detect_batches

    def detecting(*args, **kwargs):
        say()
        return real(*args, **kwargs)

    monkeypatch.setattr(detect_module, "detect_batches", detecting)


def test_a_trlprep_warning_is_one_warning_line(tmp_path, monkeypatch):
    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    _detect_warning(monkeypatch, lambda: warn_user("the kernel fell back"))
    result = CliRunner().invoke(app, ["detect", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 0, result.output
    assert "warning: the kernel fell back" in result.stderr.splitlines()
    assert ".py:" not in result.stderr and "Warning:" not in result.stderr


def test_other_libraries_warnings_keep_pythons_form(tmp_path, monkeypatch):
    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    library = lambda: warnings.warn("from a library", FutureWarning, stacklevel=1)  # noqa: E731
    _detect_warning(monkeypatch, library)
    with pytest.warns(FutureWarning, match="from a library"):  # handed on to Python's display
        result = CliRunner().invoke(app, ["detect", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 0, result.output
    assert "warning: from a library" not in result.stderr


def test_trlprep_warning_classes_and_warn_user_default():
    assert issubclass(ConversionWarning, TrlprepWarning)
    assert issubclass(TrlprepWarning, UserWarning)  # `except UserWarning` code keeps working
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_user("said", UserWarning)
    assert caught[0].category is TrlprepWarning
