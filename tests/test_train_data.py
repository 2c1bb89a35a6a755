"""The trainer's data path: conversion to the algorithm's type, tokenisation rules, batches."""

from __future__ import annotations

import re
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_support import make_tokenizer  # noqa: E402
from trlprep.converters import UNPAIR_WARNING  # noqa: E402
from trlprep.trainers.algorithms import ALGORITHMS, get_algorithm  # noqa: E402
from trlprep.trainers.collate import Collator  # noqa: E402
from trlprep.trainers.config import TrainConfig  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

from trlprep.errors import DataError, InputError, UsageError  # noqa: E402
from trlprep.registry import get_type  # noqa: E402


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def _prep(tok, algo: str, rows, logs=None, **kw):
    a = get_algorithm(algo)
    return prepare(
        rows,
        a.layout,
        a.accepts,
        tok,
        max_length=kw.pop("max_length", 64),
        algo=algo,
        options=a.make_options(kw.pop("options", {})),
        log=(logs.append if logs is not None else lambda _: None),
        **kw,
    )


def test_every_algorithm_declares_a_registry_type():
    expected = {
        "sft": ("language-modeling", "prompt-completion"),
        "dpo": ("preference",),
        "cpo": ("preference",),
        "orpo": ("preference",),
        "kto": ("unpaired-preference",),
        "bco": ("unpaired-preference",),
        "reward": ("preference-implicit",),
        "prm": ("stepwise-supervision",),
        "grpo": ("prompt-only",),
        "rloo": ("prompt-only",),
        "online-dpo": ("prompt-only",),
        "nash-md": ("prompt-only",),
        "xpo": ("prompt-only",),
        "ppo": ("prompt-only", "language-modeling"),  # the guide: tokenized language modeling
        "gkd": ("prompt-completion",),
    }
    assert {k: a.accepts for k, a in ALGORITHMS.items()} == expected
    for a in ALGORITHMS.values():
        assert get_type(a.dataset_type).name == a.dataset_type
    # TRL's documented learning-rate defaults
    assert {k: a.learning_rate for k, a in ALGORITHMS.items()} == {
        "sft": 2e-5,
        "dpo": 1e-6,
        "cpo": 1e-6,
        "orpo": 1e-6,
        "kto": 1e-6,
        "bco": 5e-5,
        "reward": 1e-4,
        "prm": 1e-5,
        "grpo": 1e-6,
        "rloo": 1e-6,
        "online-dpo": 5e-7,
        "nash-md": 5e-7,
        "xpo": 5e-7,
        "ppo": 3e-6,
        "gkd": 2e-5,
    }


def test_options_defaults_and_validation():
    dpo = get_algorithm("dpo").make_options({})
    assert (dpo.beta, dpo.loss_type, dpo.label_smoothing, dpo.discopop_tau) == (
        0.1,
        ("sigmoid",),
        0.0,
        0.05,
    )
    multi = get_algorithm("dpo").make_options(
        {"loss_type": "sigmoid,bco_pair,sft", "loss_weights": "0.8,0.2,1"}
    )
    assert multi.loss_type == ("sigmoid", "bco_pair", "sft")
    assert multi.loss_weights == (0.8, 0.2, 1.0)
    with pytest.raises(UsageError, match="unknown loss_type 'nope'"):
        get_algorithm("dpo").make_options({"loss_type": "nope"})
    with pytest.raises(UsageError, match="loss weights"):
        get_algorithm("dpo").make_options({"loss_type": "sigmoid,hinge", "loss_weights": [1.0]})
    with pytest.raises(UsageError, match="dpo has no option cpo_alpha"):
        get_algorithm("dpo").make_options({"cpo_alpha": 1.0})
    alphapo = get_algorithm("cpo").make_options({"loss_type": "alphapo", "alpha": 0.2})
    assert (alphapo.loss_type, alphapo.cpo_alpha) == ("simpo", 0.0)
    with pytest.raises(UsageError, match="unknown algorithm 'ddpo'"):
        get_algorithm("ddpo")


