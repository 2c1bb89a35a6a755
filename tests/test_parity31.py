"""Today's refusals and warnings say the same of the same rows however the input is cut or
stored: read in one chunk or in chunks of a row or two (`jsonl.CHUNK_BYTES` shrunk), and as
a gzip or zstd copy. The DAPO rollouts' `label` of reference answers is said to be no
true/false label in every chunk (a chunk of one value once left it out: the advice counted
the distinct values of each batch)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from realdata.support import records, run, sample

from trlprep.io import jsonl

DAPO = sample("xtuner_dapo_rollouts")
TOOLS = sample("oumi_tool_calling")
NOT_A_LABEL = (
    "(no value reads as true or false: no true/false label; if it is something else, such as "
    "a reference answer, rename it, keeping the map's other entries: --map ...,label_value=label)"
)
CASES = {  # name -> (input, arguments, what the whole read says)
    "label-convert": ("dapo", ["convert", "--map", "completion=response"], NOT_A_LABEL),
    "label-validate": ("dapo", ["validate", "--map", "completion=response"], NOT_A_LABEL),
    "tool-result": ("tools", ["validate"], "tool-result-without-call (messages): 6 rows"),
    "pretty-printed": ("pretty", ["convert"], "not JSON Lines hint: write each object"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    dapo = folder / "dapo.jsonl"
    dapo.write_text("".join(json.dumps(r) + "\n" for r in records(DAPO)), encoding="utf-8")
    tools, pretty = folder / "tools.jsonl", folder / "pretty.jsonl"
    shutil.copy(TOOLS, tools)
    shutil.copy(DAPO, pretty)
    return {"dapo": dapo, "tools": tools, "pretty": pretty}


def _said(src: Path, args: list[str], out: Path, chunk: int | None = None) -> tuple[int, str]:
    """(exit code, messages) of `trlprep ARGS SRC`, the input, its folder and the output named
    alike whatever the copy, the JSON Lines read in chunks of `chunk` bytes when given."""
    was = jsonl.CHUNK_BYTES
    jsonl.CHUNK_BYTES = chunk or was
    try:
        extra = ["-o", out / "x.jsonl"] if args[0] == "convert" else []
        res = run(args[0], src, *args[1:], *extra)
    finally:
        jsonl.CHUNK_BYTES = was
    said = " ".join(res.output.replace(str(out), "OUT").split())
    said = said.replace(str(src), "IN").replace(str(src.parent), "DIR")
    return res.exit_code, said.replace("gzip -dc IN | jq -c . ", "jq -c . IN ").replace(
        "zstd -dc IN | jq -c . ", "jq -c . IN "
    )


@pytest.mark.parametrize("case", list(CASES))
def test_chunks_and_compressed_copies_say_what_the_whole_read_says(inputs, tmp_path, case):
    name, args, expect = CASES[case]
    src = inputs[name]
    whole = _said(src, args, tmp_path)
    assert expect in whole[1] and whole[0] == 1 - (case == "tool-result"), whole
    small = _said(src, args, tmp_path, chunk=600)  # about a row a chunk
    assert small == whole
    gz = src.with_name(src.name + ".gz")  # beside it: the advised jq command writes there too
    gz.write_bytes(gzip.compress(src.read_bytes()))
    assert _said(gz, args, tmp_path) == whole
    if shutil.which("zstd"):
        zst = src.with_name(src.name + ".zst")
        subprocess.run(["zstd", "-qf", str(src), "-o", str(zst)], check=True)
        assert _said(zst, args, tmp_path) == whole


def test_python_validate_names_the_map_keyword_in_the_issue_as_convert_does(inputs):
    """A returned report's issue messages are said in keywords, as its hints and convert's
    errors are (the label advice said `--map` in `trlprep.validate`'s issues)."""
    import trlprep
    from trlprep.errors import DataError

    report = trlprep.validate(str(inputs["dapo"]), map={"completion": "response"})
    (issue,) = [i for i in report.issues if i.rule == "import-failed"]
    assert "keeping the map's other entries: map={..., 'label_value': 'label'})" in issue.message
    assert "--" not in issue.message + (issue.hint or "")
    with pytest.raises(DataError) as caught:
        trlprep.convert(str(inputs["dapo"]), map={"completion": "response"})
    assert "keeping the map's other entries: map={..., 'label_value': 'label'})" in " ".join(
        str(caught.value).split()
    )


PROBE = """
import os, sys, warnings
warnings.simplefilter("ignore")
import trlprep
trlprep.validate(sys.argv[1])
trlprep.convert(sys.argv[1], to="prompt-completion")
print("ENV", os.environ.get("MIMALLOC_PURGE_DELAY"), "cli.allocators" in str(list(sys.modules)))
"""


def test_the_python_api_leaves_the_allocators_as_its_caller_set_them():
    """Only the CLI's data commands set the allocators (`trlprep.cli.allocators`): a program
    calling `trlprep.validate` / `convert` keeps its environment (README: "The Python API
    leaves your process's allocators alone")."""
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(TOOLS)], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ENV None False"
