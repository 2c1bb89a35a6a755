"""`trlprep train` before any heavy work: trackers and the output folder are checked first;
the output folder policy (`--overwrite` / `--resume`); TRL's option names; where the metrics
go; the route each algorithm's data takes (SFT on preference data: completion-only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("transformers")

from train_support import make_tokenizer, save_tiny_model  # noqa: E402
from trlprep.trainers.algorithms import ALGORITHMS, get_algorithm  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402
from trlprep.trainers.data_table import target_type  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402
from trlprep.cli.train_cmd import TRL_ALIASES, _specs, parse_args  # noqa: E402
from trlprep.conversion.graph import route  # noqa: E402
from trlprep.errors import UsageError  # noqa: E402
from trlprep.registry import TYPES, Format, get_type  # noqa: E402

runner = CliRunner()
PREFERENCE = [
    {"prompt": "what color is the sky ?", "chosen": " blue .", "rejected": " green ."},
    {"prompt": "what color is the sun ?", "chosen": " yellow .", "rejected": " blue ."},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("m") / "model")


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "pref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PREFERENCE))
    return path


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Loading data or a model fails the test: the checks must come first."""
    import trlprep.trainers.setup as setup

    def boom(*_a, **_k):
        raise AssertionError("data or model loaded before the checks")

    monkeypatch.setattr(setup, "prepare", boom)
    monkeypatch.setattr(setup, "load_tokenizer", boom)
    monkeypatch.setattr(setup, "build_model", boom)


def _train(model, data, out, *extra):
    args = ["train", "--algo", "dpo", "--model", str(model), "--data", str(data)]
    return runner.invoke(app, [*args, "--output-dir", str(out), *extra])


# ---------------------------------------------------------------- 11: trackers first


def test_missing_tracker_fails_before_data_and_model(
    model, data, tmp_path, monkeypatch, no_heavy_work
):
    import accelerate.tracking

    monkeypatch.setattr(accelerate.tracking, "get_available_trackers", lambda: [])
    r = _train(model, data, tmp_path / "o", "--report-to", "tensorboard")
    assert r.exit_code == 2, r.output
    assert "--report-to tensorboard: the tracker is not installed" in r.output
    assert "pip install tensorboard" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_unknown_tracker_and_unwritable_log_folder(model, data, tmp_path, no_heavy_work):
    r = _train(model, data, tmp_path / "o", "--report-to", "tensorbored")
    assert r.exit_code == 2 and "no such tracker" in r.output and "tensorboard" in r.output
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = _train(model, data, afile / "run")
    assert r.exit_code == 2, r.output
    assert "is a file, not a folder" in r.output and str(afile) in r.output


# ---------------------------------------------------------------- 13: the output folder


def test_non_empty_output_folder_needs_overwrite_or_resume(model, data, tmp_path, no_heavy_work):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = _train(model, data, out, "--max-steps", "1")
    assert r.exit_code == 2, r.output
    assert f"--output-dir {out} is not empty (notes.txt)" in r.output
    assert "--overwrite" in r.output and "--resume" in r.output
    assert (out / "notes.txt").read_text() == "mine"


def test_empty_output_folder_is_fine_and_overwrite_replaces_the_previous_run(model, data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = _train(model, data, out, "--max-steps", "2", "--logging-steps", "1", "--no-bf16")
    assert r.exit_code == 0, r.output
    assert f"metrics: {out / 'metrics.jsonl'}" in r.output  # where the metrics are, said
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    (out / "notes.txt").write_text("mine")
    r = _train(model, data, out, "--max-steps", "1", "--overwrite", "--no-bf16")
    assert r.exit_code == 0, r.output
    removed = r.output.split("--overwrite: removed ", 1)[1].splitlines()[0].split(", ")
    assert {"checkpoint-2", "metrics.jsonl", "train_config.json", "model.safetensors"} <= set(
        removed
    )
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1]
    assert (out / "notes.txt").read_text() == "mine"  # not the run's: left alone
    assert "trained 1 step;" in r.output  # one step, not "1 steps"


def test_a_failed_overwrite_leaves_the_previous_run_as_it_was(model, data, tmp_path):
    out = tmp_path / "out"
    assert _train(model, data, out, "--max-steps", "2", "--no-bf16").exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "a"}\n')  # no dataset type matches
    r = _train(model, bad, out, "--max-steps", "1", "--overwrite", "--no-bf16")
    assert r.exit_code == 1, r.output
    assert "removed" not in r.output
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    r = _train(model, data, out, "--max-steps", "1", "--overwrite", "--resume")
    assert r.exit_code == 2 and "contradict" in r.output
    assert {p.relative_to(out) for p in out.rglob("*") if p.is_file()} == set(before)


