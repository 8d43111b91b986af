"""LibreChat's balances (only when its balance feature is on: no samples without balances)."""

from __future__ import annotations

from collections.abc import Callable

from ..balances import Balances
from ..jobs import BALANCES
from ..values import usd
from .base import Family, Samples, one


def of(pick: Callable[[Balances], float]) -> Callable[[Balances | None], Samples]:
    return lambda b: {} if b is None else one(pick(b))


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_balance_credits_usd",
        "gauge",
        "US dollars users can still spend: the sum of positive balances (tokenCredits / 1,000,000)",
        (),
        ("user",),
        BALANCES,
        of(lambda b: usd(b.credits)),
    ),
    Family(
        "librechat_balance_reserved_usd",
        "gauge",
        "US dollars held by requests in flight: the sum of unexpired balance reservations "
        "(credits / 1,000,000)",
        (),
        ("user",),
        BALANCES,
        of(lambda b: usd(b.reserved)),
    ),
    Family(
        "librechat_balance_users_at_or_below_zero",
        "gauge",
        "Number of users whose balance is at or below zero",
        (),
        ("user",),
        BALANCES,
        of(lambda b: b.at_or_below_zero),
    ),
    Family(
        "librechat_balance_auto_refill_users",
        "gauge",
        "Number of users with automatic balance refill enabled",
        (),
        ("user",),
        BALANCES,
        of(lambda b: b.auto_refill),
    ),
)
