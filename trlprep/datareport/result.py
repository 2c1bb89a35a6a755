"""What `trlprep.report` returns (`DataReport`): the JSON report with its text and HTML
renderings, a figure looked up by name, and the `--fail-if` conditions over the headline
figures (`summary`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from trlprep.errors import UsageError

# every `summary` key (the names `--fail-if` knows), with what a report needs to have it:
# "tokens" (token lengths measured: a tokenizer given), "validate" (the validation summary)
FIGURES: dict[str, str] = {
    "rows": "", "rows_reported": "", "rows_rejected": "",
    "truncated": "tokens", "truncated_share": "tokens", "max_tokens": "tokens",
    "p99_tokens": "tokens", "duplicate_rows": "", "duplicate_share": "", "empty_answers": "",
    "chosen_longer_share": "tokens", "identical_pairs": "",
    "valid": "validate", "validation_errors": "validate",
}  # fmt: skip
_TOKEN_FIGURES = tuple(k for k, needs in FIGURES.items() if needs == "tokens")
_FAIL_IF = re.compile(
    r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass
class DataReport:
    """The figures of a dataset (`data`: the JSON object) and their renderings."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.data, indent=indent, ensure_ascii=False)

    def to_text(self) -> str:
        from trlprep.datareport.text import render_text

        return render_text(self.data)

    def to_html(self) -> str:
        from trlprep.datareport.html import render_html

        return render_html(self.data)

    def value(self, key: str) -> Any:
        """A figure by name: a `summary` key (`truncated_share`) or a dotted path."""
        return _in_report_words(self._value, key)

    def failed(self, conditions: list[str]) -> list[str]:
        """The `--fail-if` conditions (`KEY OP NUMBER`) that hold, each with its value."""
        return _in_report_words(self.failed_as_flags, conditions)

    def _value(self, key: str) -> Any:
        if key in self.data["summary"]:
            return self.data["summary"][key]
        if FIGURES.get(key) == "validate":  # the report was made without validation
            raise UsageError(
                f"{key!r} comes from the validation: this report has none",
                hint="pass --validate (on by default)",
            )
        if "lengths" not in self.data and (
            key in _TOKEN_FIGURES or key.split(".")[0] in ("lengths", "truncation", "preference")
        ):
            raise UsageError(
                f"{key!r} is measured in tokens: this report has no token lengths",
                hint="pass --tokenizer SRC (or --chat-template MODEL) to measure them",
            )
        node: Any = self.data
        for part in key.split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise UsageError(f"no figure named {key!r} in the report", hint=_keys_hint())
        return node

    def failed_as_flags(self, conditions: list[str]) -> list[str]:
        """`failed`, its errors naming the CLI's flags (`trlprep report --fail-if`)."""
        held = []
        for cond in conditions:
            m = _FAIL_IF.match(cond)
            if m is None:
                raise UsageError(
                    f"cannot read the condition {cond!r}", hint="write KEY OP NUMBER, e.g. "
                    "'truncated_share > 0.05' (OP: > >= < <= == !=)",
                )  # fmt: skip
            key, op, number = m.group(1), m.group(2), float(m.group(3))
            value = self._value(key)
            if value is None and key in ("truncated", "truncated_share"):
                raise UsageError(
                    f"{key!r} is measured against your training limit: this report has none",
                    hint="pass --max-length N",
                )
            if value is None:
                continue
            if not isinstance(value, (int, float)):
                raise UsageError(f"{key!r} is not a number: no condition can hold on it")
            if _compare(float(value), op, number):
                held.append(f"{key} = {_num(value)} ({op} {m.group(3)})")
        return held


def _in_report_words(method: Any, arg: Any) -> Any:
    """`method(arg)`, its errors said as `trlprep.report`'s keyword arguments (`tokenizer=`,
    `max_length=`): a report's figures are asked for from Python."""
    from trlprep.errors import TrlprepError, _in_python_words

    try:
        return method(arg)
    except TrlprepError as e:
        from trlprep.datareport.build import report

        _in_python_words(e, report)
        raise


def _keys_hint() -> str:
    """Every figure `--fail-if` takes (`FIGURES`), by what measures it."""

    def keys(needs: str) -> str:
        return ", ".join(k for k, n in FIGURES.items() if n == needs)

    return (
        f"use a summary key: {keys('')}; with --validate: {keys('validate')}; measured in "
        f"tokens (with --tokenizer): {keys('tokens')}; or a dotted path of the JSON report "
        "(e.g. lengths.sequence.p99)"
    )


def _compare(a: float, op: str, b: float) -> bool:
    return {
        ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b, "==": a == b, "!=": a != b
    }[op]  # fmt: skip


def _num(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def summary(out: dict[str, Any], max_length: int | None) -> dict[str, Any]:
    """The headline figures (the names `--fail-if` knows)."""
    rows = out["rows"]
    s: dict[str, Any] = {"rows": rows["in"], "rows_reported": rows["reported"],
                         "rows_rejected": rows["rejected"]}  # fmt: skip
    trunc = out.get("truncation")
    if trunc:
        at = next((x for x in trunc["limits"] if x["max_length"] == max_length), None)
        s["truncated"] = at["truncated"] if at else None
        s["truncated_share"] = at["truncated_share"] if at else None
        s["max_tokens"] = out["lengths"]["sequence"].get("max")
        s["p99_tokens"] = out["lengths"]["sequence"].get("p99")
    dup = out.get("duplicates", {})
    s["duplicate_rows"] = dup.get("exact_rows")
    s["duplicate_share"] = (
        dup["exact_rows"] / rows["reported"] if rows["reported"] and "exact_rows" in dup else None
    )
    text = out.get("text", {}).get("by_role", {})
    s["empty_answers"] = sum(c.get("empty", 0) for c in text.values())
    if "identical_pairs" in dup:
        s["identical_pairs"] = dup["identical_pairs"]
    pref = out.get("preference")
    if pref:
        s["chosen_longer_share"] = pref["chosen_longer_share"]
    val = out.get("validation")
    if val is not None:
        s["valid"] = val["valid"]
        s["validation_errors"] = val["errors"]
    return s
