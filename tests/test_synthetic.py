"""The synthetic LibreChat generator, its malformed corpus, the dump file and the mongoeco launcher."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from librechat_metrics.synthetic import COLLECTIONS, PROFILES, generate, malformed_corpus
from librechat_metrics.synthetic.dump import read_dump, write_dump
from librechat_metrics.synthetic.malformed import (
    AGENT_ODDITIES,
    BALANCE_ODDITIES,
    FILE_ODDITIES,
    MESSAGE_ODDITIES,
    TRANSACTION_ODDITIES,
    USER_ODDITIES,
)
from librechat_metrics.synthetic.profiles import NO_PARENT, THUMBS_DOWN_TAGS, THUMBS_UP_TAGS
from tests.oracle import RUN_STATUSES, tool_call_failed
from tests.support.mongo import start_mongoeco

NOW = datetime(2026, 3, 30, 0, 20, 7, 250000, tzinfo=UTC)  # Monday, just after midnight in Berlin (CEST)
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NUMERIC = {
    "messages": ("tokenCount",),
    "transactions": ("rawAmount", "rate", "tokenValue", "inputTokens", "writeTokens", "readTokens"),
    "files": ("bytes", "usage", "width", "height"),
    "balances": ("tokenCredits", "refillIntervalValue", "refillAmount"),
}

COMMON_SHAPES = {
    "user", "conversation", "balance", "file", "user_message", "assistant_message", "error_true_json",
    "error_true_generic", "unfinished", "regeneration", "message_with_file", "file_type:image/png",
    "file_type:application/pdf", "file_type:text/plain", "tx_prompt", "tx_completion", "tx_title",
    "tx_credits", "tx_credits_admin", "boundary_message", "window_message", "incomplete",
}  # fmt: skip
CONTENT_SHAPES = {
    "error_content_part", "feedback_thumbsUp", "feedback_thumbsDown", "feedback_with_text", "feedback_null",
    "feedback_tag_object", "tool_call", "tool_call_mcp", "tool_call_no_name", "tool_call_failed",
    "message_with_tools", "temporary_conversation", "temporary_message", "agent", "agent_message",
    "agent_multi_step_turn", "think_part", "text_part", "tx_credits_autoRefill", "window_tool_message",
    "window_rating_update", "agent_model_changed", "balance_auto_refill", "recent_agent_error",
    *(f"feedback_tag:{t}" for t in THUMBS_UP_TAGS + THUMBS_DOWN_TAGS),
}  # fmt: skip
V087_SHAPES = {"tx_structured_prompt", "tx_with_message_id", "metadata_usage", "subagent_conversation"}
V088_SHAPES = {  # schedules and their runs, balances, tool-error shapes; then automation

    "balance_duplicate", "balance_reservation", "balance_all_reserved", "balance_part_reserved",
    "tool_call_failed_threw", "tool_call_failed_parts", "schedule", "schedule_run", "schedule_run_mcp",
    *(f"schedule_{state}" for state in ("enabled", "disabled", "deleting", "too_many_failures",
                                        "insufficient_balance", "mcp_reauth_required")),
    *(f"schedule_run_{status}" for status in RUN_STATUSES),
    "schedule_conversation", "schedule_person_turn", "agent_event_turn",
    "retention_conversation", "expired_conversation", "expired_message", "agent_reply_before_change",
    "initial_agent_conversation", "agent_switched_conversation",
}  # fmt: skip
REQUIRED = {
    "v0.6": COMMON_SHAPES,
    "v0.7.9": COMMON_SHAPES | CONTENT_SHAPES,
    "v0.8.7": COMMON_SHAPES | CONTENT_SHAPES | V087_SHAPES,
    "v0.8.8": COMMON_SHAPES | CONTENT_SHAPES | V087_SHAPES | V088_SHAPES,
}


def temporary(doc: dict) -> bool:
    """A temporary chat's document: an expiredAt, and not a retained chat (isTemporary false)."""
    return doc.get("expiredAt") is not None and doc.get("isTemporary") is not False


