"""Distinct active users and conversations (the usage job's activity reads) and plain collection counts
(inventory job)."""

from __future__ import annotations

from collections.abc import Callable

from ..groups import Activity, Usage
from ..jobs import INVENTORY, USAGE
from .base import Family, Samples, one

# (name part, HELP wording, window): the calendar windows of windows.calendar_starts.
CALENDAR = (
    ("daily", "day", "day"),
    ("weekly", "week (starting from Monday)", "week"),
    ("monthly", "month", "month"),
)


def activity(usage: Usage) -> Activity:
    """The activity numbers of a usage result (read whenever these families are on)."""
    if usage.activity is None:
        raise ValueError("the usage result has no activity numbers")
    return usage.activity


def messages_in(window: str) -> Callable[[Usage], Samples]:
    """The value of a calendar messages gauge: messages created since the window's start."""
    return lambda u: one(activity(u).messages[window])


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_active_users",
        "gauge",
        "Number of active users in the last 5 minutes",
        (),
        ("user",),
        USAGE,
        lambda u: one(activity(u).users["recent"]),
    ),
    Family(
        "librechat_active_conversations",
        "gauge",
        "Number of active conversations in the last 5 minutes",
        (),
        ("user",),
        USAGE,
        lambda u: one(activity(u).conversations_5m),
    ),
    Family(
        "librechat_daily_unique_users",
        "gauge",
        "Number of unique users active in the current day",
        (),
        ("user",),
        USAGE,
        lambda u: one(activity(u).users["day"]),
    ),
    Family(
        "librechat_weekly_unique_users",
        "gauge",
        "Number of unique users active in the current week (starting from Monday)",
        (),
        ("user",),
        USAGE,
        lambda u: one(activity(u).users["week"]),
    ),
    Family(
        "librechat_monthly_unique_users",
        "gauge",
        "Number of unique users active in the current month",
        (),
        ("user",),
        USAGE,
        lambda u: one(activity(u).users["month"]),
    ),
    *(
        Family(
            f"librechat_{period}_messages",
            "gauge",
            f"Number of messages sent in the current {span}",
            (),
            ("basic", "user"),
            USAGE,
            messages_in(window),
        )
        for period, span, window in CALENDAR
    ),
    Family(
        "librechat_conversations_total",
        "counter",
        "Number of started conversations stored in the database",
        (),
        ("basic",),
        INVENTORY,
        lambda c: one(c["conversations"]),
        source="conversations",
    ),
    Family(
        "librechat_uploaded_files_total",
        "counter",
        "Number of uploaded files",
        (),
        ("file",),
        INVENTORY,
        lambda c: one(c["files"]),
        source="files",
    ),
    Family(
        "librechat_registered_users_total",
        "counter",
        "Number of registered users",
        (),
        ("user",),
        INVENTORY,
        lambda c: one(c["users"]),
        source="users",
    ),
)
