"""The exporter's own families that are computed from a job's result."""

from __future__ import annotations

from ..jobs import USAGE
from .base import Family, one

FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_exporter_last_recount_timestamp_seconds",
        "gauge",
        "Unix time of the last full recount of all-time numbers; edits of older documents made after it "
        "show after the next recount",
        (),
        (),
        USAGE,
        lambda u: one(u.recounted_at.timestamp()),
        source="—",
    ),
)
