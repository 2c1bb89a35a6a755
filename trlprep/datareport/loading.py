"""Load the report's template and tokenizer in a helper process, while the data is detected.

`transformers.AutoTokenizer` reads the model's config with `AutoConfig`, whose model
classes import torch: a quarter of a gigabyte and seconds that a report never uses. A
spawned process loads them and sends back the tokenizer and template pickled, which this
process unpickles with the tokenizer's own module only (no torch). Where torch is loaded
already, or nothing needs a tokenizer loaded, they load here.

The helper pays only where detecting the data takes as long as loading (~2.5 s) and a core
is free to do both: it costs a second process importing transformers and torch (~0.5 s of
CPU more than loading here). So it starts for input of at least `HELPER_BYTES` on more
than one core; smaller data loads here (`pays`). Measured as in `parallel`, here vs with
the helper: 100 rows (128 KB) 5.2/5.0 s vs 5.3/6.4 s wall; 10,000 rows (13 MB) 10.3/7.8 s
vs 12.6/8.6 s; 40,000 rows (54 MB) 23.7/21.1 s vs 26.1/22.4 s: no gain up to 54 MB.
"""

from __future__ import annotations

import os
import pickle
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

HELPER_BYTES = 256 << 20  # input below this size: the tokenizer loads in this process


def start(chat_template: Any, tokenizer: Any, *, helper: bool | None = None) -> Future | None:
    """Begin loading (chat_template, tokenizer) in a helper process; None: load here.
    `helper`: whether to (None: where a tokenizer is to be loaded and torch is not yet)."""
    if helper is None:
        helper = "torch" not in sys.modules and (_loads(chat_template) or _loads(tokenizer))
    if not helper:
        return None
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    try:
        pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
        future = pool.submit(_load, chat_template, tokenizer)
    except OSError:  # no processes here (a sandbox): load in this one
        return None
    future.add_done_callback(lambda _: pool.shutdown(wait=False))
    return future


def pays(data: Any) -> bool:
    """Whether loading in a helper process is worth it for `data`: a file or folder of at
    least `HELPER_BYTES`, read on more than one core (anything else loads here)."""
    if not isinstance(data, (str, os.PathLike)):
        return False
    if _size(Path(str(data)).expanduser(), HELPER_BYTES) < HELPER_BYTES:
        return False  # (the cores asked after the size: that module imports the renderer)
    from trlprep.templates.table import available_cores

    return available_cores() >= 2


def _size(path: Path, enough: int) -> int:
    """Bytes under `path` (a file, or a folder's files), counted until `enough`."""
    try:
        if path.is_file():
            return path.stat().st_size
        total = 0
        for f in path.rglob("*") if path.is_dir() else ():
            total += f.stat().st_size if f.is_file() else 0
            if total >= enough:
                break
        return total
    except OSError:  # unreadable here: the reader says so, with its own error
        return 0


def finish(loading: Future | None, chat_template: Any, tokenizer: Any) -> tuple[Any, Any]:
    """(template or None, tokenizer or None): from the helper, or loaded here."""
    if loading is not None:
        try:
            status, payload = loading.result()
        except Exception:  # noqa: BLE001 - the helper died: load here, with its errors
            status = None
        if status == "ok":
            return pickle.loads(payload)
        if status == "error":
            cls, message, hint = payload
            try:
                error = cls(message, hint=hint)
            except TypeError:  # pragma: no cover - an error class of another signature
                error = None
            if error is not None:
                raise error
    return load(chat_template, tokenizer)


def load(chat_template: Any, tokenizer: Any) -> tuple[Any, Any]:
    if chat_template is None and tokenizer is None:
        return None, None  # (no template module imported: the renderer's Jinja)
    from trlprep.templates.sources import load_template_and_tokenizer, load_tokenizer

    template, tok = None, None
    if chat_template is not None:
        template, tok = load_template_and_tokenizer(chat_template, tokenizer)
    if tok is None and tokenizer is not None:
        tok = load_tokenizer(tokenizer)
    return template, tok


def _loads(src: Any) -> bool:
    """Whether `src` names a tokenizer to load (a folder or a Hub id, not a template file,
    a built-in name or an object)."""
    if not isinstance(src, (str, os.PathLike)):
        return False
    path = Path(str(src)).expanduser()
    if path.exists():
        return path.is_dir()
    from trlprep.templates.sources import builtin_name

    return builtin_name(str(src)) is None and "/" in str(src) and not str(src).endswith(".jinja")


def _load(chat_template: Any, tokenizer: Any) -> tuple[str, Any]:
    from trlprep.errors import TrlprepError

    try:
        return "ok", pickle.dumps(load(chat_template, tokenizer))
    except TrlprepError as e:
        return "error", (type(e), e.message, e.hint)
    except Exception:  # noqa: BLE001 - loaded again in the main process, which raises it
        return "retry", None


__all__ = ["HELPER_BYTES", "finish", "load", "pays", "start"]