def test_config_from_dict_and_yaml(tmp_path):
    (tmp_path / "train.yaml").write_text(
        "algo: dpo\nmodel: m\ndata: d.jsonl\noutput_dir: out\nbeta: 0.2\nmax-steps: 7\n"
    )
    cfg = TrainConfig.from_any(tmp_path / "train.yaml")
    assert (cfg.algo, cfg.max_steps, cfg.options) == ("dpo", 7, {"beta": 0.2})
    with pytest.raises(UsageError, match="missing required option"):
        TrainConfig.from_any({"algo": "dpo"})
    with pytest.raises(InputError, match="does not exist"):
        TrainConfig.from_any(tmp_path / "nope.yaml")


def test_preference_tokenisation_splits_at_the_common_prefix(tok):
    p = _prep(tok, "dpo", [{"prompt": "the sky is", "chosen": " blue .", "rejected": " green"}])
    assert p.rows["prompt"] == [[tok.bos_token_id, *ids(tok, "the sky is")]]
    eos = tok.eos_token_id
    assert p.rows["chosen"] == [ids(tok, "blue .") + [eos]]
    assert p.rows["rejected"] == [ids(tok, "green") + [eos]]
    assert not p.templated and p.route == ["preference"]


def test_conversions_follow_the_graph_and_are_logged(tok):
    logs: list[str] = []
    p = _prep(
        tok, "kto", [{"prompt": "the sky", "chosen": " is blue", "rejected": " is red"}], logs
    )
    assert p.rows["label"] == [True, False]
    assert p.route == ["preference", "unpaired-preference"]
    # the unpairing's assumption warned first, as `trlprep convert --to unpaired` warns it
    assert logs[0] == f"data: warning: {UNPAIR_WARNING}"
    assert logs[1].startswith("data: preference -> unpaired-preference")
    logs.clear()
    p = _prep(tok, "dpo", [{"chosen": "the sky is blue", "rejected": "the sky is red"}], logs)
    assert p.route == ["preference-implicit", "preference"]
    assert p.rows["chosen"] == [ids(tok, "blue") + [tok.eos_token_id]]
    p = _prep(
        tok,
        "reward",
        [{"prompt": "the sky", "chosen": " is blue", "rejected": " is red", "margin": 0.5}],
    )
    assert p.route == ["preference", "preference-implicit"]
    assert p.rows["margin"] == [0.5]
    assert p.rows["chosen"] == [[tok.bos_token_id, *ids(tok, "the sky is blue"), tok.eos_token_id]]


def test_impossible_conversions_name_the_expected_type(tok):
    with pytest.raises(UsageError, match="dpo trains on preference data; this data is prompt-only"):
        _prep(tok, "dpo", [{"prompt": "the sky"}])


def test_conversational_data_goes_through_the_chat_template(tok):
    rows = [
        {
            "prompt": [{"role": "user", "content": "what color is the sky ?"}],
            "completion": [{"role": "assistant", "content": "blue"}],
        }
    ]
    with pytest.raises(InputError, match="chat template"):
        _prep(tok, "sft", rows)  # this tokenizer has none
    p = _prep(tok, "sft", rows, chat_template="chatml")
    assert p.templated
    # no BOS: chatml writes none, and rendered text is tokenised as apply_chat_template does
    # (TRL's trainers too); no EOS added after the rendered turn
    assert tok.bos_token_id not in p.rows["ids"][0]
    assert tok.eos_token_id not in p.rows["ids"][0]
    masked = [t for t, m in zip(p.rows["ids"][0], p.rows["mask"][0], strict=True) if m]
    assert ids(tok, "blue")[0] in masked
    assert ids(tok, "what")[0] not in masked


STANDARD_ROWS = [{"prompt": "what color is the sky ?", "completion": "blue"}]


@pytest.mark.parametrize(
    "algo,rows,hint",
    [
        ("sft", STANDARD_ROWS, "--conversational"),
        ("sft", [{"text": "the sky is blue"}], "drop --chat-template$"),
        ("grpo", [{"prompt": "what color is the sky ?"}], "--conversational"),
    ],
)
def test_a_chat_template_for_standard_text_is_refused(tok, algo, rows, hint):
    """As `convert` refuses it: no template applies, so the flag is not silently dropped."""
    with pytest.raises(UsageError, match="applies to conversational data") as e:
        _prep(tok, algo, rows, chat_template="chatml")
    assert e.value.exit_code == 2
    assert "standard text" in e.value.message
    assert re.search(hint, e.value.hint)
    # eval data beside conversational training data: the flag is used there
    p = _prep(tok, algo, rows, chat_template="chatml", training=False)
    assert not p.templated


