"""Incremental all-time numbers: new documents count at once, edits of old ones after the recount."""

from __future__ import annotations

import copy
import os
import uuid
from datetime import datetime, timedelta, timezone

import pymongo
import pytest
from bson import ObjectId
from prometheus_client import generate_latest
from pymongo import monitoring

from librechat_metrics import groups
from librechat_metrics.collector import SnapshotCollector, View
from librechat_metrics.families import FROM_ACTIVITY
from librechat_metrics.groups import UsageGroup
from librechat_metrics.mongo import AnyOf, Reader, Span
from librechat_metrics.scheduler import Job, Scheduler
from librechat_metrics.settings import load
from librechat_metrics.synthetic import generate, malformed_corpus
from tests.oracle import exporter_samples
from tests.support.compare import GROUP_OF, as_of, assert_samples_equal, expected
from tests.support.exporter import Exposition, start_exporter
from tests.support.mongo import start_mongoeco

FAST_GROUPS = {"recent_ratings", "engagement"}  # fresh reads, not incremental (and FROM_ACTIVITY)
FAST = {name for name, group in GROUP_OF.items() if group in FAST_GROUPS or name.endswith("_5m")} | {
    "librechat_active_tool_users",
    *FROM_ACTIVITY,
}
INVENTORY = {name for name, group in GROUP_OF.items() if group == "inventory"}


def oid_at(when: datetime) -> ObjectId:
    """A unique ObjectId whose time is `when`, as Mongoose makes them."""
    return ObjectId(ObjectId.from_datetime(when).binary[:4] + os.urandom(8))