@pytest.fixture(scope="module", params=PROFILES)
def ds(request):
    return generate(profile=request.param, seed=3, n_messages=1500, now=NOW, zones=ZONES, history_days=45)


def all_docs(collections):
    for name, docs in collections.items():
        for doc in docs:
            yield name, doc


def same(a, b, path="") -> None:
    """Equal values of the same types (1 != 1.0, str != ObjectId), NaN equal to NaN, recursively."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def content_parts(m: dict) -> list[dict]:
    return [p for p in m.get("content") or () if isinstance(p, dict)]


# ---- the generated documents ---------------------------------------------------------------------


def test_required_shapes_are_generated(ds):
    missing = sorted(s for s in REQUIRED[ds.profile] if ds.shapes[s] <= 0)
    assert not missing, missing
    if ds.profile == "v0.6":
        assert not set(ds.shapes) & (CONTENT_SHAPES | V087_SHAPES | V088_SHAPES)
    if ds.profile != "v0.8.8":
        assert not set(ds.shapes) & V088_SHAPES and "schedules" not in ds.collections


def test_shape_counts_match_the_documents(ds):
    c = ds.collections
    msgs, txs = c["messages"], c["transactions"]
    assistants = [m for m in msgs if m["isCreatedByUser"] is False]
    parts = [p for m in msgs for p in content_parts(m)]
    calls = [p["tool_call"] for p in parts if p["type"] == "tool_call"]
    cut = NOW - timedelta(seconds=300)
    count = Counter(
        user_message=sum(m["isCreatedByUser"] is True for m in msgs),
        assistant_message=len(assistants),
        error_true=sum(m["error"] is True for m in msgs),
        error_content_part=sum(any(p["type"] == "error" for p in content_parts(m)) for m in msgs),
        unfinished=sum(m["unfinished"] is True for m in msgs),
        incomplete=sum(m.get("finish_reason") == "incomplete" and m["unfinished"] is False for m in msgs),
        regeneration=len(assistants) - len({m["parentMessageId"] for m in assistants}),
        feedback_thumbsUp=sum((m.get("feedback") or {}).get("rating") == "thumbsUp" for m in msgs),
        feedback_thumbsDown=sum((m.get("feedback") or {}).get("rating") == "thumbsDown" for m in msgs),
        feedback_null=sum("feedback" in m and m["feedback"] is None for m in msgs),
        feedback_tag_object=sum(isinstance((m.get("feedback") or {}).get("tag"), dict) for m in msgs),
        tool_call=len(calls),
        tool_call_failed=sum(tool_call_failed({"tool_call": c}) for c in calls),
        tool_call_mcp=sum("_mcp_" in c.get("name", "") for c in calls),
        tool_call_no_name=sum("name" not in c for c in calls),
        message_with_tools=sum(any(p["type"] == "tool_call" for p in content_parts(m)) for m in msgs),
        temporary_message=sum(temporary(m) for m in msgs),
        temporary_conversation=sum(temporary(cv) for cv in c["conversations"]),
        retention_conversation=sum(cv.get("isTemporary") is False for cv in c["conversations"]),
        initial_agent_conversation=sum("initial_agent_id" in cv for cv in c["conversations"]),
        agent_switched_conversation=sum(
            "initial_agent_id" in cv and cv["initial_agent_id"] != cv["agent_id"] for cv in c["conversations"]
        ),
        expired_message=sum(m.get("expiredAt") is not None and m["expiredAt"] <= NOW for m in msgs),
        expired_conversation=sum(
            cv.get("expiredAt") is not None and cv["expiredAt"] <= NOW for cv in c["conversations"]
        ),
        subagent_conversation=sum("subagentThread" in cv for cv in c["conversations"]),
        message_with_file=sum("files" in m for m in msgs),
        tx_prompt=sum(t["tokenType"] == "prompt" for t in txs),
        tx_completion=sum(t["tokenType"] == "completion" for t in txs),
        tx_credits=sum(t["tokenType"] == "credits" for t in txs),
        tx_title=sum(t.get("context") == "title" for t in txs),
        tx_structured_prompt=sum("inputTokens" in t for t in txs),
        tx_with_message_id=sum("messageId" in t for t in txs),
        window_message=sum(m["createdAt"] >= cut for m in msgs),
        window_rating_update=sum(bool(m.get("feedback")) and m["updatedAt"] >= cut for m in msgs),
        user=len(c["users"]),
        conversation=len(c["conversations"]),
        agent=len(c["agents"]),
        balance=len(c["balances"]),
        balance_zero=sum(b["tokenCredits"] == 0 for b in c["balances"]),
        balance_overdrawn=sum(b["tokenCredits"] < 0 for b in c["balances"]),
        balance_auto_refill=sum(b.get("autoRefillEnabled") is True for b in c["balances"]),
        agent_model_changed=sum(len(a["versions"]) > 1 for a in c["agents"]),
        file=len(c["files"]),
    )
    shapes = ds.shapes.copy()
    shapes["error_true"] = shapes["error_true_json"] + shapes["error_true_generic"]
    for name, n in count.items():
        assert shapes[name] == n, name
    for mime, n in Counter(f["type"] for f in c["files"]).items():
        assert shapes[f"file_type:{mime}"] == n
    tags = [m["feedback"]["tag"] for m in msgs if m.get("feedback")]
    for key, n in Counter(t["key"] if isinstance(t, dict) else t for t in tags).items():
        assert shapes[f"feedback_tag:{key}"] == n


def test_field_names_types_and_references(ds):
    c = ds.collections
    users = {u["_id"] for u in c["users"]}
    agents = {a["id"]: a for a in c["agents"]}
    message_ids = [m["messageId"] for m in c["messages"]]
    assert len(set(message_ids)) == len(message_ids)
    for m in c["messages"]:
        assert isinstance(m["user"], str) and ObjectId(m["user"]) in users
        assert UUID4.match(m["messageId"]) and UUID4.match(m["conversationId"])
        assert m["parentMessageId"] == NO_PARENT or UUID4.match(m["parentMessageId"])
        assert ("endpoint" in m) == (ds.profile != "v0.6" and not m["error"])
        if m["isCreatedByUser"]:
            assert m["sender"] == "User" and m["model"] is None and m["text"]
        else:
            assert isinstance(m["model"], str) and m["sender"] != "User"
            if m.get("endpoint") == "agents":
                assert m["model"] in agents and agents[m["model"]]["model"]
                assert len(m["model"]) == len("agent_") + 21
            if "finish_reason" in m:
                assert m["finish_reason"] == "incomplete" and m["unfinished"] is False
        if m["error"]:
            assert "tokenCount" not in m and m["text"]
        if ds.profile == "v0.6":
            assert "content" not in m and "feedback" not in m
        elif not m["isCreatedByUser"] and not m["error"]:
            assert m["text"] == "" and m["content"]
        for part in content_parts(m):
            if part["type"] == "error":
                assert part["error"].startswith("An error occurred while processing the request: ")
                assert m["error"] is False
    for cv in c["conversations"]:
        assert isinstance(cv["user"], str) and ObjectId(cv["user"]) in users
    owners = (("transactions", "user"), ("balances", "user"), ("files", "user"), ("agents", "author"))
    for name, field in owners:
        for doc in c[name]:
            assert type(doc[field]) is ObjectId and doc[field] in users, name
    by_message = {m["messageId"]: m for m in c["messages"]}
    for tx in c["transactions"]:  # an agent reply's transactions carry the model the agent had then
        reply = by_message.get(tx.get("messageId"), {})
        if reply.get("endpoint") == "agents":
            versions = [v for v in agents[reply["model"]]["versions"] if v["updatedAt"] <= reply["createdAt"]]
            assert tx["model"] == (versions or agents[reply["model"]]["versions"])[-1]["model"]
    for agent in c["agents"]:  # versions[] in time order; the document is its latest version
        stamps = [v["updatedAt"] for v in agent["versions"]]
        assert stamps == sorted(stamps) and agent["versions"][-1]["model"] == agent["model"]
        assert all(
            v["model"] != w["model"] for v, w in zip(agent["versions"], agent["versions"][1:], strict=False)
        )
    for tx in c["transactions"]:
        if tx["tokenType"] == "credits":
            assert tx["rawAmount"] > 0 and "model" not in tx and tx["context"] in ("admin", "autoRefill")
        else:
            assert tx["rawAmount"] < 0 and isinstance(tx["model"], str)
            assert ("messageId" in tx) == (ds.profile in ("v0.8.7", "v0.8.8") and tx["context"] != "title")
        if "inputTokens" in tx:
            assert tx["rawAmount"] == tx["inputTokens"] + tx["writeTokens"] + tx["readTokens"]
            assert tx["inputTokens"] < 0 and tx["readTokens"] < 0 and tx["writeTokens"] <= 0
    for name, fields in NUMERIC.items():
        for doc in c[name]:
            for f in fields:
                if f in doc:
                    assert type(doc[f]) in (int, float) and math.isfinite(doc[f]), (name, f, doc[f])


def test_threads_and_their_order(ds):
    c = ds.collections
    by_id = {m["messageId"]: m for m in c["messages"]}
    convs = {cv["conversationId"]: cv for cv in c["conversations"]}
    firsts = {}
    for m in c["messages"]:
        cv = convs[m["conversationId"]]
        assert m["_id"] in cv["messages"] and m["user"] == cv["user"]
        if m["parentMessageId"] == NO_PARENT:
            assert m["isCreatedByUser"]
            firsts[m["conversationId"]] = m
            continue
        parent = by_id[m["parentMessageId"]]
        assert parent["createdAt"] < m["createdAt"]
        assert parent["isCreatedByUser"] != m["isCreatedByUser"]
        if not m["isCreatedByUser"]:  # a reply within seconds; a regeneration up to a minute later
            assert m["createdAt"] - parent["createdAt"] <= timedelta(seconds=105)
    assert set(firsts) == set(convs)
    for cid, cv in convs.items():
        assert cv["createdAt"] == firsts[cid]["createdAt"] and cv["updatedAt"] >= cv["createdAt"]
    agents = {a["id"]: a for a in c["agents"]}
    users = {str(u["_id"]): u for u in c["users"]}
    for m in c["messages"]:
        assert users[m["user"]]["createdAt"] < m["createdAt"]
        if m.get("endpoint") == "agents" and not m["isCreatedByUser"]:
            assert agents[m["model"]]["createdAt"] < m["createdAt"]


def test_times_ids_and_windows(ds):
    now, band = NOW, NOW - timedelta(seconds=300)
    ids = set()
    for name, doc in all_docs(ds.collections):
        assert doc["_id"] not in ids
        ids.add(doc["_id"])
        for f in ("createdAt", "updatedAt", "expiredAt", "lastRefill"):
            t = doc.get(f)
            if t is None:
                continue
            assert t.tzinfo is UTC and t.microsecond % 1000 == 0, (name, f, t)
            if f != "expiredAt":
                assert t <= now - timedelta(seconds=5), (name, f, t)
                assert abs(t - band) > timedelta(seconds=30), (name, f, t)
        if "createdAt" in doc:
            assert doc["updatedAt"] >= doc["createdAt"]
            assert doc["_id"].generation_time == doc["createdAt"].replace(microsecond=0), (name, doc["_id"])
        else:
            assert name == "balances" and doc["_id"].generation_time <= now
    msgs = ds.collections["messages"]
    recent = [m for m in msgs if m["createdAt"] >= band]
    assert len(recent) >= 10
    if ds.profile != "v0.6":
        assert sum(any(p["type"] == "tool_call" for p in content_parts(m)) for m in recent) >= 10
        assert sum(bool(m.get("feedback")) and m["updatedAt"] >= band for m in msgs) >= 10
    assert min(m["createdAt"] for m in msgs) < now - timedelta(days=40)
    for (zone, name), mark in ds.boundaries.items():
        before = [m for m in msgs if mark - timedelta(hours=1) <= m["createdAt"] < mark]
        after = [m for m in msgs if mark <= m["createdAt"] <= mark + timedelta(hours=1)]
        assert before, (zone, name)
        assert after or mark > now - timedelta(minutes=2), (zone, name)
    assert {z for z, _ in ds.boundaries} == set(ZONES)


def test_weekday_seasonality():
    ds = generate(profile="v0.8.7", seed=9, n_messages=3000, now=NOW, zones=("UTC",), history_days=56)
    days = Counter(m["createdAt"].weekday() for m in ds.collections["messages"])
    assert min(days[d] for d in range(5)) > 2 * max(days[5], days[6])


def test_deterministic(ds):
    again = generate(profile=ds.profile, seed=3, n_messages=1500, now=NOW, zones=ZONES, history_days=45)
    for name in COLLECTIONS:
        same(ds.collections[name], again.collections[name], name)
    assert ds.shapes == again.shapes
    other = generate(profile=ds.profile, seed=4, n_messages=1500, now=NOW, zones=ZONES, history_days=45)
    assert other.collections["messages"][0] != ds.collections["messages"][0]


def test_size_follows_n_messages():
    small = generate(profile="v0.7.9", seed=1, n_messages=500, now=NOW)
    big = generate(profile="v0.7.9", seed=1, n_messages=4000, now=NOW)
    assert 450 <= len(small.collections["messages"]) <= 600
    assert 3900 <= len(big.collections["messages"]) <= 4200
    assert len(big.collections["users"]) == 100
    assert len(big.collections["conversations"]) > 4 * len(small.collections["conversations"])


# ---- the malformed corpus ---------------------------------------------------------------------------

MESSAGE_CHECKS = {
    "model_int": lambda d: type(d["model"]) is int,
    "model_float": lambda d: type(d["model"]) is float,
    "model_dict": lambda d: isinstance(d["model"], dict),
    "model_list": lambda d: isinstance(d["model"], list),
    "model_long": lambda d: len(d["model"]) > 10_000,
    "model_control_chars": lambda d: "\x00" in d["model"] and "\n" in d["model"],
    "endpoint_quotes_backslashes": lambda d: '"' in d["endpoint"] and "\\" in d["endpoint"],
    "tool_name_long": lambda d: len(d["content"][0]["tool_call"]["name"]) > 10_000,
    "tokenCount_nan": lambda d: math.isnan(d["tokenCount"]),
    "tokenCount_inf": lambda d: d["tokenCount"] == math.inf,
    "tokenCount_bool": lambda d: d["tokenCount"] is True,
    "tokenCount_negative": lambda d: d["tokenCount"] < 0,
    "tokenCount_string": lambda d: isinstance(d["tokenCount"], str),
    "createdAt_missing": lambda d: "createdAt" not in d,
    "createdAt_string": lambda d: isinstance(d["createdAt"], str),
    "user_missing": lambda d: "user" not in d,
    "user_null": lambda d: d["user"] is None,
    "content_string": lambda d: isinstance(d["content"], str),
    "content_dict": lambda d: isinstance(d["content"], dict),
    "content_list_non_dict": lambda d: d["content"][0] == 1,
    "tool_call_null": lambda d: d["content"][0]["tool_call"] is None,
    "tool_output_number": lambda d: d["content"][0]["tool_call"]["output"] == 42,
    "feedback_empty": lambda d: d["feedback"] == {},
    "feedback_rating_meh": lambda d: d["feedback"]["rating"] == "meh",
    "feedback_tag_numeric": lambda d: d["feedback"]["tag"] == 7,
    "feedback_tag_dict_without_key": lambda d: "key" not in d["feedback"]["tag"],
    "isCreatedByUser_string": lambda d: isinstance(d["isCreatedByUser"], str),
}


def test_malformed_corpus_covers_every_oddity():
    corpus = malformed_corpus(NOW)
    assert sum(map(len, corpus.values())) >= 30 and len(corpus["messages"]) >= 30
    for name, kinds in (
        ("messages", MESSAGE_ODDITIES),
        ("transactions", TRANSACTION_ODDITIES),
        ("users", USER_ODDITIES),
        ("files", FILE_ODDITIES),
        ("agents", AGENT_ODDITIES),
        ("balances", BALANCE_ODDITIES),
    ):
        assert [d["oddity"] for d in corpus[name]] == list(kinds)
    msgs = {d["oddity"]: d for d in corpus["messages"]}
    for kind, check in MESSAGE_CHECKS.items():
        assert check(msgs[kind]), kind
    agents = {d["oddity"]: d for d in corpus["agents"]}
    assert "model" not in agents["model_missing"]
    assert agents["model_missing"]["id"] == msgs["model_agent_without_model"]["model"]
    ids = [d["_id"] for _, d in all_docs(corpus)]
    assert len(set(ids)) == len(ids)
    ds_ids = {d["_id"] for _, d in all_docs(generate(n_messages=300, now=NOW).collections)}
    assert not ds_ids & set(ids)
    band = NOW - timedelta(seconds=300)
    for _, doc in all_docs(corpus):
        for f in ("createdAt", "updatedAt"):
            if isinstance(doc.get(f), datetime):
                assert doc[f] <= NOW - timedelta(seconds=5) and abs(doc[f] - band) > timedelta(seconds=30)
        if isinstance(doc.get("createdAt"), datetime):
            assert doc["_id"].generation_time == doc["createdAt"].replace(microsecond=0)
    same(corpus, malformed_corpus(NOW))


# ---- dump file and wire server ---------------------------------------------------------------------


def test_dump_round_trip(tmp_path, ds):
    path = tmp_path / "d.bson"
    write_dump(path, ds.collections, db="Other")
    dump = read_dump(path)
    assert dump.db == "Other"
    same(dump.collections, ds.collections)


def read_back(server, names) -> dict[str, list[dict]]:
    with server.client() as client:
        db = client["LibreChat"]
        assert set(names) <= set(db.list_collection_names())
        return {name: list(db[name].find().sort("_id", 1)) for name in names}


def test_served_over_the_wire_equals_the_record(ds):
    server = start_mongoeco(ds.collections)
    try:
        got = read_back(server, COLLECTIONS)
        with server.client() as client:
            db = client["LibreChat"]
            assert "createdAt_1" in db.messages.index_information()
            cut = NOW - timedelta(seconds=300)
            assert db.messages.count_documents({"createdAt": {"$gte": cut}}) == ds.shapes["window_message"]
    finally:
        server.stop()
    for name in COLLECTIONS:
        assert len(got[name]) == len(ds.collections[name]), name
        same(got[name], sorted(ds.collections[name], key=lambda d: d["_id"]), name)


def test_malformed_corpus_round_trips_and_restarts(tmp_path):
    corpus = malformed_corpus(NOW, seed=5)
    path = tmp_path / "m.bson"
    write_dump(path, corpus)
    same(read_dump(path).collections, corpus)
    server = start_mongoeco(corpus)
    try:
        same(read_back(server, corpus), {k: sorted(v, key=lambda d: d["_id"]) for k, v in corpus.items()})
        port = server.port
        with server.client() as client:
            client["LibreChat"].messages.insert_one({"added": 1})
        server.restart()
        assert server.port == port
        with server.client() as client:
            assert client["LibreChat"].messages.count_documents({}) == len(corpus["messages"])
    finally:
        server.stop()
    assert server.proc is None


@pytest.mark.parametrize("days", [1, 2, 5])
def test_short_histories_generate(days):
    """bench/db_load.py makes two days of recent activity; agents' model changes must fit in them."""
    ds = generate(profile="v0.8.7", seed=1, n_messages=300, now=NOW, zones=("UTC",), history_days=days)
    assert ds.collections["messages"]
    for agent in ds.collections["agents"]:
        times = [version["updatedAt"] for version in agent.get("versions", [])]
        assert times == sorted(times) and all(t <= NOW for t in times)


