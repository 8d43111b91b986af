"""`python export_metrics.py START END`: snapshot daily, weekly and monthly rows into SQL.

Days are read one at a time (memory does not grow with the range) and each is written in one
transaction that replaces exactly that day. Weeks and months that overlap the exported days are
computed over their whole span, once they are over. Nothing is written unless the MongoDB database
passes the target check (it looks like LibreChat's), and days after today are refused.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from pymongo.errors import InvalidName, PyMongoError

from .. import tally, values
from ..mongo import Reader, connect, describe, transient
from ..report import build, render
from ..settings import (
    SETTINGS,
    SettingError,
    Settings,
    load,
    parse_cli,
    parse_zone,
    redact,
)
from ..target import check_target
from ..windows import local_midnight, month_start, next_month, next_week, week_start
from . import compute, csvout, engagement, sql
from .settings import HISTORY_SETTINGS, HistorySettings

log = logging.getLogger("librechat_metrics.history")

DESCRIPTION = "Export LibreChat's daily, weekly and monthly metrics into MariaDB/MySQL or PostgreSQL."
EPILOG_HEAD = """examples:
  export_metrics.py 2024-01-01 2024-04-30    export these days (inclusive), skip days already stored
  export_metrics.py --days 2                 yesterday and the day before, in TIMEZONE (e.g. from cron)
  export_metrics.py --force 2024-03-01 2024-03-31   recompute days already stored
  export_metrics.py --report 2024-03-01 2024-03-31   spend, tokens, errors, users per model, agent,
                                                     group for the range, from MongoDB (no SQL)

exit status: 0 done, 1 fatal error (MongoDB or SQL unreachable, connection lost, no right to write;
  the line says "repeat the run" only when a later run may succeed), 2 bad arguments or settings (also:
  a day after today, a database that does not look like LibreChat's, a SQL database that does not exist
  and may not be created, a column whose type would change the values)
"""
FIRST_DAY = date(1970, 1, 2)  # ObjectId times (transactions) start at 1970-01-01 00:00 UTC
LAST_DAY = date(2106, 1, 31)  # ... and end in February 2106
SOURCE_SETTINGS = ("MONGODB_", "TIMEZONE", "TOKEN_SOURCE", "LOGGING_", "LIBRECHAT_TENANT_ID")


class Fatal(Exception):
    """A run-ending error; its message is the one line the user sees, `code` the exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def load_target(environ: Mapping[str, str]) -> sql.Target:
    """The SQL target from HISTORY_DATABASE_URL or the MYSQL_* settings; SettingError when bad."""
    return load(environ, HistorySettings).target()


