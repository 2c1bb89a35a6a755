"""`trlprep train --progress/--no-progress`: reading and tokenising the data show rows, rate,
percentage and time left on stderr (as the other long commands), and tokenising in pieces
gives the ids, the report and the failing rows of one call."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest
from rich.console import Console

from trlprep.errors import RowFailures
from trlprep.io.progress import showing, tally


def test_tally_counts_pieces_against_their_total():
    buf = io.StringIO()
    pieces = [pa.table({"a": list(range(n))}) for n in (3, 3, 4)]
    with showing(Console(file=buf, force_terminal=True, width=160), "tokenising", True):
        out = list(tally(iter(pieces), "data rows", 10))
    assert all(a is b for a, b in zip(out, pieces, strict=True))
    text = buf.getvalue()
    assert "tokenising data rows" in text and "3/10 rows, 30%" in text
    assert "10/10 rows, 100%" in text and "rows/s" in text and "ETA" in text
    assert list(tally(iter(pieces), "x", 10)) == pieces  # nothing shown: a no-op


pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tok():
    from train_support import make_tokenizer

    return make_tokenizer()


def test_pieces_give_the_ids_and_report_of_one_call(tok, monkeypatch):
    import trlprep.trainers.tokenising as tokenising

    from trlprep.templates.tokenize import tokenize_table

    words = ["what color is the sky ?", "the sea", "blue and green", "red", "yellow"]
    table = pa.table(
        {
            "prompt": [words[i % 5] for i in range(7)],
            "chosen": [words[(i + 1) % 5] * (1 + i % 3) for i in range(7)],
            "rejected": [words[(i + 2) % 5] for i in range(7)],
        }
    )
    options = {"max_length": 12, "truncation": "keep_end", "add_eos": True, "cut_away": "keep"}
    whole, report = tokenize_table(table, "preference", tok, **options)
    monkeypatch.setattr(tokenising, "PIECE_ROWS", 2)  # 4 pieces
    pieces, parts = tokenising.tokenize_pieces(table, "preference", tok, **options)
    assert pieces.equals(whole)
    assert parts.to_dict() == report.to_dict() and report.truncated > 0


def test_a_failing_row_is_named_by_its_place_in_the_table(tok, monkeypatch):
    import trlprep.trainers.tokenising as tokenising

    monkeypatch.setattr(tokenising, "PIECE_ROWS", 2)
    table = pa.table({"prompt": ["a", "b", "c", None, "e"], "completion": ["x"] * 5})
    with pytest.raises(RowFailures) as e:
        tokenising.tokenize_pieces(table, "prompt-completion", tok)
    assert e.value.rows == [3] and "row 3" in str(e.value)


def test_train_shows_the_data_progress_on_a_terminal_and_hides_it_when_asked(tmp_path, monkeypatch):
    from pathlib import Path

    from train_support import save_tiny_model
    from typer.testing import CliRunner

    from trlprep.cli import app

    model = save_tiny_model(tmp_path / "model")
    data = Path(__file__).parents[1] / "examples" / "preference.jsonl"
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich takes stderr for a terminal
    args = ["train", "--algo", "dpo", "--model", str(model), "--data", str(data),
            "--max-steps", "1", "--max-length", "64"]  # fmt: skip
    r = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "tokenising data rows" in r.stderr and "100%" in r.stderr
    assert "tokenising" not in r.stdout
    r = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "b"), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "tokenising" not in r.stderr and "step/s" not in r.stderr
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # off a terminal: none by default
    r = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "c")])
    assert r.exit_code == 0 and "tokenising" not in r.stderr