def new_turn(
    now: datetime, user: str, model: str = "gpt-4o", real_model: str = "gpt-4o", endpoint: str = "openAI"
) -> tuple[list[dict], list[dict]]:
    """A fresh user message and a rated assistant reply with a failing tool call, and its transactions.

    `model` is what the reply stores (an agent id on the agents endpoint), `real_model` what the
    transactions store (LibreChat's `usage.model`, the underlying model even on agent chats)."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    asked, answered = now - timedelta(seconds=4), now - timedelta(seconds=2)
    conversation, question = str(uuid.uuid4()), str(uuid.uuid4())
    messages = [
        {
            "_id": oid_at(asked),
            "messageId": question,
            "conversationId": conversation,
            "user": user,
            "parentMessageId": "00000000-0000-0000-0000-000000000000",
            "sender": "User",
            "isCreatedByUser": True,
            "model": None,
            "endpoint": endpoint,
            "text": "hi",
            "tokenCount": 12,
            "createdAt": asked,
            "updatedAt": asked,
        },
        {
            "_id": oid_at(answered),
            "messageId": str(uuid.uuid4()),
            "conversationId": conversation,
            "user": user,
            "parentMessageId": question,
            "sender": "GPT-4o",
            "isCreatedByUser": False,
            "model": model,
            "endpoint": endpoint,
            "text": "",
            "tokenCount": 40,
            "error": False,
            "content": [
                {
                    "type": "tool_call",
                    "tool_call": {
                        "id": "t1",
                        "name": "web_search",
                        "args": "{}",
                        "output": "Error processing tool web_search: 500",
                    },
                }
            ],
            "feedback": {"rating": "thumbsDown", "tag": "inaccurate"},
            "createdAt": answered,
            "updatedAt": answered,
        },
    ]
    transactions = [
        {
            "_id": oid_at(answered),
            "user": ObjectId(user),
            "conversationId": conversation,
            "tokenType": kind,
            "model": real_model,
            "context": "message",
            "rawAmount": -amount,
            "rate": 2.5,
            "tokenValue": -amount * 2.5,
            "createdAt": answered,
            "updatedAt": answered,
        }
        for kind, amount in (("prompt", 900), ("completion", 40))
    ]
    return messages, transactions


def test_new_documents_count_at_once_and_old_edits_after_the_recount():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    original = generate(profile="v0.8.7", seed=5, n_messages=600, now=now, zones=("UTC",)).collections
    server = start_mongoeco(original)
    exporter = start_exporter(
        server.uri, {"METRICS_CACHE_TTL": "1", "METRICS_SLOW_INTERVAL": "1", "METRICS_RESYNC_INTERVAL": "15"}
    )
    db = server.client()["LibreChat"]
    try:
        exporter.wait_ready()
        first = exporter.scrape()
        assert_samples_equal(first.librechat(), expected(original, first, "UTC"))

        # Between cycles: one new turn; a rating given to an old message; an old conversation deleted;
        # temporary chats expired (what LibreChat's TTL index does).
        changed_at = datetime.now(timezone.utc)
        user = next(doc["user"] for doc in original["messages"] if isinstance(doc.get("user"), str))
        added_messages, added_transactions = new_turn(changed_at, user)
        db.messages.insert_many(copy.deepcopy(added_messages))
        db.transactions.insert_many(copy.deepcopy(added_transactions))
        old = changed_at - timedelta(days=2)
        target = next(
            d
            for d in original["messages"]
            if not d["isCreatedByUser"] and not d.get("feedback") and d["createdAt"] < old
        )
        db.messages.update_one(
            {"_id": target["_id"]},
            {
                "$set": {
                    "feedback": {"rating": "thumbsUp", "tag": "creative_solution"},
                    "updatedAt": changed_at,
                }
            },
        )
        # Only documents older than the recount's look-back, so that until the recount the all-time
        # numbers are exactly "the old documents as they were, plus the new ones".
        latest: dict[str, datetime] = {}
        for d in original["messages"]:
            latest[d["conversationId"]] = max(latest.get(d["conversationId"], d["createdAt"]), d["createdAt"])
        gone = next(c for c, last in latest.items() if last < old)
        db.messages.delete_many({"conversationId": gone})
        db.conversations.delete_many({"conversationId": gone})
        expired = {"isTemporary": True, "createdAt": {"$lt": changed_at - timedelta(hours=1)}}
        assert db.messages.delete_many(expired).deleted_count > 0
        db.conversations.delete_many(expired)
        current = {name: list(db[name].find()) for name in original}
        done_at = datetime.now(timezone.utc)
        assert sum(map(len, current.values())) != sum(map(len, original.values()))

        # Fast tier: equal to the oracle over the current documents as soon as the groups ran again.
        def collected_after_change(page) -> bool:
            groups = ("usage", "recent_ratings", "inventory", "engagement")
            return all(as_of(page, g) > done_at for g in groups)

        page = exporter.wait_for(collected_after_change, timeout=30)
        got = page.librechat()
        assert_samples_equal(
            {k: v for k, v in got.items() if k in FAST | INVENTORY},
            expected(current, page, "UTC", families=FAST | INVENTORY),
        )
        # All-time numbers before the recount: the old documents as they were, plus the new ones.
        recount = page.samples["librechat_exporter_last_recount_timestamp_seconds"][()]
        if recount < changed_at.timestamp():
            before = {name: [*docs] for name, docs in original.items()}
            before["messages"] += added_messages
            before["transactions"] += added_transactions
            slow = set(GROUP_OF) - FAST - INVENTORY
            assert_samples_equal(
                {k: v for k, v in got.items() if k in slow}, expected(before, page, "UTC", families=slow)
            )

        # After the recount every number equals the oracle over the current documents.
        page = exporter.wait_for(
            lambda p: (
                p.samples["librechat_exporter_last_recount_timestamp_seconds"][()] > done_at.timestamp()
                and collected_after_change(p)
            ),
            timeout=60,
        )
        assert_samples_equal(page.librechat(), expected(current, page, "UTC"))
    finally:
        exporter.stop()
        server.stop()


def new_agent(now: datetime) -> dict:
    """An agent as LibreChat's createAgent writes it (only the fields the exporter reads matter)."""
    return {
        "id": "agent_" + uuid.uuid4().hex[:21],
        "name": "Fresh Agent",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "author": ObjectId(),
        "category": "general",
        "versions": [],
        "createdAt": now,
        "updatedAt": now,
    }


def fork_of(messages: list[dict]) -> tuple[list[dict], str]:
    """A copy of a conversation as bulkSaveMessages stores a fork, a duplicate or an import: new
    messageIds, conversationId and `_id`s (made now, by the driver), the original createdAt kept."""
    conversation = str(uuid.uuid4())
    ids = {m["messageId"]: str(uuid.uuid4()) for m in messages}
    copies = []
    for m in messages:
        doc = {k: copy.deepcopy(v) for k, v in m.items() if k != "_id"}
        doc.update(conversationId=conversation, messageId=ids[m["messageId"]])
        doc["parentMessageId"] = ids.get(m.get("parentMessageId"), m.get("parentMessageId"))
        copies.append(doc)
    return copies, conversation


