"""Cost per group (chargeback): each LibreChat group's spend and active members (membership as LibreChat
resolves it; a user in several groups counts in each, so group sums can exceed the totals)."""

from __future__ import annotations

from ..chargeback import GroupCost
from ..jobs import GROUP_COST
from ..values import usd
from .base import Family, Samples

G = ("group",)


def spend(cost: GroupCost) -> Samples:
    return {(name,): usd(sums.spend) for name, sums in cost.groups.items()}


def active(cost: GroupCost) -> Samples:
    return {(name,): float(sums.active_users) for name, sums in cost.groups.items()}


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_group_spend_usd_total",
        "counter",
        "US dollars LibreChat charged for the members of each group, all time (transactions.tokenValue); "
        "a user in several groups counts in each, (no group) holds users in no group",
        G,
        ("user", "token"),
        GROUP_COST,
        spend,
        source="groups, users, transactions",
    ),
    Family(
        "librechat_group_active_users",
        "gauge",
        "Members of each group with a message of their own in the current day (TIMEZONE); a user in several "
        "groups counts in each, (no group) holds users in no group",
        G,
        ("user",),
        GROUP_COST,
        active,
        additive=False,
        source="groups, users, messages",
    ),
)
