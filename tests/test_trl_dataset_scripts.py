"""TRL's dataset scripts (`examples/datasets/*.py` at v0.17.0) as one trlprep command each:
the rows each script makes (its few lines restated here: the scripts are not part of the
installed `trl` package) against what the README's command writes."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trlprep.cli import app

REAL = Path(__file__).parent / "realdata"
UF = REAL / "ultrafeedback_readme" / "ultrafeedback.jsonl"
HH = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------ ultrafeedback.py


def trl_ultrafeedback(rows: list[dict], model_name: str, aspect: str) -> list[dict]:
    """ultrafeedback.py: rows of `model_name` only, label = int(Rating) >= 5."""
    out = []
    for ex in rows:
        if model_name not in ex["models"]:
            continue
        i = ex["models"].index(model_name)
        score = int(ex["completions"][i]["annotations"][aspect]["Rating"])
        out.append(
            {
                "prompt": [{"role": "user", "content": ex["instruction"]}],
                "completion": [{"role": "assistant", "content": ex["completions"][i]["response"]}],
                "label": score >= 5,
            }
        )
    return out


def _uf_command(src: Path, out: Path, model: str, aspect: str, *more: str):
    pick = f"completions[model={model}]"
    return _run(
        "convert", src, "--from", "ranked", "--threshold", "5", "--conversational",
        "--map", f"completions={pick},scores={pick}.annotations.{aspect}.Rating",
        "-o", out, *more,
    )  # fmt: skip


def _read(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist() if path.suffix == ".parquet" else _rows(path)


@pytest.mark.parametrize(
    "model, aspect",
    [
        ("gpt-3.5-turbo", "helpfulness"),
        ("gpt-3.5-turbo", "truthfulness"),
        ("gpt-3.5-turbo", "instruction_following"),
        ("gpt-4", "helpfulness"),
        ("falcon-40b-instruct", "honesty"),
    ],
)
def test_ultrafeedback_rows_as_trl_script(tmp_path, model, aspect):
    out = tmp_path / "uf.jsonl"
    res = _uf_command(UF, out, model, aspect)
    assert res.exit_code == 0, res.output
    got = [{k: r[k] for k in ("prompt", "completion", "label")} for r in _read(out)]
    want = trl_ultrafeedback(_rows(UF), model, aspect)
    assert got == want and want
    # rows without the model are left out as not paired (TRL's filter), no error
    left = sum(model not in r["models"] for r in _rows(UF))
    assert f"{left} x not paired: no completion whose model is {model!r}" in res.output


def test_ultrafeedback_na_rating_is_a_reported_row_where_trl_crashes(tmp_path):
    rows = _rows(UF)
    with pytest.raises(ValueError, match="N/A"):
        trl_ultrafeedback(rows, "gpt-3.5-turbo", "honesty")
    out = tmp_path / "uf.jsonl"
    res = _uf_command(UF, out, "gpt-3.5-turbo", "honesty")
    assert res.exit_code == 1
    assert "ultrafeedback.jsonl:3" in res.output and "a score is 'N/A', no number" in res.output
    assert not out.exists()
    res = _uf_command(UF, out, "gpt-3.5-turbo", "honesty", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    kept = [r for r in rows if r["instruction"] != rows[2]["instruction"]]
    got = [{k: r[k] for k in ("prompt", "completion", "label")} for r in _read(out)]
    assert got == trl_ultrafeedback(kept, "gpt-3.5-turbo", "honesty")
    rejects = _rows(tmp_path / "uf.rejects.jsonl")
    assert [(r["line"], r["stage"]) for r in rejects] == [(1, "not paired"), (3, "import")]


def test_ultrafeedback_aspect_names_are_the_datas(tmp_path):
    # TRL's --aspect choice `instruction-following` is no key of the data: its script fails
    with pytest.raises(KeyError):
        trl_ultrafeedback(_rows(UF), "gpt-4", "instruction-following")
    res = _uf_command(UF, tmp_path / "uf.jsonl", "gpt-4", "instruction-following")
    assert res.exit_code == 2
    assert "holds no field 'instruction-following'" in res.output
    assert "its fields: instruction_following, honesty, truthfulness, helpfulness" in res.output


def test_ultrafeedback_every_model_one_row_per_completion(tmp_path):
    out = tmp_path / "uf.jsonl"
    res = _run(
        "convert", UF, "--from", "ranked", "--threshold", "5", "--conversational",
        "--map", "scores=completions.annotations.helpfulness.Rating", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = _read(out)
    want = [
        {
            "completion": [{"role": "assistant", "content": c["response"]}],
            "label": int(c["annotations"]["helpfulness"]["Rating"]) >= 5,
            "models": c["model"],  # the models list, one entry per completion: split with them
        }
        for r in _rows(UF)
        for c in r["completions"]
    ]
    assert [{k: r[k] for k in ("completion", "label", "models")} for r in got] == want


def test_ultrafeedback_overall_score_pairs_without_a_map(tmp_path):
    # the ranked layout reads UltraFeedback's own overall_score (best-vs-worst: one pair a row)
    out = tmp_path / "pairs.jsonl"
    res = _run(
        "convert", UF, "--from", "ranked", "--pairing", "best-vs-worst", "--conversational",
        "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = _read(out)
    for row, pair in zip(_rows(UF), got, strict=True):
        scores = [c["overall_score"] for c in row["completions"]]
        best = row["completions"][scores.index(max(scores))]["response"]
        worst = row["completions"][scores.index(min(scores))]["response"]
        assert pair["chosen"][0]["content"] == best and pair["rejected"][0]["content"] == worst


def test_detect_names_the_aspect_maps():
    said = " ".join(_run("detect", UF).output.split())
    assert "rated per aspect (instruction_following, honesty, truthfulness, helpfulness)" in said
    pick = "completions[model=M]"
    assert f"--map completions={pick},scores={pick}.annotations.helpfulness.Rating" in said


# ------------------------------------------------------------------ ultrafeedback-prompt.py


def test_ultrafeedback_prompt_rows_as_trl_script(tmp_path):
    out = tmp_path / "prompts.jsonl"
    res = _run(
        "convert", UF, "--from", "map", "--map", "prompt=instruction", "--conversational",
        "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "map -> prompt-only (conversational): 3 rows in, 0 rejected" in res.output
    want = [[{"role": "user", "content": r["instruction"]}] for r in _rows(UF)]
    assert [r["prompt"] for r in _read(out)] == want
    # the script then keeps prompts of at most 512 characters: trlprep keeps every row
    assert all(len(p[0]["content"]) <= 512 for p in want)


# ------------------------------------------------------------------ rlaif-v.py

_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


def _rlaif_v(path: Path) -> list[dict]:
    """Rows in openbmb/RLAIF-V-Dataset's layout (written for the test: the data is CC BY-NC);
    `image` as the Hub's Parquet holds an image: {bytes, path}."""
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    rows = {
        "ds_name": ["RLAIF-V", "RLAIF-V", "RLAIF-V"],
        "image": pa.array(
            [{"bytes": _PNG, "path": None}, {"bytes": _PNG, "path": "b.jpg"}, None], image
        ),
        "question": ["What is in the image?", "Describe the color.", "Is it daytime?"],
        "chosen": ["A red square.", "It is red.", "Yes."],
        "rejected": ["A cat.", "It is green.", "No, it is night."],
        "origin_dataset": ["OK-VQA", "VQAv2", "VQAv2"],
        "origin_split": ['{"model": "OmniLMM-12B"}'] * 3,
        "idx": ["OK-VQA_1", "VQAv2_2", "VQAv2_3"],
        "image_path": ["a.jpg", "b.jpg", "c.jpg"],
    }
    pq.write_table(pa.table(rows), path)
    return pa.table(rows).to_pylist()


