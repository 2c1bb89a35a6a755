"""UTF-16 and UTF-32 text inputs: one error at once (invalid data, exit 1) naming the file,
the encoding and how it was told, with a command that re-encodes it; never a row counted."""

from __future__ import annotations

import codecs
import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep.api
from trlprep.cli import app
from trlprep.io import readers
from trlprep.io.textfaults import TextFaultError, wide_encoding

ROWS = [
    '{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}',
    '{"prompt": "Grass is", "chosen": " green.", "rejected": " blue."}',
]
TEXTS = {
    "jsonl": "\n".join(ROWS) + "\n",
    "json": "[" + ",\n".join(ROWS) + "]\n",
    "csv": "prompt,chosen,rejected\nThe sky is,blue.,green.\nGrass is,green.,blue.\n",
}
# Python's codec -> (what the error says, whether a byte-order mark says it)
ENCODINGS = {
    "utf-16": ("UTF-16 text (little-endian, as its byte-order mark says)", True),
    "utf-16-le": ("UTF-16 text (little-endian, told by the NUL bytes", False),
    "utf-16-be": ("UTF-16 text (big-endian, told by the NUL bytes", False),
    "utf-32": ("UTF-32 text (little-endian, as its byte-order mark says)", True),
    "utf-32-le": ("UTF-32 text (little-endian, told by the NUL bytes", False),
    "utf-32-be": ("UTF-32 text (big-endian, told by the NUL bytes", False),
}


def _encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("fmt", sorted(TEXTS))
def test_wide_encoding_is_told_from_the_first_bytes(fmt, encoding):
    found = wide_encoding(_encoded(TEXTS[fmt], encoding)[:64])
    said, marked = ENCODINGS[encoding]
    assert found is not None
    assert found[0] == said[:6] and (found[2] == "mark") is marked
    assert found[1] == ("BE" if "big-endian" in said else "LE")


def test_big_endian_byte_order_marks_are_read():
    assert wide_encoding(b"\xfe\xff\x00{") == ("UTF-16", "BE", "mark")
    assert wide_encoding(b"\x00\x00\xfe\xff\x00\x00\x00{") == ("UTF-32", "BE", "mark")


@pytest.mark.parametrize(
    "data",
    [
        TEXTS["jsonl"].encode(),
        b"\xef\xbb\xbf" + TEXTS["jsonl"].encode(),  # UTF-8 with its byte-order mark
        '{"prompt": "日本語のテキスト", "completion": "ok"}\n'.encode(),
        b"",
        b"{",
        b'{"a": "\x00"}',  # one stray NUL: left to the readers, not called UTF-16
    ],
)
def test_utf8_and_other_bytes_are_not_called_wide(data):
    assert wide_encoding(data) is None


# a CSV whose header and first rows are Chinese: its UTF-16 has NULs at the commas and line
# ends only, too few for the NUL pattern of ASCII-led text
CJK_CSV = "问题,答案,类别\n天空是什么颜色？,蓝色,常识\n草是什么颜色？,绿色,常识\n"
REALDATA = Path(__file__).parent / "realdata"
CJK_REALDATA = [  # UTF-8 files with Chinese text
    "llamafactory_v1/v1_sft_demo.first100.jsonl",
    "llamafactory_v1/v1_multimodal_demo.jsonl",
    "mllm_demo/mllm_demo.json",
    "kto_demo/kto_en_demo.json",
]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_text_led_by_chinese_is_told_without_a_byte_order_mark(tmp_path, monkeypatch, encoding):
    data = CJK_CSV.encode(encoding)
    order = "BE" if encoding.endswith("be") else "LE"
    assert wide_encoding(data) == (encoding[:6].upper(), order, "decoding")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zh.csv").write_bytes(data * 20)
    result = CliRunner().invoke(app, ["validate", "zh.csv"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert text.startswith(f"error: zh.csv: the file is {encoding[:6].upper()} text"), text
    assert "told by decoding its first bytes" in text
    assert f"iconv -f {encoding[:6].upper()}{order} -t UTF-8 zh.csv > zh.utf8.csv" in text


@pytest.mark.parametrize("name", CJK_REALDATA)
def test_utf8_chinese_text_is_not_called_wide(name):
    data = (REALDATA / name).read_bytes()
    assert "的".encode() in data
    assert wide_encoding(data) is None
    for cut in range(1, 4):  # the head ends inside a character
        assert wide_encoding(data[: data.index("的".encode()) + cut]) is None


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "big5"])
def test_other_chinese_encodings_are_not_called_wide(encoding):
    """No NUL byte, no UTF-16/32 text: GBK and Big5 are left to the readers (not UTF-8)."""
    assert wide_encoding("問題,答案\n天空,藍色\n".encode(encoding)) is None
    assert wide_encoding("café,naïve\n".encode("latin-1") + b"\x00") is None