@pytest.mark.parametrize("token_source", ["auto", "messages"])
def test_new_agents_and_forks_count_within_one_fast_cycle(token_source):
    """A new agent used at once and an old conversation forked (old createdAt, new _id) between two
    fast cycles: every family equals the oracle after the next one, with no recount and no slow reload."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    original = generate(profile="v0.8.7", seed=7, n_messages=500, now=now, zones=("UTC",)).collections
    server = start_mongoeco(original)
    env = {"METRICS_CACHE_TTL": "1", "METRICS_SLOW_INTERVAL": "3600", "METRICS_RESYNC_INTERVAL": "3600"}
    exporter = start_exporter(server.uri, {**env, "TOKEN_SOURCE": token_source})
    db = server.client()["LibreChat"]
    try:
        exporter.wait_ready()
        first = exporter.wait_for(lambda p: "librechat_messages_total" in p.samples)
        assert_samples_equal(first.librechat(), expected(original, first, "UTC", token_source))

        changed_at = datetime.now(timezone.utc)
        user = next(doc["user"] for doc in original["messages"] if isinstance(doc.get("user"), str))
        agent = new_agent(changed_at)
        db.agents.insert_one(copy.deepcopy(agent))
        added, transactions = new_turn(changed_at, user, agent["id"], agent["model"], "agents")
        db.messages.insert_many(copy.deepcopy(added))
        db.transactions.insert_many(copy.deepcopy(transactions))
        old = changed_at - timedelta(days=2)
        by_conversation: dict[str, list[dict]] = {}
        for d in original["messages"]:
            by_conversation.setdefault(d["conversationId"], []).append(d)
        source = max(
            (c for c in by_conversation.values() if max(m["createdAt"] for m in c) < old),
            key=lambda c: (len(c), c[0]["conversationId"]),
        )
        fork, fork_id = fork_of(source)
        assert any(not m["isCreatedByUser"] for m in fork)
        db.messages.insert_many(copy.deepcopy(fork))
        conversation = next(
            c for c in original["conversations"] if c["conversationId"] == source[0]["conversationId"]
        )
        db.conversations.insert_one(
            {k: v for k, v in conversation.items() if k != "_id"} | {"conversationId": fork_id}
        )
        current = {name: list(db[name].find()) for name in original}
        done_at = datetime.now(timezone.utc)

        page = exporter.wait_for(lambda p: as_of(p, "usage") > done_at, timeout=30)
        # Neither a recount nor the slow reload of the agent map ran: the fast cycle alone got it right.
        assert page.samples["librechat_exporter_last_recount_timestamp_seconds"][()] < changed_at.timestamp()
        slow_groups = ("inventory", "recent_ratings", "engagement")
        slow = {name for name, group in GROUP_OF.items() if group in slow_groups}
        assert all(as_of(page, GROUP_OF[name]) < changed_at for name in slow)
        got = page.librechat()
        assert_samples_equal(
            {k: v for k, v in got.items() if k not in slow},
            expected(current, page, "UTC", token_source, families=set(GROUP_OF) - slow),
        )
        # The slow groups still show the documents as they were at their last run.
        assert_samples_equal(
            {k: v for k, v in got.items() if k in slow},
            expected(original, page, "UTC", token_source, families=slow),
        )
        labels = {dict(key).get("model") for samples in got.values() for key in samples}
        assert agent["model"] in labels and agent["id"] not in labels
    finally:
        exporter.stop()
        server.stop()


class Commands(monitoring.CommandListener):
    """Every command the client sends: (command name, collection)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_agent_map_is_read_in_the_cycle_that_sees_a_new_agent_id_and_not_again_for_a_missing_one():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    dataset = generate(profile="v0.8.7", seed=3, n_messages=150, now=now, zones=("UTC",)).collections
    server = start_mongoeco(dataset)
    commands = Commands()
    client = pymongo.MongoClient(server.uri, tz_aware=True, event_listeners=[commands])
    settings = load({"MONGODB_URI": server.uri, "METRICS_SLOW_INTERVAL": "3600"})
    group = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)
    db = client["LibreChat"]

    def cycle() -> tuple[dict[str, str], int]:
        commands.sent.clear()
        usage = group(datetime.now(timezone.utc))
        return usage.agents, sum(1 for _, collection in commands.sent if collection == "agents")

    def reply(model: str) -> dict:
        at = datetime.now(timezone.utc).replace(microsecond=0)
        return {"messageId": str(uuid.uuid4()), "isCreatedByUser": False, "model": model, "createdAt": at}

    try:
        assert cycle()[1] == 1  # the first cycle reads the map
        assert cycle()[1] == 0  # then only every METRICS_SLOW_INTERVAL (never, with this clock)
        gone = "agent_" + "x" * 21  # an agent deleted since: its id stays in old messages
        db.messages.insert_one(reply(gone))
        agents, reads = cycle()
        assert reads == 1 and gone not in agents
        assert cycle()[1] == 0, "an id no agent has must not cost a read every cycle"
        agent = new_agent(datetime.now(timezone.utc))
        db.agents.insert_one(copy.deepcopy(agent))
        db.messages.insert_one(reply(agent["id"]))
        agents, reads = cycle()
        assert reads == 1 and agents[agent["id"]] == agent["model"]
        assert cycle()[1] == 0
    finally:
        client.close()
        server.stop()


