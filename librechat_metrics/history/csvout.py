"""`export_metrics.py --csv TABLE`: one history table for a range, computed from MongoDB (no SQL
database needed) and written as CSV with a header row, for Excel or a spreadsheet.

Only TABLE is computed (with the tables computed from the same reads), and its rows are written and
flushed as each day, week or month is done: a long range shows progress, and a failure midway keeps
every complete day written before it (the run then exits non-zero).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any, TextIO

from ..windows import local_midnight, month_start, next_month, next_week, week_start
from . import compute, engagement, sql

NAMES = tuple(table.name for table in sql.TABLES)
DIGITS = 15  # significant digits of a float: all a double holds reliably, without binary noise


def cell(value: Any) -> Any:
    """A float as its shortest text at DIGITS significant digits (0.040480800000000004 -> 0.0404808;
    whole numbers up to 10^15 stay exact); everything else as csv writes it."""
    if isinstance(value, float):
        return repr(float(f"{value:.{DIGITS}g}"))
    return value


def write_csv(src: compute.Source, name: str, start: date, end: date, out: TextIO) -> int:
    """Write `name`'s rows for start..end (weeks and months that overlap it and are over; for
    weekly_retention, the weeks that are over and depend on a day of the range); returns how many rows
    were written. The rows are those the export would store."""
    (table,) = [t for t in sql.TABLES if t.name == name]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.names)
    out.flush()
    written = 0
    for rows in _batches(src, table, start, end):
        writer.writerows([cell(value) for value in row] for row in rows)
        out.flush()
        written += len(rows)
    return written


def _batches(src: compute.Source, table: sql.Table, start: date, end: date) -> Iterator[list[tuple]]:
    """The table's rows, one day, week or month at a time (each computed when it is asked for)."""
    now = datetime.now(timezone.utc)
    if table is sql.WEEKLY_RETENTION:
        for monday in engagement.retention_weeks(start, end):
            if local_midnight(next_week(monday), src.zone) <= now:
                yield [engagement.weekly_retention_row(src.activity(), monday, now)]
    elif table is sql.AGENT_INFO:  # not dated: the agents as they are now
        yield compute.agent_info_rows(src.reader)
    elif table in sql.DAILY:
        only = frozenset({table.name})
        day = start
        while day <= end:
            yield compute.day_rows(src, day, only).get(table.name, [])
            day += timedelta(days=1)
    else:
        weekly = table is sql.WEEKLY
        first, following = (week_start, next_week) if weekly else (month_start, next_month)
        key = first(start)
        while key <= end:
            if local_midnight(following(key), src.zone) <= now:
                yield [compute.week_row(src, key) if weekly else compute.month_row(src, key)]
            key = following(key)