def test_v088_schedules_runs_and_balances_follow_the_schema():
    ds = generate(profile="v0.8.8", seed=3, n_messages=1500, now=NOW, zones=ZONES, history_days=45)
    c = ds.collections
    users = {u["_id"] for u in c["users"]}
    schedules = {s["id"]: s for s in c["schedules"]}
    assert len(schedules) == len(c["schedules"]) == ds.shapes["schedule"]
    for s in c["schedules"]:
        assert s["user"] in users and s["cadence"]["frequency"] == "daily" and s["target"] == "new"
        assert not (
            s["enabled"] and ("disabledReason" in s or s["deleting"])
        )  # disabled by LibreChat or deleted
        assert ("nextRunAt" in s) == s["enabled"]
    # The runs of the schedules documents (synthetic/automation.py adds runs with chats of their own).
    own = [r for r in c["scheduleruns"] if r["scheduleId"] in schedules]
    pairs = [(r["scheduleId"], r["scheduledFor"]) for r in own]
    assert len(set(pairs)) == len(pairs) == ds.shapes["schedule_run"]  # unique {scheduleId, scheduledFor}
    started = Counter(r["scheduleId"] for r in own if r["status"] == "started")
    assert all(n == 1 for n in started.values())  # LibreChat's partial unique index
    for r in own:
        assert r["user"] == schedules[r["scheduleId"]]["user"]
        assert r["status"] in RUN_STATUSES
        assert ("settledAt" in r) == (r["status"] not in ("started", "requires_action"))  # the TTL field
        assert ("durationMs" in r) == (r["status"] in ("success", "error", "interrupted"))
        assert ("conversationId" in r) == (not r["status"].startswith("skipped_"))
    assert Counter(r["status"] for r in c["scheduleruns"]) == Counter(
        {s: ds.shapes[f"schedule_run_{s}"] for s in RUN_STATUSES}
    )
    per_user = Counter(b["user"] for b in c["balances"])
    assert sum(n - 1 for n in per_user.values()) == ds.shapes["balance_duplicate"] > 0
    held = [b for b in c["balances"] if "reservations" in b]
    assert len(held) == ds.shapes["balance_reservation"]
    for b in held:
        assert b["reservedCredits"] == sum(r["amount"] for r in b["reservations"])


