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

__all__ = ["FAMILIES", "MODULES", "Family", "Samples"]
