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

import hashlib
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
from ..windows import day_span, local_midnight, week_start
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
Held = Callable[[date, date], dict[date, set[str]]]  # stored activity of the days a store holds


def user_key(value: Any) -> str:
    """A user's key in the activity sets and in history_activity: a digest of the value's identity as
    distinct counts see it (a string as itself, a number by value so 5 and 5.0 are one user, anything
    else by its type and repr)."""
    if isinstance(value, str):
        text = "s" + value
    elif isinstance(value, bool) or not isinstance(value, int | float):
        text = f"{type(value).__name__}:{value!r}"
    elif isinstance(value, float) and not value.is_integer():
        text = f"n{value!r}"
    else:
        text = f"n{int(value)}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Activity:
    """Per local day of `zone`: the users of its person messages (user_key of the distinct non-null
    `user` values) and the users who signed up (hex ids of ObjectId `_id` times). Every windowed row
    (churn, retention, weekly and monthly users, signup cohorts) is computed from these sets.

    A day's users come from `held` (the history store, for the days it holds and the run does not
    rewrite) or else from MongoDB, read for a span of days at a time: one grouped read of messages
    (user, day) and origins' reads of what is automated in that span; signups always from MongoDB (one
    read of users on `_id` per span). So a run reads each day about once, whatever the windows, and
    holds at most KEEP_DAYS days."""

    def __init__(self, reader: Reader, zone: str, held: Held | None = None):
        self.reader, self.zone, self.held = reader, zone, held
        self._users: dict[date, set[str]] = {}
        self._signups: dict[date, set[str]] = {}
        self._people: dict[date, dict[str, Any]] = {}  # the person clause a day's users were read with

    def need(self, first: date, last: date) -> None:
        """Read the days of first..last not held yet (and up to READ_DAYS after the first of them)."""
        missing = [d for d in _days(first, last) if d not in self._users]
        if not missing:
            return
        window = _days(missing[0], max(missing[-1], missing[0] + timedelta(days=READ_DAYS - 1)))
        stored = self.held(window[0], window[-1]) if self.held is not None else {}
        rest = [d for d in window if d not in stored]
        found = self._read_users(rest[0], rest[-1]) if rest else {}
        self._users.update({d: stored[d] if d in stored else found[d] for d in window})
        self._signups.update(self._read_signups(window[0], window[-1]))
        for day in sorted(self._users):  # the oldest days before `first` go first
            if len(self._users) <= KEEP_DAYS or day >= first:
                break
            del self._users[day], self._signups[day]
            self._people.pop(day, None)

    def _span(self, lo: date, hi: date) -> tuple[list[datetime], Span]:
        bounds = [local_midnight(d, self.zone) for d in _days(lo, hi + timedelta(days=1))]
        return bounds, Span(bounds[0], bounds[-1])

    def _read_users(self, lo: date, hi: date) -> dict[date, set[str]]:
        days = _days(lo, hi)
        bounds, span = self._span(lo, hi)
        people = origins.automated(self.reader, span).person()
        match = {"$and": [span.match(), {"user": {"$ne": None}}, people]}
        group = {"$group": {"_id": {"u": "$user", "d": _day_index(bounds, 0, len(days))}}}
        found: dict[date, set[str]] = {d: set() for d in days}
        for row in self.reader.aggregate("messages", [{"$match": match}, group]):
            found[days[row["_id"]["d"]]].add(user_key(row["_id"]["u"]))
        self._people.update(dict.fromkeys(days, people))
        return found

    def person(self, day: date) -> dict[str, Any]:
        """The `$match` clause that keeps the day's person messages: the one its users were read with
        (what is automated in that span), so the day's other rows need no origin reads of their own."""
        self.need(day, day)
        if day not in self._people:  # its users came from the store
            self._people[day] = origins.automated(self.reader, day_span(day, self.zone)).person()
        return self._people[day]

    def _read_signups(self, lo: date, hi: date) -> dict[date, set[str]]:
        signed: dict[date, set[str]] = {d: set() for d in _days(lo, hi)}
        match = self._span(lo, hi)[1].match(by_id=True)
        for row in self.reader.aggregate("users", [{"$match": match}, {"$project": {"_id": 1}}]):
            day = row["_id"].generation_time.astimezone(ZoneInfo(self.zone)).date()
            if day in signed:  # ObjectId times are whole seconds: a bound's second belongs to its day
                signed[day].add(str(row["_id"]))
        return signed

    def users(self, first: date, last: date) -> set[str]:
        """The keys of the distinct users of the person messages of the days first..last."""
        self.need(first, last)
        out: set[str] = set()
        for day in _days(first, last):
            out |= self._users[day]
        return out

    def signups(self, day: date) -> set[str]:
        """The hex ids of the users whose ObjectId `_id` was made on the day."""
        self.need(day, day)
        return self._signups[day]

    def returned(self, signed: date, day: date) -> int:
        """Of the users who signed up on `signed`, those with a person message on `day` (as `user`, the
        string LibreChat stores: their hex id)."""
        return len({user_key(member) for member in self.signups(signed)} & self.users(day, day))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


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
    retention: list[Any] = [day]
    for n in RETENTION_DAYS:
        signed = day - timedelta(days=n)
        retention += [len(activity.signups(signed)), activity.returned(signed, day)]
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
        out.append(sum(activity.returned(day, day + timedelta(days=n)) for day in week))
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
