"""The rejects file lists rows in input order whatever stage refused them (the local engine
holds each batch's rejects until no stage can refuse an earlier row, then writes them
sorted; the Ray engine sorts them on the cluster: `test_ray_rejects`), and the summary's
reasons are ordered by count, then by their first row."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.conversion.ledger import Ledger
from trlprep.importers.rejects import REJECTS_SCHEMA

HH = Path(__file__).parent / "realdata" / "hh_rlhf" / "harmless-base-test.sample.jsonl"
# refuses any message about stealing (rows of the HH sample beside its 4 empty-answer rows)
REFUSE = (
    "{%- for m in messages -%}{%- if 'steal' in m['content'] -%}"
    "{{ raise_exception('this template refuses messages about stealing') }}{%- endif -%}"
    "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)
# the rows refused: by the template (T) and by the hh importer (I), by file line
HH_REFUSED = [
    (37, "T"), (61, "T"), (69, "T"), (72, "T"), (79, "T"), (87, "I"), (88, "T"),
    (100, "T"), (108, "T"), (151, "I"), (154, "I"), (155, "I"), (158, "T"), (161, "T"),
]  # fmt: skip


def refusing_template(folder: Path) -> Path:
    path = folder / "refuse.jinja"
    path.write_text(REFUSE)
    return path


def _convert(src: Path, out: Path, *args: str):
    r = CliRunner().invoke(app, ["convert", str(src), "-o", str(out), "--overwrite", *args])
    assert r.exit_code == 0, r.output
    return r


def _rejects(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _writes(monkeypatch) -> list[list[int]]:
    """The rows of each table written to a rejects file, as the run goes."""
    from trlprep.importers import RejectsWriter

    got: list[list[int]] = []
    write = RejectsWriter.write

    def counted(self, table):
        got.append(table.column("row").to_pylist())
        return write(self, table)

    monkeypatch.setattr(RejectsWriter, "write", counted)
    return got


def test_import_and_template_rejects_of_hh_rlhf_in_row_order(tmp_path, monkeypatch):
    """HH-RLHF to unpaired with a template refusing messages about stealing: the importer's
    4 rows and the template's 10 come interleaved by line (the importer's were written
    first), in one chunk as in many (written chunk by chunk, never all at the end), and
    the summary names each reason's first lines."""
    import trlprep.io.jsonl as jsonl

    args = ["--from", "hh", "--to", "unpaired", "--on-error", "skip"]
    args += ["--chat-template", str(refusing_template(tmp_path))]
    r = _convert(HH, tmp_path / "one.jsonl", *args)
    rows = _rejects(tmp_path / "one.rejects.jsonl")
    stage = {"T": "chat template", "I": "import"}
    assert [(x["line"], x["stage"]) for x in rows] == [(n, stage[s]) for n, s in HH_REFUSED]
    assert [x["row"] for x in rows] == [line - 1 for line, _ in HH_REFUSED]
    said = r.output
    assert "8 x chat template: prompt: refuse.jinja raised" in said
    assert "(e.g. line 37, line 61, line 69)" in said
    assert "4 x import: chosen: ends with an empty Assistant turn" in said
    assert "(e.g. line 87, line 151, line 154)" in said
    assert "2 x chat template: completion: refuse.jinja raised" in said
    assert "(e.g. line 79, line 161)" in said

    writes = _writes(monkeypatch)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 30_000)  # the 163 rows in chunks of ~30
    _convert(HH, tmp_path / "many.jsonl", *args)
    assert (tmp_path / "many.rejects.jsonl").read_bytes() == (
        tmp_path / "one.rejects.jsonl"
    ).read_bytes()
    assert (tmp_path / "many.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert len(writes) > 2  # chunk by chunk
    assert [r for w in writes for r in w] == [line - 1 for line, _ in HH_REFUSED]


def test_read_rejects_of_a_later_line_after_template_rejects_of_an_earlier(tmp_path):
    """Line 4's value is null (refused as read, before anything else) and line 2's message
    is refused by the template later: the file lists line 2 first."""
    chat = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": c}]}
        for c in ("a", "how to steal", "b", "-", "c")
    ]
    chat[3]["messages"] = None
    src = tmp_path / "chat.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in chat))
    _convert(
        src, tmp_path / "out.jsonl", "--on-error", "skip",
        "--chat-template", str(refusing_template(tmp_path)),
    )  # fmt: skip
    got = [(x["line"], x["stage"]) for x in _rejects(tmp_path / "out.rejects.jsonl")]
    assert got == [(2, "chat template"), (4, "read")]


def test_pairing_refusals_wait_for_the_whole_input(tmp_path, monkeypatch):
    """Unpaired to preference pairs rows of any chunk: rejects of every chunk (line 46 null
    as read, in a late chunk) wait until the template refused line 3, then go in row order."""
    import trlprep.io.jsonl as jsonl

    rows = []
    for i in range(60):
        steal = " how to steal" if i in (2, 3) else ""
        rows.append(
            {
                "prompt": [{"role": "user", "content": f"question {i // 2}{steal}"}],
                "completion": [{"role": "assistant", "content": f"answer {i}"}],
                "label": i % 2 == 0,
            }
        )
    rows[45]["prompt"] = None
    src = tmp_path / "unpaired.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    writes = _writes(monkeypatch)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 1500)  # about 10 rows a chunk
    _convert(
        src, tmp_path / "pref.jsonl", "--to", "preference", "--on-error", "skip",
        "--chat-template", str(refusing_template(tmp_path)),
    )  # fmt: skip
    got = [(x["line"], x["stage"]) for x in _rejects(tmp_path / "pref.rejects.jsonl")]
    assert got == [(3, "chat template"), (46, "read")]
    assert writes == [[2, 45]]


def _table(rows: list[int], stage: str, reason: str) -> pa.Table:
    n = len(rows)
    return pa.Table.from_arrays(
        [
            pa.array(rows, pa.int64()),
            pa.array([r + 1 for r in rows], pa.int64()),
            pa.array([stage] * n),
            pa.array([reason] * n),
            pa.array(["{}"] * n),
        ],
        schema=REJECTS_SCHEMA,
    )


class _Sink:
    def __init__(self) -> None:
        self.rows: list[list[int]] = []

    def write(self, table: pa.Table) -> None:
        self.rows.append(table.column("row").to_pylist())


def test_settle_writes_rows_before_the_mark_in_order_and_keeps_the_rest():
    ledger = Ledger(on_error="skip", rejects=_Sink())
    ledger.reject(_table([7, 3], "import", "bad"))
    ledger.reject(_table([1, 9], "chat template", "refused"))
    assert ledger.rejects.rows == []  # held until settled
    ledger.settle(before=7)
    assert ledger.rejects.rows == [[1, 3]]
    ledger.hold = True
    ledger.settle()
    assert ledger.rejects.rows == [[1, 3]]  # nothing while held
    ledger.finish()  # the rest, held or not
    assert ledger.rejects.rows == [[1, 3], [7, 9]]
    assert ledger.pending == []


def test_reasons_as_common_are_listed_by_their_first_row():
    """Both engines count the same reasons in another order (the local one chunk by chunk
    and stage by stage): reasons of equal count list the one of the earliest row first."""
    ledger = Ledger()
    ledger.reject(_table([40, 50], "import", "bad"))
    ledger.reject(_table([5, 60], "chat template", "refused"))
    ledger.reject(_table([1, 2, 3], "read", "null"))
    lines = ledger.reason_lines()
    assert [x.split(" (e.g.")[0] for x in lines] == [
        "3 x read: null",
        "2 x chat template: refused",
        "2 x import: bad",
    ]
