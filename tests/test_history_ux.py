"""History export for operators: 1970 dates, exit-1 wording, column types, a missing SQL database,
`--csv` computing only its table and streaming it, CSV numbers.

Expected rows come from tests.oracle only.
"""

from __future__ import annotations

import csv
import io
import math
import os
import struct
import subprocess
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pymysql
import pytest
from bson import ObjectId
from pymongo.errors import AutoReconnect

from librechat_metrics.history import cli, compute, sql
from librechat_metrics.mongo import Reader
from librechat_metrics.synthetic import generate
from tests import test_history_e2e as e2e
from tests.oracle import history_rows
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import PYTHON, ROOT, SqlDb, assert_rows_equal, env_for, export, pg_user

served, any_db, mariadb = e2e.served, e2e.any_db, e2e.mariadb

START, END = date(2025, 2, 3), date(2025, 2, 9)  # one whole week


class NOWHERE:
    uri = "mongodb://127.0.0.1:9/"  # no MongoDB listens there


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line]


# --- 1970 ---------------------------------------------------------------------------------------------


def shifted_to_1970(collections: dict[str, list[dict]], delta: timedelta) -> dict[str, list[dict]]:
    """`collections` moved back by `delta`: dates, ObjectIds and ObjectId hex strings alike (so users,
    messages and transactions still join). An ObjectId that would fall before 1970 gets time 1 s."""
    moved: dict[ObjectId, ObjectId] = {}

    def oid(value: ObjectId) -> ObjectId:
        if value not in moved:
            seconds = max(1, int(value.generation_time.timestamp() - delta.total_seconds()))
            moved[value] = ObjectId(struct.pack(">I", seconds) + value.binary[4:])
        return moved[value]

    for docs in collections.values():  # every ObjectId first, so hex strings can be recognised
        for doc in docs:
            if isinstance(doc.get("_id"), ObjectId):
                oid(doc["_id"])
    hexes = {str(old): old for old in moved}

    def move(value: Any) -> Any:
        if isinstance(value, datetime):
            return value - delta
        if isinstance(value, ObjectId):
            return oid(value)
        if isinstance(value, str) and value in hexes:
            return str(oid(hexes[value]))
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        return value

    return {name: [move(doc) for doc in docs] for name, docs in collections.items()}


