"""`--engine ray` keeps the same media entries as the local engine where an edge drops
parts (`--to prompt-only`) or pairs rows whose prompts show other images (unpaired ->
preference): each case runs the CLI with both engines and compares the output bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

IMG = {"type": "image"}


def _msg(role: str, text: str, images: int = 0) -> list[dict]:
    return [{"role": role, "content": [IMG] * images + [{"type": "text", "text": text}]}]


ASK = _msg("user", "What is this?", 1)
ROWS = {
    "po": [
        {"prompt": ASK, "completion": _msg("assistant", "like", 1), "images": ["a", "b"]},
        {"prompt": ASK, "completion": _msg("assistant", "it"), "images": ["c"]},
    ],
    "pref": [
        {"prompt": ASK, "completion": _msg("assistant", "cat"), "label": True, "images": ["c"]},
        {"prompt": ASK, "completion": _msg("assistant", "dog"), "label": True, "images": ["d"]},
        {"prompt": ASK, "completion": _msg("assistant", "no"), "label": False, "images": ["d"]},
        {"prompt": ASK, "completion": _msg("assistant", "nah"), "label": False, "images": ["c"]},
    ],
}
EXPECT = {  # the local engine's media (and rejected), so the equality compares something
    "po": [(["a"], None), (["c"], None)],
    "pref": [(["c"], "nah"), (["d"], "no")],
}


def _run(case: str, tmp: Path, engine: str) -> tuple[int, bytes]:
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS[case]))
    (tmp / engine).mkdir()
    out = tmp / engine / "x.jsonl"
    argv = ["convert", str(src), "--to", case, "-o", str(out), "--engine", engine]
    res = CliRunner().invoke(app, argv)
    if out.is_dir():  # Ray's shard folder: its one shard
        (out,) = out.iterdir()
    return res.exit_code, out.read_bytes() if out.is_file() else b""


@pytest.mark.parametrize("case", list(ROWS))
def test_ray_keeps_the_media_the_local_engine_keeps(tmp_path, case):
    local = _run(case, tmp_path, "local")
    assert _run(case, tmp_path, "ray") == local
    assert local[0] == 0
    rows = [json.loads(x) for x in local[1].decode().splitlines()]
    said = [
        (r["images"], r["rejected"][0]["content"][0]["text"] if "rejected" in r else None)
        for r in rows
    ]
    assert said == EXPECT[case]