def test_overwrite_clears_every_file_a_run_writes(model, data, tmp_path):
    """The previous run's files are all known to the clearing (`PREVIOUS_RUN_FILES`): a
    LoRA run's adapters, PPO's value head and sharded weights included; others stay."""
    from trlprep.trainers.checkpoint import clear_previous_run

    out = tmp_path / "out"
    args = ("--max-steps", "1", "--no-bf16", "--lora-r", "4", "--eval-data", str(data))
    assert _train(model, data, out, *args).exit_code == 0
    assert (out / "adapter" / "adapter_config.json").is_file()
    for name in ("value_head.safetensors", "model-00001-of-00002.safetensors", "vocab.json"):
        (out / name).write_text("a previous run's")
    (out / "notes.txt").write_text("mine")
    (out / "data").mkdir()
    clear_previous_run(out)
    assert sorted(p.name for p in out.iterdir()) == ["data", "notes.txt"]


def test_resume_is_allowed_into_a_non_empty_folder(model, data, tmp_path):
    out = tmp_path / "out"
    assert _train(model, data, out, "--max-steps", "1", "--no-bf16").exit_code == 0
    r = _train(model, data, out, "--max-steps", "2", "--resume", "--no-bf16")
    assert r.exit_code == 0, r.output
    assert "resumed from" in r.output and (out / "checkpoint-2").is_dir()


# ---------------------------------------------------------------- TRL's option names


def test_trl_option_names_are_aliases():
    specs = _specs(get_algorithm("dpo").options)
    line = (
        "--model_name_or_path Qwen/Qwen2-0.5B-Instruct --dataset_name data.jsonl "
        "--output_dir out --per_device_train_batch_size 2 --per_device_eval_batch_size 4 "
        "--num_train_epochs 1 --gradient_accumulation_steps 8 --max_length 512 --beta 0.1 "
        "--learning_rate 5e-7 --logging_steps 25 --save_steps 100 --lr_scheduler_type cosine "
        "--warmup_ratio 0.1 --gradient_checkpointing --bf16 --report_to none --use_peft "
        "--lora_alpha 16 --do_train --eval_strategy steps --overwrite_output_dir --seed 3"
    ).split()
    ignored: list[str] = []
    values = parse_args(line, specs, ignored)
    assert values == {
        "model": "Qwen/Qwen2-0.5B-Instruct",
        "data": "data.jsonl",
        "output_dir": "out",
        "batch_size": 2,
        "eval_batch_size": 4,
        "num_epochs": 1.0,
        "gradient_accumulation_steps": 8,
        "max_length": 512,
        "beta": 0.1,
        "learning_rate": 5e-7,
        "logging_steps": 25,
        "save_steps": 100,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "gradient_checkpointing": True,
        "bf16": True,
        "report_to": "none",
        "lora_r": 16,
        "lora_alpha": 16,
        "overwrite": True,
        "seed": 3,
    }
    assert ignored == ["do_train", "eval_strategy"]
    assert parse_args(["--resume_from_checkpoint", "out/checkpoint-5"], specs) == {
        "resume": "out/checkpoint-5"
    }
    assert parse_args(["--no-gradient_checkpointing"], specs) == {"gradient_checkpointing": False}
    assert parse_args(["--bf16", "false", "--gradient_checkpointing", "True"], specs) == {
        "bf16": False,
        "gradient_checkpointing": True,
    }
    online = _specs(get_algorithm("grpo").options)
    for ours in TRL_ALIASES.values():
        assert ours in specs or ours in online
    assert parse_args(["--max_completion_length", "64"], online) == {"max_new_tokens": 64}
    with pytest.raises(UsageError, match="unknown option --push-to-hub"):
        parse_args(["--push_to_hub"], specs)


