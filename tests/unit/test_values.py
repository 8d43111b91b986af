"""The value boundary (librechat_metrics/values.py) on every kind of BSON value, without a database."""

from __future__ import annotations

import math
import re
import threading
import uuid
from datetime import datetime, timezone

import pytest
from bson import Binary, Code, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.decimal128 import Decimal128
from bson.int64 import Int64

from librechat_metrics import values

NOT_NUMBERS = [
    None,
    True,
    False,
    "12",
    "",
    float("nan"),
    float("inf"),
    float("-inf"),
    1e301,
    -1e301,
    10**301,
    -(10**400),
    Decimal128("NaN"),
    Decimal128("Infinity"),
    Decimal128("-Infinity"),
    Decimal128("1E+301"),
    Decimal128("9.999999999999999999999999999999999E+6144"),
    {"a": 1},
    [1, 2],
    ObjectId("65a000000000000000000000"),
    datetime(2024, 1, 1, tzinfo=timezone.utc),
    Binary(b"\x00\x01"),
    uuid.UUID(int=1),
    Regex("^a"),
    re.compile("x"),
    Code("f()"),
    Timestamp(1, 1),
    MinKey(),
    MaxKey(),
]


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        (0, 0.0),
        (-5, -5.0),
        (Int64(2**40), float(2**40)),
        (1.5, 1.5),
        (-1e300, -1e300),
        (Decimal128("1.25"), 1.25),
        (Decimal128("-7"), -7.0),
        (10**300, 1e300),
    ],
)
def test_numbers_become_finite_floats(raw, number):
    assert values.number(raw) == number
    assert isinstance(values.number(raw), float)


@pytest.mark.parametrize("raw", NOT_NUMBERS, ids=repr)
def test_everything_else_is_no_number(raw):
    assert values.number(raw) is None


def test_a_present_value_that_is_no_number_is_counted_for_the_running_job():
    before = values.skipped()
    with values.running("unit-number"):
        values.number("12", "tokenCount")
        values.number(float("nan"), "tokenCount")
        values.number(None, "tokenCount")  # missing: nothing to skip
        values.number(3, "tokenCount")  # a number: nothing to skip
        values.text(["agent_x", "y"], "model")
        values.date("2024-01-01", "createdAt")
    after = values.skipped()
    assert after.get(("unit-number", "tokenCount"), 0) - before.get(("unit-number", "tokenCount"), 0) == 2
    assert after.get(("unit-number", "model"), 0) - before.get(("unit-number", "model"), 0) == 1
    assert after.get(("unit-number", "createdAt"), 0) - before.get(("unit-number", "createdAt"), 0) == 1


def test_sums_stay_finite_and_exact_for_ints():
    total = 0.0
    for _ in range(3):
        total = values.add(total, 1e300)
    assert total == values.LIMIT  # 3e300 is clamped, never +inf
    assert values.add(0, -1e308) == 0  # |x| > LIMIT is no number: it adds nothing
    assert values.add(2**60, 1) == 2**60 + 1  # ints stay exact (a float would round)
    assert isinstance(values.add(2, Int64(3)), int)
    assert values.add(1, Decimal128("0.5")) == 1.5
    assert values.add(4, None) == 4
    assert values.add(4, "x") == 4.0
    assert values.clamp(float("nan")) == 0.0
    assert values.clamp(float("inf")) == values.LIMIT
    assert values.clamp(float("-inf")) == -values.LIMIT
    assert all(math.isfinite(values.add(values.LIMIT, raw)) for raw in [values.LIMIT, *NOT_NUMBERS])


def test_text_key_and_date():
    assert values.text("agent_x") == "agent_x"
    assert values.text("") == ""
    for raw in (["agent_x", "y"], 5, None, {"a": "b"}, b"bytes"):
        assert values.text(raw) is None
    for raw in [*NOT_NUMBERS, ["a", ["b"]], {"x": [1]}]:
        hash(values.key(raw))  # usable as a dict key or set member, whatever it is
    assert values.key(["a"]) == values.key(["a"]) and values.key(["a"]) != values.key(["b"])
    assert values.key("a") == "a"
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert values.date(when) is when
    assert values.date("2024-01-01") is None and values.date(ObjectId()) is None


def test_running_is_per_thread_and_nests():
    seen: list[str] = []
    with values.running("outer"):
        with values.running("inner"):
            assert values.job() == "inner"
        assert values.job() == "outer"
        thread = threading.Thread(target=lambda: seen.append(values.job()))
        thread.start()
        thread.join()
    assert seen == [""]  # another thread has no job set
    assert values.job() == ""
    copy = values.skipped()
    copy[("x", "y")] = 99
    assert ("x", "y") not in values.skipped()  # a copy, not the live counter
