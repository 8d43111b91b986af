"""LibreChat v0.8.8 shapes read by the exporter's jobs against mongoeco, each equal to the oracle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId
from bson.decimal128 import Decimal128

from librechat_metrics.families.balances import FAMILIES as BALANCE_FAMILIES
from librechat_metrics.families.tools import FAMILIES as TOOL_FAMILIES
from librechat_metrics.groups import UsageGroup, collect_balances
from librechat_metrics.mongo import Reader
from librechat_metrics.settings import Settings, load
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


# --- tool failures ---------------------------------------------------------------------------------

THREW = "Error: MCP error -32603: rate limited\n Please fix your mistakes."
OUTPUTS = [
    [{"type": "text", "text": "Error processing tool get_issue_mcp_github: 401"}],  # failed
    [{"type": "text", "text": THREW}],  # failed
    THREW,  # failed
    '[{"type":"text","text":"Error processing tool x"}]',  # a stringified array: failed
    "Error processing tool web_search",  # failed
    ["ok", "ERROR processing TOOL"],  # failed
    "Error: not the end",
    "See Error: x\n Please fix your mistakes.",
    [{"type": "image", "text": "error processing tool"}],
    [{"type": "text", "text": "all good"}],
    {"type": "text", "text": "error processing tool"},
    None,
    "ok",
]


def test_tool_failures_in_every_shape_equal_the_oracle(mongoeco):
    now = datetime.now(UTC).replace(microsecond=0)
    names = ["get_issue_mcp_github", "web_search"]
    content = [
        {"type": "tool_call", "tool_call": {"id": f"t{i}", "name": names[i % 2], "args": "{}", "output": out}}
        for i, out in enumerate(OUTPUTS)
    ]
    when = now - timedelta(hours=2)
    message = {
        "_id": ObjectId.from_datetime(when),
        "messageId": "m1",
        "conversationId": "c1",
        "user": PEOPLE[0],
        "isCreatedByUser": False,
        "sender": "AI",
        "model": "gpt-4o",
        "endpoint": "openAI",
        "createdAt": when,
        "content": content,
    }
    server = mongoeco({"messages": [message]})
    settings = load({"MONGODB_URI": server.uri})
    with server.client() as client:
        usage = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)(now)
    want = exporter_samples({"messages": [message]}, now)
    for family in TOOL_FAMILIES:
        assert family.value(usage) == pytest.approx(oracle_by_labels(want[family.name])), family.name
    assert want["librechat_tool_call_errors_total"] == {(): 6.0}  # and the oracle counts all six shapes


def oracle_by_labels(samples: dict) -> dict:
    """Oracle samples ({((name, value), ...): v}) keyed like a family's value (label values in order)."""
    return {tuple(v for _, v in key): value for key, value in samples.items()}
