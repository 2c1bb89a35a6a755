"""The table of rules in `validation/rules.py`'s docstring: every rule with its severity, in
aligned columns (it is read as plain text)."""

from __future__ import annotations

from pathlib import Path

from trlprep.validation import rules


def test_the_docstring_table_lists_every_rule_aligned():
    doc = Path(rules.__file__).read_text(encoding="utf-8").split('"""')[1]  # as written
    lines = [x for x in doc.splitlines() if x.startswith("|")]
    assert [x for x in lines if len(x) != len(lines[0])] == []
    at = [i for i, ch in enumerate(lines[0]) if ch == "|"]  # `<|im_start|>`: not a column
    assert [x for x in lines if any(x[i] != "|" for i in at)] == []
    listed = {}
    for x in lines[2:]:
        rule, severity = (c.strip() for c in x.strip("|").split("|")[:2])
        listed[rule] = severity
    assert listed == {r.id: r.severity.value for r in rules.RULES.values()}
