"""Importers: bring public dataset layouts onto a typed node of the conversion graph.

Layouts (`IMPORTERS`, `--from LAYOUT`): `sharegpt`, `alpaca`, `hh`, `openai-chat`,
`ranked`, `generations`, `prm800k`, `math-shepherd`, `math-aps-tree`, `oasst`, `oasst-ranked`,
`llamafactory-v1`,
`alpacafarm`, `saferlhf`, `shp`, `webgpt`,
`arena`, `tldr-preference`, `tldr`, `helpsteer3`, `mt-bench`, `instances` and `map` (generic
column and role renaming). Each
importer works per record batch (`Importer.apply`), so files stream (a layout whose records
span the file, OASST's message export, is imported whole); every input row is imported or
rejected with its row index, file line, reason and original row.

Python API: `import_dataset(data, from_, **options)` takes any dataset kind and gives
back the same kind; `import_table` returns an `ImportResult` (rows and rejects);
`import_batches` streams `trlprep.io.readers.iter_batches` output.

The names below load on first use: a command that imports no layout (`validate DATA`,
`convert DATA` without `--from`) loads none of the importers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module defining it (loaded on first access)
_PUBLIC = {
    "IMPORTERS": "trlprep.importers.registry",
    "REJECTS_SCHEMA": "trlprep.importers.rejects",
    "Converted": "trlprep.importers.base",
    "ImportOptions": "trlprep.importers.options",
    "ImportResult": "trlprep.importers.base",
    "ImportStats": "trlprep.importers.run",
    "Importer": "trlprep.importers.base",
    "RejectedRowsWarning": "trlprep.importers.run",
    "Rejections": "trlprep.importers.rejects",
    "RejectsWriter": "trlprep.importers.rejectsfile",
    "default_rejects_path": "trlprep.importers.rejectsfile",
    "detect_layout": "trlprep.importers.registry",
    "get_importer": "trlprep.importers.registry",
    "import_batches": "trlprep.importers.run",
    "import_dataset": "trlprep.importers.run",
    "import_table": "trlprep.importers.run",
    "is_layout": "trlprep.importers.registry",
    "layout_in_hint": "trlprep.importers.registry",
    "layout_names": "trlprep.importers.registry",
    "conversational_layout": "trlprep.importers.registry",
    "layout_read_as": "trlprep.importers.registry",
    "parse_column_map": "trlprep.importers.columnmap",
    "reject_error": "trlprep.importers.run",
}

if TYPE_CHECKING:
    from trlprep.importers.base import (
        Converted,
        Importer,
        ImportOptions,
        ImportResult,
    )
    from trlprep.importers.columnmap import parse_column_map
    from trlprep.importers.registry import (
        IMPORTERS,
        conversational_layout,
        detect_layout,
        get_importer,
        is_layout,
        layout_in_hint,
        layout_names,
        layout_read_as,
    )
    from trlprep.importers.rejects import REJECTS_SCHEMA, Rejections
    from trlprep.importers.rejectsfile import RejectsWriter, default_rejects_path
    from trlprep.importers.run import (
        ImportStats,
        RejectedRowsWarning,
        import_batches,
        import_dataset,
        import_table,
        reject_error,
    )


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'trlprep.importers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "IMPORTERS",
    "REJECTS_SCHEMA",
    "Converted",
    "ImportOptions",
    "ImportResult",
    "ImportStats",
    "Importer",
    "RejectedRowsWarning",
    "Rejections",
    "RejectsWriter",
    "default_rejects_path",
    "detect_layout",
    "get_importer",
    "import_batches",
    "import_dataset",
    "import_table",
    "is_layout",
    "layout_in_hint",
    "layout_names",
    "conversational_layout",
    "layout_read_as",
    "parse_column_map",
    "reject_error",
]