def test_scheduled_runs_and_agent_events_are_written_as_librechat_writes_them(ds):
    """v0.8.8: a fired run names a conversation whose root prompt looks typed and whose reply is the
    agent's; a skipped run names none; a trigger message carries subagentTriggerProjection in a bound
    conversation. Older profiles have neither."""
    c = ds.collections
    schedules = {s["id"] for s in c.get("schedules", [])}
    runs = [r for r in c.get("scheduleruns", []) if r["scheduleId"] not in schedules]  # automation's
    triggers = [m for m in c["messages"] if "subagentTriggerProjection" in m]
    if ds.profile != "v0.8.8":
        assert not runs and not triggers
        return
    convs = {cv["conversationId"]: cv for cv in c["conversations"]}
    by_conv: dict[str, list[dict]] = {}
    for m in c["messages"]:
        by_conv.setdefault(m["conversationId"], []).append(m)
    statuses = {"started", "requires_action", "success", "error", "interrupted", "skipped_overlap"}
    for run in runs:
        assert run["status"] in statuses | {"skipped_balance"} and type(run["user"]) is ObjectId
        assert run["firedAt"] <= run.get("settledAt", run["firedAt"])
        if run["status"].startswith("skipped"):
            assert "conversationId" not in run
            continue
        prompt, reply = sorted(by_conv[run["conversationId"]], key=lambda m: m["createdAt"])[:2]
        assert prompt["parentMessageId"] == NO_PARENT and prompt["isCreatedByUser"] is True
        assert (
            prompt["sender"] == "User"
            and prompt["endpoint"] == "agents"
            and prompt["user"] == str(run["user"])
        )
        assert reply["parentMessageId"] == prompt["messageId"] and reply["isCreatedByUser"] is False
        assert (
            run["firedAt"] <= prompt["createdAt"] and convs[run["conversationId"]]["user"] == prompt["user"]
        )
    assert triggers
    for m in triggers:
        projection = m["subagentTriggerProjection"]
        assert projection["version"] == 1 and projection["eventType"] and projection["sourceType"]
        assert projection["occurredAt"] <= m["createdAt"] and m["isCreatedByUser"] is True
        assert "agentEventBinding" in convs[m["conversationId"]]
