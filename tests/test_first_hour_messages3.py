"""A new user's first hour with a real sample (LLaMA-Factory's `alpaca_en_demo.json`): the
messages of the usual mistakes name the file, what is wrong and what to do (an empty file or
header-only CSV, an output folder that does not exist, a folder of no data, a dataset type
or a typo given to `import --from`)."""

from __future__ import annotations

from realdata.support import run, sample

ALPACA = sample("alpaca_demo")


def _said(res) -> str:
    return " ".join(res.output.split())


def test_validate_names_the_empty_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = run("validate", empty)
    assert res.exit_code == 1
    assert f"{empty}: the dataset has no rows" in _said(res)


def test_a_header_only_csv_is_said_to_have_no_rows_not_to_match_no_type(tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("instruction,output\n")
    said = _said(run("validate", header))
    assert "note: no rows to detect the type from (the columns: instruction, output)" in said


def test_a_parquet_file_without_rows_keeps_its_column_note_as_read_whole(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trlprep.io.readers import read
    from trlprep.validation.validate import validate_table

    empty = pa.array([], pa.string())
    said = {}
    for name, columns in (("io", ["instruction", "output"]), ("pc", ["prompt", "completion"])):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table(dict.fromkeys(columns, empty)), path)
        said[name] = _said(run("validate", path))  # streamed: no batch comes of no rows
        src = read(str(path))
        notes = validate_table(src.table, lines=src.lines, path=str(path)).notes
        assert notes and all(f"note: {n}" in said[name] for n in notes), (said, notes)
    assert "note: no rows to detect the type from (the columns: instruction, output)" in said["io"]
    assert "0 rows of prompt-completion (standard)" in said["pc"]
    assert "no dataset type matches" not in said


def test_an_output_folder_that_does_not_exist_is_named_with_the_command_that_makes_it(tmp_path):
    out = tmp_path / "runs" / "v1" / "out.jsonl"
    res = run("convert", ALPACA, "-o", out)
    said = _said(res)
    assert res.exit_code == 2
    assert f"{out}: the folder to write it in, {out.parent}, does not exist" in said
    assert f"hint: create it first (mkdir -p {out.parent})" in said


def test_a_folder_of_no_data_says_what_it_holds(tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    said = _said(run("convert", empty, "-o", tmp_path / "o.jsonl"))
    assert "no data files to read, and not a save_to_disk folder" in said
    assert "the folder is empty" in said
    (empty / "README.txt").write_text("notes")  # notes, not data: no "pass one of them"
    said = _said(run("convert", empty, "-o", tmp_path / "o.jsonl"))
    assert "it holds only README.txt" in said and "pass one of them" not in said


def test_import_from_a_type_or_a_typo_says_what_it_is(tmp_path):
    out = tmp_path / "o.jsonl"
    said = _said(run("import", ALPACA, "--from", "pc", "-o", out))
    assert "unknown layout 'pc': prompt-completion is a dataset type" in said
    assert "`trlprep convert DATA --from pc ...` converts data of that type" in said
    said = _said(run("import", ALPACA, "--from", "alpacca", "-o", out))
    assert "unknown layout 'alpacca' (did you mean 'alpaca'?)" in said
    assert "--from LAYOUT" in _said(run("import", "--help"))
    assert not out.exists()


def test_validate_of_a_layout_says_in_the_error_how_to_check_it_as_imported():
    res = run("validate", ALPACA)
    said = _said(res)
    assert res.exit_code == 1
    assert "hint unknown-type: the columns are the alpaca layout: --from alpaca checks" in said
    assert "rename the columns to a TRL type's" in said
    assert said.count("alpaca layout") == 1  # the note is said as the hint, not twice
    assert run("validate", ALPACA, "--from", "alpaca").exit_code == 0


def test_an_output_given_without_o_is_said_to_be_read_as_an_input(tmp_path):
    out = tmp_path / "out.jsonl"
    for command in ("convert", "import"):
        res = run(command, ALPACA, out)
        said = _said(res)
        assert res.exit_code == 2
        assert f"missing output (-o): {out}, the last path given, is read as another input" in said
        assert f"hint: to write the output there, pass -o {out}" in said
    said = _said(run("convert", ALPACA, ALPACA))  # two inputs that exist: no guess
    assert "error: missing output hint: pass -o OUT" in said
