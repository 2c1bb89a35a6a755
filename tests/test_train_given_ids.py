"""Training on `trlprep convert --tokenize` output: the file's ids are trained on, cut to the
run's max_length as train would cut the ids it makes, not its text tokenised again."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_support import make_tokenizer  # noqa: E402
from trlprep.trainers.algorithms import get_algorithm  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

from trlprep.errors import DataError  # noqa: E402


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def _prep(tok, algo: str, rows, logs=None, **kw):
    a = get_algorithm(algo)
    return prepare(
        rows, a.layout, a.accepts, tok, algo=algo, options=a.make_options({}),
        log=(logs.append if logs is not None else lambda _: None), **kw,
    )  # fmt: skip


def _msgs(role: str, text: str) -> list[dict]:
    return [{"role": role, "content": text}]


# the chosen side is long and the rejected short: with keep_end the sides keep different
# amounts of the prompt
PREFERENCE = [
    {
        "prompt": _msgs("user", "what color is the sky and the sea ?"),
        "chosen": _msgs("assistant", "the sky is blue and the sea is blue and green"),
        "rejected": _msgs("assistant", "red"),
    },
    {
        "prompt": _msgs("user", "what color is the sun ?"),
        "chosen": _msgs("assistant", "yellow"),
        "rejected": _msgs("assistant", "blue"),
    },
]
UNPAIRED = [
    {**{k: r[k] for k in ("prompt",)}, "completion": r["chosen"], "label": True} for r in PREFERENCE
]
LANGUAGE_MODELING = [{"messages": r["prompt"] + r["chosen"]} for r in PREFERENCE]
PROMPT_COMPLETION = [{"prompt": r["prompt"], "completion": r["chosen"]} for r in PREFERENCE]


def _tokenized(tok, rows, max_length, truncation):
    from trlprep.api import convert

    return convert(
        rows, chat_template="chatml", tokenizer=tok, tokenize=True, max_length=max_length,
        truncation=truncation,
    )  # fmt: skip


@pytest.mark.parametrize("truncation", ["keep_start", "keep_end"])
@pytest.mark.parametrize(
    "algo,rows",
    [
        ("dpo", PREFERENCE),
        ("kto", UNPAIRED),
        ("sft", LANGUAGE_MODELING),
        ("sft", PROMPT_COMPLETION),
    ],
)
def test_tokenized_chat_rows_train_as_the_conversation_would(tok, algo, rows, truncation):
    """Before, train tokenised the rendered text of such a file again, as standard text: a
    BOS and an EOS the chat template never wrote were added to every sequence."""
    own = _prep(tok, algo, rows, chat_template="chatml", max_length=24, truncation=truncation)
    logs: list[str] = []
    given = _prep(
        tok, algo, _tokenized(tok, rows, 24, truncation), logs, max_length=24,
        truncation=truncation,
    )  # fmt: skip
    assert given.rows == own.rows
    assert any("token ids read from" in line for line in logs)
    if algo == "dpo" and truncation == "keep_end":  # the sides were cut apart
        assert own.rows["chosen_prompt_start"] != own.rows["rejected_prompt_start"]


@pytest.mark.parametrize("truncation", ["keep_start", "keep_end"])
def test_a_shorter_max_length_cuts_the_given_ids_as_its_own(tok, truncation):
    """ids tokenised at one max_length (or none), trained at a shorter one: each side is cut
    as train would have cut the ids it makes, from the side's own prompt start."""
    for made_at in (None, 32, 26):
        own = _prep(
            tok, "dpo", PREFERENCE, chat_template="chatml", max_length=22,
            truncation=truncation,
        )  # fmt: skip
        rows = _tokenized(tok, PREFERENCE, made_at, truncation)
        given = _prep(tok, "dpo", rows, max_length=22, truncation=truncation)
        assert (made_at, given.rows) == (made_at, own.rows)


def test_ids_of_another_tokenizer_are_refused(tok):
    rows = _tokenized(tok, PREFERENCE, None, "keep_start")
    rows[1]["chosen_ids"] = [*rows[1]["chosen_ids"], len(tok) + 7]
    with pytest.raises(
        DataError, match=r"chosen_ids holds token id \d+, beyond the vocabulary"
    ) as e:
        _prep(tok, "dpo", rows, max_length=64)
    assert e.value.row == 1  # the first row holding one
    rows[1]["chosen_ids"][-1] = 5
    rows[1]["rejected_ids"] = [*rows[1]["rejected_ids"], -3]
    with pytest.raises(DataError, match=r"rejected_ids holds token id -3: .*never negative") as e:
        _prep(tok, "dpo", rows, max_length=64)
    assert (e.value.row, e.value.column) == (1, "rejected_ids")