def test_span_filter_expression_and_python_test_agree_and_partition_odd_ids():
    """Span.match (query), Span.test (aggregation) and Span.holds (Python) select the same documents,
    and the recount's span and the cycle's split every document exactly once, odd `_id`s included."""
    cut = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    later = cut + timedelta(minutes=30)
    ids = [oid_at(cut - timedelta(seconds=1)), oid_at(cut), oid_at(later), "text-id", 7, cut, {"a": 1}]
    dates = [cut - timedelta(days=3), cut, later, "2020-01-01", None]
    docs = [{"_id": i, "n": n} for n, i in enumerate(ids)]
    docs += [{"_id": ObjectId(), "n": len(ids) + n, "createdAt": d} for n, d in enumerate(dates)]
    del docs[-1]["createdAt"]  # a missing createdAt, too
    server = start_mongoeco({"messages": docs})
    client = server.client()
    db = client["LibreChat"]
    try:

        def by_query(match: dict) -> set[int]:
            return {d["n"] for d in db.messages.find(match)}

        def by_expression(span: Span) -> set[int]:
            rows = db.messages.aggregate(
                [{"$project": {"n": 1, "in": span.test()}}, {"$match": {"in": True}}]
            )
            return {d["n"] for d in rows}

        everything = set(range(len(docs)))
        for inserted in (False, True):
            for span in (Span(cut, inserted=inserted), Span(cut, later, inserted=inserted)):
                chosen = by_query(span.match())
                assert chosen == by_expression(span) == {d["n"] for d in docs if span.holds(d)}, span
                assert chosen and chosen != everything, span
            base, opened = Span(None, cut, inserted=inserted), Span(cut, inserted=inserted)
            assert by_query(base.match()) | by_query(opened.match()) == everything
            assert not by_query(base.match()) & by_query(opened.match())
        recent = Span(later)
        assert by_query(AnyOf((Span(cut, inserted=True), recent)).match()) == by_query(
            Span(cut, inserted=True).match()
        ) | by_query(recent.match())
    finally:
        client.close()
        server.stop()


class FailingReader(Reader):
    """A reader whose `find` on messages (the recount's last read, of agent replies) fails when armed
    (on the class: each run reads through a copy, `Reader.at`)."""

    armed = False

    def find(self, collection, query, projection):  # type: ignore[no-untyped-def]
        if self.armed and collection == "messages":
            raise pymongo.errors.AutoReconnect("connection lost (test)")
        return super().find(collection, query, projection)


