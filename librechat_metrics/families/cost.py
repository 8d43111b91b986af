"""Spend in US dollars and prompt-cache tokens, from the transactions ledger (whatever TOKEN_SOURCE)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ..groups import Usage
from ..jobs import USAGE
from ..tally import TxKey
from ..values import usd
from .activity import CALENDAR
from .base import TRANSACTIONS, Family, M, Samples, add_up, model_of, sourced


def per_model(usage: Usage, column: str, recent: bool = False, in_usd: bool = False) -> Samples:
    """A TxTally column (value, cache_read, cache_write) summed per agent-resolved model label; the
    credits of `value` in US dollars with `in_usd`."""
    tallies = usage.recent if recent else usage.total
    source: Counter[TxKey] = getattr(tallies.transactions, column)
    return add_up(((model_of(usage, key.model),), usd(v) if in_usd else v) for key, v in source.items())


def spend_in(window: str) -> Callable[[Usage], Samples]:
    """The value of a calendar spend gauge: US dollars per agent-resolved model label of the
    transactions since the window's start (day, week or month)."""

    def value(usage: Usage) -> Samples:
        source = usage.calendar[window].value
        return add_up(((model_of(usage, key.model),), usd(v)) for key, v in source.items())

    return value


FAMILIES: tuple[Family, ...] = sourced(
    (
        Family(
            "librechat_spend_usd_total",
            "counter",
            "US dollars LibreChat charged for prompt and completion tokens per model, at its own prices "
            "at the time of each request (transactions.tokenValue; credits top-ups excluded)",
            M,
            ("token",),
            USAGE,
            lambda u: per_model(u, "value", in_usd=True),
        ),
        Family(
            "librechat_spend_usd_5m",
            "gauge",
            "US dollars LibreChat charged per model in the last 5 minutes",
            M,
            ("token", "time_window"),
            USAGE,
            lambda u: per_model(u, "value", recent=True, in_usd=True),
        ),
        *(
            Family(
                f"librechat_{period}_spend_usd",
                "gauge",
                f"US dollars LibreChat charged per model in the current {span} (transactions.tokenValue)",
                M,
                ("token",),
                USAGE,
                spend_in(window),
            )
            for period, span, window in CALENDAR
        ),
        Family(
            "librechat_cache_read_tokens_total",
            "counter",
            "Prompt tokens read from the provider's prompt cache per model (structured prompt transactions)",
            M,
            ("token",),
            USAGE,
            lambda u: per_model(u, "cache_read"),
        ),
        Family(
            "librechat_cache_write_tokens_total",
            "counter",
            "Prompt tokens written to the provider's prompt cache per model (structured prompt transactions)",
            M,
            ("token",),
            USAGE,
            lambda u: per_model(u, "cache_write"),
        ),
    ),
    TRANSACTIONS,
)
