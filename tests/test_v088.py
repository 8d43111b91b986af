"""LibreChat v0.8.8 shapes read by the exporter's jobs against mongoeco, each equal to the oracle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from prometheus_client.utils import floatToGoString

from librechat_metrics.app import build_jobs
from librechat_metrics.families.balances import FAMILIES as BALANCE_FAMILIES
from librechat_metrics.families.messages import FAMILIES as MESSAGE_FAMILIES
from librechat_metrics.families.schedules import FAMILIES as SCHEDULE_FAMILIES
from librechat_metrics.families.tools import FAMILIES as TOOL_FAMILIES
from librechat_metrics.groups import (
    UsageGroup,
    collect_balances,
    collect_inventory,
    collect_schedules,
)
from librechat_metrics.history import compute
from librechat_metrics.indexes import MissingIndexes
from librechat_metrics.mongo import Reader
from librechat_metrics.report import build
from librechat_metrics.settings import Settings, load
from tests.oracle import exporter_samples, report_numbers

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
        result = collect_balances(Reader(client["LibreChat"], 10_000), Settings(), NOW)
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


# --- schedules -------------------------------------------------------------------------------------


def run(serial: int, status: object, millis: object = None, **extra: object) -> dict:
    doc = {
        "_id": oid(-serial, serial),
        "scheduleId": f"s{serial % 3}",
        "user": PEOPLE[serial % 5],
        "scheduledFor": at(-serial),
        "firedAt": at(-serial),
        "status": status,
        "createdAt": at(-serial),
        "updatedAt": at(-serial),
    }
    if millis is not None:
        doc["durationMs"] = millis
    return doc | extra


MCP = [
    {"server": "github", "status": "mcp_reauth_required"},
    {"server": "jira", "status": "mcp_reauth_required"},  # the same status twice: the run counts once
    {"server": "pg", "status": "mcp_unavailable"},
    {"server": "x", "status": ""},  # no status: unknown
    "odd",
]
RUNS = [
    run(1, "success", 800),
    run(2, "success", 2_500),  # exactly on a bound: in it
    run(3, "success", 61_000),
    run(4, "error", 4_000_000, error="boom", mcp=MCP),  # above every bound
    run(5, "error", 12_000, mcp=[{"server": "pg", "status": "ready"}]),
    run(6, "error", mcp=[]),  # no duration, no MCP entry
    run(7, "interrupted", 30_000),
    run(8, "started"),
    run(9, "requires_action"),
    run(10, "skipped_overlap"),
    run(11, "skipped_balance"),
    run(12, "success", -5),  # invalid durations are not observed
    run(13, "success", float("nan")),
    run(14, "success", "900"),
    run(15, "success", True),
    run(16, "success", Int64(1_000)),
    run(17, "success", Decimal128("1500")),
    run(18, "started", 5_000),  # not finished: no duration
    run(19, "weird", 5_000),  # not a status LibreChat writes
    run(20, None),
]


def schedule(serial: int, **fields: object) -> dict:
    return {"_id": oid(-1000, serial), "id": f"s{serial}", "user": PEOPLE[serial % 5], "name": "daily",
            "agent_id": "agent_x", "timezone": "UTC", "enabled": True, **fields}  # fmt: skip


SCHEDULES = [
    schedule(1),
    schedule(2),
    schedule(3, enabled=False, disabledReason="too_many_failures"),
    schedule(4, enabled=False, disabledReason="too_many_failures"),
    schedule(5, enabled=False, disabledReason="insufficient_balance"),
    schedule(6, enabled=False),
    schedule(7, enabled=False, disabledReason=""),
    schedule(8, enabled="yes"),  # not the boolean true
    schedule(9, enabled=False, deleting=True),  # being deleted: hidden
    schedule(10, erased=True, enabled=False),  # tombstone
    schedule(11, enabled=True, disabledReason="agent_deleted"),  # enabled wins
]


def flatten(family, samples: dict) -> dict[str, dict]:
    """A family's value as oracle samples: {sample name: {sorted (label, value) pairs: v}}."""
    if family.kind != "histogram":
        return {
            family.name: {tuple(sorted(zip(family.labels, k, strict=True))): v for k, v in samples.items()}
        }
    out: dict[str, dict] = {f"{family.name}_{part}": {} for part in ("bucket", "sum", "count")}
    for labels, histogram in samples.items():
        pairs = tuple(zip(family.labels, labels, strict=True))
        bounds = [*(floatToGoString(b) for b in histogram.bounds), "+Inf"]
        for le, n in zip(bounds, histogram.buckets, strict=True):
            out[f"{family.name}_bucket"][tuple(sorted((*pairs, ("le", le))))] = float(n)
        out[f"{family.name}_sum"][tuple(sorted(pairs))] = histogram.total
        out[f"{family.name}_count"][tuple(sorted(pairs))] = float(histogram.buckets[-1])
    return out


