"""Ray Data as the distributed engine: the local engine's stages run over a `ray.data.Dataset`.

Nothing is reimplemented: every block goes through the same planning (`trlprep.conversion.convert`),
the same importers, Arrow -> Arrow edges and checks as the local engine, as
`map_batches(..., batch_format="pyarrow")` tasks. Chat templates and tokenizers run in an
actor pool (each actor loads them once). Rows carry hidden columns: `ROW_ID` (their row in
the whole input), `LINE` (their file line, for local JSON Lines files) and, once a stage
refused them, `REJECT` (stage, reason; `turn`: a refused turn of a `--split-turns all` row,
its other turns kept): reject rows travel on past later stages, so the
driver can stop naming the first (as the local engine) or write them to a rejects file.
Validation merges per-block results into one report with global rows and lines.

Pairing unpaired rows by prompt groups the rows by a hash of the prompt (Ray's groupby) and
pairs within each group in input order; unpairing with `order="blocks"` sorts the output by
(half, row). Local inputs of every format are read by `sources` with trlprep's reader in
Ray tasks, rows numbered in the driver from the order each task hands its blocks back
(object storage too, each file copied to its task first); outputs come back in row order
(`numbering`) whatever order Ray keeps blocks in; the workers' warnings and notes reach the driver
through `notes`. Needs the `ray` extra
(`pip install "trlprep[ray]"`).
"""

from __future__ import annotations

from trlprep.errors import speaks_python
from trlprep.ray import checking, conversion
from trlprep.ray.base import HALF, LINE, PAIR_KEY, REJECT, REJECT_TYPE, init
from trlprep.ray.conversion import Converted, convert_rows, finish, import_layout
from trlprep.ray.numbering import numbered
from trlprep.ray.sources import read, read_numbered

# the public functions (README): their errors, warnings and reports said with keyword
# arguments, as `trlprep.convert`'s; the CLI's `--engine ray` calls the modules' own
convert = speaks_python(conversion.convert)
apply_chat_template = speaks_python(conversion.apply_chat_template)
tokenize = speaks_python(conversion.tokenize)
detect = speaks_python(checking.detect)
validate = speaks_python(checking.validate)

__all__ = [
    "HALF",
    "LINE",
    "PAIR_KEY",
    "REJECT",
    "REJECT_TYPE",
    "Converted",
    "apply_chat_template",
    "convert",
    "convert_rows",
    "detect",
    "finish",
    "import_layout",
    "init",
    "numbered",
    "read",
    "read_numbered",
    "tokenize",
    "validate",
]
