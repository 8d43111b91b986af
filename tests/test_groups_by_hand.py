"""Cost per group worked by hand at the day edges, in UTC and Europe/Berlin: the live families
(librechat_group_spend_usd_total, librechat_group_active_users), the history's daily_cost_by_group and
the report's groups section, each checked against literal numbers, and the oracle against the same ones.

The fixture (Berlin is UTC+2 since 2025-03-30, so Berlin's 2025-04-01 begins at 2025-03-31 22:00Z):

    user  membership key      groups        messages and transactions (USD; tokens = 10 per USD)
    A     its hex id          Eng, Sales    03-31 21:59:59Z 1 USD   (UTC 31st, Berlin 31st, 23:59:59)
                                            03-31 23:59:59Z 4 USD   (UTC 31st, Berlin 1st)
    B     idOnTheSource e-b   Eng           03-31 22:00:00Z 2 USD   (UTC 31st, Berlin 1st, at midnight)
    C     its hex id          none          04-01 00:00:00Z 8 USD   (UTC 1st at midnight, Berlin 1st),
                                                                    a prompt: 80 input tokens
    D     idOnTheSource e-d   none (Sales   04-01 00:30:00Z 16 USD  (both 1st)
          lists D's hex id, which is not D's key: LibreChat matches Entra users by idOnTheSource)
    -     no user             (no group)    04-01 00:40:00Z 32 USD, no message (both 1st)

Every message is the user's own (a person message); every transaction but C's is a completion.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from bson import ObjectId

from librechat_metrics.chargeback import GroupCostJob
from librechat_metrics.families import chargeback
from librechat_metrics.history import compute
from librechat_metrics.settings import load
from tests.oracle import history_rows, report_numbers
from tests.support.mongo import start_mongoeco
from tests.test_report import reader_for, report_of

A, B, C, D = (ObjectId.from_datetime(datetime(2025, 3, day, tzinfo=timezone.utc)) for day in (1, 2, 3, 4))
ENG, SALES, NONE = "Eng", "Sales", "(no group)"
DAY = date(2025, 4, 1)
NOW = datetime(2025, 4, 1, 1, 0, tzinfo=timezone.utc)  # after every document: Berlin 03:00 on the 1st


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def fixture() -> dict[str, list[dict]]:
    users = [
        {"_id": A, "email": "a@x"},
        {"_id": B, "email": "b@x", "idOnTheSource": "e-b", "provider": "openid"},
        {"_id": C, "email": "c@x"},
        {"_id": D, "email": "d@x", "idOnTheSource": "e-d", "provider": "openid"},
    ]
    groups = [
        {"_id": ObjectId(), "name": ENG, "source": "entra", "memberIds": [str(A), "e-b"]},
        {"_id": ObjectId(), "name": SALES, "source": "local", "memberIds": [str(A), str(D)]},
    ]
    events = [  # (time, user, USD, token type)
        ("2025-03-31 21:59:59", A, 1, "completion"),
        ("2025-03-31 22:00:00", B, 2, "completion"),
        ("2025-03-31 23:59:59", A, 4, "completion"),
        ("2025-04-01 00:00:00", C, 8, "prompt"),
        ("2025-04-01 00:30:00", D, 16, "completion"),
        ("2025-04-01 00:40:00", None, 32, "completion"),
    ]
    messages, transactions = [], []
    for i, (stamp, user, dollars, kind) in enumerate(events):
        when = at(stamp)
        if user is not None:
            messages.append(
                {"_id": ObjectId.from_datetime(when), "messageId": f"m{i}", "conversationId": f"c{i}",
                 "parentMessageId": None, "isCreatedByUser": True, "sender": "User", "user": str(user),
                 "createdAt": when, "endpoint": "openAI", "text": "hi"}
            )  # fmt: skip
        transactions.append(
            {"_id": ObjectId.from_datetime(when), "user": user, "model": "gpt-a", "tokenType": kind,
             "rawAmount": -10 * dollars, "tokenValue": -1_000_000 * dollars, "conversationId": f"c{i}"}
        )  # fmt: skip
    return {"users": users, "groups": groups, "messages": messages, "transactions": transactions}


@pytest.fixture(scope="module")
def served():
    collections = fixture()
    server = start_mongoeco(collections)
    client, reader = reader_for(server)
    yield collections, server, reader
    client.close()
    server.stop()


# live: all-time spend is the same in every zone; "today" is the local day of NOW
SPEND_ALL_TIME = {ENG: 7.0, SALES: 5.0, NONE: 56.0}  # Eng A 1+4, B 2; Sales A; C 8 + D 16 + no user 32
ACTIVE_TODAY = {
    # UTC today from 04-01 00:00Z: C (exactly at midnight) and D, both in no group
    "UTC": {ENG: 0.0, SALES: 0.0, NONE: 2.0},
    # Berlin today from 03-31 22:00Z: B (exactly at midnight), A (23:59:59Z; its 21:59:59Z message is
    # the day before), C, D: A counts in Eng and in Sales
    "Europe/Berlin": {ENG: 2.0, SALES: 1.0, NONE: 2.0},
}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_live_group_families_by_hand(served, zone):
    _, server, reader = served
    settings = load({"MONGODB_URI": server.uri, "TIMEZONE": zone})
    cost = GroupCostJob(reader, settings)(NOW)
    assert {k[0]: v for k, v in chargeback.spend(cost).items()} == SPEND_ALL_TIME
    assert {k[0]: v for k, v in chargeback.active(cost).items()} == ACTIVE_TODAY[zone]
    # the next run adds the transactions inserted since its recount's cut-off, not twice
    later = GroupCostJob(reader, settings)
    later(NOW - timedelta(minutes=30))  # a recount whose cut-off is before the last four transactions
    assert {k[0]: v for k, v in chargeback.spend(later(NOW)).items()} == SPEND_ALL_TIME


# history: (date, group, spend_usd, tokens_in, tokens_out, active_users); all-zero rows left out;
# tokens are per-user sums, so the userless transaction's 320 output tokens are in no group's row
DAILY = {
    "UTC": {
        # 03-31: A (1 + 4 USD, 50 tokens out) and B (2 USD, 20 out); nobody outside a group
        (date(2025, 3, 31), ENG, 7.0, 0, 70, 2),
        (date(2025, 3, 31), SALES, 5.0, 0, 50, 1),
        # 04-01: C (8 USD, 80 in, at 00:00:00Z exactly), D (16 USD, 160 out), no user (32 USD)
        (DAY, NONE, 56.0, 80, 160, 2),
    },
    "Europe/Berlin": {
        # 03-31 local: only A's 21:59:59Z (23:59:59 local)
        (date(2025, 3, 31), ENG, 1.0, 0, 10, 1),
        (date(2025, 3, 31), SALES, 1.0, 0, 10, 1),
        # 04-01 local: B at 22:00:00Z (local midnight), A at 23:59:59Z, then C, D, no user
        (DAY, ENG, 6.0, 0, 60, 2),
        (DAY, SALES, 4.0, 0, 40, 1),
        (DAY, NONE, 56.0, 80, 160, 2),
    },
}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_daily_cost_by_group_by_hand(served, zone):
    collections, _, reader = served
    src = compute.Source(reader, zone, compute.resolve_token_source(reader, "auto"))
    got = set()
    for day in (date(2025, 3, 31), DAY):
        got |= set(compute.day_rows(src, day, frozenset({"daily_cost_by_group"}))["daily_cost_by_group"])
    assert got == DAILY[zone]
    assert history_rows(collections, date(2025, 3, 31), DAY, zone)["daily_cost_by_group"] == DAILY[zone]


# report of the single day 2025-04-01: group -> (members, active_users, input, output, spend)
REPORT = {
    # members: Eng A and B, Sales A only (D is listed by its hex id), (no group) C and D
    "UTC": {ENG: (2, 0, 0, 0, 0.0), SALES: (1, 0, 0, 0, 0.0), NONE: (2, 2, 80, 160, 56.0)},
    "Europe/Berlin": {ENG: (2, 2, 0, 60, 6.0), SALES: (1, 1, 0, 40, 4.0), NONE: (2, 2, 80, 160, 56.0)},
}
FIELDS = ("members", "active_users", "input_tokens", "output_tokens", "spend_usd")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_report_groups_by_hand(served, zone):
    collections, _, reader = served
    report = report_of(reader, zone, DAY, DAY)
    got = {row["group"]: tuple(row[f] for f in FIELDS) for row in report["groups"]}
    assert got == REPORT[zone]
    assert [row["group"] for row in report["groups"]][-1] == NONE  # (no group) last
    want = report_numbers(collections, DAY, DAY, zone)["groups"]
    assert {g: tuple(row[f] for f in FIELDS) for g, row in want.items()} == REPORT[zone]
    # a user in two groups counts in each: in Berlin A's 4 USD is in Eng and in Sales, so the groups add
    # up to 66 USD of a 62 USD day (2 + 4 + 8 + 16 + 32); in UTC nobody in a group spent: 56 of 56
    total, groups = {"UTC": (56.0, 56.0), "Europe/Berlin": (62.0, 66.0)}[zone]
    assert report["totals"]["spend_usd"] == total
    assert sum(row["spend_usd"] for row in report["groups"]) == groups
