"""Engagement over rolling windows (issue #10): distinct active users and new registrations in the
last 24 hours, 7 and 30 days (engagement job, librechat_metrics/engagement.py)."""

from __future__ import annotations

from .base import Family, one

ENGAGEMENT = "engagement"
WINDOWS = (("1d", "24 hours"), ("7d", "7 days"), ("30d", "30 days"))

FAMILIES: tuple[Family, ...] = (
    *(
        Family(
            f"librechat_active_users_{window}",
            "gauge",
            f"Number of distinct users with a message in the last {span}",
            (),
            ("user",),
            ENGAGEMENT,
            lambda e, w=window: one(e.active[w]),
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
            lambda e, w=window: one(e.registered[w]),
        )
        for window, span in WINDOWS
    ),
)
