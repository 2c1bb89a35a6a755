"""trlprep: detect, validate, convert and chat-template datasets for TRL-style post-training."""

from trlprep.api import detect, validate
from trlprep.detect import Detection, Problem
from trlprep.errors import DataError, InputError, TrlprepError, UsageError
from trlprep.registry import TYPES, DatasetType, Format, get_type
from trlprep.report import Issue, Report

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
    "detect",
    "get_type",
    "validate",
]
