"""Importers of the layouts added for real data: process supervision (PRM800K, Math-Shepherd),
AlpacaFarm pairs, MT-Bench questions and nested instances; each on a real public sample
(tests/realdata/, source and licence beside it) with rows checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app
from trlprep.errors import UsageError
from trlprep.importers import ImportOptions, detect_layout, import_table
from trlprep.io.readers import read

REAL = Path(__file__).parent / "realdata"
PRM = REAL / "prm800k_openr" / "prm800k.jsonl"
SHEPHERD = REAL / "math_shepherd_openr" / "math-shepherd.jsonl"
SEED = REAL / "self_instruct_seed" / "seed_tasks.jsonl"
SNI = REAL / "sni_task063" / "task063_first_i_elements.first12.jsonl"
MTB = REAL / "mt_bench" / "question.jsonl"


def _import(path, layout: str, **opts):
    src = read(path)
    return import_table(
        src.table, layout, ImportOptions.make(**opts), lines=src.lines, on_error="skip"
    )


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _valid(result) -> None:
    report = api.validate(result.table, type=result.dtype, format=result.fmt)
    assert report.valid, [i.to_dict() for i in report.issues]


# ---------------------------------------------------------------- PRM800K


PENCIL = (
    "Three pencils and a jumbo eraser cost $\\$1.24$. Five pencils and a jumbo eraser cost "
    "$\\$1.82$. No prices include tax. In cents, what is the cost of a pencil?"
)
PENCIL_STEPS = [
    "Let's call the price of a pencil p and the price of a jumbo eraser e. Then we can write "
    "two equations.",
    "We have $3p+e=1.24$ and $5p+e=1.82$.",
    "To solve this system, let's subtract the first equation from the second equation. This "
    "will eliminate e.",
    "$5p+e-3p-e=1.82-1.24$.",
    "This simplifies to $2p=0.58$. So $p=0.29$.",
    "That means a pencil costs 29 cents.\n\n# Answer\n\n29",
]


def test_prm800k_real_rows_as_trl_script():
    r = _import(PRM, "prm800k")
    # 6 solutions -> 37 trajectories (TRL's prm800k script gives the same 37 rows)
    assert r.table.num_rows == 37 and r.num_rejected == 0
    assert r.rows.tolist() == [0] * 10 + [1] * 5 + [2] * 7 + [3] * 7 + [4] * 7 + [5]
    rows = r.table.to_pylist()
    # first row: the first unchosen candidate of step 2 (rating -1)
    assert rows[0]["prompt"] == PENCIL
    assert rows[0]["completions"] == [
        PENCIL_STEPS[0],
        "The first equation is 3p + e = 124, and the second equation is 5p + e = 182.",
    ]
    assert rows[0]["labels"] == [True, False]
    # step 6: the neutral candidate (rating 0) is negative by default, as in TRL
    assert rows[5]["completions"] == PENCIL_STEPS[:5] + [
        "We could also solve this system by substitution."
    ]
    assert rows[5]["labels"] == [True, True, True, True, True, False]
    # the chosen path, with the human-written step 2 counted correct
    assert rows[9]["completions"] == PENCIL_STEPS and rows[9]["labels"] == [True] * 6
    assert rows[9]["labeler"] == "e90a38f3-3135-4465-87af-3e6322e3d772"  # kept
    _valid(r)


def test_prm800k_neutral_option():
    default = _import(PRM, "prm800k")
    positive = _import(PRM, "prm800k", neutral="positive")
    assert positive.table.num_rows == default.table.num_rows
    assert positive.table.column("labels")[5].as_py() == [True] * 6
    differ = sum(
        a != b
        for a, b in zip(
            default.table.column("labels").to_pylist(),
            positive.table.column("labels").to_pylist(),
            strict=True,
        )
    )
    assert differ == 7  # the trajectories holding a neutral step
    dropped = _import(PRM, "prm800k", neutral="drop")
    assert dropped.table.num_rows == 37 - 7
    assert not any(
        "We could also solve this system by substitution." in c
        for c in dropped.table.column("completions").to_pylist()
    )
    assert dropped.notes == [
        "7 trajectories with a neutral step were left out (--neutral drop); 1 of the "
        "solutions give no row"
    ]
    assert dropped.num_rejected == 0 and 1 not in dropped.rows.tolist()
    with pytest.raises(UsageError, match="--neutral"):
        ImportOptions.make(neutral="maybe")


def test_prm800k_bad_rows_are_reported():
    step = {"completions": [{"text": "x", "rating": None}], "chosen_completion": 0}
    rows = [
        {"question": {"problem": "1+1?"}, "label": {"steps": [step]}},
        {"question": {"problem": ""}, "label": {"steps": []}},
        {"question": {"problem": "2+2?"}, "label": {"steps": []}},
    ]
    r = import_table(_table(rows), "prm800k", on_error="skip")
    assert r.table.num_rows == 0
    assert r.rejects.column("reason").to_pylist() == [
        "step 1: the chosen candidate has no rating -1/0/+1",
        "question.problem is missing or empty",
        "no labelled step",
    ]


# ---------------------------------------------------------------- Math-Shepherd


def test_math_shepherd_real_rows_as_trl_script():
    r = _import(SHEPHERD, "math-shepherd")
    assert r.table.num_rows == 7 and r.num_rejected == 0
    row = r.table.slice(4, 1).to_pylist()[0]
    assert row == {
        "prompt": "If Buzz bought a pizza with 78 slices at a restaurant and then decided to "
        "share it with the waiter in the ratio of 5:8, with Buzz's ratio being 5, what's "
        "twenty less the number of slices of pizza that the waiter ate?",
        "completions": [
            "Step 1: The total ratio representing the pizza is 5+8 = <<5+8=13>>13.",
            "Step 2: The waiter ate 13 x 8 / 13 = <<13*8/13=6>>6 slices of the pizza.",
            "Step 3: Buzz ate 78 - 6 = <<78-6=72>>72 slices of the pizza.",
            "Step 4: The waiter ate 20 less than the number of slices that Buzz ate which is "
            "72 - 20 = 52.",
            "Step 5: The waiter ate 52 slices of the pizza. The answer is: 52",
        ],
        "labels": [True, False, False, False, False],
        "task": "GSM8K",
    }
    assert r.table.column("labels")[0].as_py() == [True, True, True, True, False]
    _valid(r)


def test_math_shepherd_misaligned_labels_are_reported():
    rows = [
        {"input": "Q? Step 1: a ки\nStep 2: b ки", "label": "Q? Step 1: a +\nStep 2: b -"},
        {"input": "Q? Step 1: a ки", "label": "Q? Step 1: a x"},
        {"input": "no tags", "label": "no tags"},
        {"input": "What? a ки", "label": "What? a -"},
    ]
    r = import_table(_table(rows), "math-shepherd", on_error="skip")
    assert r.table.to_pylist() == [
        {"prompt": "Q?", "completions": ["Step 1: a", "Step 2: b"], "labels": [True, False]},
        {"prompt": "What?", "completions": ["a"], "labels": [False]},
    ]
    assert r.rejects.column("reason").to_pylist() == [
        "label does not hold '+' or '-' where input holds each step tag",
        "input holds no step tag 'ки'",
    ]


# ---------------------------------------------------------------- AlpacaFarm


FARM = [
    {"instruction": "Name a color.", "input": "", "output_1": "Blue.", "output_2": "42",
     "preference": 1},
    {"instruction": "Add.", "input": "2 and 3", "output_1": "6", "output_2": "5",
     "preference": 2},
    {"instruction": "Pick.", "input": "", "output_1": "a", "output_2": "b", "preference": 1.5},
]  # fmt: skip


def test_alpacafarm_pairs():
    r = import_table(_table(FARM), "alpacafarm", ImportOptions.make(prompt_style="plain"),
                     on_error="skip")  # fmt: skip
    assert r.table.to_pylist() == [
        {"prompt": "Name a color.", "chosen": "Blue.", "rejected": "42"},
        {"prompt": "Add.\n\n2 and 3", "chosen": "5", "rejected": "6"},
    ]
    assert r.rejects.column("reason").to_pylist() == [
        "preference is a tie (1.5, or 0 as older AlpacaEval files write it): no pair"
    ]
    alpaca = import_table(_table(FARM[:1]), "alpacafarm")
    assert alpaca.table.column("prompt")[0].as_py() == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nName a color.\n\n### Response:"
    )
    conv = import_table(_table(FARM[:2]), "alpacafarm", ImportOptions.make(conversational=True))
    assert conv.table.to_pylist()[1] == {
        "prompt": [{"role": "user", "content": "Add.\n\n2 and 3"}],
        "chosen": [{"role": "assistant", "content": "5"}],
        "rejected": [{"role": "assistant", "content": "6"}],
    }
    assert detect_layout(_table(FARM).schema) == "alpacafarm"


# ---------------------------------------------------------------- MT-Bench


def test_mt_bench_real_questions():
    r = _import(MTB, "mt-bench")
    assert r.table.num_rows == 80 and r.dtype.name == "prompt-only"
    first = r.table.slice(0, 1).to_pylist()[0]
    assert first["prompt"] == (
        "Compose an engaging travel blog post about a recent trip to Hawaii, highlighting "
        "cultural experiences and must-see attractions."
    )
    assert first["turns"][1] == (
        "Rewrite your previous response. Start every sentence with the letter A."
    )
    assert first["question_id"] == 81 and first["category"] == "writing"
    assert "80 rows have later turns" in r.notes[0]
    conv = _import(MTB, "mt-bench", conversational=True)
    assert conv.table.column("prompt")[0].as_py() == [{"role": "user", "content": first["prompt"]}]
    _valid(r)
    _valid(conv)


# ---------------------------------------------------------------- instances


def test_self_instruct_seed_tasks():
    r = _import(SEED, "instances")
    assert r.table.num_rows == 175 and r.dtype.name == "prompt-completion"
    row = r.table.slice(1, 1).to_pylist()[0]
    assert (
        row["prompt"]
        == "What is the relation between the given pairs?\n\nNight : Day :: Right : Left"
    )
    assert row["completion"] == "The relation between the given pairs is that they are opposites."
    assert row["id"] == "seed_task_1" and row["name"] == "antonym_relation"
    # no input: the instruction alone
    assert r.table.column("prompt")[0].as_py().startswith("Is there anything I can eat")
    assert "\n\n" not in r.table.column("prompt")[0].as_py()
    _valid(r)


def test_super_natural_instructions_task():
    r = _import(SNI, "instances")
    assert r.table.num_rows == 12 and r.rows.tolist() == [0] * 12
    row = r.table.slice(1, 1).to_pylist()[0]
    assert row["prompt"] == (
        "In this task, you are given inputs i and A, where i is an integer and A is a list. "
        "You need to output the first i elements of A, starting with the 1st element in A. "
        "i will always have a value less than the length of A\n\n2, ['n', 'f', 'V', 'a', "
        "'4729', '1347']"
    )
    assert row["completion"] == "n, f"
    assert row["instance_id"] == "task063-62a4be2dbad84644895e452d7d5db203"
    conv = _import(SNI, "instances", conversational=True)
    assert conv.table.column("completion")[1].as_py() == [{"role": "assistant", "content": "n, f"}]
    _valid(r)


def test_instances_without_output_are_accounted_for():
    rows = [
        {"instruction": "Say hi.", "instances": [{"input": "", "output": "hi"},
                                                 {"input": "x", "output": ""}]},
        {"instruction": "Nothing.", "instances": [{"input": "", "output": ""}]},
    ]  # fmt: skip
    r = import_table(_table(rows), "instances", on_error="skip")
    assert r.table.select(["prompt", "completion"]).to_pylist() == [
        {"prompt": "Say hi.", "completion": "hi"}
    ]
    assert r.rejects.column("reason").to_pylist() == ["no item of `instances` has an output"]
    assert "2 instances without an output" in r.notes[0]


# ---------------------------------------------------------------- the CLI on the real samples


@pytest.mark.parametrize(
    ("path", "layout", "to", "rows_out"),
    [
        (PRM, "prm800k", "unpaired", 37),
        (SHEPHERD, "math-shepherd", "unpaired", 7),
        (SEED, "instances", "language-modeling", 175),
        (SNI, "instances", "prompt-only", 12),
        (MTB, "mt-bench", None, 80),
    ],
)
def test_cli_detects_imports_and_converts_real_samples(tmp_path, path, layout, to, rows_out):
    out = tmp_path / "out.jsonl"
    res = _cli("import", str(path), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert f"note: read as the {layout} layout" in res.output
    assert len(out.read_text().splitlines()) == rows_out
    if to is None:
        return
    conv = tmp_path / "conv.parquet"
    res = _cli("convert", str(path), "--from", layout, "--to", to, "-o", str(conv))
    assert res.exit_code == 0, res.output
    assert api.validate(pq.read_table(conv), type=to).valid


def test_cli_math_shepherd_to_unpaired_rows(tmp_path):
    conv = tmp_path / "u.jsonl"
    res = _cli(
        "convert", str(SHEPHERD), "--from", "math-shepherd", "--to", "unpaired", "-o", str(conv)
    )
    assert res.exit_code == 0, res.output
    first = json.loads(conv.read_text().splitlines()[0])
    assert first["completion"].startswith("Step 1: Janet spends 3 hours")
    assert first["label"] is False  # the last step is wrong, so the joined solution is bad


# ---------------------------------------------------------------- detect suggests the layout


@pytest.mark.parametrize(
    ("path", "layout"),
    [
        (PRM, "prm800k"),
        (SHEPHERD, "math-shepherd"),
        (SEED, "instances"),
        (MTB, "mt-bench"),
        (REAL / "oasst_trees" / "en_100_tree.first20.jsonl", "oasst"),
        (REAL / "llamafactory_v1" / "v1_dpo_demo.jsonl", "llamafactory-v1"),
        (REAL / "alpaca_demo" / "alpaca_en_demo.json", "alpaca"),
        (REAL / "fastchat_dummy" / "dummy_conversation.json", "sharegpt"),
        (REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl", "hh"),
    ],
)
def test_detect_suggests_the_layout(path, layout):
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    res = _cli("detect", str(path))
    assert f"layout: {layout} (a public layout: import it with" in res.output, res.output
    assert f"--from {layout}" in res.output
    res = _cli("detect", "--json", str(path))
    assert json.loads(res.stdout)["layout"] == layout


def test_detect_names_no_layout_for_trl_data(tmp_path):
    path = tmp_path / "pc.jsonl"
    path.write_text('{"prompt": "The sky is", "completion": " blue."}\n')
    res = _cli("detect", "--json", str(path))
    assert res.exit_code == 0 and json.loads(res.stdout)["layout"] is None
    assert "layout:" not in _cli("detect", str(path)).output


# ---------------------------------------------------------------- --map with --conversational


def test_map_conversational_makes_messages(tmp_path):
    rows = [{"question": "Q1?", "good": "A1", "bad": "B1"}]
    r = import_table(
        _table(rows),
        "map",
        ImportOptions.make(map="prompt=question,chosen=good,rejected=bad", conversational=True),
    )
    assert (r.dtype.name, r.fmt.value) == ("preference", "conversational")
    assert r.table.to_pylist() == [
        {
            "prompt": [{"role": "user", "content": "Q1?"}],
            "chosen": [{"role": "assistant", "content": "A1"}],
            "rejected": [{"role": "assistant", "content": "B1"}],
        }
    ]
    src = tmp_path / "qa.jsonl"
    src.write_text('{"question": "Q?", "answer": "A"}\n')
    out = tmp_path / "out.jsonl"
    res = _cli("import", str(src), "--map", "prompt=question,completion=answer",
               "--conversational", "-o", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == {
        "prompt": [{"role": "user", "content": "Q?"}],
        "completion": [{"role": "assistant", "content": "A"}],
    }
    with pytest.raises(UsageError, match="no prompt or answer turn"):
        opts = ImportOptions.make(map="text=t", conversational=True)
        import_table(_table([{"t": "x"}]), "map", opts)


# ---------------------------------------------------------------- mixed kinds in a column

GSM8K = REAL / "gsm8k" / "test.jsonl"


def _gsm8k_with_a_number(tmp_path) -> Path:
    """The first 3 real GSM8K rows, the 2nd answer replaced by its final number (as some
    copies of GSM8K hold it)."""
    if not GSM8K.exists():
        pytest.skip("tests/realdata/gsm8k is not in this checkout")
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()[:3]]
    rows[1]["answer"] = int(rows[1]["answer"].rsplit("#### ", 1)[1])
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_mixed_kinds_name_the_users_column_line_and_skip(tmp_path):
    path = _gsm8k_with_a_number(tmp_path)
    src = read(path)
    opts = ImportOptions.make(map="prompt=question,completion=answer")
    with pytest.raises(Exception) as err:
        import_table(src.table, "map", opts, lines=src.lines, path=str(path))
    text = str(err.value)
    assert f"{path}:2:" in text
    assert "column 'answer' holds a number (3) where the other rows hold strings" in text
    assert "--coerce" in text and "--on-error skip" in text
    r = import_table(src.table, "map", opts, lines=src.lines, on_error="skip")
    assert r.table.num_rows == 2 and r.rejects.column("line").to_pylist() == [2]
    coerced = import_table(
        src.table, "map", ImportOptions.make(map="prompt=question,completion=answer", coerce=True)
    )
    assert coerced.table.column("completion")[1].as_py() == "3"
    assert coerced.notes == [
        "column 'answer': 1 value of another kind (numbers, booleans) read as text (--coerce)"
    ]


def test_mixed_kinds_alpaca_output_on_the_cli(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_text(
        '{"instruction": "Add 40 and 2.", "input": "", "output": 42}\n'
        '{"instruction": "Say hi.", "input": "", "output": "hi"}\n'
        '{"instruction": "Say yo.", "input": "", "output": "yo"}\n'
    )
    out = tmp_path / "out.jsonl"
    res = _cli("import", str(path), "--from", "alpaca", "-o", str(out))
    assert res.exit_code == 1
    assert f"{path}:1" in res.output and "column 'output' holds a number (42)" in res.output
    res = _cli("import", str(path), "--from", "alpaca", "--coerce", "-o", str(out),
               "--prompt-style", "plain")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text().splitlines()[0]) == {
        "prompt": "Add 40 and 2.",
        "completion": "42",
    }


MIXED_EXTRA = [7, "seven", [7], {"n": 7}, None, True]  # one extra value per row, of any kind


def _with_mixed_extra(tmp_path, sample: Path, name: str) -> tuple[Path, list[dict]]:
    """The first rows of a real sample, each with an extra column `source` holding a value
    of another kind (a number, text, a list, an object, null, a boolean), as JSON Lines."""
    rows = json.loads(sample.read_text())[: len(MIXED_EXTRA)]
    rows = [dict(r, source=v) for r, v in zip(rows, MIXED_EXTRA, strict=True)]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


@pytest.mark.parametrize(
    ("sample", "layout"),
    [
        (REAL / "alpaca_demo" / "alpaca_en_demo.json", "alpaca"),
        (REAL / "fastchat_dummy" / "dummy_conversation.json", "sharegpt"),
    ],
)
def test_an_extra_column_of_mixed_kinds_is_carried_through_an_import(tmp_path, sample, layout):
    """A column the layout does not read (`source`), holding values of several kinds, is
    carried as on the plain path: no row refused, JSON Lines gives each value back as
    written, Parquet stores its JSON text (said in a warning); the layout's own columns
    are still settled (a number among texts is refused, as before)."""
    path, rows = _with_mixed_extra(tmp_path, sample, layout)
    out = tmp_path / "o.jsonl"
    res = _cli("convert", str(path), "--from", layout, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "6 rows in, 0 rejected, 6 converted -> 6 rows out" in res.output
    assert "column 'source'" not in res.output  # JSON Lines holds the values themselves
    # a null extra is left out of its row (Arrow holds no difference from an absent key)
    assert [json.loads(x).get("source") for x in out.read_text().splitlines()] == MIXED_EXTRA
    pq_out = tmp_path / "o.parquet"
    res = _cli("import", str(path), "--from", layout, "-o", str(pq_out))
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert (
        "warning: column 'source' (an extra column) holds numbers and strings and lists and "
        f"objects and booleans in different rows, which one Arrow column cannot hold: "
        f"written to {pq_out} as JSON text"
    ) in said
    stored = pq.read_table(pq_out).column("source").to_pylist()
    assert stored == ["7", '"seven"', "[7]", '{"n":7}', None, "true"]
    with pytest.warns(UserWarning, match="column 'source' .* returned as JSON text"):
        table = api.convert(read(path).table, from_=layout)
    assert table.column("source").to_pylist() == stored
    assert [r["source"] for r in api.convert(rows, from_=layout)] == MIXED_EXTRA
    from trlprep.importers import import_dataset

    with pytest.warns(UserWarning, match="column 'source' .* returned as JSON text"):
        assert import_dataset(read(path).table, layout).column("source").to_pylist() == stored
    own = "output" if layout == "alpaca" else "conversations"  # a column the layout reads
    rows[2][own] = 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = _cli("convert", str(bad), "--from", layout, "-o", str(out), "--overwrite")
    assert res.exit_code == 1
    assert f"{bad}:3" in res.output and f"column '{own}' holds a number (3)" in res.output


def test_cli_neutral_option(tmp_path):
    out = tmp_path / "pos.jsonl"
    res = _cli("import", str(PRM), "--from", "prm800k", "--neutral", "positive", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text().splitlines()[5])["labels"] == [True] * 6
    res = _cli("import", str(PRM), "--neutral", "maybe", "-o", str(tmp_path / "x.jsonl"))
    assert res.exit_code == 2 and "--neutral" in res.output


# ---------------------------------------------------------------- HH: the README's command


HH_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
HH_FILE = HH_REAL / "hh-rlhf-harmless-base-test.jsonl.gz"


@pytest.mark.parametrize(
    ("to", "rows_out"),
    [
        ("preference", 2308),
        ("unpaired", 4616),
        ("prompt-only", 2308),
        ("prompt-completion", 2308),
        ("language-modeling", 2308),
    ],
)
def test_readme_hh_command_on_the_real_file(tmp_path, to, rows_out):
    if not HH_FILE.exists():
        pytest.skip("the shared real data is not here")
    out = tmp_path / "out.parquet"
    res = _cli("convert", str(HH_FILE), "--from", "hh", "--to", to, "-o", str(out))
    # without --on-error skip: the 4 rows whose last Assistant turn is empty stop the run,
    # naming the first one's line and what to add
    assert res.exit_code == 1
    assert "hh-rlhf-harmless-base-test.jsonl.gz:87" in res.output
    assert "ends with an empty Assistant turn" in res.output
    assert "--on-error skip" in res.output and not out.exists()
    res = _cli(
        "convert", str(HH_FILE), "--from", "hh", "--to", to, "-o", str(out), "--on-error", "skip"
    )
    assert res.exit_code == 0, res.output
    assert pq.read_metadata(out).num_rows == rows_out
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [87, 517, 926, 1104]


def test_math_shepherd_columnar_parse_equals_the_per_row_statement():
    from process_reference import parse_shepherd

    from trlprep.importers.math_shepherd import parse_shepherd_columns

    real = read(SHEPHERD).table.to_pylist()
    rows = [(r["input"], r["label"]) for r in real] + [
        ("Parker has 3. Step 1: x ки\nStep 2: y ки", "Parker has 3. Step 1: x -\nStep 2: y +"),
        ("Q: a step 1: one ки\nstep 2: two ки", "Q: a step 1: one +\nstep 2: two +"),
        ("Why? Because ки", "Why? Because +"),
        ("Step 1: a Step 1: b ки", "Step 1: a Step 1: b +"),
        ("A? B? c ки", "A? B? c +"),
        ("No question c ки", "No question c +"),
        ("Q? x ки", "Q? x ки"),
        ("Q? x ки", "Q? x +extra"),
        ("no tags at all", "no tags at all"),
        (None, "x"),
        ("Über? Step 1: ä ки\u3000\nStep 2: ö ки", "Über? Step 1: ä -\u3000\nStep 2: ö +"),
    ]
    prompts, steps, labels, why = parse_shepherd_columns(
        pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.string())
    )
    for i, (text, marks) in enumerate(rows):
        ref = parse_shepherd(text, marks)
        if isinstance(ref, str):
            assert why[i] == ref, (i, why[i], ref)
        else:
            assert why[i] is None, (i, why[i])
            got = (prompts[i].as_py(), steps[i].as_py(), labels[i].as_py())
            assert got == ref, i


def test_prm800k_columnar_walk_equals_the_per_row_statement():
    from process_reference import trajectories

    from trlprep.importers.prm800k import trajectories_columns

    def c(text, rating):
        return {"text": text, "rating": rating, "flagged": None}

    def s(cands, chosen=None, human=None):
        return {"completions": cands, "chosen_completion": chosen, "human_completion": human}

    stops = {"completions": None, "chosen_completion": None, "human_completion": None}
    solutions = [json.loads(x)["label"]["steps"] for x in PRM.read_text().splitlines()] + [
        [s([c("a", 1), c("b", -1)], 0), s([c("c", 0)], None, {"text": "h", "rating": None})],
        [s([c("a", 1)], 0), stops, s([c("never", 1)], 0)],
        [s([c("x", -1), c("y", 0)])],  # no chosen, no human: alternates only, no path row
        [s([c("a", 1), c("b", None)], 0)],
        [s([c("a", 1)], 3)],
        [s([c("a", 1)], 0), s([c(None, 1), c("z", 1)], 1)],
        [s(None, None, {"text": "only human", "rating": None})],
        [],
        None,
    ]
    steps = pa.array(solutions)
    tr = trajectories_columns(steps, len(solutions))
    texts = tr.texts.to_pylist()
    for i, sol in enumerate(solutions):
        ref, problem = trajectories(sol)
        if problem:
            assert tr.why[i] == problem, (i, tr.why[i], problem)
            continue
        assert tr.why[i] is None, (i, tr.why[i])
        got = []
        for t in np.flatnonzero(tr.rows == i):
            items = np.flatnonzero(tr.owner == t)
            got.append(([texts[k] for k in items], tr.ratings[items].tolist()))
        assert got == ref, i


def test_mt_bench_turns_mapped_onto_prompt_name_from_mt_bench(tmp_path):
    """`--map prompt=turns` on MT-Bench questions: a list of turns is no prompt; the
    refusal names the import that reads them (`--from mt-bench`)."""
    from realdata.support import run, sample

    src = sample("mt_bench")
    res = run("convert", src, "--map", "prompt=turns", "-o", tmp_path / "o.jsonl")
    said = " ".join(res.output.split())
    assert res.exit_code == 2
    assert "pass `--from mt-bench` in place of --map" in said
    res = run("validate", src, "--map", "prompt=turns")
    assert "--from mt-bench" in " ".join(res.output.split())
