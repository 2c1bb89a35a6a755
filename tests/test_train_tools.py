"""`trlprep train --tools FILE` and `trlprep.train(tools=...)`: tool schemas given to the chat
template for every row without its own, as `trlprep convert --tools` gives them; tokenised
files record them and refuse other tools; and the chat template saved with a trained model
carries the run's template kwargs as its defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from trlprep.trainers.algorithms import get_algorithm  # noqa: E402
from trlprep.trainers.config import TrainConfig  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

from trlprep.cli.train_cmd import _specs, parse_args  # noqa: E402
from trlprep.errors import InputError, UsageError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "examples" / "tiny-chat-model"
TEMPLATES = ROOT.parent / "shared" / "data" / "chat_templates"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SEARCH = {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}
ROWS = [
    {"messages": [{"role": "user", "content": "weather in Paris?"},
                  {"role": "assistant", "content": "sunny"}]},
    {"messages": [{"role": "user", "content": "and in Rome?"},
                  {"role": "assistant", "content": "rainy"}],
     "tools": [SEARCH]},  # its own tools: --tools does not replace them
]  # fmt: skip
BASE = {"algo": "sft", "model": "m", "data": "d", "output_dir": "o"}


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY)


def _template(name: str) -> str:
    path = TEMPLATES / f"{name}.jinja"
    if not path.is_file():
        pytest.skip("../shared (original chat templates) is absent")
    return str(path)


def _tools_file(tmp_path: Path, tools: list, name: str = "tools.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tools))
    return path


def _sft(data, tok, template, logs=None, **kw):
    a = get_algorithm("sft")
    return prepare(
        data, a.layout, a.accepts, tok, algo="sft", options=a.make_options({}),
        chat_template=template, max_length=None, log=(logs if logs is not None else []).append,
        **kw,
    )  # fmt: skip


# ---------------------------------------------------------------- the flag and the key


def test_the_flag_is_spelt_and_read_as_convert_s(tmp_path):
    assert parse_args(["--tools", "t.json"], _specs(None)) == {"tools": "t.json"}
    path = _tools_file(tmp_path, [WEATHER])
    cfg = TrainConfig.from_any({**BASE, "tools": str(path)})
    assert cfg.tool_schemas() == [WEATHER]
    assert cfg.to_json()["tools"] == [WEATHER]  # train_config.json: the schemas themselves
    one = _tools_file(tmp_path, WEATHER, "one.json")  # one schema, as convert reads it
    assert TrainConfig.from_any({**BASE, "tools": str(one)}).tool_schemas() == [WEATHER]
    assert TrainConfig.from_any({**BASE, "tools": [WEATHER]}).tool_schemas() == [WEATHER]


def test_a_bad_tools_file_is_refused_as_convert_refuses_it(tmp_path):
    from trlprep.templates.options import load_tools

    missing = tmp_path / "none.json"
    with pytest.raises(InputError) as e:
        TrainConfig.from_any({**BASE, "tools": str(missing)})
    assert e.value.message == f"{missing}: no such tools file" and e.value.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text('["get_weather"]')
    with pytest.raises(InputError) as e:
        TrainConfig.from_any({**BASE, "tools": str(bad)})
    with pytest.raises(InputError) as same:
        load_tools(str(bad))
    assert (
        e.value.message == same.value.message == f"{bad}: tools must be a JSON list of tool schemas"
    )
    with pytest.raises(UsageError, match="tools must be a list of tool schemas") as e:
        TrainConfig.from_any({**BASE, "tools": ["get_weather"]})
    assert "tools=[" in e.value.hint


def test_the_help_lists_the_flag_and_the_key():
    from trlprep.trainers import train
    from typer.testing import CliRunner

    from trlprep.cli import app

    r = CliRunner().invoke(app, ["train", "--help"])
    assert r.exit_code == 0 and "  --tools " in r.output
    assert "    tools: Tool schemas (a list, or a JSON file's path)" in train.__doc__


# ---------------------------------------------------------------- rendering


def test_train_s_ids_are_convert_s_for_the_same_tools(tok):
    from trlprep.api import convert

    qwen = _template("qwen2_5")
    logs: list[str] = []
    prepared = _sft(ROWS, tok, qwen, logs, tools=[WEATHER])
    made = convert(ROWS, chat_template=qwen, tokenizer=tok, tokenize=True, tools=[WEATHER])
    assert prepared.rows["ids"] == [r["input_ids"] for r in made]
    first, second = (tok.decode(ids) for ids in prepared.rows["ids"])
    assert '"get_weather"' in first and '"search"' not in first
    assert '"search"' in second and '"get_weather"' not in second  # the row's own
    assert any(
        "(chat template applied with 1 tool (get_weather) for rows without their own)" in line
        for line in logs
    ), logs


def test_assistant_masks_render_with_the_tools(tok):
    """The masks' render gets the tools too (without them no row renders the same)."""
    prepared = _sft(ROWS, tok, _template("qwen2_5"), tools=[WEATHER])
    a = get_algorithm("sft")
    masked = prepare(
        ROWS, a.layout, a.accepts, tok, algo="sft", max_length=None, tools=[WEATHER],
        options=a.make_options({"assistant_only_loss": True}), chat_template=_template("qwen2_5"),
    )  # fmt: skip
    assert masked.rejects is None and masked.rows["ids"] == prepared.rows["ids"]
    ids, mask = masked.rows["ids"][0], masked.rows["mask"][0]
    assert tok.decode([i for i, m in zip(ids, mask, strict=True) if m]).startswith("sunny")


