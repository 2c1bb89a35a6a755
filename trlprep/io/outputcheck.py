"""Where an output may go and in which format, checked before any work is done: never over
an input or into its folder, never over an existing output without `--overwrite`, only to
a place a file can be created in."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from trlprep.errors import InputError, UsageError, did_you_mean
from trlprep.io.shardout import shard_format, sharded
from trlprep.io.sources import split_suffix
from trlprep.io.targets import check_name, check_stream, real_target, stream_kind
from trlprep.io.tempfiles import cannot_write, create_file, remove, remove_stale

OUTPUT_FORMATS = ("parquet", "jsonl", "arrow", "disk")
_ALIASES = {"ndjson": "jsonl", "ipc": "arrow", "feather": "arrow", "pq": "parquet"}
_READ_ONLY = {"json": "JSON (.json)", "csv": "CSV", "text": "plain text"}


def resolve_output_format(path: str | os.PathLike, output_format: str | None = None) -> str:
    """The output format for `path`: explicit, or from the suffix (no suffix = folder).

    A shard folder (`DIR/`, an existing plain folder, a `ShardedOutput`) gives the format
    of its files: Parquet unless `output_format` says jsonl or arrow.
    """
    if sharded(path, output_format):
        return shard_format(path, output_format)
    if output_format:
        fmt = output_format.strip().lower()
        fmt = _ALIASES.get(fmt, fmt)
        if fmt not in OUTPUT_FORMATS:
            raise UsageError(
                f"unknown --output-format {output_format!r}" + did_you_mean(fmt, OUTPUT_FORMATS),
                hint="use one of: " + ", ".join(OUTPUT_FORMATS),
            )
        return fmt
    fmt, compression = split_suffix(path)
    if (fmt in ("parquet", "arrow") and compression is None) or fmt == "jsonl":
        return fmt
    if not Path(path).suffix:
        return "disk"
    if fmt in _READ_ONLY:  # a format trlprep reads: said as such, not as an unknown name
        raise UsageError(
            f"{path}: {_READ_ONLY[fmt]} is an input format only; outputs are JSON Lines, "
            "Parquet, Arrow or a save_to_disk folder",
            hint="name it .jsonl (JSON Lines, which datasets.load_dataset('json') "
            "reads too), .parquet, .arrow or a folder (no suffix), or pass --output-format "
            + "|".join(OUTPUT_FORMATS),
        )
    raise UsageError(
        f"{path}: cannot tell the output format from its name",
        hint="name it .parquet, .jsonl, .jsonl.gz, .arrow or a folder (no suffix), "
        "or pass --output-format " + "|".join(OUTPUT_FORMATS),
    )


def check_output(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    inputs: tuple[str, ...] = (),
    output_format: str | None = None,
) -> None:
    """Refuse to write over an input, into a folder holding one, or over an existing output.

    A symbolic link is checked as the file or folder it points to; a device, FIFO or open
    descriptor (a stream, see `trlprep.io.targets`) is written through, so it needs no
    `--overwrite` but takes only JSON Lines or a report (`output_format="text"`).
    """
    from trlprep.io.remote import refuse_uri

    refuse_uri(path, "output")  # never a relative local path `s3:/...`
    check_name(path)
    if stream_kind(path) is not None:
        check_stream(path, _stream_format(path, output_format), overwrite=overwrite)
        return
    if output_format != "text" and not sharded(path, output_format):
        resolve_output_format(path, output_format)  # an unknown suffix: said before any read
    target = real_target(path)
    p = target.absolute()
    shards = sharded(path)
    if output_format != "text" and sharded(path, output_format):
        shard_format(path, output_format)  # (a shard folder named as a file: said before any work)
    if shards and p.is_dir() and not any(p.iterdir()):
        overwrite = True  # an empty folder to write the shards into
    if shards and p.is_dir():  # (before `--overwrite` is advised: it would not help)
        other = sorted(e.name for e in p.iterdir() if not (e.is_file() and _written(e)))
        if other:  # replacing the folder would delete more than a dataset
            shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
            raise UsageError(
                f"{path}: the folder holds more than data files ({shown}); it is not replaced",
                hint="write the shards to a new or empty folder",
            )
    for src in _input_paths(inputs):
        s = Path(src).absolute()
        if s.is_dir() and s.resolve() in p.resolve().parents:
            raise UsageError(
                f"{path}: the output is inside the input folder {src}",
                hint="write outside it (the next read of the folder would take the output in)",
            )
        same = s == p or (s.exists() and p.exists() and os.path.samefile(s, p))
        if same or p.resolve() == s.resolve():
            raise UsageError(f"{path}: the output is the input", hint="write to another path")
        if p.is_dir() and s.exists() and p.resolve() in s.resolve().parents:
            raise UsageError(
                f"{path}: the output folder holds the input {src}", hint="write to another path"
            )
    if p.exists() and not overwrite:
        link = f" (a link to {target})" if target != Path(path) else ""
        raise UsageError(f"{path}{link}: already exists", hint="pass --overwrite to replace it")
    if not p.parent.is_dir():
        raise InputError(
            f"{path}: the folder to write it in, {p.parent}, does not exist",
            hint=f"create it first (mkdir -p {shlex.quote(str(p.parent))})",
        )
    try:  # can a file be created there at all (permissions, read-only or special folders)?
        remove(create_file(p))
    except OSError as e:
        raise cannot_write(path, e) from None
    remove_stale(p.parent)


def _stream_format(path: str | os.PathLike, output_format: str | None) -> str:
    """What would be written to `path`: `text` (a report), `shards`, or an output format."""
    if output_format == "text":
        return "text"
    if sharded(path, output_format):
        return "shards"
    return resolve_output_format(path, output_format)


def _input_paths(inputs: tuple[str, ...]) -> list[str]:
    """Every path the inputs name: several paths, a glob's or a folder's files, the folder."""
    from trlprep.errors import TrlprepError
    from trlprep.io.shards import input_files

    found: list[str] = []
    for given in inputs:
        for src in getattr(given, "paths", None) or (given,):
            if not src:
                continue
            try:
                found += [src, *(input_files(src) or ())]
            except TrlprepError:  # the reader says what is wrong with it
                found.append(src)
    return found


__all__ = ["OUTPUT_FORMATS", "check_output", "resolve_output_format"]


def _written(path: Path) -> bool:
    """Whether `path` is named as a data file trlprep may have written (never `.txt`: text
    files in an output folder are someone's notes, not shards)."""
    return split_suffix(path)[0] not in ("", "text")