def test_the_first_days_of_1970_export_like_any_other(any_db):
    """Each day reads weeks back (churn, retention): before 1970 for January 1970, where no ObjectId
    exists. Those bounds are clamped to the first ObjectId, so the days export and equal the oracle."""
    now = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)
    data = generate(profile="v0.8.7", seed=3, n_messages=150, now=now, zones=("UTC",), history_days=3)
    delta = datetime(2025, 3, 14, tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    collections = shifted_to_1970(data.collections, delta)
    start, end, zone = date(1970, 1, 2), date(1970, 1, 8), "America/New_York"
    want = history_rows(collections, start, end, zone, "auto")
    assert sum(row[1] for row in want["daily_messages"]) > 50  # the days have activity
    server = start_mongoeco(collections)
    try:
        export(server, any_db, start, end, zone=zone)
    finally:
        server.stop()
    assert_rows_equal(any_db.snapshot(), want)


# --- exit 1: "repeat" only when repeating can help -------------------------------------------------------


def test_only_transient_failures_say_repeat(served, mariadb):
    _, server = served
    down = export(server, mariadb, START, START, expect=1, MONGODB_URI="mongodb://127.0.0.1:9/")
    (line,) = error_lines(down.stderr)
    assert "MongoDB" in line and "repeat the run" in line, line  # unreachable: may work later

    export(server, mariadb, START, START)  # the schema exists; a user who may only read it:
    name = f"ro_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        with admin.cursor() as cur:
            for host in ("%", "localhost"):
                cur.execute(f"CREATE USER '{name}'@'{host}' IDENTIFIED BY 'pw'")
                cur.execute(f"GRANT SELECT ON `{mariadb.name}`.* TO '{name}'@'{host}'")
        url = f"mysql://{name}:pw@127.0.0.1:3306/{mariadb.name}"
        denied = export(server, mariadb, "--force", START, START, expect=1, HISTORY_DATABASE_URL=url)
        wrong = url.replace(":pw@", ":nope@")
        refused = export(server, mariadb, START, START, expect=1, HISTORY_DATABASE_URL=wrong)
    finally:
        with admin.cursor() as cur:
            for host in ("%", "localhost"):
                cur.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
        admin.close()
    for done, what in ((denied, "command denied"), (refused, "Access denied")):
        (line,) = error_lines(done.stderr)
        assert what in line and "repeat" not in line, line  # the same run fails the same way again


# --- column types ---------------------------------------------------------------------------------------


NARROWED = {  # table, column, the hand-made type, what the export writes there
    "mysql": [
        ("daily_cost_by_model", "spend_usd", "INT NOT NULL", "DOUBLE"),
        ("daily_users", "unique_users", "FLOAT NOT NULL", "BIGINT"),
        ("daily_tokens_by_user", "user", "VARCHAR(100) NOT NULL", "VARCHAR(255)"),
    ],
    "postgresql": [
        ("daily_cost_by_model", "spend_usd", "INTEGER", "DOUBLE PRECISION"),
        ("daily_tokens_by_model", "input_tokens", "REAL", "DOUBLE PRECISION"),
        ("daily_tokens_by_user", "user", "VARCHAR(100)", "VARCHAR(255)"),
    ],
}


def test_a_column_narrowed_by_hand_is_refused_naming_it(served, any_db):
    """Each hand-made narrowing is refused with a line that names it and changes no row; the line's
    own fix works, and the next export equals the oracle."""
    collections, server = served
    export(server, any_db, START, START)
    for table, column, narrow, expected in NARROWED[any_db.dialect]:
        if any_db.dialect == "mysql":
            alter = f"ALTER TABLE {any_db.q(table)} MODIFY {any_db.q(column)} {narrow}"
        else:
            alter = f"ALTER TABLE {any_db.q(table)} ALTER COLUMN {any_db.q(column)} TYPE {narrow}"
        any_db.query(alter)
        before = {t.name: sorted(any_db.rows(t.name), key=repr) for t in sql.TABLES}
        done = export(server, any_db, "--force", START, START, expect=2)
        (line,) = done.stderr.strip().splitlines()
        assert f"column {table}.{column} is {narrow.split()[0]}" in line, line
        assert f"expected {expected}" in line and "nothing exported" in line, line
        assert {t.name: sorted(any_db.rows(t.name), key=repr) for t in sql.TABLES} == before

        fix = line.split("change it once: ", 1)[1].split(";")[0]  # the line's own fix works
        any_db.query(fix)
    export(server, any_db, "--force", START, START)
    assert_rows_equal(any_db.snapshot(), history_rows(collections, START, START, "UTC", "auto"))


def test_a_missing_required_column_is_refused_naming_it(served, mariadb):
    _, server = served
    export(server, mariadb, START, START)
    mariadb.query("ALTER TABLE daily_errors_by_model DROP COLUMN error_count")
    done = export(server, mariadb, START, END, expect=2)
    (line,) = done.stderr.strip().splitlines()
    assert "table daily_errors_by_model has no column error_count (expected BIGINT)" in line, line


# --- a SQL database that does not exist yet --------------------------------------------------------------


class MissingDb:
    """The URL of a database that does not exist (dropped by drop() if the export created it), and of
    a user without the right to create databases."""

    def __init__(self, dialect: str):
        self.db = SqlDb(dialect)
        self.db.drop()
        self.name, self.dialect = self.db.name, dialect
        self.user = f"nc_{uuid.uuid4().hex[:8]}"
        if dialect == "mysql":
            with self._admin() as conn, conn.cursor() as cur:
                for host in ("%", "localhost"):
                    cur.execute(f"CREATE USER '{self.user}'@'{host}' IDENTIFIED BY 'pw'")
                    cur.execute(f"GRANT SELECT ON mysql.* TO '{self.user}'@'{host}'")  # may log in
            self.limited = f"mysql://{self.user}:pw@127.0.0.1:3306/{self.name}"
        else:
            with self._admin() as conn:
                conn.execute(f"CREATE ROLE \"{self.user}\" LOGIN NOCREATEDB PASSWORD 'pw'")
            self.limited = f"postgresql://{self.user}:pw@127.0.0.1:5432/{self.name}"

    def _admin(self) -> Any:
        if self.dialect == "mysql":
            return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        return psycopg.connect(host="127.0.0.1", user=pg_user(), dbname="postgres", autocommit=True)

    def exists(self) -> bool:
        with self._admin() as conn:
            if self.dialect == "mysql":
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (self.name,)
                    )
                    return cur.fetchone() is not None
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,))
            return found.fetchone() is not None

    def drop(self) -> None:
        self.db.drop()
        with self._admin() as conn:
            if self.dialect == "mysql":
                with conn.cursor() as cur:
                    for host in ("%", "localhost"):
                        cur.execute(f"DROP USER IF EXISTS '{self.user}'@'{host}'")
            else:
                conn.execute(f'DROP ROLE IF EXISTS "{self.user}"')