def test_tools_on_standard_text_are_said_unread(tok):
    logs: list[str] = []
    _sft([{"prompt": "hi", "completion": "there"}], tok, None, logs, tools=[WEATHER])
    assert any(
        line.startswith("data: warning: --tools is read by no step of this run") for line in logs
    ), logs


# ---------------------------------------------------------------- tokenised files


def _rows_file(tmp_path) -> Path:
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return src


def _tokenised(tmp_path, tok, template, **kwargs) -> Path:
    import pyarrow.parquet as pq

    from trlprep.api import convert

    src = _rows_file(tmp_path)
    out = tmp_path / f"tok{len(kwargs)}.parquet"
    pq.write_table(
        convert(src, chat_template=template, tokenizer=tok, tokenize=True, **kwargs), out
    )
    return out


def test_a_tokenised_file_records_its_tools_and_trains_only_with_them(tok, tmp_path):
    import pyarrow.parquet as pq

    from trlprep.templates.tokenrecord import read_record

    qwen = _template("qwen2_5")
    path = _tokenised(tmp_path, tok, qwen, tools=[WEATHER])
    assert read_record(pq.read_schema(path))["chat_template"]["tools"] == [WEATHER]
    logs: list[str] = []
    given = _sft(str(path), tok, None, logs)
    assert given.rows["ids"] == _sft(ROWS, tok, qwen, tools=[WEATHER]).rows["ids"]
    assert any(
        "its text was rendered by qwen2_5.jinja with 1 tool (get_weather) for rows without "
        "their own (as the file records)" in line
        for line in logs
    ), logs
    assert _sft(str(path), tok, None, tools=[WEATHER]).rows["ids"] == given.rows["ids"]
    other = _tools_file(tmp_path, [SEARCH], "other tools.json")
    with pytest.raises(UsageError) as e:
        _sft(str(path), tok, None, tools=str(other))
    assert e.value.message == (
        f"{path}: its text was rendered with 1 tool (get_weather); this run's --tools {other} "
        "gives 1 tool (search) instead, and rendered text cannot be rendered again"
    )
    assert f"`trlprep convert ... --tools '{other}' --tokenize`" in e.value.hint
    assert "drop --tools" in e.value.hint


def test_tools_given_for_a_file_rendered_without_any_are_refused(tok, tmp_path):
    path = _tokenised(tmp_path, tok, _template("qwen2_5"))
    with pytest.raises(UsageError, match="rendered with no tools; this run's --tools gives 1"):
        _sft(str(path), tok, None, tools=[WEATHER])


# ---------------------------------------------------------------- the saved template


