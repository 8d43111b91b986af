"""No BSON value in any field read breaks a job, a scrape or the export, and valid data keeps its numbers.

The fields come from one place, `librechat_metrics.reads.FIELDS_READ`; the first test derives the
fields from every command the jobs and the export really send and checks they are exactly those.

The property test seeds mongoeco (in-process, from a dump) with a valid generator fixture once; each
example then adds, over the wire (a few dozen small documents), one odd document per (collection,
field or parent of a field) holding a value of any BSON type, runs every exporter job and the history
computation of four days, and removes them again. It asserts that every job succeeds, every enabled
family is rendered, every sample is finite, and that the valid part still equals the oracle:

- Odd documents are copies of valid-looking templates dated in 2001 (ObjectId `_id`, `createdAt`,
  `updatedAt`), with fresh ids (messageId, conversationId, agent id), so that by construction they fall
  in no window (5m, day, week, month, 1/7/30 days) and no exported day, and join no valid document.
  An odd date or ObjectId value is itself drawn before 2010. The windowed families (groups activity,
  engagement and recent_ratings, and the usage group's 5m families) and every daily history table must
  therefore equal the oracle over the valid documents alone; the inventory counts equal the oracle's
  plus the odd documents of each collection. All-time families (which the odd documents do reach)
  are checked to be present and finite: their exact values over odd data are the subject of the
  targeted tests below, which the oracle predicts one odd kind at a time.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from bson import Binary, ObjectId, Regex
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from pymongo.errors import BulkWriteError

from librechat_metrics import tally, values
from librechat_metrics.app import build_jobs
from librechat_metrics.collector import SnapshotCollector, View, enabled_families
from librechat_metrics.families import FAMILIES, FROM_ACTIVITY
from librechat_metrics.groups import Activity
from librechat_metrics.history import cli, compute, engagement
from librechat_metrics.indexes import MissingIndexes
from librechat_metrics.mongo import Reader, connect
from librechat_metrics.reads import FIELDS_READ
from librechat_metrics.report import build
from librechat_metrics.scheduler import Job, Scheduler
from librechat_metrics.settings import load
from librechat_metrics.synthetic import generate
from librechat_metrics.windows import week_start
from tests.oracle import exporter_samples, history_rows, is_visible
from tests.support.compare import GROUP_OF, assert_samples_equal
from tests.support.exporter import Exposition
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import assert_rows_equal

UTC = timezone.utc
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
START, END = date(2025, 3, 16), date(2025, 3, 19)
ERA = datetime(2001, 1, 1, tzinfo=UTC)  # odd documents are dated here: in no window and no day
ERA_END = datetime(2010, 1, 1, tzinfo=UTC)  # odd date and ObjectId values are drawn before this
MARK = "_odd_example"  # a field nothing reads: the odd documents of one example, to remove them
WINDOWED = {"engagement", "recent_ratings"}  # and the usage job's FROM_ACTIVITY families
DAILY = ("daily_users", "daily_messages", "daily_messages_by_model", "daily_tokens_by_model",
         "daily_tokens_by_user", "daily_errors_by_model", "daily_registrations", "daily_retention",
         "daily_churn", "daily_user_messages", "daily_cost_by_model", "daily_messages_by_endpoint",
         "daily_unfinished_by_model", "daily_replies_by_agent", "daily_response_time_by_model",
         "daily_spend_by_agent")  # fmt: skip
_serial = itertools.count(1)


def windowed(name: str) -> bool:
    """A family no document dated in 2001 can change."""
    return (
        GROUP_OF[name] in WINDOWED
        or name in FROM_ACTIVITY
        or name.endswith("_5m")
        or name == "librechat_active_tool_users"
    )


# --- running every job and the history computation -------------------------------------------------


@dataclass(frozen=True)
class Recording(Reader):
    """A Reader that keeps every command it sends, as scoped (tenant, visibility): (collection, kind,
    body). A count is recorded as the query that scopes it."""

    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def aggregate(self, collection: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sent.append((collection, "pipeline", self.scoped_pipeline(pipeline, collection)))
        return super().aggregate(collection, pipeline)

    def each(self, collection: str, pipeline: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        self.sent.append((collection, "pipeline", self.scoped_pipeline(pipeline, collection)))
        return super().each(collection, pipeline)

    def find(
        self, collection: str, query: dict[str, Any], projection: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.sent.append((collection, "find", (self.scoped(query, collection), projection)))
        return super().find(collection, query, projection)

    def count(self, collection: str) -> int:
        self.sent.append((collection, "find", (self.scoped({}, collection), {})))
        return super().count(collection)


@dataclass
class Run:
    states: dict[str, Any]
    metrics: list[Any]
    page: Exposition
    rows: dict[str, set[tuple]]
    reader: Recording


def run_everything(uri: str, token_source: str = "auto", first: date = START, last: date = END) -> Run:
    """Every exporter job once at NOW, the scrape, every history row of first..last and their report."""
    env = {"MONGODB_URI": uri, "TOKEN_SOURCE": token_source, "TIMEZONE": "UTC", "RATINGS_5M_SCAN": "true"}
    settings_ = load(env)
    client = connect(settings_)
    try:
        base = Reader.from_settings(client, settings_)
        reader = Recording(base.db, base.time_limit_ms, now=NOW)
        jobs = build_jobs(reader, settings_, MissingIndexes(reader))
        scheduler = Scheduler(jobs, wall=NOW.timestamp)
        for job in jobs:
            scheduler.run_once(job)
        collector = SnapshotCollector(scheduler, settings_)
        metrics = list(collector.collect())
        page = Exposition.parse(generate_latest(View(metrics)).decode())
        with values.running("export"):
            source = compute.resolve_token_source(reader, token_source)
            src = compute.Source(reader, "UTC", source, tally.agent_models(reader), user_details=True)
            rows: dict[str, set[tuple]] = {}
            day = first
            while day <= last:
                for table, got in compute.day_rows(src, day).items():
                    rows.setdefault(table, set()).update(got)
                day += timedelta(days=1)
            compute.week_row(src, week_start(first))
            compute.month_row(src, first.replace(day=1))
            engagement.weekly_retention_row(src.activity(), week_start(first) - timedelta(days=7), NOW)
            build.build(src, first, last, now=NOW)  # the report reads what the days do, and chats per agent
        return Run(scheduler.states, metrics, page, rows, reader)
    finally:
        client.close()


def assert_healthy(run: Run) -> None:
    """Every job succeeded, every enabled family is rendered, every sample is finite."""
    failed = {name: state.last_error for name, state in run.states.items() if not state.ok}
    assert not failed, failed
    rendered = {metric.name for metric in run.metrics}
    for family in enabled_families(load({})):
        name = family.name.removesuffix("_total") if family.kind == "counter" else family.name
        assert name in rendered, f"{family.name} was not rendered"
    for name, samples in run.page.samples.items():
        for labels, value in samples.items():
            assert math.isfinite(value), f"{name}{dict(labels)} = {value}"
    for table, rows in run.rows.items():
        for row in rows:
            assert all(math.isfinite(v) for v in row if isinstance(v, float)), f"{table} {row}"


def exporter_page(run: Run) -> dict:
    return {k: v for k, v in run.page.librechat().items() if k in GROUP_OF}


# --- the fields, derived from what is sent --------------------------------------------------------


def query_fields(query: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for key, value in query.items():
        if key in ("$and", "$or", "$nor"):
            for part in value:
                out |= query_fields(part)
        elif key == "$expr":
            out |= expression_fields(value)
        elif not key.startswith("$"):
            out.add(key)
    return out


def expression_fields(expr: Any) -> set[str]:
    if isinstance(expr, str):
        return {expr[1:]} if expr.startswith("$") and not expr.startswith("$$") else set()
    if isinstance(expr, dict):
        return set().union(*(expression_fields(v) for k, v in expr.items() if k != "$literal"))
    if isinstance(expr, list):
        return set().union(*(expression_fields(v) for v in expr))
    return set()


def pipeline_fields(pipeline: list[dict[str, Any]]) -> set[str]:
    """The document fields a pipeline reads, up to its first $group (later stages read its output)."""
    out: set[str] = set()
    for stage in pipeline:
        ((name, body),) = stage.items()
        if name == "$match":
            out |= query_fields(body)
        elif name == "$project":
            for key, value in body.items():
                out |= expression_fields(value) if isinstance(value, dict) else {key} if value else set()
        elif name == "$unwind":
            out |= expression_fields(body if isinstance(body, str) else body["path"])
        elif name == "$sort":
            out |= set(body)
        elif name == "$group":
            return out | expression_fields(body)
        elif name == "$facet":
            return out.union(*(pipeline_fields(part) for part in body.values()))
        elif name not in ("$limit", "$skip", "$count"):
            raise AssertionError(f"teach pipeline_fields the stage {name}")
    return out


def fields_sent(reader: Recording) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for collection, kind, body in reader.sent:
        if kind == "pipeline":
            found = pipeline_fields(body)
        else:
            query, projection = body
            found = query_fields(query) | {k for k, v in projection.items() if v}
        out.setdefault(collection, set()).update(found)
    return {name: found for name, found in out.items() if found}


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served():
    collections = generate(
        profile="v0.8.7", seed=17, n_messages=160, now=NOW, zones=("UTC",), history_days=12
    ).collections
    server = start_mongoeco(collections)
    client = server.client()
    yield collections, server, client
    client.close()
    server.stop()


def insert(client: Any, odd: dict[str, list[dict]]) -> dict[str, int]:
    """Insert the odd documents; only an odd `_id` may be refused (an array, a regex or a duplicate is
    no `_id`). Returns how many each collection took."""
    taken: dict[str, int] = {}
    for name, docs in odd.items():
        refused: list[dict] = []
        try:
            client.LibreChat[name].insert_many(docs, ordered=False)
        except BulkWriteError as err:
            refused = [docs[e["index"]] for e in err.details["writeErrors"]]
        assert all(doc.get("_odd_field") == "_id" for doc in refused), refused
        taken[name] = len(docs) - len(refused)
    return taken


def remove(client: Any) -> None:
    for name in FIELDS_READ:
        client.LibreChat[name].delete_many({MARK: 1})


def test_fields_read_are_exactly_the_fields_the_queries_name(served):
    """FIELDS_READ lists every field a job or the export sends to MongoDB (both token sources, user
    details on), and nothing else: a new read anywhere fails here until it is listed. With a group:
    without one, no user's membership key is read."""
    _, server, client = served
    insert(client, {"groups": [{"name": "team", "memberIds": [], MARK: 1}]})
    sent: dict[str, set[str]] = {}
    try:
        for source in ("transactions", "messages"):
            for name, found in fields_sent(run_everything(server.uri, source).reader).items():
                sent.setdefault(name, set()).update(found)
    finally:
        remove(client)
    assert sent == {name: set(paths) for name, paths in FIELDS_READ.items()}


