"""trlprep: detect, validate, convert and chat-template datasets for TRL-style post-training.

The public names below load on first use (`import trlprep` imports no data library), and
importing a submodule never replaces a public function: `trlprep.convert`, `trlprep.detect`
and `trlprep.validate` stay the API functions whatever has been imported. The errors the
public functions raise name keyword arguments (`on_error='skip'`) where the CLI's name flags.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module defining it (loaded on first access)
_PUBLIC = {
    "convert": "trlprep.api",
    "detect": "trlprep.api",
    "validate": "trlprep.api",
    "report": "trlprep.datareport",
    "DataReport": "trlprep.datareport",
    "Detection": "trlprep.detection.detect",
    "Problem": "trlprep.detection.detect",
    "DataError": "trlprep.errors",
    "InputError": "trlprep.errors",
    "TrlprepError": "trlprep.errors",
    "UsageError": "trlprep.errors",
    # the warnings the functions give (README: Python API), caught by class
    "TrlprepWarning": "trlprep.errors",
    "ConversionWarning": "trlprep.converters.base",
    "RejectedRowsWarning": "trlprep.importers.run",
    "read": "trlprep.io.readers",
    "Inputs": "trlprep.io.shards",
    "ShardedOutput": "trlprep.io.shardout",
    "TYPES": "trlprep.registry",
    "DatasetType": "trlprep.registry",
    "Format": "trlprep.registry",
    "get_type": "trlprep.registry",
    "Issue": "trlprep.validation.report",
    "Report": "trlprep.validation.report",
    # TRL's data helpers (trl.data_utils), same names and signatures
    "apply_chat_template": "trlprep.compat.templates",
    "maybe_apply_chat_template": "trlprep.compat.templates",
    "common_prefix_length": "trlprep.compat.helpers",
    "get_dataset_column_names": "trlprep.compat.helpers",
    "is_conversational_from_value": "trlprep.compat.helpers",
    "pack_dataset": "trlprep.compat.helpers",
    "prepare_multimodal_messages": "trlprep.compat.helpers",
    "prepare_multimodal_messages_vllm": "trlprep.compat.helpers",
    "truncate_dataset": "trlprep.compat.helpers",
    "extract_prompt": "trlprep.compat.dataset",
    "is_conversational": "trlprep.compat.dataset",
    "maybe_convert_to_chatml": "trlprep.compat.chatml",
    "maybe_extract_prompt": "trlprep.compat.dataset",
    "maybe_unpair_preference_dataset": "trlprep.compat.dataset",
    "unpair_preference_dataset": "trlprep.compat.dataset",
    "write": "trlprep.io.writers",
}

__all__ = [
    "DataError",
    "DataReport",
    "DatasetType",
    "Detection",
    "Format",
    "InputError",
    "Inputs",
    "Issue",
    "Problem",
    "Report",
    "ShardedOutput",
    "TYPES",
    "ConversionWarning",
    "RejectedRowsWarning",
    "TrlprepError",
    "TrlprepWarning",
    "UsageError",
    "apply_chat_template",
    "common_prefix_length",
    "convert",
    "detect",
    "extract_prompt",
    "get_dataset_column_names",
    "get_type",
    "is_conversational",
    "is_conversational_from_value",
    "maybe_apply_chat_template",
    "maybe_convert_to_chatml",
    "maybe_extract_prompt",
    "maybe_unpair_preference_dataset",
    "pack_dataset",
    "prepare_multimodal_messages",
    "prepare_multimodal_messages_vllm",
    "read",
    "report",
    "truncate_dataset",
    "unpair_preference_dataset",
    "validate",
    "write",
]

if TYPE_CHECKING:
    from trlprep.api import convert, detect, validate
    from trlprep.compat.chatml import maybe_convert_to_chatml
    from trlprep.compat.dataset import (
        extract_prompt,
        is_conversational,
        maybe_extract_prompt,
        maybe_unpair_preference_dataset,
        unpair_preference_dataset,
    )
    from trlprep.compat.templates import apply_chat_template, maybe_apply_chat_template
    from trlprep.converters.base import ConversionWarning
    from trlprep.datareport import DataReport, report
    from trlprep.detection.detect import Detection, Problem
    from trlprep.errors import DataError, InputError, TrlprepError, TrlprepWarning, UsageError
    from trlprep.importers.run import RejectedRowsWarning
    from trlprep.io.readers import read
    from trlprep.io.writers import write
    from trlprep.registry import TYPES, DatasetType, Format, get_type
    from trlprep.validation.report import Issue, Report


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'trlprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if isinstance(value, types.FunctionType):  # errors said with keywords, not CLI flags
        from trlprep.errors import speaks_python

        value = speaks_python(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


class _Package(types.ModuleType):
    """The package object: a submodule import never rebinds a public name (`convert`...)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return  # the submodule stays in sys.modules; the name keeps meaning the API
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
