"""End to end: export_metrics.py as a process, mongoeco as the source, real MariaDB and PostgreSQL.

Every test creates and drops its own database. Expected rows come from tests.oracle only.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import pty
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from pymongo import MongoClient

from librechat_metrics.history import sql
from librechat_metrics.synthetic import generate, malformed_corpus
from tests.oracle import agent_info_rows, history_rows
from tests.support.mongo import start_mongoeco

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)
# Wednesday to Wednesday (3 weeks and a day), in February and March: partial weeks and months at both
# ends. Each exported day reads up to 56 days back (churn), so a longer range costs CI minutes, not cover.
START, END = date(2025, 2, 12), date(2025, 3, 5)
ZONES = ("UTC", "Europe/Berlin")
DAILY = [t.name for t in sql.DAILY]
OWN_SETTINGS = re.compile(r"^(MONGODB_|MYSQL_|HISTORY_|EXPORT_|TIMEZONE$|TOKEN_SOURCE$|LOGGING_)")


# --- SQL databases -----------------------------------------------------------------------------------


class SqlDb:
    """A fresh, uniquely named database on the local MariaDB or PostgreSQL; dropped by drop()."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.name = f"hist_{uuid.uuid4().hex[:12]}"
        if dialect == "mysql":
            self.user = "root"
            with self._admin() as conn, conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
            self.url = f"mysql://root@127.0.0.1:3306/{self.name}"
        else:
            self.user = pg_user()
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = f"postgresql://{self.user}@127.0.0.1:5432/{self.name}"

    def _admin(self) -> Any:
        if self.dialect == "mysql":
            return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        return psycopg.connect(
            host="127.0.0.1", port=5432, user=self.user, dbname="postgres", autocommit=True
        )

    def connect(self) -> Any:
        if self.dialect == "mysql":
            return pymysql.connect(host="127.0.0.1", user="root", database=self.name, autocommit=True)
        return psycopg.connect(host="127.0.0.1", user=self.user, dbname=self.name, autocommit=True)

    def query(self, text: str, params: Any = None) -> list[tuple]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(text, params)
            return [tuple(row) for row in cur.fetchall()] if cur.description else []
        finally:
            conn.close()

    def q(self, name: str) -> str:
        return f"`{name}`" if self.dialect == "mysql" else f'"{name}"'

    def rows(self, table: str) -> set[tuple]:
        """The table's rows, in the original column order (the added computed_at left out)."""
        (spec,) = [t for t in sql.TABLES if t.name == table]
        columns = ", ".join(self.q(c) for c in spec.names)
        return set(self.query(f"SELECT {columns} FROM {self.q(table)}"))

    def snapshot(self) -> dict[str, set[tuple]]:
        return {t.name: self.rows(t.name) for t in sql.TABLES}

    def drop(self) -> None:
        with self._admin() as conn:
            if self.dialect == "mysql":
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            else:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def pg_user() -> str:
    for user in ("postgres", "root"):
        try:
            psycopg.connect(
                host="127.0.0.1", port=5432, user=user, dbname="postgres", connect_timeout=5
            ).close()
            return user
        except psycopg.OperationalError:
            continue
    raise RuntimeError("no PostgreSQL superuser (postgres or root) on 127.0.0.1:5432")


@pytest.fixture(params=["mysql", "postgresql"])
def any_db(request) -> Iterator[SqlDb]:
    db = SqlDb(request.param)
    yield db
    db.drop()


@pytest.fixture
def mariadb() -> Iterator[SqlDb]:
    db = SqlDb("mysql")
    yield db
    db.drop()


# --- MongoDB side --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[dict, Any]]:
    """A v0.8.8 dataset (transactions, agents, schedule runs) that nobody changes, served over the wire."""
    collections = generate(profile="v0.8.8", seed=11, n_messages=1800, now=NOW, zones=ZONES, history_days=90)
    server = start_mongoeco(collections.collections)
    yield collections.collections, server
    server.stop()


@pytest.fixture(scope="module")
def editable() -> Iterator[tuple[dict, Any]]:
    """Like `served`, for tests that edit documents over the wire (they edit the local copy too)."""
    collections = generate(profile="v0.8.7", seed=12, n_messages=1200, now=NOW, zones=ZONES, history_days=60)
    server = start_mongoeco(collections.collections)
    yield copy.deepcopy(collections.collections), server
    server.stop()


