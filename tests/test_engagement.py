"""Rolling engagement windows, worked by hand at their edges, then the oracle and the exporter's query.

The e2e test (test_exporter_e2e) compares the same families with the oracle on every generator
profile and the malformed corpus; here each edge of the definition is pinned with numbers by hand.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId
from pymongo import MongoClient

from librechat_metrics.engagement import collect_engagement
from librechat_metrics.groups import UsageGroup
from librechat_metrics.history import cli, compute, sql
from librechat_metrics.mongo import Reader
from librechat_metrics.settings import Settings
from tests.oracle import engagement_samples, exporter_samples, history_rows
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import SqlDb, export

NOW = datetime(2025, 3, 30, 0, 30, 0, tzinfo=timezone.utc)  # Berlin switched to summer time at 01:00 UTC
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)


def msg(user, when) -> dict:
    return {"_id": ObjectId(), "user": user, "createdAt": when, "isCreatedByUser": True}


def user_at(when: datetime) -> dict:
    return {"_id": ObjectId.from_datetime(when), "email": f"{when.timestamp()}@x"}


MESSAGES = [
    msg("a", NOW - DAY),  # exactly 24 h ago: in 1d, 7d, 30d
    msg("b", NOW - DAY - MS),  # just before: 7d and 30d only
    msg("c", NOW - 7 * DAY),  # exactly 7 days ago: 7d and 30d
    msg("d", NOW - 7 * DAY - MS),  # 30d only
    msg("e", NOW - 30 * DAY),  # exactly 30 days: 30d
    msg("f", NOW - 30 * DAY - MS),  # in no window
    msg("a", NOW - 3 * DAY),  # a again: still one user
    msg(5, NOW - 2 * DAY),  # 5 and 5.0 are one user (7d, 30d)
    msg(5.0, NOW - 2 * DAY),
    msg(None, NOW),  # no user: nobody
    {"_id": ObjectId(), "createdAt": NOW},  # no user field
    msg("g", (NOW - DAY).isoformat()),  # a string date is in no window
    msg("h", NOW + DAY),  # the future counts (windows are lower bounds only)
]
USERS = [
    user_at(NOW - DAY),  # exactly 24 h ago: 1d, 7d, 30d
    user_at(NOW - DAY - timedelta(seconds=1)),  # 7d, 30d
    user_at(NOW - 7 * DAY),  # 7d, 30d
    user_at(NOW - 30 * DAY),  # 30d
    user_at(NOW - 31 * DAY),  # none
    {"_id": "imported-user", "createdAt": NOW},  # not an ObjectId: no registration time
]
# by hand: active 1d {a, h}, 7d {a, b, c, 5, h}, 30d {a, b, c, d, e, 5, h}
WANT = {
    "librechat_active_users_1d": 2,
    "librechat_active_users_7d": 5,
    "librechat_active_users_30d": 7,
    "librechat_new_users_1d": 1,
    "librechat_new_users_7d": 3,
    "librechat_new_users_30d": 4,
}


def test_oracle_agrees_with_the_hand_count():
    got = engagement_samples({"messages": MESSAGES, "users": USERS}, NOW)
    assert {name: samples[()] for name, samples in got.items()} == WANT


@pytest.fixture(scope="module")
def reader():
    server = start_mongoeco({"messages": MESSAGES, "users": USERS})
    client = MongoClient(server.uri, tz_aware=True)
    yield Reader(client["LibreChat"], 10_000)
    client.close()
    server.stop()


def test_exporter_query_agrees_with_the_hand_count(reader):
    got = collect_engagement(reader, Settings(), NOW)
    activity = UsageGroup(reader, Settings())(NOW).activity
    assert activity is not None
    flat = {f"librechat_active_users_{w}": activity.users[w] for w in ("1d", "7d", "30d")}
    flat |= {f"librechat_new_users_{w}": n for w, n in got.registered.items()}
    assert flat == WANT


def test_temporary_and_subagent_chats_count_as_usage():
    """docs/semantics.md "What counts as usage": both count in every family, seed and engagement."""
    t = NOW - timedelta(hours=1)
    temporary = {**msg("t", t), "conversationId": "c-temp", "isTemporary": True, "expiredAt": t + 30 * DAY}
    subagent = {**msg("s", t), "conversationId": "c-sub"}
    conversations = [
        {"_id": ObjectId(), "conversationId": "c-temp", "user": "t", "isTemporary": True, "createdAt": t},
        {
            "_id": ObjectId(),
            "conversationId": "c-sub",
            "user": "s",
            "createdAt": t,
            "subagentThread": {"depth": 1},
        },
    ]
    data = {"messages": [temporary, subagent], "conversations": conversations, "users": []}
    # by hand: 2 messages, 2 conversations, 2 active users in every rolling window
    oracle = exporter_samples(data, NOW)
    assert oracle["librechat_messages_total"][()] == 2
    assert oracle["librechat_conversations_total"][()] == 2
    assert oracle["librechat_active_users_1d"][()] == 2
    server = start_mongoeco(data)
    try:
        with MongoClient(server.uri, tz_aware=True) as client:
            got = UsageGroup(Reader(client["LibreChat"], 10_000), Settings())(NOW).activity
        assert got is not None and {w: got.users[w] for w in ("1d", "7d", "30d")} == {
            "1d": 2,
            "7d": 2,
            "30d": 2,
        }
    finally:
        server.stop()


# --- daily_registrations in the history export, at day edges (Europe/Berlin switches to summer time) ---

BERLIN = ZoneInfo("Europe/Berlin")
REGISTERED = [
    user_at(datetime(2025, 3, 29, 23, 59, 59, tzinfo=BERLIN)),  # A: Berlin 29th, UTC 29th (22:59:59)
    user_at(datetime(2025, 3, 30, 0, 0, 0, tzinfo=BERLIN)),  # B: Berlin 30th, UTC 29th (23:00)
    user_at(datetime(2025, 3, 30, 23, 59, 59, tzinfo=BERLIN)),  # C: Berlin 30th, UTC 30th (21:59:59, CEST)
    {"_id": "imported", "email": "i@x", "createdAt": datetime(2025, 3, 30, 12, tzinfo=timezone.utc)},
]
DAYS = (date(2025, 3, 29), date(2025, 3, 31))
BY_HAND = {
    "Europe/Berlin": {(date(2025, 3, 29), 1), (date(2025, 3, 30), 2), (date(2025, 3, 31), 0)},
    "UTC": {(date(2025, 3, 29), 2), (date(2025, 3, 30), 1), (date(2025, 3, 31), 0)},
}


@pytest.mark.parametrize("zone", sorted(BY_HAND))
def test_daily_registrations_at_day_edges(zone):
    assert history_rows({"users": REGISTERED}, *DAYS, zone)["daily_registrations"] == BY_HAND[zone]
    server = start_mongoeco({"users": REGISTERED})
    db = SqlDb("mysql")
    try:
        export(server, db, *DAYS, zone=zone)
        assert db.rows("daily_registrations") == BY_HAND[zone]
    finally:
        db.drop()
        server.stop()


# --- daily_retention and daily_churn at cohort edges --------------------------------------------------

U1 = user_at(datetime(2025, 3, 24, 23, 59, tzinfo=BERLIN))  # 22:59 UTC, the 24th in both zones
U2 = user_at(datetime(2025, 3, 30, 12, tzinfo=timezone.utc))
U3 = user_at(datetime(2025, 3, 1, 10, tzinfo=timezone.utc))
COHORTS = {
    "users": [U1, U2, U3],
    "messages": [
        # exactly 7 x 24 h after U1 signed up: 22:59 UTC on the 31st, but 00:59 on April 1st in Berlin
        # (summer time began in between), so U1 is retained after 7 days in UTC and not in Berlin
        msg(str(U1["_id"]), datetime(2025, 3, 31, 22, 59, tzinfo=timezone.utc)),
        msg(str(U2["_id"]), datetime(2025, 3, 31, 12, tzinfo=timezone.utc)),  # 1 day after
        msg(str(U3["_id"]), datetime(2025, 3, 31, 10, tzinfo=timezone.utc)),  # 30 days after
        msg("c1", datetime(2025, 3, 3, 12, tzinfo=timezone.utc)),  # 28 days before the 31st
        msg("c2", datetime(2025, 3, 4, 12, tzinfo=timezone.utc)),  # 27 days before the 31st
        msg("c3", datetime(2025, 2, 3, 12, tzinfo=timezone.utc)),  # 56 days before: in no window
    ],
}
COHORT_DAYS = (date(2025, 3, 31), date(2025, 4, 1))
MARCH_31, APRIL_1 = COHORT_DAYS
COHORT_BY_HAND = {
    "UTC": {
        "daily_retention": {(MARCH_31, 1, 1, 1, 1, 1, 1), (APRIL_1, 0, 0, 0, 0, 0, 0)},
        "daily_churn": {(MARCH_31, 4, 1), (APRIL_1, 3, 2)},  # 31st: U1-3, c2 active, c1 gone
    },
    "Europe/Berlin": {
        "daily_retention": {(MARCH_31, 1, 1, 1, 0, 1, 1), (APRIL_1, 0, 0, 0, 0, 0, 0)},
        "daily_churn": {(MARCH_31, 3, 1), (APRIL_1, 3, 2)},  # U1's message is on April 1st here
    },
}


@pytest.mark.parametrize("zone", sorted(COHORT_BY_HAND))
def test_retention_and_churn_at_cohort_edges(zone):
    want = COHORT_BY_HAND[zone]
    oracle = history_rows(COHORTS, *COHORT_DAYS, zone)
    assert {table: oracle[table] for table in want} == want
    server = start_mongoeco(COHORTS)
    db = SqlDb("mysql")
    try:
        export(server, db, *COHORT_DAYS, zone=zone)
        assert {table: db.rows(table) for table in want} == want
    finally:
        db.drop()
        server.stop()


def test_daily_user_messages_by_hand():
    """u1 sends 2 messages answered by gpt-4o and claude once each (tie: the smaller label wins);
    u2 sends none but an assistant message carries its id; a message without user is nobody's."""
    t = datetime(2025, 3, 10, 12, tzinfo=timezone.utc)

    def reply(user, model):
        return {**msg(user, t), "isCreatedByUser": False, "model": model}

    data = {
        "messages": [
            msg("u1", t),
            msg("u1", t),
            reply("u1", "gpt-4o"),
            reply("u1", "claude"),
            reply("u2", "gpt-4o"),
            reply(None, "gpt-4o"),
        ]
    }
    day = date(2025, 3, 10)
    # no tokens, no transactions, EXPORT_USER_DETAILS off: zeros and NULL e-mail and name
    want = {(day, "u1", 2, "claude", 0, 0, 0, None, None), (day, "u2", 0, "gpt-4o", 0, 0, 0, None, None)}
    assert history_rows(data, day, day)["daily_user_messages"] == want
    server = start_mongoeco(data)
    db = SqlDb("mysql")
    try:
        export(server, db, day, day)
        assert db.rows("daily_user_messages") == want
    finally:
        db.drop()
        server.stop()