def test_schedules_and_runs_equal_the_oracle(mongoeco):
    data = {"schedules": SCHEDULES, "scheduleruns": RUNS}
    server = mongoeco(data)
    with server.client() as client:
        result = collect_schedules(Reader(client["LibreChat"], 10_000), Settings(), NOW)
    got: dict[str, dict] = {}
    for family in SCHEDULE_FAMILIES:
        got |= flatten(family, family.value(result))
    want = exporter_samples(data, NOW)
    for name, samples in got.items():
        assert samples == pytest.approx(want[name]), name
    assert got["librechat_schedules"] == {
        (("state", "enabled"),): 3.0,
        (("state", "too_many_failures"),): 2.0,
        (("state", "insufficient_balance"),): 1.0,
        (("state", "disabled"),): 3.0,
    }  # and by hand


def test_the_schedules_job_is_registered_with_its_toggle():
    on, off = load({}), load({"ENABLE_SCHEDULE_METRICS": "false"})
    names = {job.name for job in build_jobs(Reader(None, 1), on, MissingIndexes(Reader(None, 1)))}
    assert "schedules" in names
    names = {job.name for job in build_jobs(Reader(None, 1), off, MissingIndexes(Reader(None, 1)))}
    assert "schedules" not in names


# --- expired documents -----------------------------------------------------------------------------

EXPIRIES = [
    ("missing", ...),
    ("null", None),
    ("at now", NOW),  # passed at the instant itself: hidden
    ("1 ms after now", NOW + timedelta(milliseconds=1)),
    ("a day ago", NOW - timedelta(days=1)),
    ("a string", "2099-01-01"),  # LibreChat's query matches no string: hidden
    ("an array", [NOW + timedelta(days=1)]),  # no date: hidden
]
VISIBLE = {"missing", "null", "1 ms after now"}


def expiring(name: str, value: object, serial: int) -> tuple[dict, dict]:
    """A conversation and its one user message, both with this expiredAt, written 2 minutes ago."""
    when = at(-2)
    convo = {"_id": oid(-2, serial), "conversationId": f"c{serial}", "user": "u", "createdAt": when}
    message = {"_id": oid(-2, 100 + serial), "messageId": f"m{serial}", "conversationId": f"c{serial}",
               "user": f"u{serial}", "isCreatedByUser": True, "createdAt": when}  # fmt: skip
    if value is not ...:
        convo["expiredAt"] = message["expiredAt"] = value
    return convo, message


def test_expired_messages_and_conversations_are_not_counted(mongoeco):
    pairs = [expiring(name, value, i) for i, (name, value) in enumerate(EXPIRIES)]
    data = {"conversations": [c for c, _ in pairs], "messages": [m for _, m in pairs]}
    server = mongoeco(data)
    settings = load({"MONGODB_URI": server.uri})
    with server.client() as client:
        reader = Reader.from_settings(client, settings)
        usage = UsageGroup(reader, settings, clock=lambda: 0.0)(NOW)
        inventory = collect_inventory(reader, settings, NOW)
        activity = usage.activity
    want = exporter_samples(data, NOW)
    assert want["librechat_messages_total"] == {(): float(len(VISIBLE))}  # by hand: 3 of 7
    assert sum(usage.total.messages.count.values()) == len(VISIBLE)
    assert sum(usage.recent.messages.count.values()) == len(VISIBLE)
    assert inventory["conversations"] == want["librechat_conversations_total"][()] == len(VISIBLE)
    assert activity is not None
    assert activity.users["recent"] == want["librechat_active_users"][()] == len(VISIBLE)


# --- one model per reply ---------------------------------------------------------------------------

T0, T1 = at(-600), at(-300)  # the agent's two versions: gpt-a from T0, gpt-b from T1 (its model now)
AGENT = {"_id": oid(-700, 1), "id": "agent_m", "name": "M", "provider": "openAI", "model": "gpt-b",
         "versions": [{"model": "gpt-a", "updatedAt": T0}, {"model": "gpt-b", "updatedAt": T1},
                      {"model": "", "updatedAt": at(-200)}, "odd", {"model": "gpt-z"}]}  # fmt: skip


