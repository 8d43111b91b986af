"""Engagement over rolling windows: distinct active users (the usage job's activity reads) and new
registrations (engagement job) in the last 24 hours, 7 and 30 days (librechat_metrics/engagement.py)."""

from __future__ import annotations

from collections.abc import Callable

from ..engagement import Engagement
from ..groups import Usage
from ..jobs import ENGAGEMENT, USAGE
from .activity import activity
from .base import Family, Samples, one

WINDOWS = (("1d", "24 hours"), ("7d", "7 days"), ("30d", "30 days"))


def active_in(window: str) -> Callable[[Usage], Samples]:
    return lambda u: one(activity(u).users[window])


def registered_in(window: str) -> Callable[[Engagement], Samples]:
    return lambda e: one(e.registered[window])


FAMILIES: tuple[Family, ...] = (
    *(
        Family(
            f"librechat_active_users_{window}",
            "gauge",
            f"Number of distinct users with a message in the last {span}",
            (),
            ("user",),
            USAGE,
            active_in(window),
        )
        for window, span in WINDOWS
    ),
    *(
        Family(
            f"librechat_new_users_{window}",
            "gauge",
            f"Number of users registered in the last {span} (time in the user's ObjectId)",
            (),
            ("user",),
            ENGAGEMENT,
            registered_in(window),
            source="users `_id`",
        )
        for window, span in WINDOWS
    ),
)
