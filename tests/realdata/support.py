"""Helpers for the real-data tests: run the CLI, read its output, render original templates."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared"
TEMPLATES = SHARED / "data" / "chat_templates"
SUMMARY = re.compile(
    r"([\d,]+) rows? in, ([\d,]+) rejected, ([\d,]+) converted -> ([\d,]+) rows? out"
)


# samples tokenised by the tests of token-id handling: realdata file -> convert options
TOKENISED = {
    "dpo_demo/dpo_en_demo.json": {"chat_template": "chatml"},
    "kto_demo/kto_en_demo.json": {"chat_template": "chatml"},
    "math_shepherd_openr/math-shepherd.jsonl": {},
    "prm800k_openr/prm800k.jsonl": {},
    "alpaca_demo/alpaca_en_demo.json": {},
    "hh_rlhf/harmless-base-test.sample.jsonl": {},
    "oasst_messages/en_100_message.first8.flat.jsonl": {"chat_template": "chatml"},
}
TINY_MODEL = str(HERE.parents[1] / "examples" / "tiny-chat-model")


def tokenised_samples(cuts, samples: dict | None = None) -> list[tuple[str, object]]:
    """(name, table) of each of `samples` (default `TOKENISED`) tokenised by the tiny model at
    each (max_length, truncation) of `cuts`; rows a cut empties are left out."""
    import warnings

    from trlprep.api import convert

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, options in (TOKENISED if samples is None else samples).items():
            for max_length, truncation in cuts:
                table = convert(
                    str(HERE / path), tokenizer=TINY_MODEL, tokenize=True, max_length=max_length,
                    truncation=truncation, on_error="skip", **options,
                )  # fmt: skip
                out.append((f"{path} {max_length} {truncation}", table))
    return out


def sample(name: str) -> Path:
    """The one data file of the sample folder `name` (SOURCE.md and LICENSE beside it)."""
    files = [p for p in (HERE / name).iterdir() if p.suffix in (".json", ".jsonl", ".txt")]
    assert len(files) == 1, files
    return files[0]


def run(*args: object):
    """`trlprep ARGS` in-process; `.exit_code`, `.output` (stdout and stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def train_one_step(algo: str, data: Path, out: Path, template: str = "qwen2_5_vl"):
    """`trlprep train --algo ALGO` for one step of 2 rows on the tiny model with an original
    `template`: (the result, the first metrics record: None where nothing was written)."""
    res = run(
        "train", "--algo", algo, "--model", TINY_MODEL, "--data", data,
        *original_template_args(template)[:2], "--output-dir", out, "--max-steps", 1,
        "--batch-size", 2, "--max-length", 256,
    )  # fmt: skip
    metrics = Path(out) / "metrics.jsonl"
    first = json.loads(metrics.read_text().splitlines()[0]) if metrics.exists() else None
    return res, first


def rows_of(path: Path) -> list[dict]:
    """The records of a JSON Lines, JSON or Parquet file, as Python dicts."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def counts(output: str) -> tuple[int, int, int, int]:
    """(rows in, rejected, converted, rows out) from a run's summary line; every row accounted."""
    found = SUMMARY.findall(output)
    assert found, f"no 'rows in / rejected / out' summary in:\n{output}"
    n_in, rejected, converted, n_out = (int(x.replace(",", "")) for x in found[-1])
    assert n_in == converted + rejected, output
    return n_in, rejected, converted, n_out


def template_file(name: str) -> Path:
    """The original chat template `name`.jinja from `../shared`, or a skip when it is absent."""
    path = TEMPLATES / f"{name}.jinja"
    if not path.is_file():
        pytest.skip("../shared (original chat templates) is absent")
    return path


def original_template_args(name: str) -> list[object]:
    """`--chat-template` with the original template `name` (a skip without `../shared`) and
    its model's bos/eos tokens as `--template-kwarg`s, as the renders compared with it need."""
    from templates_support import tokens_for

    bos, eos = tokens_for(name)
    args = ["--chat-template", template_file(name), "--template-kwarg", f"eos_token={eos}"]
    return args + (["--template-kwarg", f"bos_token={bos}"] if bos else [])


def original_render(template: str, messages: list[dict], **kwargs) -> str:
    """The model's ORIGINAL template (shared .jinja) rendered by transformers on `messages`."""
    path = TEMPLATES / f"{template}.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    return _tokenizer(path).apply_chat_template(messages, tokenize=False, **kwargs)


@functools.cache
def _tokenizer(path: Path):
    from templates_support import template_tokenizer

    return template_tokenizer(path)


# ---------------------------------------------------------------- real rows of two kinds


def without_nulls(messages: list[dict]) -> list[dict]:
    """`messages` without the keys held as null (keys other messages of a table have)."""
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


def records(src: Path) -> list[dict]:
    """The JSON records of a `.json` array or a JSON Lines file (blank lines between)."""
    text = src.read_text(encoding="utf-8")
    if src.suffix == ".json":
        return json.loads(text)
    decoder, at, out = json.JSONDecoder(), 0, []
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        record, at = decoder.raw_decode(text, at)
        out.append(record)
    return out


def _without(rows: list[dict], key: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k != key} for r in rows]


def mixed_rows(name: str) -> list[dict]:
    """Real rows of two kinds, the few of the second kind in the middle of the others, so
    that most chunks of a file of them hold none (a file of mixed sources):
    `lf_media`: LLaMA-Factory v1 text rows, 6 with images; `lf_calls`: the same text rows,
    5 with reasoning and tool_call parts and no `tools` column; `sg_calls`: ShareGPT chats
    (FastChat), 4 Glaive rows with function_call turns and no `tools` column; `media`: TRL
    messages (KTO demo's, label left out), LLaMA-Factory's 6 `<image>` rows with `images`."""
    lf = HERE / "llamafactory_v1"
    sft = records(lf / "v1_sft_demo.first100.jsonl")
    if name == "lf_media":
        return sft[:30] + records(lf / "v1_multimodal_demo.jsonl")[:6] + sft[30:60]
    if name == "lf_calls":
        calls = _without(records(lf / "reason_tool_use_demo.first20.jsonl")[:5], "tools")
        return sft[:30] + calls + sft[30:60]
    if name == "sg_calls":
        chat = _without(records(HERE / "fastchat_dummy/dummy_conversation.json"), "id")
        glaive = records(HERE / "glaive_toolcall/glaive_toolcall_en_demo.json")
        calls = [r for r in glaive if "function_call" in str(r["conversations"])]
        return chat[:40] + _without(calls[:4], "tools") + chat[40:80]
    if name == "media":
        chat = [{"messages": r["messages"]} for r in records(HERE / "kto_demo/kto_en_demo.json")]
        return chat[:20] + records(HERE / "mllm_demo/mllm_demo.json") + chat[20:40]
    raise KeyError(name)


def mixed_file(name: str, folder: Path) -> Path:
    """`mixed_rows(name)` written as `folder/NAME.jsonl`."""
    out = folder / f"{name}.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in mixed_rows(name)))
    return out
