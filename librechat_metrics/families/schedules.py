"""LibreChat's scheduled chats: schedules per state, stored runs per status, run durations."""

from __future__ import annotations

from collections import Counter

from ..jobs import SCHEDULES
from ..responses import WaitHistogram
from ..schedules import Schedules
from .base import Family, Samples, add_up, sourced


def per(counts: Counter[str]) -> Samples:
    return add_up(((label,), n) for label, n in counts.items())


def durations(result: Schedules) -> dict[tuple[str, ...], WaitHistogram]:
    return {(status,): histogram for status, histogram in result.durations.items()}


FAMILIES: tuple[Family, ...] = sourced(
    (
        Family(
            "librechat_schedules",
            "gauge",
            "Number of scheduled chats per state: enabled, the reason LibreChat disabled one, or disabled",
            ("state",),
            ("schedule",),
            SCHEDULES,
            lambda s: per(s.states),
            source="schedules",
        ),
        Family(
            "librechat_schedule_runs",
            "gauge",
            "Number of schedule runs LibreChat keeps (settled runs expire after 90 days), per status",
            ("status",),
            ("schedule",),
            SCHEDULES,
            lambda s: per(s.runs),
        ),
        Family(
            "librechat_schedule_failed_runs_by_mcp_status",
            "gauge",
            "Number of failed schedule runs LibreChat keeps, per status of an MCP server they used",
            ("mcp_status",),
            ("schedule",),
            SCHEDULES,
            lambda s: per(s.mcp),
        ),
        Family(
            "librechat_schedule_run_duration_seconds",
            "histogram",
            "Seconds a finished schedule run took (durationMs), per status, over the runs LibreChat keeps",
            ("status",),
            ("schedule",),
            SCHEDULES,
            durations,
            additive=False,
        ),
    ),
    "scheduleruns",
)
