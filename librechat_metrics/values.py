"""The one boundary where raw MongoDB values become typed values.

Every job and the history export read numbers, label fields and dates of LibreChat's documents
through these functions, so no BSON type (Decimal128, Int64, arrays, documents, NaN, ±Inf, huge
values, binary...) can raise later on. A value that cannot be read is skipped and counted per
(job, field) in `SKIPPED`, which the exporter serves as `librechat_exporter_skipped_values_total`.
The job a thread is running is set by the scheduler (`running`), so callers name only the field.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bson.decimal128 import Decimal128
from bson.int64 import Int64

# LibreChat's ledger counts in credits: 1,000,000 credits are one US dollar (tokenValue, tokenCredits).
CREDITS_PER_USD = 1_000_000

# Sums are kept inside this bound: two documents of 1e308 must never add up to +Inf.
LIMIT = 1e300

_lock = threading.Lock()
_local = threading.local()
SKIPPED: Counter[tuple[str, str]] = Counter()  # (job, field) -> values skipped since start


def job() -> str:
    """The job the current thread runs ("export" in the history export, "" when none is set)."""
    return getattr(_local, "job", "")


@contextmanager
def running(name: str) -> Iterator[None]:
    """Attribute skipped values of the current thread to job `name` while inside."""
    before = job()
    _local.job = name
    try:
        yield
    finally:
        _local.job = before


def skip(field: str, count: int = 1) -> None:
    """Count `count` unreadable values of `field` for the current job."""
    with _lock:
        SKIPPED[(job(), field)] += count


def skipped() -> dict[tuple[str, str], int]:
    """A copy of the skip counts (for the exporter's self-metric and the tests)."""
    with _lock:
        return dict(SKIPPED)


def number(value: Any, field: str | None = None) -> float | None:
    """A finite float from int, float, Int64 or Decimal128; None for anything else (bool, str, None,
    NaN, ±Inf, documents...). With `field`, a present value that is not a number is counted as skipped."""
    result: float | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, (int, Int64)):
        try:
            result = float(value)
        except OverflowError:  # beyond any double
            result = None
    elif isinstance(value, float):
        result = value
    elif isinstance(value, Decimal128):
        try:
            result = float(value.to_decimal())
        except (ArithmeticError, ValueError, OverflowError):
            result = None
    if result is not None and not (math.isfinite(result) and abs(result) <= LIMIT):
        result = None
    if result is None and field is not None and value is not None:
        skip(field)
    return result


def clamp(total: float) -> float:
    """A sum kept finite and inside ±LIMIT (NaN, which only invalid arithmetic makes, becomes 0)."""
    if math.isnan(total):
        return 0.0
    return max(-LIMIT, min(LIMIT, total))


def add(a: float, b: Any) -> Any:
    """a + b (b read by `number`, 0 when unreadable), clamped; two ints stay an exact int, else a
    float (typed Any: the tallies keep both in Counters)."""
    if b is None:
        return a
    if isinstance(a, int) and isinstance(b, int) and not isinstance(b, bool) and abs(a + b) <= LIMIT:
        return int(a + b)
    return clamp(a + (number(b) or 0.0))


def usd(credits: float) -> float:
    """Credits in US dollars, kept finite."""
    return clamp(credits / CREDITS_PER_USD)


def text(value: Any, field: str | None = None) -> str | None:
    """A string value as is; None for anything else (with `field`, a present non-string is counted)."""
    if isinstance(value, str):
        return value
    if field is not None and value is not None:
        skip(field)
    return None


def key(value: Any) -> Any:
    """A value safe to use as a dict key or set member: hashable scalars as they are, others by repr."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def date(value: Any, field: str | None = None) -> datetime | None:
    """A datetime value as is; None for anything else (with `field`, a present non-date is counted)."""
    if isinstance(value, datetime):
        return value
    if field is not None and value is not None:
        skip(field)
    return None
