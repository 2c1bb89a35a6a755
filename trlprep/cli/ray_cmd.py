"""`convert` and `validate` with `--engine ray`: read, convert/validate and write through Ray
Data's own Parquet/JSON readers and writers (local paths or object storage Ray supports)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trlprep.cli.app import err
from trlprep.errors import DataError, InputError, TrlprepError, UsageError

ENGINES = ("local", "ray")
READERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".ndjson": "json"}


def check_engine(engine: str) -> bool:
    """True for `--engine ray` (after checking the name)."""
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r} is not one of: {', '.join(ENGINES)}")
    return engine == "ray"


@contextlib.contextmanager
def ray_errors() -> Iterator[None]:
    """A trlprep error raised inside a Ray task leaves as itself (not wrapped by Ray)."""
    try:
        yield
    except Exception as e:
        found = _cause(e)
        if found is None or found is e:
            raise
        raise found from None


def _cause(e: BaseException | None, depth: int = 0) -> TrlprepError | None:
    """The innermost trlprep error in `e`'s chain (Ray keeps the original in `.cause`)."""
    if e is None or depth > 8:
        return None
    for nxt in (getattr(e, "cause", None), e.__cause__):
        found = _cause(nxt, depth + 1) if isinstance(nxt, BaseException) else None
        if found is not None:
            return found
    return e if isinstance(e, TrlprepError) else None


def _reader(paths: list[str], input_format: str | None) -> str:
    """parquet | json, from --input-format or the first file's suffix."""
    if input_format:
        fmt = {"jsonl": "json", "ndjson": "json", "pq": "parquet"}.get(input_format, input_format)
        if fmt not in ("parquet", "json"):
            raise UsageError(
                f"--engine ray reads parquet or jsonl, not {input_format!r}",
                hint="use --engine local for other formats",
            )
        return fmt
    first = Path(paths[0])
    if "://" not in paths[0] and first.is_dir():
        files = sorted(p for p in first.rglob("*") if p.is_file() and not p.name.startswith("."))
        first = files[0] if files else first
    suffixes = [s for s in first.suffixes if s not in (".gz", ".zst", ".bz2")]
    fmt = READERS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise UsageError(
            f"{paths[0]}: --engine ray reads Parquet or JSON Lines files",
            hint="pass --input-format parquet|jsonl, or use --engine local",
        )
    return fmt


def _paths(path: Any, input_format: str | None, split: str | None) -> list[str]:
    """The files to read: local folders and globs resolved as the local engine does
    (`trlprep.inputfiles`); object-storage URIs passed to Ray as they are."""
    given = list(getattr(path, "paths", None) or ([path] if isinstance(path, str) else path))
    if any("://" in str(p) for p in given):
        return [str(p) for p in given]
    from trlprep.inputfiles import input_files

    files = input_files(path, split, input_format)
    if files is None:
        files = given
        for p in files:
            if not Path(p).exists():
                raise InputError(f"{p}: no such file or folder")
    return [str(p) for p in files]


def read(path: Any, input_format: str | None = None, split: str | None = None) -> Any:
    """A Ray dataset over files, folders, globs or object-storage URIs (Ray's own readers)."""
    import ray.data

    paths = _paths(path, input_format, split)
    if _reader(paths, input_format) == "parquet":
        return ray.data.read_parquet(paths)
    return ray.data.read_json(paths, lines=True)


def write(ds: Any, output: str, output_format: str | None, overwrite: bool) -> None:
    """Write `ds` as a folder of Parquet (default) or JSON Lines files; a local folder is
    written beside its final name and renamed into place (nothing left on failure)."""
    fmt = output_format or ("jsonl" if output.rstrip("/").endswith(".jsonl") else "parquet")
    if fmt not in ("parquet", "jsonl"):
        raise UsageError(f"--engine ray writes parquet or jsonl, not {fmt!r}")
    if "://" in output:
        (ds.write_parquet if fmt == "parquet" else ds.write_json)(output)
        return
    final = Path(output)
    if final.exists() and not overwrite:
        raise UsageError(f"{output} exists", hint="pass --overwrite to replace it")
    tmp = final.parent / f".{final.name}.trlprep-ray-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (ds.write_parquet if fmt == "parquet" else ds.write_json)(str(tmp.resolve()))
        if final.is_dir():
            shutil.rmtree(final)
        elif final.exists():
            final.unlink()
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def convert_ray(
    path: Any,
    output: str | None,
    *,
    address: str | None,
    output_format: str | None = None,
    input_format: str | None = None,
    split: str | None = None,
    overwrite: bool = False,
    from_: str | None = None,
    tools: str | None = None,
    template_kwargs: list[str] | None = None,
    **kwargs: Any,
) -> None:
    """Run `trlprep convert` on Ray; kwargs go to `trlprep.ray.convert`."""
    from trlprep import ray as engine
    from trlprep.importers import is_layout
    from trlprep.templates.options import load_tools, parse_template_kwargs

    if output is None:
        raise UsageError("missing output", hint="pass -o OUT_FOLDER")
    if from_ is not None and is_layout(from_):
        raise UsageError(
            f"importing the {from_} layout needs --engine local",
            hint="import with --engine local first, then convert the result on Ray",
        )
    engine.init(address)
    with ray_errors():
        ds = read(path, input_format, split).materialize()
        n_in = ds.count()
        out = engine.convert(
            ds, from_=from_, tools=load_tools(tools),
            template_kwargs=parse_template_kwargs(template_kwargs), **kwargs,
        ).materialize()  # fmt: skip
        n_out = out.count()
        if n_in and not n_out and not kwargs.get("allow_empty"):
            raise DataError(
                f"no rows left (pass --allow-empty to write an empty output): all {n_in:,} "
                "rows were dropped by the conversion; nothing was written",
                hint="check the labels, or convert to a type that keeps these rows",
            )
        write(out, output, output_format, overwrite)
    err.print(f"ray: {n_in:,} rows in, {n_out:,} rows out -> {output}", markup=False)


def validate_ray(
    path: str | list[str],
    *,
    address: str | None,
    input_format: str | None = None,
    split: str | None = None,
    on_bad_lines: str = "error",
    **kwargs: Any,
) -> Any:
    """Run `trlprep validate` on Ray (arguments as `validate_path`); returns the Report."""
    from trlprep import ray as engine

    if on_bad_lines != "error":
        raise UsageError("--on-bad-lines skip needs --engine local")
    engine.init(address)
    with ray_errors():
        return engine.validate(read(path, input_format, split), **kwargs)