def edit_messages(
    collections: dict, server: Any, day: date, changes: dict[str, Any], zone: str = "UTC"
) -> int:
    """Apply `changes` to the assistant messages of `day`, on the server and in `collections`."""
    lo = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    chosen = [
        m
        for m in collections["messages"]
        if m.get("isCreatedByUser") is False
        and isinstance(m.get("createdAt"), datetime)
        and lo <= m["createdAt"] < lo + timedelta(days=1)
    ]
    assert chosen, f"no assistant message on {day}"
    client = MongoClient(server.uri, tz_aware=True)
    try:
        for message in chosen:
            client["LibreChat"]["messages"].update_one({"_id": message["_id"]}, {"$set": changes})
            message.update(changes)
    finally:
        client.close()
    return len(chosen)


# --- running the export ----------------------------------------------------------------------------


def env_for(
    server: Any, db: SqlDb | None, zone: str = "UTC", token_source: str = "auto", **extra: str
) -> dict:
    env = {k: v for k, v in os.environ.items() if not OWN_SETTINGS.match(k)}
    env.update(MONGODB_URI=server.uri, TIMEZONE=zone, TOKEN_SOURCE=token_source, MONGODB_TIMEOUT="5")
    if db is not None:
        env["HISTORY_DATABASE_URL"] = db.url
    env.update(extra)
    return env


