"""Time placement of synthetic documents: milliseconds, the forbidden band, seasonality, boundaries."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Relative activity per local hour (0-23) and per ISO weekday (Monday first).
HOUR_WEIGHTS = (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 3, 7, 10, 10, 9, 6, 8, 10, 10, 9, 7, 5, 4, 3, 3, 2, 1.5)
WEEKDAY_WEIGHTS = (1, 1, 1, 1, 0.9, 0.25, 0.15)

BOUNDARY_NAMES = ("today", "yesterday", "week", "prev_week", "month", "prev_month")


def to_ms(dt: datetime) -> int:
    """Milliseconds since the epoch of an aware (or naive = UTC) datetime, truncated."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_dt(ms: int) -> datetime:
    """Aware timezone.utc datetime with millisecond precision."""
    return EPOCH + timedelta(milliseconds=ms)


class Clock:
    """Legal times relative to `now`: nothing within 30 s of now-300 s, nothing after now-5 s."""

    MARGIN = 32 * SECOND  # 30 s plus room for the second-precision ObjectId time

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms
        self.band_lo = now_ms - 300 * SECOND - self.MARGIN
        self.band_hi = now_ms - 300 * SECOND + self.MARGIN
        self.ceiling = now_ms - 5 * SECOND

    def in_band(self, t: int) -> bool:
        return self.band_lo <= t <= self.band_hi

    def legal(self, t: int) -> int | None:
        """`t`, or pushed just past the band; None when that is after the ceiling."""
        if self.in_band(t):
            t = self.band_hi + SECOND + (t - self.band_lo) % (3 * SECOND)
        return t if t <= self.ceiling else None

    def before(self, t: int) -> int:
        """`t` (assumed <= a legal time), moved before the band when inside it, and capped at the ceiling."""
        t = min(t, self.ceiling)
        if self.in_band(t):
            t = self.band_lo - SECOND - (t - self.band_lo) % (3 * SECOND)
        return t

    def ok(self, t: int) -> bool:
        return not self.in_band(t) and t <= self.ceiling


def local_midnight(d: date, zone: ZoneInfo) -> datetime:
    """00:00 local time of date `d` in `zone`, as an aware timezone.utc datetime."""
    return datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(timezone.utc)


def boundaries(now: datetime, zone_name: str) -> dict[str, datetime]:
    """Today's/yesterday's midnight, this/last ISO week's Monday, this/last month's 1st, in `zone_name`."""
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    prev_first = (first - timedelta(days=1)).replace(day=1)
    days = (today, today - timedelta(days=1), monday, monday - timedelta(days=7), first, prev_first)
    return {name: local_midnight(d, zone) for name, d in zip(BOUNDARY_NAMES, days, strict=True)}


class Seasonality:
    """Samples times over the last `history_days` days with weekday and hour-of-day weights."""

    def __init__(self, now_ms: int, zone_name: str, history_days: int) -> None:
        self.zone = ZoneInfo(zone_name)
        self.now = now_ms
        self.lo = now_ms - history_days * DAY
        today = to_dt(now_ms).astimezone(self.zone).date()
        self.days = [today - timedelta(days=i) for i in range(history_days + 1)]
        self.day_weights = [WEEKDAY_WEIGHTS[d.weekday()] for d in self.days]

    def sample(self, rng: random.Random, latest: int) -> int:
        """A time in [now - history_days, latest] following the seasonal weights."""
        for _ in range(100):
            (d,) = rng.choices(self.days, self.day_weights)
            (h,) = rng.choices(range(24), HOUR_WEIGHTS)
            local = datetime(
                d.year, d.month, d.day, h, rng.randrange(60), rng.randrange(60), tzinfo=self.zone
            )
            t = to_ms(local) + rng.randrange(1000)
            if self.lo <= t <= latest:
                return t
        return rng.randint(self.lo, latest)
