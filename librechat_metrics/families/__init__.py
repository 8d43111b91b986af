"""Every LibreChat metric family, declared once: name, type, HELP, labels, toggles, group, value.

One module per concern, each with its own FAMILIES tuple; this package assembles them in the order
the README table and the page show them. Names, types, labels and HELP texts of the seed README are a
contract with operators' dashboards.
"""

from __future__ import annotations

from . import (
    activity,
    agents,
    balances,
    chargeback,
    cost,
    endpoints,
    engagement,
    exporter,
    messages,
    ratings,
    responses,
    schedules,
    tokens,
    tools,
)
from .base import Family, Samples

MODULES = (
    messages,
    tokens,
    activity,
    engagement,
    ratings,
    tools,
    responses,
    cost,
    endpoints,
    agents,
    chargeback,
    balances,
    schedules,
    exporter,
)

FAMILIES: tuple[Family, ...] = tuple(family for module in MODULES for family in module.FAMILIES)
# The families of the usage job's activity reads (distinct users, calendar messages): read afresh each
# cycle over their windows, not kept incrementally like the job's other numbers.
FROM_ACTIVITY = frozenset(
    {f.name for f in (*activity.FAMILIES, *engagement.FAMILIES) if f.job == "usage"}
    | {f.name for f in agents.FAMILIES if f.name.endswith("_users")}
)

__all__ = ["FAMILIES", "FROM_ACTIVITY", "MODULES", "Family", "Samples"]
