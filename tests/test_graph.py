"""The conversion graph: every documented edge, routing, and unreachable targets."""

from __future__ import annotations

import pytest

from trlprep.conversion.graph import edges, matrix, mermaid, reachable_from, route
from trlprep.errors import UsageError

# The guide's From \ To matrix: 19 documented conversions.
GUIDE = {
    ("prompt-completion", "language-modeling"),
    ("prompt-completion", "prompt-only"),
    ("preference-implicit", "language-modeling"),
    ("preference-implicit", "prompt-completion"),
    ("preference-implicit", "prompt-only"),
    ("preference-implicit", "preference"),
    ("preference-implicit", "unpaired-preference"),
    ("preference", "language-modeling"),
    ("preference", "prompt-completion"),
    ("preference", "prompt-only"),
    ("preference", "preference-implicit"),
    ("preference", "unpaired-preference"),
    ("unpaired-preference", "language-modeling"),
    ("unpaired-preference", "prompt-completion"),
    ("unpaired-preference", "prompt-only"),
    ("stepwise-supervision", "language-modeling"),
    ("stepwise-supervision", "prompt-completion"),
    ("stepwise-supervision", "prompt-only"),
    ("stepwise-supervision", "unpaired-preference"),
}


def test_every_guide_conversion_is_one_declared_edge():
    guide = {k for k, e in edges().items() if e.guide}
    assert guide == GUIDE


def test_edges_declare_what_they_lose_and_row_effects():
    e = edges()
    assert not e[("preference", "preference-implicit")].lossy
    assert not e[("preference-implicit", "preference")].lossy
    assert "rejected" in e[("preference", "prompt-completion")].drops
    assert e[("preference", "unpaired-preference")].rows == "doubles"
    assert e[("unpaired-preference", "language-modeling")].rows == "filters"
    assert e[("stepwise-supervision", "prompt-completion")].rows == "filters"
    assert e[("prompt-completion", "prompt-only")].rows == "same"


def test_direct_edge_is_taken_and_aliases_resolve():
    r = route("pref", "unpaired")
    assert r.names() == ["preference", "unpaired-preference"]
    assert route("preference", "preference").steps == ()


def test_routes_prefer_lossless_paths():
    # unpaired -> implicit: pair by prompt (beyond the guide), then add the prompt back
    r = route("unpaired", "implicit")
    assert r.names() == ["unpaired-preference", "preference", "preference-implicit"]
    with pytest.raises(UsageError):
        route("unpaired", "implicit", guide_only=True)


def test_unreachable_target_lists_what_is_reachable():
    with pytest.raises(UsageError) as exc:
        route("lm", "pref")
    assert "cannot convert language-modeling to preference" in exc.value.message
    assert "prompt-completion, prompt-only" in exc.value.hint
    with pytest.raises(UsageError) as exc:
        route("prompt-only", "lm")
    assert "converts to nothing" in exc.value.hint
    with pytest.raises(UsageError) as exc:
        route("pc", "pref")
    assert "language-modeling" in exc.value.hint and "prompt-only" in exc.value.hint


def test_nothing_reachable_in_one_format_names_that_format():
    from trlprep.registry import Format

    with pytest.raises(UsageError) as exc:  # conversational language modeling reaches two types
        route("lm", "pref", fmt=Format.STANDARD)
    assert exc.value.hint.startswith("standard language-modeling converts to nothing")


def test_matrix_guide_only_reaches_exactly_the_guide_cells_plus_compositions():
    m = matrix(guide_only=True)
    direct = {(s, d) for s, row in m.items() for d, r in row.items() if r and len(r.steps) == 1}
    assert direct == GUIDE
    assert m["language-modeling"] == dict.fromkeys(m["language-modeling"])  # all None
    assert reachable_from("prompt-only") == set()


def test_mermaid_has_every_type_and_marks_lossy_edges():
    text = mermaid(guide_only=True)
    assert text.startswith("flowchart LR")
    assert "preference --> preference_implicit" in text
    assert "preference -.->" in text
    assert text.count("-->") + text.count("-.->") == len(GUIDE)


def test_conversation_splits_are_edges_of_conversational_data_only():
    from trlprep.registry import Format

    e = edges()[("language-modeling", "prompt-completion")]
    assert not e.lossy and e.formats == (Format.CONVERSATIONAL,) and not e.guide
    assert "last assistant turn" in edges()[("language-modeling", "prompt-only")].drops
    conv = route("lm", "pc", fmt=Format.CONVERSATIONAL)
    assert conv.names() == ["language-modeling", "prompt-completion"]
    with pytest.raises(UsageError) as exc:
        route("lm", "pc", fmt=Format.STANDARD)
    assert "in standard format" in exc.value.message
    assert "conversational data only" in exc.value.hint
    assert "no turn structure" in exc.value.hint
    assert matrix(fmt=Format.STANDARD)["language-modeling"]["prompt-only"] is None
    assert matrix(fmt=Format.CONVERSATIONAL)["language-modeling"]["prompt-only"] is not None
    assert "conversational only" in mermaid()
