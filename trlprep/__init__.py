"""trlprep: detect, validate, convert and chat-template datasets for TRL-style post-training."""

from trlprep.api import convert, detect, validate
from trlprep.detect import Detection, Problem
from trlprep.errors import DataError, InputError, TrlprepError, UsageError
from trlprep.readers import read
from trlprep.registry import TYPES, DatasetType, Format, get_type
from trlprep.report import Issue, Report
from trlprep.templates import apply_chat_template, maybe_apply_chat_template
from trlprep.trl_compat import (
    extract_prompt,
    is_conversational,
    maybe_convert_to_chatml,
    maybe_extract_prompt,
    maybe_unpair_preference_dataset,
    unpair_preference_dataset,
)
from trlprep.writers import write

__version__ = "0.1.0"

__all__ = [
    "TYPES",
    "DataError",
    "DatasetType",
    "Detection",
    "Format",
    "InputError",
    "Issue",
    "Problem",
    "Report",
    "TrlprepError",
    "UsageError",
    "apply_chat_template",
    "convert",
    "detect",
    "extract_prompt",
    "get_type",
    "is_conversational",
    "maybe_apply_chat_template",
    "maybe_convert_to_chatml",
    "maybe_extract_prompt",
    "maybe_unpair_preference_dataset",
    "read",
    "unpair_preference_dataset",
    "validate",
    "write",
]
