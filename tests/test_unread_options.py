"""Options that no step of a conversion reads are said, one warning each (the option, the
route, where it applies), never ignored silently: `convert --to prompt-completion
--split-turns all` of kto_demo's rows (unpaired preference: no conversation is split) once
wrote the same output as without it and said nothing. Options left at their defaults
unwritten are never said; an option a step reads is not either."""

from __future__ import annotations

import json
import warnings

import pytest
from realdata.support import TINY_MODEL, run, sample

import trlprep
from trlprep.conversion.unread import CHECKED, UnreadOptionWarning, applies_to

KTO = sample("kto_demo")
HH = sample("hh_rlhf")
UNREAD = "is read by no step of this conversion"
CHAT = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Bye"},
    {"role": "assistant", "content": "Ciao"},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def chats(tmp_path):
    return _write(tmp_path / "chats.jsonl", [{"messages": CHAT}] * 2)


def _unread(output: str) -> list[str]:
    return [line for line in output.splitlines() if UNREAD in line]


def test_split_turns_on_kto_rows_is_said(tmp_path):
    res = run("convert", KTO, "--to", "prompt-completion", "--split-turns", "all", "-o",
              tmp_path / "o.jsonl")  # fmt: skip
    said = _unread(res.output)
    assert res.exit_code == 0, res.output
    assert len(said) == 1 and said[0].startswith("warning: --split-turns all " + UNREAD)
    assert "kto_en_demo.json: unpaired-preference -> prompt-completion" in said[0]
    assert said[0].endswith("--split-turns applies to language-modeling -> prompt-completion")