def test_conversational_makes_standard_rows_messages_rendered_with_the_template(tok):
    """`--conversational` without `--map`, as `convert --conversational` reads the data."""
    p = _prep(
        tok, "sft", STANDARD_ROWS, chat_template="chatml", import_options={"conversational": True}
    )
    assert p.templated and p.route[0] == "map layout"


# each algorithm's rows, the type `convert --to` writes for it, and its id columns
ID_COLUMNS = [
    ("dpo", "preference", {"prompt": "prompt_ids", "chosen": "chosen_ids"}),
    ("kto", "unpaired-preference", {"prompt": "prompt_ids", "completion": "completion_ids"}),
    ("reward", "preference-implicit", {"chosen": "chosen_ids", "rejected": "rejected_ids"}),
]
CONVERSATIONAL_PREFERENCE = [
    {
        "prompt": [{"role": "user", "content": "what color is the sky ?"}],
        "chosen": [{"role": "assistant", "content": "blue"}],
        "rejected": [{"role": "assistant", "content": "green"}],
    },
    {
        "prompt": [{"role": "user", "content": "what color is the sun ?"}],
        "chosen": [{"role": "assistant", "content": "yellow"}],
        "rejected": [{"role": "assistant", "content": "blue"}],
    },
]


@pytest.mark.parametrize("algo,to,columns", ID_COLUMNS)
def test_the_trainer_gets_the_ids_of_convert_tokenize(tok, algo, to, columns):
    """One tokenisation: `train` on conversational data sees exactly the ids that
    `trlprep convert --to T --chat-template --tokenize` writes."""
    from trlprep.api import convert

    p = _prep(tok, algo, CONVERSATIONAL_PREFERENCE, chat_template="chatml")
    converted = convert(
        CONVERSATIONAL_PREFERENCE,
        to=None if to == "preference" else to,
        chat_template="chatml",
        tokenizer=tok,
        tokenize=True,
        max_length=64,
    )
    for key, column in columns.items():
        assert p.rows[key] == [r[column] for r in converted]


STANDARD_PREFERENCE = [
    {"prompt": "the sky is", "chosen": " blue", "rejected": " green"},
    {"prompt": "the sun is", "chosen": " yellow", "rejected": " blue"},
]


@pytest.mark.parametrize("algo,to,columns", ID_COLUMNS)
def test_standard_text_gets_the_trainers_eos_in_convert_tokenize(tok, algo, to, columns):
    """Before, `convert --tokenize` wrote standard completions without the EOS that TRL's
    trainers (and `train`) append, so the ids differed from what is trained on."""
    from trlprep.api import convert

    p = _prep(tok, algo, STANDARD_PREFERENCE)
    converted = convert(
        STANDARD_PREFERENCE, to=None if to == "preference" else to, tokenizer=tok,
        tokenize=True, max_length=64,
    )  # fmt: skip
    for key, column in columns.items():
        assert p.rows[key] == [r[column] for r in converted]
    last = next(c for c in columns.values() if c != "prompt_ids")
    assert all(r[last][-1] == tok.eos_token_id for r in converted)


@pytest.mark.parametrize("algo", ["sft", "dpo", "kto", "reward", "prm"])
def test_tokenisation_goes_through_tokenize_table(tok, algo, monkeypatch):
    import trlprep.templates.tokenize as tokenize

    calls = []
    real = tokenize.tokenize_table

    def spy(table, dtype, *args, **kwargs):
        calls.append((str(dtype), kwargs["add_eos"]))
        return real(table, dtype, *args, **kwargs)

    monkeypatch.setattr(tokenize, "tokenize_table", spy)
    data = {
        "sft": [{"prompt": "the sky", "completion": " is blue"}],
        "dpo": [{"prompt": "the sky", "chosen": " is blue", "rejected": " is red"}],
        "kto": [{"prompt": "the sky", "completion": " is blue", "label": True}],
        "reward": [{"chosen": "the sky is blue", "rejected": "the sky is red"}],
        "prm": [{"prompt": "two plus two", "completions": ["equals four"], "labels": [True]}],
    }[algo]
    options = {"step_separator": " ."} if algo == "prm" else {}
    _prep(tok, algo, data, options=options)
    assert calls == [(get_algorithm(algo).accepts[-1 if algo == "sft" else 0], algo != "prm")]


