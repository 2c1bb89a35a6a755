"""Token-id columns: prompt ids are a prefix, no duplicated BOS, boundary merges counted."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from templates_support import tiny_tokenizer

from trlprep.errors import RowFailures, UsageError
from trlprep.io.readers import table_from_records
from trlprep.templates import load_template, render_table
from trlprep.templates.tokenize import tokenize_table

WORDS = ["Q1", "Q2", "A", "B", "good", "bad", "user", "assistant", "<|im_start|>", "<|im_end|>"]


def bos_tokenizer():
    """A tokenizer that adds BOS by default (like Llama's)."""
    from tokenizers import processors

    tok = tiny_tokenizer(None, bos="<s>", eos="</s>", words=WORDS)
    bos = tok.convert_tokens_to_ids("<s>")
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", bos)]
    )
    return tok


def rows(kind):
    p = [{"role": "user", "content": "Q1"}]
    a = [{"role": "assistant", "content": "good"}]
    b = [{"role": "assistant", "content": "bad"}]
    return {
        "pc": [{"prompt": p, "completion": a}],
        "pref": [{"prompt": p, "chosen": a, "rejected": b}] * 2,
        "lm": [{"messages": p + a}],
    }[kind]


def templated(kind, dtype, template="chatml"):
    return render_table(table_from_records(rows(kind)), dtype, load_template(template), num_proc=1)[
        0
    ]


def test_prompt_completion_ids_and_mask():
    tok = bos_tokenizer()
    table, report = tokenize_table(templated("pc", "pc"), "pc", tok)
    ids = table.column("input_ids").to_pylist()[0]
    mask = table.column("completion_mask").to_pylist()[0]
    text = table.column("prompt").to_pylist()[0] + table.column("completion").to_pylist()[0]
    assert ids == [tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.bos_token_id) == 1
    n_prompt = 1 + len(
        tok(table.column("prompt").to_pylist()[0], add_special_tokens=False)["input_ids"]
    )
    assert mask == [0] * n_prompt + [1] * (len(ids) - n_prompt)
    assert report.boundary_merges == 0 and report.rows == 1


def test_text_starting_with_bos_gets_no_second_bos():
    tok = bos_tokenizer()
    tok.chat_template = "{{ bos_token }}{% for m in messages %}{{ m.content }} {% endfor %}"
    table = templated("lm", "lm", load_template(tok))
    out, _ = tokenize_table(table, "lm", tok)
    ids = out.column("input_ids").to_pylist()[0]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1


def test_preference_ids_share_the_prompt():
    tok = tiny_tokenizer(None, words=WORDS)
    table, _ = tokenize_table(templated("pref", "preference"), "preference", tok)
    prompt_ids, chosen, rejected = (
        table.column(c).to_pylist()[0] for c in ("prompt_ids", "chosen_ids", "rejected_ids")
    )
    full = tok(
        table.column("prompt").to_pylist()[0] + table.column("chosen").to_pylist()[0],
        add_special_tokens=False,
    )
    assert prompt_ids + chosen == full["input_ids"]
    assert rejected and rejected != chosen
    assert table.schema.field("chosen_ids").type == pa.list_(pa.int32())


def test_boundary_merges_are_counted_and_split_at_the_common_prefix():
    tok = tiny_tokenizer(None, words=["ab", "abc", "c", "x"])
    table = pa.table({"prompt": ["x ab", "x ab "], "completion": ["c", "c"]})
    out, report = tokenize_table(table, "pc", tok)
    assert report.boundary_merges == 1 and report.boundary_examples == [0]
    ids, mask = out.column("input_ids").to_pylist(), out.column("completion_mask").to_pylist()
    assert ids[0] == tok("x abc", add_special_tokens=False)["input_ids"]
    assert mask[0] == [0, 1]  # the merged token belongs to the completion
    assert mask[1] == [0, 0, 1]


