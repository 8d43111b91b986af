"""Every daily history table equals the oracle on every generator profile, in UTC and Europe/Berlin.

The SQL round trip is proven by test_history_e2e (on v0.8.7, v0.6 and the malformed corpus); this
file runs the export's own computation (history.compute.day_rows) over the wire against each profile,
so that the shapes only one LibreChat version writes are covered in history too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import bson
import pytest
from pymongo import MongoClient, monitoring

from librechat_metrics import responses, tally
from librechat_metrics.history import compute, sql
from librechat_metrics.membership import read_membership
from librechat_metrics.mongo import Reader
from librechat_metrics.settings import load
from librechat_metrics.synthetic import PROFILES, generate
from tests.oracle import agent_info_rows, history_rows
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import assert_rows_equal
from tests.test_oracle import ai_msg, oid, tx, user_msg

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)
START, END = date(2025, 3, 2), date(2025, 3, 11)  # ten days around Berlin's month edge, and a Monday
DAILY = [table.name for table in sql.DAILY]


@pytest.fixture(scope="module", params=PROFILES)
def served(request):
    collections = generate(
        profile=request.param,
        seed=21,
        n_messages=900,
        now=NOW,
        zones=("UTC", "Europe/Berlin"),
        history_days=45,
    ).collections
    server = start_mongoeco(collections)
    client = MongoClient(server.uri, tz_aware=True)
    yield collections, Reader.from_settings(client, load({"MONGODB_URI": server.uri})).at(NOW)
    client.close()
    server.stop()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_daily_tables_equal_the_oracle_on_every_profile(served, zone):
    collections, reader = served
    source = compute.resolve_token_source(reader, "auto")
    src = compute.Source(reader, zone, source, tally.agent_models(reader))
    got: dict[str, set[tuple]] = {table: set() for table in DAILY}
    day = START
    while day <= END:
        for table, rows in compute.day_rows(src, day).items():
            got[table] |= set(rows)
        day += timedelta(days=1)
    want = history_rows(collections, START, END, zone, "auto", now=NOW)
    assert_rows_equal(got, want, DAILY)
    assert sum(len(rows) for rows in got.values()) > 10 * len(DAILY) // 2  # the range is not empty


def test_agent_info_equals_the_oracle_on_every_profile(served):
    collections, reader = served
    got = set(compute.agent_info_rows(reader))
    assert got == agent_info_rows(collections)
    assert got or not collections.get("agents")


@pytest.mark.parametrize("read_whole", [False, True])
def test_one_pass_reads_equal_the_oracle(served, monkeypatch, read_whole):
    """A day's agent spend comes from one pass over its transactions grouped by messageId, and its
    response times from one read of its messages (no lookback here: questions asked before the day
    are not read with it); conversations in which a reply's question was not read are read whole
    (`read_whole`: every conversation, as if no question had been read). Both equal the oracle."""
    collections, reader = served
    monkeypatch.setattr(tally, "REPLY_CHUNK", 1)
    monkeypatch.setattr(responses, "QUESTION_LOOKBACK", timedelta(0))
    whole: list[list[str]] = []  # the conversations read whole
    real = responses._conversation_waits
    monkeypatch.setattr(
        responses, "_conversation_waits", lambda r, ids, s: whole.append(ids) or real(r, ids, s)
    )
    if read_whole:
        monkeypatch.setattr(responses, "_unanswerable", lambda doc, ids, span: doc["assistant"])
    src = compute.Source(
        reader, "UTC", compute.resolve_token_source(reader, "auto"), tally.agent_models(reader)
    )
    tables = ["daily_spend_by_agent", "daily_response_time_by_model"]
    got: dict[str, set[tuple]] = {table: set() for table in tables}
    day = START
    while day <= END:
        rows = compute.day_rows(src, day)
        for table in tables:
            got[table] |= set(rows[table])
        day += timedelta(days=1)
    assert_rows_equal(got, history_rows(collections, START, END, "UTC", "auto", now=NOW), tables)
    assert got["daily_response_time_by_model"]
    assert bool(whole) or not read_whole
    # before 0.8.3 transactions carry no messageId: nothing can be joined (the oracle agrees above)
    spend = got["daily_spend_by_agent"]
    assert spend or not any(isinstance(t.get("messageId"), str) for t in collections["transactions"])


class Replies(monitoring.CommandListener):
    """Keeps the BSON of every reply MongoDB sends."""

    def __init__(self) -> None:
        self.replies: list[bytes] = []
        self.sent: list[tuple[str, object]] = []  # (command, collection)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.replies.append(bson.encode(event.reply))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_a_day_joins_its_transactions_to_the_replies_near_it_only(mongoeco):
    """A day's agent spend joins its transactions to the agent replies created from 5 minutes before
    the day to 5 minutes after it, and no other reply travels: 40 agent replies of 20 days earlier are
    in no reply MongoDB sends, and a reply saved 3 days after its transaction takes none of its spend
    (both as the oracle says)."""
    day = date(2025, 3, 5)
    midnight = datetime(2025, 3, 5, tzinfo=timezone.utc)
    agent = "agent_nearreplies0000000"
    usd = 1_000_000  # tokenValue of 1 USD

    def reply(when: datetime, message_id: str) -> list[dict]:
        """An agent reply and its question a minute before, in a conversation of their own."""
        chat = {"conversationId": f"chat-{message_id}", "endpoint": "agents"}
        question = user_msg(when - timedelta(minutes=1), f"q-{message_id}", **chat)
        return [question, ai_msg(when, agent, f"q-{message_id}", messageId=message_id, **chat)]

    def spent(when: datetime, message_id: str, dollars: int) -> dict:
        return tx(when, "completion", -10, "gpt-4o", "u1", messageId=message_id, tokenValue=-dollars * usd)

    long_ago = midnight - timedelta(days=20)
    far = [doc for i in range(40) for doc in reply(long_ago - timedelta(minutes=i), f"far-reply-{i}")]
    collections = {
        "agents": [{"_id": oid(midnight - timedelta(days=60)), "id": agent, "name": "A", "model": "gpt-4o"}],
        "messages": [
            *reply(midnight + timedelta(hours=10), "same-day"),
            *reply(midnight + timedelta(days=1, minutes=3), "after-midnight"),  # 4 minutes after its tx
            *reply(midnight + timedelta(days=3), "days-later"),
            *far,
        ],
        "transactions": [
            spent(midnight + timedelta(hours=9, minutes=59), "same-day", 1),
            spent(midnight + timedelta(hours=23, minutes=59), "after-midnight", 2),
            spent(midnight + timedelta(hours=12), "days-later", 4),
            *(spent(long_ago - timedelta(minutes=i + 1), f"far-reply-{i}", 8) for i in range(40)),
        ],
    }
    server = mongoeco(collections)
    listener = Replies()
    with MongoClient(server.uri, tz_aware=True, event_listeners=[listener]) as client:
        reader = Reader.from_settings(client, load({"MONGODB_URI": server.uri})).at(NOW)
        src = compute.Source(reader, "UTC", "transactions", tally.agent_models(reader))
        listener.replies.clear()
        got = set(compute.day_rows(src, day, frozenset({"daily_spend_by_agent"}))["daily_spend_by_agent"])
    assert got == history_rows(collections, day, day, "UTC", now=NOW)["daily_spend_by_agent"]
    assert got == {(day, agent, 3.0)}
    assert listener.replies and not any(b"far-reply-" in reply for reply in listener.replies)


@pytest.mark.parametrize("grouped", [False, True])
def test_the_users_are_read_for_groups_only(mongoeco, grouped):
    """Group rows need every user's membership key; without a group there are no group rows, and the
    users (as many as ever signed up, whatever the day) are not read."""
    user = oid(NOW - timedelta(days=400))
    groups = [{"name": "team", "memberIds": ["entra-1"]}] if grouped else []
    server = mongoeco({"users": [{"_id": user, "idOnTheSource": "entra-1"}], "groups": groups})
    listener = Replies()
    with MongoClient(server.uri, tz_aware=True, event_listeners=[listener]) as client:
        reader = Reader.from_settings(client, load({"MONGODB_URI": server.uri})).at(NOW)
        listener.sent.clear()
        membership = read_membership(reader)
    assert membership.groups == ({"team": frozenset({str(user)})} if grouped else {})
    assert (("find", "users") in listener.sent) == grouped
