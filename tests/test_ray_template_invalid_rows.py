"""`convert --chat-template --engine ray` refuses the conversational rows `trlprep validate`
calls invalid as the local engine does, with or without the template: the same lines,
stage, rule and reason in the rejects file, the same rows written, the same summary."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from test_template_invalid_rows import CASES, TEMPLATE, data_file  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402


def _engine_run(path: Path, tmp: Path, engine: str, *args: str) -> tuple[int, str, bytes, str]:
    """(exit code, messages, output bytes, rejects text) of one engine's skipping run."""
    out = tmp / f"{engine}{len(args)}"
    out.mkdir()
    argv = ["convert", str(path), *args, "--on-error", "skip", "-o", str(out / "x.jsonl")]
    res = CliRunner().invoke(app, [*argv, "--engine", engine])
    said = " ".join(res.output.replace(str(out), "OUT").split())
    said = said.replace("ray: ", "").replace(" (1 shard)", "")  # Ray's own counts line
    target = out / "x.jsonl"
    if target.is_dir():  # Ray's shard folder: its one shard
        (target,) = target.iterdir()
    return res.exit_code, said, target.read_bytes(), (out / "x.rejects.jsonl").read_text()


@pytest.mark.parametrize("case", list(CASES))
def test_ray_refuses_the_rows_local_refuses_with_and_without_a_template(tmp_path, case):
    path = data_file(tmp_path, case)
    ray = _engine_run(path, tmp_path, "ray", *TEMPLATE)
    assert ray == _engine_run(path, tmp_path, "local", *TEMPLATE)
    code, said, out, rejects = ray
    assert code == 0 and "5 rows in, 2 rejected, 3 converted -> 3 rows out" in said, said
    assert len(out.splitlines()) == 3
    assert rejects == _engine_run(path, tmp_path, "local")[3]  # as without the template
    assert "(rule empty-string)" in rejects and "(rule unknown-role)" in rejects


def test_a_render_starts_no_more_actors_than_blocks():
    """Ray kills a render actor still loading when the last block is done, and prints
    '(raylet) A worker died' into the run's output (a second actor for this file's one
    block did so, under load): the pool is at most one actor per block."""
    from trlprep.ray.conversion import actor_pool

    one = actor_pool(None, cpus=2, blocks=1)
    assert (one.min_size, one.max_size) == (1, 1)
    many = actor_pool(None, cpus=2, blocks=40)
    assert (many.min_size, many.max_size) == (1, 2)
    asked = actor_pool(3, cpus=2, blocks=1)  # as the caller asks
    assert (asked.min_size, asked.max_size) == (3, 3)
