"""The report's numbers for a range of days (docs/semantics.md, "Report").

Nothing here defines a number anew. The range is tallied exactly as the history export tallies a day
(tally's folds, compute's token rule), a week of days per command; the tallies are added up (they are
additive: the spans partition the range), and compute.cost_rows turns the sums into the per model,
endpoint and agent rows the history would hold for one long "day". What does not add up over days is read
over the whole range at once: distinct users (overall, per agent, per group) and response-time
percentiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .. import origins, tally, values
from ..history import compute, engagement, queries
from ..labels import sanitise
from ..membership import NO_GROUP, Membership, no_group_members, per_group, read_membership
from ..mongo import Span
from ..windows import local_midnight

TOP_USERS = 20
RANGE_STEPS = ("users", "models and agents", "groups")  # progress steps after the days
# Days read per command: a week of tallies is the sum of its days' (the spans partition it), in a
# seventh of the commands; memory follows a week's activity, not the range's.
CHUNK_DAYS = 7

Row = dict[str, Any]


def chunks(start: date, end: date) -> list[tuple[date, date]]:
    """start..end cut into consecutive runs of at most CHUNK_DAYS days, each read as one span."""
    out = []
    first = start
    while first <= end:
        last = min(end, first + timedelta(days=CHUNK_DAYS - 1))
        out.append((first, last))
        first = last + timedelta(days=1)
    return out


def days_span(first: date, last: date, zone: str) -> Span:
    """Local midnight of `first` to local midnight after `last`."""
    return Span(local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone))


def steps(start: date, end: date) -> int:
    """How many progress steps build() takes for start..end."""
    return len(chunks(start, end)) + len(RANGE_STEPS)


class DayTallies:
    """The history's day tallies, added up over spans of days: messages, transactions (per user), tool
    calls, and the token source's input/output per model and per user (compute._tokens)."""

    def __init__(self) -> None:
        self.messages = tally.MessageTally()
        self.txs = tally.TxTally()
        self.tools = tally.ToolTally()
        self.by_model: compute.Pairs = {}
        self.by_user: compute.Pairs = {}

    def add_days(self, src: compute.Source, span: Span) -> None:
        """Add the tallies of `span` (whole local days)."""
        # messages and tool calls, a command each: agent messages are rows of their own (replymodel),
        # too many over days for one $facet document
        match = span.match()
        found, tools = (
            tally.messages_query({}).apart(src.reader, match),
            tally.tools_query({}).apart(src.reader, match),
        )
        models, _ = src.reply_models(src.reader, span)
        messages = tally.fold_messages(found, None, models)
        txs = tally.fold_transactions(tally.transaction_rows(src.reader, span, {}, by_user=True))
        by_model, by_user = compute._tokens(src, span, messages, txs, models)
        self.messages += messages
        self.txs += txs
        self.tools += tally.fold_tools(tools, None, models)
        for total, part in ((self.by_model, by_model), (self.by_user, by_user)):
            for key, (inp, out) in part.items():
                pair = total.setdefault(key, [0, 0])
                pair[0] += inp
                pair[1] += out


