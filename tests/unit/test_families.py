"""Family value functions over hand-made tallies: what each number is, without any database."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from librechat_metrics.collector import build
from librechat_metrics.families import FAMILIES, Family
from librechat_metrics.groups import Tallies, Usage
from librechat_metrics.tally import MessageKey, MessageTally, ToolKey, ToolTally, TxKey, TxTally
from librechat_metrics.values import CREDITS_PER_USD

NOW = datetime(2025, 3, 20, 12, tzinfo=timezone.utc)
BY_NAME = {family.name: family for family in FAMILIES}


def key(assistant: bool, model: str, error: bool = False, **more: object) -> MessageKey:
    fields: dict[str, object] = dict(tools=False, rating=None, tag=None, endpoint="openAI", unfinished=False)
    fields.update(more)
    return MessageKey(assistant=assistant, model=model, error=error, **fields)  # type: ignore[arg-type]


def usage() -> Usage:
    """Three questions, three replies (one an agent's, one an error, one unfinished), two ratings, a
    failed and a good tool call, and a ledger of two models."""
    count: Counter[MessageKey] = Counter(
        {
            key(False, "unknown"): 3,
            key(True, "gpt-4o", rating="thumbsUp", tag="accurate"): 1,
            key(True, "agent_a", endpoint="agents", rating="thumbsDown"): 1,
            key(True, "gpt-4o", error=True, unfinished=True): 1,
        }
    )
    tokens: Counter[MessageKey] = Counter({key(True, "gpt-4o", rating="thumbsUp", tag="accurate"): 40})
    tools = ToolTally(Counter({ToolKey("web_search", "agent_a", "agents", False): 2,
                               ToolKey("web_search", "agent_a", "agents", True): 1}))  # fmt: skip
    ledger = TxTally(
        tokens=Counter({TxKey("prompt", "gpt-4o", None): 100, TxKey("completion", "agent_a", None): 30}),
        count=Counter({TxKey("prompt", "gpt-4o", None): 1, TxKey("completion", "agent_a", None): 1}),
        value=Counter({TxKey("prompt", "gpt-4o", None): 250_000, TxKey("completion", "agent_a", None): 1e6}),
    )
    total = Tallies(MessageTally(count, tokens), tools, ledger, None, Counter({"agent_a": 1e6}))
    empty = Tallies(MessageTally(), ToolTally(), TxTally(), None)
    return Usage(total, empty, "transactions", {"agent_a": "claude-sonnet-4-5"}, NOW)


def samples(name: str) -> dict[tuple[str, ...], float]:
    return dict(BY_NAME[name].value(usage()))


def test_message_counts() -> None:
    assert samples("librechat_messages_total") == {(): 6.0}
    assert samples("librechat_error_messages_total") == {(): 1.0}


def test_replies_per_model_resolve_agent_ids() -> None:
    assert samples("librechat_messages_per_model_total") == {("gpt-4o",): 2.0, ("claude-sonnet-4-5",): 1.0}


def test_spend_is_credits_over_one_million() -> None:
    want = {("gpt-4o",): 250_000 / CREDITS_PER_USD, ("claude-sonnet-4-5",): 1.0}
    assert samples("librechat_spend_usd_total") == pytest.approx(want)
    assert samples("librechat_agent_spend_usd_total") == {("agent_a",): 1.0}


def test_endpoints_and_unfinished() -> None:
    assert samples("librechat_messages_per_endpoint_total") == {("openAI",): 2.0, ("agents",): 1.0}
    assert samples("librechat_unfinished_replies_total") == {("gpt-4o",): 1.0}


def test_tool_calls_and_failures() -> None:
    assert samples("librechat_tool_calls_total") == {(): 2.0}


def test_agent_replies_are_keyed_by_agent_id() -> None:
    family = next(f for f in FAMILIES if f.name.startswith("librechat_agent_") and f.name.endswith("s_total"))
    assert family.value(usage()) == {("agent_a",): 1.0}


def test_an_exposition_line_per_sample() -> None:
    family: Family = BY_NAME["librechat_messages_per_model_total"]
    metric = build(family, samples(family.name))
    lines = sorted(f"{s.name}{s.labels} {s.value}" for s in metric.samples)
    assert lines == [
        "librechat_messages_per_model_total{'model': 'claude-sonnet-4-5'} 1.0",
        "librechat_messages_per_model_total{'model': 'gpt-4o'} 2.0",
    ]
