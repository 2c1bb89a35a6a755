"""`--engine ray` says what the local engine says of options no step reads (once, from the
driver, which plans the conversion) and of text a chat template rendered already (raised in
the workers, brought back by `trlprep.ray.notes`). Skipped when Ray is not installed."""

from __future__ import annotations

import warnings

import pyarrow as pa
import pytest
from realdata.support import run, sample

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)

from trlprep import ray as engine  # noqa: E402
from trlprep.conversion.unread import UnreadOptionWarning  # noqa: E402

UNREAD = "is read by no step of this conversion"
CHAT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]


def test_cli_says_an_unread_option_once(tmp_path):
    res = run("convert", sample("kto_demo"), "--to", "pc", "--split-turns", "all",
              "--engine", "ray", "-o", tmp_path / "out/")  # fmt: skip
    said = [line for line in res.output.splitlines() if UNREAD in line]
    assert res.exit_code == 0, res.output
    assert len(said) == 1 and said[0].startswith("warning: --split-turns all " + UNREAD)
    assert "unpaired-preference -> prompt-completion" in said[0]


def test_cli_says_text_rendered_already_from_the_workers(tmp_path):
    res = run("convert", sample("nemo_aligner_dpo"), "--map",
              "chosen=chosen_response,rejected=rejected_response", "--conversational",
              "--chat-template", "chatml", "--engine", "ray", "-o", tmp_path / "out/")  # fmt: skip
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert said.count("the text is already rendered with a chat template") == 1
    assert "100 rows (lines 1, 2, 3, 4, 5 (and 95 more))" in said


def test_python_api_warns_of_a_given_option_only():
    pairs = ray.data.from_arrow(pa.Table.from_pylist([{"prompt": "Q", "chosen": "A",
                                                       "rejected": "B"}] * 4))  # fmt: skip
    chats = ray.data.from_arrow(pa.Table.from_pylist([{"messages": CHAT}] * 4))

    def said(ds, **kw):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            engine.convert(ds, "prompt-completion", **kw).materialize()
        return [str(w.message) for w in got if w.category is UnreadOptionWarning]

    warned = said(pairs, split_turns="all")
    assert len(warned) == 1 and warned[0].startswith("split_turns='all' " + UNREAD)
    assert said(pairs) == [] and said(chats, split_turns="all") == []