# --- odd documents ----------------------------------------------------------------------------------


def oid(when: datetime) -> ObjectId:
    return ObjectId(int(when.timestamp()).to_bytes(4, "big") + next(_serial).to_bytes(8, "big"))


def templates(when: datetime, n: int) -> dict[str, list[dict]]:
    """Valid-looking documents of every collection at `when`, with ids of their own (`n`)."""
    conversation, question, answer = f"odd-c{n}", f"odd-q{n}", f"odd-a{n}"
    user = "65a0000000000000000000aa"
    common = {"createdAt": when, "updatedAt": when, "user": user, "conversationId": conversation}
    asked = {
        **common,
        "messageId": question,
        "parentMessageId": f"odd-p{n}",
        "isCreatedByUser": True,
        "sender": "User",
        "model": None,
        "endpoint": "openAI",
        "tokenCount": 12,
    }
    tool = {"type": "tool_call", "tool_call": {"name": "web_search", "output": "Error processing tool x"}}
    answered = {
        **common,
        "messageId": answer,
        "parentMessageId": question,
        "isCreatedByUser": False,
        "sender": "GPT",
        "model": f"agent_odd{n}",
        "endpoint": "agents",
        "error": False,
        "unfinished": True,
        "finish_reason": "incomplete",
        "tokenCount": 40,
        "content": [tool, {"type": "text", "text": "hi"}],
        "feedback": {"rating": "thumbsUp", "tag": "accurate"},
    }
    spent = {
        "user": ObjectId(user),
        "conversationId": conversation,
        "messageId": answer,
        "tokenType": "prompt",
        "model": "gpt-4o",
        "rawAmount": -100,
        "tokenValue": -250.0,
        "readTokens": 10,
        "writeTokens": 5,
        "createdAt": when,
    }
    return {
        "messages": [asked, answered],
        "transactions": [spent, {**spent, "tokenType": "completion"}],
        "conversations": [{"conversationId": conversation, "user": user, "createdAt": when}],
        "users": [{"email": f"odd{n}@example.org", "name": "Odd", "createdAt": when}],
        "agents": [{"id": f"agent_odd{n}", "name": "Odd", "provider": "openAI", "model": "gpt-4o"}],
        "balances": [{"user": ObjectId(user), "tokenCredits": 1000, "autoRefillEnabled": True}],
        "groups": [{"name": f"Odd {n}", "memberIds": [f"odd-member{n}", user]}],
        "schedules": [
            {"id": f"sched_odd{n}", "user": ObjectId(user), "enabled": False, "disabledReason": "x"}
        ],
        "scheduleruns": [
            {
                "scheduleId": f"sched_odd{n}",
                "user": ObjectId(user),
                "status": "error",
                "firedAt": when,
                "conversationId": f"odd-run{n}",
                "settledAt": when,
                "durationMs": 1500,
                "mcp": [{"server": "odd", "status": "mcp_unavailable"}],
                "createdAt": when,
            }
        ],
    }


