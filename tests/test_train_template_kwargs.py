"""`trlprep train --template-kwarg KEY=VALUE` and `trlprep.train(template_kwargs=...)`: the
chat template gets them as `trlprep convert` gives them (a bos_token the tokenizer lacks,
a date_string), so train's ids are convert's; and `progress=False` hides transformers' bars
from Python as `--no-progress` does from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from trlprep.trainers.algorithms import get_algorithm  # noqa: E402
from trlprep.trainers.config import TrainConfig  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

from trlprep.cli.train_cmd import _specs, parse_args  # noqa: E402
from trlprep.errors import UsageError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "examples" / "tiny-chat-model"
LLAMA31 = ROOT.parent / "shared" / "data" / "chat_templates" / "llama3_1.jinja"
ROWS = [
    {"messages": [{"role": "user", "content": "what color is the sky ?"},
                  {"role": "assistant", "content": "blue"}]},
    {"messages": [{"role": "user", "content": "and the sun ?"},
                  {"role": "assistant", "content": "yellow"}]},
]  # fmt: skip
# Llama 3.1's template needs a bos_token the tiny tokenizer lacks; date_string is its own switch
KWARGS = {"bos_token": "<|begin_of_text|>", "date_string": "01 Jan 2025"}


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY)


@pytest.fixture()
def llama31():
    if not LLAMA31.is_file():
        pytest.skip("../shared (original chat templates) is absent")
    return str(LLAMA31)


def _sft(tok, template, logs=None, **options):
    a = get_algorithm("sft")
    return prepare(
        ROWS, a.layout, a.accepts, tok, algo="sft", options=a.make_options(options),
        chat_template=template, max_length=None, log=(logs or []).append,
        template_kwargs=KWARGS,
    )  # fmt: skip


def test_train_s_ids_are_convert_s_for_the_same_template_kwargs(tok, llama31):
    from realdata.support import original_render

    from trlprep.api import convert

    made = convert(
        ROWS, chat_template=llama31, tokenizer=tok, tokenize=True, template_kwargs=KWARGS
    )
    prepared = _sft(tok, llama31)
    assert prepared.rows["ids"] == [r["input_ids"] for r in made]
    text = tok.decode(prepared.rows["ids"][0])
    assert "Today Date: 01 Jan 2025" in text
    assert text == original_render("llama3_1", ROWS[0]["messages"], **KWARGS)


def test_assistant_masks_are_found_on_the_render_with_the_kwargs(tok, llama31):
    logs: list[str] = []
    prepared = _sft(tok, llama31, logs, assistant_only_loss=True)
    assert prepared.rejects is None, logs
    assert prepared.loss_on == "assistant messages"
    ids, mask = prepared.rows["ids"][0], prepared.rows["mask"][0]
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained.startswith("blue") and "sky" not in trained


def test_a_template_missing_a_token_names_the_template_kwarg(tok, llama31):
    a = get_algorithm("sft")
    with pytest.raises(UsageError) as e:
        prepare(
            ROWS, a.layout, a.accepts, tok, algo="sft", options=a.make_options({}),
            chat_template=llama31, max_length=None,
        )  # fmt: skip
    assert "uses bos_token" in e.value.message
    assert "--template-kwarg bos_token=TOKEN" in e.value.hint


def test_the_flag_is_spelt_and_parsed_as_convert_s():
    specs = _specs(None)
    got = parse_args(
        ["--template-kwarg", "enable_thinking=false", "--template-kwarg=bos_token=<s>"], specs
    )
    assert got == {"template_kwargs": {"enable_thinking": False, "bos_token": "<s>"}}
    with pytest.raises(UsageError) as e:
        parse_args(["--template-kwarg", "enable_thinking"], specs)
    assert e.value.message == "--template-kwarg 'enable_thinking' is not key=value"


def test_the_config_key_takes_a_mapping_of_names():
    base = {"algo": "sft", "model": "m", "data": "d", "output_dir": "o"}
    cfg = TrainConfig.from_any({**base, "template_kwargs": {"enable_thinking": False}})
    assert cfg.template_kwargs == {"enable_thinking": False}
    assert TrainConfig.from_any({**base, "template_kwargs": {}}).template_kwargs is None
    with pytest.raises(UsageError, match="template_kwargs"):
        TrainConfig.from_any({**base, "template_kwargs": ["enable_thinking=false"]})
    with pytest.raises(UsageError, match="'enable-thinking' is not a name"):
        TrainConfig.from_any({**base, "template_kwargs": {"enable-thinking": False}})


def test_the_cli_help_lists_the_flag_as_convert_spells_it():
    from typer.testing import CliRunner

    from trlprep.cli import app

    r = CliRunner().invoke(app, ["train", "--help"])
    assert r.exit_code == 0
    assert "  --template-kwarg " in r.output and "--template-kwargs" not in r.output


@pytest.mark.parametrize("progress", [False, True])
def test_progress_keyword_sets_transformers_bars_as_the_flag(monkeypatch, tmp_path, progress):
    import trlprep.trainers.loop as loop
    from transformers.utils import logging as hf_logging

    seen = []

    class Fake:
        def __init__(self, cfg, log, overwrite):
            pass

        def train(self):
            seen.append(hf_logging.is_progress_bar_enabled())

    monkeypatch.setattr(loop, "Trainer", Fake)
    assert hf_logging.is_progress_bar_enabled()
    loop.train(algo="sft", model="m", data="d", output_dir=str(tmp_path / "o"), progress=progress)
    assert seen == [progress]
    assert hf_logging.is_progress_bar_enabled()  # as it was before the run


def _tokenised(tmp_path, tok, template, **kwargs) -> Path:
    """`trlprep convert ROWS --chat-template T --tokenize [--template-kwarg ...]` as a file."""
    import json

    import pyarrow.parquet as pq

    from trlprep.api import convert

    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / f"tok{len(kwargs)}.parquet"
    made = convert(src, chat_template=template, tokenizer=tok, tokenize=True, **kwargs)
    pq.write_table(made, out)
    return out


def test_a_tokenised_file_records_its_kwargs_and_trains_only_with_them(tok, llama31, tmp_path):
    import pyarrow.parquet as pq

    from trlprep.templates.tokenrecord import read_record

    a = get_algorithm("sft")
    path = _tokenised(tmp_path, tok, llama31, template_kwargs=KWARGS)
    assert read_record(pq.read_schema(path))["chat_template"]["kwargs"] == KWARGS
    logs: list[str] = []
    given = prepare(
        str(path), a.layout, a.accepts, tok, algo="sft", options=a.make_options({}),
        chat_template=llama31, template_kwargs=KWARGS, max_length=None, log=logs.append,
    )  # fmt: skip
    assert any("token ids read from input_ids" in line for line in logs), logs
    assert given.rows["ids"] == _sft(tok, llama31).rows["ids"]
    other = {**KWARGS, "date_string": "02 Feb 2025"}
    with pytest.raises(UsageError) as e:
        prepare(
            str(path), a.layout, a.accepts, tok, algo="sft", options=a.make_options({}),
            template_kwargs=other, max_length=None,
        )  # fmt: skip
    assert "rendered with the template kwargs bos_token=<|begin_of_text|>" in e.value.message
    assert "date_string=02 Feb 2025 differ" in e.value.message
    assert "drop --template-kwarg" in e.value.hint


def test_kwargs_given_for_a_file_rendered_without_any_are_refused(tok, tmp_path):
    a = get_algorithm("sft")
    path = _tokenised(tmp_path, tok, "chatml")
    with pytest.raises(UsageError, match="rendered with the template kwargs none"):
        prepare(
            str(path), a.layout, a.accepts, tok, algo="sft", options=a.make_options({}),
            template_kwargs={"enable_thinking": False}, max_length=None,
        )  # fmt: skip


def test_the_command_trains_with_a_template_its_tokenizer_lacks_a_token_for(llama31, tmp_path):
    import json

    from typer.testing import CliRunner

    from trlprep.cli import app

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    args = ["train", "--algo", "sft", "--model", str(TINY), "--data", str(data),
            "--chat-template", llama31, "--max-steps", "1", "--no-progress"]  # fmt: skip
    refused = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "a")])
    assert refused.exit_code == 2 and "--template-kwarg bos_token=TOKEN" in refused.output
    out = tmp_path / "b"
    r = CliRunner().invoke(
        app, [*args, "--output-dir", str(out), "--template-kwarg", "bos_token=<|begin_of_text|>"]
    )
    assert r.exit_code == 0, r.output
    assert "trained 1 step" in r.output
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["template_kwargs"] == {"bos_token": "<|begin_of_text|>"}


def test_convert_s_assistant_masks_render_with_its_template_kwargs(tok, llama31):
    """Every row was refused ("renders otherwise alone") when the masks' render lacked them."""
    from trlprep.api import convert

    made = convert(
        ROWS, "language-modeling", chat_template=llama31, tokenizer=tok, tokenize=True,
        assistant_masks=True, template_kwargs=KWARGS,
    )  # fmt: skip
    ids, mask = made[0]["input_ids"], made[0]["assistant_masks"]
    assert tok.decode([i for i, m in zip(ids, mask, strict=True) if m]).startswith("blue")


