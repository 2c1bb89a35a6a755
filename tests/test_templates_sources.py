"""Template sources: built-ins, .jinja files, tokenizer objects and folders, Hub ids (offline)."""

from __future__ import annotations

import json

import pytest
from templates_support import tiny_tokenizer

from trlprep.errors import InputError, UsageError
from trlprep.templates import ChatTemplate, apply_chat_template, load_template

SRC = "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"
MSGS = [{"role": "user", "content": "hi"}]


def test_jinja_file_needs_its_special_tokens(tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text(SRC, encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_template(str(path))
    assert "bos_token and eos_token" in info.value.message
    assert "--tokenizer" in info.value.hint and "--template-kwarg eos_token=" in info.value.hint
    t = load_template(str(path), template_kwargs={"bos_token": "<s>", "eos_token": "</s>"})
    assert t.render(MSGS) == "<s>hi</s>" and t.origin == "file" and t.name == "t.jinja"


def test_jinja_file_with_tokens_from_a_tokenizer(tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text(SRC, encoding="utf-8")
    tok = tiny_tokenizer(None, bos="<B>", eos="<E>")
    assert load_template(path, tokenizer=tok).render(MSGS) == "<B>hi<E>"
    folder = tmp_path / "tok"
    tok.save_pretrained(folder)
    assert load_template(path, tokenizer=str(folder)).render(MSGS) == "<B>hi<E>"


def test_tokenizer_object_and_folder(tmp_path):
    tok = tiny_tokenizer(SRC, bos="<B>", eos="<E>")
    assert load_template(tok).render(MSGS) == "<B>hi<E>"
    folder = tmp_path / "model"
    tok.save_pretrained(folder)
    t = load_template(str(folder))
    assert t.origin == "tokenizer" and t.render(MSGS) == "<B>hi<E>"
    assert apply_chat_template({"messages": MSGS}, str(folder)) == {"text": "<B>hi<E>"}


def test_tokenizer_without_template(tmp_path):
    folder = tmp_path / "plain"
    tiny_tokenizer(None).save_pretrained(folder)
    with pytest.raises(InputError, match="has no chat template") as info:
        load_template(str(folder))
    assert info.value.exit_code == 2


def test_tokenizer_config_json(tmp_path):
    cfg = {"chat_template": SRC, "bos_token": {"content": "<B>"}, "eos_token": "<E>"}
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    assert load_template(str(path)).render(MSGS) == "<B>hi<E>"


def test_named_templates_use_the_default():
    tok = tiny_tokenizer(None, bos="<B>", eos="<E>")
    tok.chat_template = {"default": SRC, "tool_use": "tools"}
    assert load_template(tok).render(MSGS) == "<B>hi<E>"
    tok.chat_template = {"rag": SRC}
    with pytest.raises(InputError, match="none is named 'default'"):
        load_template(tok)


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    with pytest.raises(InputError) as info:
        load_template("some-org/some-model")
    assert "some-org/some-model" in info.value.message
    assert "offline" in info.value.hint.lower()  # HF_HUB_OFFLINE or "offline"


def test_inline_text_and_template_objects():
    t = load_template("{{ messages[0].content }}!")
    assert t.render(MSGS) == "hi!"
    assert load_template(t) is t
    with pytest.raises(UsageError):
        load_template(42)
    assert isinstance(load_template("zephyr"), ChatTemplate)


def test_unknown_source():
    with pytest.raises(InputError, match="nope.jinja: no such chat template file"):
        load_template("./nope.jinja")
    with pytest.raises(UsageError, match="not a built-in name"):
        load_template("nope")