def put(doc: Any, path: list[str], value: Any) -> None:
    """Set a dotted path as MongoDB reads it: through every element of an array on the way."""
    if isinstance(doc, list):
        for item in doc:
            put(item, path, value)
    elif isinstance(doc, dict):
        if len(path) == 1:
            doc[path[0]] = value
        else:
            put(doc.setdefault(path[0], {}), path[1:], value)


def targets() -> list[tuple[str, str]]:
    """(collection, path) of every field read and of every parent of one (`content`, `feedback`...)."""
    out: list[tuple[str, str]] = []
    for name, paths in FIELDS_READ.items():
        for path in paths:
            parts = path.split(".")
            for i in range(1, len(parts) + 1):
                if (name, ".".join(parts[:i])) not in out:
                    out.append((name, ".".join(parts[:i])))
    return out


TARGETS = targets()


def odd_documents(draws: list[Any]) -> dict[str, list[dict]]:
    """One document per template and target holding draws[i % len(draws)] at the target's path."""
    out: dict[str, list[dict]] = {}
    i = 0
    for name, path in TARGETS:
        n = next(_serial)
        when = ERA + timedelta(seconds=n)
        for template in templates(when, n)[name]:
            doc = copy.deepcopy(template)
            doc["_id"] = oid(when)
            put(doc, path.split("."), copy.deepcopy(draws[i % len(draws)]))
            doc[MARK], doc["_odd_field"] = 1, path
            out.setdefault(name, []).append(doc)
            i += 1
    return out


