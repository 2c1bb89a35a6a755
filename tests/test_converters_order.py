"""Column order of every conversion: where the TRL guide's recipe puts each column when
`datasets` runs it (map merges the function's output into the row after `remove_columns`,
`rename_column` keeps the place), extra columns included; checked against `datasets` and
TRL's own `extract_prompt` / `unpair_preference_dataset`, and the test oracle's order."""

from __future__ import annotations

import warnings

import pyarrow as pa
import pytest
from reference_recipes import RECIPES
from trlprep.converters import EDGES, ConversionWarning, ConvertOptions

from trlprep.registry import Format

datasets = pytest.importorskip("datasets")
data_utils = pytest.importorskip("trl.data_utils")

S, C = Format.STANDARD, Format.CONVERSATIONAL


def _u(t: str) -> list[dict]:
    return [{"role": "user", "content": t}]


def _a(t: str) -> list[dict]:
    return [{"role": "assistant", "content": t}]


# inputs with extra columns before, between and after the type columns
PC = {"id": [0], "prompt": ["The sky is"], "x": [1], "completion": [" blue."]}
IMPLICIT = {"id": [0], "chosen": [_u("Sky?") + _a("Blue.")], "x": [1]}
IMPLICIT["rejected"] = [_u("Sky?") + _a("Green.")]
PREF = {"id": [0], "prompt": ["The sky is"], "x": [1], "chosen": [" blue."]}
PREF["rejected"] = [" green."]
UNPAIRED = {"id": [0], "prompt": ["The sky is"], "x": [1], "completion": [" blue."]}
UNPAIRED["label"] = [True]
STEPWISE = {"id": [0], "prompt": ["Water"], "x": [1], "completions": [[" a,", " b."]]}
STEPWISE["labels"] = [[True, True]]


def _text(e: dict, a: str, b: str) -> dict:
    return {"text": e[a] + (e[b] if isinstance(e[b], str) else "".join(e[b]))}


def _recipes():
    """(edge, format, input, the guide's recipe on a datasets.Dataset)."""
    ep, unpair = data_utils.extract_prompt, data_utils.unpair_preference_dataset
    good = lambda x: x["label"]  # noqa: E731
    right = lambda x: all(x["labels"])  # noqa: E731
    return [
        (("prompt-completion", "language-modeling"), S, PC,
         lambda d: d.map(lambda e: _text(e, "prompt", "completion"),
                         remove_columns=["prompt", "completion"])),
        (("prompt-completion", "prompt-only"), S, PC, lambda d: d.remove_columns("completion")),
        (("preference-implicit", "prompt-completion"), C, IMPLICIT,
         lambda d: d.map(ep).remove_columns("rejected").rename_column("chosen", "completion")),
        (("preference-implicit", "prompt-only"), C, IMPLICIT,
         lambda d: d.map(ep).remove_columns(["chosen", "rejected"])),
        (("preference-implicit", "preference"), C, IMPLICIT, lambda d: d.map(ep)),
        (("preference-implicit", "unpaired-preference"), C, IMPLICIT,
         lambda d: unpair(d.map(ep))),
        (("preference-implicit", "language-modeling"), C, IMPLICIT,
         lambda d: d.rename_column("chosen", "messages").remove_columns("rejected")),
        (("preference", "language-modeling"), S, PREF,
         lambda d: d.map(lambda e: _text(e, "prompt", "chosen"),
                         remove_columns=["prompt", "chosen", "rejected"])),
        (("preference", "prompt-completion"), S, PREF,
         lambda d: d.remove_columns("rejected").rename_column("chosen", "completion")),
        (("preference", "prompt-only"), S, PREF,
         lambda d: d.remove_columns(["chosen", "rejected"])),
        (("preference", "preference-implicit"), S, PREF,
         lambda d: d.map(lambda e: {"chosen": e["prompt"] + e["chosen"],
                                    "rejected": e["prompt"] + e["rejected"]},
                         remove_columns="prompt")),
        (("preference", "unpaired-preference"), S, PREF, unpair),
        (("unpaired-preference", "language-modeling"), S, UNPAIRED,
         lambda d: d.filter(good).map(lambda e: _text(e, "prompt", "completion"))
         .remove_columns(["prompt", "completion", "label"])),
        (("unpaired-preference", "prompt-completion"), S, UNPAIRED,
         lambda d: d.filter(good).remove_columns(["label"])),
        (("unpaired-preference", "prompt-only"), S, UNPAIRED,
         lambda d: d.remove_columns(["completion", "label"])),
        (("stepwise-supervision", "language-modeling"), S, STEPWISE,
         lambda d: d.filter(right).map(lambda e: _text(e, "prompt", "completions"),
                                       remove_columns=["prompt", "completions", "labels"])),
        (("stepwise-supervision", "prompt-completion"), S, STEPWISE,
         lambda d: d.filter(right).map(lambda e: {"completion": "".join(e["completions"])},
                                       remove_columns=["completions", "labels"])),
        (("stepwise-supervision", "prompt-only"), S, STEPWISE,
         lambda d: d.remove_columns(["completions", "labels"])),
        (("stepwise-supervision", "unpaired-preference"), S, STEPWISE,
         lambda d: d.map(lambda e: {"prompt": e["prompt"],
                                    "completion": "".join(e["completions"]),
                                    "label": all(e["labels"])},
                         remove_columns=["completions", "labels"])),
    ]  # fmt: skip


CASES = _recipes()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0][0]}->{c[0][1]}")
def test_columns_are_where_the_recipe_puts_them(case):
    key, fmt, data, recipe = case
    datasets.disable_progress_bars()
    want = recipe(datasets.Dataset.from_dict(data)).column_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        got = EDGES[key].fn(pa.Table.from_pydict(data), fmt, ConvertOptions())
    assert got.column_names == want
    rows = [dict(zip(data, r, strict=True)) for r in zip(*data.values(), strict=True)]
    assert list(RECIPES[key](rows, fmt.value, ConvertOptions())[0]) == want  # the oracle too


def test_every_guide_edge_is_checked():
    guide = {k for k, e in EDGES.items() if e.guide}
    assert guide <= {c[0] for c in CASES}
