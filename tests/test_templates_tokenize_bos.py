"""`--tokenize` and BOS: rendered chat text gets exactly `apply_chat_template(tokenize=True)`'s
ids (the template decides the BOS), standard text what TRL's trainers give it (`tokenizer(text)`:
the BOS its tokenizer adds, never twice)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from templates_support import TEMPLATES_DIR, tiny_tokenizer

import trlprep
from trlprep.datareport.tokens import FastLengths
from trlprep.registry import get_type

WORDS = ["Q1", "good", "bad", "user", "assistant", "system", "Hi"]
WRITES_BOS = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"  # noqa: E501
NO_BOS = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"  # noqa: E501


def bos_adding(template: str | None, bos: str = "<s>", eos: str = "</s>"):
    """A tokenizer whose `tokenizer(text)` prepends its BOS (as Llama's, Mistral's, Phi-3's)."""
    from tokenizers import processors

    tok = tiny_tokenizer(template, bos=bos, eos=eos, words=WORDS)
    bos_id = tok.convert_tokens_to_ids(bos)
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, bos_id)]
    )
    assert tok("Hi")["input_ids"][0] == bos_id
    return tok


def _templates():
    out = [pytest.param(WRITES_BOS, "<s>", "</s>", id="inline-writes-bos"),
           pytest.param(NO_BOS, "<s>", "</s>", id="inline-no-bos")]  # fmt: skip
    for name, bos, eos in [("llama3", "<|begin_of_text|>", "<|eot_id|>"),
                           ("phi3", "<s>", "<|endoftext|>")]:  # fmt: skip
        path = TEMPLATES_DIR / f"{name}.jinja"
        marks = pytest.mark.skipif(not path.exists(), reason="no /work/shared templates")
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        out.append(pytest.param(text, bos, eos, id=name, marks=marks))
    return out


PROMPT = [{"role": "user", "content": "Q1"}]
GOOD = [{"role": "assistant", "content": "good"}]
BAD = [{"role": "assistant", "content": "bad"}]


@pytest.mark.parametrize(("template", "bos", "eos"), _templates())
def test_conversational_ids_are_apply_chat_templates(template, bos, eos):
    tok = bos_adding(template, bos, eos)
    want = tok.apply_chat_template(PROMPT + GOOD, tokenize=True, return_dict=True)["input_ids"]
    prompt = tok.apply_chat_template(
        PROMPT, tokenize=True, add_generation_prompt=True, return_dict=True
    )["input_ids"]
    lm = trlprep.convert(pa.table({"messages": [PROMPT + GOOD]}), chat_template=tok,
                         tokenizer=tok, tokenize=True)  # fmt: skip
    assert lm.column("input_ids").to_pylist() == [want]
    assert want.count(tok.bos_token_id) == (1 if "bos_token" in template else 0)
    pc = trlprep.convert(pa.table({"prompt": [PROMPT], "completion": [GOOD]}),
                         chat_template=tok, tokenizer=tok, tokenize=True)  # fmt: skip
    ids = pc.column("input_ids").to_pylist()[0]
    assert ids[: len(prompt)] == prompt
    pref = trlprep.convert(
        pa.table({"prompt": [PROMPT], "chosen": [GOOD], "rejected": [BAD]}),
        chat_template=tok, tokenizer=tok, tokenize=True,
    )  # fmt: skip
    assert pref.column("prompt_ids").to_pylist() == [prompt]
    for side, msgs in (("chosen", GOOD), ("rejected", BAD)):
        full = tok.apply_chat_template(PROMPT + msgs, tokenize=True, return_dict=True)
        assert prompt + pref.column(f"{side}_ids").to_pylist()[0] == full["input_ids"]


@pytest.mark.parametrize(("template", "bos", "eos"), _templates())
def test_train_tokenises_rendered_text_as_apply_chat_template(template, bos, eos):
    pytest.importorskip("torch")
    from trlprep.trainers.algorithms import get_algorithm
    from trlprep.trainers.data import prepare

    tok = bos_adding(template, bos, eos)
    a = get_algorithm("sft")
    rows = [{"messages": PROMPT + GOOD}]
    p = prepare(rows, a.layout, a.accepts, tok, max_length=None, algo="sft",
                options=a.make_options({}))  # fmt: skip
    want = tok.apply_chat_template(PROMPT + GOOD, tokenize=True, return_dict=True)["input_ids"]
    assert p.rows["ids"] == [want]


def test_standard_text_gets_the_tokenizers_bos_as_trl_once():
    """TRL's trainers tokenise standard text with `tokenizer(text)`: the BOS it adds; a text
    that already starts with the BOS keeps one (TRL would have two)."""
    tok = bos_adding(None)
    table = pa.table({"prompt": ["Q1 ", "<s>Q1 "], "completion": ["good", "good"]})
    out = trlprep.convert(table, tokenizer=tok, tokenize=True)
    want = tok("Q1 good</s>")["input_ids"]
    assert out.column("input_ids").to_pylist() == [want, want]
    lm = trlprep.convert(pa.table({"text": ["Hi good"]}), tokenizer=tok, tokenize=True)
    assert lm.column("input_ids").to_pylist() == [tok("Hi good</s>")["input_ids"]]


@pytest.mark.parametrize("templated", [False, True])
def test_report_lengths_count_the_bos_as_tokenize_table(templated):
    from trlprep.templates.tokenize import tokenize_table

    tok = bos_adding(NO_BOS)
    table = pa.table({"prompt": ["<user>Q1</s><assistant>"], "completion": ["good</s>"]})
    ids, _ = tokenize_table(table, "pc", tok, templated=templated)
    got = FastLengths(tok, add_eos=False, templated=templated).lengths(
        table, get_type("prompt-completion")
    )
    n = len(ids.column("input_ids").to_pylist()[0])
    assert int(got["prompt"][0] + got["completion"][0]) == n
    assert ids.column("input_ids").to_pylist()[0][0] != tok.bos_token_id or not templated
