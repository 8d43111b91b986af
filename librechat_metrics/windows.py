"""Calendar windows in the configured time zone, as UTC-aware datetimes for MongoDB bounds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .mongo import Span


def local_midnight(day: date, zone: str) -> datetime:
    """00:00 of `day` in `zone`, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def week_start(day: date) -> date:
    """The Monday of the ISO week that contains `day`."""
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_week(monday: date) -> date:
    return monday + timedelta(days=7)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def day_span(day: date, zone: str) -> Span:
    return Span(local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone))


def calendar_starts(now: datetime, zone: str) -> dict[str, datetime]:
    """Start of the current day, ISO week and month in `zone`."""
    today = now.astimezone(ZoneInfo(zone)).date()
    return {
        "day": local_midnight(today, zone),
        "week": local_midnight(week_start(today), zone),
        "month": local_midnight(month_start(today), zone),
    }
