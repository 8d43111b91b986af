"""Agents: replies and errors per agent id, and one info series per agent (name, provider, model)."""

from __future__ import annotations

from ..groups import Usage
from ..jobs import USAGE
from ..labels import is_agent_id
from ..tally import AgentInfo
from ..values import usd
from .activity import activity
from .base import TRANSACTIONS, Family, Samples, add_up

A = ("agent_id",)


def replies(usage: Usage, recent: bool, errors_only: bool) -> Samples:
    """Assistant messages whose model is an agent id (`agent_…`), per agent id."""
    tallies = usage.recent if recent else usage.total
    return add_up(
        ((k.model,), n)
        for k, n in tallies.messages.count.items()
        if k.assistant and is_agent_id(k.model) and (k.error or not errors_only)
    )


def spend(usage: Usage) -> Samples:
    return add_up(((agent_id,), usd(v)) for agent_id, v in (usage.total.agent_spend or {}).items())


def users(usage: Usage, window: str) -> Samples:
    return add_up(((agent_id,), n) for agent_id, n in activity(usage).agent_users.get(window, {}).items())


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
        "librechat_agent_spend_usd_total",
        "counter",
        "US dollars LibreChat charged for the replies of each agent (transactions joined to the reply by "
        "messageId, LibreChat 0.8.3 and later)",
        A,
        ("model", "token"),
        USAGE,
        spend,
        source=TRANSACTIONS,
    ),
    Family(
        "librechat_agent_active_users",
        "gauge",
        "Number of users an agent replied to in the last 5 minutes",
        A,
        ("user", "model"),
        USAGE,
        lambda a: users(a, "recent"),
        additive=False,  # distinct users: a user of two agents is one user, never summed into "other"
    ),
    Family(
        "librechat_agent_daily_users",
        "gauge",
        "Number of users an agent replied to in the current day",
        A,
        ("user", "model"),
        USAGE,
        lambda a: users(a, "day"),
        additive=False,  # distinct users: a user of two agents is one user, never summed into "other"
    ),
    Family(
        "librechat_agent_weekly_users",
        "gauge",
        "Number of users an agent replied to in the current week (starting from Monday)",
        A,
        ("user", "model"),
        USAGE,
        lambda a: users(a, "week"),
        additive=False,  # distinct users: a user of two agents is one user, never summed into "other"
    ),
    Family(
        "librechat_agent_monthly_users",
        "gauge",
        "Number of users an agent replied to in the current month",
        A,
        ("user", "model"),
        USAGE,
        lambda a: users(a, "month"),
        additive=False,  # distinct users: a user of two agents is one user, never summed into "other"
    ),
    Family(
        "librechat_agent_info",
        "gauge",
        "One series per agent with its name, provider and current model (value 1)",
        ("agent_id", "model", "name", "provider"),
        ("model",),
        USAGE,
        lambda u: info(u.agent_info),
        additive=False,
        source="agents",
    ),
)