# --- daily_user_messages: tokens, spend, e-mail and name --------------------------------------------

U_ID = ObjectId.from_datetime(datetime(2025, 1, 1, tzinfo=timezone.utc))
V_ID = ObjectId.from_datetime(datetime(2025, 1, 2, tzinfo=timezone.utc))
U, V = str(U_ID), str(V_ID)
NOON = datetime(2025, 3, 10, 12, tzinfo=timezone.utc)


def oid_at(when: datetime) -> ObjectId:
    """A unique ObjectId whose time is `when` (whole seconds)."""
    return ObjectId(int(when.timestamp()).to_bytes(4, "big") + os.urandom(8))


def tx(user, kind, raw, value, when) -> dict:
    return {
        "_id": oid_at(when),  # a transaction's time is its ObjectId's
        "user": user,
        "tokenType": kind,
        "rawAmount": raw,
        "tokenValue": value,
        "model": "gpt-4o",
    }


PER_USER = {
    "users": [
        {"_id": U_ID, "email": "u@x", "name": "Ursula"},
        {"_id": V_ID, "email": "v@x", "name": 5},  # a name that is not a string: NULL
    ],
    "messages": [
        {**msg(U, NOON), "tokenCount": 10},
        {**msg(U, NOON), "isCreatedByUser": False, "model": "gpt-4o", "tokenCount": 30},
        {**msg("w", NOON), "tokenCount": 4},  # w has no users document: NULL e-mail and name
    ],
    "transactions": [
        # 22:59:59 UTC is 23:59:59 in Berlin: the 10th in both zones
        tx(U_ID, "prompt", -100, -250, datetime(2025, 3, 10, 22, 59, 59, tzinfo=timezone.utc)),
        tx(U_ID, "completion", -40, -1000, NOON),
        # 23:00 UTC is midnight in Berlin: the 10th in UTC, the 11th in Berlin
        tx(U_ID, "prompt", -7, -9, datetime(2025, 3, 10, 23, tzinfo=timezone.utc)),
        tx(V_ID, "prompt", -5, -2_000_000, NOON),  # v sent nothing that day: a row for its tokens and spend
        tx(U_ID, "credits", 1000, 1000, NOON),  # credits never count
        tx(None, "prompt", -3, -3, NOON),  # nobody's
    ],
}
MARCH_10 = date(2025, 3, 10)
PER_USER_BY_HAND = {
    ("Europe/Berlin", "transactions"): {
        (MARCH_10, U, 1, "gpt-4o", 100, 40, 1250 / 1e6, "u@x", "Ursula"),
        (MARCH_10, V, 0, "", 5, 0, 2.0, "v@x", None),
        (MARCH_10, "w", 1, "", 0, 0, 0, None, None),
    },
    ("UTC", "transactions"): {
        (MARCH_10, U, 1, "gpt-4o", 107, 40, 1259 / 1e6, "u@x", "Ursula"),
        (MARCH_10, V, 0, "", 5, 0, 2.0, "v@x", None),
        (MARCH_10, "w", 1, "", 0, 0, 0, None, None),
    },
    ("Europe/Berlin", "messages"): {  # tokens from tokenCount; spend from transactions all the same
        (MARCH_10, U, 1, "gpt-4o", 10, 30, 1250 / 1e6, "u@x", "Ursula"),
        (MARCH_10, V, 0, "", 0, 0, 2.0, "v@x", None),
        (MARCH_10, "w", 1, "", 4, 0, 0, None, None),
    },
}


