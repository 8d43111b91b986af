"""A person's activity is what a person did: scheduled runs and agent events are no person's activity.

Hand-worked fixtures (every expected number below is counted by hand in the docstrings), checked
against the exporter's jobs over the wire, the history computation and the oracle.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring

from librechat_metrics import origins, tally
from librechat_metrics.engagement import collect_engagement
from librechat_metrics.groups import UsageGroup
from librechat_metrics.history import compute, sql
from librechat_metrics.mongo import Reader, Span, visible
from librechat_metrics.settings import load
from tests.oracle import exporter_samples, history_rows
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import assert_rows_equal

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)  # a Thursday; Berlin is UTC+1
NO_PARENT = "00000000-0000-0000-0000-000000000000"
AGENT = "agent_" + "a" * 21


def oid(at: datetime, n: int) -> ObjectId:
    """An ObjectId of time `at`, unique by `n`."""
    return ObjectId(int(at.timestamp()).to_bytes(4, "big") + n.to_bytes(8, "big"))


class Docs:
    """Builds LibreChat documents as v0.8.8 writes them."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.runs: list[dict] = []
        self.n = 0

    def message(self, user: str, conversation: str, at: datetime, parent: str, typed: bool, **extra) -> str:
        self.n += 1
        message_id = f"m{self.n:03d}"
        doc = {"_id": oid(at, self.n), "messageId": message_id, "conversationId": conversation}
        doc.update({"user": user, "parentMessageId": parent, "isCreatedByUser": typed, "createdAt": at})
        doc.update({"sender": "User" if typed else "Agent", "model": None if typed else AGENT})
        doc.update({"endpoint": "agents", "tokenCount": 10, **extra})
        self.messages.append(doc)
        return message_id

    def chat(self, user: str, conversation: str, at: datetime, parent: str = NO_PARENT) -> str:
        """A typed message and the agent's reply 10 s later; returns the reply's messageId."""
        asked = self.message(user, conversation, at, parent, True)
        return self.message(user, conversation, at + timedelta(seconds=10), asked, False)

    def run(self, user: str, conversation: str | None, fired: datetime, status: str = "success") -> None:
        self.n += 1
        doc = {"_id": oid(fired, self.n), "scheduleId": f"s-{user}", "user": user, "status": status}
        doc.update({"scheduledFor": fired, "firedAt": fired, "settledAt": fired + timedelta(minutes=1)})
        if conversation is not None:
            doc["conversationId"] = conversation
        self.runs.append(doc)

    def scheduled(self, user: str, conversation: str, fired: datetime) -> str:
        """A fired run: the row, its prompt 1 s later and the reply 20 s later; returns the reply's id."""
        self.run(user, conversation, fired)
        prompt = self.message(user, conversation, fired + timedelta(seconds=1), NO_PARENT, True)
        return self.message(user, conversation, fired + timedelta(seconds=20), prompt, False)

    def event(self, user: str, conversation: str, at: datetime, parent: str = NO_PARENT) -> str:
        projection = {"version": 1, "eventType": "ticket.created", "sourceType": "jira", "occurredAt": at}
        trigger = self.message(user, conversation, at, parent, True, subagentTriggerProjection=projection)
        return self.message(user, conversation, at + timedelta(seconds=20), trigger, False)

    def collections(self) -> dict[str, list[dict]]:
        agent = {"_id": ObjectId(), "id": AGENT, "name": "Ops", "provider": "openAI", "model": "gpt-4o"}
        return {"messages": self.messages, "scheduleruns": self.runs, "agents": [agent]}


