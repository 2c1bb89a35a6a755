"""Importers: bring public dataset layouts onto a typed node of the conversion graph.

Layouts (`IMPORTERS`, `--from LAYOUT`): `sharegpt`, `alpaca`, `hh`, `openai-chat`,
`ranked`, `generations`, `prm800k`, `math-shepherd`, `math-aps-tree`, `oasst`, `oasst-ranked`,
`llamafactory-v1`,
`alpacafarm`, `saferlhf`, `arena`, `mt-bench`, `instances` and `map` (generic column and role
renaming). Each
importer works per record batch (`Importer.apply`), so files stream (a layout whose records
span the file, OASST's message export, is imported whole); every input row is imported or
rejected with its row index, file line, reason and original row.

Python API: `import_dataset(data, from_, **options)` takes any dataset kind and gives
back the same kind; `import_table` returns an `ImportResult` (rows and rejects);
`import_batches` streams `trlprep.io.readers.iter_batches` output.
"""

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