def approx_rows(rows: set[tuple]) -> set[tuple]:
    return {tuple(round(v, 12) if isinstance(v, float) else v for v in row) for row in rows}


@pytest.mark.parametrize("zone, source", sorted(PER_USER_BY_HAND))
def test_daily_user_messages_tokens_spend_and_details_by_hand(zone, source):
    want = approx_rows(PER_USER_BY_HAND[(zone, source)])
    oracle = history_rows(PER_USER, MARCH_10, MARCH_10, zone, source, details=True)
    assert approx_rows(oracle["daily_user_messages"]) == want
    server = start_mongoeco(PER_USER)
    db = SqlDb("mysql")
    try:
        export(server, db, MARCH_10, MARCH_10, zone=zone, token_source=source, EXPORT_USER_DETAILS="true")
        assert approx_rows(db.rows("daily_user_messages")) == want
        export(server, db, "--force", MARCH_10, MARCH_10, zone=zone, token_source=source)
        assert approx_rows(db.rows("daily_user_messages")) == {(*row[:7], None, None) for row in want}
    finally:
        db.drop()
        server.stop()


def test_csv_prints_a_table_equal_to_the_oracle():
    """--csv needs no SQL database: a daily and a weekly table, header first, equal to the oracle."""
    server = start_mongoeco(COHORTS)
    try:
        for table, width in (("daily_churn", 3), ("weekly_users", 2)):
            done = export(server, None, *COHORT_DAYS, "--csv", table, zone="Europe/Berlin")
            header, *lines = done.stdout.splitlines()
            cells = [line.split(",") for line in lines]
            rows = {(date.fromisoformat(first), *map(int, rest)) for first, *rest in cells}
            assert len(header.split(",")) == width
            assert rows == history_rows(COHORTS, *COHORT_DAYS, "Europe/Berlin")[table]
    finally:
        server.stop()