def test_jinja_literals_read_back_as_the_values():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from trlprep.templates.kwargdefaults import jinja_literal

    env = ImmutableSandboxedEnvironment()
    for value in ['a "b" \\ c\n\té😀 {{x}}', 1.5, -3, None, True, [1, {"k": None}], {"a": [False]}]:
        got = env.from_string(f"{{% set y = {jinja_literal(value)} %}}{{{{ y | tojson }}}}")
        assert json.loads(got.render()) == value


def _saved(tmp_path, template, kwargs, logs=None):
    """The tiny tokenizer given `template` rendered with `kwargs`, saved and loaded back."""
    from transformers import AutoTokenizer
    from trlprep.trainers.saved_template import keep_chat_template

    tok = AutoTokenizer.from_pretrained(TINY)
    keep_chat_template(tok, template, kwargs, None, (logs if logs is not None else []).append)
    tok.save_pretrained(tmp_path / "saved")
    return AutoTokenizer.from_pretrained(tmp_path / "saved")


def test_the_saved_template_renders_alone_as_the_data_was_rendered(tmp_path):
    """Llama 3.1's template needs a bos_token the tiny tokenizer lacks: saved without the
    kwargs, transformers rendered it with an empty one and today's date."""
    from realdata.support import original_render

    from trlprep.templates.sources import load_template

    kwargs = {"bos_token": "<|begin_of_text|>", "date_string": "01 Jan 2025"}
    logs: list[str] = []
    saved = _saved(tmp_path, _template("llama3_1"), kwargs, logs)
    messages = ROWS[0]["messages"]
    want = original_render("llama3_1", messages, tools=[WEATHER], **kwargs)
    assert saved.apply_chat_template(messages, tools=[WEATHER], tokenize=False) == want
    later = {**kwargs, "date_string": "02 Feb 2025"}  # a caller's own kwarg still wins
    got = saved.apply_chat_template(messages, tokenize=False, date_string="02 Feb 2025")
    assert got == original_render("llama3_1", messages, **later)
    # trlprep reads the saved template back: the folder, and its .jinja file alone
    rows = [{"messages": messages}]
    for src in (tmp_path / "saved", tmp_path / "saved" / "chat_template.jinja"):
        from trlprep.api import convert

        assert convert(rows, chat_template=str(src))[0]["text"] == original_render(
            "llama3_1", messages, **kwargs
        )
        assert load_template(str(src)).source.endswith(Path(_template("llama3_1")).read_text())
    assert logs == [
        "note: the chat template saved with the model renders with the template kwargs "
        "bos_token=<|begin_of_text|>, date_string=01 Jan 2025 unless told otherwise, as the data "
        "was rendered (transformers keeps no template kwargs beside a tokenizer, so they are "
        "written into the template as its defaults; a caller's own kwargs still win over them, "
        "special tokens excepted)"
    ]


def test_a_thinking_switch_is_a_default_the_caller_may_turn(tmp_path):
    from realdata.support import original_render

    saved = _saved(tmp_path, _template("qwen3"), {"enable_thinking": False})
    prompt = [{"role": "user", "content": "hi"}]
    for kw in ({}, {"enable_thinking": True}):
        got = saved.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True, **kw)
        want = original_render(
            "qwen3", prompt, add_generation_prompt=True, **{"enable_thinking": False, **kw}
        )
        assert got == want
    assert "<think>\n\n</think>" in saved.apply_chat_template(
        prompt, tokenize=False, add_generation_prompt=True
    )


def test_the_tokenizer_s_own_template_gets_the_kwargs_too(tmp_path):
    from transformers import AutoTokenizer

    own = AutoTokenizer.from_pretrained(TINY).chat_template
    saved = _saved(tmp_path, None, {"date_string": "x"})
    assert saved.chat_template.endswith(own) and saved.chat_template != own
    assert _saved(tmp_path, None, None).chat_template == own  # nothing to carry: as it was


