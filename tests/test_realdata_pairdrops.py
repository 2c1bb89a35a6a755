"""`trlprep convert --tokenize --max-length N` refuses exactly the rows `trlprep train` drops
at the same N, on the real HH sample: a pair with either side left without a token (DPO),
an unpaired row without a completion token (KTO), is refused by one and dropped by the
other, and the rows both keep hold the same ids."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tests.realdata.support import TINY_MODEL, sample
from trlprep.templates.tokenize import tokenize_table


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)


def _convert(tmp_path, to: str, max_length: int) -> tuple[list[dict], list[int]]:
    from trlprep.cli import app

    out = tmp_path / f"{to}.jsonl"
    args = ["convert", str(sample("hh_rlhf")), "--to", to, "--tokenize", "--tokenizer"]
    args += [TINY_MODEL, "--max-length", str(max_length), "-o", str(out), "--on-error", "skip"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    rejects = out.with_name(f"{to}.rejects.jsonl").read_text().splitlines()
    return rows, [json.loads(x)["line"] for x in rejects]


def _train(tok, algo: str, max_length: int) -> tuple[object, str]:
    from trlprep.trainers.algorithms import get_algorithm

    from trainers.data import prepare

    a, said = get_algorithm(algo), []
    p = prepare(
        str(sample("hh_rlhf")), a.layout, a.accepts, tok, max_length=max_length, algo=algo,
        log=said.append,
    )  # fmt: skip
    return p, next(s for s in said if s.startswith("data: dropped "))


@pytest.mark.parametrize("max_length", [160, 256])
def test_dpo_drops_the_pairs_convert_refuses(tok, tmp_path, max_length):
    rows, refused = _convert(tmp_path, "preference", max_length)
    p, note = _train(tok, "dpo", max_length)
    assert 0 < p.dropped == len(refused) < 163
    first = re.findall(r"\d+", re.search(r"\(lines ([\d, ]+)", note)[1])
    assert [int(x) for x in first] == refused[:5]
    assert f"--max-length {max_length} -o OUT` refuses these rows" in note
    for side in ("prompt", "chosen", "rejected"):
        assert p.rows[side] == [r[f"{side}_ids"] for r in rows]


def test_kto_drops_both_halves_of_the_lines_convert_refuses(tok, tmp_path):
    rows, refused = _convert(tmp_path, "unpaired", 256)
    p, note = _train(tok, "kto", 256)
    assert p.dropped == 2 * len(refused) > 0
    assert note.startswith(f"data: dropped {2 * len(refused)} rows (from lines {refused[0]}, ")
    assert p.rows["completion"] == [r["completion_ids"] for r in rows]
    assert p.rows["label"] == [r["label"] for r in rows]


def _one_sided() -> tuple[pa.Table, object]:
    from tests.test_templates_tokenize import _property_tokenizer

    table = pa.table({"prompt": ["w1 w2"], "chosen": [""], "rejected": [" w3 w4"]})
    return table, _property_tokenizer()


def test_a_pair_with_one_side_left_without_tokens_is_refused_naming_the_side():
    """Convert refused a pair only when both sides had no token left; train drops it when
    either has none (no log-probability to compare): convert now refuses it too."""
    from trainers.data_layouts import trainable
    from trlprep.errors import RowFailures

    table, tok = _one_sided()
    kept, _ = tokenize_table(table, "preference", tok, max_length=8, cut_away="keep")
    rows = {k: kept.column(f"{k}_ids").to_pylist() for k in ("chosen", "rejected")}
    assert rows["chosen"] == [[]] and rows["rejected"][0]
    assert trainable(rows, "pairs", 8) == [False]
    with pytest.raises(RowFailures) as err:
        tokenize_table(table, "preference", tok, max_length=8)
    assert err.value.reasons == [
        "the chosen completion has no tokens: the pair has nothing to compare (prompt is 2 tokens)"
    ]


def test_reward_drops_long_pairs_and_names_no_convert_command(tok):
    """Reward models drop pairs longer than max_length rather than cut them (TRL's
    RewardTrainer); convert cuts such pairs, so the note names no convert command."""
    p, note = _train(tok, "reward", 256)
    assert p.dropped > 0
    assert note.startswith(f"data: dropped {p.dropped} rows (lines ")
    assert note.endswith("longer than max_length=256") and "trlprep convert" not in note
    assert all(
        len(c) <= 256 and len(r) <= 256
        for c, r in zip(p.rows["chosen"], p.rows["rejected"], strict=True)
    )
