"""A history export built the original's way, for comparison with export_metrics.py.

Written from the behaviour described in ../shared/reference/original-exporter.md (section 4.2 and 4.3),
not from its code: one `find` of the range's messages and one of its conversations (whole documents,
no projection), folded in memory per UTC day into the original's 8 tables, upserted row by row on a
new connection per day. Weekly users on Sundays, monthly users on month ends, from the data already
loaded. Only the load matters here; the values follow the original's definitions, not ours.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pymysql
from pymongo.database import Database

TABLES = {
    "daily_users": ("`date` DATE PRIMARY KEY, unique_users INT NOT NULL", ("date",)),
    "daily_messages": (
        "`date` DATE PRIMARY KEY, total_messages INT NOT NULL, total_conversations INT NOT NULL",
        ("date",),
    ),
    "daily_messages_by_model": (
        "`date` DATE, model VARCHAR(255), message_count INT NOT NULL, PRIMARY KEY (`date`, model)",
        ("date", "model"),
    ),
    "daily_tokens_by_model": (
        "`date` DATE, model VARCHAR(255), input_tokens INT NOT NULL, output_tokens INT NOT NULL, "
        "PRIMARY KEY (`date`, model)",
        ("date", "model"),
    ),
    "daily_tokens_by_user": (
        "`date` DATE, user VARCHAR(255), input_tokens INT NOT NULL, output_tokens INT NOT NULL, "
        "PRIMARY KEY (`date`, user)",
        ("date", "user"),
    ),
    "daily_errors_by_model": (
        "`date` DATE, model VARCHAR(255), error_count INT NOT NULL, PRIMARY KEY (`date`, model)",
        ("date", "model"),
    ),
    "weekly_users": ("week_start DATE PRIMARY KEY, unique_users INT NOT NULL", ("week_start",)),
    "monthly_users": ("month_start DATE PRIMARY KEY, unique_users INT NOT NULL", ("month_start",)),
}


def _tokens(value: Any) -> tuple[int, int]:
    """(input, output) of a tokenCount: a legacy dict by prompt/completion, a number as itself."""
    if isinstance(value, dict):
        return int(value.get("prompt") or 0), int(value.get("completion") or 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value), int(value)
    return 0, 0


def day_tables(messages: list[dict], conversations: list[dict], by_parent: dict, owner: dict) -> dict:
    """The 6 daily tables' rows (without the date) of one day's messages and conversations."""
    users = {m.get("user") for m in messages if m.get("isCreatedByUser")}
    per_model: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_user: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for m in messages:
        if m.get("error") is True:
            errors[str(m.get("model") or "unknown")] += 1
        if m.get("isCreatedByUser"):
            inp = _tokens(m.get("tokenCount"))[0]
            for reply in by_parent.get(m.get("messageId"), ()):
                tokens[str(reply["model"])][0] += inp
                per_user[str(m.get("user"))][0] += inp
        elif m.get("model") and "tokenCount" in m:
            per_model[str(m["model"])] += 1
            out = _tokens(m.get("tokenCount"))[1]
            tokens[str(m["model"])][1] += out
            user = owner.get(m.get("parentMessageId"))
            if user is not None:
                per_user[str(user)][1] += out
    return {
        "daily_users": [(len(users - {None}),)],
        "daily_messages": [(len(messages), len(conversations))],
        "daily_messages_by_model": [(k, v) for k, v in per_model.items()],
        "daily_tokens_by_model": [(k, i, o) for k, (i, o) in tokens.items()],
        "daily_tokens_by_user": [(k, i, o) for k, (i, o) in per_user.items()],
        "daily_errors_by_model": [(k, v) for k, v in errors.items()],
    }


def _upsert(conn: Any, table: str, rows: list[tuple]) -> None:
    if not rows:
        return
    n = len(rows[0])
    keys = TABLES[table][1]
    with conn.cursor() as cur:
        cur.execute(f"SHOW COLUMNS FROM {table}")
        names = [row[0] for row in cur.fetchall()][:n]
        update = ", ".join(f"`{c}` = VALUES(`{c}`)" for c in names if c not in keys)
        sql = f"INSERT INTO {table} ({', '.join(f'`{c}`' for c in names)}) VALUES ({', '.join(['%s'] * n)})"
        for row in rows:  # row by row, as the original does
            cur.execute(f"{sql} ON DUPLICATE KEY UPDATE {update}", row)
    conn.commit()


def export(db: Database, sql: dict[str, Any], start: date, end: date) -> int:
    """Export start..end (UTC days) the original's way into the MariaDB database `sql` names; days."""
    conn = pymysql.connect(**sql)
    with conn.cursor() as cur:
        for table, (columns, _) in TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    conn.close()
    lo = datetime.combine(start, time(0), timezone.utc)
    hi = datetime.combine(end, time(23, 59, 59, 999999), timezone.utc)
    window = {"createdAt": {"$gte": lo, "$lte": hi}}
    messages = list(db["messages"].find(window))
    conversations = list(db["conversations"].find(window))
    by_parent: dict[Any, list[dict]] = defaultdict(list)
    owner: dict[Any, Any] = {}
    by_day: dict[date, list[dict]] = defaultdict(list)
    conv_day: dict[date, list[dict]] = defaultdict(list)
    for m in messages:
        if not m.get("isCreatedByUser") and m.get("model") and m.get("parentMessageId"):
            by_parent[m["parentMessageId"]].append(m)
        if m.get("isCreatedByUser"):
            owner[m.get("messageId")] = m.get("user")
        if isinstance(m.get("createdAt"), datetime):
            by_day[m["createdAt"].astimezone(timezone.utc).date()].append(m)
    for c in conversations:
        if isinstance(c.get("createdAt"), datetime):
            conv_day[c["createdAt"].astimezone(timezone.utc).date()].append(c)
    day = start
    while day <= end:
        rows = day_tables(by_day[day], conv_day[day], by_parent, owner)
        conn = pymysql.connect(**sql)  # a new connection per day, as the original opens
        for table, table_rows in rows.items():
            _upsert(conn, table, [(day, *row) for row in table_rows])
        span: tuple[str, date] | None = None
        if day.weekday() == 6:
            span = ("weekly_users", day - timedelta(days=6))
        for table, first in ([span] if span else []) + (
            [("monthly_users", day.replace(day=1))] if (day + timedelta(days=1)).day == 1 else []
        ):
            users = {
                m.get("user")
                for d in range((day - first).days + 1)
                for m in by_day[first + timedelta(days=d)]
                if m.get("isCreatedByUser")
            }
            _upsert(conn, table, [(first, len(users - {None}))])
        conn.close()
        day += timedelta(days=1)
    return (end - start).days + 1