def test_a_recount_that_fails_halfway_is_retried_whole():
    """The first recount failed after its message tallies had been read: session 3's exporter kept
    them without a cut-off and failed every later cycle with an AssertionError (seen in the 100k bench
    when mongoeco cancelled a read). A failed recount must leave nothing behind."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    dataset = generate(profile="v0.8.7", seed=5, n_messages=150, now=now, zones=("UTC",)).collections
    server = start_mongoeco(dataset)
    client = pymongo.MongoClient(server.uri, tz_aware=True)
    settings = load({"MONGODB_URI": server.uri})
    plain = Reader.from_settings(client, settings)
    reader = FailingReader(plain.db, plain.time_limit_ms, plain.tenant)
    group = UsageGroup(reader, settings, clock=lambda: 0.0)
    try:
        FailingReader.armed = True
        with pytest.raises(pymongo.errors.AutoReconnect):
            group(now)
        FailingReader.armed = False
        usage = group(now)
        assert sum(usage.total.messages.count.values()) == len(dataset["messages"])
    finally:
        FailingReader.armed = False
        client.close()
        server.stop()


def test_a_cycle_with_more_replies_than_a_facet_holds_reads_them_apart(monkeypatch):
    """At FACET_LIMIT agent replies or reply conversations, the cycle reads them in commands of their
    own; the result is the one the facet gives (which the oracle tests prove)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    dataset = generate(profile="v0.8.7", seed=8, n_messages=400, now=now, zones=("UTC",)).collections
    server = start_mongoeco(dataset)
    client = pymongo.MongoClient(server.uri, tz_aware=True)
    settings = load({"MONGODB_URI": server.uri})
    try:
        # a recount cut-off long ago puts every reply in the cycle's open part
        def usage(limit: int):
            monkeypatch.setattr(groups, "FACET_LIMIT", limit)
            group = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)
            group(now - timedelta(days=60))  # the first call recounts
            return group(now)

        apart, facet = usage(1), usage(20_000)
        assert facet.total.agent_spend and facet.latency
        assert apart.total.agent_spend == facet.total.agent_spend
        assert {m: (h.buckets, h.total) for m, h in apart.latency.items()} == {
            m: (h.buckets, h.total) for m, h in facet.latency.items()
        }
    finally:
        client.close()
        server.stop()


# --- the cut-off advances every cycle: boundaries, compared with the oracle ----------------------


def usage_samples(settings, group: UsageGroup, now: datetime) -> dict:
    """The usage group's families after one run at `now`, as a scrape parses them."""
    scheduler = Scheduler([Job("usage", 60, group)], wall=now.timestamp)
    scheduler.run_once(scheduler.jobs[0])
    state = scheduler.states["usage"]
    assert state.ok, state.last_error
    metrics = list(SnapshotCollector(scheduler, settings).group_families("usage"))
    return Exposition.parse(generate_latest(View(metrics)).decode()).librechat()


def oracle_usage(collections: dict, now: datetime, token_source: str) -> dict:
    want = exporter_samples(collections, now, "UTC", token_source)
    return {name: samples for name, samples in want.items() if GROUP_OF.get(name) == "usage"}


def message(at: datetime, conversation: str, parent: str, user: str, model: str | None = None) -> dict:
    """A user message (no model) or an assistant reply (a model) inserted at `at` (its `_id` time)."""
    reply = model is not None
    return {
        "_id": oid_at(at),
        "messageId": str(uuid.uuid4()),
        "conversationId": conversation,
        "parentMessageId": parent,
        "user": user,
        "sender": "Assistant" if reply else "User",
        "isCreatedByUser": not reply,
        "model": model,
        "endpoint": "agents" if reply and model.startswith("agent_") else "openAI",
        "text": "x",
        "tokenCount": 30 if reply else 11,
        "createdAt": at,
        "updatedAt": at,
    }


def spend_of(reply: dict, user: ObjectId, real_model: str) -> list[dict]:
    """The prompt and completion transactions of a reply, inserted just before it."""
    at = reply["createdAt"] - timedelta(seconds=1)
    return [
        {
            "_id": oid_at(at),
            "user": user,
            "conversationId": reply["conversationId"],
            "messageId": reply["messageId"],
            "tokenType": kind,
            "model": real_model,
            "context": "message",
            "rawAmount": -amount,
            "tokenValue": -amount * 3.0,
            "createdAt": at,
        }
        for kind, amount in (("prompt", 500), ("completion", 30))
    ]


