"""History rows for one day, week or month, from the exporter's own tallies (docs/semantics.md).

Every number comes from `tally` (plus the two lookups in `queries`), and every model label goes
through the exporter's rule: name_label -> agent resolution -> sanitise. Row tuples have the column
order of the SQL tables.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .. import tally
from ..groups import RECOUNT_LAG
from ..labels import is_agent_id, resolve_agent, sanitise
from ..membership import Membership, per_group, read_membership
from ..mongo import Reader, Span
from ..replymodel import ReplyModels, Versions
from ..responses import percentiles, relabel, span_reply_times
from ..schedules import FINISHED
from ..values import number, usd
from ..windows import day_span, next_month
from . import queries
from .engagement import Activity, active_users, engagement_rows, user_details, user_messages

Rows = dict[str, list[tuple[Any, ...]]]
TEXT_LIMIT = 255  # VARCHAR(255) of the model and user columns


@dataclass(frozen=True)
class Source:
    """What every computation needs: the reader, the zone, the resolved token source, the agents."""

    reader: Reader
    zone: str
    token_source: str  # "transactions" or "messages", already resolved from "auto"
    agents: dict[str, str] = field(default_factory=dict)
    user_details: bool = False  # EXPORT_USER_DETAILS: e-mail and name in daily_user_messages
    members: dict[str, Membership] = field(default_factory=dict)  # the groups, read once (membership())
    versions: dict[str, Versions] = field(default_factory=dict)  # the agents' versions, read once
    activities: dict[str, Activity] = field(default_factory=dict)  # per-day users, read once (activity())

    def activity(self) -> Activity:
        """The per-day users and signups the windowed rows are computed from, kept for the run."""
        if "now" not in self.activities:
            self.activities["now"] = Activity(self.reader, self.zone)
        return self.activities["now"]

    def membership(self) -> Membership:
        """The groups and their members (current membership: LibreChat keeps no history of it)."""
        if "now" not in self.members:
            self.members["now"] = read_membership(self.reader)
        return self.members["now"]

    def model(self, raw_label: str | None) -> str:
        """The exporter's model label for a name_label()-ed value."""
        return sanitise(resolve_agent(raw_label or "", self.agents))

    def label(self, key: tally.MessageKey | tally.ToolKey) -> str:
        """The model label of a message's key: the model that produced it, when known."""
        return self.model(key.made_by or key.model)

    def reply_models(self, reader: Reader, span: Span) -> tuple[ReplyModels, Counter[str]]:
        """The models of the agent replies of `span` (a whole day or days; docs: "Labels", model): the
        ledger of the span's transactions and of the RECOUNT_LAG before it, the agents' versions (read
        once) and current models; and the agent spend of the span's transactions, joined to the agent
        replies of replies_span(span)."""
        if "now" not in self.versions:
            self.versions["now"] = tally.agents_read(reader)[2]
        assert span.lo is not None
        wider = Span(span.lo - RECOUNT_LAG, span.hi)  # a reply is saved after its transactions
        replies = tally.agent_replies(reader, replies_span(span))
        spend, ledger = tally.agent_spend(reader, wider, replies, span, one_pass=True)
        return ReplyModels(ledger, self.versions["now"], self.agents), spend


def replies_span(span: Span) -> Span:
    """The agent replies the transactions of `span` are joined to: those created from RECOUNT_LAG
    before it to RECOUNT_LAG after it (a reply is saved after its transactions, so one finished up to
    RECOUNT_LAG after the span still takes the span's spend; the lag before, as the exporter's cycle,
    for a clock a little behind). Bounded: a day reads its own replies, whatever the history behind it."""
    assert span.lo is not None and span.hi is not None
    return Span(span.lo - RECOUNT_LAG, span.hi + RECOUNT_LAG)


def resolve_token_source(reader: Reader, setting: str) -> str:
    """TOKEN_SOURCE with `auto` decided once over the whole transactions collection."""
    if setting != "auto":
        return setting
    return "transactions" if queries.has_counted_transaction(reader) else "messages"


def storable(text: str) -> str:
    """A key that fits the VARCHAR(255) columns: NUL (rejected by PostgreSQL) becomes a space."""
    return text.replace("\x00", " ")[:TEXT_LIMIT]


