"""Agents: replies and errors per agent id, and one info series per agent (name, provider, model)."""

from __future__ import annotations

from ..groups import Usage
from ..tally import AgentInfo
from .base import USAGE, Family, Samples, add_up
from .messages import ASSISTANT, ERROR

AGENTS = "agents"
A = ("agent_id",)


def replies(usage: Usage, recent: bool, errors_only: bool) -> Samples:
    """Assistant messages whose model is an agent id (`agent_…`), per agent id."""
    tallies = usage.recent if recent else usage.total
    return add_up(
        ((k[1],), n)
        for k, n in tallies.messages.count.items()
        if k[ASSISTANT] and k[1].startswith("agent_") and (k[ERROR] or not errors_only)
    )


def info(agents: dict[str, AgentInfo]) -> Samples:
    return add_up(((agent_id, i.model, i.name, i.provider), 1) for agent_id, i in agents.items())


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_agent_replies_total",
        "counter",
        "Number of agent replies per agent id",
        A,
        ("model",),
        USAGE,
        lambda u: replies(u, False, False),
    ),
    Family(
        "librechat_agent_errors_total",
        "counter",
        "Number of agent replies that are error messages, per agent id",
        A,
        ("model",),
        USAGE,
        lambda u: replies(u, False, True),
    ),
    Family(
        "librechat_agent_replies_5m",
        "gauge",
        "Number of agent replies per agent id in the last 5 minutes",
        A,
        ("time_window", "model"),
        USAGE,
        lambda u: replies(u, True, False),
    ),
    Family(
        "librechat_agent_errors_5m",
        "gauge",
        "Number of agent replies that are error messages, per agent id, in the last 5 minutes",
        A,
        ("time_window", "model"),
        USAGE,
        lambda u: replies(u, True, True),
    ),
    Family(
        "librechat_agent_info",
        "gauge",
        "One series per agent with its name, provider and current model (value 1)",
        ("agent_id", "model", "name", "provider"),
        ("model",),
        AGENTS,
        info,
        additive=False,
    ),
)
