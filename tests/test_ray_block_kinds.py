"""A Ray dataset whose blocks hold an extra of different kinds (text in one block, numbers
in another: Arrow cannot merge them) converts as the local engine converts those rows:
the extra carried as JSON text, said once, no raw ArrowTypeError."""

from __future__ import annotations

import json
import warnings

import pytest

pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)


def test_extra_of_one_kind_per_block_is_carried_as_json_text():
    import ray

    import trlprep.ray

    rows = [
        {"prompt": f"p{i}", "completion": f"c{i}", "extra": "t" if i < 2 else i} for i in range(4)
    ]
    ds = ray.data.from_items(rows, override_num_blocks=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = trlprep.ray.convert(ds, to="language-modeling").take_all()
    local = trlprep.convert(rows, to="language-modeling")
    assert [r["text"] for r in got] == [r["text"] for r in local]
    assert [json.loads(r["extra"]) for r in got] == [r["extra"] for r in local] == ["t", "t", 2, 3]
    said = [str(w.message) for w in caught if "'extra'" in str(w.message)]
    assert len(said) == 1 and "JSON text" in said[0], said
