"""`export_metrics.py --csv TABLE`: one history table for a range, computed from MongoDB (no SQL
database needed) and written as CSV with a header row, for Excel or a spreadsheet."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta, timezone
from typing import TextIO

from ..windows import local_midnight, month_start, next_month, next_week, week_start
from . import compute, engagement, sql

NAMES = tuple(table.name for table in sql.TABLES)


def write_csv(src: compute.Source, name: str, start: date, end: date, out: TextIO) -> int:
    """Write `name`'s rows for start..end (weeks and months that overlap it and are over; for
    weekly_retention, the weeks that are over and depend on a day of the range); returns how many rows
    were written. The rows are those the export would store."""
    (table,) = [t for t in sql.TABLES if t.name == name]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.names)
    rows: list[tuple] = []
    now = datetime.now(timezone.utc)
    if table is sql.WEEKLY_RETENTION:
        for monday in engagement.retention_weeks(start, end):
            if local_midnight(next_week(monday), src.zone) <= now:
                rows.append(engagement.weekly_retention_row(src.reader, src.zone, monday, now))
    elif table in sql.DAILY:
        day = start
        while day <= end:
            rows += compute.day_rows(src, day).get(name, [])
            day += timedelta(days=1)
    else:
        weekly = table is sql.WEEKLY
        first, following = (week_start, next_week) if weekly else (month_start, next_month)
        key = first(start)
        while key <= end:
            if local_midnight(following(key), src.zone) <= now:
                rows.append(compute.week_row(src, key) if weekly else compute.month_row(src, key))
            key = following(key)
    writer.writerows(rows)
    return len(rows)