@pytest.mark.parametrize("token_source", ["auto", "messages"])
def test_every_cycle_folds_what_settled_into_the_base_and_equals_the_oracle(token_source):
    """Cycle after cycle the cut-off moves to RECOUNT_LAG before the cycle; what it passes is folded
    into the base. Every usage family equals the oracle after each cycle through: a document inserted
    exactly at a cut-off (counted once, not twice or never), a reply whose question settled cycles
    before, a regeneration after the first reply had settled, agent spend and its ledger label; a
    rating of an old message shows after the recount, as documented."""
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    # generated activity up to 2 minutes before the recount: part of it settles in the first cycles
    data = generate(profile="v0.8.8", seed=13, n_messages=300, now=t0 - timedelta(minutes=2), zones=("UTC",))
    collections = copy.deepcopy(data.collections)
    server = start_mongoeco(data.collections)
    db = server.client()["LibreChat"]
    settings = load({"MONGODB_URI": server.uri, "TOKEN_SOURCE": token_source})
    client = pymongo.MongoClient(server.uri, tz_aware=True)
    group = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)
    person = collections["users"][0]["_id"]
    agent = next(a for a in collections["agents"] if a["id"].startswith("agent_"))["id"]

    def insert(messages: list[dict], transactions: list[dict] = ()) -> None:
        for name, docs in (("messages", messages), ("transactions", list(transactions))):
            if docs:
                db[name].insert_many(copy.deepcopy(docs))
                collections[name].extend(docs)

    def cycle(now: datetime, want: dict | None = None) -> None:
        got = usage_samples(settings, group, now)
        assert_samples_equal(got, oracle_usage(collections, now, token_source) if want is None else want)
        assert group.cutoff == now - groups.RECOUNT_LAG  # the cut-off moved to the settled bound

    try:
        cycle(t0)  # the recount
        now = t0
        conversation = str(uuid.uuid4())
        asked = message(
            now + timedelta(seconds=10), conversation, "00000000-0000-0000-0000-000000000000", str(person)
        )
        insert([asked])
        now += timedelta(seconds=60)
        cycle(now)
        # exactly at the current cut-off (settles in the next cycle) and at the next one (stays open)
        at_cut = message(group.cutoff, str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000", str(person))
        at_next = message(
            now + timedelta(seconds=60) - groups.RECOUNT_LAG,
            at_cut["conversationId"],
            at_cut["messageId"],
            str(person),
            agent,
        )
        insert([at_cut, at_next], spend_of(at_next, person, "gpt-4.1"))
        for _ in range(7):  # until both have settled, and past the question's settling
            now += timedelta(seconds=60)
            cycle(now)
        # the answer to the question asked 8 minutes ago (settled since): its wait is 8 minutes
        answer = message(now + timedelta(seconds=10), conversation, asked["messageId"], str(person), agent)
        insert([answer], spend_of(answer, person, "claude-sonnet-4-5"))
        now += timedelta(seconds=60)
        cycle(now)
        for _ in range(6):  # the answer settles
            now += timedelta(seconds=60)
            cycle(now)
        # a regeneration of the settled first reply: no new first reply
        again = message(now + timedelta(seconds=10), conversation, asked["messageId"], str(person), "gpt-4o")
        insert([again])
        for _ in range(7):
            now += timedelta(seconds=60)
            cycle(now)
        histogram = group(now).latency  # the answer's wait is in the all-time histogram, once
        assert sum(h.buckets[-1] for h in histogram.values()) == sum(
            v
            for v in oracle_usage(collections, now, token_source)[
                "librechat_response_time_seconds_count"
            ].values()
        )
        # a rating of an old message: the recount shows it
        old = next(m for m in collections["messages"] if m["createdAt"] < t0 - timedelta(days=1))
        before = oracle_usage(collections, now + timedelta(seconds=60), token_source)
        rating = {"rating": "thumbsUp", "tag": "accurate_reliable"}
        db["messages"].update_one({"_id": old["_id"]}, {"$set": {"feedback": rating}})
        old["feedback"] = rating
        now += timedelta(seconds=60)
        cycle(now, before)
        group.resynced_at = -1e9  # the recount is due
        now += timedelta(seconds=60)
        cycle(now)
    finally:
        client.close()
        server.stop()


@pytest.mark.parametrize("profile", ["v0.8.8", "mixed"])
def test_a_cycle_that_reads_and_settles_everything_equals_the_oracle(profile):
    """A recount long ago leaves every document to the next cycle: it reads them all as a cycle does
    (questions and sibling replies only, for response times) and settles all but its last 5 minutes
    into the base; the cycle after it reads only those. Both equal the oracle, odd documents included."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    collections = generate(
        profile="v0.8.8" if profile == "mixed" else profile, seed=17, n_messages=500, now=now, zones=("UTC",)
    ).collections
    if profile == "mixed":
        for name, docs in malformed_corpus(now, seed=5).items():
            collections.setdefault(name, []).extend(docs)
    server = start_mongoeco(collections)
    client = pymongo.MongoClient(server.uri, tz_aware=True)
    settings = load({"MONGODB_URI": server.uri})
    try:
        group = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)
        group(now - timedelta(days=400))  # the first call recounts: almost nothing is older
        for when in (now, now + timedelta(seconds=60)):
            assert_samples_equal(
                usage_samples(settings, group, when), oracle_usage(collections, when, "auto")
            )
    finally:
        client.close()
        server.stop()