def build(
    src: compute.Source,
    start: date,
    end: date,
    now: datetime | None = None,
    step: Callable[[str], None] = lambda label: None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The report of start..end (local days of `src.zone`) as plain data (the json format)."""
    now = now or datetime.now(timezone.utc)
    src = replace(src, reader=src.reader.at(now))  # what has expired at `now` is hidden
    reader = src.reader
    span = days_span(start, end, src.zone)
    sums = DayTallies()
    for first, last in chunks(start, end):
        sums.add_days(src, days_span(first, last, src.zone))
        step(str(last))

    people = origins.automated(reader, span).person()  # users are people (docs: "Origin")
    active = tally.distinct_counts(reader, "messages", "user", span, {}, people)["all"]
    active_ids = engagement.active_users(reader, span, people)
    joined = engagement.cohort(reader, span)
    totals = _totals(src, sums)
    totals |= {
        "conversations": tally.count_in(reader, "conversations", span),
        "active_users": active,
        "new_users": queries.registrations(reader, span),
        "returning_users": active - len(active_ids & joined),
    }
    step("users")

    made_by, agent_spend = src.reply_models(reader, span)  # over R, as the history's day
    rows = compute.cost_rows(src, span, start, sums.messages, sums.txs, made_by, agent_spend)
    models = _models(src, sums, rows)
    totals["spend_usd"] = sum(m["spend_usd"] for m in models)
    totals["cache_read_tokens"] = sum(m["cache_read_tokens"] for m in models)
    totals["cache_write_tokens"] = sum(m["cache_write_tokens"] for m in models)
    agents = _agents(src, span, rows, people)
    step("models and agents")

    membership = read_membership(reader)
    spend = _user_spend(sums.txs)
    groups = _groups(membership, active, active_ids, spend, sums.by_user)
    step("groups")

    report: dict[str, Any] = {
        "range": _range(src, start, end, span, now, tenant),
        "totals": totals,
        "models": models,
        "agents": agents,
        "endpoints": [
            {"endpoint": e, "replies": n, "errors": err}
            for _, e, n, err in rows["daily_messages_by_endpoint"]
        ],
        "tools": _tools(sums.tools),
        "groups": groups,
    }
    if src.user_details:
        report["top_users"] = _top_users(src, span, spend, sums.by_user, people)
    for name in ("models", "agents", "endpoints", "groups"):
        report[name].sort(key=_order)
    report["tools"].sort(key=lambda r: (-r["calls"], r["tool"]))
    return report


def _order(row: Row) -> tuple[Any, ...]:
    """Most spend first, then most replies, then by name; `(no group)` last."""
    name = str(next(iter(row.values())))
    return (name == NO_GROUP, -row.get("spend_usd", 0), -row.get("replies", 0), name)


def _range(src: compute.Source, start: date, end: date, span: Span, now: datetime, tenant: str | None) -> Row:
    assert span.lo is not None and span.hi is not None
    partial = span.hi > now
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": (end - start).days + 1,
        "timezone": src.zone,
        "from_utc": span.lo.isoformat(),
        "to_utc": (min(span.hi, now) if partial else span.hi).replace(microsecond=0).isoformat(),
        "partial": partial,
        "generated_at_utc": now.replace(microsecond=0).isoformat(),
        "token_source": src.token_source,
        "tenant": tenant,
    }


def _totals(src: compute.Source, sums: DayTallies) -> Row:
    replies = errors = error_replies = unfinished = 0
    for key, n in sums.messages.count.items():
        replies += n if key.assistant else 0
        errors += n if key.error else 0
        error_replies += n if key.assistant and key.error else 0
        unfinished += n if key.unfinished else 0
    return {
        "messages": sum(sums.messages.count.values()),
        "replies": replies,
        "error_messages": errors,
        "error_replies": error_replies,
        "error_share": error_replies / replies if replies else 0.0,
        "unfinished_replies": unfinished,
        "input_tokens": sum(i for i, _ in sums.by_model.values()),
        "output_tokens": sum(o for _, o in sums.by_model.values()),
    }


def _models(src: compute.Source, sums: DayTallies, rows: compute.Rows) -> list[Row]:
    """One row per model label with any number: the history's per-model rows of the range."""
    out: dict[str, Row] = {}

    def row(model: str) -> Row:
        return out.setdefault(
            model,
            {
                "model": model,
                "replies": 0,
                "errors": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "spend_usd": 0.0,
                "unfinished_replies": 0,
                "first_replies": 0,
                "p50_seconds": None,
                "p90_seconds": None,
            },
        )

    per_model, errors = compute.model_counts(src, sums.messages)
    for model, n in per_model.items():
        row(compute.storable(model))["replies"] += n
    for model, n in errors.items():
        row(compute.storable(model))["errors"] += n
    for model, (inp, outp) in sums.by_model.items():
        if inp or outp:
            row(model).update(input_tokens=inp, output_tokens=outp)
    for _, model, usd, read, write in rows["daily_cost_by_model"]:
        row(model).update(spend_usd=usd, cache_read_tokens=read, cache_write_tokens=write)
    for _, model, n in rows["daily_unfinished_by_model"]:
        row(model)["unfinished_replies"] = n
    for _, model, n, p50, p90, _ in rows["daily_response_time_by_model"]:
        row(model).update(first_replies=n, p50_seconds=p50, p90_seconds=p90)
    return [r for r in out.values() if any(v for k, v in r.items() if k != "model")]


def _agents(src: compute.Source, span: Span, rows: compute.Rows, people: dict[str, Any]) -> list[Row]:
    """Agents with replies, spend or chats in the range, with their name and model from `agents`; users
    are the people among their repliers (`people`: the person-message clause), chats the
    conversations started with the agent (tally.agent_chats)."""
    names = compute.agent_labels(src.reader)
    users = compute.agent_user_counts(src, span, people)
    out: dict[str, Row] = {}

    def row(agent_id: str) -> Row:
        name, model = names.get(agent_id, (None, None))
        return out.setdefault(
            agent_id,
            {
                "agent_id": agent_id,
                "name": name,
                "model": model,
                "replies": 0,
                "errors": 0,
                "users": users.get(agent_id, 0),
                "spend_usd": 0.0,
                "conversations": 0,
            },
        )

    for _, agent_id, n, err in rows["daily_replies_by_agent"]:
        row(agent_id).update(replies=n, errors=err)
    for _, agent_id, usd in rows["daily_spend_by_agent"]:
        row(agent_id)["spend_usd"] = usd
    for agent_id, n in tally.agent_chats(src.reader, span).items():
        row(compute.storable(sanitise(agent_id)))["conversations"] += n
    return list(out.values())


def _tools(tools: tally.ToolTally) -> list[Row]:
    out: dict[str, Row] = {}
    for key, n in tools.calls.items():
        row = out.setdefault(sanitise(key.tool), {"tool": sanitise(key.tool), "calls": 0, "failures": 0})
        row["failures" if key.failed else "calls"] += n
    return list(out.values())


def _user_spend(txs: tally.TxTally) -> dict[str | None, float]:
    """USD per str(transactions.user) (None: transactions without a user)."""
    spend: dict[str | None, float] = {}
    for tx, value in txs.value.items():
        spend[tx.user] = spend.get(tx.user, 0.0) + values.usd(value)
    return spend


def _groups(
    membership: Membership,
    active: int,
    active_ids: set[str],
    spend: dict[str | None, float],
    tokens: compute.Pairs,
) -> list[Row]:
    """Per group: members, members active in the range, their tokens and spend; `(no group)` for
    everything no group member accounts for (membership.per_group). No groups at all: no rows."""
    rows = []
    for name, sums in per_group(membership, active, active_ids, spend, tokens).items():
        members = len(membership.groups[name]) if name != NO_GROUP else no_group_members(membership)
        rows.append(
            {
                "group": name,
                "members": members,
                "active_users": sums.active_users,
                "input_tokens": sums.input_tokens,
                "output_tokens": sums.output_tokens,
                "spend_usd": sums.spend,
            }
        )
    return rows


def _top_users(
    src: compute.Source,
    span: Span,
    spend: dict[str | None, float],
    tokens: compute.Pairs,
    people: dict[str, Any],
) -> list[Row]:
    """The TOP_USERS users with the most spend (then tokens, then messages sent), with e-mail and name."""
    sent = engagement.user_messages(src.reader, span, src.model, compute.storable, people)
    users = {u for u in spend if u is not None} | set(tokens) | set(sent)
    rows: list[Row] = []
    for user in users:
        messages, top = sent.get(user, (0, ""))
        inp, out = tokens.get(user, (0, 0))
        rows.append(
            {
                "user": user,
                "messages": messages,
                "top_model": top,
                "input_tokens": inp,
                "output_tokens": out,
                "spend_usd": spend.get(user, 0.0),
            }
        )
    rows.sort(
        key=lambda r: (-r["spend_usd"], -(r["input_tokens"] + r["output_tokens"]), -r["messages"], r["user"])
    )
    rows = rows[:TOP_USERS]
    details = engagement.user_details(src.reader, [r["user"] for r in rows], compute.storable)
    for row in rows:
        row["email"], row["name"] = details.get(row["user"], (None, None))
    return rows