def _era_date(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


_ERA_SECONDS = int(ERA_END.timestamp())
WORDS = ["", "agent_x", "agent_", "thumbsUp", "thumbsDown", "tool_call", "error", "prompt", "completion",
         "User", "error processing tool", "unknown", "other", "ctl\x00\x01\n", "x" * 300]  # fmt: skip
DECIMALS = ["NaN", "-NaN", "Infinity", "-Infinity", "0", "-0", "1.5", "-2.5E+3", "1E+6144", "-9.9E+400",
            "1E-6176", "12345678901234567890123456789012.34"]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1.7976931348623157e308, -1e300, 1e301, 5e-324, -0.0]),
    st.sampled_from(DECIMALS).map(Decimal128),
    st.sampled_from(WORDS),
    st.text(max_size=6),
    st.integers(0, _ERA_SECONDS).map(_era_date),
    st.tuples(st.integers(0, _ERA_SECONDS), st.binary(min_size=8, max_size=8)).map(
        lambda t: ObjectId(t[0].to_bytes(4, "big") + t[1])
    ),
    st.binary(max_size=6).map(Binary),
    st.just(Binary(b"\x00" * 16, 4)),
    st.sampled_from([Regex("^agent_"), Regex("x", "i")]),
)
KEYS = st.sampled_from(["key", "type", "name", "output", "rating", "tag", "tool_call", "a"])
BSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=5,
)