def issue_example() -> dict[str, list[dict]]:
    """Three people and three users whose schedules ran (P3 is both).

    P1 and P2 type in the last 5 minutes, P3 at 09:00; the schedules of P3, S1 and S2 ran 4 minutes
    ago. Users with a message today: P1 P2 P3 S1 S2 = 5, people 3; in the last 5 minutes: 5, people 2
    (P1 P2). Messages: 3 chats x 2 = 6 person, 3 runs x 2 = 6 schedule."""
    d = Docs()
    d.chat("P1", "c-p1", NOW - timedelta(minutes=2))
    d.chat("P2", "c-p2", NOW - timedelta(minutes=3))
    d.chat("P3", "c-p3", NOW.replace(hour=9))
    for user in ("P3", "S1", "S2"):
        d.scheduled(user, f"run-{user}", NOW - timedelta(minutes=4))
    return d.collections()


def edges() -> dict[str, list[dict]]:
    """Window edges, a person's later turn, an edited root, agent events, a skipped run.

    - S1's run fired 2025-03-19 22:59:58 UTC (23:59:58 Berlin): prompt 22:59:59, reply 23:00:18 UTC,
      in Berlin's today: schedule, so S1 is not active today in either zone.
    - S2's run fired yesterday 10:00; today 08:00 S2 types into that conversation (and gets a reply):
      S2 is active today.
    - S3's run fired yesterday 09:00; today 09:00 S3 edits the root (a second NO_PARENT user message)
      and gets a reply: the run's prompt is the earliest root, so S3 is active today.
    - E1: an agent-event trigger yesterday 22:59:50 UTC (reply 23:00:10, Berlin's today) and one
      today 10:00 (reply 10:00:20): agent_event, E1 is not active.
    - P4 types today 11:00 (a root message in a conversation no run names); a skipped run of P4 has
      no conversation.

    Today, both zones: people P4 S2 S3 = 3 (every user: 4 in UTC, 5 in Berlin with S1's reply).
    Messages: schedule 6 (three runs x 2), agent_event 4, person 6 (S2 2, S3 2, P4 2)."""
    d = Docs()
    d.scheduled("S1", "run-s1", datetime(2025, 3, 19, 22, 59, 58, tzinfo=timezone.utc))
    reply = d.scheduled("S2", "run-s2", datetime(2025, 3, 19, 10, 0, tzinfo=timezone.utc))
    d.chat("S2", "run-s2", NOW.replace(hour=8), parent=reply)
    d.scheduled("S3", "run-s3", datetime(2025, 3, 19, 9, 0, tzinfo=timezone.utc))
    d.chat("S3", "run-s3", NOW.replace(hour=9))
    reply = d.event("E1", "bound-e1", datetime(2025, 3, 19, 22, 59, 50, tzinfo=timezone.utc))
    d.event("E1", "bound-e1", NOW.replace(hour=10), parent=reply)
    d.chat("P4", "c-p4", NOW.replace(hour=11))
    d.run("P4", None, NOW.replace(hour=7), status="skipped_balance")
    return d.collections()


def serve(collections: dict[str, list[dict]]):
    server = start_mongoeco(collections)
    client = MongoClient(server.uri, tz_aware=True)
    return server, client


def jobs(server, client, zone: str) -> dict[str, object]:
    settings = load({"MONGODB_URI": server.uri, "TIMEZONE": zone})
    reader = Reader.from_settings(client, settings)
    usage = UsageGroup(reader, settings)(NOW)
    return {
        "activity": usage.activity,
        "engagement": collect_engagement(reader, settings, NOW),
        "usage": usage,
        "reader": reader,
    }


@pytest.fixture(scope="module")
def example():
    collections = issue_example()
    server, client = serve(collections)
    yield collections, server, client
    client.close()
    server.stop()


