"""Collection groups: what each background job reads from MongoDB, and how often.

`usage` keeps all-time numbers incrementally: a full recount of everything inserted before a cut-off
T0 (the *base*, redone every METRICS_RESYNC_INTERVAL) plus, every cycle, the part inserted since the
cut-off; each cycle then adds what was inserted until RECOUNT_LAG before it to the base and moves the
cut-off there, so a cycle reads minutes of writes, not the hour since the recount.
"Inserted" is insertion order, the time in the ObjectId `_id` (indexed on every collection), not
`createdAt`: a forked, duplicated or imported chat keeps its original createdAt but gets new `_id`s.
The same query also reads the 5m window, on createdAt. Edits to old documents (a rating given to an
old message, deletions, TTL expiry) therefore show after the next resync; new documents at once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import origins, values
from . import tally as t
from .balances import Balances, balances
from .engagement import WINDOWS as ROLLING
from .engagement import starts as rolling_starts
from .indexes import leading_keys
from .labels import is_agent_id
from .mongo import AnyOf, Reader, Span
from .query import Query, together
from .replymodel import ReplyModels, Versions
from .responses import (
    Decision,
    WaitHistogram,
    first_reply_times,
    histograms,
    inside,
    merge,
    relabel,
    reply_parents_query,
    reply_times,
)
from .schedules import Schedules, schedules
from .settings import Settings
from .windows import calendar_starts

RECENT = timedelta(minutes=5)
# The recount stops this long before it runs, and each cycle re-reads everything since: a document
# committed a little after its `_id` was made (the driver stamps it on the LibreChat host, whose clock
# may be behind ours) is still counted, never lost between the recount and the open part.
RECOUNT_LAG = timedelta(minutes=5)
# Agent replies and reply conversations a cycle's $facet returns at most (a $facet answers in one
# document of at most 16 MB); at this many the cycle reads them in a command of their own instead.
FACET_LIMIT = 20_000
# A user message's input (token source "messages") goes to the model of its earliest reply: one saved
# up to this long after the message settled without a reply still moves it there before the recount.
LATE_REPLY = timedelta(hours=1)


@dataclass
class Tallies:
    """Everything the usage families are computed from, for one population (all time, or the 5m window)."""

    messages: t.MessageTally
    tools: t.ToolTally | None
    transactions: t.TxTally
    inputs: Counter[str] | None  # input tokens by earliest-reply model (token source "messages" only)
    agent_spend: Counter[str] | None = None  # credits per agent id (transactions joined to agent replies)

    def __add__(self, other: Tallies) -> Tallies:
        def add(a: Any, b: Any) -> Any:
            return None if a is None or b is None else a + b

        return Tallies(
            self.messages + other.messages,
            add(self.tools, other.tools),
            self.transactions + other.transactions,
            add(self.inputs, other.inputs),
            add(self.agent_spend, other.agent_spend),
        )


@dataclass
class Usage:
    """Result of the usage group."""

    total: Tallies
    recent: Tallies
    token_source: str  # "transactions" or "messages"
    agents: dict[str, str]
    recounted_at: datetime  # when the last full recount ran: edits of old documents before it are in
    waits: list[tuple[str, float]] = field(default_factory=list)  # (model, seconds) of first replies, 5m
    latency: dict[str, WaitHistogram] = field(default_factory=dict)  # all-time first replies per model
    agent_info: dict[str, t.AgentInfo] = field(default_factory=dict)  # read with the agent map
    origins: dict[str, int] = field(default_factory=dict)  # all-time messages per origin
    calendar: dict[str, t.TxTally] = field(default_factory=dict)  # day, week, month -> their transactions
    activity: Activity | None = None  # distinct users and messages per window (with ENABLE_USER_METRICS)


class UsageGroup:
    """All-time and 5-minute message, token, rating and tool numbers."""

    name = "usage"

    def __init__(self, reader: Reader, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.reader = reader
        self.settings = settings
        self.clock = clock
        self.base: Tallies | None = None
        self.cutoff: datetime | None = None
        self.recounted_at: datetime | None = None
        self.resynced_at = 0.0
        self.agents: dict[str, str] = {}
        self.versions: Versions = {}  # agent id -> its versions (replymodel)
        # The recount's: its ledger of every agent reply. Only the input tokens of the base read it, at
        # the cut-off of the recount (token source "messages": without transactions it is empty).
        self.base_models = ReplyModels()
        # messageId -> (input tokens, insertion time) of settled user messages counted under "unknown"
        # for want of a reply: a reply read later moves them to its model (token source "messages").
        self.unanswered: dict[str, tuple[Any, datetime]] = {}
        # (conversation, question) -> its first reply, decided: the cycles' replies to it need no read
        self.decided: dict[tuple[str, str], Decision] = {}
        self.agents_at: float | None = None
        self.unresolved: set[str] = set()  # agent ids seen that the last reload did not find
        self.base_latency: dict[str, WaitHistogram] = {}
        self.agent_info: dict[str, t.AgentInfo] = {}
        self.base_origins: Counter[str] = Counter()  # automated messages of the base, per origin
        # (window starts, transactions inserted from each start until the recount's cut-off)
        self.calendar_base: tuple[dict[str, datetime], dict[str, t.TxTally]] = ({}, {})

    @property
    def tools_on(self) -> bool:
        return self.settings.enabled("tool")

    @property
    def waits_on(self) -> bool:
        return self.settings.enabled("time_window") and self.settings.enabled("model")

    @property
    def activity_on(self) -> bool:
        """The distinct-user and calendar-message families (ENABLE_USER_METRICS)."""
        return self.settings.enabled("user")

    @property
    def model_on(self) -> bool:
        """The all-time response-time histogram and agent spend (ENABLE_MODEL_METRICS)."""
        return self.settings.enabled("model")

    def _tallies(
        self, span: Span | AnyOf, marks: dict[str, Span], users_for: str | None, tx_marks: dict[str, Span]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, list[dict[str, Any]]]:
        messages = t.message_rows(self.reader, span, marks)
        tools = t.tool_rows(self.reader, span, marks, users_for) if self.tools_on else None
        transactions = t.transaction_rows(self.reader, span, {**marks, **tx_marks})
        return messages, tools, transactions

    def _inputs(
        self,
        span: Span | AnyOf,
        replies_in: AnyOf | None,
        marks: Mapping[str, Span | None],
        models: ReplyModels,
        settle: Span,
    ) -> dict[str, Counter]:
        """Input tokens per earliest-reply model of the user messages in `span`, per mark. A user
        message of `settle` without a reply yet is remembered (`unanswered`); the input of one
        settled before, whose reply is read now, moves in the base from "unknown" to that reply's."""
        replies = t.reply_models(self.reader, replies_in, models)
        rows = t.user_token_rows(self.reader, span)
        if self.base is not None and self.base.inputs is not None:
            for answered in self.unanswered.keys() & replies.keys():
                tokens, _ = self.unanswered.pop(answered)
                for model, by in (("unknown", -tokens), (replies[answered], tokens)):
                    self.base.inputs[model] = values.add(self.base.inputs[model], by)
        waiting: dict[str, tuple[Any, datetime]] = {}  # the same each time a failed cycle is run again
        for row in rows:
            message_id = values.text(row.get("messageId"))
            if message_id is None or message_id in replies or not settle.holds(row):
                continue
            if values.number(row.get("tokenCount")) is not None:
                earlier, _ = waiting.get(message_id, (0, None))
                waiting[message_id] = (values.add(earlier, row["tokenCount"]), row["_id"].generation_time)
        self.unanswered |= waiting
        return {name: t.fold_inputs(rows, replies, within) for name, within in marks.items()}

    def resync(self, now: datetime) -> None:
        """Recount everything inserted before `now - RECOUNT_LAG` (and every document without an ObjectId)."""
        span = Span(None, now - RECOUNT_LAG, inserted=True)
        starts = self._starts(now)
        windows = calendar_marks(starts)
        messages, tools, transactions = self._tallies(span, {}, None, windows)
        # every agent reply's ledger model, with the agent spend (one read), and the agents read now
        spend, ledger = t.agent_spend(self.reader, span, t.agent_replies(self.reader, Span()))
        self._agents(set(), force=True)
        models = ReplyModels(ledger, self.versions, self.agents)
        base = Tallies(
            t.fold_messages(messages, None, models),
            t.fold_tools(tools, None, models) if tools is not None else None,
            t.fold_transactions(transactions),
            None,
        )
        latency = self.base_latency
        if self.model_on:
            latency = histograms(relabel(first_reply_times(self.reader, span), models))
            base.agent_spend = spend
        # Every stored run and every trigger message before the cut-off (the recount reads it all).
        base_origins = origins.automated_counts(self.reader, span, origins.automated(self.reader, span))
        # Only a whole recount replaces the last one: a base from one cut-off added to the open part
        # of another would count the documents between them twice (or never).
        self.base, self.base_latency, self.base_origins = base, latency, base_origins
        self.base_models = models
        self.calendar_base = (starts, {name: t.fold_transactions(transactions, name) for name in windows})
        self.cutoff, self.recounted_at = now - RECOUNT_LAG, now
        self.resynced_at = self.clock()

    def __call__(self, now: datetime) -> Usage:
        self.reader = self.reader.at(now)  # what has expired at `now` is hidden (docs: "Expired")
        if self.base is None or self.clock() - self.resynced_at >= self.settings.metrics_resync_interval:
            self.resync(now)
        assert self.base is not None and self.cutoff is not None and self.recounted_at is not None
        # Inserted since the cut-off: the part before `settled` (RECOUNT_LAG ago) is folded into the
        # base at the end of the cycle, which then moves the cut-off there; the rest is re-read.
        settled = max(self.cutoff, now - RECOUNT_LAG)
        opened, recent_span = Span(self.cutoff, inserted=True), Span(now - RECENT)
        settle = Span(self.cutoff, settled, inserted=True)
        cycle = AnyOf((opened, recent_span))
        marks = {"open": opened, "settle": settle, "recent": recent_span}
        # Distinct users and messages per window (one span from the earliest window start).
        windows = activity_windows(now, self.settings.timezone) if self.activity_on else {}
        # What is automated among the messages since the cut-off, of the 5m window or of the activity
        # windows (docs: "Origin"): one read serves both.
        auto = origins.automated(self.reader, Span(min([self.cutoff, now - RECENT, *windows.values()])))
        read = self._cycle_read(cycle, marks, auto, activity_reads(windows, auto, self.model_on))
        messages, tools = read["messages"], read.get("tools")
        starts = self._starts(now)
        replies = t.reply_map(read["agent_replies"])
        if len(read["agent_replies"]) >= FACET_LIMIT:  # more than one document holds: read them apart
            replies = t.agent_replies(self.reader, self._replies_span())
        tx_marks, spent = {**marks, **calendar_marks(starts)}, {"open": opened, "settle": settle}
        transactions, spend_rows = self._transaction_read(cycle, tx_marks, replies, spent)
        ledger = t.reply_ledger(spend_rows, replies)

        def part(mark: str, models: ReplyModels) -> Tallies:
            return Tallies(
                t.fold_messages(messages, mark, models),
                t.fold_tools(tools, mark, models) if tools is not None else None,
                t.fold_transactions(transactions, mark),
                None,
            )

        self._agents(set())  # the agents' versions and models, when due
        models = ReplyModels(ledger, self.versions, self.agents)
        total, recent = self.base + part("open", models), part("recent", models)
        if self._agents(agent_ids(total)):  # an agent the map lacked: read again, label again
            models = ReplyModels(ledger, self.versions, self.agents)
            total, recent = self.base + part("open", models), part("recent", models)
        settling = part("settle", models)
        if tools is not None:
            settling.tools = t.ToolTally(settling.tools.calls if settling.tools else Counter())
        if self.model_on:
            spend = t.fold_spend(spend_rows, replies, "open")
            total.agent_spend = (self.base.agent_spend or Counter()) + spend
            settling.agent_spend = t.fold_spend(spend_rows, replies, "settle", counted=False)
        source = self._token_source(total)
        if source == "messages":
            if self.base.inputs is None:  # unanswered of the LATE_REPLY before the cut-off: remembered
                base = Span(None, self.cutoff, inserted=True)
                late = Span(self.cutoff - LATE_REPLY, self.cutoff, inserted=True)
                self.unanswered = {}
                self.base.inputs = self._inputs(base, None, {"all": None}, self.base_models, late)["all"]
            inputs = self._inputs(cycle, cycle, marks, models, settle)
            self.unanswered = {k: v for k, v in self.unanswered.items() if v[1] >= now - LATE_REPLY}
            total.inputs = self.base.inputs + inputs["open"]
            recent.inputs = inputs["recent"]
            settling.inputs = inputs["settle"]
        # One read of the first replies inserted since the cut-off or created in the 5m window serves
        # both the all-time histogram (base + those inserted since the cut-off) and the 5m percentiles.
        timed = []
        if "replies" in read:
            pairs = read["replies"]
            if len(pairs) >= FACET_LIMIT:  # more than one document holds: read them apart
                pairs = reply_parents_query().run(self.reader, cycle.match())
            timed = relabel(reply_times(self.reader, pairs, cycle, self.decided), models)
        waits = [(model, seconds) for model, seconds, reply in timed if inside(recent_span, reply)]
        latency = merge(self.base_latency, histograms(timed, opened)) if self.model_on else {}
        usage = Usage(total, recent, source, self.agents, self.recounted_at, waits, latency, self.agent_info)
        automated_docs = origins.automated_docs(self.reader, opened, auto)
        automated = self.base_origins + Counter(auto.origin(doc) for doc in automated_docs)
        usage.origins = origins.by_origin(sum(total.messages.count.values()), automated)
        if starts:
            usage.calendar = self._calendar(starts, transactions)
        if windows:
            usage.activity = activity_of(read)
        # Fold what was inserted before `settled` into the base (no cycle reads it again before the
        # recount) and move the cut-off there: the next cycle reads only what came since.
        self.base = self.base + settling
        if self.model_on:
            self.base_latency = merge(self.base_latency, histograms(timed, settle))
        self.base_origins += Counter(auto.origin(doc) for doc in automated_docs if settle.holds(doc))
        self._settle_calendar(starts, transactions)
        self.cutoff = settled
        return usage

    def _starts(self, now: datetime) -> dict[str, datetime]:
        """Start of the current day, week and month in TIMEZONE (none without the token families)."""
        return calendar_starts(now, self.settings.timezone) if self.settings.enabled("token") else {}

    def _calendar(self, starts: dict[str, datetime], rows: list[dict[str, Any]]) -> dict[str, t.TxTally]:
        """The transactions of the current day, ISO week and month, one tally each (windowed by their
        ObjectId time): the recount's part before its cut-off plus the cycle's rows inserted since.
        When a window has begun since the recount, its part before the cut-off is read once more."""
        assert self.cutoff is not None
        base_starts, base = self.calendar_base
        if base_starts != starts:
            windows = calendar_marks(starts)
            span = Span(min(starts.values()), self.cutoff, inserted=True)
            before = t.transaction_rows(self.reader, span, windows)
            base = {name: t.fold_transactions(before, name) for name in windows}
            self.calendar_base = (starts, base)
        opened = [row for row in rows if row["_id"].get("at_open")]
        return {name: base[name] + t.fold_transactions(opened, name) for name in starts}

    def _settle_calendar(self, starts: dict[str, datetime], rows: list[dict[str, Any]]) -> None:
        """Add the transactions of the settled part (`at_settle`) to each calendar window's base."""
        base_starts, base = self.calendar_base
        if starts and base_starts == starts:
            settled = [row for row in rows if row["_id"].get("at_settle")]
            self.calendar_base = (starts, {n: base[n] + t.fold_transactions(settled, n) for n in starts})

    def _replies_span(self) -> Span:
        # A reply is saved when its generation ends, after its transactions: the replies of the
        # transactions since the cut-off are among those created since a little before it.
        assert self.cutoff is not None
        return Span(self.cutoff - RECOUNT_LAG, inserted=True)

    def _cycle_read(
        self,
        cycle: AnyOf,
        marks: dict[str, Span],
        auto: origins.Automated,
        activity: tuple[Span, dict[str, Query[Any]]] | None,
    ) -> dict[str, Any]:
        """One command for every messages read of a cycle: queries over the documents inserted since a
        little before the cut-off or created in the 5m window, and the `activity` reads over theirs,
        each keeping its own span. Tool users are those of person messages (`auto`)."""
        own = cycle.match()
        reads: dict[str, Query[Any]] = {"messages": t.messages_query(marks).within(own)}
        if self.tools_on:
            reads["tools"] = t.tools_query(marks, "recent", auto.person_expr()).within(own)
        # their transactions name their models (and are agent spend)
        reads["agent_replies"] = t.agent_replies_query(FACET_LIMIT).within(self._replies_span().match())
        if self.waits_on or self.model_on:
            reads["replies"] = reply_parents_query(FACET_LIMIT).within(own)
        spans: tuple[Span, ...] = (self._replies_span(), *cycle.spans[1:])
        if activity is not None:
            spans, reads = (*spans, activity[0]), {**reads, **activity[1]}
        return together(self.reader, AnyOf(spans).match(), reads)

    def _transaction_read(
        self, cycle: AnyOf, marks: dict[str, Span], replies: dict[str, list[str]], spent: dict[str, Span]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One command for the cycle's transaction tally (`marks`) and, with `replies`, their spend
        rows: the replies' transactions since the cut-off are spend, and all since a little before it
        name the model of each reply (a reply is saved after its transactions)."""
        wide = self._replies_span()  # holds the cycle's spans (on `_id`)
        reads: dict[str, Query[Any]] = {"tally": t.transactions_query(cycle, marks, FACET_LIMIT)}
        if replies:
            reads["spend"] = t.spend_query(wide, replies, spent, FACET_LIMIT)
        got = together(self.reader, wide.match(by_id=True), reads)
        tally, spend = got["tally"], got.get("spend", [])
        if len(tally) >= FACET_LIMIT:  # more than one document holds: read them apart
            tally = t.transaction_rows(self.reader, cycle, marks)
        if len(spend) >= FACET_LIMIT:
            spend = t.spend_rows(self.reader, wide, replies, spent)
        return tally, spend

    def _token_source(self, total: Tallies) -> str:
        chosen = self.settings.token_source
        if chosen == "auto":
            return "transactions" if sum(total.transactions.count.values()) > 0 else "messages"
        return chosen

    def _agents(self, seen: set[str], force: bool = False) -> bool:
        """Read the agent map and versions every METRICS_SLOW_INTERVAL, and at once (one read, at most
        once per cycle) when the cycle sees an agent id the map lacks that the last read did not miss
        already: an agent created and used at once gets its model's label in the same cycle. Whether
        it read."""
        due = self.agents_at is None or self.clock() - self.agents_at >= self.settings.metrics_slow_interval
        if not (force or due or seen - self.agents.keys() - self.unresolved):
            return False
        # the map, its versions, and librechat_agent_info
        self.agents, self.agent_info, self.versions = t.agents_read(self.reader)
        self.agents_at = self.clock()
        self.unresolved = seen - self.agents.keys()
        return True


def calendar_marks(starts: dict[str, datetime]) -> dict[str, Span]:
    """Marks on insertion order (`_id`) from each calendar window's start."""
    return {name: Span(lo, inserted=True) for name, lo in starts.items()}


def agent_ids(tallies: Tallies) -> set[str]:
    """The agent ids (`agent_…` model labels) among the documents tallied.

    Tool calls, first replies and reply models come from the same messages, so these cover them."""
    models = [key.model for key in tallies.messages.count] + [key.model for key in tallies.transactions.count]
    return {model for model in models if is_agent_id(model)}


@dataclass
class Activity:
    """Distinct users per window (5m, day, week, month, 1d, 7d, 30d: activity_windows) and distinct
    conversations in the 5m window."""

    users: dict[str, int]
    conversations_5m: int
    agent_users: dict[str, Counter[str]] = field(default_factory=dict)  # window -> agent id -> users
    messages: dict[str, int] = field(default_factory=dict)  # day, week, month -> messages created in it


def activity_windows(now: datetime, zone: str) -> dict[str, datetime]:
    """The starts of the activity windows: the 5m window, the current day, week and month in `zone`,
    and the rolling 24 hours, 7 and 30 days (engagement.WINDOWS)."""
    return {"recent": now - RECENT, **calendar_starts(now, zone), **rolling_starts(now)}


def activity_reads(
    windows: dict[str, datetime], auto: origins.Automated, agents: bool
) -> tuple[Span, dict[str, Query[Any]]] | None:
    """The span from the earliest window start and the reads of the activity numbers over it, for a
    cycle's one command (None without windows). Users are those of person messages (`auto`)."""
    if not windows:
        return None
    span = Span(min(windows.values()))
    people = {"$and": [span.match(), auto.person()]}
    fixed = {name: when for name, when in windows.items() if name not in ROLLING}  # 5m, day, week, month
    reads: dict[str, Query[Any]] = {
        "active_users": t.distinct_query("messages", "user", windows).within(people),
        "active_conversations": t.distinct_query("messages", "conversationId", {}).within(
            Span(windows["recent"]).match()
        ),
        "calendar_messages": t.count_query(
            "messages", {name: when for name, when in fixed.items() if name != "recent"}
        ).within(span.match()),
    }
    if agents:
        reads["active_agents"] = t.agent_users_query(fixed).within(people)
    return span, reads


def activity_of(read: dict[str, Any]) -> Activity:
    """The Activity of a cycle's read (activity_reads)."""
    users, conversations = read["active_users"], read["active_conversations"]
    return Activity(users, conversations["all"], read.get("active_agents", {}), read["calendar_messages"])


def collect_inventory(reader: Reader, settings: Settings, now: datetime) -> dict[str, int]:
    """Documents in the collections that are only counted (from collection metadata: cheap; less the
    conversations hidden at `now`)."""
    return {name: reader.at(now).count(name) for name in ("conversations", "users", "files")}


def collect_recent_ratings(reader: Reader, settings: Settings, now: datetime) -> Counter[str] | None:
    """Thumbs up/down of the messages changed in the last 5 minutes, read on the `messages.updatedAt`
    index; without that index (stock LibreChat) only when RATINGS_5M_SCAN allows a scan of messages,
    else None (no families). Whether the index exists is asked each run (one listIndexes)."""
    if not settings.ratings_5m_scan and "updatedAt" not in leading_keys(reader, "messages"):
        return None
    return t.recent_ratings(reader.at(now), now - RECENT)


def collect_balances(reader: Reader, settings: Settings, now: datetime) -> Balances | None:
    """Outstanding and reserved credits, users at or below zero and auto-refill users of LibreChat's
    balances, from each user's effective document."""
    return balances(reader, now)


def collect_schedules(reader: Reader, settings: Settings, now: datetime) -> Schedules:
    """Schedules per state, stored runs per status, durations and MCP statuses of LibreChat's runs."""
    return schedules(reader, now)