def test_standard_text_gets_eos_once_and_the_tokenizers_bos(tok):
    eos = tok.eos_token
    p = _prep(tok, "kto", [{"prompt": "the sky", "completion": " is blue" + eos, "label": True}])
    assert p.rows["completion"] == [ids(tok, "is blue") + [tok.eos_token_id]]  # not twice
    p = _prep(tok, "sft", [{"text": "<bos>the sky"}])
    assert p.rows["ids"] == [[tok.bos_token_id, *ids(tok, "the sky"), tok.eos_token_id]]


def test_sft_layouts(tok):
    p = _prep(tok, "sft", [{"text": "the sky is blue"}])
    assert p.rows["ids"] == [[tok.bos_token_id, *ids(tok, "the sky is blue"), tok.eos_token_id]]
    assert p.rows["mask"] == [[1] * 6]
    pc = [{"prompt": "the sky", "completion": " is blue"}]
    p = _prep(tok, "sft", pc)
    assert p.rows["mask"] == [[0, 0, 0, 1, 1, 1]]
    p = _prep(tok, "sft", pc, options={"completion_only_loss": False})
    assert p.rows["mask"] == [[1] * 6]
    tokenized = [{"input_ids": [1, 5, 6, 7, 8]}]  # token ids are used as they are, then cut
    assert _prep(tok, "sft", tokenized, max_length=3).rows["ids"] == [[1, 5, 6]]
    assert _prep(tok, "sft", tokenized, max_length=3, truncation="keep_end").rows["ids"] == [
        [6, 7, 8]
    ]


def test_max_length_keeps_the_start_and_drops_prompt_only_rows(tok):
    logs: list[str] = []
    rows = [
        {"prompt": "the sky", "chosen": " is blue and green", "rejected": " is red"},
        {"prompt": "the sky is blue and green", "chosen": " yes", "rejected": " no"},
    ]
    p = _prep(tok, "dpo", rows, logs, max_length=5)
    assert len(p) == 1 and p.dropped == 1
    assert len(p.rows["prompt"][0]) + len(p.rows["chosen"][0]) == 5
    assert p.rows["chosen"][0] == ids(tok, "is blue")
    assert any("dropped 1 row " in m for m in logs)
    # the same rows `convert --tokenize` refuses: one message says why they are dropped
    said = next(m for m in logs if "dropped 1 row " in m)
    assert "(its completion is cut away by max_length=5" in said and "their" not in said
    assert said.endswith("refuses this row, listing it)"), said
    with pytest.raises(DataError, match="no training rows"):
        _prep(tok, "dpo", rows[1:], max_length=3)
    logs.clear()
    _prep(tok, "dpo", [rows[0], rows[1], rows[1]], logs, max_length=5)
    said = next(m for m in logs if "dropped 2 rows " in m)
    assert "(their completion is cut away by max_length=5" in said, said
    assert said.endswith("refuses these rows, listing each)"), said


def test_stepwise_labels_sit_on_each_steps_last_token(tok):
    rows = [
        {
            "prompt": "two plus two",
            "completions": ["equals four", "so yes"],
            "labels": [True, False],
        }
    ]
    p = _prep(tok, "prm", rows, options={"step_separator": " ."})
    sep = ids(tok, ".")
    want_ids = [
        tok.bos_token_id,
        *ids(tok, "two plus two"),
        *ids(tok, "equals four"),
        *sep,
        *ids(tok, "so yes"),
        *sep,
    ]
    assert p.rows["ids"] == [want_ids]
    assert p.rows["labels"] == [[-100] * 6 + [1] + [-100] * 2 + [0]]
    options = {"step_separator": " .", "train_on_last_step_only": True}
    last = _prep(tok, "prm", rows, options=options)
    assert last.rows["labels"] == [[-100] * 9 + [0]]
    # evaluation scores every step, as TRL's PRMTrainer does
    assert _prep(tok, "prm", rows, options=options, training=False).rows == p.rows
    # truncation keeps the steps that fit whole: the second one's label is gone with it
    cut = _prep(tok, "prm", rows, options={"step_separator": " ."}, max_length=9)
    assert cut.rows["ids"] == [want_ids[:7]]
    assert cut.rows["labels"] == [[-100] * 6 + [1]]
    # with only the last step trained on, a row that lost it has nothing left
    with pytest.raises(DataError, match="no training rows"):
        _prep(tok, "prm", rows, options=options, max_length=9)