@pytest.fixture(scope="module")
def edge():
    collections = edges()
    server, client = serve(collections)
    yield collections, server, client
    client.close()
    server.stop()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_the_issue_example_counts_people(example, zone):
    collections, server, client = example
    got = jobs(server, client, zone)
    assert got["activity"].users["day"] == 3  # not 5
    assert got["activity"].users["recent"] == 2  # not 5
    assert got["activity"].users["1d"] == 3
    assert got["activity"].agent_users["recent"] == {AGENT: 2}  # P1 P2's replies, no run's
    assert got["usage"].origins == {"person": 6, "schedule": 6, "agent_event": 0}
    want = exporter_samples(collections, NOW, zone)
    assert want["librechat_daily_unique_users"] == {(): 3.0}
    assert want["librechat_active_users"] == {(): 2.0}
    assert want["librechat_messages_by_origin_total"] == {
        (("origin", "person"),): 6.0,
        (("origin", "schedule"),): 6.0,
        (("origin", "agent_event"),): 0.0,
    }


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_window_edges_later_turns_edited_roots_and_agent_events(edge, zone):
    collections, server, client = edge
    got = jobs(server, client, zone)
    assert got["activity"].users["day"] == 3
    assert got["activity"].users["week"] == 3
    assert got["activity"].users["1d"] == 3  # the last 24 h: P4 S2 S3
    assert got["usage"].origins == {"person": 6, "schedule": 6, "agent_event": 4}
    want = exporter_samples(collections, NOW, zone)
    assert want["librechat_daily_unique_users"] == {(): 3.0}
    assert want["librechat_weekly_unique_users"] == {(): 3.0}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_history_counts_people_and_keeps_their_tokens(edge, zone):
    """daily_users 3 today; daily_user_messages: E1 has no person message but its messages' tokens
    (TOKEN_SOURCE messages: 10 per message) still count; the weekly row counts P4 S2 S3."""
    collections, server, client = edge
    reader = Reader.from_settings(client, load({"MONGODB_URI": server.uri}))
    src = compute.Source(reader, zone, "messages", tally.agent_models(reader))
    today = date(2025, 3, 20)
    rows = compute.day_rows(src, today)
    assert rows["daily_users"] == [(today, 3)]
    by_user = {row[1]: row for row in rows["daily_user_messages"]}
    assert by_user["S2"][2:4] == (1, "gpt-4o")  # one typed message, answered by the agent's model
    # E1: the 10:00 turn (and, in Berlin, the reply at 00:00:10 local to the trigger before midnight)
    assert by_user["E1"][2:6] == (0, "", 10, 10 if zone == "UTC" else 20)
    assert compute.week_row(src, date(2025, 3, 17)) == (date(2025, 3, 17), 3)
    want = history_rows(collections, date(2025, 3, 18), date(2025, 3, 20), zone, "messages", now=NOW)
    got: dict[str, set[tuple]] = {table.name: set() for table in sql.DAILY}
    for day in (date(2025, 3, 18), date(2025, 3, 19), today):
        for table, found in compute.day_rows(src, day).items():
            got[table] |= set(found)
    assert_rows_equal(got, want, [table.name for table in sql.DAILY])


