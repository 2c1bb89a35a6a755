"""Object-storage folders (`trlprep.ray.remotein`, here `file://` URIs) list their data
files as a local folder does (`trlprep.io.inputfiles`), without Ray: the same files in the
same order, named below the URI as given; a copy read on a worker names the URI."""

from __future__ import annotations

import pytest

from trlprep.errors import InputError, UsageError


def _folder(root):
    for name in ["b/train-00001.jsonl", "a/train-00000.jsonl", "test-00000.jsonl",
                 "README.txt", ".hidden/x.jsonl", "notes.md", "model/config.json",
                 "model/model.safetensors", "model/data.jsonl"]:  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text('{"text": "x"}\n')
    return root


@pytest.mark.parametrize("split", [None, "test"])
def test_a_remote_folder_lists_the_files_a_local_folder_reads(tmp_path, split):
    from trlprep.io.inputfiles import input_files
    from trlprep.ray.remotein import remote_files

    folder = _folder(tmp_path / "data")
    local = input_files(folder, split)
    uri = folder.as_uri() + "/"
    assert remote_files(uri, split, None) == [
        f.replace(str(folder), folder.as_uri()) for f in local
    ]
    assert len(local) == (1 if split else 2)  # train read by default beside test
    assert remote_files(f"{uri}a/train-00000.jsonl", None, None) is None  # one file: itself
    with pytest.raises(InputError, match="no such file or folder"):
        remote_files(f"{uri}nope", None, None)
    (folder / "state.json").write_text("{}")
    with pytest.raises(UsageError, match="save_to_disk"):
        remote_files(uri, None, None)


def test_a_remote_files_copy_names_the_uri(tmp_path):
    from trlprep.io.readers import read
    from trlprep.ray.remotein import local_copy

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(InputError) as e, local_copy(src.as_uri()) as copy:
        assert copy != str(src) and open(copy).read() == src.read_text()
        read(copy)
    assert str(e.value).startswith(f"{src.as_uri()}:2: ")
    with pytest.raises(InputError, match="no such file"), local_copy(f"{src.as_uri()}x"):
        pass


def test_a_remote_files_reading_notes_reach_the_driver_by_its_uri(tmp_path):
    """What a worker's read found (a text file's blank lines skipped, a minified JSON
    array's rows named `row N`) is kept by URI in the driver, for the counts line and the
    notes, as a local file's is kept by path."""
    from trlprep.io import jsonarray, plaintext
    from trlprep.io.plaintext import TextStats

    uri = (tmp_path / "a.txt").as_uri()
    plaintext.remember(uri, TextStats(lines=4, blank=1, rows=3))
    assert plaintext.stats(uri) == TextStats(lines=4, blank=1, rows=3)
    jsonarray.remember(f"{uri}.json", "rows are named `row N`")
    assert jsonarray.naming_notes([f"{uri}.json"]) == [f"{uri}.json: rows are named `row N`"]