def test_check_vocabulary_names_the_first_row_of_chunked_sliced_and_nested_columns():
    import pyarrow as pa

    from trlprep.templates.refit import check_vocabulary

    class Tok:
        def __len__(self) -> int:
            return 10

    ids = pa.chunked_array([[[1, 2], [3]], [None, [4, 10], [11]]])
    table = pa.table({"input_ids": ids})
    with pytest.raises(DataError, match="token id 10, beyond") as e:
        check_vocabulary(table, ("input_ids",), Tok(), path="d.jsonl")
    assert e.value.row == 3 and str(e.value).startswith("d.jsonl, row 3, column 'input_ids'")
    with pytest.raises(DataError, match="token id 11") as e:
        check_vocabulary(table.slice(4), ("input_ids",), Tok())
    assert e.value.row == 0
    check_vocabulary(table.slice(0, 3), ("input_ids",), Tok())  # all in the vocabulary
    steps = pa.table({"completions_ids": [[[1], [2, 3]], [[4]], [[5], [-1, 2]]]})
    with pytest.raises(DataError, match="token id -1") as e:
        check_vocabulary(steps, ("completions_ids",), Tok())
    assert e.value.row == 2


def test_online_prompts_without_a_prompt_column_keep_their_messages(tok):
    """messages + label (KTO layout) and implicit preference: reward functions got the
    rendered text instead of the prompt's messages."""
    kto = [{"messages": r["prompt"] + r["chosen"], "label": True} for r in PREFERENCE]
    implicit = [{"chosen": r["prompt"] + r["chosen"], "rejected": r["prompt"] + r["rejected"]}
                for r in PREFERENCE]  # fmt: skip
    for rows in (kto, implicit):
        p = _prep(tok, "grpo", rows, chat_template="chatml", max_length=None)
        assert p.rows["prompt_messages"] == [r["prompt"] for r in PREFERENCE]


def test_online_prompts_whose_messages_cannot_be_recovered_say_so(tok, monkeypatch):
    """The prompt messages of messages + label rows come from a second conversion without
    the chat template; when it gives another row count (or fails) the log says reward
    functions get no prompt_messages, and why (was: silently left out)."""
    import trlprep.api

    kto = [{"messages": r["prompt"] + r["chosen"], "label": True} for r in PREFERENCE]
    real = trlprep.api.convert

    def fewer(data, *a, **kw):
        out = real(data, *a, **kw)
        return out.slice(1) if kw.get("to") and kw.get("chat_template") is None else out

    monkeypatch.setattr(trlprep.api, "convert", fewer)
    logs: list[str] = []
    p = _prep(tok, "grpo", kto, logs, chat_template="chatml", max_length=None)
    assert "prompt_messages" not in p.rows
    said = [x for x in logs if "no prompt_messages" in x]
    assert said and "gives 1 row, with it 2 rows" in said[0], logs

    def fails(data, *a, **kw):
        if kw.get("to") and kw.get("chat_template") is None:
            raise DataError("no way")
        return real(data, *a, **kw)

    monkeypatch.setattr(trlprep.api, "convert", fails)
    logs.clear()
    _prep(tok, "grpo", kto, logs, chat_template="chatml", max_length=None)
    assert any("no prompt_messages" in x and "failed: no way" in x for x in logs), logs


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_ids_of_another_tokenizer_are_named_by_the_file_line_after_refused_rows(
    tok, tmp_path, suffix
):
    """Rows refused before the check (a null prompt, with on_error=skip) do not shift the
    row named: the file line (JSON Lines) or the input row (Parquet), not the table's row."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _tokenized(tok, PREFERENCE + PREFERENCE, None, "keep_start")
    rows[0]["prompt"] = None  # refused by the conversion: line 1 is left out
    rows[3]["chosen_ids"] = [*rows[3]["chosen_ids"], len(tok) + 7]  # line 4, input row 3
    path = tmp_path / f"ids.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(DataError, match="beyond the vocabulary") as e:
        _prep(tok, "dpo", str(path), max_length=64, on_error="skip")
    if suffix == "jsonl":
        assert (e.value.line, e.value.row) == (4, None)
        assert str(e.value).startswith(f"{path}:4, column 'chosen_ids'")
    else:
        assert (e.value.line, e.value.row) == (None, 3)
