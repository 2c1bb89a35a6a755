"""The reference model of the algorithms that need one: a frozen copy of the model, with LoRA
the model with its adapters off, or none with precomputed reference log-probs.

Precomputed log-probs: run the reference model once over the tokenised rows, store its
sequence log-probs as columns next to the data, and train without it. The columns are cached
on disk in a Parquet file keyed by a fingerprint of the reference model (its files' names,
sizes and modification times), the tokenised rows and whatever changes the values (LD-DPO's
alpha, the compute dtype), so a second run skips the pass.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn
from trlprep.trainers.collate import Collator
from trlprep.trainers.config import TrainConfig
from trlprep.trainers.logps import LogpsModel
from trlprep.trainers.losses import length_desensitised_logps
from trlprep.trainers.models import AdapterOff, frozen_copy, load_model

# the columns each layout gets
COLUMNS = {
    "pairs": ("ref_chosen", "ref_rejected"),
    "unpaired": ("ref_logps", "ref_kl_logps"),
}


def build_reference(
    cfg: TrainConfig,
    model: nn.Module,
    tokenizer: Any,
    *,
    head: str,
    layout: str,
    chunk: int | None,
    kernel: str = "torch",
    temperature: float,
    dtype: torch.dtype,
    collator: Collator,
    row_sets: Sequence[dict[str, list]],
    ld_alpha: float | None,
    acc: Any,
    log: Callable[[str], None] = lambda _: None,
) -> nn.Module | None:
    """The reference of `model`: a frozen copy of `cfg.model`; with LoRA (`cfg.lora_r`) the
    adapters-off model; with `cfg.precompute_ref` none (its log-probs become columns of each
    of `row_sets`, the tokenised rows of the training and evaluation data)."""

    def make_reference() -> LogpsModel:
        m = load_model(cfg.model, head, tokenizer, dtype)
        frozen = LogpsModel(frozen_copy(m), (), chunk, temperature, kernel=kernel)
        return frozen.to(acc.device)

    if cfg.precompute_ref:
        for rows in row_sets:
            precompute(
                rows,
                layout,
                cfg.model,
                make_reference,
                collator,
                batch_size=cfg.eval_batch_size or cfg.batch_size,
                ld_alpha=ld_alpha,
                dtype=str(dtype),
                acc=acc,
                log=log,
            )
        return None
    if cfg.lora_r is not None:  # the base model, adapters off: no second copy
        return AdapterOff(LogpsModel(model, (), chunk, temperature, kernel=kernel), model)
    return make_reference()


def cache_dir() -> Path:
    root = os.environ.get("TRLPREP_CACHE_DIR") or Path.home() / ".cache" / "trlprep"
    return Path(root) / "ref-logps"


def model_fingerprint(path: str) -> str:
    p = Path(path).expanduser()
    if not p.is_dir():  # a Hub id: its name (and revision, when pinned) identifies it
        return path
    entries = sorted(
        (f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in p.iterdir() if f.is_file()
    )
    return json.dumps([str(p.resolve()), entries])


def fingerprint(model_path: str, rows: dict[str, list], extra: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(model_fingerprint(model_path).encode())
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    for key in sorted(rows):
        h.update(key.encode())
        h.update(json.dumps(rows[key]).encode())
    return h.hexdigest()[:32]


def add_kl_completions(rows: dict[str, list]) -> None:
    """Fix KTO's mismatched pairs per row (each prompt with the previous row's completion),
    so their reference log-probs can be precomputed."""
    comps = rows["completion"]
    rows["kl_completion"] = [comps[i - 1] for i in range(len(comps))]


@torch.no_grad()
def compute(
    rows: dict[str, list],
    layout: str,
    reference: LogpsModel,
    collator: Collator,
    *,
    batch_size: int,
    ld_alpha: float | None,
    device: torch.device,
    autocast: Callable[[], Any],
) -> dict[str, list[float]]:
    """The reference sequence log-probs of every row, in row order."""
    n = len(next(iter(rows.values())))
    names = COLUMNS[layout]
    out: dict[str, list[float]] = {k: [] for k in names}
    for start in range(0, n, batch_size):
        batch_rows = [
            {k: v[i] for k, v in rows.items()} for i in range(start, min(n, start + batch_size))
        ]
        batch = collator(batch_rows).to(device)
        with autocast():
            res = reference(batch.seqs)
        if layout == "pairs":
            m = batch.num_pairs
            sums = (
                res.sums
                if ld_alpha is None
                else length_desensitised_logps(res.logps, res.mask, m, ld_alpha)
            )
            out["ref_chosen"] += sums[:m].tolist()
            out["ref_rejected"] += sums[m:].tolist()
        else:
            out["ref_logps"] += res.sums.tolist()
            if batch.kl_seqs is not None:
                with autocast():
                    out["ref_kl_logps"] += reference(batch.kl_seqs).sums.tolist()
    return {k: v for k, v in out.items() if v}


def precompute(
    rows: dict[str, list],
    layout: str,
    model_path: str,
    make_reference: Callable[[], LogpsModel],
    collator: Collator,
    *,
    batch_size: int,
    ld_alpha: float | None,
    dtype: str,
    acc: Any,
    log: Callable[[str], None] = lambda _: None,
) -> None:
    """Add the reference columns to `rows` (fixing KTO's mismatched pairs first when the
    collator builds them), on every process of an Accelerate run."""
    if collator.kl:
        add_kl_completions(rows)
    load_or_compute(
        rows,
        layout,
        model_path,
        make_reference,
        collator,
        batch_size=batch_size,
        ld_alpha=ld_alpha,
        dtype=dtype,
        device=acc.device,
        autocast=acc.autocast,
        is_main=acc.is_main_process,
        wait=acc.wait_for_everyone,
        log=log,
    )


def load_or_compute(
    rows: dict[str, list],
    layout: str,
    model_path: str,
    make_reference: Callable[[], LogpsModel],
    collator: Collator,
    *,
    batch_size: int,
    ld_alpha: float | None,
    dtype: str,
    device: torch.device,
    autocast: Callable[[], Any],
    is_main: bool = True,
    wait: Callable[[], None] = lambda: None,
    log: Callable[[str], None] = lambda _: None,
) -> None:
    """Add the reference columns to `rows`, from the cache or by running the reference."""
    key = fingerprint(model_path, rows, {"layout": layout, "ld_alpha": ld_alpha, "dtype": dtype})
    path = cache_dir() / f"{key}.parquet"
    if not path.is_file():
        if is_main:
            log(f"reference log-probs: computing once for {len(next(iter(rows.values())))} rows")
            reference = make_reference()
            cols = compute(
                rows,
                layout,
                reference,
                collator,
                batch_size=batch_size,
                ld_alpha=ld_alpha,
                device=device,
                autocast=autocast,
            )
            del reference
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            pq.write_table(pa.table({k: pa.array(v, pa.float64()) for k, v in cols.items()}), tmp)
            tmp.replace(path)
        wait()
    else:
        log(f"reference log-probs: cached ({path})")
    table = pq.read_table(path)
    for name in table.column_names:
        rows[name] = table.column(name).to_pylist()
