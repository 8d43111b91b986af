"""Engagement over rolling windows: distinct active users and new registrations in the last 1, 7
and 30 days (docs/semantics.md, "Engagement").

The active users are read with the usage cycle's activity numbers (groups.activity_reads, from these
windows' starts); the registrations here, one read at the slow interval, on users' `_id` (users has no
`createdAt` index, so registration time is the ObjectId time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .mongo import Reader, Span
from .settings import Settings

WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class Engagement:
    """Per window name ("1d", "7d", "30d"): users registered."""

    registered: dict[str, int]


def starts(now: datetime) -> dict[str, datetime]:
    """The lower bound of each rolling window: exactly N x 24 h before `now`."""
    return {name: now - length for name, length in WINDOWS.items()}


def new_users(reader: Reader, marks: dict[str, datetime]) -> dict[str, int]:
    """Users whose `_id` is an ObjectId made at or after each mark (one read from the earliest)."""
    earliest = Span(min(marks.values()))
    counters = {
        name: {"$sum": {"$cond": [Span(when).test(by_id=True), 1, 0]}} for name, when in marks.items()
    }
    rows = reader.aggregate(
        "users", [{"$match": earliest.match(by_id=True)}, {"$group": {"_id": None, **counters}}]
    )
    return {name: int(rows[0][name]) if rows else 0 for name in marks}


def collect_engagement(reader: Reader, settings: Settings, now: datetime) -> Engagement:
    return Engagement(new_users(reader.at(now), starts(now)))
