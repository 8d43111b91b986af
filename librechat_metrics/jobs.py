"""The registry of the exporter's LibreChat jobs: each job's name, pace, what it reads and how it is made.

Families point at their job by name (`Family.job`); the exporter runs a job when an enabled family
points at it, and `--help`, `/readyz`, the README's metric table and its source column all come from
here. The two jobs that read no LibreChat collection (`target`, or `ping` without a target check,
and `indexes`) are wired in app.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .chargeback import GroupCostJob
from .engagement import collect_engagement
from .groups import (
    UsageGroup,
    collect_balances,
    collect_inventory,
    collect_recent_ratings,
    collect_schedules,
)
from .mongo import Reader
from .settings import Settings

Run = Callable[[datetime], Any]

FAST, SLOW = "fast", "slow"  # METRICS_CACHE_TTL, METRICS_SLOW_INTERVAL (a failed slow job retries fast)


@dataclass(frozen=True)
class JobSpec:
    """One background job: `make(reader, settings)` returns what the scheduler runs every interval."""

    name: str
    pace: str  # FAST or SLOW
    reads: str  # every collection it reads (for --help)
    source: str  # what its families are computed from, unless a family says otherwise (README table)
    refresh: str  # how fresh its families are, for the README's table
    make: Callable[[Reader, Settings], Run]

    def interval(self, settings: Settings) -> float:
        return settings.metrics_cache_ttl if self.pace == FAST else settings.metrics_slow_interval


def _each_run(collect: Callable[[Reader, Settings, datetime], Any]) -> Callable[[Reader, Settings], Run]:
    """A job without state between runs: `collect(reader, settings, now)` every interval."""
    return lambda reader, settings: lambda now: collect(reader, settings, now)


USAGE, ENGAGEMENT, INVENTORY = "usage", "engagement", "inventory"
RECENT_RATINGS, BALANCES, SCHEDULES = "recent_ratings", "balances", "schedules"
GROUP_COST = "group_cost"

JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        USAGE,
        FAST,
        "messages, transactions, agents, scheduleruns",
        "messages",
        "fast; all-time part recounted every `METRICS_RESYNC_INTERVAL`",
        lambda reader, settings: UsageGroup(reader, settings),
    ),
    # registrations in the rolling 1/7/30-day windows (their active users: the usage job)
    JobSpec(ENGAGEMENT, SLOW, "users", "users `_id`", "slow", _each_run(collect_engagement)),
    JobSpec(
        INVENTORY,
        SLOW,
        "collection metadata of conversations, users, files",
        "collection metadata",
        "slow",
        _each_run(collect_inventory),
    ),
    JobSpec(
        RECENT_RATINGS,
        SLOW,
        "messages",
        "messages",
        "slow; only with a `messages.updatedAt` index (not in stock LibreChat) or `RATINGS_5M_SCAN=true`",
        _each_run(collect_recent_ratings),
    ),
    JobSpec(BALANCES, SLOW, "balances", "balances", "slow", _each_run(collect_balances)),
    JobSpec(
        SCHEDULES,
        SLOW,
        "schedules, scheduleruns",
        "schedules, scheduleruns",
        "slow",
        _each_run(collect_schedules),
    ),
)
JOBS += (
    # cost per group: membership and per-user credits (kept incrementally), at the slow pace
    JobSpec(
        GROUP_COST,
        SLOW,
        "groups, users, transactions, messages, scheduleruns",
        "groups, users, transactions",
        "slow",
        lambda reader, settings: GroupCostJob(reader, settings),
    ),
)
BY_NAME = {spec.name: spec for spec in JOBS}


def help_lines() -> list[str]:
    """The jobs for --help: name, pace and what each reads."""
    lines = ["jobs (each runs while an enabled metric family needs it):"]
    lines += [f"  {spec.name:<16} {spec.pace:<5} reads {spec.reads}" for spec in JOBS]
    return lines
