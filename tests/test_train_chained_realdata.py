"""`trlprep convert REAL --chat-template T --tokenize -o out.parquet` then `trlprep train
--data out.parquet`, as a user chains them: train reads the file's ids (and masks) as they
are, and they are the ids train makes from the real sample itself."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from realdata.support import TINY_MODEL, run, sample, template_file  # noqa: E402
from trlprep.trainers.algorithms import get_algorithm  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

# algo -> (sample, convert's flags, train's own reading of the sample)
CHAINS = {
    "sft": ("alpaca_demo", ["--conversational", "--to", "language-modeling", "--assistant-masks"],
            {"data_layout": "alpaca", "import_options": {"conversational": True}}),
    "dpo": ("hh_rlhf", ["--from", "hh", "--to", "preference", "--on-error", "skip"],
            {"data_layout": "hh", "on_error": "skip"}),
    "kto": ("kto_demo", ["--to", "unpaired-preference"], {}),
}  # fmt: skip


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)


@pytest.mark.parametrize("algo", sorted(CHAINS))
def test_a_converted_file_trains_on_the_ids_train_makes_itself(algo, tok, tmp_path):
    name, flags, reading = CHAINS[algo]
    template = template_file("qwen2_5")
    out = tmp_path / "out.parquet"
    res = run(
        "convert", sample(name), *flags, "--chat-template", template,
        "--tokenizer", TINY_MODEL, "--tokenize", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    a = get_algorithm(algo)
    options = {"assistant_only_loss": True} if algo == "sft" else {}
    common = dict(algo=algo, max_length=512, options=a.make_options(options))
    logs: list[str] = []
    chained = prepare(str(out), a.layout, a.accepts, tok, log=logs.append, **common)
    read = [line for line in logs if "token ids read from" in line]
    assert read, logs
    if algo == "sft":
        assert "assistant_masks" in read[0] and chained.loss_on == "assistant messages"
    own = prepare(
        str(sample(name)), a.layout, a.accepts, tok, chat_template=str(template),
        **reading, **common,
    )  # fmt: skip
    assert set(chained.rows) == set(own.rows)
    for key in chained.rows:
        assert chained.rows[key] == own.rows[key], key
    assert chained.dropped == own.dropped