def _write(d: Path, fmt: str, encoding: str, gz: bool = False) -> str:
    name = f"d.{fmt}" + (".gz" if gz else "")
    data = _encoded(TEXTS[fmt], encoding)
    (d / name).write_bytes(gzip.compress(data) if gz else data)
    return name


COMMANDS = [
    ["detect"],
    ["validate"],
    ["convert", "--to", "prompt_completion", "-o", "o.jsonl"],
    ["report", "-o", "r.html"],
]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("fmt", sorted(TEXTS))
def test_every_command_fails_at_once_naming_the_encoding(tmp_path, monkeypatch, fmt, encoding):
    monkeypatch.chdir(tmp_path)
    name = _write(tmp_path, fmt, encoding)
    said, _ = ENCODINGS[encoding]
    for cmd in COMMANDS:
        result = CliRunner().invoke(app, [cmd[0], name, *cmd[1:]])
        assert result.exit_code == 1, (cmd, result.output)
        text = " ".join(result.stderr.split())
        assert text.startswith(f"error: {name}: the file is {said}"), text
        assert "re-encode it as UTF-8: `iconv -f UTF-" in text
        assert not re.search(r"\b(rows?|lines?)\b", text), text  # nothing read or counted
        assert len(result.stderr.splitlines()) == 2  # the error and its hint, nothing more
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "r.html").exists()