@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_an_older_daily_user_messages_gets_the_new_columns(dialect):
    """A table from before tokens/spend/e-mail/name: ALTER TABLE adds them (NULL in the stored rows)."""
    db = SqlDb(dialect)
    server = start_mongoeco(PER_USER)
    user = '"user"' if dialect == "postgresql" else "user"  # a reserved word in PostgreSQL
    try:
        db.query(
            f"CREATE TABLE daily_user_messages (date DATE NOT NULL, {user} VARCHAR(255) NOT NULL, "
            f"messages BIGINT NOT NULL, top_model VARCHAR(255) NOT NULL, PRIMARY KEY (date, {user}))"
        )
        db.query("INSERT INTO daily_user_messages VALUES ('2024-05-05', 'old', 3, 'gpt-4')")
        export(server, db, MARCH_10, MARCH_10, zone="UTC")
        want = {(*row[:7], None, None) for row in PER_USER_BY_HAND[("UTC", "transactions")]}
        old = (date(2024, 5, 5), "old", 3, "gpt-4", None, None, None, None, None)
        assert approx_rows(db.rows("daily_user_messages")) == approx_rows(want) | {old}
    finally:
        db.drop()
        server.stop()


# --- weekly_retention: signup cohorts of a week, at cohort edges --------------------------------------