STANDARD = [{"prompt": "what color is the sky ?", "completion": "blue"}]
UNREAD = (
    "--template-kwarg is read by no step of this run ({}prompt-completion, {}, trained on as "
    "it is), so it changes nothing: --template-kwarg applies to conversational data, rendered "
    "with the chat template (the model's own, or --chat-template)"
)


def test_template_kwargs_no_template_reads_are_said_as_convert_says_them(tok):
    """On standard text (or ids) no template renders anything: the kwargs went unused silently,
    while `trlprep convert` warns of an option no step reads."""
    from trlprep.api import convert

    a = get_algorithm("sft")

    def warned(data, training=True, **kw):
        logs: list[str] = []
        prepare(
            data, a.layout, a.accepts, tok, algo="sft", options=a.make_options({}),
            max_length=None, log=logs.append, training=training,
            template_kwargs={"enable_thinking": False}, **kw,
        )  # fmt: skip
        return [line for line in logs if "read by no step" in line]

    assert warned(STANDARD) == ["data: warning: " + UNREAD.format("", "standard text")]
    ids = convert(STANDARD, tokenizer=tok, tokenize=True)  # ids of text no template rendered
    assert warned(ids) == ["data: warning: " + UNREAD.format("", "standard text")]
    assert warned(ROWS) == []  # rendered with the tokenizer's template, which reads them
    assert warned(STANDARD, training=False) == []  # eval data beside conversational data


def test_the_command_and_the_api_warn_of_template_kwargs_on_standard_text(tmp_path, capsys):
    import json

    from trlprep.trainers import train
    from typer.testing import CliRunner

    from trlprep.cli import app

    data = tmp_path / "pc.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in STANDARD))
    args = ["train", "--algo", "sft", "--model", str(TINY), "--data", str(data), "--max-steps",
            "1", "--no-progress", "--template-kwarg", "enable_thinking=false"]  # fmt: skip
    r = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "cli")])
    assert r.exit_code == 0, r.output
    assert "data: warning: " + UNREAD.format(f"{data}: ", "standard text") in r.output
    capsys.readouterr()
    train(
        algo="sft", model=str(TINY), data=str(data), output_dir=str(tmp_path / "api"),
        max_steps=1, progress=False, template_kwargs={"enable_thinking": False},
    )  # fmt: skip
    said = "".join(capsys.readouterr())
    python = UNREAD.replace("--template-kwarg", "template_kwargs").replace("--chat-", "chat_")
    assert "data: warning: " + python.format(f"{data}: ", "standard text") in said, said