def test_import_fails_alike(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_bytes(
        '{"instruction": "Say hi", "input": "", "output": "hi"}\n'.encode("utf-16")
    )
    result = CliRunner().invoke(app, ["import", "a.jsonl", "--from", "alpaca", "-o", "o.jsonl"])
    assert result.exit_code == 1, result.output
    assert "a.jsonl: the file is UTF-16 text" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("fmt", sorted(TEXTS))
def test_a_compressed_file_is_judged_by_its_decompressed_bytes(tmp_path, monkeypatch, fmt):
    monkeypatch.chdir(tmp_path)
    name = _write(tmp_path, fmt, "utf-16-be", gz=True)
    result = CliRunner().invoke(app, ["validate", name])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert f"{name}: the file is UTF-16 text (big-endian" in text
    assert f"`gzip -dc {name} | iconv -f UTF-16BE -t UTF-8 > d.utf8.{fmt}`" in text


def test_a_compressed_file_named_without_its_compression_keeps_its_suffix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_bytes(gzip.compress(_encoded(TEXTS["jsonl"], "utf-16-be")))
    result = CliRunner().invoke(app, ["validate", "d.jsonl"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "`gzip -dc d.jsonl | iconv -f UTF-16BE -t UTF-8 > d.utf8.jsonl`" in text


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_the_hinted_encoding_decodes_the_file_to_valid_data(tmp_path, monkeypatch, encoding):
    # the command's source encoding, applied as iconv would, gives the rows back
    monkeypatch.chdir(tmp_path)
    name = _write(tmp_path, "jsonl", encoding)
    result = CliRunner().invoke(app, ["validate", name])
    source = re.search(r"iconv -f (\S+) -t UTF-8", result.stderr).group(1)
    text = (tmp_path / name).read_bytes().decode(codecs.lookup(source).name).lstrip("\ufeff")
    (tmp_path / "fixed.jsonl").write_text(text, encoding="utf-8")
    again = CliRunner().invoke(app, ["validate", "fixed.jsonl"])
    assert again.exit_code == 0, again.output
    assert "2 rows of preference" in again.stdout


def test_the_stream_yields_no_batch_before_the_error(tmp_path):
    name = _write(tmp_path, "jsonl", "utf-16")
    batches = readers.iter_batches(tmp_path / name)
    with pytest.raises(TextFaultError) as e:
        next(batches)
    assert e.value.exit_code == 1 and e.value.line is None


def test_python_api_raises_the_same_error(tmp_path):
    name = _write(tmp_path, "csv", "utf-32")
    with pytest.raises(TextFaultError, match="UTF-32 text"):
        trlprep.api.validate(str(tmp_path / name))


def test_the_command_names_the_file_as_given_quoted_and_writes_beside_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my data").mkdir()
    (tmp_path / "my data" / "d.jsonl").write_bytes(_encoded(TEXTS["jsonl"], "utf-16"))
    result = CliRunner().invoke(app, ["validate", "my data/d.jsonl"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "`iconv -f UTF-16 -t UTF-8 'my data/d.jsonl' > 'my data/d.utf8.jsonl'`" in text


# ---------------------------------------------------------------- legacy CJK and Western text

# Python's codec -> (the text written, what the error names, iconv's name in the hint)
LEGACY = {
    "gbk": ("谁是你的开发者？你叫什么名字？", "GB18030/GBK (Simplified Chinese)", "GB18030"),
    "big5": ("請問你們的開發者是誰？", "Big5 (Traditional Chinese)", "BIG5"),
    "shift_jis": ("こんにちは、元気ですか？", "Shift_JIS (Japanese)", "CP932"),
    "euc_kr": ("안녕하세요, 잘 지내세요?", "EUC-KR (Korean)", "CP949"),
    "cp1252": ("Où est le café? “Très” bien", "Windows-1252 (Western European)", "WINDOWS-1252"),
}  # fmt: skip


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
@pytest.mark.parametrize("codec", sorted(LEGACY))
def test_legacy_encodings_are_named_with_the_iconv_command(tmp_path, monkeypatch, codec, fmt):
    text, what, iconv = LEGACY[codec]
    rows = [{"prompt": "hi", "completion": "ok"}, {"prompt": text, "completion": "ok"}]
    body = {
        "jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
        "json": json.dumps(rows, ensure_ascii=False, indent=1),
        "csv": "prompt,completion\n" + "".join(f'"{r["prompt"]}",ok\n' for r in rows),
    }[fmt]
    monkeypatch.chdir(tmp_path)
    Path(f"d.{fmt}").write_bytes(body.encode(codec))
    result = CliRunner().invoke(app, ["validate", f"d.{fmt}"])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    # was: "not valid UTF-8 text", "re-encode the file as UTF-8" (no encoding, no command)
    assert f"not valid UTF-8 text; the bytes read as {what} text" in said
    assert text[:6] in said  # the text as decoded, for the user to judge the guess
    assert f"`iconv -f {iconv} -t UTF-8 d.{fmt} > d.utf8.{fmt}`" in said
    # the command does what it says: its output reads, the text as written
    Path(f"d.utf8.{fmt}").write_text(Path(f"d.{fmt}").read_bytes().decode(codec), "utf-8")
    out = tmp_path / "o.jsonl"
    result = CliRunner().invoke(app, ["convert", f"d.utf8.{fmt}", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[1])["prompt"] == text


def test_a_stray_byte_in_utf8_text_names_no_encoding(tmp_path):
    path = tmp_path / "d.jsonl"
    good = json.dumps({"prompt": "你好，世界，你好", "completion": "好的"}, ensure_ascii=False)
    path.write_bytes(good.encode()[:-2] + b'\xff"}\n')  # one bad byte among UTF-8 hanzi
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "not valid UTF-8 text" in said and "read as" not in said and "iconv" not in said


def test_a_legacy_text_file_line_names_its_encoding(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"hello\n" + "你好，世界\n".encode("gbk"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert (
        "line 2" in said and "read as GB18030/GBK (Simplified Chinese) text ('你好，世界')" in said
    )
    assert "`iconv -f GB18030 -t UTF-8" in said