# The daily tables computed together (from one message tally, one transaction tally, one engagement read)
ENGAGEMENT = ("daily_registrations", "daily_retention", "daily_churn")
FROM_MESSAGES = ("daily_messages", "daily_messages_by_model", "daily_errors_by_model")
FROM_TRANSACTIONS = (
    "daily_tokens_by_model",
    "daily_tokens_by_user",
    "daily_user_messages",
    "daily_cost_by_group",
)
COST = (
    "daily_cost_by_model",
    "daily_messages_by_endpoint",
    "daily_unfinished_by_model",
    "daily_replies_by_agent",
    "daily_spend_by_agent",
    "daily_response_time_by_model",
)
SCHEDULES = ("daily_schedule_runs",)
AGENT_USERS = ("daily_users_by_agent",)


def day_rows(src: Source, day: date, tables: frozenset[str] | None = None) -> Rows:
    """Every daily table's rows for `day` (all-zero by_model/by_user rows left out); with `tables`
    (--csv), only what those need: the group of tables each is computed with, nothing else."""

    def wanted(group: tuple[str, ...]) -> bool:
        return tables is None or not tables.isdisjoint(group)

    span = day_span(day, src.zone)
    rows: Rows = {}
    people: dict[str, Any] = {}
    if wanted(("daily_user_messages", "daily_cost_by_group", *AGENT_USERS)):
        people = src.activity().person(day)  # person messages only (docs: "Origin")
    if wanted(("daily_users",)):  # the distinct users of the day's person messages
        rows["daily_users"] = [(day, len(src.activity().users(day, day)))]
    if wanted(ENGAGEMENT):
        rows.update(engagement_rows(src.activity(), day))
    if wanted(FROM_MESSAGES + FROM_TRANSACTIONS + COST):
        rows.update(_message_day_rows(src, span, day, wanted, people))
    if wanted(SCHEDULES):
        rows["daily_schedule_runs"] = schedule_rows(src, span, day)
    if wanted(AGENT_USERS):
        per_agent = agent_user_counts(src, span, people)
        rows["daily_users_by_agent"] = [(day, a, n) for a, n in sorted(per_agent.items())]
    return rows


def agent_user_counts(src: Source, span: Span, people: dict[str, Any]) -> Counter[str]:
    """Agent id (sanitised, storable) -> distinct users of its replies in the span, of the replies that
    pass `people` (the person-message clause: users are people)."""
    assert span.lo is not None
    users: Counter[str] = Counter()
    for agent_id, n in tally.agent_users(src.reader, span, {"span": span.lo}, people)["span"].items():
        users[storable(sanitise(agent_id))] += n
    return users


def agent_labels(reader: Reader) -> dict[str, tuple[str, str]]:
    """Agent id (sanitised, storable, as in the per-agent tables) -> (name, model) of its agent
    document (the oldest one of an id, as librechat_agent_info), sanitised: the agent_info rows."""
    _, infos = tally.agent_map(reader)
    labels: dict[str, tuple[str, str]] = {}
    for agent_id, info in sorted(infos.items()):
        names = (storable(sanitise(info.name)), storable(sanitise(info.model)))
        labels.setdefault(storable(sanitise(agent_id)), names)
    return labels


def agent_info_rows(reader: Reader) -> list[tuple[str, str, str]]:
    """The agent_info rows (agent_id, name, model), in agent id order."""
    return [(agent_id, *names) for agent_id, names in sorted(agent_labels(reader).items())]


def _message_day_rows(
    src: Source, span: Span, day: date, wanted: Callable[[tuple[str, ...]], bool], people: dict[str, Any]
) -> Rows:
    """The daily tables read from the day's message tally (and transaction tally, when `wanted`)."""
    reader = src.reader
    models, agent_spend = src.reply_models(reader, span)
    messages = tally.fold_messages(tally.message_rows(reader, span, {}), None, models)
    per_model, errors = model_counts(src, messages)
    rows: Rows = {}
    if wanted(FROM_MESSAGES):
        conversations = tally.count_in(reader, "conversations", span)
        rows["daily_messages"] = [(day, sum(messages.count.values()), conversations)]
        rows["daily_messages_by_model"] = [(day, m, n) for m, n in sorted(per_model.items()) if n]
        rows["daily_errors_by_model"] = [(day, m, n) for m, n in sorted(errors.items()) if n]
    if not wanted(FROM_TRANSACTIONS + COST):
        return rows
    txs = tally.fold_transactions(tally.transaction_rows(reader, span, {}, by_user=True))
    if wanted(FROM_TRANSACTIONS):
        by_model, by_user = _tokens(src, span, messages, txs, models)
        rows["daily_tokens_by_model"] = _token_rows(day, by_model)
        rows["daily_tokens_by_user"] = _token_rows(day, by_user)
        rows["daily_user_messages"] = user_rows(src, span, day, by_user, txs, people, models)
        rows["daily_cost_by_group"] = group_rows(src, span, day, by_user, txs, people)
    if wanted(COST):
        rows.update(cost_rows(src, span, day, messages, txs, models, agent_spend))
    return rows