def test_truncation_modes():
    tok = tiny_tokenizer(None, words=["p1", "p2", "p3", "c1", "c2"])
    table = pa.table({"prompt": ["p1 p2 p3 "], "completion": ["c1 c2"]})
    keep_start, report = tokenize_table(table, "pc", tok, max_length=4)
    assert report.truncated == 1
    assert keep_start.column("completion_mask").to_pylist() == [[0, 0, 0, 1]]
    keep_end, _ = tokenize_table(table, "pc", tok, max_length=4, truncation="keep_end")
    assert keep_end.column("completion_mask").to_pylist() == [[0, 0, 1, 1]]
    with pytest.raises(UsageError):
        tokenize_table(table, "pc", tok, truncation="middle")


def test_conversational_input_is_refused():
    with pytest.raises(UsageError, match="chat template first"):
        tokenize_table(table_from_records(rows("pc")), "pc", tiny_tokenizer(None))


def test_add_eos_appends_eos_to_completions_once():
    tok = bos_tokenizer()
    eos = tok.eos_token_id
    table = pa.table(
        {"prompt": ["Q1 ", "Q2 "], "chosen": ["good", "good</s>"], "rejected": ["bad", "bad"]}
    )
    out, _ = tokenize_table(table, "preference", tok, add_eos=True)
    assert out.column("chosen_ids").to_pylist() == [[tok.convert_tokens_to_ids("good"), eos]] * 2
    assert all(ids[-1] == eos for ids in out.column("rejected_ids").to_pylist())
    assert out.column("prompt_ids").to_pylist()[0][0] == tok.bos_token_id  # the prompt: no EOS
    assert out.column("chosen").to_pylist() == ["good", "good</s>"]  # text left as it was
    plain, _ = tokenize_table(table, "preference", tok)
    assert plain.column("chosen_ids").to_pylist()[0] == [tok.convert_tokens_to_ids("good")]
    # whole sequences get it too: language modeling and implicit preference
    lm, _ = tokenize_table(pa.table({"text": ["Q1 good"]}), "lm", tok, add_eos=True)
    assert lm.column("input_ids").to_pylist()[0][0] == tok.bos_token_id
    assert lm.column("input_ids").to_pylist()[0][-1] == eos
    implicit = pa.table({"chosen": ["Q1 good"], "rejected": ["Q1 bad"]})
    out, _ = tokenize_table(implicit, "preference-implicit", tok, add_eos=True)
    assert [x[-1] for x in out.column("rejected_ids").to_pylist()] == [eos]


def test_stepwise_steps_end_with_the_separator_and_truncate_whole():
    tok = tiny_tokenizer(None, words=["p1", "p2", "s1", "s2", "s3", "|"])
    sep = tok.convert_tokens_to_ids("|")
    table = pa.table(
        {"prompt": ["p1 p2"], "completions": [["s1", "s2 s3"]], "labels": [[True, False]]}
    )
    with pytest.raises(UsageError, match="step separator"):
        tokenize_table(table, "stepwise-supervision", tok)
    out, report = tokenize_table(table, "stepwise-supervision", tok, step_separator=" |")
    ids = tok.convert_tokens_to_ids
    assert out.column("prompt_ids").to_pylist() == [[ids("p1"), ids("p2")]]
    assert out.column("completions_ids").to_pylist() == [
        [[ids("s1"), sep], [ids("s2"), ids("s3"), sep]]
    ]
    assert out.schema.field("completions_ids").type == pa.list_(pa.list_(pa.int32()))
    assert report.max_tokens == 7 and report.truncated == 0
    # a step that does not fit whole is dropped (its label sits on its last token)
    cut, report = tokenize_table(
        table, "stepwise-supervision", tok, step_separator=" |", max_length=6
    )
    assert cut.column("completions_ids").to_pylist() == [[[ids("s1"), sep]]]
    assert report.truncated == 1
    end, _ = tokenize_table(
        table,
        "stepwise-supervision",
        tok,
        step_separator=" |",
        max_length=6,
        truncation="keep_end",
    )
    assert end.column("prompt_ids").to_pylist() == [[ids("p2")]]
    assert len(end.column("completions_ids").to_pylist()[0]) == 2


