"""Reports of data with several splits: each split's own figures, and totals equal to one
report over every row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trlprep
from trlprep.datareport.htmlparts import fmt as _fmt

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "examples" / "tiny-chat-model")
PREF = ROOT / "examples" / "preference_conversational.jsonl"
ROWS_FIGURES = ("lengths", "truncation", "preference", "conversation", "text")


def _lines() -> list[str]:
    return [x for x in PREF.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """An HF repository layout: data/train-*.jsonl (2 files) and data/test-*.jsonl; the
    test split repeats one train row."""
    lines = _lines()
    assert len(lines) >= 5
    root = tmp_path_factory.mktemp("hf")
    (root / "data").mkdir()
    train, test = lines[:-2], lines[-2:] + [lines[0]]
    (root / "data" / "train-00000-of-00002.jsonl").write_text("\n".join(train[:2]) + "\n")
    (root / "data" / "train-00001-of-00002.jsonl").write_text("\n".join(train[2:]) + "\n")
    (root / "data" / "test-00000-of-00001.jsonl").write_text("\n".join(test) + "\n")
    whole = root.parent / (root.name + "-all.jsonl")
    whole.write_text("\n".join(train + test) + "\n")
    return root, whole, len(train), len(test)


@pytest.fixture(scope="module")
def split_report(layout):
    root, whole, _, _ = layout
    rep = trlprep.report(root, chat_template=TINY, max_length=40, examples=1)
    one = trlprep.report(whole, chat_template=TINY, max_length=40, examples=1)
    return rep, one


def test_each_split_has_its_own_report(split_report, layout):
    rep, _ = split_report
    _, _, n_train, n_test = layout
    d = rep.to_dict()
    assert d["report"]["splits"] == ["train", "test"]
    assert d["splits"]["train"]["rows"]["in"] == n_train
    assert d["splits"]["test"]["rows"]["in"] == n_test
    assert d["splits"]["test"]["report"]["split"] == "test"
    alone = trlprep.report(layout[0], split="test", chat_template=TINY, max_length=40)
    assert alone.data["lengths"] == d["splits"]["test"]["lengths"]
    assert "splits" not in alone.data  # --split: one report, as before


def test_totals_equal_one_report_over_every_row(split_report):
    rep, one = split_report
    d, o = rep.to_dict(), one.to_dict()
    assert d["rows"]["in"] == o["rows"]["in"]
    for key in ROWS_FIGURES:
        assert d[key] == o[key], key
    assert d["duplicates"]["exact_rows"] == o["duplicates"]["exact_rows"] == 1
    assert d["summary"]["truncated"] == o["summary"]["truncated"]


def test_rows_shared_across_splits_are_counted(split_report):
    across = split_report[0].data["duplicates"]["across_splits"]
    assert across["test"]["rows_in_another_split"] == 1  # the repeated train row
    assert across["train"]["rows_in_another_split"] == 1
    assert split_report[0].value("splits.test.summary.rows") == 3


def test_dataset_dict_and_its_saved_folder(tmp_path, layout):
    import datasets

    from trlprep.io.readers import read

    root, _, _, _ = layout
    parts = {
        name: datasets.Dataset(read(str(root), split=name).table) for name in ("train", "test")
    }
    dd = datasets.DatasetDict(parts)
    by_files = trlprep.report(root, chat_template=TINY, max_length=40, validate=False)
    for data in (dd, str(tmp_path / "saved")):
        if isinstance(data, str):
            dd.save_to_disk(data)
        rep = trlprep.report(data, chat_template=TINY, max_length=40, validate=False)
        assert list(rep.data["splits"]) == ["train", "test"]
        for key in ("lengths", "preference"):
            assert rep.data[key] == by_files.data[key]
            assert rep.data["splits"]["test"][key] == by_files.data["splits"]["test"][key]


def test_files_without_split_names_are_one_dataset(tmp_path):
    lines = _lines()
    (tmp_path / "a.jsonl").write_text(lines[0] + "\n")
    (tmp_path / "b.jsonl").write_text(lines[1] + "\n")
    rep = trlprep.report(tmp_path, validate=False)
    assert "splits" not in rep.data and rep.data["rows"]["in"] == 2


def test_page_and_text_show_every_split(split_report):
    from tests.test_datareport_html import Page

    rep, _ = split_report
    page = Page()
    page.feed(rep.to_html())
    assert page.sections[0] == "splits"
    for name in ("train", "test"):
        assert f"split-{name}" in page.sections
        assert f"split-{name}-lengths" in page.sections
        assert f"split-{name}-examples" in page.sections
    assert "examples" not in page.sections  # the totals show no rows
    assert len(set(page.sections)) == len(page.sections)  # ids unique
    for key, shown in page.keys.items():
        assert shown == _fmt(rep.value(key)), key
    assert "splits.test.lengths.sequence.p99" in page.keys
    # a split of 3 rows: its p99 is its max (nearest rank), marked in the splits table
    assert rep.value("splits.test.lengths.sequence.quantiles_at_max") == ["p90", "p99"]
    html = rep.to_html()
    assert html.count('title="p90 and p99 are the max with 3 rows') == 1
    text = rep.to_text()
    assert "== split train ==" in text and "== split test ==" in text
    assert "test: 1 row also in another split" in text
    assert json.loads(rep.to_json())["splits"]["train"]["report"]["split"] == "train"
