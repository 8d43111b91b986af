"""Engagement over rolling windows: distinct active users and new registrations in the last 1, 7
and 30 days (docs/semantics.md, "Engagement").

Two index-bounded reads at the slow interval: messages on `createdAt` (the 30-day read is the
largest), users on `_id` (users has no `createdAt` index, so registration time is the ObjectId time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import origins, tally
from .mongo import Reader, Span
from .settings import Settings

WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class Engagement:
    """Per window name ("1d", "7d", "30d"): distinct active users and users registered."""

    active: dict[str, int]
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
    reader = reader.at(now)  # what has expired at `now` is hidden
    marks = starts(now)
    span = Span(min(marks.values()))
    people = origins.automated(reader, span).person()  # active users are people (docs: "Origin")
    active = tally.distinct_counts(reader, "messages", "user", span, marks, people)
    return Engagement({name: active[name] for name in marks}, new_users(reader, marks))