def trl_rlaif_v(example: dict) -> dict:
    """rlaif-v.py's to_conversational."""
    return {
        "prompt": [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": example["question"]}],
            }
        ],
        "images": [example["image"]],
        "chosen": [{"role": "assistant", "content": [{"type": "text", "text": example["chosen"]}]}],
        "rejected": [
            {"role": "assistant", "content": [{"type": "text", "text": example["rejected"]}]}
        ],
    }


def _no_nulls(value):
    """A value with its null struct fields left out (Arrow gives every part all fields)."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def test_rlaif_v_rows_as_trl_script(tmp_path):
    src, out = tmp_path / "rlaif-v.parquet", tmp_path / "out.parquet"
    rows = _rlaif_v(src)
    res = _run(
        "convert", src, "--map", "prompt=question,images=image", "--conversational", "-o", out
    )
    assert res.exit_code == 0, res.output
    got = pq.read_table(out).to_pylist()
    for row, mine in zip(rows, got, strict=True):
        want = trl_rlaif_v(row)
        if row["image"] is None:  # TRL: an image part, `images` [None]; trlprep: text only, null
            want["prompt"][0]["content"] = want["prompt"][0]["content"][1:]
            want["images"] = None
        for k in ("prompt", "chosen", "rejected", "images"):
            assert _no_nulls(mine[k]) == _no_nulls(want[k])


def test_rlaif_v_image_without_map_stays_one_image(tmp_path):
    src, out = tmp_path / "rlaif-v.parquet", tmp_path / "out.parquet"
    _rlaif_v(src)
    res = _run("convert", src, "--map", "prompt=question", "--conversational", "-o", out)
    assert res.exit_code == 0, res.output
    table = pq.read_table(out)
    assert "image" in table.column_names and "images" not in table.column_names


# ------------------------------------------------------------------ hh-rlhf-helpful-base.py


def _common_start(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def trl_hh(example: dict) -> dict:
    """hh-rlhf-helpful-base.py's extract_dialogue."""
    cut = "\n\nAssistant: "
    prompt_text = _common_start(example["chosen"], example["rejected"])
    if not prompt_text.endswith(cut):
        prompt_text = prompt_text[: prompt_text.rfind(cut)] + cut
    chosen = example["chosen"][len(prompt_text) :]
    rejected = example["rejected"][len(prompt_text) :]
    lines = re.split(r"(\n\nAssistant: |\n\nHuman: )", prompt_text[: -len(cut)])[1:]
    prompt = [
        {"role": "user" if lines[i] == "\n\nHuman: " else "assistant", "content": lines[i + 1]}
        for i in range(0, len(lines), 2)
    ]
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


