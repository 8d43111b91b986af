"""Engagement rows of one day (issue #10; docs/semantics.md, "Engagement in history").

Every row of day X depends only on days up to X, so it is final once X is over, like every other
daily row, and a re-run of X recomputes it:

- daily_registrations: users whose ObjectId `_id` was made on X (local day);
- daily_retention: of the users registered on X-1, X-7 and X-30, how many had a message on X
  (retention of the cohort of day D after N days is row D+N);
- daily_churn: users with a message in the 28 local days ending with X, and users with one in the
  28 days before those but none since (LibreChat Insights' churn rule);
- daily_user_messages: per user, the messages they sent on X and the model that answered most (the
  tokens, spend and e-mail/name columns are added in compute.user_rows).

Users, retention, churn and the messages of daily_user_messages count person messages only
(`origins`: a scheduled run's prompt and replies, and agent-event turns, are no person's activity).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId

from .. import origins, tally, values
from ..labels import name_label
from ..mongo import Reader, Span
from ..replymodel import ReplyModels
from ..windows import day_span, local_midnight, week_span, week_start
from . import queries

RETENTION_DAYS = (1, 7, 30)
CHURN_DAYS = 28


def cohort(reader: Reader, span: Span) -> set[str]:
    """The hex ids of the users whose ObjectId `_id` was made in the span (bounded on `_id`)."""
    rows = reader.aggregate("users", [{"$match": span.match(by_id=True)}, {"$project": {"_id": 1}}])
    return {str(row["_id"]) for row in rows}


def active_users(reader: Reader, span: Span, people: dict[str, Any]) -> set[str]:
    """The string `user` values of the span's messages that pass `people` (LibreChat stores a user's
    hex id there)."""
    match = {"$and": [span.match(), {"user": {"$type": "string"}}, people]}
    rows = reader.aggregate("messages", [{"$match": match}, {"$group": {"_id": "$user"}}])
    # `$type: "string"` also matches an array of strings, which is no user id
    return {user for row in rows if (user := values.text(row["_id"], "user")) is not None}


def activity_span(zone: str, day: date) -> Span:
    """The local days whose messages a row of `day` reads: the two churn periods ending with it."""
    return Span(local_midnight(day - timedelta(days=2 * CHURN_DAYS - 1), zone), day_span(day, zone).hi)


def engagement_rows(
    reader: Reader, zone: str, day: date, people: dict[str, Any] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """daily_registrations, daily_retention and daily_churn rows of `day`; `people` is the person-message
    clause of an `origins.automated` read that covers activity_span (read here when None)."""
    today = day_span(day, zone)
    if people is None:
        people = origins.automated(reader, activity_span(zone, day)).person()
    active = active_users(reader, today, people)
    retention: list[Any] = [day]
    for n in RETENTION_DAYS:
        members = cohort(reader, day_span(day - timedelta(days=n), zone))
        retention += [len(members), len(members & active)]
    lo = local_midnight(day - timedelta(days=2 * CHURN_DAYS - 1), zone)
    recent = local_midnight(day - timedelta(days=CHURN_DAYS - 1), zone)
    counts = tally.distinct_counts(reader, "messages", "user", Span(lo, today.hi), {"recent": recent}, people)
    return {
        "daily_registrations": [(day, queries.registrations(reader, today))],
        "daily_retention": [tuple(retention)],
        "daily_churn": [(day, counts["recent"], counts["all"] - counts["recent"])],
    }


# A week's weekly_retention row depends on its 7 signup days and the activity up to 30 days after the last
LAST_DAY_OFFSET = 6 + max(RETENTION_DAYS)  # Monday + 36


def retention_weeks(first: date, last: date) -> list[date]:
    """Mondays of the weeks whose weekly_retention row depends on a day of first..last."""
    monday = week_start(first - timedelta(days=LAST_DAY_OFFSET - 6))  # first Monday >= first - 36
    out = []
    while monday <= last:
        out.append(monday)
        monday += timedelta(days=7)
    return out


def retained_final(monday: date, n: int, zone: str, now: datetime) -> bool:
    """Is retained_Nd of the cohort week starting `monday` final: signup day + N over for every member."""
    return local_midnight(monday + timedelta(days=7 + n), zone) <= now


def weekly_retention_row(reader: Reader, zone: str, monday: date, now: datetime) -> tuple[Any, ...]:
    """(week_start, cohort, retained_1d, retained_7d, retained_30d) of the users registered in the week
    (local days of their ObjectId `_id`): retained_Nd counts members with a message on their own signup
    day + N, the sum of the week's daily_retention cohorts; None until that day is over for every member."""
    rows = reader.aggregate(
        "users", [{"$match": week_span(monday, zone).match(by_id=True)}, {"$project": {"_id": 1}}]
    )
    signed: dict[date, list[str]] = {}
    for row in rows:
        day = row["_id"].generation_time.astimezone(ZoneInfo(zone)).date()
        signed.setdefault(day, []).append(str(row["_id"]))
    out: list[Any] = [monday, sum(len(members) for members in signed.values())]
    for n in RETENTION_DAYS:
        if not retained_final(monday, n, zone, now):
            out.append(None)
            continue
        branches = [
            {"$and": [day_span(day + timedelta(days=n), zone).match(), {"user": {"$in": sorted(members)}}]}
            for day, members in sorted(signed.items())
        ]
        if not branches:
            out.append(0)
            continue
        days = sorted(signed)
        first, last = days[0] + timedelta(days=n), days[-1] + timedelta(days=n + 1)
        people = origins.automated(reader, Span(local_midnight(first, zone), local_midnight(last, zone)))
        match = {"$and": [{"$or": branches}, people.person()]}
        found = reader.aggregate("messages", [{"$match": match}, {"$group": {"_id": "$user"}}])
        out.append(sum(1 for row in found if values.text(row["_id"]) is not None))  # `$in` matches arrays
    return tuple(out)