def test_keep_end_truncation_keeps_each_sides_last_tokens(tok):
    """As TRL's DPO collator: prompt + chosen and prompt + rejected each keep their last
    max_length tokens, so the shorter side keeps more of the prompt."""
    rows = [{"prompt": "the sky is blue and", "chosen": " green", "rejected": " red ."}]
    p = _prep(tok, "dpo", rows, max_length=5, truncation="keep_end")
    assert p.dropped == 0
    assert p.rows["prompt"] == [ids(tok, "is blue and")]
    assert p.rows["chosen"] == [[*ids(tok, "green"), tok.eos_token_id]]
    assert p.rows["rejected"] == [[*ids(tok, "red ."), tok.eos_token_id]]
    assert (p.rows["chosen_prompt_start"], p.rows["rejected_prompt_start"]) == ([0], [1])
    batch = Collator("pairs", pad_token_id=0)([{k: v[0] for k, v in p.rows.items()}])
    seqs = batch.seqs.input_ids[batch.seqs.attention_mask.bool()].tolist()
    assert seqs == [
        *ids(tok, "is blue and green"), tok.eos_token_id,
        *ids(tok, "blue and red ."), tok.eos_token_id,
    ]  # fmt: skip
    # a completion longer than max_length keeps its end (the prompt is gone)
    long = [{"prompt": "the sky", "chosen": " is blue and green", "rejected": " red"}]
    p = _prep(tok, "dpo", long, max_length=3, truncation="keep_end")
    assert p.rows["chosen"] == [[*ids(tok, "and green"), tok.eos_token_id]]
    assert p.rows["prompt"] == [ids(tok, "sky")]
    assert (p.rows["chosen_prompt_start"], p.rows["rejected_prompt_start"]) == ([1], [0])


def test_keep_end_keeps_the_trailing_whole_steps_beside_their_labels(tok):
    rows = [{"prompt": "two plus two", "completions": ["equals four", "so yes"],
             "labels": [True, False]}]  # fmt: skip
    p = _prep(tok, "prm", rows, options={"step_separator": " ."}, max_length=3,
              truncation="keep_end")  # fmt: skip
    assert p.rows["ids"] == [[*ids(tok, "so yes"), *ids(tok, ".")]]
    assert p.rows["labels"] == [[-100, -100, 0]]


def test_online_prompts_keep_their_end_whatever_the_truncation_mode(tok):
    """The question and the generation prompt end a prompt: a prompt longer than max_length
    loses its start (TRL 0.17's GRPO cuts `ids[-max_prompt_length:]`), and the note says so."""
    logs: list[str] = []
    rows = [{"prompt": "the sky is blue and green"}, {"prompt": "red ."}]
    for mode in ("keep_start", "keep_end"):
        logs.clear()
        p = _prep(tok, "grpo", rows, logs, max_length=3, truncation=mode)
        assert p.rows["prompt"][0] == ids(tok, "blue and green")
        assert p.rows["prompt"][1] == [tok.bos_token_id, *ids(tok, "red .")]
        assert p.rows["prompt_text"][0] == "the sky is blue and green"  # reward functions'
        assert any(m.startswith("data: 1 prompt longer than max_length=3: its start") for m in logs)


