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
from ..windows import local_midnight, week_start
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


READ_DAYS = 32  # an activity read covers at least this many days (the days after the asked ones)
KEEP_DAYS = 160  # days of activity held at most (the 56 days of churn, a block, a month and more)


class Activity:
    """Per local day of `zone`: the users of its person messages (distinct non-null `user` values, by
    values.key) and the users who signed up (hex ids of ObjectId `_id` times), read for a span of days at
    a time: one grouped read of messages (user, day), one of users, and origins' reads of what is
    automated in that span. Every windowed row (churn, retention, weekly and monthly users, signup
    cohorts) is computed from these sets, so a run reads each day's activity about once, whatever the
    windows, and holds at most KEEP_DAYS days."""

    def __init__(self, reader: Reader, zone: str):
        self.reader, self.zone = reader, zone
        self._users: dict[date, set[Any]] = {}
        self._signups: dict[date, set[str]] = {}

    def need(self, first: date, last: date) -> None:
        """Read the days of first..last not held yet (and the READ_DAYS after the first of them)."""
        missing = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        missing = [d for d in missing if d not in self._users]
        if not missing:
            return
        lo, hi = missing[0], max(missing[-1], missing[0] + timedelta(days=READ_DAYS - 1))
        self._read(lo, hi)
        for day in sorted(self._users):  # the oldest days before `first` go first
            if len(self._users) <= KEEP_DAYS or day >= first:
                break
            del self._users[day], self._signups[day]

    def _read(self, lo: date, hi: date) -> None:
        days = [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
        bounds = [local_midnight(d, self.zone) for d in days] + [
            local_midnight(hi + timedelta(days=1), self.zone)
        ]
        span = Span(bounds[0], bounds[-1])
        people = origins.automated(self.reader, span).person()
        match = {"$and": [span.match(), {"user": {"$ne": None}}, people]}
        group = {"$group": {"_id": {"u": "$user", "d": _day_index(bounds, 0, len(days))}}}
        found: dict[date, set[Any]] = {d: set() for d in days}
        for row in self.reader.aggregate("messages", [{"$match": match}, group]):
            found[days[row["_id"]["d"]]].add(values.key(row["_id"]["u"]))
        signed: dict[date, set[str]] = {d: set() for d in days}
        rows = self.reader.aggregate("users", [{"$match": span.match(by_id=True)}, {"$project": {"_id": 1}}])
        for row in rows:
            day = row["_id"].generation_time.astimezone(ZoneInfo(self.zone)).date()
            if day in signed:  # ObjectId times are whole seconds: a bound's second belongs to its day
                signed[day].add(str(row["_id"]))
        self._users.update(found)
        self._signups.update(signed)

    def users(self, first: date, last: date) -> set[Any]:
        """The distinct users of the person messages of the days first..last."""
        self.need(first, last)
        out: set[Any] = set()
        for i in range((last - first).days + 1):
            out |= self._users[first + timedelta(days=i)]
        return out

    def people(self, day: date) -> set[str]:
        """The string users of the day's person messages (LibreChat stores a user's hex id there)."""
        return {user for user in self.users(day, day) if isinstance(user, str)}

    def signups(self, day: date) -> set[str]:
        """The hex ids of the users whose ObjectId `_id` was made on the day."""
        self.need(day, day)
        return self._signups[day]


def _day_index(bounds: list[datetime], lo: int, hi: int) -> Any:
    """An expression: the i in lo..hi-1 with bounds[i] <= createdAt < bounds[i + 1], as a balanced tree
    of `$cond` (portable: `$dateToString` has no time zone on every backend)."""
    if hi - lo == 1:
        return lo
    mid = (lo + hi) // 2
    below = {"$lt": ["$createdAt", bounds[mid]]}
    return {"$cond": [below, _day_index(bounds, lo, mid), _day_index(bounds, mid, hi)]}


def engagement_rows(activity: Activity, day: date) -> dict[str, list[tuple[Any, ...]]]:
    """daily_registrations, daily_retention and daily_churn rows of `day`, from the activity of the
    2 x CHURN_DAYS local days ending with it."""
    activity.need(day - timedelta(days=2 * CHURN_DAYS - 1), day)
    active = activity.people(day)
    retention: list[Any] = [day]
    for n in RETENTION_DAYS:
        members = activity.signups(day - timedelta(days=n))
        retention += [len(members), len(members & active)]
    recent = activity.users(day - timedelta(days=CHURN_DAYS - 1), day)
    before = activity.users(day - timedelta(days=2 * CHURN_DAYS - 1), day - timedelta(days=CHURN_DAYS))
    return {
        "daily_registrations": [(day, len(activity.signups(day)))],
        "daily_retention": [tuple(retention)],
        "daily_churn": [(day, len(recent), len(before - recent))],
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


def weekly_retention_row(activity: Activity, monday: date, now: datetime) -> tuple[Any, ...]:
    """(week_start, cohort, retained_1d, retained_7d, retained_30d) of the users registered in the week
    (local days of their ObjectId `_id`): retained_Nd counts members with a person message on their own
    signup day + N, the sum of the week's daily_retention cohorts; None until that day is over for every
    member."""
    week = [monday + timedelta(days=i) for i in range(7)]
    final = [n for n in RETENTION_DAYS if retained_final(monday, n, activity.zone, now)]
    activity.need(monday, monday + timedelta(days=6 + max(final, default=0)))  # one read, not one a day
    out: list[Any] = [monday, sum(len(activity.signups(day)) for day in week)]
    for n in RETENTION_DAYS:
        if n not in final:
            out.append(None)
            continue
        later = timedelta(days=n)
        out.append(sum(len(activity.signups(day) & activity.people(day + later)) for day in week))
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