def test_defaults_not_written_are_not_said(tmp_path):
    res = run("convert", KTO, "--to", "prompt-completion", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0 and not _unread(res.output), res.output


def test_a_default_written_is_said_and_explain_shows_it():
    res = run("convert", KTO, "--to", "pc", "--split-turns", "last", "--label-merge", "any",
              "--explain")  # fmt: skip
    said = _unread(res.output)
    assert res.exit_code == 0, res.output
    assert [s.split(" is ")[0] for s in said] == [
        "warning: --split-turns last",
        "warning: --label-merge any",
    ]
    assert "stepwise-supervision -> unpaired-preference" in said[1]


def test_split_turns_on_conversations_is_read(chats, tmp_path):
    res = run("convert", chats, "--to", "pc", "--split-turns", "all", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0 and not _unread(res.output), res.output
    assert "4 rows out" in res.output  # one row per assistant turn


def test_hh_through_implicit_prompt_extraction_says_split_turns(tmp_path):
    res = run("convert", HH, "--from", "hh", "--to", "pc", "--split-turns", "all",
              "--on-error", "skip", "-o", tmp_path / "o.jsonl")  # fmt: skip
    said = _unread(res.output)
    assert res.exit_code == 0, res.output
    assert len(said) == 1 and "hh -> preference-implicit -> prompt-completion" in said[0]


def test_label_merge_said_on_pairs_read_on_steps(tmp_path):
    pairs = _write(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"}])
    steps = _write(
        tmp_path / "s.jsonl",
        [{"prompt": "Q", "completions": ["a", "b"], "labels": [True, False]}],
    )
    res = run("convert", pairs, "--to", "unpaired", "--label-merge", "any", "-o",
              tmp_path / "o1.jsonl")  # fmt: skip
    assert res.exit_code == 0 and "--label-merge any" in " ".join(_unread(res.output))
    res = run("convert", steps, "--to", "unpaired", "--label-merge", "any", "-o",
              tmp_path / "o2.jsonl")  # fmt: skip
    assert res.exit_code == 0 and not _unread(res.output), res.output


def test_separator_said_on_conversations_read_on_text(tmp_path):
    text = _write(tmp_path / "t.jsonl", [{"prompt": "Q", "completion": "A"}])
    conv = _write(tmp_path / "c.jsonl", [{"prompt": CHAT[:1], "completion": CHAT[1:2]}])
    res = run("convert", conv, "--to", "lm", "--separator", " ", "-o", tmp_path / "o1.jsonl")
    said = _unread(res.output)
    assert res.exit_code == 0 and len(said) == 1 and "--separator " + UNREAD in said[0]
    assert "prompt-completion -> language-modeling" in said[0]
    assert said[0].endswith("(of standard text only)")
    res = run("convert", text, "--to", "lm", "--separator", " ", "-o", tmp_path / "o2.jsonl")
    assert res.exit_code == 0 and not _unread(res.output), res.output


def test_max_length_without_tokenize_is_said(chats, tmp_path):
    args = ("convert", chats, "--chat-template", "chatml", "--max-length", "8")
    res = run(*args, "-o", tmp_path / "o1.jsonl")
    said = _unread(res.output)
    assert res.exit_code == 0 and len(said) == 1, res.output
    assert said[0].startswith("warning: --max-length 8 ") and "with --tokenize" in said[0]
    res = run(*args, "--tokenize", "--tokenizer", TINY_MODEL, "-o", tmp_path / "o2.jsonl")
    assert res.exit_code == 0 and not _unread(res.output), res.output


def test_layout_options_said_where_no_layout_reads_them(tmp_path):
    ranked = _write(
        tmp_path / "r.jsonl", [{"prompt": "Q", "completions": ["a", "b", "c"], "scores": [3, 2, 1]}]
    )
    res = run("convert", KTO, "--to", "pc", "--pairing", "all-pairs", "--neutral", "drop",
              "-o", tmp_path / "o1.jsonl")  # fmt: skip
    said = _unread(res.output)
    assert res.exit_code == 0 and len(said) == 2, res.output
    assert "the ranked and oasst-ranked layouts (--from ranked)" in said[0]
    assert "the prm800k layout (--from prm800k)" in said[1]
    res = run("convert", ranked, "--from", "ranked", "--pairing", "all-pairs", "-o",
              tmp_path / "o2.jsonl")  # fmt: skip
    assert res.exit_code == 0 and not _unread(res.output), res.output
    res = run("convert", ranked, "--from", "ranked", "--threshold", "2", "--pairing",
              "all-pairs", "-o", tmp_path / "o3.jsonl")  # fmt: skip
    said = _unread(res.output)
    assert len(said) == 1 and said[0].startswith("warning: --pairing all-pairs ")
    assert "ranked -> unpaired-preference" in said[0] and said[0].endswith("without --threshold")


def test_import_says_a_layout_option_it_does_not_read(tmp_path):
    res = run("import", HH, "--from", "hh", "--prompt-style", "plain", "--on-error", "skip",
              "-o", tmp_path / "o.jsonl")  # fmt: skip
    said = _unread(res.output)
    assert res.exit_code == 0 and len(said) == 1, res.output
    assert said[0].startswith("warning: --prompt-style plain ")
    assert "sample.jsonl: hh -> preference-implicit)" in said[0]


def test_the_python_api_names_the_keyword():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.convert(str(KTO), "prompt-completion", split_turns="all")
        trlprep.convert(str(KTO), "prompt-completion")
        trlprep.convert([{"messages": CHAT}], "prompt-completion", split_turns="all")
    said = [str(w.message) for w in caught if w.category is UnreadOptionWarning]
    assert len(said) == 1 and said[0].startswith("split_turns='all' " + UNREAD)
    assert "--split-turns" not in said[0]


def test_train_says_a_layout_option_its_data_does_not_read():
    from transformers import AutoTokenizer
    from trlprep.trainers.data_table import to_training_table

    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    for given in ({"neutral": "drop"}, {}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            to_training_table(str(KTO), ["unpaired-preference"], tok, import_options=given)
        said = [str(w.message) for w in caught if w.category is UnreadOptionWarning]
        assert said == (
            ["--neutral drop " + UNREAD + " (unpaired-preference), so it changes nothing: "
             "--neutral applies to the prm800k layout (--data-from prm800k)"]
            if given else []
        )  # fmt: skip


def test_where_an_option_applies_comes_from_the_declarations():
    assert applies_to("order") == (
        "preference -> unpaired-preference, preference-implicit -> unpaired-preference"
    )
    assert applies_to("split_mode").startswith("preference-implicit -> ")
    assert applies_to("split_mode").endswith(" (of standard text only)")


@pytest.mark.parametrize("name", CHECKED)
def test_where_an_option_applies_reads_after_applies_to(name):
    said = applies_to(name)
    # "--x applies to <said>": a noun phrase, never a preposition or a dangling comma
    assert said.split()[0] not in {"on", "with", "in", "for", "to"}, said
    assert ", with " not in said and ": " not in said and not said.endswith(","), said