def reply(serial: int, when: datetime, model: str = "agent_m", **extra: object) -> dict:
    return {"_id": oid(-1, 200 + serial), "messageId": f"r{serial}", "conversationId": f"k{serial}",
            "parentMessageId": f"q{serial}", "user": "u", "isCreatedByUser": False, "sender": "M",
            "model": model, "endpoint": "agents", "createdAt": when, **extra}  # fmt: skip


def tx(serial: int, message_id: str, model: object, amount: int) -> dict:
    return {"_id": oid(-2, 300 + serial), "user": PEOPLE[0], "tokenType": "completion", "model": model,
            "messageId": message_id, "rawAmount": -amount, "tokenValue": -amount * 2.0}  # fmt: skip


REPLIES = [
    reply(1, T1 - timedelta(milliseconds=1)),  # just before the change: gpt-a
    reply(2, T1),  # at the change: gpt-b
    reply(3, T0 - timedelta(minutes=1)),  # before every version: the current model, gpt-b
    reply(4, T0),  # its transactions name claude-x (most tokens), whatever the version says
    reply(5, T0),  # a tie between m-b and m-a: m-a
    reply(6, T0, model="agent_gone"),  # a deleted agent: its id
    reply(7, T1 - timedelta(seconds=1), error=True),  # an error reply of the old version: gpt-a
]
LEDGER = [tx(1, "r4", "claude-x", 100), tx(2, "r4", "gpt-c", 50), tx(3, "r5", "m-b", 10),
          tx(4, "r5", "m-a", 10), tx(5, "r1", "", 99), tx(6, "r2", None, 99)]  # fmt: skip


def test_every_family_labels_a_reply_with_the_model_that_produced_it(mongoeco):
    data = {"agents": [AGENT], "messages": REPLIES, "transactions": LEDGER}
    server = mongoeco(data)
    settings = load({"MONGODB_URI": server.uri})
    with server.client() as client:
        usage = UsageGroup(Reader.from_settings(client, settings), settings, clock=lambda: 0.0)(NOW)
    want = exporter_samples(data, NOW)
    by_hand = {"gpt-a": 2.0, "gpt-b": 2.0, "claude-x": 1.0, "m-a": 1.0, "agent_gone": 1.0}
    assert oracle_by_labels(want["librechat_messages_per_model_total"]) == {
        (m,): n for m, n in by_hand.items()
    }
    for family in MESSAGE_FAMILIES:
        if family.name in want and "model" in family.labels:
            assert family.value(usage) == oracle_by_labels(want[family.name]), family.name
    assert oracle_by_labels(want["librechat_errors_per_model_total"]) == {("gpt-a",): 1.0}


# --- chats per agent -------------------------------------------------------------------------------


def chat(serial: int, when: datetime, **fields: object) -> dict:
    return {"_id": oid(-3, 400 + serial), "conversationId": f"chat{serial}", "user": "u", "createdAt": when,
            **fields}  # fmt: skip


CHATS = [
    chat(1, at(-60), initial_agent_id="agent_a", agent_id="agent_b"),  # switched: the agent it started with
    chat(2, at(-60), agent_id="agent_b"),  # before initial_agent_id: agent_id
    chat(3, at(-60), initial_agent_id="", agent_id="agent_a"),
    chat(4, at(-60), initial_agent_id=None, agent_id="openAI__gpt-4o___GPT-4o"),  # no agent
    chat(5, at(-60), initial_agent_id=["agent_a"], agent_id="agent_b"),  # an array is no id
    chat(6, at(-60 * 24 * 3), initial_agent_id="agent_a"),  # outside the report's day
]


def test_report_counts_chats_per_agent_they_started_with(mongoeco):
    server = mongoeco({"conversations": CHATS})
    with server.client() as client:
        src = compute.Source(Reader(client["LibreChat"], 10_000), "UTC", "transactions", {})
        report = build.build(src, NOW.date(), NOW.date(), now=NOW)
    got = {row["agent_id"]: row["conversations"] for row in report["agents"]}
    want = report_numbers({"conversations": CHATS}, NOW.date(), NOW.date(), "UTC", now=NOW)["agents"]
    assert got == {agent: row["conversations"] for agent, row in want.items()} == {"agent_a": 2, "agent_b": 2}
