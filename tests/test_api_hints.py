"""The Python API's errors name keyword arguments (`on_error='skip'`) where the CLI's name
flags (`--on-error skip`): the flag table checked against the API's signatures and the CLI's
options, and real error cases said both ways."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import warnings

import pytest
from realdata.support import HERE, run, sample

import trlprep
from trlprep.errors import TrlprepError
from trlprep.keywords import BOOL, CHOICE, FLAG_KEYWORDS, api_keywords, keyword_of
from trlprep.keywords.said import python_words

HH = sample("hh_rlhf")
SHAREGPT = sample("fastchat_dummy")
HUMANEVAL = sample("humaneval")
GSM8K = sample("gsm8k")
BATCH = sample("openai_batch_requests")
KTO = sample("kto_demo")
V1_SFT = HERE / "llamafactory_v1" / "v1_sft_demo.first100.jsonl"

# ---------------------------------------------------------------- the table and the signatures


API = {
    "convert": "trlprep.api",
    "validate": "trlprep.api",
    "detect": "trlprep.api",
    "report": "trlprep.datareport.build",
    "import_dataset": "trlprep.importers.run",
    "write": "trlprep.io.writers",
    "read": "trlprep.io.readers",
    "apply_chat_template": "trlprep.compat.templates",
}
COMMANDS = {"convert": "convert", "validate": "validate", "detect": "detect", "report": "report"}
COMMANDS["import"] = "import_dataset"


def _api(name: str):
    return getattr(importlib.import_module(API[name]), name)


def test_api_keywords_read_the_signatures():
    from trlprep.api import IMPORT_OPTIONS

    assert {"from_", "on_error", "coerce", "map", "separator", "order"} <= api_keywords(
        trlprep.convert
    )
    assert IMPORT_OPTIONS <= api_keywords(trlprep.validate)
    assert "map" not in api_keywords(trlprep.detect)
    assert keyword_of("from", trlprep.report) == "from_"
    assert keyword_of("from", _api("import_dataset")) == "from_"
    assert keyword_of("on-error", trlprep.apply_chat_template) is None


def test_every_keyword_of_the_table_is_taken_by_an_api_function():
    taken = {f: [n for n in API if keyword_of(f, _api(n))] for f in FLAG_KEYWORDS}
    assert all(taken.values()), [f for f, names in taken.items() if not names]


# CLI options whose Python function takes a keyword of the same name meant otherwise
SAID_OTHERWISE = {"--tools": "a JSON file on the CLI, a list of tool schemas in Python"}
# CLI options the command's Python function does not take (the flag stays in its errors)
NOT_IN_PYTHON: set[tuple[str, str]] = set()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_cli_option_of_an_api_keyword_is_in_the_table(command):
    import typer.main

    from trlprep.cli import app

    func = _api(COMMANDS[command])
    takes = api_keywords(func) | api_keywords(trlprep.write)  # `-o OUT`: trlprep.write
    click = typer.main.get_command(app).commands[command]
    for param in click.params:
        flag = next((o for o in param.opts if o.startswith("--")), None)
        if flag is None or flag in SAID_OTHERWISE:
            continue
        if flag[2:] in FLAG_KEYWORDS:
            said = keyword_of(flag[2:], func) or keyword_of(flag[2:], trlprep.write)
            assert (said is None) == ((command, flag) in NOT_IN_PYTHON), (command, flag)
        else:  # a flag left as it is must have no keyword of its name
            assert param.name.rstrip("_") not in takes, (command, flag)


def test_the_choices_are_the_code_s():
    from trlprep.importers.options import NEUTRAL, PAIRINGS, PROMPT_STYLES
    from trlprep.io.outputcheck import OUTPUT_FORMATS
    from trlprep.io.readers import FORMATS

    assert FLAG_KEYWORDS["pairing"][2] == PAIRINGS
    assert FLAG_KEYWORDS["neutral"][2] == NEUTRAL
    assert FLAG_KEYWORDS["prompt-style"][2] == PROMPT_STYLES
    assert FLAG_KEYWORDS["input-format"][2] == FORMATS
    assert FLAG_KEYWORDS["output-format"][2] == OUTPUT_FORMATS
    assert all(kind != CHOICE or choices for _, kind, choices in FLAG_KEYWORDS.values())


@pytest.mark.parametrize(
    ("cli", "python"),
    [
        ("pass --on-error skip to", "pass on_error='skip' to"),
        ("--map prompt=q,completion=a", "map={'prompt': 'q', 'completion': 'a'}"),
        ("`--from LAYOUT`", "`from_=LAYOUT`"),
        ("use --from sharegpt.", "use from_='sharegpt'."),
        ("drop --from to use the detected type", "drop from_ to use the detected type"),
        ("(--coerce)", "(coerce=True)"),
        ("pass --separator to put", "pass separator to put"),
        ("unknown --on-error 'x'", "unknown on_error 'x'"),
        ("--tokenizer/--max-length need --tokenize", "tokenizer/max_length need tokenize=True"),
        ("(--truncation keep_end)", "(truncation='keep_end')"),
        ("--template-kwarg a=false --template-kwarg b='</s>'",
         "template_kwargs={'a': False, 'b': '</s>'}"),
        ("(e.g. --map a_orig=a,...)", "(e.g. map={'a_orig': 'a', ...})"),
        ("(`trlprep convert --to prompt-only`)", "(`trlprep.convert(..., to='prompt-only')`)"),
        ("`trlprep convert DATA --conversational -o OUT` and check OUT",
         "`OUT = trlprep.convert(DATA, conversational=True)` and check OUT"),
        ("`trlprep validate` lists every problem", "`trlprep.validate` lists every problem"),
        ("pass --rejects FILE or --engine ray", "pass --rejects FILE or --engine ray"),
        ("`trlprep convert DATA --rejects R.jsonl`", "`trlprep convert DATA --rejects R.jsonl`"),
    ],
)  # fmt: skip
def test_flags_said_as_keywords(cli, python):
    assert python_words(cli) == python


def test_said_once():
    said = python_words("pass --on-error skip, --map a=b and --from hh")
    assert python_words(said) == said


def test_every_flag_of_the_table_is_said_without_dashes():
    for flag, (keyword, kind, choices) in FLAG_KEYWORDS.items():
        value = {BOOL: "", CHOICE: " " + (choices[0] if choices else "")}.get(kind, " NAME")
        said = python_words(f"pass --{flag}{value} here")
        assert "--" not in said and keyword in said, (flag, said)


# ---------------------------------------------------------------- real errors, both ways


def _api_error(call) -> TrlprepError:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TrlprepError) as info:
            call()
    return info.value


def _no_flags(e: TrlprepError) -> str:
    said = str(e)
    assert not re.search(r"(?<![\w-])--[a-z]", said), said
    return said


@pytest.fixture
def utf16(tmp_path):
    path = tmp_path / "u16.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n', encoding="utf-16")
    return path


@pytest.fixture
def bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\nnot json\n')
    return path


@pytest.fixture
def number_answer(tmp_path):
    path = tmp_path / "num.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": 42}\n')
    return path


def test_hh_rows_with_empty_turns_name_on_error():
    e = _api_error(lambda: trlprep.convert(HH, "preference", from_="hh"))
    said = _no_flags(e)
    assert e.line == 87 and "pass on_error='skip' to import the other rows" in e.hint
    assert "keep_empty_turns=True keeps them as prompt-only rows" in said
    assert "Python:" not in said  # said once, not twice
    cli = run("convert", HH, "--from", "hh", "--to", "preference", "-o", "unused.jsonl")
    assert cli.exit_code == 1
    assert "or pass --on-error skip to write the other rows" in cli.output
    assert "--keep-empty-turns keeps them as prompt-only rows" in cli.output
    assert "on_error=" not in cli.output and "keep_empty_turns=" not in cli.output


def test_import_dataset_names_on_error():
    from trlprep.importers import import_dataset

    e = _api_error(lambda: import_dataset(HH, "hh"))
    assert "on_error='skip'" in _no_flags(e)
    assert "keep_empty_turns=True keeps them as prompt-only rows" in str(e)


def test_sharegpt_read_with_another_layout_names_map_and_from_():
    e = _api_error(lambda: trlprep.convert(SHAREGPT, "pc", from_="alpaca"))
    assert e.hint == "pass from_='sharegpt', or rename a column with map={'instruction': NAME}"
    assert isinstance(e, trlprep.UsageError) and "looks like the sharegpt layout" in str(e)
    _no_flags(e)


def test_humaneval_needs_map_completion():
    e = _api_error(lambda: trlprep.convert(HUMANEVAL, "pc"))
    assert "pass `map={'completion': 'canonical_solution'}`" in e.hint
    assert "trlprep.convert(DATA, map={'completion': 'canonical_solution'})" in e.hint
    _no_flags(e)
    cli = run("convert", HUMANEVAL, "--to", "pc", "-o", "unused.jsonl")
    assert cli.exit_code == 2 and "--map completion=canonical_solution" in cli.output


def test_gsm8k_needs_map_prompt_and_completion():
    e = _api_error(lambda: trlprep.convert(GSM8K, "pc"))
    # the advice is the hint, not a generic "import the layout with from_=LAYOUT" beside it
    assert "map={'prompt': 'question', 'completion': 'answer'}" in e.hint
    assert "from_=LAYOUT" not in e.hint
    _no_flags(e)


def test_batch_requests_need_map_of_a_field():
    e = _api_error(lambda: trlprep.convert(BATCH, "lm"))
    assert "map={'messages': 'body.messages'}" in _no_flags(e)


def test_utf16_file_says_no_flag(utf16):
    for call in (lambda: trlprep.convert(utf16, "pc"), lambda: trlprep.validate(utf16)):
        e = _api_error(call)
        assert "UTF-16" in e.message and "iconv" in _no_flags(e)


def test_existing_output_names_overwrite(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("x")
    table = trlprep.read(GSM8K).table
    e = _api_error(lambda: trlprep.write(table, out))
    assert e.hint == "pass overwrite=True to replace it"
    cli = run("convert", KTO, "--to", "unpaired", "-o", out)
    assert cli.exit_code == 2 and "--overwrite" in cli.output


def test_a_bad_line_names_on_bad_lines(bad_line):
    report = trlprep.validate(bad_line)
    assert [i.rule for i in report.issues] == ["invalid-line"]
    for call in (
        lambda: trlprep.read(bad_line),
        lambda: trlprep.convert(bad_line, "pc"),
        lambda: trlprep.detect(bad_line),
        lambda: _api("import_dataset")(bad_line, "alpaca"),
    ):
        e = _api_error(call)
        assert e.line == 2 and e.hint.endswith("or pass on_bad_lines='skip'"), e.hint
        _no_flags(e)
    cli = run("detect", bad_line)
    assert "--on-bad-lines skip" in cli.output and "on_bad_lines=" not in cli.output


def test_a_number_among_text_names_coerce_and_on_error(number_answer):
    e = _api_error(lambda: trlprep.convert(number_answer, "pc"))
    said = _no_flags(e)
    assert "pass coerce=True to read numbers as text" in said
    assert "or pass on_error='skip' to get the other rows back" in said
    cli = run("convert", number_answer, "--to", "pc", "-o", number_answer.with_suffix(".o.jsonl"))
    assert cli.exit_code == 1 and "--coerce" in cli.output and "--on-error skip" in cli.output


def test_tokenize_without_tokenizer_names_tokenizer():
    e = _api_error(lambda: trlprep.convert(KTO, "unpaired", tokenize=True))
    assert (e.message, e.hint) == ("tokenize=True needs a tokenizer", "pass tokenizer=PATH_OR_ID")


def test_a_chat_template_on_text_names_chat_template():
    mapped = "prompt=question,completion=answer"
    e = _api_error(lambda: trlprep.convert(GSM8K, "pc", map=mapped, chat_template="qwen2.5"))
    assert e.hint == (
        "drop chat_template, or pass conversational=True to make the text messages (prompt: "
        "user, answers: assistant) rendered with it"
    )
    _no_flags(e)


def test_llamafactory_v1_rows_name_from_():
    rows = [json.loads(line) for line in V1_SFT.read_text().splitlines()[:3]]
    e = _api_error(lambda: trlprep.apply_chat_template(rows, "qwen2.5"))
    assert e.hint == "import it with trlprep.convert(..., from_='llamafactory-v1')"


def test_an_unnamed_input_format_names_input_format(tmp_path):
    path = tmp_path / "data.dat"
    path.write_text('{"prompt": "a", "completion": "b"}\n')
    for call in (lambda: trlprep.detect(path), lambda: trlprep.convert(path, "lm")):
        e = _api_error(call)
        assert "input_format='jsonl'|'json'" in _no_flags(e)
    out = trlprep.convert(path, "lm", input_format="jsonl")  # as the hint says
    assert out.column_names == ["text"]


def test_the_internal_functions_keep_the_cli_s_words():
    from trlprep.api import convert

    with pytest.raises(TrlprepError) as info:
        convert(HUMANEVAL, "pc")
    assert "--map completion=canonical_solution" in info.value.hint
    assert trlprep.convert.__wrapped__ is convert
    assert inspect.signature(trlprep.convert) == inspect.signature(convert)


# ---------------------------------------------------------------- words kept, Python that parses


def test_a_command_ends_at_its_first_other_word():
    said = python_words(
        "fix the rows (see the reason), or set them aside: trlprep convert DATA --from "
        "LAYOUT --on-error skip -o OUT writes the others and a rejects file",
        _api("validate"),
    )
    assert said == (
        "fix the rows (see the reason), or set them aside: OUT = trlprep.convert(DATA, "
        "from_=LAYOUT, on_error='skip') writes the others and a rejects file"
    )


def test_a_command_before_a_colon_is_said_and_the_flags_after_it_too():
    said = python_words(
        "labels: `--from ranked --map completions=answers,ranks=score` (trlprep convert DATA "
        "--from ranked --map completions=answers,ranks=score -o OUT: preference pairs, "
        "--pairing; unpaired with --threshold N)",
        _api("convert"),
    )
    ranked = "from_='ranked', map={'completions': 'answers', 'ranks': 'score'}"
    assert said == (
        f"labels: `{ranked}` (OUT = trlprep.convert(DATA, {ranked}): preference pairs, "
        "pairing; unpaired with threshold=N)"
    )


def test_flags_side_by_side_are_one_call():
    said = python_words(
        "pass `--map label=label --coerce` (trlprep convert DATA --map label=label --coerce "
        "-o OUT; --coerce reads 0/1 values as booleans)",
        _api("detect"),
    )
    assert said == (
        "pass `trlprep.convert(..., map={'label': 'label'}, coerce=True)` (OUT = "
        "trlprep.convert(DATA, map={'label': 'label'}, coerce=True); "
        "trlprep.convert(..., coerce=True) reads 0/1 values as booleans)"
    )


def test_a_built_in_template_name_is_the_chat_template_keyword_s_value():
    """`--chat-template chatml` in a command was said `chat_template=...) chatml`: a built-in
    name has no `/` or `.` to read as a path."""
    said = python_words(
        "convert it again (`trlprep convert DATA --chat-template chatml --tokenize --tokenizer "
        "./m -o OUT`), or drop --chat-template to train on the text",
        _api("convert"),
    )
    assert said == (
        "convert it again (`OUT = trlprep.convert(DATA, chat_template='chatml', tokenize=True, "
        "tokenizer='./m')`), or drop chat_template to train on the text"
    )


def test_a_repeated_flag_merges_only_across_a_comma():
    convert = _api("convert")
    said = python_words("rename (--map a=b) --map c=d first", convert)
    assert said == "rename (map={'a': 'b'}) map={'c': 'd'} first"
    said = python_words("pass --map a=b, --map c=d first", convert)
    assert said == "pass map={'a': 'b', 'c': 'd'} first"


# hints and notes trlprep writes with flags in them (taken from the code, f-strings filled in)
HINTS = [
    "pass --tokenizer PATH_OR_ID",
    "drop --chat-template",
    "pass --chat-template, or a --tokenizer that has one",
    "rename the columns, or import the layout with `--from LAYOUT`",
    "tokenise it with the trainer (`trlprep train --algo prm --step-separator`)",
    "raise --max-length, keep the prompt's end (--truncation keep_end), or set these rows "
    "aside (--on-error skip)",
    "fix or drop these rows (--on-error skip sets them aside)",
    "tokenise with the model's tokenizer (`trlprep convert --tokenize --tokenizer MODEL`), or "
    "drop the id columns to tokenise the text",
    "import it with --from llamafactory-v1",
    "pass --tokenizer SRC (its special tokens are used) or --template-kwarg bos=... "
    "--template-kwarg eos=...",
    "pass a built-in name (`trlprep templates`) or a .jinja file with --chat-template",
    "e.g. --template-kwarg enable_thinking=false --template-kwarg eos_token='</s>'",
    "pick another --from, or rename columns with --map",
    "rename it first (--map prompt_orig=prompt)",
    "rename a column with --map chosen=NAME, or pick another --from",
    "add --conversational to make each completion one assistant message (or map a text prompt)",
    "drop one of them (or rename it with --map label_orig=label)",
    "rename that one too (e.g. --map prompt_orig=prompt,...) or drop it",
    "for {from, value} turns use --from sharegpt",
    "map them to a type's columns, e.g. --map prompt=question,completion=answer "
    "(`trlprep schema TYPE` lists a type's columns)",
    "add --conversational to make each text one message (prompt: user; completion, chosen, "
    "rejected: assistant)",
    "fix the row, or pass --on-error skip to import the other rows and set such rows aside "
    "with their reasons (3 more in this batch)",
    "name their file with --rejects FILE (it may be a device or FIFO too)",
    "pass --rejects with another path, or leave it out (default: out.rejects.jsonl)",
    "pass the layout that matches the data to --from",
    "for {role, content} messages whose content is a list of parts, --map "
    "messages=conversations reads them as they are",
    "with --allow-empty, pass --to TYPE (the empty output's columns)",
    "`trlprep convert DATA --from LAYOUT --to TYPE --allow-empty` writes an empty output with "
    "TYPE's columns",
    "pass --from LAYOUT to import the rows first, or drop --map",
    "add --on-error skip",
    "pass -o OUT (or --explain to only plan)",
    "use --to prompt-only with it, or drop it and pass --on-error skip to set those rows aside",
    "pass --from LAYOUT (sharegpt, alpaca, ranked ...), or --map to rename columns",
    "check the file (and --split)",
    "tokenise first (convert --tokenize --tokenizer SRC)",
    "pass --overwrite to replace it",
    "write to a regular file or folder, or pass --output-format jsonl to stream JSON Lines "
    "through it",
    "name it .parquet or pass --input-format parquet",
    "check the file (and --split); pass --allow-empty to accept an empty dataset",
    "fix the rows (see the reason), or set them aside: trlprep convert DATA --from LAYOUT "
    "--on-error skip -o OUT writes the others and a rejects file",
    "column 'answers' holds completions scored by 'score': pass `--from ranked --map "
    "completions=answers,ranks=score` (trlprep convert DATA --from ranked --map "
    "completions=answers,ranks=score -o OUT: preference pairs, --pairing; unpaired with "
    "--threshold N)",
    'store booleans (true/false), or pass --coerce, which reads 0/1 and "true"/"false" as '
    "booleans: `trlprep validate --coerce` checks the rows as `trlprep convert --coerce` "
    "converts them (also import, train)",
    "a public layout: import it with `trlprep import x.jsonl --from alpaca -o OUT`, or "
    "`trlprep convert ... --from alpaca`",
    ": make it messages first with `trlprep convert DATA --conversational -o OUT` and check OUT",
    "`trlprep convert DATA --map messages=body.messages -o OUT` and check OUT",
    "(trlprep convert DATA --map ... -o OUT), or rename them",
]
_CODE = re.compile(
    r"(?:OUT = )?trlprep\.[\w.]+\((?:[^()]|\([^()]*\))*\)"  # a call
    r"|\b\w+=(?:\{[^{}]*\}|'[^']*'|[\w.]+)"  # a keyword argument
)


def _words(text: str) -> list[str]:
    """The words of `text` that are no flag's: flags and their values, placeholders, the
    commands and the Python said for them left out, punctuation stripped."""
    text = _CODE.sub(" ", text)
    bare = r"|(?<![\w./-])(?:convert|validate|detect|report|import|train)(?= --)"
    text = re.sub(r"(?<![\w-])--?[a-z][\w-]*(?: [^\s`]+)?|\btrlprep [a-z]+" + bare, " ", text)
    words = (w.strip("`()[],;:.'\"") for w in text.split())
    return sorted(w for w in words if w.isalpha() and w.islower() and w != "trlprep")


@pytest.mark.parametrize("func", ["convert", "validate", "detect", "report", "import_dataset"])
def test_every_word_of_a_hint_is_kept_and_its_python_parses(func):
    assert len(HINTS) >= 30 and all("--" in h for h in HINTS)
    api = _api(func)
    for hint in HINTS:
        said = python_words(hint, api)
        for word in _words(hint):
            assert word in _words(said), (word, hint, said)
        for code in _CODE.findall(said):
            # `...` stands for the caller's arguments, and a dict's other items
            code = code.removeprefix("OUT = ").replace("(..., ", "(DATA, ").replace(", ...}", "}")
            ast.parse(code if "(" in code.split("=")[0] else f"f({code})", mode="eval")
        assert python_words(said, api) == said, said


def test_a_command_with_a_file_s_name_and_three_dots():
    said = python_words(
        "import it with `trlprep import x.jsonl --from alpaca -o OUT`, or "
        "`trlprep convert ... --from alpaca`",
        _api("import_dataset"),
    )
    assert said == (
        "import it with `OUT = trlprep.importers.import_dataset('x.jsonl', from_='alpaca')`, "
        "or `trlprep.convert(..., from_='alpaca')`"
    )


def test_a_type_s_columns_are_named_by_the_python_call(tmp_path):
    report = trlprep.validate([{"foo": "x", "bar": "y"}])
    hint = report.issues[0].hint
    assert "`trlprep.get_type('TYPE').columns`" in hint and "trlprep schema" not in hint
    with pytest.raises(TrlprepError) as e:
        trlprep.convert([{"foo": "x", "bar": "y"}], to="lm", map={"prompt": "foo", "chosen": "bar"})
    assert "trlprep.get_type('TYPE').columns" in str(e.value)
    assert "trlprep schema" not in str(e.value)
    # the call said names real columns
    names = [c.name for c in trlprep.get_type("preference").columns]
    assert names == ["prompt", "chosen", "rejected"]
    # the CLI keeps its command
    src = tmp_path / "odd.jsonl"
    src.write_text('{"foo": "x", "bar": "y"}\n')
    res = run("validate", src)
    assert "`trlprep schema TYPE`" in res.output and "trlprep.get_type" not in res.output


# ---------------------------------------------------------------- one keyword per idea


def test_report_and_import_dataset_take_from_as_convert_and_validate_do():
    import_dataset = _api("import_dataset")
    for func in (trlprep.convert, trlprep.validate, trlprep.report, import_dataset):
        assert "from_" in inspect.signature(func).parameters, func
        assert "layout" not in inspect.signature(func).parameters, func
    new = trlprep.report(SHAREGPT, from_="sharegpt", examples=0).to_dict()
    with pytest.warns(DeprecationWarning, match=r"layout= is renamed from_=") as said:
        old = trlprep.report(SHAREGPT, layout="sharegpt", examples=0).to_dict()
    assert said[0].filename == __file__  # at the caller's line
    assert old["summary"] == new["summary"] and old["report"]["layout"] == "sharegpt"
    rows = import_dataset(SHAREGPT, "sharegpt")  # positionally, as before
    assert import_dataset(SHAREGPT, from_="sharegpt").equals(rows)
    with pytest.warns(DeprecationWarning, match="pass from_='sharegpt'"):
        assert import_dataset(SHAREGPT, layout="sharegpt").equals(rows)


def test_a_renamed_keyword_given_twice_or_no_layout_is_a_usage_error():
    e = _api_error(lambda: trlprep.report(KTO, from_="hh", layout="hh"))
    assert isinstance(e, trlprep.UsageError) and "got both from_= and layout=" in e.message
    e = _api_error(lambda: _api("import_dataset")(KTO))
    assert e.hint.startswith("pass from_=LAYOUT (sharegpt, alpaca, hh")


DPO = sample("dpo_demo")
GLAIVE = sample("glaive_toolcall")


def _bad_calls():
    """Public functions given bad inputs on real samples: (call, what the error says)."""
    import_dataset = _api("import_dataset")
    rows = json.loads(KTO.read_text(encoding="utf-8"))
    return [
        (lambda: trlprep.convert(KTO, "pc", from_="nope"), "unknown from_ 'nope': not a dataset"),
        (lambda: trlprep.convert(KTO, "pc", truncation="middle"), "unknown truncation 'middle'"),
        (lambda: trlprep.convert(KTO, "pc", template_kwargs="x"), "template_kwargs must be a dict"),
        (lambda: trlprep.convert(KTO, "pc", tools=3), "tools must be a list of tool schemas"),
        (lambda: trlprep.convert(GLAIVE, "lm", from_="sharegpt", tools="missing.json"),
         "missing.json: no such tools file"),
        (lambda: trlprep.convert(KTO, "pc", max_length=5), "max_length takes effect only with"),
        (lambda: trlprep.convert(KTO, "pc", chat_template="nope"),
         "trlprep.templates.list_builtins()"),
        (lambda: trlprep.validate(KTO, from_="nope"), "from_='nope' is no public layout"),
        (lambda: trlprep.validate(KTO, from_="hh"), "rename a column with map={'chosen': NAME}"),
        (lambda: trlprep.validate(DPO, from_="sharegpt", neutral="x"), "unknown neutral 'x'"),
        (lambda: trlprep.detect(KTO, input_format="xml"), "unknown input_format 'xml'"),
        (lambda: trlprep.report(KTO, truncation="middle"), "unknown truncation 'middle'"),
        (lambda: trlprep.report(KTO, max_length=0), "max_length must be at least 1"),
        (lambda: trlprep.report(KTO, from_="nope"), "unknown layout 'nope'"),
        (lambda: trlprep.report(KTO, map="prompt"), "bad map entry 'prompt'"),
        (lambda: import_dataset(KTO, "alpaca"), "drop from_ to read it as it is"),
        (lambda: import_dataset(KTO, "ranked", pairing="x"), "unknown pairing 'x'"),
        (lambda: trlprep.read(KTO, input_format="xml"), "unknown input_format 'xml'"),
        (lambda: trlprep.write(rows, KTO), "JSON (.json) is an input format only"),
        (lambda: trlprep.write(rows, "o.out", output_format="xml"), "unknown output_format 'xml'"),
        (lambda: trlprep.apply_chat_template(rows, "nope"), "trlprep.templates.list_builtins()"),
        (lambda: trlprep.unpair_preference_dataset(rows),
         "needs `chosen` and `rejected` columns (the data has messages, label)"),
        (lambda: trlprep.extract_prompt(rows), "needs `chosen` and `rejected` columns"),
    ]  # fmt: skip


def test_bad_inputs_on_real_samples_name_keywords_never_flags():
    calls = _bad_calls()
    assert len(calls) >= 20
    for call, says in calls:
        e = _api_error(call)
        said = _no_flags(e)
        assert says in said, (says, said)
        assert "trlprep templates" not in said and "trlprep convert " not in said, said


def test_map_role_is_role_map_everywhere_with_a_deprecation():
    """`map_role=` (the CLI's `--map-role` alias) was a second keyword for `role_map=`; on
    `validate` it needed from_= where role_map= did not."""
    roles = {"human": "user", "gpt": "assistant"}
    new = trlprep.validate(SHAREGPT, role_map=roles)
    with pytest.warns(DeprecationWarning, match=r"map_role= is renamed role_map="):
        old = trlprep.validate(SHAREGPT, map_role=roles)  # was: "importer options need from_="
    assert (old.valid, old.num_rows) == (new.valid, new.num_rows)
    rows = trlprep.convert(SHAREGPT, "lm", from_="sharegpt", role_map="human=user")
    with pytest.warns(DeprecationWarning, match="pass role_map='human=user'"):
        assert trlprep.convert(SHAREGPT, "lm", from_="sharegpt", map_role="human=user").equals(rows)
    e = _api_error(lambda: trlprep.convert(SHAREGPT, "lm", map_role="a=b", role_map="c=d"))
    assert "got both role_map= and map_role=" in e.message