def test_the_log_counts_rows_in_and_out_as_convert_does(tok):
    """Unpairing makes two rows of each pair: rows in, then rows out, then rows trained on."""
    fits = {"prompt": "the sky", "chosen": " is blue", "rejected": " is red"}
    long_prompt = {**fits, "prompt": "the sky is blue and green and red and"}
    logs: list[str] = []
    p = _prep(tok, "kto", [fits, long_prompt], logs, max_length=6)
    assert logs[1] == "data: preference -> unpaired-preference: 2 rows in -> 4 rows"
    assert p.dropped == 2 and len(p) == 2
    assert logs[-1] == "data: training on 2 rows"
    logs.clear()  # evaluation data is evaluated on, not trained on
    _prep(tok, "kto", [fits, long_prompt], logs, max_length=6, training=False, label="eval data")
    assert logs[-1] == "eval data: evaluating on 2 rows"
    logs.clear()  # rows numbered as convert numbers them, not as a Python list
    merged = {"prompt": "the sky", "chosen": "is blue", "rejected": "is red"}  # "skyis"
    _prep(tok, "dpo", [fits, merged], logs)
    assert any("1 row where" in line and "(e.g. row 1); its completion" in line for line in logs)
    logs.clear()
    _prep(tok, "dpo", [fits, merged, merged], logs)
    assert any("2 rows where" in line and "; their completion" in line for line in logs), logs
    with pytest.raises(DataError, match="no evaluation rows left after tokenisation of --eval"):
        _prep(tok, "kto", [long_prompt], max_length=6, training=False, label="eval data")


def test_a_conversion_that_keeps_no_row_says_why(tok):
    rows = [{"prompt": "two plus two", "completions": ["is five"], "labels": [False]}]
    said = r"conversion to prompt-completion dropped the one row \(stepwise-supervision -> "
    with pytest.raises(DataError, match=said) as caught:
        _prep(tok, "sft", rows)
    assert "--to unpaired keeps them" in caught.value.hint


def test_skip_with_every_row_refused_says_each_reason(tok):
    rows = [{"chosen": "x", "rejected": "x"}, {"chosen": "ab", "rejected": "cd"}]
    said = r"every row was refused \(2\): nothing to train on; 1 x conversion: .*\(e.g. row 0\)"
    with pytest.raises(DataError, match=said + r"; 1 x conversion: .*\(e.g. row 1\)"):
        _prep(tok, "dpo", rows, on_error="skip")


def test_prm_rows_without_a_whole_step_say_so(tok):
    logs: list[str] = []
    rows = [
        {"prompt": "two", "completions": ["equals four"], "labels": [True]},
        {"prompt": "two plus two", "completions": ["equals four"], "labels": [True]},
    ]
    p = _prep(tok, "prm", rows, logs, options={"step_separator": " ."}, max_length=5)
    assert p.dropped == 1
    assert (
        "data: dropped 1 row (row 1) with nothing left to train on (max_length=5 leaves no "
        "whole step)" in logs
    )


def test_reward_rows_longer_than_max_length_are_dropped_not_cut(tok):
    logs: list[str] = []
    rows = [
        {"chosen": "the sky is blue", "rejected": "the sky is red"},
        {"chosen": "the sky is blue and green and red", "rejected": "no"},
    ]
    p = _prep(tok, "reward", rows, logs, max_length=6)
    assert p.dropped == 1 and len(p) == 1
    assert p.rows["chosen"] == [[tok.bos_token_id, *ids(tok, "the sky is blue"), tok.eos_token_id]]
    assert any("dropped 1 row (row 1) longer than max_length=6" in m for m in logs)


def test_unpaired_collator_builds_mismatched_kl_pairs():
    rows = [
        {"prompt": [1, 10], "completion": [20, 21], "label": True},
        {"prompt": [1, 11], "completion": [22], "label": False},
        {"prompt": [1, 12], "completion": [23, 24, 25], "label": True},
    ]
    b = Collator("unpaired", 0, kl=True)(rows)
    assert b.labels.tolist() == [True, False, True]
    kl_targets = [b.kl_seqs.target_ids[b.kl_seqs.target_seq == i].tolist() for i in range(3)]
    assert kl_targets == [[23, 24, 25], [20, 21], [22]]  # (x_1, y_3), (x_2, y_1), (x_3, y_2)
    pairs = Collator("pairs", 0)([{"prompt": [1, 5], "chosen": [6, 2], "rejected": [7]}])
    assert pairs.num_pairs == 1
    assert pairs.seqs.target_ids.tolist() == [6, 2, 7]
    assert pairs.seqs.target_seq.tolist() == [0, 0, 1]