A_ID = ObjectId.from_datetime(datetime(2025, 3, 24, 22, 59, tzinfo=timezone.utc))  # 23:59 Berlin, Mon 24th
B_ID = ObjectId.from_datetime(
    datetime(2025, 3, 30, 21, 30, tzinfo=timezone.utc)
)  # 23:30 Berlin (CEST), Sun 30th
C_ID = ObjectId.from_datetime(
    datetime(2025, 3, 23, 23, 30, tzinfo=timezone.utc)
)  # Sun 23rd UTC, Mon 24th Berlin
D_ID = ObjectId.from_datetime(datetime(2025, 3, 26, 12, tzinfo=timezone.utc))
WEEKLY = {
    "users": [{"_id": i, "email": f"{i}@x"} for i in (A_ID, B_ID, C_ID, D_ID)],
    "messages": [
        msg(str(A_ID), datetime(2025, 3, 25, 12, tzinfo=timezone.utc)),  # A: 1 day after
        # A: exactly 7 x 24 h after signing up: March 31st in UTC, April 1st 00:59 in Berlin (summer time)
        msg(str(A_ID), datetime(2025, 3, 31, 22, 59, tzinfo=timezone.utc)),
        msg(str(B_ID), datetime(2025, 3, 31, 21, 45, tzinfo=timezone.utc)),  # B: 1 day after (both zones)
        msg(str(B_ID), datetime(2025, 4, 29, 12, tzinfo=timezone.utc)),  # B: 30 days after
        msg(str(C_ID), datetime(2025, 3, 25, 10, tzinfo=timezone.utc)),  # C: 1 day after in Berlin only
        msg(D_ID, datetime(2025, 3, 27, 12, tzinfo=timezone.utc)),  # not a string user: nobody's return
    ],
}
W = date(2025, 3, 24)
APRIL_1 = date(2025, 4, 1)  # the week of March 24th depends on days up to April 29th; exported: April 1st
# the weeks whose Monday is at most April 1st and whose Monday + 36 is at least April 1st
EMPTY_WEEKS = {(date(2025, 2, 24) + timedelta(days=7 * i), 0, 0, 0, 0) for i in (0, 1, 2, 5)}
WEEKLY_BY_HAND = {
    # UTC: C signed up on Sunday the 23rd (the week before); A, B, D this week. 1d: A, B; 7d: A; 30d: B
    "UTC": {(date(2025, 3, 17), 1, 0, 0, 0), (W, 3, 2, 1, 1)} | EMPTY_WEEKS,
    # Berlin: A, B, C, D this week. 1d: A, B, C; 7d: nobody (A came back on day 8); 30d: B
    "Europe/Berlin": {(date(2025, 3, 17), 0, 0, 0, 0), (W, 4, 3, 0, 1)} | EMPTY_WEEKS,
}


@pytest.mark.parametrize("zone", sorted(WEEKLY_BY_HAND))
def test_weekly_retention_at_cohort_edges(zone):
    assert history_rows(WEEKLY, APRIL_1, APRIL_1, zone)["weekly_retention"] == WEEKLY_BY_HAND[zone]
    server = start_mongoeco(WEEKLY)
    db = SqlDb("mysql")
    try:
        done = export(server, db, APRIL_1, APRIL_1, zone=zone)
        assert "6 cohort weeks" in done.stderr
        assert db.rows("weekly_retention") == WEEKLY_BY_HAND[zone]
        lines = export(
            server, db, APRIL_1, APRIL_1, "--csv", "weekly_retention", zone=zone
        ).stdout.splitlines()
        assert lines[0] == "week_start,cohort,retained_1d,retained_7d,retained_30d" and len(lines) == 7
    finally:
        db.drop()
        server.stop()


