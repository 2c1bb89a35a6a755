"""The data report (`trlprep report`): what a dataset looks like to the trainer.

- `collect`: stream the data once, keep a few numbers per row (lengths, hashes, turns);
- `figures`: every figure from those numbers (the JSON report);
- `build`: `report` over one dataset; `result`: the `DataReport` it returns (`--fail-if`);
- `text`, `html`, `svg`: the terminal summary and the self-contained page.
"""

from __future__ import annotations

from trlprep.datareport.build import report
from trlprep.datareport.result import DataReport

__all__ = ["DataReport", "report"]
