"""`validate --engine ray` names an empty input file as the local engine does."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from realdata.support import run  # noqa: E402


def test_ray_names_the_empty_file_as_locally(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    runs = [run("validate", empty, "--engine", e) for e in ("local", "ray")]
    said = [" ".join(r.output.split()) for r in runs]
    assert f"{empty}: the dataset has no rows" in said[0]
    assert said[0] == said[1]