_WORDS = ["w1", "w2", "w3", "w4"]
_TEXT = st.lists(st.sampled_from(_WORDS), max_size=6).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    prompt=_TEXT,
    chosen=_TEXT,
    rejected=_TEXT,
    max_length=st.one_of(st.none(), st.integers(1, 14)),
    truncation=st.sampled_from(["keep_start", "keep_end"]),
)
def test_pairs_are_cut_side_by_side_as_trl_does(prompt, chosen, rejected, max_length, truncation):
    tok = _property_tokenizer()
    table = pa.table({"prompt": [prompt], "chosen": [" " + chosen], "rejected": [" " + rejected]})
    kw = dict(max_length=max_length, truncation=truncation, add_eos=True)
    out, report = tokenize_table(table, "preference", tok, cut_away="keep", **kw)
    p, c, r = (out.column(k).to_pylist()[0] for k in ("prompt_ids", "chosen_ids", "rejected_ids"))
    full, _ = tokenize_table(table, "preference", tok, add_eos=True)
    fp, fc, fr = (
        full.column(k).to_pylist()[0] for k in ("prompt_ids", "chosen_ids", "rejected_ids")
    )
    assert fc[-1] == fr[-1] == tok.eos_token_id
    starts = [0, 0]
    if max_length is not None and truncation == "keep_end":
        starts = [out.column(f"{k}_prompt_start").to_pylist()[0] for k in ("chosen", "rejected")]
    sides = [p[starts[0] :] + c, p[starts[1] :] + r]
    for side, whole in zip(sides, (fp + fc, fp + fr), strict=True):
        if max_length is None:
            assert side == whole
        elif truncation == "keep_start":  # TRL: ids[:max_length] per side
            assert side == whole[:max_length]
        else:  # TRL: ids[-max_length:] per side, a suffix of the untruncated side
            assert side == whole[-max_length:]
            assert len(side) <= max_length
    assert p == (fp[: len(p)] if truncation == "keep_start" else fp[len(fp) - len(p) :])
    assert min(starts) == 0  # prompt_ids is as long as the side keeping the most needs
    kept_prompts = [p[s:] for s in starts]
    assert report.truncated == int(sides != [fp + fc, fp + fr])
    assert report.prompt_cut == int(any(k != fp for k in kept_prompts))
    assert report.completion_cut == int((c, r) != (fc, fr))
    gone = [k for k, ids in (("chosen", c), ("rejected", r)) if not ids]
    if gone:  # either side cut away (nothing to compare): a row failure unless kept
        what = (
            "chosen and rejected completions are" if len(gone) == 2 else f"{gone[0]} completion is"
        )
        with pytest.raises(RowFailures, match=f"the {what} cut away"):
            tokenize_table(table, "preference", tok, **kw)
    else:
        assert tokenize_table(table, "preference", tok, **kw)[0].equals(out)


@settings(max_examples=60, deadline=None)
@given(
    prompt=_TEXT,
    completion=_TEXT,
    max_length=st.integers(1, 10),
    truncation=st.sampled_from(["keep_start", "keep_end"]),
    dtype=st.sampled_from(["prompt-completion", "unpaired-preference"]),
)
def test_one_sided_rows_keep_the_first_or_last_max_length_ids(
    prompt, completion, max_length, truncation, dtype
):
    tok = _property_tokenizer()
    table = pa.table({"prompt": [prompt], "completion": [" " + completion], "label": [True]})
    kw = dict(add_eos=True, cut_away="keep")
    out, _ = tokenize_table(table, dtype, tok, max_length=max_length, truncation=truncation, **kw)
    full, _ = tokenize_table(table, dtype, tok, **kw)

    def seq(t):
        if dtype == "prompt-completion":
            return t.column("input_ids")[0].as_py(), sum(t.column("completion_mask")[0].as_py())
        c = t.column("completion_ids")[0].as_py()
        return t.column("prompt_ids")[0].as_py() + c, len(c)

    (ids, n), (whole, whole_n) = seq(out), seq(full)
    assert len(ids) <= max_length
    if truncation == "keep_start":
        assert ids == whole[:max_length]
    else:  # a suffix: the completion keeps its end, the prompt what room is left
        assert ids == whole[-max_length:]
        assert n == min(whole_n, max_length)