@pytest.fixture(params=["mysql", "postgresql"])
def missing(request) -> Any:
    target = MissingDb(request.param)
    yield target
    target.drop()


def test_a_missing_sql_database_is_created_when_the_user_may(served, missing):
    collections, server = served
    assert not missing.exists()
    done = export(server, missing.db, START, END)
    assert missing.exists() and "created SQL database" in done.stderr
    assert_rows_equal(missing.db.snapshot(), history_rows(collections, START, END, "UTC", "auto"))


def test_a_missing_sql_database_the_user_may_not_create_is_one_line_with_the_sql(served, missing):
    began = time.monotonic()
    done = subprocess.run(  # no MongoDB at all: the SQL database is checked before any MongoDB work
        [PYTHON, str(ROOT / "export_metrics.py"), str(START), str(END)],
        env=env_for(NOWHERE, None, HISTORY_DATABASE_URL=missing.limited),
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "does not exist" in line and f"user {missing.user!r} may not create it" in line, line
    assert "MongoDB" not in line and "pw@" not in line and time.monotonic() - began < 30
    assert not missing.exists()
    statements = [part.strip() for part in line.split("an account that may: ", 1)[1].split(";")]
    with missing._admin() as conn:  # the line's SQL, run by an administrator, is all it takes
        for statement in filter(None, statements):
            (conn.cursor() if missing.dialect == "mysql" else conn).execute(statement)
    collections, server = served
    export(server, missing.db, START, START, HISTORY_DATABASE_URL=missing.limited)
    assert_rows_equal(missing.db.snapshot(), history_rows(collections, START, START, "UTC", "auto"))


# --- --csv: only its table, streamed, numbers without binary noise -------------------------------------


@pytest.fixture
def in_process(served, monkeypatch, tmp_path) -> Any:
    """Run export_metrics.py's main() in this process against `served` (so reads can be watched);
    returns run(*argv) -> (exit status, stdout)."""
    _, server = served
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name, value in env_for(server, None).items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if e2e.OWN_SETTINGS.match(n) and n not in env_for(server, None)]:
        monkeypatch.delenv(name)

    def run(*argv: Any, capsys: Any) -> tuple[int, str]:
        code = cli.main([str(a) for a in argv])
        return code, capsys.readouterr().out

    return run