ISSUE_VALUES = [  # the kinds of value the issue found breaking a job, first in every run
    Decimal128("12.5"),
    ["agent_x", "y"],
    -1e308,
    Decimal128("NaN"),
    {"key": ["a"]},
    Int64(2**62),
]


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure names its draws; shrinking would take minutes
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@example(draws=ISSUE_VALUES)
@example(draws=[["prompt"], ["thumbsUp"], ["tool_call", "error"], ["agent_x"], [False], ["User"], [5]])
@given(draws=st.lists(BSON, min_size=1, max_size=len(TARGETS)))
def test_any_bson_value_in_any_field_read(served, draws):
    valid, server, client = served
    odd = odd_documents(draws)
    try:
        taken = insert(client, odd)
        run = run_everything(server.uri)
    finally:
        remove(client)
    assert_healthy(run)
    want = copy.deepcopy(oracle_of(valid))
    # an odd conversation counts unless its odd value is an expiredAt that hides it (only _ids are refused)
    hidden = sum(not is_visible(doc, NOW) for doc in odd.get("conversations", []))
    for name, collection, gone in (
        ("librechat_conversations_total", "conversations", hidden),
        ("librechat_registered_users_total", "users", 0),
    ):
        want[name] = {(): want[name][()] + taken.get(collection, 0) - gone}
    got = exporter_page(run)
    compared = {name for name in want if windowed(name) or GROUP_OF[name] == "inventory"}
    assert_samples_equal({k: v for k, v in got.items() if k in compared}, {k: want[k] for k in compared})
    assert_rows_equal(run.rows, oracle_of(valid, history=True), DAILY)


_ORACLE: dict[bool, Any] = {}


def oracle_of(valid: dict, history: bool = False) -> Any:
    """The oracle over the valid fixture (once per module): exporter samples, or the daily rows."""
    if history not in _ORACLE:
        _ORACLE[history] = (
            history_rows(valid, START, END, "UTC", "auto", details=True, now=NOW)
            if history
            else exporter_samples(valid, NOW, "UTC", "auto")
        )
    return _ORACLE[history]


# --- the kinds of the issue, one at a time, all families equal to the oracle --------------------------


def recent(seconds: int) -> datetime:
    return (NOW - timedelta(seconds=seconds)).replace(microsecond=0)


def _odd_now(name: str, **fields: Any) -> dict[str, list[dict]]:
    """A template document of `name` dated 30 s before NOW (in every window) with `fields` set."""
    n = next(_serial)
    when = recent(30)
    docs = templates(when, n)[name]
    for doc in docs:
        doc["_id"] = oid(when)
        doc[MARK] = 1
        doc.update(fields)
    return {name: docs}


def compare_with_oracle(served: Any, odd: dict[str, list[dict]]) -> Run:
    """Run everything with `odd` added; every family and every daily row equal the oracle over all."""
    valid, server, client = served
    today = NOW.date()  # the odd documents' day
    try:
        insert(client, odd)
        run = run_everything(server.uri, "auto", today, today)
    finally:
        remove(client)
    assert_healthy(run)
    everything = {name: valid.get(name, []) + odd.get(name, []) for name in {*valid, *odd}}
    assert_samples_equal(exporter_page(run), exporter_samples(everything, NOW, "UTC", "auto"))
    want = history_rows(everything, today, today, "UTC", "auto", details=True, now=NOW)
    assert_rows_equal(run.rows, want, DAILY)
    return run