def export(server: Any, db: SqlDb | None, *args: Any, expect: int = 0, **settings: str):
    done = subprocess.run(
        [PYTHON, str(ROOT / "export_metrics.py"), *map(str, args)],
        env=env_for(server, db, **settings),
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == expect, done.stderr
    assert "Traceback" not in done.stderr
    assert "\r[" not in done.stderr  # no progress bar when stderr is not a terminal
    return done


# --- comparing -----------------------------------------------------------------------------------


def keyed(table: str, rows: set[tuple]) -> dict[tuple, tuple]:
    (spec,) = [t for t in sql.TABLES if t.name == table]
    return {row[: spec.keys]: row[spec.keys :] for row in rows}


def assert_rows_equal(got: dict[str, set[tuple]], want: dict[str, set[tuple]], tables: Any = None) -> None:
    """Same keys in every table; numbers equal by value (floats to 1e-9, relative), text and NULL exactly."""
    for table in tables or want:
        g, w = keyed(table, got[table]), keyed(table, want[table])
        assert set(g) == set(w), (
            f"{table}: missing {sorted(set(w) - set(g))[:5]}, extra {sorted(set(g) - set(w))[:5]}"
        )
        for key, values in w.items():
            for a, b in zip(g[key], values, strict=True):
                exact = b is None or a is None or isinstance(b, str)  # NULL and text: exactly
                same = a == b if exact else math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                assert same, f"{table}{key}: got {g[key]}, want {values}"


def only_days(rows: dict[str, set[tuple]], days: set[date]) -> dict[str, set[tuple]]:
    """The daily tables' rows of `days`."""
    return {table: {r for r in rows[table] if r[0] in days} for table in DAILY}


def days_between(start: date, end: date) -> set[date]:
    return {start + timedelta(days=i) for i in range((end - start).days + 1)}


# --- acceptance -------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_every_row_equals_the_oracle(served, any_db, zone):
    collections, server = served
    done = export(server, any_db, START, END, zone=zone)
    assert "token source transactions" in done.stderr
    assert_rows_equal(any_db.snapshot(), history_rows(collections, START, END, zone, "auto"))
    weeks = {row[0] for row in any_db.rows("weekly_users")}
    assert min(weeks) == date(2025, 2, 10) and max(weeks) == date(2025, 3, 3)  # whole weeks around the range


def test_messages_token_source_equals_the_oracle(served, mariadb):
    collections, server = served
    export(server, mariadb, START, END, zone="Europe/Berlin", token_source="messages")
    assert_rows_equal(mariadb.snapshot(), history_rows(collections, START, END, "Europe/Berlin", "messages"))


def test_auto_without_transactions_counts_message_tokens(any_db):
    data = generate(profile="v0.6", seed=3, n_messages=500, now=NOW, zones=ZONES, history_days=30).collections
    data["transactions"] = [t for t in data["transactions"] if t["tokenType"] == "credits"]  # no balance
    server = start_mongoeco(data)
    try:
        start, end = date(2025, 2, 26), date(2025, 3, 18)
        done = export(server, any_db, start, end, zone="Europe/Berlin")
        assert "token source messages" in done.stderr
        assert_rows_equal(any_db.snapshot(), history_rows(data, start, end, "Europe/Berlin", "auto"))
    finally:
        server.stop()


def test_rerun_is_identical_and_only_force_picks_up_edits(editable, mariadb):
    collections, server = editable
    start, end = date(2025, 2, 10), date(2025, 3, 2)
    export(server, mariadb, start, end)
    first = mariadb.snapshot()
    assert_rows_equal(first, history_rows(collections, start, end, "UTC", "auto"))
    done = export(server, mariadb, start, end)
    assert "0 days written, 21 already stored" in done.stderr
    assert mariadb.snapshot() == first

    edit_messages(collections, server, date(2025, 2, 20), {"model": "edited-model", "error": True})
    export(server, mariadb, start, end)
    assert mariadb.snapshot() == first  # stored, complete days are not recomputed without --force
    export(server, mariadb, "--force", start, end)
    after = mariadb.snapshot()
    assert after != first
    assert_rows_equal(after, history_rows(collections, start, end, "UTC", "auto"))


def test_second_overlapping_range_changes_only_its_own_days(editable, any_db):
    collections, server = editable
    a_start, a_end = date(2025, 2, 3), date(2025, 2, 23)  # three whole weeks of February
    b_start, b_end = date(2025, 2, 19), date(2025, 3, 9)  # overlaps A's last five days, runs into March
    export(server, any_db, a_start, a_end)
    for day in (date(2024, 6, 1), date(2030, 1, 1)):  # far outside both, as an older run may have left them
        any_db.query("INSERT INTO daily_messages VALUES (%s, 7, 3)", (day,))
        any_db.query("INSERT INTO weekly_users VALUES (%s, 9)", (day - timedelta(days=day.weekday()),))
    before = any_db.snapshot()

    only_a = f"only-in-a-{uuid.uuid4().hex[:6]}"
    edit_messages(collections, server, date(2025, 2, 12), {"model": only_a})  # in A only
    edit_messages(collections, server, date(2025, 2, 21), {"model": f"in-both-{uuid.uuid4().hex[:6]}"})
    export(server, any_db, "--force", b_start, b_end)
    after = any_db.snapshot()

    in_b = days_between(b_start, b_end)
    untouched = {d for d in days_between(date(2024, 1, 1), date(2030, 12, 31)) if d not in in_b}
    assert only_days(after, untouched) == only_days(before, untouched)
    assert any(r[1] == only_a for r in history_rows(collections, a_start, a_end)["daily_messages_by_model"])
    assert not any(r[1] == only_a for r in after["daily_messages_by_model"])  # A's day kept its old rows
    want_b = history_rows(collections, b_start, b_end, "UTC", "auto")
    assert_rows_equal(only_days(after, in_b), only_days(want_b, in_b), DAILY)
    # B's weeks and months are recomputed over their whole span; the others are as they were.
    b_weeks = {r[0] for r in want_b["weekly_users"]}
    assert {r for r in after["weekly_users"] if r[0] in b_weeks} == want_b["weekly_users"]
    assert {r for r in after["weekly_users"] if r[0] not in b_weeks} == {
        r for r in before["weekly_users"] if r[0] not in b_weeks
    }
    b_months = {r[0] for r in want_b["monthly_users"]}
    assert {r for r in after["monthly_users"] if r[0] in b_months} == want_b["monthly_users"]
    assert {(date(2024, 6, 1), 7, 3), (date(2030, 1, 1), 7, 3)} <= after["daily_messages"]


def test_agent_info_is_refreshed_by_every_export_and_keeps_deleted_agents(any_db):
    data = generate(profile="v0.8.8", seed=4, n_messages=300, now=NOW, zones=ZONES, history_days=10)
    data = data.collections
    server = start_mongoeco(data)
    try:
        export(server, any_db, "2025-03-18", "2025-03-19")
        first = agent_info_rows(data)
        assert any_db.rows("agent_info") == first and len(first) >= 2
        gone, renamed = sorted(first)[:2]
        client = MongoClient(server.uri)
        try:
            agents = client["LibreChat"]["agents"]
            assert agents.delete_many({"id": gone[0]}).deleted_count >= 1
            agents.update_many({"id": renamed[0]}, {"$set": {"name": "Renamed", "model": "gpt-x"}})
        finally:
            client.close()
        done = export(server, any_db, "2025-03-18", "2025-03-19")  # no day to write: agents still read
        assert "0 days written, 2 already stored" in done.stderr
        want = (first - {renamed}) | {(renamed[0], "Renamed", "gpt-x")}
        assert any_db.rows("agent_info") == want  # the deleted agent keeps its last known name
        out = export(server, None, "--csv", "agent_info", "2025-03-18", "2025-03-19").stdout
        header, *rows = csv.reader(io.StringIO(out))
        assert header == ["agent_id", "name", "model"]  # --csv: the agents as MongoDB holds them now
        assert {tuple(row) for row in rows} == want - {gone}
    finally:
        server.stop()


def test_a_day_stored_before_it_ended_is_recomputed(served, mariadb):
    _, server = served
    today = datetime.now(timezone.utc).date()
    export(server, mariadb, today, today)
    done = export(server, mariadb, today, today)
    assert "1 days written, 0 already stored" in done.stderr  # still running when stored: done again
    yesterday = today - timedelta(days=1)
    export(server, mariadb, yesterday, yesterday)
    done = export(server, mariadb, yesterday, yesterday)
    assert "0 days written, 1 already stored" in done.stderr


def test_progress_bar_on_a_terminal(served, mariadb):
    _, server = served
    main, child = pty.openpty()
    command = [PYTHON, str(ROOT / "export_metrics.py"), "2025-02-01", "2025-02-03"]
    proc = subprocess.Popen(command, env=env_for(server, mariadb), stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    text = b"".join(chunks).decode(errors="replace")
    # 3 days (Saturday to Monday), 2 weeks, 1 month, and 6 signup-cohort weeks (those whose members'
    # day 1, 7 or 30 can fall in the range: Mondays from 2024-12-30 to 2025-02-03)
    assert "\r[" in text and "12/12" in text and "Traceback" not in text, text


def kill_sessions(db: SqlDb) -> int:
    """Kill every connection to `db` except the one asking; returns how many were killed."""
    if db.dialect == "mysql":
        conn = db.connect()
        try:
            cur = conn.cursor()
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                (db.name,),
            )
            ids = [row[0] for row in cur.fetchall()]
            for session in ids:
                cur.execute(f"KILL {int(session)}")
            return len(ids)
        finally:
            conn.close()
    others = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    rows = db.query(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS s", (db.name,))
    return len(rows)


def test_killing_the_sql_connection_leaves_no_partial_day(served, any_db):
    collections, server = served
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "export_metrics.py"), str(START), str(END)],
        env=env_for(server, any_db),
        cwd=ROOT / "tests",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (_has_table(any_db) and any_db.query("SELECT 1 FROM daily_users LIMIT 1")):
            assert proc.poll() is None, "the export ended before its first day was committed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGSTOP)  # freeze it wherever it is, even inside a day's transaction
        try:
            assert kill_sessions(any_db) == 1
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "export failed: SQL database" in stderr

    want = history_rows(collections, START, END, "UTC", "auto")
    stored = {row[0] for row in any_db.rows("daily_users")}
    assert 1 <= len(stored) < len(days_between(START, END))
    got = any_db.snapshot()
    for table in DAILY:
        assert {r[0] for r in got[table]} <= stored, f"{table} has rows of a day that is not complete"
    assert_rows_equal(only_days(got, stored), only_days(want, stored), DAILY)

    export(server, any_db, START, END)
    assert_rows_equal(any_db.snapshot(), want)