@settings(max_examples=60, deadline=None)
@given(
    prompt=_TEXT,
    steps=st.lists(_TEXT, max_size=4),
    max_length=st.one_of(st.none(), st.integers(1, 16)),
    truncation=st.sampled_from(["keep_start", "keep_end"]),
)
def test_stepwise_keeps_whole_steps(prompt, steps, max_length, truncation):
    tok = _property_tokenizer()
    table = pa.table({"prompt": [prompt], "completions": [steps], "labels": [[True] * len(steps)]})
    kw = dict(step_separator=" |", truncation=truncation, cut_away="keep")
    out, _ = tokenize_table(table, "stepwise-supervision", tok, max_length=max_length, **kw)
    full, _ = tokenize_table(table, "stepwise-supervision", tok, **kw)
    p, kept = out.column("prompt_ids").to_pylist()[0], out.column("completions_ids").to_pylist()[0]
    fp, all_steps = (full.column(k).to_pylist()[0] for k in ("prompt_ids", "completions_ids"))
    if truncation == "keep_start":
        assert kept == all_steps[: len(kept)]
        assert p == fp[: len(p)]
    else:  # trailing whole steps, those before them left empty (still beside their labels)
        assert len(kept) == len(all_steps)
        first = next((i for i, s in enumerate(kept) if s), len(kept))
        assert kept[first:] == all_steps[first:] and not any(kept[:first])
        assert p == fp[len(fp) - len(p) :]
        seq, whole = p + sum(kept, []), fp + sum(all_steps, [])
        assert seq == whole[len(whole) - len(seq) :]  # a suffix of the untruncated row
        if first:
            assert not p
    assert all(s[-1] == tok.convert_tokens_to_ids("|") for s in kept if s)
    if max_length is not None:
        assert len(p) + sum(map(len, kept)) <= max_length


def _property_tokenizer():
    return tiny_tokenizer(None, words=[*_WORDS, "|"])


@pytest.mark.parametrize(
    "dtype", ["language-modeling", "prompt-only", "prompt-completion", "preference",
              "preference-implicit", "unpaired-preference"],
)  # fmt: skip
def test_token_columns_names_exactly_what_tokenize_table_adds(dtype):
    from trlprep.registry import get_type
    from trlprep.templates.tokenize import token_columns

    t = get_type(dtype)
    row = {c: "a good answer" for c in t.column_names(t.formats[0])}
    row.update({"label": True} if "label" in row else {})
    table = table_from_records([row])
    out, _ = tokenize_table(table, t, bos_tokenizer())
    assert set(out.column_names) - set(table.column_names) == set(token_columns(t))
    cut, _ = tokenize_table(table, t, bos_tokenizer(), max_length=2, truncation="keep_end")
    added = set(cut.column_names) - set(table.column_names)
    assert added == set(token_columns(t, "keep_end", 2))


def test_a_completion_cut_away_entirely_is_a_row_failure():
    """keep_start with a prompt that fills --max-length leaves nothing to train on."""
    tok = tiny_tokenizer(None, words=["p1", "p2", "p3", "c1", "c2"])
    table = pa.table(
        {"prompt": ["p1 ", "p1 p2 p3 ", "p1 p2 "], "completion": ["c1", "c1", "c1 c2"]}
    )
    with pytest.raises(RowFailures) as err:
        tokenize_table(table, "pc", tok, max_length=3)
    assert err.value.rows == [1] and err.value.stage == "tokenize"
    assert err.value.reasons == [
        "the completion is cut away by --max-length 3 (prompt is 3 tokens)"
    ]
    assert "--truncation keep_end" in err.value.hint
    kept, report = tokenize_table(table, "pc", tok, max_length=3, cut_away="keep")
    assert kept.column("completion_mask").to_pylist() == [[0, 1], [0, 0, 0], [0, 0, 1]]
    assert (report.truncated, report.prompt_cut, report.completion_cut) == (2, 0, 2)
    # the rows that still train on something: a note saying what was cut
    ok, report = tokenize_table(table.take([0, 2]), "pc", tok, max_length=3)
    assert report.truncation_note() == (
        "1 row truncated to --max-length 3: the completion's end cut in 1 row"
    )
    end, report = tokenize_table(table, "pc", tok, max_length=3, truncation="keep_end")
    assert end.column("completion_mask").to_pylist() == [[0, 1], [0, 0, 1], [0, 1, 1]]
    assert report.truncation_note() == (
        "2 rows truncated to --max-length 3: the prompt's start cut in 2 rows"
    )
    with pytest.raises(UsageError):
        tokenize_table(table, "pc", tok, cut_away="never")


