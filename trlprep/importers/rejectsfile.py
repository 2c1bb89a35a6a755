"""The side file of rejected rows (`--rejects`, default `OUT.rejects.jsonl` beside the
output): written atomically, kept apart from the output, and an earlier run's file there
noted or removed so it is never taken for this run's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from trlprep.errors import UsageError
from trlprep.importers.rejects import REJECTS_SCHEMA
from trlprep.wording import plural


class RejectsWriter:
    """The side file of rejected rows (JSON Lines: row, line, reason, record), written
    atomically: it appears once `commit` runs, holding every rejected row.

    `explicit`: the user named the file (`--rejects FILE`), so it is written even empty, for
    pipelines that read it. Otherwise (the default `OUT.rejects.jsonl`) a run that rejects
    nothing writes no file, and with `overwrite` removes an earlier run's file there, which
    would otherwise look like this run's.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        inputs=(),
        output: str | os.PathLike | None = None,
        explicit: bool = True,
    ) -> None:
        from trlprep.io.outputcheck import check_output
        from trlprep.io.remote import is_uri

        self.path = str(path)
        if output is not None:
            check_apart(self.path, output)
        self._local: str | None = None  # an object-storage file's local copy, put there whole
        if is_uri(self.path):
            _check_remote(self.path, overwrite)
        else:
            check_output(
                self.path, overwrite=overwrite, inputs=tuple(inputs), output_format="jsonl"
            )
        self.rows = 0
        self.explicit = explicit
        self.overwrite = overwrite
        self.outcome: str | None = None  # after `commit`: written, none or removed
        self._w = None

    def _open(self, schema: pa.Schema):
        from trlprep.io.remote import is_uri
        from trlprep.io.writers import open_writer

        if not is_uri(self.path):
            return open_writer(self.path, schema, output_format="jsonl", every_key=True)
        import tempfile

        self._local = tempfile.mkdtemp(prefix="trlprep-rejects-")
        local = os.path.join(self._local, "rejects.jsonl")
        return open_writer(local, schema, output_format="jsonl", every_key=True)

    def _drop_local(self) -> None:
        if self._local is not None:
            import shutil

            shutil.rmtree(self._local, ignore_errors=True)
            self._local = None

    def write(self, rejects: pa.Table) -> None:
        if self._w is None:
            self._w = self._open(rejects.schema)
        self._w.write(rejects)
        self.rows += rejects.num_rows

    def commit(self) -> str:
        """Finish the file and say what became of it: `written` (an explicit file is written
        even empty), `none` (nothing rejected, default path: no file) or `removed` (as
        `none`, and an earlier run's file at the default path removed under `overwrite`)."""
        if self._w is None and not self.explicit:
            stale = _stale(self.path)
            if stale and self.overwrite:
                _remove(self.path)
            self.outcome = "removed" if stale and self.overwrite else "none"
            return self.outcome
        if self._w is None:
            self._w = self._open(REJECTS_SCHEMA)
        try:
            self._w.commit()
            if self._local is not None:  # object storage: the whole file put in place
                from trlprep.io.remote import put_file

                put_file(os.path.join(self._local, "rejects.jsonl"), self.path)
        finally:
            self._drop_local()
        self.outcome = "written"
        return self.outcome

    def summary(self, rejected: int, bad_lines: int = 0, turns: int = 0) -> str:
        """The line a command prints after `commit`: how many rows were rejected (and turns
        refused, bad lines skipped), and where they went or that no file was written."""
        what = plural(rejected, "rejected row")
        what += f", {plural(turns, 'refused turn')}" if turns else ""
        what += f" and {plural(bad_lines, 'bad line')}" if bad_lines else ""
        if self.outcome == "none":
            return f"{what}: no rejects file written"
        if self.outcome == "removed":
            return f"{what}: no rejects file written; removed {self.path} (an earlier run's)"
        return f"{what} -> {self.path}" + ("" if self.rows else " (empty, as --rejects asks)")

    def abort(self) -> None:
        try:
            if self._w is not None:
                self._w.abort()
        finally:
            self._drop_local()

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def default_rejects_path(output: str | os.PathLike) -> str:
    """`out.parquet` -> `out.rejects.jsonl` next to the output: only the format's suffix
    (`.jsonl`, `.jsonl.gz`, `.parquet`, ...) is replaced, so `train.v1.jsonl` ->
    `train.v1.rejects.jsonl`; a folder `out` or `out/` -> `out.rejects.jsonl`."""
    from trlprep.io.remote import is_uri
    from trlprep.io.targets import check_name, stream_kind

    check_name(output)
    text = os.fspath(output)
    if is_uri(text):  # beside it in object storage: never a local path (`file:/...`)
        head, _, last = text.rstrip("/").rpartition("/")
        return f"{head}/{_rejects_name(last)}"
    kind = stream_kind(output)
    if kind is not None:
        raise UsageError(
            f"{output}: is {kind}, so there is no place beside it for the rejected rows",
            hint="name their file with --rejects FILE (it may be a device or FIFO too)",
        )
    p = Path(text.rstrip("/" + os.sep))
    return str(p.with_name(_rejects_name(p.name)))