def test_the_command_saves_the_kwargs_and_says_what_it_rendered_with(tmp_path):
    from typer.testing import CliRunner

    from trlprep.cli import app

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    tools = _tools_file(tmp_path, [WEATHER])
    out = tmp_path / "o"
    r = CliRunner().invoke(app, [
        "train", "--algo", "sft", "--model", str(TINY), "--data", str(data), "--max-steps", "1",
        "--no-progress", "--chat-template", _template("qwen3"), "--output-dir", str(out),
        "--template-kwarg", "enable_thinking=false", "--tools", str(tools),
    ])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "data: language-modeling (chat template applied with template kwargs "
        "enable_thinking=false and 1 tool (get_weather) for rows without their own)"
    ) in r.output
    assert (
        "note: the chat template saved with the model holds no tools: pass the 1 tool "
        "(get_weather) the data was rendered with at inference"
    ) in r.output
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["tools"] == [WEATHER] and saved["template_kwargs"] == {"enable_thinking": False}
    text = (out / "chat_template.jinja").read_text()
    assert text.startswith("{%- if enable_thinking is not defined %}")


def test_a_tokenised_file_s_recorded_kwargs_are_saved_with_the_model(tmp_path):
    """Trained on `convert --tokenize --template-kwarg enable_thinking=false` output with no
    --template-kwarg (the file's are used): the saved template carried none."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from trlprep.api import convert
    from trlprep.cli import app

    qwen3 = _template("qwen3")
    data = tmp_path / "tok.parquet"
    kwargs = {"enable_thinking": False}
    pq.write_table(
        convert(_rows_file(tmp_path), chat_template=qwen3, tokenizer=str(TINY), tokenize=True,
                template_kwargs=kwargs),
        data,
    )  # fmt: skip
    out = tmp_path / "o"
    r = CliRunner().invoke(app, [
        "train", "--algo", "sft", "--model", str(TINY), "--data", str(data), "--max-steps", "1",
        "--no-progress", "--chat-template", qwen3, "--output-dir", str(out),
    ])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "its text was rendered by qwen3.jinja with template kwargs enable_thinking=false" in (
        r.output
    )
    assert "renders with the template kwargs enable_thinking=false unless" in r.output
    assert "warning" not in r.output
    from realdata.support import original_render
    from transformers import AutoTokenizer

    prompt = [{"role": "user", "content": "hi"}]
    saved = AutoTokenizer.from_pretrained(out)
    got = saved.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    assert got == original_render("qwen3", prompt, add_generation_prompt=True, **kwargs)


def test_a_file_rendered_by_another_template_than_the_saved_one_is_said(tmp_path):
    from transformers import AutoTokenizer
    from trlprep.trainers.saved_template import keep_chat_template

    tok = AutoTokenizer.from_pretrained(TINY)
    own = tok.chat_template
    logs: list[str] = []
    made = {"name": "qwen3.jinja", "sha256": "0123456789abcdef"}
    keep_chat_template(tok, None, None, [WEATHER], logs.append, made)
    assert tok.chat_template == own
    assert logs == [
        "warning: the data's text was rendered by qwen3.jinja (as its file records), and the "
        f"model is saved with {TINY}'s chat template: pass --chat-template qwen3.jinja (the "
        "file it was rendered with) to save that one",
        "note: the chat template saved with the model holds no tools: pass the 1 tool "
        "(get_weather) the data was rendered with at inference, as the rows without their "
        "own got them",
    ]


def test_the_convert_command_named_for_dropped_rows_gives_the_tools(tok, tmp_path):
    from trlprep.trainers.convert_command import convert_command

    file = tmp_path / "my t.json"
    said = convert_command("d.jsonl", tok, to=None, max_length=8, tools=str(file))
    assert f"--tools '{file}' --max-length 8" in said
    listed = convert_command("d.jsonl", tok, to=None, max_length=8, tools=[WEATHER])
    assert "--tools TOOLS.json" in listed


def test_the_kwargs_refusal_quotes_the_values_it_names(tok, tmp_path):
    """`--template-kwarg date_string=02 Feb 2025` unquoted read as three arguments."""
    path = _tokenised(tmp_path, tok, _template("qwen2_5"))
    with pytest.raises(UsageError) as e:
        _sft(str(path), tok, None, template_kwargs={"date_string": "02 Feb 2025"})
    assert "--template-kwarg 'date_string=02 Feb 2025' --tokenize`" in e.value.hint
