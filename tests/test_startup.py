"""Start-up: what a small command imports, and that the light paths behave as the full ones.

`python -m benchmarks startup` measures the wall time; these tests pin the causes (a library
imported by a command that does not need it is a tenth of a second of every run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.detection.profile import repeated_polars, repeated_small

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

PROBE = """
import sys
sys.argv = ["trlprep", *sys.argv[1:]]
from trlprep.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("polars", "pandas", "pydantic", "numpy", "pyarrow", "pyarrow.compute", "transformers",
         "datasets", "jinja2", "torch", "trlprep.converters", "typer", "rich.console",
         "rich.table", "trlprep.importers.registry")
print("LOADED", ",".join(m for m in heavy if m in sys.modules))
"""


def _loaded(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED")][-1]
    return set(filter(None, line.split(" ", 1)[1].split(",")))


# detect reads the file with pyarrow (which imports numpy) and computes with pyarrow.compute;
# its text and JSON are printed without rich
DETECT = {"typer", "pyarrow", "numpy", "pyarrow.compute"}


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["--help"], {"typer"}),
        (["convert", "--help"], {"typer"}),
        (["--version"], set()),  # not even typer
        (["detect", str(EXAMPLES / "preference.jsonl")], DETECT),
        (["detect", str(EXAMPLES / "preference_conversational.jsonl")], DETECT),
        (["detect", str(EXAMPLES / "prompt_completion.jsonl")], DETECT),
        (["detect", str(EXAMPLES / "preference.jsonl"), "--json"], DETECT),
    ],
)
def test_small_commands_import_only_what_they_use(argv, allowed):
    loaded = _loaded(*argv)
    assert loaded <= allowed, (argv, loaded - allowed)


def test_validate_and_convert_load_no_importer_and_a_parquet_convert_no_polars(tmp_path):
    """With no `--from`, validate loads none of the importers (their registry is a tenth
    of a second); a convert to Parquet of a few plain rows, no polars (pyarrow scans them
    for special tokens: `checks.text.SMALL`). pandas stays: pyarrow imports it on the first
    `Array.to_numpy` of any command that computes on its rows (detect of 8 rows does not)."""
    data = str(EXAMPLES / "preference.jsonl")
    loaded = _loaded("validate", data)
    assert "pyarrow" in loaded, "the probe ran validate"
    assert not loaded & {"trlprep.importers.registry", "rich.table"}, loaded
    out = str(tmp_path / "out.parquet")
    loaded = _loaded("convert", data, "-o", out)
    assert (tmp_path / "out.parquet").exists(), "the probe ran convert"
    assert not loaded & {"polars", "rich.table", "jinja2", "transformers", "datasets"}, loaded


def test_no_command_imports_pydantic_for_plain_options():
    """typer converts option values through pydantic adapters; plain ones are converted
    without it (pydantic is ~0.1 s of start-up)."""
    assert "pydantic" not in _loaded("validate", str(EXAMPLES / "preference.jsonl"))


def test_plain_option_values_convert_as_typer_would(tmp_path):
    """The light conversion gives the same values, and hands bad ones to typer (same
    messages)."""
    runner = CliRunner()
    data = str(EXAMPLES / "preference.jsonl")
    bad_int = runner.invoke(app, ["validate", data, "--max-errors", "x"])
    assert bad_int.exit_code == 2
    assert "valid integer" in bad_int.output
    below = runner.invoke(app, ["validate", data, "--max-errors", "-1"])
    assert below.exit_code == 2
    assert "greater than or equal to 0" in below.output
    ok = runner.invoke(app, ["validate", data, "--max-errors", "+2", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    several = runner.invoke(app, ["detect", data, data, "--json"])
    assert several.exit_code == 0, several.output
    assert json.loads(several.output)["num_rows"] == 16


def test_light_conversion_values():
    from trlprep.cli.conventions import _plain, _Refused

    assert _plain("3", int, None) == 3 and _plain("-3", int, None) == -3
    assert _plain("1e-3", float, None) == 0.001 and _plain(".5", float, None) == 0.5
    assert _plain("a", str, None) == "a" and _plain(True, bool, None) is True
    for value, kind, low in (
        ("1.0", int, None),
        (" 1", int, None),
        ("0", int, 1),
        ("x", float, None),
    ):
        with pytest.raises(_Refused):  # left to typer
            _plain(value, kind, low)


def _messages(*texts: str) -> list[dict]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)
    ]


STRING_ROWS = [
    ("Q:", "Q: yes", "Q: no"),
    ("Q:", "Q: yes", "R: no"),
    ("", "a", "b"),
    (None, "a", "b"),
    ("Q", None, "Q b"),
    ("Qé", "Qé a", "Qéb"),
    ("long prompt", "long", "long prompt!"),
]
MESSAGE_ROWS = [
    (_messages("q"), _messages("q", "a"), _messages("q", "b")),
    (_messages("q"), _messages("x", "a"), _messages("q", "b")),
    ([], _messages("a"), _messages("b")),
    (None, _messages("a"), _messages("b")),
    (_messages("q", "a", "q2"), _messages("q", "a"), _messages("q", "a", "q2", "b")),
    (_messages("q"), None, _messages("q", "b")),
]


@pytest.mark.parametrize("rows", [STRING_ROWS, MESSAGE_ROWS], ids=["standard", "conversational"])
def test_repeated_prompt_small_path_equals_polars(rows):
    """detect's plain-Python check (small batches) finds the rows the columnar one finds."""
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            n: pa.array(list(c))
            for n, c in zip(("prompt", "chosen", "rejected"), columns, strict=True)
        }
    )
    strings = rows is STRING_ROWS
    small = repeated_small(*(list(c) for c in columns))
    big = repeated_polars(table, strings).to_pylist()
    assert small == big
    assert any(small) and not all(small)