class Commands(monitoring.CommandListener):
    """The commands the client sends (name, collection, the command)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name)), event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def own(query: dict) -> dict:
    """The filter a job wrote, without the visibility clause the Reader adds on messages (mongo.visible)."""
    parts = query.get("$and", [])
    return parts[-1] if len(parts) == 2 and parts[0] == visible(NOW) else query


def test_reads_are_bounded_on_indexes(example):
    """A usage cycle (its activity reads: from 30 days ago, before this month's start) reads runs by
    {status, firedAt} from 7 days before that, prompts by conversationId, and trigger messages on
    createdAt from an hour before it: one read of each for the whole cycle."""
    _, server, _ = example
    commands = Commands()
    client = MongoClient(server.uri, tz_aware=True, event_listeners=[commands])
    try:
        settings = load({"MONGODB_URI": server.uri})
        usage = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)
        usage(NOW)  # the recount, then the cycle
        commands.sent.clear()
        usage(NOW)  # a cycle alone
    finally:
        client.close()
    earliest = NOW - timedelta(days=30)
    assert earliest < datetime(2025, 3, 1, tzinfo=timezone.utc)  # the rolling 30 days start first
    finds = [own(command["filter"]) for name, _, command in commands.sent if name == "find"]
    runs = [f for f in finds if "firedAt" in f]
    assert len(runs) == 1
    assert sorted(runs[0]["status"]["$in"]) == sorted(origins.RUN_STATUSES)
    assert runs[0]["firedAt"]["$gte"] == earliest - timedelta(days=7)
    prompts = [f for f in finds if f.get("parentMessageId") == NO_PARENT]
    assert len(prompts) == 1 and sorted(prompts[0]["conversationId"]["$in"]) == ["run-P3", "run-S1", "run-S2"]
    triggers = [f for f in finds if "$and" in f and origins.TRIGGER in f["$and"]]
    assert len(triggers) == 1
    assert triggers[0]["$and"][0] == {"createdAt": {"$type": "date", "$gte": earliest - timedelta(hours=1)}}


def test_a_reply_beyond_the_lookback_counts_as_a_person():
    """The documented limit: a run fired more than 7 days before the read (the activity reads start
    30 days before NOW, February 18 12:00) whose reply falls inside it (an approval that waited) is
    not found, so its user counts that day; a read from before the run finds it."""
    d = Docs()
    fired = datetime(2025, 2, 11, 11, 59, tzinfo=timezone.utc)
    d.run("S9", "run-s9", fired)
    prompt = d.message("S9", "run-s9", fired + timedelta(seconds=1), NO_PARENT, True)
    d.message("S9", "run-s9", NOW.replace(hour=10), prompt, False)  # the reply, 37 days later
    server, client = serve(d.collections())
    try:
        settings = load({"MONGODB_URI": server.uri})
        reader = Reader.from_settings(client, settings)
        activity = UsageGroup(reader, settings)(NOW).activity
        assert activity is not None and activity.users["day"] == 1
        assert origins.automated(reader, Span(fired + timedelta(days=7))).prompts == (prompt,)
    finally:
        client.close()
        server.stop()


def test_odd_values_never_break_a_job_and_agree_with_the_oracle():
    """Runs and messages with values of the wrong type: a run without a date firedAt, with an unknown
    status or a numeric conversationId names nothing; a subagentTriggerProjection that is null, a
    string or an array marks nothing; odd conversation and parent ids match nothing."""
    d = Docs()
    d.scheduled("S1", "run-ok", NOW - timedelta(minutes=3))
    for n, (field, value) in enumerate(
        (("firedAt", "2025-03-20"), ("status", "queued"), ("conversationId", 7))
    ):
        conversation = f"odd-{n}"
        d.scheduled(f"O{n}", conversation, NOW - timedelta(minutes=4))
        d.runs[-1][field] = value
    for n, value in enumerate((None, "x", [1], {"eventType": "t"})):
        d.message(f"T{n}", {"a": n} if n == 1 else f"t-{n}", NOW - timedelta(minutes=2), 5, True)
        d.messages[-1]["subagentTriggerProjection"] = value
    d.message("T9", "t-3", NOW - timedelta(minutes=1), d.messages[-1]["messageId"], False)  # T3's reply
    collections = d.collections()
    server, client = serve(collections)
    try:
        for zone in ("UTC", "Europe/Berlin"):
            got = jobs(server, client, zone)
            want = exporter_samples(collections, NOW, zone)
            # O0 O1 O2 (their runs name nothing) and T0 T1 T2 are people; S1, T3 and T9 are not
            assert got["activity"].users["recent"] == want["librechat_active_users"][()] == 6
            assert got["activity"].users["1d"] == want["librechat_active_users_1d"][()] == 6
            origins_want = {
                dict(k)["origin"]: v for k, v in want["librechat_messages_by_origin_total"].items()
            }
            assert got["usage"].origins == origins_want == {"person": 9, "schedule": 2, "agent_event": 2}
    finally:
        client.close()
        server.stop()
