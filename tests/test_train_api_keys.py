"""`trlprep.trainers.train`'s keywords and `trlprep train`'s flags stay one-to-one, each
documented in `help(train)`; the Python examples of trainers/README.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

from trlprep.trainers.algorithms import ALGORITHMS  # noqa: E402
from trlprep.trainers.loop import train  # noqa: E402

from trlprep.cli.train_cmd import _specs  # noqa: E402
from trlprep.conversion.unread import flag as _flag  # noqa: E402
from trlprep.keywords import api_keywords, keyword_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _cli_options() -> set[str]:
    names = set(_specs(None))
    for algo in ALGORITHMS.values():
        names |= set(_specs(algo.options))
    return names


def test_each_cli_option_is_a_documented_keyword_and_back():
    documented = set(re.findall(r"^ {4}(\w+): ", train.__doc__, re.M))
    keywords = set()
    for name in _cli_options():
        flag = _flag(name)[2:]
        keyword = keyword_of(flag, train)
        assert keyword == name, (flag, keyword)
        keywords.add(keyword)
    assert keywords <= api_keywords(train)
    assert documented == keywords  # every key documented, nothing else
    assert "    template_kwargs: Mapping passed to the chat template" in train.__doc__
    assert not re.search(r"(?<![\w-])--[a-z]", train.__doc__.split("the same):")[1])


def test_the_readme_s_python_example_runs_as_written(monkeypatch, tmp_path):
    import trlprep.trainers.loop as loop

    made = []

    class Fake:  # the run itself is tested elsewhere: here, what the calls ask for
        def __init__(self, cfg, log, overwrite):
            made.append(cfg)

        def train(self):
            return "result"

    monkeypatch.setattr(loop, "Trainer", Fake)
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "trainers" / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S)[1]
    rows = [{"prompt": "a", "completion": " b", "label": True}]
    scope = {"rows": rows}
    exec(compile(code, "trainers/README.md", "exec"), scope)  # noqa: S102
    assert scope["result"] == "result" and len(made) == 2
    first, second = made
    assert (first.algo, first.options, first.data) == ("kto", {"beta": 0.1}, rows)
    assert (first.output_dir, second.output_dir) == ("out", "out2")
    assert {**vars(first), "output_dir": "out2"} == vars(second)  # "the same"
