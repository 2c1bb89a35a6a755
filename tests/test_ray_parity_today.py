"""`--engine ray` gives the local engine's results on today's features, byte for byte:
`--assistant-masks` (language modeling, prompt-completion), `--inline-media move` on mixed
string/part-list content, the unused `--role-map` key refused, the answer-only-file hint, CSV
rows every one refused while read with `--map ... --coerce`, images given with no
placeholder placed (and said beside standard text). Each case runs the CLI with both engines
on the session's local Ray instance (`ray_support`) and compares the output file (Ray's one
shard), the rejects file, the exit code and the messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

HERE = Path(__file__).parent
REAL = HERE / "realdata"
TINY = HERE.parent / "examples" / "tiny-chat-model"
ANSWERS = REAL / "arena_hard_answers" / "gpt-4-0613.sample.jsonl"
INLINE = REAL / "xtuner_inline_media" / "qwen35_tokenize_data.lines13-16.jsonl"
TOOLCALLS = REAL / "xtuner_qwen35_toolcalls" / "qwen35_tokenize_data.first12.jsonl"
TOOLBENCH = REAL / "toolbench_trajectories" / "toolbench_train_messages.jsonl"
REVIEW = REAL / "truthfulqa_multi_review" / "en.first40.csv"
UNMARKED = REAL / "swift_llm_data" / "multi_modal_2.jsonl"  # images, no placeholder
VQA = REAL / "torchtune_assets" / "vqa_tiny.json"
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
}


def _engine_run(args: list, tmp: Path, engine: str) -> tuple[int, str, bytes | None, str | None]:
    """(exit code, messages, output bytes, rejects text) of one engine's run."""
    out = tmp / engine
    out.mkdir()
    mixed = tmp / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({"messages": m}) + "\n" for m in MIXED))
    argv = [str(a).replace("OUT", str(out)).replace("MIXED", str(mixed)) for a in args]
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
        "csv-all-refused": (1, 'holds "no" where a boolean is needed'),
        "csv-all-refused-skip": (1, "every row was rejected (40)"),
        "move-mixed": (0, "3 rows in, 0 rejected"),
        "move-real": (0, "4 rows in, 0 rejected"),
        "unplaced": (0, "3 rows (lines 1, 2, 3): images given with no `<image>` placeholder"),
        "unplaced-standard": (0, "1 row (line 2): images given beside standard (string) text"),
        "masks": (0, "12 rows in, 0 rejected"),
        "masks-pc": (0, "12 rows in, 0 rejected"),
        "masks-not-lm": (2, "--assistant-masks marks the assistant messages"),
    }[case]
    assert (code, expect[1] in said) == (expect[0], True), said
    if case == "csv-all-refused-skip":
        assert rejects is not None and len(rejects.splitlines()) == 40
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
    if case == "role-map-used":
        assert re.search(rb'"role":\s*"user",\s*"content":\s*"Be brief."', out)