def _has_table(db: SqlDb) -> bool:
    if db.dialect == "mysql":
        found = (
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'daily_users'"
        )
    else:
        found = (
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = %s AND table_name = 'daily_users'"
        )
    return bool(db.query(found, (db.name,)))


def test_sql_unreachable_is_one_line_without_the_password(served):
    _, server = served
    done = subprocess.run(
        [PYTHON, str(ROOT / "export_metrics.py"), str(START), str(START)],
        env=env_for(server, None, HISTORY_DATABASE_URL="mysql://root:hunter22@127.0.0.1:9/nothing"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SQL database mysql://root@127.0.0.1:9/nothing" in lines[0], done.stderr
    assert "hunter22" not in done.stderr


def grafana_sql(text: str, lo: datetime, hi: datetime, dialect: str = "mysql") -> str:
    """Substitute the Grafana time macros the dashboard uses, as Grafana's MySQL datasource does; for
    PostgreSQL, as its PostgreSQL datasource does, with the dashboard's two MySQL spellings (backtick
    identifiers, DATE_SUB) turned into PostgreSQL's: the same panels on a PostgreSQL history."""
    a, b = int(lo.timestamp()), int(hi.timestamp())
    if dialect == "mysql":
        at = "FROM_UNIXTIME({})"
    else:
        at = "(to_timestamp({}) AT TIME ZONE 'UTC')"
        text = re.sub(r"DATE_SUB\((.+?\)\)), INTERVAL (\d+) (DAY|MONTH)\)", r"(\1 - INTERVAL '\2 \3')", text)
        text = text.replace("`", '"')
    text = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m.group(1)} BETWEEN {at.format(a)} AND {at.format(b)}",
        text,
    )
    text = text.replace("$__timeFrom()", at.format(a)).replace("$__timeTo()", at.format(b))
    assert "$" not in text, f"a macro the test does not know: {text}"
    assert dialect == "mysql" or "DATE_SUB" not in text, text
    return text


