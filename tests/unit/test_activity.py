"""The per-day activity the history's windows are computed from: user keys and the day of a message."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

from bson import Int64, ObjectId

from librechat_metrics.history import engagement

HEX = "65f0c0ffee0000000000beef"


def test_user_keys_tell_users_apart_as_distinct_counts_do() -> None:
    key = engagement.user_key
    assert key(5) == key(5.0) == key(Int64(5))  # one user, as MongoDB groups numbers by value
    assert len({key("5"), key(5), key(True), key(1.5), key([5]), key(ObjectId(HEX)), key(HEX)}) == 7
    assert key(HEX) == hashlib.sha256(("s" + HEX).encode()).hexdigest()[:32]  # a string is itself
    assert key(float("nan")) == key(float("nan")) and key(float("inf")) != key(float("-inf"))


def test_the_day_index_is_half_open_at_every_midnight() -> None:
    """Evaluates the `$cond` tree in Python: bounds[i] <= createdAt < bounds[i + 1] gives i."""
    bounds = [datetime(2025, 3, 1, tzinfo=timezone.utc) + timedelta(days=i) for i in range(8)]

    def run(expr: object, when: datetime) -> int:
        while isinstance(expr, dict):
            (field, bound), yes, no = expr["$cond"][0]["$lt"], *expr["$cond"][1:]
            assert field == "$createdAt"
            expr = yes if when < bound else no
        assert isinstance(expr, int)
        return expr

    tree = engagement._day_index(bounds, 0, 7)
    for i in range(7):
        assert run(tree, bounds[i]) == i
        assert run(tree, bounds[i + 1] - timedelta(milliseconds=1)) == i
    assert engagement._day_index(bounds, 0, 1) == 0


class Counted(engagement.Activity):
    """An Activity whose reads return empty days and are counted (no MongoDB)."""

    def __init__(self) -> None:
        super().__init__(None, "UTC")  # type: ignore[arg-type]
        self.reads: list[tuple[date, date]] = []

    def _read_users(self, lo: date, hi: date) -> dict[date, set[str]]:
        self.reads.append((lo, hi))
        return {d: set() for d in engagement._days(lo, hi)}

    def _read_signups(self, lo: date, hi: date) -> dict[date, set[str]]:
        return {d: set() for d in engagement._days(lo, hi)}


def test_a_run_reads_each_day_once_and_holds_at_most_keep_days() -> None:
    """Day after day, a read covers READ_DAYS days; days before the asked ones are dropped, oldest
    first, once more than KEEP_DAYS are held."""
    activity, first = Counted(), date(2025, 1, 1)
    for i in range(400):
        activity.users(first + timedelta(days=i - 55), first + timedelta(days=i))
    assert len(activity._users) <= engagement.KEEP_DAYS
    starts = [lo for lo, _ in activity.reads]
    assert len(starts) == len(set(starts)) and starts[0] == first - timedelta(days=55)
    assert activity.reads[0][1] == first  # the first read: the 56 days asked for
    assert activity.reads[1] == (first + timedelta(days=1), first + timedelta(days=engagement.READ_DAYS))
