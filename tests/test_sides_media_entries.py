"""validate counts each media column's entries as convert does (`placeholders.media_entries`):
lists, their JSON text, an `image` / `video` column's single paths or lists, nulls as 0."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trlprep.columns.placeholders import media_counts
from trlprep.io.jsontext import json_field
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.checks.sides import check_side_columns, media_columns


def _table() -> pa.Table:
    images = pa.array([["a.png", "b.png"], None, [], ["c.png"]], pa.list_(pa.string()))
    image = pa.array(['"d.png"', None, '["e.png", "f.png"]', None], pa.string())
    videos = pa.array(['[["f1.png", "f2.png"]]', None, "[]", '["v.mp4", "w.mp4"]'])
    audios = pa.array([None, ["x.wav"], None, ["y.wav", "z.wav"]], pa.large_list(pa.string()))
    return pa.table(
        [images, image, videos, audios],
        schema=pa.schema(
            [
                pa.field("images", images.type),
                json_field("image"),
                json_field("videos"),
                pa.field("audios", audios.type),
            ]
        ),
    )


def test_validate_counts_media_entries_as_convert_does():
    table = _table()
    sink = BatchSink(table.num_rows)
    images = check_side_columns(table, sink)
    media = media_columns(table, sink)
    want = media_counts(table)
    assert images.tolist() == want["image"].tolist() == [3, 0, 2, 1]
    assert media["video"].tolist() == want["video"].tolist() == [1, 0, 0, 2]
    assert media["audio"].tolist() == want["audio"].tolist() == [0, 1, 0, 2]
    assert not sink.flags


def test_a_column_of_nulls_counts_none():
    table = pa.table({"images": pa.nulls(3), "videos": pa.nulls(3)})
    sink = BatchSink(3)
    assert np.array_equal(check_side_columns(table, sink), np.zeros(3))
    assert np.array_equal(media_columns(table, sink)["video"], np.zeros(3))