def test_decimal128_amounts_and_credits_are_numbers(served):
    """Item 1: Decimal128 rawAmount/tokenValue (MongoDB's $sum then returns Decimal128) and Decimal128
    tokenCredits failed the usage and balances jobs and the export of that day."""
    odd = _odd_now("transactions", rawAmount=Decimal128("-1234.5"), tokenValue=Decimal128("-3086.25"))
    odd |= _odd_now("balances", tokenCredits=Decimal128("5000000.5"))
    odd |= _odd_now("messages", tokenCount=Decimal128("7"))
    compare_with_oracle(served, odd)


def test_a_model_array_holding_an_agent_id_is_no_agent_id(served):
    """Item 2: a reply whose model is ["agent_x", "y"] ($regex matches arrays) failed the activity
    reads (unhashable list) and, through reply_map and agent_spend, usage."""
    odd = _odd_now("messages", model=["agent_x", "y"])
    spent = _odd_now("transactions", messageId=odd["messages"][1]["messageId"])
    before = values.skipped()
    compare_with_oracle(served, odd | spent)
    after = values.skipped()
    assert after.get(("usage", "model"), 0) > before.get(("usage", "model"), 0)


def test_arrays_holding_a_counted_value_do_not_count(served):
    """The query language matches an array holding a value: tokenType ["prompt"] took usage out
    (unhashable list in the tally key); rawAmount [5] counted a transaction the rules ignore."""
    odd = _odd_now("transactions", tokenType=["prompt"])
    odd["transactions"] += _odd_now("transactions", rawAmount=[-5, 7])["transactions"]
    compare_with_oracle(served, odd)


def test_array_flags_and_senders_follow_the_assistant_rule(served):
    """isCreatedByUser [false] is no boolean and sender ["User"] is not the string "User": the queries
    (agent replies, reply conversations, input attribution) follow the rule the counts follow."""
    odd = _odd_now("messages", isCreatedByUser=[False], sender="User")  # a user message
    odd["messages"] += _odd_now("messages", isCreatedByUser=[True], sender="GPT")["messages"]  # assistants
    odd["messages"] += _odd_now("messages", isCreatedByUser=None, sender=["User"])["messages"]
    compare_with_oracle(served, odd)


def test_a_part_whose_type_is_an_array_is_no_tool_call(served):
    odd = _odd_now("messages")
    odd["messages"][1]["content"] = [
        {"type": ["tool_call"], "tool_call": {"name": "web_search", "output": "ok"}},
        {"type": "tool_call", "tool_call": {"name": ["a", "b"], "output": ["x", "Error processing tool y"]}},
    ]
    compare_with_oracle(served, odd)


def test_an_agent_id_array_is_no_agent(served):
    """Item 3: an agents document whose id is an array ($type: "string" matches arrays of strings)
    failed usage."""
    compare_with_oracle(served, _odd_now("agents", id=["agent_x", "agent_y"]))


def test_huge_amounts_keep_every_sum_finite(served):
    """Item 4: two ledger entries of -1e308 gave librechat_spend_usd_total +Inf (and tokens, balances)."""
    odd = _odd_now("transactions", rawAmount=-1e308, tokenValue=-1e308, readTokens=1e308)
    odd["transactions"] += _odd_now("transactions", rawAmount=-1e290, tokenValue=-1e308)["transactions"]
    odd |= _odd_now("balances", tokenCredits=1e308)
    odd["balances"] += _odd_now("balances", tokenCredits=1.7976931348623157e308)["balances"]
    run = compare_with_oracle(served, odd)
    spend = run.page.samples["librechat_spend_usd_total"]
    assert spend and all(math.isfinite(v) for v in spend.values())


def test_duplicate_agent_ids_take_everything_from_the_oldest_document(served):
    """Item 12: agent_info kept the first document's model but the last one's labels; now the oldest
    document (ObjectId `_id`) of an id decides its model and its labels, whatever the read order."""
    valid, _, _ = served
    agent = next(a for a in valid["agents"] if isinstance(a.get("id"), str))
    newer = {**agent, "_id": oid(recent(10)), "model": "newer-model", "name": "Newer", MARK: 1}
    older = {**agent, "_id": oid(ERA), "model": "older-model", "name": "Older", MARK: 1}
    run = compare_with_oracle(served, {"agents": [newer, older]})  # the older one inserted last
    info = run.page.samples["librechat_agent_info"]
    mine = [dict(k) for k in info if dict(k)["agent_id"] == agent["id"]]
    assert mine == [{"agent_id": agent["id"], "model": "older-model", "name": "Older",
                     "provider": str(agent.get("provider"))}]  # fmt: skip