def test_a_row_with_a_null_value_is_refused_or_left_out(tok):
    rows = [
        {"prompt": "the sky", "chosen": " is blue", "rejected": " is red"},
        {"prompt": "the sky", "chosen": " is blue", "rejected": None},
    ]
    with pytest.raises(DataError, match=r"row 1: read: column 'rejected'.*rule null-value"):
        _prep(tok, "dpo", rows)
    prepared = _prep(tok, "dpo", rows, on_error="skip")
    assert len(prepared) == 1
    assert [(r["row"], r["stage"]) for r in prepared.rejects.to_pylist()] == [(1, "read")]


@pytest.mark.parametrize("group_by_length", [False, True])
def test_batch_stream_covers_every_row_once_per_epoch(group_by_length):
    from trlprep.trainers.sampling import BatchStream

    rows = {"ids": [[0] * (i % 7 + 1) for i in range(23)], "n": list(range(23))}

    def epoch(stream, e):
        return [r["n"] for i in range(stream.per_epoch) for r in stream.batch(e, i)]

    shards = [
        BatchStream(rows, 4, seed=3, rank=k, world=2, group_by_length=group_by_length)
        for k in range(2)
    ]
    seen = epoch(shards[0], 0) + epoch(shards[1], 0)
    assert sorted(seen) == list(range(23))  # disjoint shards covering every row
    assert epoch(shards[0], 0) != epoch(shards[0], 1)  # reshuffled each epoch
    again = BatchStream(rows, 4, seed=3, rank=0, world=2, group_by_length=group_by_length)
    assert epoch(again, 1) == epoch(shards[0], 1)  # a function of (seed, epoch)
    it = again.iterate(0, again.per_epoch - 1)
    assert [next(it)[:2] for _ in range(2)] == [(0, again.per_epoch - 1), (1, 0)]
    if group_by_length:  # lengths descend within each group of 50 batches (here: all rows)
        lengths = [len(rows["ids"][n]) for n in epoch(shards[0], 0)]
        assert lengths == sorted(lengths, reverse=True)


def test_an_extra_column_of_several_kinds_is_not_warned_about_in_training(tok, tmp_path):
    """`convert` warns that such a column is returned as JSON text (true of its outputs);
    training writes no data and trains on no extra column, so it says nothing of it."""
    import trlprep
    from trlprep.io.kinds import CarriedColumnWarning

    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"prompt": "The sky is", "chosen": " blue.", "rejected": " red.", "meta": {"a": 1}}\n'
        '{"prompt": "Grass is", "chosen": " green.", "rejected": " red.", "meta": "x"}\n'
    )
    with pytest.warns(CarriedColumnWarning, match="'meta'.*returned as JSON text"):
        trlprep.convert(str(data), to="prompt-completion")  # the same data: said there
    logs: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CarriedColumnWarning)  # nor passed on to the caller
        _prep(tok, "sft", str(data), logs)
    assert (
        logs[0] == "data: preference -> prompt-completion: 2 rows in; loss on the completion only"
    )
    assert not any("JSON text" in line or "'meta'" in line for line in logs), logs


def test_boundary_merges_are_named_by_their_file_lines(tmp_path):
    from templates_support import tiny_tokenizer
    from trlprep.trainers.offline_options import SFTOptions

    merging = tiny_tokenizer(None, words=["ab", "abc", "c", "x"])
    data = tmp_path / "pc.jsonl"  # a blank line first: positions and file lines differ
    data.write_text(
        '\n{"prompt": "x ab ", "completion": "c"}\n{"prompt": "x ab", "completion": "c"}\n'
    )
    said: list[str] = []
    prepare(
        str(data), "lm", ("prompt-completion",), merging, algo="sft", max_length=None,
        options=SFTOptions(), log=said.append,
    )  # fmt: skip
    (note,) = [s for s in said if "merges tokens across" in s]
    assert "(e.g. line 3)" in note, note