def test_weekly_retention_columns_are_null_until_final_then_filled():
    """On Monday April 7th at noon (Berlin) the week of March 24th is over, 1 and 7 days after its last
    signup day (Sunday the 30th) are over, 30 days are not: retained_30d is NULL. A later run fills it
    although none of its days is written again."""
    zone = "Europe/Berlin"
    early = datetime(2025, 4, 7, 12, tzinfo=BERLIN)
    late = datetime(2025, 5, 10, tzinfo=BERLIN)  # the last week (March 31st) is final on May 8th
    assert (W, 4, 3, 0, None) in history_rows(WEEKLY, APRIL_1, APRIL_1, zone, now=early)["weekly_retention"]
    server = start_mongoeco(WEEKLY)
    db = SqlDb("mysql")
    client = MongoClient(server.uri, tz_aware=True)
    store = sql.Target.from_url(db.url).connect()
    try:
        src = compute.Source(Reader(client["LibreChat"], 10_000), zone, "messages")
        store.ensure_schema()
        cli.export(src, store, APRIL_1, APRIL_1, False, now=early)
        assert (W, 4, 3, 0, None) in db.rows("weekly_retention")
        summary = cli.export(src, store, APRIL_1, APRIL_1, False, now=late)
        # the weeks of March 3rd to 31st had a NULL then (the 30-day column; March 31st also 1 and 7
        # days); February 24th was final (its Sunday + 30 is April 1st) and is not recomputed
        assert summary.days == 0 and summary.cohort_weeks == 5
        assert db.rows("weekly_retention") == WEEKLY_BY_HAND[zone]
    finally:
        store.close()
        client.close()
        db.drop()
        server.stop()


# --- the windows of a later run read the days already stored ------------------------------------------

MARCH_3 = date(2025, 3, 3)
STORED = {
    "messages": [
        msg("p", datetime(2025, 3, 3, 12, tzinfo=timezone.utc)),
        msg("q", datetime(2025, 3, 3, 12, tzinfo=timezone.utc)),
        msg("r", datetime(2025, 3, 20, 12, tzinfo=timezone.utc)),
        msg("q", datetime(2025, 3, 31, 12, tzinfo=timezone.utc)),
    ]
}


def test_later_windows_count_a_stored_day_as_it_was_stored():
    """March 3rd is exported while p and q wrote on it; then p's message leaves MongoDB. A later run's
    windows read March 3rd from the store (docs/history.md, "Windows"): on March 31st p has churned
    (wrote in the 28 days before the last 28, not since) and March has 3 users, as the data was when
    the day was stored. Rewriting March 3rd (--force) makes the later windows follow MongoDB."""
    assert history_rows(STORED, MARCH_31, MARCH_31)["daily_churn"] == {(MARCH_31, 2, 1)}  # by hand too
    server = start_mongoeco(STORED)
    db = SqlDb("mysql")
    try:
        export(server, db, MARCH_3, MARCH_3)
        assert db.rows("daily_churn") == {(MARCH_3, 2, 0)}
        with server.client() as client:
            assert client["LibreChat"]["messages"].delete_one({"user": "p"}).deleted_count == 1
        export(server, db, MARCH_31, MARCH_31)
        assert (MARCH_31, 2, 1) in db.rows("daily_churn")
        assert db.rows("monthly_users") == {(date(2025, 3, 1), 3)}
        export(server, db, MARCH_3, MARCH_3, "--force")
        export(server, db, MARCH_31, MARCH_31, "--force")
        assert db.rows("daily_churn") == {(MARCH_3, 1, 0), (MARCH_31, 2, 0)}
        assert db.rows("monthly_users") == {(date(2025, 3, 1), 2)}
    finally:
        db.drop()
        server.stop()


def test_a_day_stored_before_it_ended_is_read_from_mongodb():
    """A day stored while it was still running (computed_at before its end) is partial: a later run's
    windows read it from MongoDB, not from its stored activity."""
    server = start_mongoeco(STORED)
    db = SqlDb("mysql")
    try:
        export(server, db, MARCH_3, MARCH_3)
        with server.client() as client:
            assert client["LibreChat"]["messages"].delete_one({"user": "p"}).deleted_count == 1
        conn = db.connect()
        try:
            conn.cursor().execute("UPDATE daily_users SET computed_at = '2025-03-03 12:00:00'")
            conn.commit()
        finally:
            conn.close()
        export(server, db, MARCH_31, MARCH_31)
        assert (MARCH_31, 2, 0) in db.rows("daily_churn")  # p is gone: March 3rd was read again
    finally:
        db.drop()
        server.stop()
