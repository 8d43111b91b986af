"""Label rules: how raw field values become bounded, safe label strings, and how series are capped."""

from __future__ import annotations

from librechat_metrics.labels import MAX_LABEL_LENGTH, cap, name_label, resolve_agent, sanitise, tag_label


def test_name_label_fallbacks() -> None:
    got = [name_label(v) for v in (None, "", "gpt-4o", 5, 5.0)]
    assert got == ["unknown", "unknown", "gpt-4o", "5", "5.0"]


def test_tag_label_shapes() -> None:
    assert tag_label({"key": "not_helpful"}) == "not_helpful"
    assert tag_label("x") == "x"
    assert tag_label(None) is None and tag_label("") is None


def test_agent_ids_resolve_only_when_known() -> None:
    agents = {"agent_a": "gpt-4o"}
    assert resolve_agent("agent_a", agents) == "gpt-4o"
    assert resolve_agent("agent_b", agents) == "agent_b"
    assert resolve_agent("gpt-4o-mini", agents) == "gpt-4o-mini"


def test_sanitise_cuts_and_blanks_control_characters() -> None:
    assert sanitise("a\nb\x7fc") == "a b c"
    assert len(sanitise("x" * 1000)) == MAX_LABEL_LENGTH


def test_cap_keeps_the_largest_and_sums_the_rest_into_other() -> None:
    samples = {("a",): 5.0, ("b",): 3.0, ("c",): 2.0, ("d",): 1.0}
    assert cap(samples, 4) == samples
    assert cap(samples, 3) == {("a",): 5.0, ("b",): 3.0, ("other",): 3.0}