def parse_day(raw: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise argparse.ArgumentTypeError(f"invalid date {raw!r}: expected YYYY-MM-DD")
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {raw!r}: no such day") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"invalid date {raw!r}: expected {FIRST_DAY} to {LAST_DAY}")
    return day


def positive(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise argparse.ArgumentTypeError(f"invalid day count {raw!r}: expected a whole number from 1")
    return int(raw)


def zone(raw: str) -> str:
    try:
        return parse_zone(raw)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid time zone {raw!r}: {err}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The export's own arguments, and a --help epilog listing only the settings it reads."""
    parser.add_argument("start", nargs="?", type=parse_day, help="first day to export, YYYY-MM-DD")
    parser.add_argument("end", nargs="?", type=parse_day, help="last day to export (inclusive), YYYY-MM-DD")
    parser.add_argument(
        "--days",
        type=positive,
        metavar="N",
        help="export the last N complete days in TIMEZONE (ends yesterday)",
    )
    parser.add_argument(
        "--this",
        choices=("week", "month"),
        help="the current ISO week (from Monday) or month in TIMEZONE, up to today (partial)",
    )
    parser.add_argument("--force", action="store_true", help="recompute days that are already stored")
    parser.add_argument(
        "--csv",
        choices=csvout.NAMES,
        metavar="TABLE",
        help="print one table's rows for the range as CSV to stdout (from MongoDB; no SQL database): "
        + ", ".join(csvout.NAMES),
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="print one report over the range to stdout (from MongoDB; no SQL database); see --format",
    )
    parser.add_argument(
        "--format",
        choices=render.FORMATS,
        default="text",
        help="the report's format: " + ", ".join(render.FORMATS) + " (default: text)",
    )
    parser.add_argument("--timezone", type=zone, metavar="ZONE", help="override TIMEZONE for this run")
    parser.add_argument(
        "--demo", action="store_true", help="read synthetic data from an embedded database (no MONGODB_URI)"
    )
    shown = [s for s in SETTINGS if s.env.startswith(SOURCE_SETTINGS)] + list(HISTORY_SETTINGS)
    lines = ["environment variables (also read from .env in the current directory):"]
    lines += [f"  {s.env:<24} {s.help} (default: {s.default!r})" for s in shown]
    parser.epilog = EPILOG_HEAD + "\n" + "\n".join(lines)


def day_range(args: argparse.Namespace, tz: str, now: datetime) -> tuple[date, date]:
    """START..END from the arguments; ValueError with the message for exit 2.

    Days after today (in `tz`) are refused: they have no data yet, and rows written for them would
    read as real zeros. Today is allowed; it is stored as a partial day that a later run completes."""
    if getattr(args, "this", None) is not None:
        if args.start is not None or args.days is not None:
            raise ValueError("give one of START END, --days N or --this week|month")
        today = now.astimezone(ZoneInfo(tz)).date()
        return (week_start(today) if args.this == "week" else month_start(today)), today
    if args.days is not None:
        if args.start is not None:
            raise ValueError("give either START END or --days N, not both")
        end = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
        start = end - timedelta(days=args.days - 1)
        if start < FIRST_DAY:
            raise ValueError(f"--days {args.days} starts before {FIRST_DAY}")
        return start, end
    if args.start is None or args.end is None:
        raise ValueError("give START and END (YYYY-MM-DD), or --days N")
    if args.end < args.start:
        raise ValueError(f"END {args.end} is before START {args.start}")
    today = now.astimezone(ZoneInfo(tz)).date()
    if args.end > today:
        raise ValueError(f"END {args.end} is after today ({today} in {tz}): future days have no data yet")
    return args.start, args.end


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, out: TextIO = sys.stderr):
        self.total, self.done, self.out = total, 0, out
        self.on = total > 0 and out.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if self.on:
            filled = 30 * self.done // self.total
            bar = "#" * filled + "." * (30 - filled)
            self.out.write(f"\r[{bar}] {self.done}/{self.total} {label:<12}")
            self.out.flush()

    def close(self) -> None:
        if self.on:
            self.out.write("\n")
            self.out.flush()
            self.on = False


def covering(start: date, end: date, first: Any, following: Any) -> list[date]:
    """Starts of the periods (weeks via week_start, months via month_start) that overlap start..end."""
    out, key = [], first(start)
    while key <= end:
        out.append(key)
        key = following(key)
    return out


@dataclass
class Summary:
    days: int = 0
    skipped: int = 0
    weeks: int = 0
    months: int = 0
    cohort_weeks: int = 0  # weekly_retention rows
    running: int = 0  # weeks and months not over yet: not written
    rows: sql.Changes = field(default_factory=sql.Changes)

    def line(self) -> str:
        rows = self.rows
        return (
            f"{self.days} days written, {self.skipped} already stored (skipped), {self.weeks} weeks, "
            f"{self.months} months, {self.cohort_weeks} cohort weeks, {self.running} weeks/months not over "
            "yet (not written); stored rows: "
            f"{rows.changed} changed, {rows.removed} removed, {rows.new} new, {rows.unchanged} unchanged"
        )


def over(key: date, following: Any, zone: str, now: datetime) -> bool:
    """Whether the week or month starting on `key` has ended in `zone` (partial ones are not stored:
    their rows carry no time stamp, so a later reader could not tell them from complete ones)."""
    return local_midnight(following(key), zone) <= now


def export(
    src: compute.Source, store: sql.Store, start: date, end: date, force: bool, now: datetime | None = None
) -> Summary:
    """Write the requested days, then every week and month that needs it. Returns what was done.

    A day's transaction marks its week and month rows pending instead of deleting them, so a reader
    always sees a row; a run that stops after its days leaves them pending, and the next run of the
    range recomputes every pending row."""
    now = now or datetime.now(timezone.utc)
    src = replace(src, reader=src.reader.at(now))  # what has expired at `now` is hidden
    summary = Summary()
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    stored = {} if force else store.stored_days(start, end)

    def complete(day: date, stamp: datetime | None) -> bool:
        """Stored after the day had ended (rows written by other tools carry no time: trusted)."""
        return stamp is None or stamp >= local_midnight(day + timedelta(days=1), src.zone).replace(
            tzinfo=None
        )

    todo = [d for d in days if not (d in stored and complete(d, stored[d]))]
    touched = set(todo)

    def held(first: date, last: date) -> dict[date, set[str]]:
        """The stored activity of the days stored complete that this run does not rewrite (days written
        by other tools have none)."""
        done = {d for d, stamp in store.stored_days(first, last).items() if complete(d, stamp)} - touched
        return {d: users for d, users in store.stored_activity(first, last).items() if d in done}

    src = replace(src, activities={"now": engagement.Activity(src.reader, src.zone, held)})
    summary.skipped = len(days) - len(todo)
    all_weeks = covering(start, end, week_start, next_week)
    all_months = covering(start, end, month_start, next_month)
    before_w = store.period_rows(sql.WEEKLY, all_weeks)
    before_m = store.period_rows(sql.MONTHLY, all_months)
    weeks = [w for w in all_weeks if over(w, next_week, src.zone, now)]
    months = [m for m in all_months if over(m, next_month, src.zone, now)]
    summary.running = len(all_weeks) + len(all_months) - len(weeks) - len(months)
    cohorts = [w for w in engagement.retention_weeks(start, end) if over(w, next_week, src.zone, now)]
    before_r = store.period_rows(sql.WEEKLY_RETENTION, cohorts)
    if not force:
        pending_w, pending_m = store.pending(sql.WEEKLY, weeks), store.pending(sql.MONTHLY, months)
        pending_r = store.pending(sql.WEEKLY_RETENTION, cohorts)
        weeks = [
            w
            for w in weeks
            if (w,) not in before_w or w in pending_w or any(week_start(d) == w for d in touched)
        ]
        months = [
            m
            for m in months
            if (m,) not in before_m or m in pending_m or any(month_start(d) == m for d in touched)
        ]
        cohorts = [
            w
            for w in cohorts
            if w in pending_r or _cohort_stale(w, before_r.get((w,)), touched, src.zone, now)
        ]
    summary.rows += store.upsert(sql.AGENT_INFO, compute.agent_info_rows(src.reader))
    progress = Progress(len(todo) + len(weeks) + len(months) + len(cohorts))
    try:
        for day in todo:
            stamp = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
            periods = (
                (sql.WEEKLY, week_start(day)),
                (sql.MONTHLY, month_start(day)),
                *((sql.WEEKLY_RETENTION, w) for w in engagement.retention_weeks(day, day)),
            )
            rows = compute.day_rows(src, day)
            users = src.activity().users(day, day)
            summary.rows += store.replace_day(day, rows, stamp, periods, users)
            log.debug("day %s written", day)
            summary.days += 1
            progress.step(str(day))
        for table, keys, before in ((sql.WEEKLY, weeks, before_w), (sql.MONTHLY, months, before_m)):
            for key in keys:
                weekly = table is sql.WEEKLY
                row = compute.week_row(src, key) if weekly else compute.month_row(src, key)
                store.replace_period(table, row)
                summary.rows.add({(key,): before[(key,)]} if (key,) in before else {}, table.keyed([row]))
                summary.weeks += weekly
                summary.months += not weekly
                progress.step(f"week {key}" if weekly else f"month {key:%Y-%m}")
        for key in cohorts:  # after the days (their transactions marked these rows pending), like weeks
            row = engagement.weekly_retention_row(src.activity(), key, now)
            store.replace_period(sql.WEEKLY_RETENTION, row)
            summary.rows.add(
                {(key,): before_r[(key,)]} if (key,) in before_r else {}, sql.WEEKLY_RETENTION.keyed([row])
            )
            summary.cohort_weeks += 1
            progress.step(f"cohort week {key}")
    finally:
        progress.close()
    return summary


def _cohort_stale(monday: date, stored: tuple | None, touched: set[date], zone: str, now: datetime) -> bool:
    """Whether a weekly_retention row must be (re)written: missing, one of the days it depends on was
    written in this run, or a column stored as NULL (not final then) is final now."""
    if stored is None or any(
        monday <= d <= monday + timedelta(days=engagement.LAST_DAY_OFFSET) for d in touched
    ):
        return True
    final = [engagement.retained_final(monday, n, zone, now) for n in engagement.RETENTION_DAYS]
    return any(value is None and done for value, done in zip(stored[1:], final, strict=True))


def run(
    settings: Settings,
    target: sql.Target,
    start: date,
    end: date,
    force: bool,
    csv_table: str | None = None,
    user_details: bool = False,
    prepare: Callable[[Settings], Settings] | None = None,
    report_format: str | None = None,
) -> Summary:
    """Connect to both databases and export; any database failure becomes Fatal.

    The SQL database is opened first (and created when missing and allowed), so a target that cannot
    work stops the run before any MongoDB work (`prepare`, the demo's seeding, runs after it). The
    MongoDB database must pass the target check before any table is created or row written: a wrong
    database name or server reads as an empty LibreChat, and its zeros must never replace real rows."""
    client = None
    store: sql.Store | None = None
    try:
        if csv_table is None and report_format is None:  # the report needs no SQL database
            store = _open(target)
        if prepare is not None:
            settings = prepare(settings)
        client = connect(settings)
        reader = Reader.from_settings(client, settings)
        try:
            reader.ping()
        except PyMongoError as err:
            where = redact(settings.mongodb_uri)
            raise Fatal(f"MongoDB at {where}: {describe(err, 500)}{_again(transient(err))}") from None
        check = check_target(client, settings.mongodb_database, reader.tenant)
        if not check.ok:
            where = redact(settings.mongodb_uri)
            raise Fatal(f"MongoDB at {where}: {check.reason()}; nothing exported", code=2)
        source = compute.resolve_token_source(reader, settings.token_source)
        agents = tally.agent_models(reader)
        src = compute.Source(reader, settings.timezone, source, agents, user_details=user_details)
        if csv_table is not None:
            n = csvout.write_csv(src, csv_table, start, end, sys.stdout)
            log.info("%d rows of %s for %s to %s written as CSV", n, csv_table, start, end)
            return Summary()
        if report_format is not None:
            write_report(src, start, end, report_format, reader.tenant)
            return Summary()
        assert store is not None  # opened above: only --csv and --report run without it
        scope = {"mongodb_database": settings.mongodb_database, "tenant_id": reader.tenant or ""}
        try:
            store.ensure_schema(scope)
        except sql.ScopeMismatch as err:
            raise Fatal(f"SQL database {target.describe()} {err}; nothing exported", code=2) from None
        except sql.ColumnMismatch as err:
            raise Fatal(f"SQL database {target.describe()}: {err}; nothing exported", code=2) from None
        log.info(
            "exporting %s to %s (zone %s, token source %s) from %s database %r into %s",
            start,
            end,
            settings.timezone,
            source,
            redact(settings.mongodb_uri),
            settings.mongodb_database,
            target.describe(),
        )
        return export(src, store, start, end, force)
    except InvalidName as err:  # a.b, $x, empty: a bad setting
        raise Fatal(f"MONGODB_DATABASE {settings.mongodb_database!r}: {_short(err)}", code=2) from None
    except PyMongoError as err:
        raise Fatal(f"MongoDB: {describe(err, 500)}{_again(transient(err))}") from None
    except sql.MissingDatabase as err:
        raise Fatal(f"SQL database {target.describe()} {err}", code=2) from None
    except sql.errors() as err:
        text = target.hide(_one_line(sql.describe_error(err)))
        hint = f"; {RIGHTS_HINT}" if DENIED.search(text) else ""
        raise Fatal(f"SQL database {target.describe()}: {text}{hint}{_again(sql.transient(err))}") from None
    finally:
        if store is not None:
            store.close()
        if client is not None:
            client.close()


def write_report(src: compute.Source, start: date, end: date, fmt: str, tenant: str | None) -> None:
    """Build the report of start..end (a progress bar on a terminal's stderr) and print it."""
    progress = Progress(build.steps(start, end))
    try:
        report = build.build(src, start, end, step=progress.step, tenant=tenant)
    finally:
        progress.close()
    sys.stdout.write(render.render(report, fmt))
    log.info("report for %s to %s written as %s", start, end, fmt)


AGAIN = "; repeat the run (it resumes where it stopped)"


def _again(repeatable: bool) -> str:
    """The advice to repeat, for errors a later run may not meet (a lost connection, a timeout), and
    only for those: a deterministic failure would fail the same way again."""
    return AGAIN if repeatable else ""


DENIED = re.compile(r"command denied|permission denied|must be owner|denied for user .* to database", re.I)
RIGHTS_HINT = (
    "the SQL user needs SELECT, INSERT, UPDATE and DELETE on the tables (and CREATE, ALTER while "
    "tables or columns are missing)"
)


def _open(target: sql.Target) -> sql.Store:
    """Connect to the SQL database; a driver that cannot be imported is Fatal (one line)."""
    try:
        return target.connect()
    except ImportError as err:
        driver = "psycopg" if target.dialect == "postgresql" else "PyMySQL"
        raise Fatal(f"SQL driver {driver} for {target.describe()} cannot be loaded: {_short(err)}") from None


def _short(err: BaseException) -> str:
    """One line of an error (MongoDB's errors go through mongo.describe instead)."""
    return _one_line(str(err)) or type(err).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_cli(argv, DESCRIPTION, extra=add_arguments)
    prog = os.path.basename(sys.argv[0]) if argv is None else "export_metrics.py"
    try:
        history = load(os.environ, HistorySettings)
        target, user_details = history.target(), history.export_user_details
    except SettingError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    if args.report and (args.csv or args.force):
        print(f"{prog}: error: --report cannot be combined with --csv or --force", file=sys.stderr)
        return 2
    if args.timezone:
        settings = settings.replace(timezone=args.timezone)
    try:
        start, end = day_range(args, settings.timezone, datetime.now(timezone.utc))
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    prepare: Callable[[Settings], Settings] | None = None
    if args.demo:
        from ..demo.hooks import check
        from ..demo.hooks import export as demo

        check("export_metrics.py", live=False)  # mongoeco missing: exit 2 before anything is opened
        prepare = functools.partial(demo, first=start)  # seeds after the SQL database is opened
    began = time.monotonic()
    try:
        with values.running("export"):
            fmt = args.format if args.report else None
            summary = run(settings, target, start, end, args.force, args.csv, user_details, prepare, fmt)
    except Fatal as err:
        log.error("export failed: %s", err)
        return err.code
    except KeyboardInterrupt:
        log.error("export interrupted; every day written so far is complete")
        return 130
    except Exception as err:  # a bug: one line by default, the traceback with LOGGING_LEVEL=debug
        log.error("export failed: unexpected %s: %s", type(err).__name__, _short(err))
        log.debug("traceback", exc_info=True)
        return 1
    if args.csv is None and not args.report:
        log.info("done in %.1f s: %s", time.monotonic() - began, summary.line())
    left_out = {f: n for (job, f), n in sorted(values.skipped().items()) if job == "export"}
    if left_out:  # as the exporter's librechat_exporter_skipped_values_total
        shown = ", ".join(f"{f} {n}" for f, n in left_out.items())
        log.info("values left out (not a number, id or date where one belongs): %s", shown)
    return 0