def _rejects_name(last: str) -> str:
    """`out.parquet` -> `out.rejects.jsonl` (only the format's suffix replaced)."""
    from trlprep.io.sources import COMPRESSION, SUFFIXES

    name = last
    suffixes = [x.lower() for x in Path(last).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION and len(suffixes) > 1:
        if suffixes[-2] in SUFFIXES:
            name = name[: -len(suffixes[-1])]
            suffixes.pop()
    if suffixes and suffixes[-1] in SUFFIXES:
        name = name[: -len(suffixes[-1])]
    return (name or last) + ".rejects.jsonl"


def _check_remote(uri: str, overwrite: bool) -> None:
    """Refuse an object-storage rejects file that exists (without `overwrite`) or is a
    folder, before any work."""
    from pyarrow import fs as pafs

    from trlprep.io.remote import filesystem

    fs, path = filesystem(uri)
    found = fs.get_file_info(path.rstrip("/")).type
    if found == pafs.FileType.Directory:
        raise UsageError(f"{uri}: is a folder, not a file", hint="pass --rejects with a file")
    if found != pafs.FileType.NotFound and not overwrite:
        raise UsageError(f"{uri} exists", hint="pass --overwrite to replace it")


def _stale(path: str) -> bool:
    """Whether an earlier run's rejects file is at `path` (local or object storage)."""
    from trlprep.io.remote import exists, is_uri
    from trlprep.io.targets import stream_kind

    if is_uri(path):
        return exists(path)
    return stream_kind(path) is None and Path(path).is_file()


def _remove(path: str) -> None:
    from trlprep.io.remote import filesystem, is_uri

    if is_uri(path):
        fs, inside = filesystem(path)
        fs.delete_file(inside)
    else:
        Path(path).unlink()


def stale_rejects_note(output: str | os.PathLike) -> str | None:
    """A note when a run that wrote no rejects file (`--on-error stop`) leaves an earlier
    run's `OUT.rejects.jsonl` beside its output, where it would look like this run's."""
    from trlprep.io.targets import stream_kind

    if stream_kind(output) is not None:
        return None
    try:
        path = default_rejects_path(output)
    except UsageError:  # a name that has no place beside it
        return None
    try:
        if not _stale(path):
            return None
    except OSError:  # object storage that cannot be looked at: nothing to say
        return None
    return (
        f"{path} is an earlier run's rejects file, not this run's (which rejected no rows); "
        "remove it, or rerun with --on-error skip --overwrite to replace it"
    )


def check_apart(rejects: str | os.PathLike, output: str | os.PathLike) -> None:
    """Refuse a rejects file that is the output, or inside the output folder."""
    from trlprep.io.remote import is_uri
    from trlprep.io.targets import real_target, stream_kind

    if stream_kind(rejects) is not None:  # /dev/null for both is fine
        return
    if is_uri(rejects) or is_uri(output):
        _check_apart_uris(os.fspath(rejects), os.fspath(output))
        return
    r = real_target(rejects).absolute().resolve()
    o = real_target(os.fspath(output).rstrip("/" + os.sep) or output).absolute().resolve()
    if r == o:
        raise UsageError(
            f"{rejects}: the rejects file is the output (-o {output})",
            hint="pass --rejects with another path, or leave it out "
            f"(default: {default_rejects_path(output)})",
        )
    if o in r.parents:
        raise UsageError(
            f"{rejects}: the rejects file is inside the output folder {output}",
            hint="write it beside the folder (pass --rejects with another path)",
        )


def _check_apart_uris(rejects: str, output: str) -> None:
    """`check_apart` where either is a URI (compared as written; a local path and a URI
    are apart)."""
    r, o = rejects.rstrip("/"), output.rstrip("/")
    if r == o:
        raise UsageError(
            f"{rejects}: the rejects file is the output (-o {output})",
            hint="pass --rejects with another path, or leave it out "
            f"(default: {default_rejects_path(output)})",
        )
    if r.startswith(o + "/"):
        raise UsageError(
            f"{rejects}: the rejects file is inside the output folder {output}",
            hint="write it beside the folder (pass --rejects with another path)",
        )
