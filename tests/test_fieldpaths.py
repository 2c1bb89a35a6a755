"""`--map NEW=PATH`: fields deep in objects, fields of each object of a list, and the items
of a list picked by a field (`importers.fieldpaths`)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from trlprep.errors import UsageError
from trlprep.importers.columnmap import rename
from trlprep.importers.fieldpaths import parse_path


def _table() -> pa.Table:
    return pa.table(
        {
            "meta": [{"a": {"b": 1}}, None, {"a": None}],
            "items": [
                [{"model": "x", "r": {"s": "5"}}, {"model": "y", "r": {"s": "2"}}],
                [{"model": "y", "r": {"s": "4"}}],
                None,
            ],
        }
    )


def test_parse_path():
    assert parse_path("plain") is None
    p = parse_path("items[model=gpt-3.5-turbo].r.s")
    assert (p.head, p.key, p.value, p.fields) == ("items", "model", "gpt-3.5-turbo", ("r", "s"))
    assert parse_path("a..b") is None


def test_deep_field_of_an_object_leaves_the_object_whole():
    out = rename(_table(), {"score": "meta.a.b"})
    assert out.column("score").to_pylist() == [1, None, None]
    assert out.column("meta").to_pylist() == _table().column("meta").to_pylist()


def test_field_of_each_item_keeps_the_lists_shape():
    out = rename(_table(), {"scores": "items.r.s"})
    assert out.column("scores").to_pylist() == [["5", "2"], ["4"], None]


def test_items_picked_by_a_field_in_either_order():
    a = rename(_table(), {"items": "items[model=y]", "scores": "items[model=y].r.s"})
    b = rename(_table(), {"scores": "items[model=y].r.s", "items": "items[model=y]"})
    assert a.column("scores").to_pylist() == [["2"], ["4"], None]
    assert a.column("items").to_pylist() == [
        [{"model": "y", "r": {"s": "2"}}],
        [{"model": "y", "r": {"s": "4"}}],
        None,
    ]
    assert a.column("scores").to_pylist() == b.column("scores").to_pylist()
    assert a.column("items").to_pylist() == b.column("items").to_pylist()


def test_missing_field_names_the_fields_there_are():
    with pytest.raises(UsageError, match="holds no field 'q'") as e:
        rename(_table(), {"scores": "items[model=y].r.q"})
    assert "its fields: s" in e.value.hint


def test_picking_items_of_an_object_is_refused():
    with pytest.raises(UsageError, match=r"picks items of a list of objects"):
        rename(_table(), {"x": "meta[a=1].a"})


def test_one_image_per_row_mapped_onto_images_is_a_list_of_one():
    t = pa.table({"image": ["a.png", None]})
    assert rename(t, {"images": "image"}).column("images").to_pylist() == [["a.png"], None]
    lists = pa.table({"image": [["a.png", "b.png"]]})
    assert rename(lists, {"images": "image"}).column("images").to_pylist() == [["a.png", "b.png"]]


def test_the_whole_list_kept_beside_its_picked_items():
    out = rename(_table(), {"items_all": "items", "items": "items[model=y]"})
    assert out.column("items_all").to_pylist() == _table().column("items").to_pylist()
    assert [len(x or []) for x in out.column("items").to_pylist()] == [1, 1, 0]
