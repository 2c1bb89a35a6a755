"""The options a tokenised file was cut with, recorded in its schema metadata by `convert
--tokenize` and compared by `train`: ids the run's options cannot be cut from are not trained
on (the text is tokenised again, with a note), another tokenizer's are refused, and stepwise
ids are trained on as the other types' are."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_train_given_ids import PREFERENCE, _prep  # noqa: E402
from train_support import make_tokenizer  # noqa: E402

from trlprep.api import convert  # noqa: E402
from trlprep.errors import DataError, UsageError  # noqa: E402
from trlprep.templates.tokenrecord import KEY, read_record, tokenizer_identity  # noqa: E402

STEPWISE = [
    {"prompt": "what is 2 + 3 ?", "completions": ["2 + 3 is 5 .", "so 5"], "labels": [True, True]},
    {
        "prompt": "what is 4 + 4 ?",
        "completions": ["4 + 4 is 9 .", "so 9"],
        "labels": [False, False],
    },  # fmt: skip
]


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def _file(tok, rows, max_length, truncation, **kw) -> pa.Table:
    """`convert --tokenize` output as a table (its schema metadata as a Parquet file's)."""
    template = {} if rows is STEPWISE else {"chat_template": "chatml"}
    return convert(
        pa.Table.from_pylist(rows), **template, tokenizer=tok, tokenize=True,
        max_length=max_length, truncation=truncation, **kw,
    )  # fmt: skip


def test_the_file_records_its_options(tok):
    record = read_record(_file(tok, PREFERENCE, 24, "keep_end").schema)
    assert record is not None
    assert {k: record[k] for k in ("type", "max_length", "truncation", "add_eos")} == {
        "type": "preference",
        "max_length": 24,
        "truncation": "keep_end",
        "add_eos": False,
    }
    assert record["chat_template"]["name"] == "chatml"
    assert record["tokenizer"]["fingerprint"] == tokenizer_identity(tok)["fingerprint"]


@pytest.mark.parametrize(
    "made,run",
    [
        ((24, "keep_end"), (64, "keep_start")),  # another mode, and longer
        ((24, "keep_end"), (20, "keep_start")),  # another mode, shorter
        ((24, "keep_start"), (40, "keep_start")),  # longer than the file was cut
        ((24, "keep_start"), (None, "keep_start")),  # no cut at all
    ],
)
def test_a_file_cut_otherwise_is_tokenised_again_as_the_run_asks(tok, made, run):
    """Before, the cut ids were cut again as they were: keep_end ids trained as keep_start,
    or ids cut at 24 trained at 64, silently."""
    own = _prep(tok, "dpo", PREFERENCE, chat_template="chatml", max_length=run[0],
                truncation=run[1])  # fmt: skip
    logs: list[str] = []
    table = _file(tok, PREFERENCE, *made)
    given = _prep(tok, "dpo", table, logs, max_length=run[0], truncation=run[1])
    assert given.rows == own.rows
    note = next(line for line in logs if "its text is tokenised again" in line)
    assert f"the file was cut with max length {made[0]}" in note or made[1] != run[1]
    if made[1] != run[1]:
        assert f"truncation {made[1]} (this run's truncation_mode: {run[1]})" in note
    at = made[0] if run[0] is None or run[0] > made[0] else run[0]  # the shorter
    assert f"pass --max-length {at} --truncation-mode {made[1]}" in note
    assert not any("token ids read from" in line for line in logs)


@pytest.mark.parametrize(
    "made,run",
    [
        ((32, "keep_end"), (22, "keep_end")),  # the same mode, shorter
        ((None, "keep_start"), (22, "keep_end")),  # whole ids
        ((500, "keep_end"), (1024, "keep_start")),  # no row reached 500: nothing was cut
    ],
)
def test_ids_the_run_can_cut_exactly_are_trained_on(tok, made, run):
    own = _prep(tok, "dpo", PREFERENCE, chat_template="chatml", max_length=run[0],
                truncation=run[1])  # fmt: skip
    logs: list[str] = []
    given = _prep(tok, "dpo", _file(tok, PREFERENCE, *made), logs, max_length=run[0],
                  truncation=run[1])  # fmt: skip
    assert given.rows == own.rows
    assert any("token ids read from" in line for line in logs)
    assert not any("its text is tokenised again" in line for line in logs)


def test_ids_of_another_recorded_tokenizer_are_refused(tok):
    table = _file(tok, PREFERENCE, None, "keep_start")
    meta = json.loads(table.schema.metadata[KEY])
    meta["tokenize"]["tokenizer"].update(name="other/model", fingerprint="0123456789abcdef")
    table = table.replace_schema_metadata({KEY: json.dumps(meta).encode()})
    with pytest.raises(DataError, match="tokenised with the tokenizer other/model") as e:
        _prep(tok, "dpo", table, max_length=64)
    assert "fingerprint 0123456789abcdef" in str(e.value) and "--tokenizer" in e.value.hint


def test_without_a_record_keep_end_pairs_are_refused_for_keep_start(tok):
    """JSON Lines keeps no metadata: the `*_prompt_start` columns still say keep_end."""
    table = _file(tok, PREFERENCE, 24, "keep_end").replace_schema_metadata(None)
    with pytest.raises(UsageError, match="chosen_prompt_start says its pairs were cut with"):
        _prep(tok, "dpo", table, max_length=24, truncation="keep_start")
    logs: list[str] = []
    _prep(tok, "dpo", table, logs, max_length=24, truncation="keep_end")
    assert any("token ids read from" in line for line in logs)


def _prm(tok, rows, logs=None, separator="\n", **kw):
    from trlprep.trainers.algorithms import get_algorithm
    from trlprep.trainers.data import prepare

    a = get_algorithm("prm")
    return prepare(
        rows, a.layout, a.accepts, tok, algo="prm",
        options=a.make_options({"step_separator": separator}),
        log=(logs.append if logs is not None else lambda _: None), max_length=64, **kw,
    )  # fmt: skip


def test_stepwise_ids_are_trained_on(tok):
    """Before, stepwise files were tokenised again from their text. One id of the file is
    changed: the rows trained on hold it, so they are the file's ids."""
    table = _file(tok, STEPWISE, None, "keep_start", step_separator="\n")
    assert _prm(tok, table).rows == _prm(tok, STEPWISE).rows
    steps = table.column("completions_ids").to_pylist()
    steps[0][0][0] = (steps[0][0][0] + 1) % len(tok)
    changed = table.set_column(
        table.column_names.index("completions_ids"), "completions_ids",
        pa.array(steps, table.schema.field("completions_ids").type),
    )  # fmt: skip
    logs: list[str] = []
    got = _prm(tok, changed, logs)
    prompts = table.column("prompt_ids").to_pylist()
    assert got.rows["ids"] == [p + sum(s, []) for p, s in zip(prompts, steps, strict=True)]
    assert any("token ids read from prompt_ids, completions_ids" in line for line in logs)


def test_stepwise_ids_of_another_separator_are_tokenised_again(tok):
    table = _file(tok, STEPWISE, None, "keep_start", step_separator="\n")
    logs: list[str] = []
    got = _prm(tok, table, logs, separator=" ; ")
    assert got.rows == _prm(tok, STEPWISE, separator=" ; ").rows
    assert any("the file's step separator is '\\n'" in line for line in logs)
    bare = table.replace_schema_metadata(None)  # no record: the ids' step ends are checked
    logs.clear()
    assert _prm(tok, bare, logs, separator=" ; ").rows == got.rows
    assert any("do not end with this run's step_separator" in line for line in logs)


def test_a_rendered_file_converted_on_the_way_in_gets_no_bos_or_eos_added(tok):
    """SFT on a chat-rendered preference file: converted to prompt-completion, its text is
    tokenised as the chat-rendered text it is (the record says so), as the conversation
    would be; before, as standard text, with an EOS the template never wrote."""
    own = _prep(tok, "sft", PREFERENCE, chat_template="chatml", max_length=64)
    logs: list[str] = []
    given = _prep(tok, "sft", _file(tok, PREFERENCE, None, "keep_start"), logs, max_length=64)
    assert any("preference -> prompt-completion" in line for line in logs)
    assert given.rows == own.rows


def test_another_chat_template_than_the_files_is_refused(tok):
    """The file's text is rendered: a --chat-template other than its own was ignored."""
    table = _file(tok, PREFERENCE, None, "keep_start")  # rendered with chatml
    with pytest.raises(UsageError, match="rendered with the chat template chatml") as e:
        _prep(tok, "dpo", table, max_length=64, chat_template="{{ messages }}")
    assert "drop --chat-template" in e.value.hint
    logs: list[str] = []
    _prep(tok, "dpo", table, logs, max_length=64, chat_template="chatml")  # the same one
    assert any("token ids read from" in line for line in logs)


@pytest.mark.parametrize("suffix", ["parquet", "arrow"])
def test_convert_writes_the_record_into_the_file(tmp_path, suffix):
    """Also stepwise data, which `convert --tokenize` refused ("needs a step separator")."""
    from pathlib import Path

    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from trlprep.cli import app

    root = Path(__file__).parents[1] / "examples"
    model = str(root / "tiny-chat-model")
    for data, dtype, options in (
        ("preference.jsonl", "preference", ["--max-length", "16", "--truncation", "keep_end"]),
        ("stepwise.jsonl", "stepwise-supervision", []),
    ):
        out = tmp_path / f"{dtype}.{suffix}"
        r = CliRunner().invoke(
            app, ["convert", str(root / data), "--tokenize", "--tokenizer", model, *options,
                  "-o", str(out)],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        if suffix == "parquet":
            schema = pq.read_schema(out)
        else:
            with ipc.open_file(out) as f:
                schema = f.schema
        record = read_record(schema)
        assert record is not None and record["type"] == dtype
        assert record["tokenizer"]["vocab_size"] == 640 and record["chat_template"] is None
        if dtype == "preference":
            assert (record["max_length"], record["truncation"], record["add_eos"]) == (
                16, "keep_end", True,
            )  # fmt: skip
        else:
            assert (record["step_separator"], record["add_eos"]) == ("\n", False)


def test_reward_and_prompt_ids_cut_otherwise_say_how_to_tokenise_them(tok):
    """Reward rows are never cut and generation prompts keep their end, whatever the run's
    options: the note says how to tokenise the file instead of which option to pass."""
    implicit = [{"chosen": r["prompt"] + r["chosen"], "rejected": r["prompt"] + r["rejected"]}
                for r in PREFERENCE]  # fmt: skip
    own = _prep(tok, "reward", implicit, chat_template="chatml", max_length=64)
    logs: list[str] = []
    given = _prep(tok, "reward", _file(tok, implicit, 12, "keep_start"), logs, max_length=64)
    assert given.rows == own.rows
    assert any("reward rows are never cut" in line for line in logs)
    prompts = [{"prompt": r["prompt"]} for r in PREFERENCE]
    own = _prep(tok, "grpo", prompts, chat_template="chatml", max_length=64)
    logs.clear()
    given = _prep(tok, "grpo", _file(tok, prompts, 6, "keep_start"), logs, max_length=64)
    assert given.rows["prompt"] == own.rows["prompt"]
    assert any("generation prompts always keep their end" in line for line in logs)


def test_a_record_without_a_vocabulary_size_still_names_the_other_tokenizer():
    from trlprep.trainers.given_ids import _same_tokenizer

    with pytest.raises(DataError, match=r"tokenizer \? \(vocabulary \?, fingerprint abc\)"):
        _same_tokenizer({"tokenizer": {"fingerprint": "abc"}}, make_tokenizer(), "f.parquet")


def test_a_save_to_disk_folder_keeps_the_record(tok, tmp_path):
    """Before, a folder kept only `datasets`' own metadata: `train` judged it as JSON Lines,
    and refused these keep_end pairs for a keep_start run instead of tokenising the text
    again as the record says it was tokenised."""
    from trlprep.io.readers import read
    from trlprep.io.writers import write

    table = _file(tok, PREFERENCE, 24, "keep_end")
    out = tmp_path / "tokenised"
    write(table, out, output_format="disk")
    assert read_record(read(str(out)).table.schema) == read_record(table.schema)
    write({"train": table, "test": table}, tmp_path / "splits", output_format="disk")
    back = read(str(tmp_path / "splits"), split="test").table
    assert read_record(back.schema) == read_record(table.schema)
    own = _prep(tok, "dpo", PREFERENCE, chat_template="chatml", max_length=20,
                truncation="keep_start")  # fmt: skip
    logs: list[str] = []
    given = _prep(tok, "dpo", str(out), logs, max_length=20, truncation="keep_start")
    assert given.rows == own.rows
    assert any("truncation keep_end (this run's truncation_mode: keep_start)" in line
               for line in logs)  # fmt: skip


def test_a_returned_dataset_keeps_the_record(tok, tmp_path):
    """The Python API given a `datasets.Dataset` gives one back: the record rides in its
    `DatasetInfo.description`, through `select`, `with_format` and `save_to_disk`."""
    datasets = pytest.importorskip("datasets")
    from trlprep.io.readers import dataset_table

    ds = convert(datasets.Dataset.from_list(PREFERENCE), chat_template="chatml", tokenizer=tok,
                 tokenize=True, max_length=24, truncation="keep_end")  # fmt: skip
    assert isinstance(ds, datasets.Dataset)
    record = read_record(dataset_table(ds).schema)
    assert record is not None and (record["max_length"], record["truncation"]) == (24, "keep_end")
    ds.save_to_disk(str(tmp_path / "saved"))
    saved = datasets.load_from_disk(str(tmp_path / "saved"))
    for kept in (ds.select([1, 0]), ds.with_format("numpy"), saved):
        assert read_record(dataset_table(kept).schema) == record
    own = _prep(tok, "dpo", PREFERENCE, chat_template="chatml", max_length=40,
                truncation="keep_end")  # fmt: skip
    logs: list[str] = []
    given = _prep(tok, "dpo", ds, logs, max_length=40, truncation="keep_end")
    assert given.rows == own.rows
    assert any("the file was cut with max length 24 (this run's max_length: 40)" in line
               for line in logs)  # fmt: skip
    plain = datasets.Dataset.from_list([{"text": "a"}], info=datasets.DatasetInfo(
        description='{"trlprep" is how it starts, but this is no JSON'))  # fmt: skip
    assert read_record(dataset_table(plain).schema) is None


LM = [
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    {"messages": [{"role": "user", "content": "2 + 2 ?"}, {"role": "assistant", "content": "4"}]},
]


def test_a_chat_template_on_token_ids_without_a_rendering_template_is_refused(tok):
    """Ids only (language-modeling, tokenized) whose record names no chat template, or that
    have no record (JSON Lines, other tools): the flag cannot apply, so it is refused (exit
    2) as on standard text, not ignored; ids whose record names it train as they are."""
    rendered = convert(pa.Table.from_pylist(LM), chat_template="chatml", tokenizer=tok,
                       tokenize=True).select(["input_ids"])  # fmt: skip
    assert read_record(rendered.schema)["chat_template"]["name"] == "chatml"
    plain = convert(pa.Table.from_pylist([{"text": "the sky is blue ."}]), tokenizer=tok,
                    tokenize=True).select(["input_ids"])  # fmt: skip
    assert read_record(plain.schema)["chat_template"] is None
    unrecorded = rendered.replace_schema_metadata(None)
    for table in (plain, unrecorded):
        with pytest.raises(UsageError, match="this data is token ids") as e:
            _prep(tok, "sft", table, max_length=64, chat_template="chatml")
        assert e.value.exit_code == 2 and "drop --chat-template" in e.value.hint
        assert _prep(tok, "sft", table, max_length=64).rows  # without the flag: trained on
    logs: list[str] = []
    _prep(tok, "sft", rendered, logs, max_length=64, chat_template="chatml")  # its own
    assert any("token ids read from input_ids" in line for line in logs), logs
    with pytest.raises(UsageError, match="rendered with the chat template chatml"):
        _prep(tok, "sft", rendered, max_length=64, chat_template="{{ messages }}")


STANDARD_PREFERENCE = [
    {k: r[k][0]["content"] for k in ("prompt", "chosen", "rejected")} for r in PREFERENCE
]
RENDER_AGAIN = "convert the conversational data again with this model's tokenizer"


def _another_tokenizer(table: pa.Table) -> pa.Table:
    meta = json.loads(table.schema.metadata[KEY])
    meta["tokenize"]["tokenizer"].update(name="other/model", fingerprint="0123456789abcdef")
    return table.replace_schema_metadata({KEY: json.dumps(meta).encode()})


def _beyond_the_vocabulary(tok, table: pa.Table) -> pa.Table:
    """`table` without its record (as JSON Lines), row 1's chosen ids ending past the vocab."""
    ids = table.column("chosen_ids").to_pylist()
    ids[1] = [*ids[1], len(tok) + 7]
    at = table.column_names.index("chosen_ids")
    table = table.set_column(at, "chosen_ids", pa.array(ids, table.schema.field(at).type))
    return table.replace_schema_metadata(None)


def test_chat_rendered_ids_of_another_tokenizer_say_to_render_the_conversations_again(tok):
    """The hint said to drop the id columns and tokenise the text: but that text is rendered
    with the other model's chat template, so it would train on the other model's rendering."""
    rendered = _file(tok, PREFERENCE, None, "keep_start")
    for table in (_another_tokenizer(rendered), _beyond_the_vocabulary(tok, rendered)):
        with pytest.raises(DataError) as e:
            _prep(tok, "dpo", table, max_length=64)
        assert RENDER_AGAIN in e.value.hint and "drop the id columns" not in e.value.hint
        assert "--tokenize --tokenizer" in e.value.hint
        assert "train on the untokenised conversational file" in e.value.hint
    plain = convert(pa.Table.from_pylist(STANDARD_PREFERENCE), tokenizer=tok, tokenize=True)
    assert read_record(plain.schema)["chat_template"] is None  # standard text, not rendered
    for table in (_another_tokenizer(plain), _beyond_the_vocabulary(tok, plain)):
        with pytest.raises(DataError) as e:
            _prep(tok, "dpo", table, max_length=64)
        assert "drop the id columns to tokenise the text" in e.value.hint
        assert RENDER_AGAIN not in e.value.hint