def test_version_without_typer_prints_what_typer_prints():
    """`trlprep --version` skips typer; it prints what the Typer option prints."""
    fast = subprocess.run(
        [sys.executable, "-m", "trlprep", "--version"], capture_output=True, text=True, timeout=60
    )
    slow = CliRunner().invoke(app, ["--version"])
    assert fast.returncode == 0 == slow.exit_code
    assert fast.stdout == slow.output
    assert fast.stdout.startswith("trlprep ")


def test_plain_json_is_what_rich_prints(capsys):
    """Off a terminal, `print_json` writes without rich the text rich's console writes."""
    import io

    from rich.console import Console

    from trlprep.cli.app import Stream

    text = json.dumps({"a": "é\u2028<[b]>", "b": [1, 2.5, {"c": None}], "d": True})
    buf = io.StringIO()
    Console(file=buf, soft_wrap=True, highlight=False).print_json(text)
    Stream().print_json(text)
    assert capsys.readouterr().out == buf.getvalue()


def test_plain_lines_are_literal(capsys):
    """`print(text, markup=False)` writes the text as it is (no markup, no emoji codes)."""
    from trlprep.cli.app import Stream

    Stream().print("[bold]x[/] :smile:", "y", markup=False)
    assert capsys.readouterr().out == "[bold]x[/] :smile: y\n"


def test_detect_text_is_aligned():
    result = CliRunner().invoke(app, ["detect", str(EXAMPLES / "preference.jsonl")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "type           preference"
    assert lines[-2].startswith("extra columns  -")
    assert all(line == line.rstrip() for line in lines)


@pytest.mark.parametrize("name", ["preference.jsonl", "preference_conversational.jsonl"])
def test_report_without_a_template_imports_no_renderer(name):
    """A report with no template or tokenizer renders nothing: no Jinja (the renderer's
    modules cost it a tenth of a second more than `validate` of the same file)."""
    loaded = _loaded("report", str(EXAMPLES / name))
    assert "pyarrow" in loaded, "the probe ran the report"
    assert not loaded & {"jinja2", "transformers", "torch"}, loaded
