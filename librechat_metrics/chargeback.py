"""Cost per group, live: all-time spend and today's active members of each group (docs/semantics.md,
"Groups").

The slow job keeps each user's all-time credits incrementally, as the usage group keeps its tallies: a
recount of the transactions inserted before a cut-off (redone every METRICS_RESYNC_INTERVAL) plus, each
run, those inserted since. Both reads are grouped per user and model in MongoDB, so what the job holds
is bounded by the users, not by the transactions. Membership (`groups`, `users` projected) is read each
run, at the slow interval.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from . import origins, tally
from .groups import RECOUNT_LAG
from .history.engagement import active_users
from .membership import GroupSums, per_group, read_membership
from .mongo import Reader, Span
from .settings import Settings
from .windows import calendar_starts


@dataclass
class GroupCost:
    """Per group label (and `(no group)`): all-time credits of its members, members active today."""

    groups: dict[str, GroupSums]


def user_credits(reader: Reader, span: Span) -> Counter[str | None]:
    """|tokenValue| of the span's counted transactions per str(user) (None: no user)."""
    txs = tally.fold_transactions(tally.transaction_rows(reader, span, {}, by_user=True))
    credits: Counter[str | None] = Counter()
    for (_, _, user), value in txs.value.items():
        credits[user] += value
    return credits


class GroupCostJob:
    """The slow `group_cost` job: membership, per-user credits (incremental), today's person users."""

    name = "group_cost"

    def __init__(self, reader: Reader, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.reader, self.settings, self.clock = reader, settings, clock
        self.base: Counter[str | None] | None = None
        self.cutoff: datetime | None = None
        self.resynced_at = 0.0

    def __call__(self, now: datetime) -> GroupCost:
        self.reader = self.reader.at(now)  # what has expired at `now` is hidden
        if self.base is None or self.clock() - self.resynced_at >= self.settings.metrics_resync_interval:
            cutoff = now - RECOUNT_LAG  # as the usage group: a late-committed transaction is not lost
            self.base = user_credits(self.reader, Span(None, cutoff, inserted=True))
            self.cutoff, self.resynced_at = cutoff, self.clock()
        credits = self.base + user_credits(self.reader, Span(self.cutoff, inserted=True))
        membership = read_membership(self.reader)
        if not membership.groups:
            return GroupCost({})
        today = Span(calendar_starts(now, self.settings.timezone)["day"])
        people = origins.automated(self.reader, today).person()  # users are people (docs: "Origin")
        active = tally.distinct_counts(self.reader, "messages", "user", today, {}, people)["all"]
        ids = active_users(self.reader, today, people)
        return GroupCost(per_group(membership, active, ids, dict(credits)))