def test_a_trl_command_line_trains(model, data, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        [
            "train",
            "--algo",
            "dpo",
            "--model_name_or_path",
            str(model),
            "--dataset_name",
            str(data),
            "--output_dir",
            str(out),
            "--per_device_train_batch_size",
            "2",
            "--num_train_epochs",
            "1",
            "--learning_rate",
            "1e-6",
            "--beta",
            "0.2",
            "--bf16",
            "false",
            "--do_train",
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["batch_size"] == 2 and cfg["num_epochs"] == 1.0 and cfg["options"]["beta"] == 0.2
    assert "--do_train (a TRL option) changes nothing here; ignored" in r.output
    assert f"metrics: {out / 'metrics.jsonl'}" in r.output


# ---------------------------------------------------------------- 12: routes


def _has_prompt(name: str) -> bool:
    return name == "preference-implicit" or "prompt" in get_type(name).column_names(Format.STANDARD)


def test_sft_on_preference_data_trains_on_the_completion_only():
    tok = make_tokenizer()
    a = get_algorithm("sft")
    logs: list[str] = []
    p = prepare(
        PREFERENCE,
        a.layout,
        a.accepts,
        tok,
        max_length=64,
        algo="sft",
        options=a.make_options({}),
        log=logs.append,
    )
    assert p.route == ["preference", "prompt-completion"]
    assert "data: preference -> prompt-completion: 2 rows in; loss on the completion only" in logs
    prompt = tok(PREFERENCE[0]["prompt"])["input_ids"]  # with its BOS
    chosen = tok(PREFERENCE[0]["chosen"], add_special_tokens=False)["input_ids"]
    assert p.rows["ids"][0] == prompt + chosen + [tok.eos_token_id]
    assert p.rows["mask"][0] == [0] * len(prompt) + [1] * (len(chosen) + 1)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_no_algorithm_trains_on_a_prompt_it_was_given_apart(algo):
    """Data with a prompt never goes to a type without one when the algorithm accepts one
    with a prompt (SFT: prompt-completion, not language-modeling)."""
    a = get_algorithm(algo)
    for source in TYPES.values():
        dst = target_type(source, a.accepts)
        if source.name in a.accepts:
            assert dst is source
            continue
        try:
            route(source, dst)
        except UsageError:
            continue  # this data cannot train this algorithm at all
        if _has_prompt(source.name) and any(_has_prompt(t) for t in a.accepts):
            assert _has_prompt(dst.name), (algo, source.name, dst.name)
    sft = get_algorithm("sft").accepts
    for source in ("preference", "unpaired-preference", "stepwise-supervision", "implicit"):
        assert target_type(get_type(source), sft).name == "prompt-completion"


def test_the_python_api_checks_trackers_first(model, data, tmp_path, no_heavy_work):
    from trlprep.trainers import train

    cfg = {"algo": "dpo", "model": str(model), "data": str(data), "output_dir": str(tmp_path)}
    with pytest.raises(UsageError, match="no such tracker"):
        train({**cfg, "report_to": "tensorbored"})


def test_only_the_main_process_judges_the_output_folder(model, data, tmp_path, monkeypatch):
    """Under `accelerate launch` the other ranks start while rank 0 may already write."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.jsonl").write_text("{}\n")
    monkeypatch.setenv("RANK", "1")
    import trlprep.trainers.setup as setup

    monkeypatch.setattr(
        setup, "prepare", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("ran"))
    )
    r = _train(model, data, out, "--overwrite")
    assert "not empty" not in r.output and "removed" not in r.output
    assert (out / "metrics.jsonl").exists()  # rank 1 removes nothing


# ---------------------------------------------------------------- typed option values


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("learning_rate", "abc", "option learning_rate takes a number or none, not 'abc' (str)"),
        ("batch_size", "2.5", "option batch_size takes a whole number, not '2.5'"),
        ("batch_size", True, "option batch_size takes a whole number, not True (bool)"),
        ("beta", "x", "option beta takes a number, not 'x'"),
        ("bf16", "maybe", "option bf16 takes true or false or none, not 'maybe'"),
        ("learning_rate", -1.0, "learning_rate must be 0 or more, not -1.0"),
        ("num_epochs", 0, "num_epochs must be more than 0"),
        ("max_length", 0, "max_length must be at least 1 (or none), not 0"),
        ("warmup_ratio", 2, "warmup_ratio must be in [0, 1], not 2.0"),
    ],
)
def test_wrong_values_are_usage_errors_before_anything_loads(
    model, data, tmp_path, no_heavy_work, key, value, message
):
    from trlprep.trainers import train

    out = tmp_path / "o"
    cfg = {"algo": "dpo", "model": str(model), "data": str(data), "output_dir": str(out)}
    with pytest.raises(UsageError) as e:
        train({**cfg, key: value})
    assert message in str(e.value)
    assert not out.exists()


def test_numbers_written_as_text_are_numbers(model, data, tmp_path):
    """YAML 1.1 reads `5e-7` (no dot) as text: it is the number it looks like."""
    out = tmp_path / "o"
    config = tmp_path / "train.yaml"
    config.write_text(
        f"algo: dpo\nmodel: {model}\ndata: {data}\noutput_dir: {out}\nmax_steps: '1'\n"
        "learning_rate: 5e-7\nbatch_size: '2'\nbeta: '0.2'\nbf16: 'false'\nprogress: false\n"
    )
    r = runner.invoke(app, ["train", "--config", str(config)])
    assert r.exit_code == 0, r.output
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["learning_rate"] == 5e-7 and saved["batch_size"] == 2
    assert saved["max_steps"] == 1 and saved["options"]["beta"] == 0.2


def test_a_run_failing_before_its_first_step_leaves_nothing_behind(
    model, data, tmp_path, monkeypatch
):
    from trlprep.trainers import train
    from trlprep.trainers.loop import Trainer

    out = tmp_path / "o"
    cfg = {"algo": "dpo", "model": str(model), "data": str(data), "output_dir": str(out)}
    cfg |= {"max_steps": 1, "progress": False, "bf16": False}

    def fails(self, *a, **k):
        raise RuntimeError("out of memory")

    with monkeypatch.context() as m:
        m.setattr(Trainer, "_step", fails)
        with pytest.raises(RuntimeError, match="out of memory"):
            train(cfg, log=lambda *_: None)
    assert not out.exists()
    out.mkdir()  # a folder the user made: only the run's own files go
    (out / "notes.txt").write_text("mine")
    with monkeypatch.context() as m:
        m.setattr(Trainer, "_step", fails)
        with pytest.raises(RuntimeError):
            train(cfg, log=lambda *_: None, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    (out / "notes.txt").unlink()
    assert train(cfg, log=lambda *_: None).global_step == 1  # no --overwrite needed
