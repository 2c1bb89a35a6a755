"""`trlprep convert --tokenize --assistant-masks` on conversational prompt-completion rows:
TRL's tokenised prompt-completion columns (`input_ids`, `completion_mask` and
`assistant_masks`, all over prompt + completion), and `train` on that file training exactly
what it trains on the untokenised file (tiny chat model and its byte-level tokenizer; the
real LLaMA-Factory sample converted to prompt-completion)."""

from __future__ import annotations

import pytest
from realdata.support import TINY_MODEL, rows_of, run
from test_train_loss_masks import LF_SFT, ROWS, _prepare, _write, trl_columns
from trlprep.trainers.offline_options import SFTOptions

TOKENISE = ["--tokenizer", TINY_MODEL, "--tokenize", "--assistant-masks"]


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)


def test_convert_writes_trls_prompt_completion_columns(tok, tmp_path):
    """The three columns equal TRL's, the assistant mask over the prompt's assistant turns
    too (TRL's labels keep a token where both masks are 1)."""
    out = tmp_path / "pc.parquet"
    res = run("convert", _write(tmp_path / "pc.jsonl", ROWS), *TOKENISE, "-o", out)
    assert res.exit_code == 0, res.output
    assert "2 rows in, 0 rejected, 2 converted -> 2 rows out" in res.output
    written = rows_of(out)
    for row, got in zip(ROWS, written, strict=True):
        want = trl_columns(tok, row)
        assert {k: got[k] for k in want} == want
    second = zip(written[1]["input_ids"], written[1]["assistant_masks"], strict=True)
    assert tok.decode([i for i, m in second if m]).startswith("Hello!<|im_end|>")  # the prompt's


def test_training_the_tokenised_file_trains_what_the_messages_train(tok, tmp_path):
    """LLaMA-Factory's rows (loss_weight on every message) converted to prompt-completion,
    then tokenised with their masks: train reads the same ids and loss mask from either file,
    with each loss option and cut by max_length from either end."""
    pc = tmp_path / "lf_pc.jsonl"
    assert run("convert", LF_SFT, "--to", "prompt-completion", "-o", pc).exit_code == 0
    tokenised = tmp_path / "lf_pc.parquet"
    res = run("convert", pc, *TOKENISE, "-o", tokenised)
    assert res.exit_code == 0, res.output
    assert "100 rows in, 0 rejected, 100 converted -> 100 rows out" in res.output
    cases = [
        (SFTOptions(), None, "keep_start"),
        (SFTOptions(completion_only_loss=False), None, "keep_start"),
        (SFTOptions(assistant_only_loss=False), None, "keep_start"),
        (SFTOptions(assistant_only_loss=True), 300, "keep_start"),
        (SFTOptions(), 300, "keep_end"),
    ]
    for options, max_length, truncation in cases:
        cut = {"options": options, "max_length": max_length, "truncation": truncation}
        said: list[str] = []
        text, ids = _prepare(pc, tok, **cut).rows, _prepare(tokenised, tok, said, **cut).rows
        assert (ids["ids"], ids["mask"]) == (text["ids"], text["mask"]), cut
        masked = options.assistant_only_loss is not False
        assert any("loss on assistant messages" in s for s in said) == masked, said
        assert any(
            "token ids read from input_ids, completion_mask, assistant_masks" in s for s in said
        ), said
    # the masks leave out what the completion mask alone trains: the newline after <|im_end|>
    whole = _prepare(tokenised, tok, options=SFTOptions(assistant_only_loss=False)).rows
    masked = _prepare(tokenised, tok).rows
    assert sum(map(sum, whole["mask"])) - sum(map(sum, masked["mask"])) == 100


def test_other_types_are_still_refused(tmp_path):
    data = _write(tmp_path / "pc.jsonl", ROWS)
    res = run("convert", data, "--to", "prompt-only", *TOKENISE, "-o", tmp_path / "p.jsonl")
    assert res.exit_code == 2, res.output
    assert "--assistant-masks marks the assistant messages of conversational language " in (
        res.output
    )
    assert "modeling or prompt-completion; this conversion gives prompt-only" in res.output