def test_skipped_values_are_served_per_group_and_field(served):
    odd = _odd_now("messages", model=["agent_x", "y"])
    run = compare_with_oracle(served, odd)
    skipped = run.page.samples["librechat_exporter_skipped_values_total"]
    assert skipped.get((("field", "model"), ("group", "usage")), 0) >= 1
    assert run.page.types["librechat_exporter_skipped_values_total"] == "counter"


def test_distinct_user_families_get_no_summed_other_series():
    """Item 12: with METRICS_LABEL_LIMIT, the per-agent user gauges summed the users of the agents
    left out into `other` (151 with one user in the data); a user of two agents is one user."""
    counts = {f"agent_{i:03d}": 1 for i in range(6)}
    activity = Activity({"recent": 1, "day": 1, "week": 1, "month": 1}, 1, {w: counts for w in
                        ("recent", "day", "week", "month")})  # fmt: skip
    usage = SimpleNamespace(activity=activity)  # only the activity numbers of a usage result
    users = [f for f in FAMILIES if f.name in FROM_ACTIVITY and f.labels == ("agent_id",)]
    scheduler = Scheduler([Job("usage", 60, lambda now: usage)], wall=NOW.timestamp)
    scheduler.run_once(scheduler.jobs[0])
    settings_ = load({"METRICS_LABEL_LIMIT": "3"})
    collector = SnapshotCollector(scheduler, settings_)
    metrics = {m.name: m for m in collector.families_of("usage", usage) if m.name in {f.name for f in users}}
    assert len(users) == 4
    for family in users:
        samples = metrics[family.name].samples
        assert len(samples) == 3
        assert all(s.labels["agent_id"] != "other" for s in samples), family.name
        assert all(s.value == 1 for s in samples)  # never more users than the data has


def test_a_regex_or_binary_model_is_a_label_like_any_other(served):
    """Odd label sources that are not arrays (a regex, binary, a document) become str() labels."""
    odd = _odd_now("messages", model=Regex("^agent_"), endpoint=Binary(b"\x01"))
    odd["messages"][0]["user"] = {"nested": [1]}
    compare_with_oracle(served, odd)


def test_no_document_field_name_is_dotted_wrongly():
    assert all(re.fullmatch(r"[A-Za-z_]+(\.[A-Za-z_]+)*", p) for ps in FIELDS_READ.values() for p in ps)


def test_the_export_counts_the_values_it_left_out(served, monkeypatch, caplog, capsys):
    """export_metrics.py never fails a day on an odd value, and says how many it left out per field."""
    _, server, client = served
    monkeypatch.setattr(values, "SKIPPED", Counter())  # only this run's counts
    for name in ("MONGODB_URI", "TIMEZONE", "TOKEN_SOURCE", "LIBRECHAT_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONGODB_URI", server.uri)
    day = NOW.date().isoformat()
    caplog.set_level(logging.INFO, logger="librechat_metrics")
    try:
        insert(client, _odd_now("messages", model=["agent_x", "y"]))
        code = cli.main(["--csv", "daily_spend_by_agent", day, day])
    finally:
        remove(client)
    assert code == 0
    lines = [r.getMessage() for r in caplog.records if "values left out" in r.getMessage()]
    assert len(lines) == 1 and re.search(r"\bmodel [1-9]", lines[0]), lines


def test_odd_user_details_are_null_in_the_export(served):
    """EXPORT_USER_DETAILS reads users.email and .name of the day's users: a value that is not a string
    is NULL (the oracle's rule too), never an error."""
    odd = _odd_now("messages")
    user = odd["messages"][0]["user"]
    odd["users"] = [{"_id": ObjectId(user), "email": ["a@example.org"], "name": Decimal128("1"), MARK: 1}]
    run = compare_with_oracle(served, odd)
    assert any(row[1] == user and row[-2:] == (None, None) for row in run.rows["daily_user_messages"])