def test_every_dashboard_query_runs_and_returns_rows(served, any_db):
    _, server = served
    export(server, any_db, START, END)
    dashboard = json.loads((ROOT / "historic-analysis" / "Grafana-Dashboard-template.json").read_text())
    lo = datetime(START.year, START.month, START.day, tzinfo=timezone.utc)
    hi = datetime(END.year, END.month, END.day, 23, 59, 59, tzinfo=timezone.utc)
    results = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            rows = any_db.query(grafana_sql(target["rawSql"], lo, hi, any_db.dialect))
            assert rows, f"panel {panel['title']!r} returned no rows"
            results[panel["title"]] = rows
    # the range tables add up the days: spend per model, agents with their names, groups
    stored = any_db.snapshot()
    spend = sum(r[2] for r in stored["daily_cost_by_model"] if START <= r[0] <= END)
    assert math.isclose(sum(r[5] for r in results["Range totals per model"]), spend, rel_tol=1e-9)
    names = {agent_id: name for agent_id, name, _ in stored["agent_info"]}
    agents = results["Agents in the time range"]
    assert {row[0] for row in agents} == {names.get(row[7], row[7]) for row in agents}
    assert any(row[0] != row[7] for row in agents)  # names, not ids
    replies = sum(r[2] for r in stored["daily_replies_by_agent"] if START <= r[0] <= END)
    assert sum(row[2] for row in agents) == replies
    groups = {row[0] for row in results["Groups in the time range"]}
    assert groups == {r[1] for r in stored["daily_cost_by_group"] if START <= r[0] <= END}
    per_user = [row[1] for row in results["Messages and tokens per user"] if row[1] is not None]
    assert any(v != int(v) for v in per_user)  # a ratio of counts, not PostgreSQL's integer division


def test_init_sql_creates_the_tables_the_export_creates(mariadb):
    other = SqlDb("mysql")
    try:
        conn = mariadb.connect()
        try:
            text = (ROOT / "historic-analysis" / "mariadb-init" / "init.sql").read_text()
            code = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
            for statement in filter(str.strip, code.split(";")):
                conn.cursor().execute(statement)
        finally:
            conn.close()
        store = sql.Target.from_url(other.url).connect()
        try:
            store.ensure_schema()
        finally:
            store.close()
        describe = (
            "SELECT table_name, column_name, ordinal_position, column_type, is_nullable, collation_name, "
            "column_key FROM information_schema.columns WHERE table_schema = %s"
        )
        assert set(mariadb.query(describe, (mariadb.name,))) == set(other.query(describe, (other.name,)))
    finally:
        other.drop()


def test_older_tables_are_kept_and_extended(served, mariadb):
    """Tables from the original init.sql (INT columns, no computed_at, no daily_tokens_by_user)."""
    _, server = served
    conn = mariadb.connect()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE daily_users (date DATE PRIMARY KEY, unique_users INT NOT NULL)")
        cur.execute("CREATE TABLE monthly_users (month_start DATE PRIMARY KEY, unique_users INT NOT NULL)")
        cur.execute("INSERT INTO daily_users VALUES ('2024-05-05', 4)")
        cur.execute("INSERT INTO monthly_users VALUES ('2024-05-01', 11)")
    finally:
        conn.close()
    export(server, mariadb, "2025-02-27", "2025-03-02")
    assert (date(2024, 5, 5), 4) in mariadb.rows("daily_users")
    assert (date(2024, 5, 1), 11) in mariadb.rows("monthly_users")
    assert mariadb.rows("daily_tokens_by_user")


def test_malformed_documents_do_not_break_the_export(any_db):
    now = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)
    data = generate(
        profile="v0.8.7", seed=5, n_messages=400, now=now, zones=ZONES, history_days=10
    ).collections
    for name, docs in malformed_corpus(now, seed=3).items():
        data.setdefault(name, []).extend(docs)
    server = start_mongoeco(data)
    try:
        start, end = date(2025, 3, 10), date(2025, 3, 20)
        for token_source, details in (("transactions", False), ("messages", True)):
            on = {"EXPORT_USER_DETAILS": "true"} if details else {}
            export(
                server, any_db, "--force", start, end, zone="Europe/Berlin", token_source=token_source, **on
            )
            want = history_rows(data, start, end, "Europe/Berlin", token_source, details)
            assert_rows_equal(any_db.snapshot(), want)
        assert any(row[7] is not None for row in want["daily_user_messages"])  # e-mails were compared
    finally:
        server.stop()
