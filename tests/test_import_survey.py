"""`importers.survey`: the whole input read ahead once (each batch kept, then given back
in order) for an importer's survey and for the media an import holds inline; an input of
one batch, or one with nothing to survey, passes through unkept."""

from __future__ import annotations

import pyarrow as pa

from trlprep.importers.options import ImportOptions
from trlprep.importers.survey import InlineMedia, media_surveyed, surveyed
from trlprep.io.sources import Batch

PARTS = [{"type": "image", "image": "a.jpg"}, {"type": "text", "text": "what?"}]


def _batches(*kinds: str) -> list[Batch]:
    return [Batch(pa.table({"kind": [k, k]}), 2 * i) for i, k in enumerate(kinds)]


class _Kinds:
    """An importer surveying the `kind` values of each batch (None: `nothing`)."""

    def __init__(self) -> None:
        self.surveyed = 0

    def survey(self, table: pa.Table, opts: ImportOptions) -> set[str] | None:
        self.surveyed += 1
        kinds = set(table.column("kind").to_pylist())
        return None if kinds == {"nothing"} else kinds


def test_surveyed_gives_the_batches_back_with_the_union_of_their_surveys():
    batches, importer = _batches("a", "b", "a"), _Kinds()
    again, seen = surveyed(batches, importer, ImportOptions())
    assert seen == frozenset({"a", "b"}) and importer.surveyed == 3  # each batch once
    got = list(again)
    assert [b.offset for b in got] == [0, 2, 4]
    assert [b.data.column("kind").to_pylist() for b in got] == [["a"] * 2, ["b"] * 2, ["a"] * 2]


def test_one_batch_or_nothing_to_survey_passes_through():
    for batches in (_batches("a"), _batches("nothing", "a")):
        again, seen = surveyed(batches, _Kinds(), ImportOptions())
        assert seen is None and [b.offset for b in again] == [b.offset for b in batches]


def test_media_surveyed_finds_the_columns_holding_media_inline_before_the_first_batch():
    def imported(b: Batch) -> pa.Table:
        kind = b.data.column("kind")[0].as_py()
        if kind == "refused":
            raise ValueError("the import says why")
        content = PARTS if kind == "image" else [{"type": "text", "text": "hi"}]
        return pa.table({"messages": [[{"role": "user", "content": content}]] * 2})

    found = InlineMedia()
    again = media_surveyed(_batches("text", "refused", "image"), imported, found)
    assert found.held == {"image": ["messages"]} and len(found.schemas) == 2
    assert [b.offset for b in again] == [0, 2, 4]
    text = InlineMedia()  # standard text: no messages column, nothing read ahead
    plain = media_surveyed(_batches("a", "b"), lambda b: b.data, text)
    assert [b.offset for b in plain] == [0, 2] and text.held == {} and text.schemas == []
