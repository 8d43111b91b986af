"""LibreChat v0.8.8 shapes read by the exporter's jobs against mongoeco, each equal to the oracle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId
from bson.decimal128 import Decimal128

from librechat_metrics.families.balances import FAMILIES as BALANCE_FAMILIES
from librechat_metrics.groups import collect_balances
from librechat_metrics.mongo import Reader
from librechat_metrics.settings import Settings
from tests.oracle import exporter_samples

UTC = timezone.utc
NOW = datetime(2026, 6, 3, 12, 0, 0, tzinfo=UTC)


def oid(minutes: float, serial: int) -> ObjectId:
    when = NOW + timedelta(minutes=minutes)
    return ObjectId(f"{int(when.timestamp()):08x}{serial:016x}")


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


PEOPLE = [oid(-100_000, i) for i in range(1, 6)]  # users are older than their balances
BALANCES = [
    # 0: two documents; LibreChat reads the older; one reservation held, one expired
    {"_id": oid(-90, 1), "user": PEOPLE[0], "tokenCredits": 1_000_000, "autoRefillEnabled": False,
     "reservations": [{"id": "a", "amount": 250_000, "expiresAt": at(3)},
                      {"id": "b", "amount": 90_000, "expiresAt": at(-3)}], "reservedCredits": 340_000},
    {"_id": oid(-30, 2), "user": PEOPLE[0], "tokenCredits": 40_000, "autoRefillEnabled": True},
    # 1: all credits reserved
    {"_id": oid(-60, 3), "user": PEOPLE[1], "tokenCredits": 500_000, "autoRefillEnabled": True,
     "reservations": [{"id": "c", "amount": 500_000, "expiresAt": at(10)}], "reservedCredits": 500_000},
    # 2: a record keyed by the user's id (how LibreChat creates them) is the oldest: the one read
    {"_id": PEOPLE[2], "user": PEOPLE[2], "tokenCredits": 0},
    {"_id": oid(-80, 4), "user": PEOPLE[2], "tokenCredits": 1_210_000},
    # 3: no reservations field at all, and 4: odd reservation entries
    {"_id": oid(-50, 5), "user": PEOPLE[3], "tokenCredits": 0},
    {"_id": oid(-40, 6), "user": PEOPLE[4], "tokenCredits": 300_000,
     "reservations": [None, {"id": "d"}, {"id": "e", "amount": "5", "expiresAt": at(5)},
                      {"id": "f", "amount": 100_000, "expiresAt": "soon"},
                      {"id": "g", "amount": 100_000, "expiresAt": at(5)}]},
    {"_id": oid(-40, 7), "user": None, "tokenCredits": 9_000_000},
]  # fmt: skip


def served_samples(mongoeco, balances: list[dict]) -> dict:
    server = mongoeco({"balances": balances})
    with server.client() as client:
        result = collect_balances(Reader(client["LibreChat"], 10_000), Settings({}), NOW)
    return {f.name: f.value(result) for f in BALANCE_FAMILIES}


def oracle_samples(balances: list[dict]) -> dict:
    s = exporter_samples({"balances": balances}, NOW)
    return {f.name: s[f.name] for f in BALANCE_FAMILIES}


def test_balances_follow_the_document_librechat_reads(mongoeco):
    got = served_samples(mongoeco, BALANCES)
    want = oracle_samples(BALANCES)
    assert got.keys() == want.keys()
    for name, samples in want.items():
        assert got[name] == pytest.approx(samples), name
    # and what a sum over every document would say is not what is served
    assert (
        got["librechat_balance_credits_usd"][()]
        != sum(b["tokenCredits"] for b in BALANCES if b["user"] is not None and b["tokenCredits"] > 0)
        / 1_000_000
    )


def test_decimal128_credits_and_amounts_are_numbers(mongoeco):
    odd = [
        {"_id": oid(-5, 1), "user": PEOPLE[0], "tokenCredits": Decimal128("1500000"),
         "reservations": [{"id": "a", "amount": Decimal128("1500000"), "expiresAt": at(1)}]},
        {"_id": oid(-5, 2), "user": PEOPLE[1], "tokenCredits": Decimal128("NaN")},
    ]  # fmt: skip
    got = served_samples(mongoeco, odd)
    assert got["librechat_balance_credits_usd"] == {(): 1.5}
    assert got["librechat_balance_reserved_usd"] == {(): 1.5}
    assert got["librechat_balance_users_at_or_below_zero"] == {(): 1.0}  # all of it reserved