def user_messages(
    reader: Reader,
    span: Span,
    model: Callable[[str], str],
    key: Callable[[str], str],
    people: dict[str, Any],
    made_by: ReplyModels | None = None,
) -> dict[str, tuple[int, str]]:
    """Per user with a person message in the span: (user messages, model label of most assistant
    messages, ties to the smallest label, "" when none), of person messages (`people`) only.

    `model` turns a name_label() into the exporter's model label, `key` a str(user) into the stored key.
    """
    match = {"$and": [span.match(), {"user": {"$ne": None}}, people]}
    group = {
        "a": tally.ASSISTANT_EXPR,
        "u": "$user",
        "t": {"$type": "$user"},
        **tally._label_key("m", "model"),
        **tally._reply_keys(),
    }
    rows = reader.aggregate("messages", [{"$match": match}, {"$group": {"_id": group, "n": {"$sum": 1}}}])
    sent: Counter[str] = Counter()
    answered: dict[str, Counter[str]] = {}
    for row in rows:
        k = row["_id"]
        user = key(str(k["u"]))
        sent[user] += 0 if k["a"] else row["n"]
        if k["a"]:
            made = tally.made_by_of(k, made_by) or name_label(k["m"])
            answered.setdefault(user, Counter())[model(made)] += row["n"]
    out = {}
    for user in sent:
        models = answered.get(user, Counter())
        out[user] = (sent[user], min(models, key=lambda m: (-models[m], m)) if models else "")
    return out


def user_details(
    reader: Reader, users: Iterable[str], key: Callable[[str], str]
) -> dict[str, tuple[str | None, str | None]]:
    """(email, name) of the users whose key is an ObjectId hex, read by `_id` (EXPORT_USER_DETAILS);
    a value that is not a string is None, a string goes through `key` (NUL and length)."""
    wanted = sorted({ObjectId(u) for u in users if len(u) == 24 and ObjectId.is_valid(u)})
    out: dict[str, tuple[str | None, str | None]] = {}
    for i in range(0, len(wanted), queries.IDS_PER_LOOKUP):
        match = {"_id": {"$in": wanted[i : i + queries.IDS_PER_LOOKUP]}}
        rows = reader.aggregate("users", [{"$match": match}, {"$project": {"email": 1, "name": 1}}])
        for row in rows:
            email, name = (values.text(row.get(f)) for f in ("email", "name"))
            out[str(row["_id"])] = (
                key(email) if email is not None else None,
                key(name) if name is not None else None,
            )
    return out