def test_unpaired_and_stepwise_rows_cut_away_are_row_failures():
    tok = tiny_tokenizer(None, words=["p1", "p2", "s1", "s2", "|"])
    unpaired = pa.table(
        {"prompt": ["p1 p2 ", "p1 "], "completion": ["s1", "s1"], "label": [True, False]}
    )
    with pytest.raises(RowFailures) as err:
        tokenize_table(unpaired, "unpaired-preference", tok, max_length=2)
    assert err.value.rows == [0]
    assert err.value.reasons[0].startswith("the completion is cut away by --max-length 2")
    steps = pa.table(
        {"prompt": ["p1", "p1 p2"], "completions": [["s1"], ["s1 s2"]], "labels": [[True], [True]]}
    )
    with pytest.raises(RowFailures) as err:
        tokenize_table(steps, "stepwise-supervision", tok, step_separator=" |", max_length=3)
    assert err.value.rows == [1]
    assert err.value.reasons == [
        "every step is cut away by --max-length 3 (prompt is 2 tokens, the first step 3)"
    ]
    # language modeling has no completion to lose: truncation is only a note
    lm, report = tokenize_table(pa.table({"text": ["p1 p2 s1"]}), "lm", tok, max_length=2)
    assert report.truncation_note() == "1 row truncated to --max-length 2 (each sequence's end cut)"


def test_no_transformers_length_warning(caplog):
    """trlprep handles lengths itself: the tokenizer's model_max_length warning stays quiet."""
    import logging

    tok = tiny_tokenizer(None, words=["p1", "c1"])
    tok.model_max_length = 4
    table = pa.table({"prompt": ["p1 " * 10], "completion": ["c1"]})
    with caplog.at_level(logging.WARNING):
        tokenize_table(table, "pc", tok)
    assert "Token indices sequence length" not in caplog.text
    with caplog.at_level(logging.WARNING):  # the tokenizer still warns when called as is
        tok("p1 " * 10)
    assert "Token indices sequence length" in caplog.text


def test_the_longest_sequence_counts_a_pairs_prompt_with_its_answer():
    """`max_tokens` is the longest sequence a trainer sees (prompt + answer), not the longest
    id column; under keep_end each side counts from its own start in the prompt."""
    tok = tiny_tokenizer(None, bos=None, words=["p1", "p2", "p3", "a", "b", "c"])
    table = pa.table({"prompt": ["p1 p2 p3"], "chosen": [" a b c"], "rejected": [" a"]})
    _, report = tokenize_table(table, "preference", tok)
    assert report.max_tokens == 6
    out, report = tokenize_table(table, "preference", tok, max_length=5, truncation="keep_end")
    starts = out.column("chosen_prompt_start").to_pylist()
    assert starts == [1] and report.max_tokens == 5
    _, report = tokenize_table(pa.table({"text": ["p1 a b"]}), "lm", tok)
    assert report.max_tokens == 3
    _, report = tokenize_table(pa.table({"prompt": ["p1 p2 p3 a", "p1"]}), "prompt-only", tok)
    assert report.max_tokens == 4  # prompt-only: the prompts are the sequences


def test_truncation_counts_rows_not_sequences():
    """An implicit pair whose two sides are cut is one truncated row (the note said
    "302 rows truncated" of 163 rows); refitting the ids counts the same."""
    from trlprep.templates.refit import refit_table

    tok = tiny_tokenizer(None, words=["a", "b", "c", "d", "e", "f", "g", "h"])
    long = "a b c d e f g h a b c d"
    table = pa.table({"chosen": [long, long, "a"], "rejected": [long, "a", "a"]})
    out, report = tokenize_table(table, "preference-implicit", tok, max_length=4)
    assert report.truncated == 2
    assert report.truncation_note().startswith("2 rows truncated")
    whole, _ = tokenize_table(table, "preference-implicit", tok)
    _, again = refit_table(whole, "preference-implicit", max_length=4)
    assert again.truncated == 2
