"""LibreChat's balances as LibreChat reads them: one effective document per user.

A user can have several `balances` documents; every LibreChat read takes the oldest by `_id`
(`findOne({user}).sort({_id: 1})`). Credits held by requests in flight are the `amount`s of the
document's `reservations` whose `expiresAt` is still ahead (LibreChat's `findBalanceByUser`), so a
reservation left by a crashed request stops counting at its expiry before anything prunes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .mongo import Reader
from .values import clamp, date, number

# One row per user: the fields of the oldest document (the `_id` index gives the order).
PIPELINE: list[dict[str, Any]] = [
    {"$match": {"user": {"$ne": None}}},
    {"$sort": {"_id": 1}},
    {
        "$group": {
            "_id": "$user",
            "c": {"$first": "$tokenCredits"},
            "a": {"$first": "$autoRefillEnabled"},
            "r": {"$first": "$reservations"},
        }
    },
]


@dataclass(frozen=True)
class Balances:
    """Effective balances summed: positive credits, reserved credits, users with nothing left to spend
    (credits minus reserved at or below 0) and users with auto-refill on."""

    credits: float
    reserved: float
    at_or_below_zero: int
    auto_refill: int


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def reserved(reservations: Any, now: datetime) -> float:
    """Sum of the amounts of the reservations that expire after `now` (unreadable ones are skipped)."""
    if not isinstance(reservations, list):
        return 0.0
    total = 0.0
    for held in reservations:
        if not isinstance(held, dict):
            continue
        amount = number(held.get("amount"), "reservations.amount")
        expires = date(held.get("expiresAt"), "reservations.expiresAt")
        if amount is not None and expires is not None and _aware(expires) > _aware(now):
            total = clamp(total + amount)
    return total


def fold(rows: Iterable[dict[str, Any]], now: datetime) -> Balances | None:
    """Balances from the per-user rows of PIPELINE; None when there are none (feature off)."""
    credits = held = 0.0
    low = auto = 0
    seen = False
    for row in rows:
        seen = True
        tokens = number(row.get("c"), "tokenCredits")
        mine = reserved(row.get("r"), now)
        held = clamp(held + mine)
        auto += row.get("a") is True
        if tokens is None:
            continue
        if tokens > 0:
            credits = clamp(credits + tokens)
        low += tokens - mine <= 0
    return Balances(credits, held, low, auto) if seen else None


def balances(reader: Reader, now: datetime) -> Balances | None:
    """One aggregation over `balances`: the effective document of every user, folded."""
    return fold(reader.each("balances", PIPELINE), now)