def schedule_rows(src: Source, span: Span, day: date) -> list[tuple[Any, ...]]:
    """daily_schedule_runs: runs fired that day per status, and the nearest-rank p50 and p90 of the
    durations (seconds) of the finished ones (None without one)."""
    runs: Counter[str] = Counter()
    durations: dict[str, list[float]] = {}
    for run in queries.schedule_runs(src.reader, span):
        runs[run["status"]] += 1
        millis = number(run.get("durationMs"), "durationMs")
        if run["status"] in FINISHED and millis is not None and millis >= 0:
            durations.setdefault(run["status"], []).append(millis / 1000)
    rows = []
    for status, n in sorted(runs.items()):
        ranks = percentiles(durations[status]) if status in durations else {}
        rows.append((day, storable(sanitise(status)), n, ranks.get("50"), ranks.get("90")))
    return rows


def model_counts(src: Source, messages: tally.MessageTally) -> tuple[Counter[str], Counter[str]]:
    """Assistant messages and error messages per model label (daily_messages_by_model, _errors_)."""
    per_model: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for key, n in messages.count.items():
        if key.assistant:
            per_model[src.label(key)] += n
        if key.error:
            errors[src.label(key)] += n
    return per_model, errors


def user_rows(
    src: Source,
    span: Span,
    day: date,
    tokens: Pairs,
    txs: tally.TxTally,
    people: dict[str, Any],
    models: ReplyModels | None = None,
) -> list[tuple[Any, ...]]:
    """daily_user_messages: every user with a person message that day, or with tokens or spend that day.

    Columns: messages sent and top model of the user's person messages (engagement.user_messages;
    `people` is the person-message clause), tokens in and out of all the user's messages (the rows of
    daily_tokens_by_user), spend in USD (|tokenValue| / 1e6 of the user's counted transactions, from
    transactions whatever the token source), then e-mail and name with EXPORT_USER_DETAILS, else None.
    """
    sent = user_messages(src.reader, span, src.model, storable, people, models)
    credits: Counter[str] = Counter()
    for (_, _, user), value in txs.value.items():
        if user is not None:
            credits[storable(user)] += value
    users = set(sent) | {u for u, (i, o) in tokens.items() if i or o} | {u for u, v in credits.items() if v}
    details = user_details(src.reader, users, storable) if src.user_details else {}
    rows = []
    for user in sorted(users):
        messages, top = sent.get(user, (0, ""))
        inp, out = tokens.get(user, (0, 0))
        spend = usd(credits[user])
        rows.append(
            (day, user, messages, top, _finite(inp), _finite(out), spend, *details.get(user, (None, None)))
        )
    return rows


