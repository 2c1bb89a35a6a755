"""`--engine ray` gives the local engine's results on today's features, byte for byte:
`--assistant-masks` (language modeling, prompt-completion), `--inline-media move` on mixed
string/part-list content, the unused `--role-map` key refused, the answer-only-file hint, CSV
rows every one refused while read with `--map ... --coerce`, images given with no
placeholder placed (and said beside standard text), `--chat-template` on text rendered already
refused as such, a folder of one shard naming its file as a folder of several does, a `label`
of reference answers said to be no true/false label in every block (and, every row refused,
no type detected of the blocks the import refused whole). Each case
runs the CLI with both engines on the session's local Ray instance (`ray_support`) and
compares the output file (Ray's one shard), the rejects file, the exit code and the
messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from realdata.support import records  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

HERE = Path(__file__).parent
REAL = HERE / "realdata"
TINY = HERE.parent / "examples" / "tiny-chat-model"
ANSWERS = REAL / "arena_hard_answers" / "gpt-4-0613.sample.jsonl"
INLINE = REAL / "xtuner_inline_media" / "qwen35_tokenize_data.lines13-16.jsonl"
TOOLCALLS = REAL / "xtuner_qwen35_toolcalls" / "qwen35_tokenize_data.first12.jsonl"
TOOLBENCH = REAL / "toolbench_trajectories" / "toolbench_train_messages.jsonl"
FUNCTIONARY = REAL / "functionary_test_cases" / "test_case.json"
REVIEW = REAL / "truthfulqa_multi_review" / "en.first40.csv"
UNMARKED = REAL / "swift_llm_data" / "multi_modal_2.jsonl"  # images, no placeholder
VQA = REAL / "torchtune_assets" / "vqa_tiny.json"
QWENVL = REAL / "qwenvl_finetune_demo" / "video.json"  # `video` read as `videos`
OUMI = REAL / "oumi_dataset_examples"
DAPO = REAL / "xtuner_dapo_rollouts" / "dapo_math_response_data.sample.jsonl"
LABELS = "prompt=question,completion=model_answer,label=truthfulness"  # yes/no: every row fails
IMAGE = "data:image/png;base64,iVBORw0KGgo="
USER, BOT = "user", "assistant"
MIXED = [  # content of two kinds; one image inline, in the second of three rows (blocks)
    [{"role": USER, "content": "Hi"}, {"role": BOT, "content": [{"type": "text", "text": "Yo"}]}],
    [
        {
            "role": USER,
            "content": [{"type": "text", "text": "What?"}, {"type": "image", "image": IMAGE}],
        },
        {"role": BOT, "content": "A picture."},
    ],
    [
        {"role": "system", "content": "Be brief."},
        {"role": USER, "content": "2+2?"},
        {"role": BOT, "content": "4"},
    ],
]

# `--split-turns all` with a template that raises on FORBIDDEN: turns 2 and 3 of the first row
# are refused, its turn 1 and the second row's turn kept
SAID = "Hi Hello Say FORBIDDEN Again No".split()
SPLIT_ROWS = [
    [{"role": r, "content": c} for r, c in zip([USER, BOT] * 3, SAID, strict=True)],
    [{"role": USER, "content": "Q"}, {"role": BOT, "content": "A"}],
]
SPLIT_TEMPLATE = (
    "{%- for m in messages %}{%- if 'FORBIDDEN' in m['content'] %}"
    "{{ raise_exception('this model may not say FORBIDDEN') }}{%- endif %}"
    "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>\n"
    "{% endfor %}{%- if add_generation_prompt %}<|assistant|>{% endif %}"
)
ALL_TURNS = ["--to", "pc", "--split-turns", "all", "--chat-template", "TEMPLATE"]
# text a chat template rendered already (ChatML), in `text`: `--chat-template` refuses it
RENDERED = [
    f"<|im_start|>user\nq{i}<|im_end|>\n<|im_start|>assistant\na{i}<|im_end|>\n" for i in range(3)
]
# a folder of one shard: a tool result no call precedes, then a line that is no JSON
SHARD = [
    json.dumps({"messages": [{"role": USER, "content": "Q"}, {"role": "tool", "content": "42"},
                             {"role": BOT, "content": "A"}]}),
    json.dumps({"messages": [{"role": USER, "content": "Hi"}, {"role": BOT, "content": "Yo"}]}),
    "not json",
]  # fmt: skip

CASES = {
    "answers-hint": ["validate", ANSWERS],
    "role-map-unused": ["convert", "MIXED", "--role-map", "human=user", "-o", "OUT/x.jsonl"],
    "role-map-unused-validate": ["validate", "MIXED", "--role-map", "human=user"],
    "role-map-unused-layout": [
        "validate",
        TOOLBENCH,
        "--from",
        "openai-chat",
        "--role-map",
        "human=user",
    ],  # fmt: skip
    "role-map-used": ["convert", "MIXED", "--role-map", "system=user", "-o", "OUT/x.jsonl"],
    "import-all-refused-validate": ["validate", FUNCTIONARY, "--from", "openai-chat"],
    "csv-all-refused": ["convert", REVIEW, "--map", LABELS, "--coerce", "-o", "OUT/x.jsonl"],
    "csv-all-refused-skip": [
        "convert",
        REVIEW,
        "--map",
        LABELS,
        "--coerce",
        "-o",
        "OUT/x.jsonl",
        "--on-error",
        "skip",
    ],  # fmt: skip
    "split-turns-refused": [
        "convert",
        "SPLIT",
        *ALL_TURNS,
        "-o",
        "OUT/x.jsonl",
        "--on-error",
        "skip",
    ],  # fmt: skip
    "split-turns-refused-stop": ["convert", "SPLIT", *ALL_TURNS, "-o", "OUT/x.jsonl"],
    "rendered-template": ["convert", "RENDERED", "--chat-template", "chatml", "-o", "OUT/x.jsonl"],
    "one-shard": ["validate", "FOLDER", "--on-bad-lines", "skip"],
    "one-shard-convert": [
        "convert",
        "FOLDER",
        "--to",
        "pc",
        "--on-bad-lines",
        "skip",
        "-o",
        "OUT/x.jsonl",
    ],  # fmt: skip
    "label-not-boolean": ["convert", "DAPO", "--map", "completion=response", "-o", "OUT/x.jsonl"],
    "label-not-boolean-validate": ["validate", "DAPO", "--map", "completion=response"],
    "move-mixed": ["convert", "MIXED", "--to", "pc", "--inline-media", "move", "-o", "OUT/x.jsonl"],
    "unplaced": ["convert", UNMARKED, "-o", "OUT/x.jsonl"],
    "unplaced-standard": [
        "convert",
        VQA,
        "--map",
        "prompt=input,completion=output",
        "-o",
        "OUT/x.jsonl",
    ],
    "move-real": ["convert", INLINE, "--to", "lm", "--inline-media", "move", "-o", "OUT/x.jsonl"],
    "qwenvl-video": ["convert", QWENVL, "-o", "OUT/x.jsonl"],
    "oumi-items": ["convert", OUMI / "vision_language_oumi_format.jsonl", "-o", "OUT/x.jsonl"],
    "prompt-answers": ["convert", OUMI / "vision_language_dpo_format.jsonl", "-o", "OUT/x.jsonl"],
    "masks": [
        "convert",
        TOOLCALLS,
        "--tokenize",
        "--tokenizer",
        TINY,
        "--assistant-masks",
        "-o",
        "OUT/x.jsonl",
    ],  # fmt: skip
    "masks-pc": [
        "convert",
        TOOLCALLS,
        "--to",
        "pc",
        "--tokenize",
        "--tokenizer",
        TINY,
        "--assistant-masks",
        "-o",
        "OUT/x.jsonl",
    ],  # fmt: skip
    "masks-not-lm": [
        "convert",
        "MIXED",
        "--to",
        "prompt-only",
        "--tokenize",
        "--tokenizer",
        TINY,
        "--assistant-masks",
        "-o",
        "OUT/x.jsonl",
    ],  # fmt: skip
    "no-rows-left": ["convert", "STEPS", "--to", "lm", "-o", "OUT/x.jsonl"],
}


def _engine_run(args: list, tmp: Path, engine: str) -> tuple[int, str, bytes | None, str | None]:
    """(exit code, messages, output bytes, rejects text) of one engine's run."""
    out = tmp / engine
    out.mkdir()
    mixed = tmp / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({"messages": m}) + "\n" for m in MIXED))
    split, template = tmp / "split.jsonl", tmp / "t.jinja"
    split.write_text("".join(json.dumps({"messages": m}) + "\n" for m in SPLIT_ROWS))
    template.write_text(SPLIT_TEMPLATE)
    rendered, folder = tmp / "rendered.jsonl", tmp / "shards"
    rendered.write_text("".join(json.dumps({"text": t}) + "\n" for t in RENDERED))
    folder.mkdir(exist_ok=True)
    (folder / "part-0.jsonl").write_text("".join(x + "\n" for x in SHARD))
    named = {"MIXED": mixed, "SPLIT": split, "TEMPLATE": template}  # whole arguments
    dapo = tmp / "dapo.jsonl"  # the pretty-printed DAPO records as JSON Lines
    dapo.write_text("".join(json.dumps(r) + "\n" for r in records(DAPO)))
    steps = tmp / "steps.jsonl"  # every step label false: `--to lm` drops every row
    steps.write_text(json.dumps({"prompt": "p", "completions": ["a"], "labels": [False]}) + "\n")
    named |= {"RENDERED": rendered, "FOLDER": folder, "DAPO": dapo, "STEPS": steps}
    argv = [str(named.get(str(a), a)).replace("OUT", str(out)) for a in args]
    res = CliRunner().invoke(app, [*argv, "--engine", engine])
    said = " ".join(res.output.replace(str(out), "OUT").split())
    said = said.replace("ray: ", "").replace(" (1 shard)", "")  # Ray's own counts line
    target = out / "x.jsonl"
    if target.is_dir():  # Ray's shard folder: its one shard
        (target,) = target.iterdir()
    rejects = out / "x.rejects.jsonl"
    return (
        res.exit_code,
        said,
        target.read_bytes() if target.is_file() else None,
        rejects.read_text() if rejects.exists() else None,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_ray_run_equals_local_run(tmp_path, case):
    local = _engine_run(CASES[case], tmp_path, "local")
    ray = _engine_run(CASES[case], tmp_path, "ray")
    assert ray == local
    code, said, out, rejects = local
    expect = {  # what the local engine does, so the equality above compares something
        "answers-hint": (1, "hint unknown-type: these rows are a model's answers"),
        "role-map-unused": (2, "no message in the input has the role 'human'"),
        "role-map-unused-validate": (2, "no message in the input has the role 'human'"),
        "role-map-unused-layout": (2, "the openai-chat layout's messages have the roles"),
        "role-map-used": (0, "3 rows in, 0 rejected"),
        # every row refused by the import: the type it makes, not "unknown type"
        "import-all-refused-validate": (1, "INVALID: 0 rows of language-modeling (conversational)"),
        "csv-all-refused": (1, 'holds "no" where a boolean is needed'),
        "csv-all-refused-skip": (1, "every row was rejected (40)"),
        "split-turns-refused": (0, "2 rows -> 4, one per assistant turn; 2 turns of 1 row"),
        "split-turns-refused-stop": (1, "turn 2 of line 1: chat template: completion: t.jinja"),
        "move-mixed": (0, "3 rows in, 0 rejected"),
        "label-not-boolean": (1, "(11 more rows fail)"),
        "label-not-boolean-validate": (1, "INVALID: 0 rows of unpaired-preference (standard)"),
        "rendered-template": (2, "already rendered with a chat template (it holds `<|im_start|>`)"),
        "one-shard": (1, "shards/part-0.jsonl:1 column 'messages': a tool result follows no"),
        "one-shard-convert": (0, "1 bad line skipped (/"),
        "move-real": (0, "4 rows in, 0 rejected"),
        "unplaced": (0, "3 rows (lines 1, 2, 3): images given with no `<image>` placeholder"),
        "unplaced-standard": (0, "1 row (line 2): images given beside standard (string) text"),
        "masks": (0, "12 rows in, 0 rejected"),
        "masks-pc": (0, "12 rows in, 0 rejected"),
        "masks-not-lm": (2, "--assistant-masks marks the assistant messages"),
        "qwenvl-video": (0, "sharegpt -> language-modeling (conversational): 3 rows in"),
        "oumi-items": (0, "oumi -> language-modeling (conversational): 2 rows in"),
        "prompt-answers": (0, "prompt-answers -> preference (conversational): 3 rows in"),
        "no-rows-left": (1, "1 converted -> 0 rows out (filter: 1 dropped by the conversion"),
    }[case]
    assert (code, expect[1] in said) == (expect[0], True), said
    if case == "split-turns-refused":
        assert [json.loads(x)["turn"] for x in rejects.splitlines()] == [2, 3]
        assert len(out.decode().splitlines()) == 2
    if case == "csv-all-refused-skip":
        assert rejects is not None and len(rejects.splitlines()) == 40
    stopped = {  # a run stopped by refused rows: its counts before the error, on both engines
        "csv-all-refused": "40 rows in, 40 rejected, 0 would convert; nothing written (stopped)",
        "split-turns-refused-stop": "2 rows in, 0 rejected, 2 would convert (language-modeling "
        "-> prompt-completion: 2 rows -> 4, one per assistant turn; 2 turns of 1 row refused); "
        "nothing written (stopped)",
    }.get(case)
    if stopped is not None:
        assert said.count(stopped) == 1 and said.index(stopped) < said.index("error:"), said
    if case in ("csv-all-refused-skip", "label-not-boolean"):  # every row refused: counted
        n = 40 if case == "csv-all-refused-skip" else 12
        line = f"{n} rows in, {n} rejected, 0 converted -> 0 rows out"
        if case == "label-not-boolean":  # stopped (--on-error stop): nothing written
            line = f"{n} rows in, {n} rejected, 0 would convert; nothing written (stopped)"
        assert line in said and said.index(line) < said.index("error:"), said
    if case == "unplaced":
        rows = [json.loads(x) for x in out.decode().splitlines()]
        assert rows[2]["prompt"][0]["content"][:3] == [{"type": "image"}] * 3
    if case == "move-mixed":
        rows = [json.loads(x) for x in out.decode().splitlines()]
        assert [r["images"] for r in rows] == [[], [IMAGE], []]
    if case in ("masks", "masks-pc"):
        rows = [json.loads(x) for x in out.decode().splitlines()]
        assert all(len(r["assistant_masks"]) == len(r["input_ids"]) for r in rows)
        assert sum(map(sum, (r["assistant_masks"] for r in rows))) > 0
    if case in ("qwenvl-video", "prompt-answers"):
        rows = [json.loads(x) for x in out.decode().splitlines()]
        assert all(len(r["videos" if case == "qwenvl-video" else "images"]) == 1 for r in rows)
    if case == "one-shard":  # the folder's files named, as for several
        assert "note: shard shards/part-0.jsonl: rows 0-1 (2)" in said.replace(
            str(tmp_path) + "/", ""
        )
    if case.startswith("label-not-boolean"):  # every Ray block says it, as the whole read
        assert "keeping the map's other entries: --map ...,label_value=label" in said
    if case == "role-map-used":
        assert re.search(rb'"role":\s*"user",\s*"content":\s*"Be brief."', out)