def watch_reads(monkeypatch) -> list[str]:
    """The collection of every MongoDB read made from now on, in order."""
    seen: list[str] = []
    for method in ("aggregate", "each", "count", "find"):
        original = getattr(Reader, method)

        def spy(self: Reader, collection: str, *args: Any, _original: Any = original) -> Any:
            seen.append(collection)
            return _original(self, collection, *args)

        monkeypatch.setattr(Reader, method, spy)
    return seen


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_reads_only_what_its_table_needs(served, in_process, monkeypatch, capsys):
    collections, _ = served
    reads = watch_reads(monkeypatch)
    code, one_day = in_process("--csv", "daily_users", START, START, capsys=capsys)
    assert code == 0
    setup = len(reads)
    code, four_days = in_process("--csv", "daily_users", START, START + timedelta(days=3), capsys=capsys)
    assert code == 0
    per_day = Counter(reads[setup:]) - Counter(reads[:setup])  # the three days the second run adds
    # Distinct users of person messages only: per day the distinct read plus the origin reads (the
    # day's scheduled runs, and the trigger and prompt messages), never the transactions or users.
    assert set(per_day) <= {"messages", "scheduleruns"}, per_day
    assert per_day["messages"] <= 3 * 3 and per_day["scheduleruns"] <= 3, per_day
    want = history_rows(collections, START, START + timedelta(days=3), "UTC", "auto")["daily_users"]
    header, *rows = parse_csv(four_days)
    assert header == ["date", "unique_users"]
    assert {(date.fromisoformat(d), int(n)) for d, n in rows} == want
    assert parse_csv(one_day)[1:] == rows[:1]


def test_the_daily_tables_are_grouped_without_gaps():
    groups = (
        ("daily_users",),
        compute.ENGAGEMENT,
        compute.FROM_MESSAGES,
        compute.FROM_TRANSACTIONS,
        compute.COST,
        compute.SCHEDULES,
        compute.AGENT_USERS,
    )
    names = [name for group in groups for name in group]
    assert sorted(names) == sorted(t.name for t in sql.DAILY)  # each daily table in exactly one group


def test_csv_streams_each_day_and_keeps_them_when_a_later_day_fails(served, in_process, monkeypatch, capsys):
    collections, _ = served
    original = compute.day_rows
    done: list[date] = []

    def fail_on_the_third_day(src: Any, day: date, *args: Any) -> Any:
        if len(done) == 2:
            raise AutoReconnect("connection lost (simulated)")
        done.append(day)
        return original(src, day, *args)

    monkeypatch.setattr(compute, "day_rows", fail_on_the_third_day)
    code, out = in_process("--csv", "daily_messages", START, END, capsys=capsys)
    assert code == 1
    want = history_rows(collections, START, START + timedelta(days=1), "UTC", "auto")["daily_messages"]
    header, *rows = parse_csv(out)
    assert header == ["date", "total_messages", "total_conversations"]
    assert {(date.fromisoformat(d), int(m), int(c)) for d, m, c in rows} == want  # the two complete days


def significant(text: str) -> int:
    """Significant digits of a number as written (1.2300e-05 -> 3)."""
    mantissa = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return len(mantissa)


def test_csv_floats_have_no_binary_noise(served, in_process, capsys):
    collections, _ = served
    code, out = in_process("--csv", "daily_cost_by_model", START, END, capsys=capsys)
    assert code == 0
    want = {
        row[:2]: row[2:]
        for row in history_rows(collections, START, END, "UTC", "auto")["daily_cost_by_model"]
    }
    assert any(significant(repr(v)) > 15 for values in want.values() for v in values)  # noise to remove
    header, *rows = parse_csv(out)
    assert header == [name for name, _ in sql.DAILY[6].columns] and len(rows) == len(want)
    for day, model, *values in rows:
        expected = want[(date.fromisoformat(day), model)]
        for text, value in zip(values, expected, strict=True):
            assert significant(text) <= 15, (day, model, text)
            assert math.isclose(float(text), value, rel_tol=1e-14, abs_tol=1e-300), (text, value)
