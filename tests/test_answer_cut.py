"""Rows a keep_start cut leaves with reasoning and no answer (`templates.answercut`):
counted by `tokenize_table` (convert --tokenize, train) and by the report, in one wording."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.templates.answercut import answer_cut_warning, reasoning_heads
from trlprep.templates.tokenize import tokenize_table

TOKENIZER = str(Path(__file__).resolve().parents[1] / "examples" / "tiny-chat-model")
THINK = "<think>" + "because " * 60 + "</think>"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TOKENIZER)


def _n(tok, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def test_heads_end_at_the_last_reasoning_end_of_either_marker():
    texts = pa.array(
        [
            "<think>a</think>b<think>c</think>d",
            "<|begin_of_thought|>x<|end_of_thought|>y",
            "no",
            None,
            # gpt-oss: the final channel ends the analysis before it; alone, it is no end
            "<|channel|>analysis<|message|>t<|end|><|start|>assistant<|channel|>final<|message|>a",
            "<|start|>assistant<|channel|>final<|message|>a<|return|>",
        ]
    )
    assert reasoning_heads(texts).to_pylist() == [
        "<think>a</think>b<think>c</think>",
        "<|begin_of_thought|>x<|end_of_thought|>",
        None,
        None,
        "<|channel|>analysis<|message|>t<|end|><|start|>assistant<|channel|>final<|message|>",
        None,
    ]


def test_a_cut_inside_the_reasoning_is_counted_and_one_past_it_is_not(tok):
    completion = THINK + " the answer is 42." * 20
    table = pa.table(
        {
            "prompt": ["Q: ", "Q: ", "Q: "],
            "completion": [
                completion,
                "no reasoning " * 80,
                THINK[:-8] + " still" * 20,
            ],  # unclosed
        }
    )
    head = _n(tok, "Q: " + THINK)
    whole = _n(tok, "Q: " + completion)  # the answer kept whole, not only the reasoning's end
    _, cut = tokenize_table(table, "prompt-completion", tok, max_length=head - 5)
    assert cut.truncated == 3 and cut.answer_cut == 1 and cut.answer_need == whole
    said = cut.answer_cut_warning()
    assert said == answer_cut_warning(1, head - 5, whole, ends=["</think>"])
    assert "(`</think>`): the answer" in said  # the end these rows hold, not every marker
    assert said.startswith(f"1 row cut to --max-length {head - 5} before the end of its reasoning")
    assert f"--max-length {whole} keeps these answers" in said
    ids, kept = tokenize_table(table.slice(0, 1), "prompt-completion", tok, max_length=whole)
    assert kept.truncated == 0 and len(ids.column("input_ids")[0]) == whole
    _, past = tokenize_table(table, "prompt-completion", tok, max_length=head)
    assert past.truncated == 3 and past.answer_cut == 0 and past.answer_cut_warning() is None
    _, end = tokenize_table(
        table, "prompt-completion", tok, max_length=head - 5, truncation="keep_end"
    )
    assert end.answer_cut == 0  # the end is kept, the answer with it


def test_pairs_and_whole_texts_count_a_row_once(tok):
    long = THINK + " answer" * 30
    pairs = pa.table({"prompt": ["Q"], "chosen": [long], "rejected": [long + " more"]})
    limit = _n(tok, "Q" + THINK) - 3
    _, rep = tokenize_table(pairs, "preference", tok, max_length=limit)
    assert rep.answer_cut == 1
    lm = pa.table({"text": [long, "short"]})
    _, rep = tokenize_table(lm, "language-modeling", tok, max_length=limit)
    assert rep.answer_cut == 1 and rep.answer_need >= limit


def test_the_report_counts_each_limit_and_warns_at_its_max_length(tmp_path):
    import json

    from transformers import AutoTokenizer

    from trlprep.datareport import report

    rows = [{"prompt": "Q: ", "completion": THINK + " so 42." * 5}] * 3
    rows.append({"prompt": "Q: ", "completion": "plain " * 40})
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = report(str(path), tokenizer=TOKENIZER, max_length=64)
    (at,) = [lim for lim in rep.data["truncation"]["limits"] if lim["max_length"] == 64]
    assert at["reasoning_end_cut"] == 3 and at["reasoning_ends"] == ["</think>"]
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    assert at["reasoning_end_need"] == _n(tok, "Q: " + rows[0]["completion"])  # as convert says
    text = rep.to_text()
    assert "warning: 3 rows cut to --max-length 64 before the end of their reasoning" in text
    assert rep.data["truncation"]["limits"][0]["max_length"] == 64
    big = [lim for lim in rep.data["truncation"]["limits"] if lim["max_length"] == 512]
    assert big[0]["reasoning_end_cut"] == 0


def test_gpt_oss_answers_follow_its_final_channel(tmp_path):
    """gpt-oss renders `thinking` in its analysis channel and the answer after
    `<|channel|>final<|message|>`: a cut before that marker leaves no answer (its original
    template, rendered through convert)."""
    import json

    from templates_support import TEMPLATES_DIR
    from transformers import AutoTokenizer
    from typer.testing import CliRunner

    from trlprep.cli import app

    template = TEMPLATES_DIR / "gptoss.jinja"
    if not template.exists():
        pytest.skip(f"optional reference data not found: {template}")
    say = {"role": "assistant", "thinking": "Let me add. " * 40, "content": "It is 4."}
    rows = [{"messages": [{"role": "user", "content": "2+2?"}, say]}] * 2
    rows.append({"messages": [{"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": "Hello! " * 60}]})  # fmt: skip
    data = tmp_path / "g.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flags = ["--to", "language-modeling", "--tokenize", "--tokenizer", TOKENIZER]
    flags += ["--chat-template", str(template)]

    def convert(limit: int, out: str) -> str:
        res = CliRunner().invoke(app, ["convert", str(data), *flags, "--max-length", str(limit),
                                       "-o", str(tmp_path / out)])  # fmt: skip
        assert res.exit_code == 0, res.output
        return " ".join(res.output.split())

    said = convert(100, "a.jsonl")
    assert (
        "2 rows cut to --max-length 100 before the end of their reasoning "
        "(`<|channel|>final<|message|>`)"
    ) in said
    need = int(said.split(" keeps these answers")[0].rsplit(" ", 1)[1])
    said = convert(need, "b.jsonl")
    assert "before the end of" not in said
    kept = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    assert tok.decode(kept[0]["input_ids"]).rstrip().endswith("It is 4.<|return|>")


def _counting(tok, monkeypatch) -> list[str]:
    """Every text the encoder tokenises, in order."""
    from trlprep.templates import encoder

    seen: list[str] = []
    many = encoder.Encoder.many

    def spy(self, texts):
        seen.extend(texts)
        return many(self, texts)

    monkeypatch.setattr(encoder.Encoder, "many", spy)
    return seen


@pytest.mark.parametrize("add_eos", [False, True])
@pytest.mark.parametrize(
    "dtype", ["prompt-completion", "preference", "language-modeling", "preference-implicit"]
)
def test_the_length_that_keeps_answers_whole_is_the_uncut_one_not_tokenised_again(
    tok, monkeypatch, dtype, add_eos
):
    """The need is prompt + answer counted as tokenised alone (no EOS), from the ids tokenised
    before the cut: no whole answer is tokenised a second time."""
    answers = [THINK + " so 42." * k for k in (5, 9)]
    answers.append(THINK + " ends." + tok.eos_token)  # the EOS already there: none appended
    prompts = ["Q: ", "Question two: ", "Q3 "]
    if dtype == "prompt-completion":
        table = pa.table({"prompt": prompts, "completion": answers})
        wholes = [p + a for p, a in zip(prompts, answers, strict=True)]
    elif dtype == "preference":
        table = pa.table({"prompt": prompts, "chosen": answers, "rejected": answers[::-1]})
        wholes = [p + a for p, a in zip(prompts * 2, answers + answers[::-1], strict=True)]
    elif dtype == "language-modeling":
        table = pa.table({"text": answers})
        wholes = answers
    else:
        table = pa.table({"chosen": answers, "rejected": answers[::-1]})
        wholes = answers + answers[::-1]
    limit = _n(tok, "Q: " + THINK) - 20
    seen = _counting(tok, monkeypatch)
    _, rep = tokenize_table(table, dtype, tok, max_length=limit, add_eos=add_eos)
    assert rep.answer_cut == 3
    assert rep.answer_need == max(_n(tok, w) for w in wholes)
    for w in set(wholes):  # by the tokenisation itself only (EOS appended: never as it is)
        once = not add_eos or w.endswith(tok.eos_token)
        assert seen.count(w) == (wholes.count(w) if once else 0)


def test_an_eos_that_may_take_the_text_before_it_is_counted_again():
    """An EOS added token with `lstrip` (or `single_word`) may swallow the spaces before it:
    where it was appended the count is unknown (-1), so the text is tokenised again."""
    from tokenizers import AddedToken

    from trlprep.templates.encoder import lengths_without_eos

    class Tok:
        def __init__(self, **flags):
            self.added_tokens_decoder = {9: AddedToken("</s>", special=True, **flags)}

        def convert_tokens_to_ids(self, token):
            return 9

    ids = [[1, 2, 9], [3, 9], [4]]
    column = pa.chunked_array([["a b", "c</s>", "d"]])
    got = lengths_without_eos(ids, column, "</s>", Tok())
    assert got.tolist() == [2, 2, -1]  # the last: appended, yet not ended by it
    assert lengths_without_eos(ids, column, None, Tok()).tolist() == [3, 2, 1]
    for flags in ({"lstrip": True}, {"single_word": True}):
        assert lengths_without_eos(ids, column, "</s>", Tok(**flags)).tolist() == [-1, 2, -1]