def _transcript(messages: list[dict]) -> str:
    """Messages written back as one HH answer: the first one's text, then each turn after
    its marker."""
    marks = {"user": "\n\nHuman: ", "assistant": "\n\nAssistant: "}
    rest = "".join(marks[m["role"]] + m["content"] for m in messages[1:])
    return messages[0]["content"] + rest


def test_hh_rows_as_trl_script(tmp_path):
    out = tmp_path / "hh.jsonl"
    res = _run("convert", HH, "--from", "hh", "--to", "preference", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    rejected = {r["line"] for r in _rows(tmp_path / "hh.rejects.jsonl")}
    rows = [r for i, r in enumerate(_rows(HH), 1) if i not in rejected]
    got = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in _read(out)]
    split = 0
    for mine, row in zip(got, rows, strict=True):
        want = trl_hh(row)
        assert mine["prompt"] == want["prompt"]
        for side in ("chosen", "rejected"):
            if mine[side] == want[side]:
                continue
            # an answer of several turns: TRL keeps one message holding the raw markers,
            # trlprep one message per turn; written back, they are the same text
            (text,) = [m["content"] for m in want[side]]
            assert len(mine[side]) > 1 and "\n\nAssistant: " in text
            assert _transcript(mine[side]) == text
            split += 1
    assert split == 5  # of 159 rows
    # the rows left out are those whose final Assistant turn is empty (TRL keeps them: an
    # empty answer, trained on as such)
    assert rejected and all(
        r["chosen"].endswith("Assistant: ") or r["rejected"].endswith("Assistant: ")
        for i, r in enumerate(_rows(HH), 1)
        if i in rejected
    )


# ------------------------------------------------------------------ lm-human-preferences-*.py


def test_lm_human_preferences_token_ids_are_refused_with_the_way_out(tmp_path):
    src = tmp_path / "offline_5k.json"
    ids = {"query": [464, 3290], "sample0": [257, 1180], "sample1": [257, 1180]}
    src.write_text(json.dumps([{**ids, "sample2": [290], "sample3": [13], "best": 2}]))
    res = _run("detect", src)
    assert "hold token ids" in res.output and "lm-human-preferences" in res.output
    res = _run("convert", src, "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 1
    assert "decode them first with the tokenizer that made them (GPT-2)" in res.output


# ------------------------------------------------------------------ the README's table


def test_readme_quotes_the_commands_tested_here():
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    pick = "completions[model=M]"
    for command in (
        "trlprep convert uf.jsonl --from ranked --threshold 5 --conversational --map "
        f'"completions={pick},scores={pick}.annotations.A.Rating" -o out.parquet',
        "trlprep convert uf.jsonl --from map --map prompt=instruction --conversational "
        "-o prompts.parquet",
        "trlprep convert rlaif-v.parquet --map prompt=question,images=image --conversational "
        "-o out.parquet",
        "trlprep convert hh.jsonl --from hh --to preference -o out.parquet",
        "--map scores=completions.annotations.A.Rating",
        "a score is 'N/A', no number",
    ):
        assert command in readme, command


def test_rlaif_v_rejected_row_with_image_bytes_is_written_without_a_panic(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "rlaif-v.parquet"
    _rlaif_v(src)
    table = pq.read_table(src)
    chosen = pa.array([None, "It is red.", "Yes."], pa.string())
    pq.write_table(table.set_column(table.column_names.index("chosen"), "chosen", chosen), src)
    out = tmp_path / "out.parquet"
    res = subprocess.run(
        [sys.executable, "-m", "trlprep", "convert", str(src), "--map",
         "prompt=question,images=image", "--conversational", "-o", str(out),
         "--on-error", "skip"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "panicked" not in res.stderr and "3 rows in, 1 rejected" in res.stderr + res.stdout
    (reject,) = _rows(tmp_path / "out.rejects.jsonl")
    assert reject["record"]["question"] == "What is in the image?"
