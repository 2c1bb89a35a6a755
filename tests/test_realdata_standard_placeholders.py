"""Standard (string) text that holds `<image>` placeholders beside an `images` column: no
template renders standard text and TRL gives it to the processor as it is, so validate warns
(`media-standard-text`), convert and the Python API say so and name the conversion that makes
it conversational. LLaMA-Factory's real `mllm_demo` rows, each first question and answer
taken as a standard prompt and completion (their `<image>` placeholders as written)."""

from __future__ import annotations

import json
import warnings

from realdata.support import counts, rows_of, run, sample

import trlprep

MLLM = sample("mllm_demo")  # 6 rows, `<image>` in string content, `images`


def _standard(tmp_path):
    path = tmp_path / "standard.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in json.loads(MLLM.read_text(encoding="utf-8")):
            prompt, answer = r["messages"][0]["content"], r["messages"][1]["content"]
            images = r["images"][: prompt.count("<image>")]
            f.write(json.dumps({"prompt": prompt, "completion": answer, "images": images}) + "\n")
    return path


def test_validate_warns_that_standard_text_renders_no_image(tmp_path):
    res = run("validate", _standard(tmp_path))
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "warning: media-standard-text: 6 rows" in said
    assert "TRL's trainers give it to the processor as it is" in said
    assert "hint media-standard-text: pass --conversational" in said


def test_convert_says_so_and_conversational_places_the_images(tmp_path):
    src = _standard(tmp_path)
    res = run("convert", src, "-o", tmp_path / "out.jsonl")
    said = " ".join(res.output.split())
    assert res.exit_code == 0 and counts(res.output) == (6, 0, 6, 6)
    assert "6 rows (lines 1, 2, 3, 4, 5 (and 1 more)): standard (string) text holds" in said
    assert "pass --conversational" in said
    out = tmp_path / "conv.jsonl"
    res = run("convert", src, "--conversational", "-o", out)
    assert res.exit_code == 0 and "standard (string) text holds" not in res.output
    first = rows_of(out)[0]["prompt"][0]["content"]
    assert first[0] == {"type": "image"} and first[1]["text"] == "Who are they?"


def test_plain_text_gets_no_conversational_advice(tmp_path):
    path = tmp_path / "lm.jsonl"
    path.write_text(json.dumps({"text": "<image>Who are they?", "images": ["1.jpg"]}) + "\n")
    said = " ".join(run("validate", path).output.split())
    assert "plain text (language modeling) has no turns to make messages of" in said
    assert "hint media-standard-text: pass --conversational" not in said


def test_the_python_api_warns_in_keyword_arguments(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.convert(str(_standard(tmp_path)))
    said = [str(w.message) for w in caught if "standard (string) text holds" in str(w.message)]
    assert said and "conversational=True" in said[0] and "--conversational" not in said[0]
