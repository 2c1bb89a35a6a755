"""A run stopped by refused rows (`--on-error stop`, the default) says its counts as a run
that writes its rows does, before its error: rows in, rejected, and the rows that would
convert, of the whole input (a stopped run reads it through, only checking the rows after
the first refused one), then `nothing written (stopped)`. `convert` and `import` print the
line, `train` logs it as its data line, and the Python API's DataError ends its message
with it and carries it as `.counts` (`RowCounts`). `--engine ray`: tests/test_ray_parity_today.py.
Real sample: ToolBench's trajectories read as TRL messages (`--from language-modeling`),
whose `function` roles and legacy `function_call`s 33 of 34 rows fail on."""

from __future__ import annotations

import json
import warnings

import pytest
from realdata.support import HERE, counts, run

from trlprep.errors import DataError

README = HERE.parents[1] / "README.md"
TOOLBENCH = HERE / "toolbench_trajectories" / "toolbench_train_messages.jsonl"
ROWS = [  # the second row: an empty chosen and a number where the others hold text
    {"prompt": "a", "chosen": "b", "rejected": "c"},
    {"prompt": "a", "chosen": "", "rejected": 5},
    {"prompt": "a", "chosen": "b", "rejected": "c"},
]
ROUTE = "preference -> unpaired-preference (standard)"
FORBIDDING = (  # a chat template that refuses a message saying FORBIDDEN
    "{%- for m in messages %}{%- if 'FORBIDDEN' in m['content'] %}"
    "{{ raise_exception('this model may not say FORBIDDEN') }}{%- endif %}"
    "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>\n"
    "{% endfor %}{%- if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _said(output: str) -> str:
    return " ".join(output.split())  # (wrapped lines joined)


def _before_error(output: str, line: str) -> None:
    """`line` is said once, before the error."""
    said = _said(output)
    assert said.count(line) == 1 and said.index(line) < said.index("error:"), output


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_a_stopped_convert_says_the_counts_of_the_whole_input(tmp_path, bad):
    out = tmp_path / "o.jsonl"
    res = run("convert", bad, "--to", "unpaired", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    line = (
        f"{ROUTE}: 3 rows in, 1 rejected, 2 would convert (unpairing: 2 per row); "
        "nothing written (stopped)"
    )
    _before_error(res.output, line)
    said = _said(res.output)
    assert said.index(line) < said.index("1 x read: column 'rejected'") < said.index("error:")
    # the same rows as the run that writes the others
    skipped = run("convert", bad, "--to", "unpaired", "-o", out, "--on-error", "skip")
    assert counts(skipped.output) == (3, 1, 2, 4)
    assert "would convert" not in skipped.output


def test_a_conversion_that_drops_every_row_says_its_counts(tmp_path):
    """Stepwise rows whose every step label is false: `--to lm` drops them all. Nothing was
    refused, and the counts still say where each row went before the no-rows-left error."""
    src = tmp_path / "steps.jsonl"
    rows = [{"prompt": "p", "completions": ["a", "b"], "labels": [False, False]}] * 2
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.jsonl"
    res = run("convert", src, "--to", "lm", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    line = (
        "stepwise-supervision -> language-modeling (standard): 2 rows in, 0 rejected, "
        "2 converted -> 0 rows out (filter: 2 dropped by the conversion itself); nothing written"
    )
    _before_error(res.output, line)
    assert "no rows left" in res.output


def test_a_stopped_convert_counts_every_stage_over_the_whole_input(tmp_path):
    """ToolBench's messages read as they are: the conversion's validation refuses 33 rows,
    each counted (by reason), and the one row that would convert."""
    out = tmp_path / "lm.jsonl"
    res = run("convert", TOOLBENCH, "--from", "language-modeling", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    _before_error(
        res.output,
        "language-modeling (conversational): 34 rows in, 33 rejected, 1 would convert; "
        "nothing written (stopped)",
    )
    said = _said(res.output)
    assert "25 x validation:" in said and "8 x validation:" in said
    assert "(32 more rows fail)" in said  # the error's count agrees


def test_a_stopped_import_says_its_counts(tmp_path):
    src = tmp_path / "alpaca.jsonl"
    rows = [{"instruction": f"Say {w}", "input": "", "output": w} for w in ("hi", "", "no")]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pc.jsonl"
    res = run("import", src, "--from", "alpaca", "-o", out)
    assert res.exit_code == 1 and not out.exists(), res.output
    _before_error(
        res.output,
        "alpaca -> prompt-completion (standard): 3 rows in, 1 rejected, 2 would convert; "
        "nothing written (stopped)",
    )
    assert "1 x import: output is empty (e.g. line 2)" in _said(res.output)


def test_an_error_before_the_end_of_the_input_says_how_far_it_read(tmp_path, monkeypatch):
    """Rows refused, then an error of the run's own in a later batch: the counts say how
    many rows were read, never a total of rows the run did not read."""
    from trlprep.conversion import stream

    real = stream._check_batch
    seen = []

    def check(table, plan, source, path=None):  # the second batch: a whole-data error
        seen.append(table.num_rows)
        if len(seen) == 2:
            raise DataError("the data is not uniform: (a later batch)")
        return real(table, plan, source, path)

    monkeypatch.setattr(stream, "_check_batch", check)
    from trlprep.io import jsonl

    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 100)  # about two rows a batch
    src = tmp_path / "p.jsonl"
    rows = [{"prompt": f"q{i}", "completion": "" if i == 1 else f"a{i}"} for i in range(8)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("convert", src, "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 1, res.output
    said = _said(res.output)
    read = sum(seen)  # the rows of the two batches read (no row refused before the check)
    assert 2 < read < len(rows)
    line = (
        f"prompt-completion (standard): stopped after {read} of the input's rows, 1 of them "
        "rejected; nothing written"
    )
    assert said.count(line) == 1 and said.index(line) < said.index("error:"), said
    assert "would convert" not in said and "1 x validation:" in said


def test_the_python_api_error_carries_the_counts(bad):
    import trlprep
    from trlprep.importers.run import import_dataset

    with warnings.catch_warnings(), pytest.raises(DataError) as e:
        warnings.simplefilter("ignore")
        trlprep.convert(str(bad), "unpaired")
    c = e.value.counts
    said = f"{ROUTE}: 3 rows in, 1 rejected, 2 would convert (unpairing: 2 per row)"
    assert (c.rows_in, c.rejected, c.kept, c.route) == (3, 1, 2, ROUTE)
    assert c.said == f"{said}; nothing returned (stopped)"
    assert e.value.message.endswith(f"; {c.said}") and "coerce=True" in e.value.message
    # an import stopped by its refusals: the rows it would have imported
    src = bad.with_name("alpaca.jsonl")
    rows = [{"instruction": f"Say {w}", "input": "", "output": w} for w in ("hi", "", "no")]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for call in (
        lambda: import_dataset(str(src), "alpaca"),
        lambda: trlprep.convert(str(src), from_="alpaca"),
    ):
        with pytest.raises(DataError) as e:
            call()
        c = e.value.counts
        assert (c.rows_in, c.rejected, c.kept, c.kept_as) == (3, 1, 2, "would import")
        assert c.said == (
            "alpaca -> prompt-completion (standard): 3 rows in, 1 rejected, 2 would import; "
            "nothing returned (stopped)"
        )
        assert str(e.value).startswith(f"{src}:2: cannot import this row as alpaca: ")


def test_train_logs_its_data_line_when_refused_rows_stop_it(tmp_path):
    pytest.importorskip("torch")
    from train_support import make_tokenizer
    from trlprep.trainers.data import prepare

    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}
    empty = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]}
    src = tmp_path / "lm.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in (good, empty, good)))
    logs: list[str] = []
    with pytest.raises(DataError) as e:  # refused by train's own validation, before converting
        prepare(str(src), "lm", ["language-modeling"], make_tokenizer(), max_length=64,
                algo="sft", chat_template="chatml", log=logs.append)  # fmt: skip
    said = (
        "data: language-modeling (conversational): 3 rows in, 1 left out, 2 pass validation; "
        "nothing trained (stopped)"
    )
    assert logs[-1] == said and said in " ".join(README.read_text().split())  # as quoted
    assert e.value.line == 2
    # refused by the chat template, the other rows converting: the conversion's counts
    template = tmp_path / "t.jinja"
    template.write_text(FORBIDDING)
    said = {"role": "assistant", "content": "FORBIDDEN"}
    src.write_text(
        "".join(
            json.dumps(r) + "\n" for r in (good, {"messages": [good["messages"][0], said]}, good)
        )
    )
    logs.clear()
    with pytest.raises(DataError) as e:
        prepare(str(src), "lm", ["language-modeling"], make_tokenizer(), max_length=64,
                algo="sft", chat_template=str(template), log=logs.append)  # fmt: skip
    assert logs[-1] == (
        "data: language-modeling (conversational -> standard with t.jinja): 3 rows in, "
        "1 left out, 2 would convert; nothing trained (stopped)"
    )
    assert e.value.line == 2 and "may not say FORBIDDEN" in e.value.message
    assert "nothing returned" not in str(e.value)  # the API's clause, said by the log instead


def test_train_logs_its_data_line_when_the_assistant_masks_stop_it(tmp_path):
    """A message weight the loss cannot take (0.5) refuses its row after the conversion: the
    data line counts the rows that would train."""
    pytest.importorskip("torch")
    from train_support import make_tokenizer
    from trlprep.trainers.data import prepare

    user = {"role": "user", "content": "Hi"}
    rows = [[user, {"role": "assistant", "content": "Yo", "weight": w}] for w in (1, 0.5, 1)]
    src = tmp_path / "weighted.jsonl"
    src.write_text("".join(json.dumps({"messages": m}) + "\n" for m in rows))
    logs: list[str] = []
    with pytest.raises(DataError, match="has weight 0.5") as e:
        prepare(str(src), "lm", ["language-modeling"], make_tokenizer(), max_length=64,
                algo="sft", chat_template="chatml", log=logs.append)  # fmt: skip
    assert logs[-1] == (
        "data: language-modeling: 3 rows in, 1 left out, 2 would train; nothing trained (stopped)"
    )
    assert e.value.line == 2


def test_the_python_api_refuses_a_conversion_that_drops_every_row(tmp_path):
    """As the CLI: an empty result is never returned unasked (`allow_empty=True` asks)."""
    import trlprep

    rows = [{"prompt": "p", "completions": ["a", "b"], "labels": [False, False]}]
    with pytest.raises(DataError, match=r"no rows left .*allow_empty=True.*nothing was returned"):
        trlprep.convert(rows, "lm")
    assert len(trlprep.convert(rows, "lm", allow_empty=True)) == 0