def group_rows(
    src: Source, span: Span, day: date, tokens: Pairs, txs: tally.TxTally, people: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """daily_cost_by_group: per group (current membership) and `(no group)`, the day's spend in USD of
    the members' counted transactions, their tokens (the rows of daily_tokens_by_user) and the members
    with a person message that day (`people`); all-zero rows left out, none without any group."""
    membership = src.membership()
    if not membership.groups:
        return []
    active = len(src.activity().users(day, day))  # the day's daily_users, read once
    credits: dict[str | None, float] = {}
    for (_, _, user), value in txs.value.items():
        credits[user] = credits.get(user, 0.0) + value
    sums = per_group(membership, active, active_users(src.reader, span, people), credits, tokens)
    rows = []
    for name, row in sorted(sums.items()):
        numbers = (_finite(row.spend / 1e6), _finite(row.input_tokens), _finite(row.output_tokens))
        if any(numbers) or row.active_users:
            rows.append((day, storable(name), *numbers, row.active_users))
    return rows


def cost_rows(
    src: Source,
    span: Span,
    day: date,
    messages: tally.MessageTally,
    txs: tally.TxTally,
    models: ReplyModels,
    agent_spend: Counter[str],
) -> Rows:
    """The issue #12 daily tables: spend and cache tokens, endpoints, unfinished, agents, response time.

    `txs` is the day's transaction tally (by user: summed over users here); `models` label agent
    replies, `agent_spend` is the day's spend per agent id (Source.reply_models)."""
    cost: dict[str, list[float]] = {}
    for column, source in enumerate((txs.value, txs.cache_read, txs.cache_write)):
        for tx, value in source.items():
            cost.setdefault(storable(src.model(tx.model)), [0.0, 0.0, 0.0])[column] += value
    endpoints: dict[str, list[int]] = {}
    unfinished: Counter[str] = Counter()
    agents: dict[str, list[int]] = {}
    for key, n in messages.count.items():
        counts = endpoints.setdefault(storable(sanitise(key.endpoint)), [0, 0])
        counts[0] += n if key.assistant else 0
        counts[1] += n if key.error else 0
        if key.unfinished:
            unfinished[storable(src.label(key))] += n
        if key.assistant and is_agent_id(key.model):
            counts = agents.setdefault(storable(sanitise(key.model)), [0, 0])
            counts[0] += n
            counts[1] += n if key.error else 0
    waits: dict[str, list[float]] = {}
    for model, seconds, _ in relabel(span_reply_times(src.reader, span), models):
        waits.setdefault(storable(src.model(model)), []).append(seconds)
    return {
        "daily_cost_by_model": [
            (day, m, usd(v), _finite(r), _finite(w)) for m, (v, r, w) in sorted(cost.items()) if v or r or w
        ],
        "daily_messages_by_endpoint": [
            (day, e, n, err) for e, (n, err) in sorted(endpoints.items()) if n or err
        ],
        "daily_unfinished_by_model": [(day, m, n) for m, n in sorted(unfinished.items()) if n],
        "daily_replies_by_agent": [(day, a, n, err) for a, (n, err) in sorted(agents.items())],
        "daily_spend_by_agent": _agent_spend_rows(day, agent_spend),
        "daily_response_time_by_model": [
            (day, m, len(w), *percentiles(w).values()) for m, w in sorted(waits.items())
        ],
    }


Pairs = dict[str, list[float]]  # key -> [input, output]


def _tokens(
    src: Source, span: Span, messages: tally.MessageTally, txs: tally.TxTally, models: ReplyModels
) -> tuple[Pairs, Pairs]:
    """Input/output tokens per model label and per user, from the resolved token source (`txs`: the
    day's transaction tally by user)."""
    by_model: Pairs = {}
    by_user: Pairs = {}

    def add(pairs: Pairs, key: str, side: int, value: float) -> None:
        pairs.setdefault(storable(key), [0, 0])[side] += value

    if src.token_source == "transactions":
        for tx, value in txs.tokens.items():
            side = 0 if tx.kind == "prompt" else 1
            add(by_model, src.model(tx.model), side, value)
            if tx.user is not None:
                add(by_user, tx.user, side, value)
        return by_model, by_user
    for key, value in messages.tokens.items():
        if key.assistant:
            add(by_model, src.label(key), 1, value)
    rows = tally.user_token_rows(src.reader, span)
    replies = queries.earliest_reply_models(
        src.reader, (row["messageId"] for row in rows if "messageId" in row), models
    )
    for model, value in tally.fold_inputs(rows, replies).items():
        add(by_model, src.model(model), 0, value)
    inputs, outputs = queries.message_tokens_by_user(src.reader, span)
    for side, sums in ((0, inputs), (1, outputs)):
        for user, value in sums.items():
            add(by_user, user, side, value)
    return by_model, by_user


def _token_rows(day: date, pairs: Pairs) -> list[tuple[Any, ...]]:
    rows = []
    for key, (inp, out) in sorted(pairs.items()):
        if inp == 0 and out == 0:
            continue
        rows.append((day, key, _finite(inp), _finite(out)))
    return rows


def _agent_spend_rows(day: date, credits: Counter[str]) -> list[tuple[Any, ...]]:
    """Spend in USD per (sanitised) agent id; agent ids that sanitise alike are summed."""
    dollars: dict[str, float] = {}
    for agent_id, value in credits.items():
        key = storable(sanitise(agent_id))
        dollars[key] = dollars.get(key, 0.0) + usd(value)
    return [(day, a, _finite(v)) for a, v in sorted(dollars.items()) if v]


def _finite(value: float) -> float:
    """SQL DOUBLE has no infinity: a sum that overflowed is stored as the largest double."""
    if math.isfinite(value):
        return value
    return math.copysign(1.7976931348623157e308, value)


def week_row(src: Source, monday: date) -> tuple[date, int]:
    """weekly_users row: distinct users of person messages over the whole ISO week starting `monday`."""
    return (monday, len(src.activity().users(monday, monday + timedelta(days=6))))


def month_row(src: Source, first: date) -> tuple[date, int]:
    """monthly_users row: distinct users of person messages over the whole month starting `first`."""
    return (first, len(src.activity().users(first, next_month(first) - timedelta(days=1))))
