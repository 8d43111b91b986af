"""Issue #13, history side: wrong targets, future days, crashes between phases, least-privilege writers.

Expected rows come from tests.oracle only; "unchanged" means the full table contents (computed_at too).
"""

from __future__ import annotations

import re
import subprocess
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pymysql
from bson import ObjectId

from librechat_metrics import tally
from librechat_metrics.history import cli, compute, sql
from librechat_metrics.mongo import Reader
from librechat_metrics.settings import load
from librechat_metrics.windows import week_start
from tests import test_history_e2e as e2e
from tests.oracle import history_rows
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import PYTHON, ROOT, SqlDb, assert_rows_equal, env_for, export

# the end-to-end module's fixtures: servers with generated data, fresh SQL databases
served, editable, any_db, mariadb = e2e.served, e2e.editable, e2e.any_db, e2e.mariadb

START, END = date(2025, 2, 3), date(2025, 2, 9)  # one whole week of February 2025


def full_contents(db: SqlDb) -> dict[str, list[tuple]]:
    """Every column of every table (computed_at included), sorted."""
    return {t.name: sorted(db.query(f"SELECT * FROM {db.q(t.name)}"), key=repr) for t in sql.TABLES}


def table_names(db: SqlDb) -> set[str]:
    if db.dialect == "mysql":
        found = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        return {row[0] for row in db.query(found, (db.name,))}
    found = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    return {row[0] for row in db.query(found)}


def summary_counts(stderr: str) -> dict[str, int]:
    match = re.search(r"(\d+) changed, (\d+) removed, (\d+) new, (\d+) unchanged", stderr)
    assert match, stderr
    return dict(zip(("changed", "removed", "new", "unchanged"), map(int, match.groups()), strict=True))


def error_line(stderr: str) -> str:
    """The one error line of a failed run (info lines before it are fine), no traceback."""
    errors = [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def row_count(rows: dict[str, set[tuple]]) -> int:
    return sum(len(r) for r in rows.values())


# --- the target check ---------------------------------------------------------------------------------


def test_force_against_the_wrong_database_or_server_changes_no_stored_row(served, any_db):
    collections, server = served
    export(server, any_db, START, END)
    assert_rows_equal(any_db.snapshot(), history_rows(collections, START, END, "UTC", "auto"))
    before = full_contents(any_db)

    done = export(server, any_db, "--force", START, END, expect=2, MONGODB_DATABASE="librechat")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "'librechat' does not look like LibreChat's" in lines[0] and "'LibreChat'" in lines[0]
    assert full_contents(any_db) == before

    elsewhere = start_mongoeco({"sessions": [{"_id": 1}]}, core=False)  # a server without LibreChat
    try:
        done = export(elsewhere, any_db, "--force", START, END, expect=2)
        assert len(done.stderr.strip().splitlines()) == 1 and "does not look like" in done.stderr
    finally:
        elsewhere.stop()
    assert full_contents(any_db) == before


def test_a_failing_target_creates_no_table(mariadb):
    server = start_mongoeco({}, core=False)
    try:
        export(server, mariadb, START, END, expect=2)
    finally:
        server.stop()
    assert table_names(mariadb) == set()


def test_an_empty_but_real_librechat_exports_real_zeros(any_db):
    server = start_mongoeco({})  # LibreChat's core collections, empty: a fresh install
    try:
        done = export(server, any_db, START, END)
    finally:
        server.stop()
    want = history_rows({}, START, END, "UTC", "auto")
    assert len(want["daily_users"]) == 7 and all(row[1] == 0 for row in want["daily_users"])
    assert_rows_equal(any_db.snapshot(), want)
    assert summary_counts(done.stderr) == {"changed": 0, "removed": 0, "new": row_count(want), "unchanged": 0}


# --- the closing summary --------------------------------------------------------------------------------


def test_summary_counts_new_changed_and_unchanged_rows(editable, mariadb):
    collections, server = editable
    start, end = date(2025, 1, 27), date(2025, 2, 9)
    done = export(server, mariadb, start, end)
    first = mariadb.snapshot()
    assert summary_counts(done.stderr) == {
        "changed": 0,
        "removed": 0,
        "new": row_count(first),
        "unchanged": 0,
    }

    done = export(server, mariadb, "--force", start, end)
    assert summary_counts(done.stderr) == {
        "changed": 0,
        "removed": 0,
        "new": 0,
        "unchanged": row_count(first),
    }

    day = date(2025, 2, 4)
    model = f"renamed-{uuid.uuid4().hex[:6]}"
    set_on_day(collections, server, day, {"model": model}, assistant=True)
    done = export(server, mariadb, "--force", start, end)
    after = mariadb.snapshot()
    assert_rows_equal(after, history_rows(collections, start, end, "UTC", "auto"))
    # What changed, by the test's own comparison of the two snapshots (key -> values per table).
    want = {"changed": 0, "removed": 0, "new": 0, "unchanged": 0}
    for table in sql.TABLES:
        old, new = table.keyed(list(first[table.name])), table.keyed(list(after[table.name]))
        want["new"] += len(new.keys() - old.keys())
        want["removed"] += len(old.keys() - new.keys())
        want["changed"] += sum(1 for k in new.keys() & old.keys() if new[k] != old[k])
        want["unchanged"] += sum(1 for k in new.keys() & old.keys() if new[k] == old[k])
    assert want["new"] > 0 and want["removed"] > 0
    assert summary_counts(done.stderr) == want


def set_on_day(collections: dict, server: Any, day: date, changes: dict, assistant: bool) -> int:
    """Apply `changes` to the (assistant or user) messages of a UTC day, on the server and locally."""
    lo = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    chosen = [
        m
        for m in collections["messages"]
        if m.get("isCreatedByUser") is (not assistant)
        and isinstance(m.get("createdAt"), datetime)
        and lo <= m["createdAt"] < lo + timedelta(days=1)
    ]
    assert chosen
    with server.client() as client:
        for message in chosen:
            client["LibreChat"]["messages"].update_one({"_id": message["_id"]}, {"$set": changes})
            message.update(changes)
    return len(chosen)


# --- dates ----------------------------------------------------------------------------------------------


def test_today_is_partial_and_running_weeks_and_months_are_not_written(served, mariadb):
    _, server = served
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=today.weekday() + 7)  # Monday of last week: one whole week, over
    done = export(server, mariadb, start, today)
    assert "weeks/months not over yet (not written)" in done.stderr
    weeks = {row[0] for row in mariadb.rows("weekly_users")}
    months = {row[0] for row in mariadb.rows("monthly_users")}
    assert weeks == {start}  # this week is running
    assert today.replace(day=1) not in months  # this month is running
    assert today in {row[0] for row in mariadb.rows("daily_users")}  # today: a partial day, stamped
    done = export(server, mariadb, start, today)
    assert "1 days written" in done.stderr  # ... and done again by the next run


# --- a --force run that stops between its days and its weeks --------------------------------------------


def test_a_run_stopped_after_its_days_leaves_its_weeks_and_months_pending(editable, mariadb, monkeypatch):
    collections, server = editable
    start, end = date(2025, 2, 10), date(2025, 2, 16)
    export(server, mariadb, start, end)
    old = history_rows(collections, start, end, "UTC", "auto")
    assert_rows_equal(mariadb.snapshot(), old)

    intruder = f"new-user-{uuid.uuid4().hex[:6]}"  # a user nobody else is: the week and month gain one
    set_on_day(collections, server, date(2025, 2, 12), {"user": intruder}, assistant=False)
    new = history_rows(collections, start, end, "UTC", "auto")
    assert new["weekly_users"] != old["weekly_users"] and new["monthly_users"] != old["monthly_users"]

    def crash(*_: Any) -> None:
        raise KeyboardInterrupt  # the run is killed after its days, before its first week

    for name, value in env_for(server, mariadb).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT / "tests")
    monkeypatch.setattr(cli.compute, "week_row", crash)
    assert cli.main(["--force", str(start), str(end)]) == 130
    monkeypatch.undo()

    stored = mariadb.snapshot()
    assert stored["weekly_users"] == old["weekly_users"]  # still there for readers (the old value) ...
    monday = week_start(date(2025, 2, 12))
    pending = set(mariadb.query("SELECT table_name, period_start FROM history_pending"))
    assert ("weekly_users", monday) in pending and ("monthly_users", date(2025, 2, 1)) in pending
    export(server, mariadb, start, end)  # ... and pending: a plain run (every day stored) recomputes it
    assert_rows_equal(mariadb.snapshot(), new)
    assert not mariadb.query("SELECT * FROM history_pending")


# --- SQL rights, drivers, concurrency ----------------------------------------------------------------------


class MariaUser:
    """A MariaDB account limited to `grants` on one database; dropped by drop()."""

    def __init__(self, db: SqlDb, grants: str, name: str = "", password: str = "pw"):
        self.name = name or f"lp_{uuid.uuid4().hex[:8]}"
        self.url = f"mysql://{self.name}:{password}@127.0.0.1:3306/{db.name}"
        self.admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        with self.admin.cursor() as cur:
            for host in ("%%", "localhost"):
                cur.execute(f"CREATE USER '{self.name}'@'{host}' IDENTIFIED BY %s", (password,))
                if grants:
                    cur.execute(f"GRANT {grants} ON `{db.name}`.* TO '{self.name}'@'{host}'", ())

    def drop(self) -> None:
        with self.admin.cursor() as cur:
            for host in ("%%", "localhost"):
                cur.execute(f"DROP USER IF EXISTS '{self.name}'@'{host}'", ())
        self.admin.close()


def test_a_writer_without_create_rights_exports_into_existing_tables(served, mariadb):
    collections, server = served
    export(server, mariadb, START, START)  # the schema, created by an account that may
    writer = MariaUser(mariadb, "SELECT, INSERT, UPDATE, DELETE")
    try:
        export(server, mariadb, START, END, HISTORY_DATABASE_URL=writer.url)
    finally:
        writer.drop()
    assert_rows_equal(mariadb.snapshot(), history_rows(collections, START, END, "UTC", "auto"))


def test_a_target_without_write_rights_is_one_line_and_exit_1(served, mariadb):
    _, server = served
    export(server, mariadb, START, START)
    before = full_contents(mariadb)
    reader = MariaUser(mariadb, "SELECT")
    try:
        done = export(server, mariadb, START, END, expect=1, HISTORY_DATABASE_URL=reader.url)
    finally:
        reader.drop()
    line = error_line(done.stderr)
    assert "command denied" in line and "needs SELECT, INSERT, UPDATE and DELETE" in line
    assert full_contents(mariadb) == before


def test_access_denied_names_the_user_and_hides_only_the_password(served, mariadb):
    _, server = served
    user = MariaUser(mariadb, "", name=f"adv_rw_{uuid.uuid4().hex[:6]}_user", password="right")
    try:
        url = f"mysql://{user.name}:rw@127.0.0.1:3306/{mariadb.name}"  # the wrong password: rw
        done = export(server, mariadb, START, START, expect=1, HISTORY_DATABASE_URL=url)
    finally:
        user.drop()
    line = error_line(done.stderr)
    assert "Access denied" in line and f"'{user.name}'" in line and "***" not in line


BLOCK_PSYCOPG = (
    "import sys; sys.modules['psycopg'] = None  # as if libpq were broken\n"
    "from librechat_metrics.history.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)


def test_a_broken_postgresql_driver_does_not_stop_a_mariadb_export(served, mariadb):
    collections, server = served
    command = [PYTHON, "-c", BLOCK_PSYCOPG, str(START), str(END)]
    done = subprocess.run(command, env=env_for(server, mariadb), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_rows_equal(mariadb.snapshot(), history_rows(collections, START, END, "UTC", "auto"))

    url = "postgresql://nobody@127.0.0.1:5432/nothing"
    env = env_for(server, None, HISTORY_DATABASE_URL=url)
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "psycopg" in error_line(done.stderr)


def test_concurrent_first_schema_creation_on_postgresql():
    """Sessions creating the schema at the same moment (PostgreSQL's IF NOT EXISTS is not enough)."""
    for _ in range(3):
        db = SqlDb("postgresql")
        try:
            stores = [sql.Target.from_url(db.url).connect() for _ in range(4)]
            barrier = threading.Barrier(len(stores))
            failures: list[BaseException] = []  # appended to by the threads of this round

            def create(store: sql.Store, barrier: Any = barrier, failures: list = failures) -> None:
                barrier.wait()
                try:
                    store.ensure_schema()
                except BaseException as err:
                    failures.append(err)

            threads = [threading.Thread(target=create, args=(s,)) for s in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            for store in stores:
                store.close()
            assert not failures, failures
            assert {t.name for t in sql.TABLES} <= table_names(db)
        finally:
            db.drop()


def test_two_first_time_exports_into_an_empty_database_at_once(served, any_db):
    collections, server = served
    command = [PYTHON, str(ROOT / "export_metrics.py"), str(START), str(END)]
    procs = [
        subprocess.Popen(command, env=env_for(server, any_db), cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(proc.wait(timeout=600), proc.stderr.read()) for proc in procs]
    for proc in procs:
        proc.stderr.close()
    for code, stderr in results:
        assert code == 0, stderr
    assert_rows_equal(any_db.snapshot(), history_rows(collections, START, END, "UTC", "auto"))


def test_a_day_written_while_another_export_writes_it_waits_instead_of_failing(any_db):
    """Export A has written day D but not committed; export B writes D too. Without a lock, PostgreSQL
    lets B delete nothing and insert, then fails it with a duplicate key once A commits (seen in CI
    as a flaky failure of the test above). With the write lock B waits, then replaces A's rows."""
    first, second = (sql.Target.from_url(any_db.url).connect() for _ in range(2))
    try:
        first.ensure_schema()
        day, stamp = date(2025, 2, 4), datetime(2025, 2, 5, tzinfo=timezone.utc)
        first._lock(sql.WRITE_LOCK)
        daily_users = next(table for table in sql.TABLES if table.name == "daily_users")
        first._insert(daily_users, [(day, 1, stamp)], stamped=True)
        outcome: list[Any] = []

        def write() -> None:
            try:
                outcome.append(second.replace_day(day, {"daily_users": [(day, 2)]}, stamp))
            except Exception as err:  # the test reports it
                outcome.append(err)

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(2)
        assert writer.is_alive() and not outcome  # B waits for A's transaction
        first.conn.commit()
        first._unlock(sql.WRITE_LOCK)
        writer.join(30)
        assert outcome and not isinstance(outcome[0], Exception), outcome
        assert any_db.query("SELECT date, unique_users FROM daily_users") == [(day, 2)]
    finally:
        first.close()
        second.close()


# --- one scope per history database (issue #10: the tables have no tenant column) -----------------------


def test_a_history_database_holds_one_tenant_only(mariadb):
    """The first export records its scope; a run of another tenant, or of the whole database, exits 2
    with one line and changes nothing; the same scope again writes as usual."""
    t = datetime(2025, 2, 4, 12, tzinfo=timezone.utc)
    data: dict[str, list[dict]] = {"users": [], "messages": [], "conversations": []}
    for tenant in ("a", "b"):
        data["messages"].append(
            {
                "_id": ObjectId(),
                "user": f"u-{tenant}",
                "createdAt": t,
                "isCreatedByUser": True,
                "tenantId": tenant,
            }
        )
        data["conversations"].append(
            {"_id": ObjectId(), "user": f"u-{tenant}", "createdAt": t, "tenantId": tenant}
        )
        data["users"].append({"_id": ObjectId(), "email": f"{tenant}@x", "tenantId": tenant})
    server = start_mongoeco(data)
    try:
        day = date(2025, 2, 4)
        export(server, mariadb, day, day, LIBRECHAT_TENANT_ID="a")
        assert mariadb.query("SELECT name, value FROM history_scope ORDER BY name") == [
            ("mongodb_database", "LibreChat"),
            ("tenant_id", "a"),
        ]
        assert mariadb.rows("daily_users") == {(day, 1)}
        before = full_contents(mariadb)
        for other in ({"LIBRECHAT_TENANT_ID": "b"}, {}):
            done = export(server, mariadb, "--force", day, day, expect=2, **other)
            line = error_line(done.stderr)
            assert "holds the history of MongoDB database 'LibreChat', tenant 'a'" in line, line
            assert "nothing exported" in line
            assert full_contents(mariadb) == before
        export(server, mariadb, "--force", day, day, LIBRECHAT_TENANT_ID="a")
        assert mariadb.rows("daily_users") == {(day, 1)}
    finally:
        server.stop()


def test_another_mongodb_database_is_refused_before_any_table_is_created(mariadb):
    store = sql.Target.from_url(mariadb.url).connect()
    try:
        store.ensure_schema({"mongodb_database": "LibreChat", "tenant_id": ""})
        mariadb.query("DROP TABLE daily_churn")
        try:
            store.ensure_schema({"mongodb_database": "LibreChat2", "tenant_id": ""})
            raise AssertionError("no ScopeMismatch")
        except sql.ScopeMismatch as err:
            assert "'LibreChat', every tenant" in str(err) and "'LibreChat2'" in str(err)
        assert "daily_churn" not in table_names(mariadb)  # refused before creating anything
        store.ensure_schema({"mongodb_database": "LibreChat", "tenant_id": ""})
        assert "daily_churn" in table_names(mariadb)
    finally:
        store.close()


# --- a --force run replaces in place: a reader never misses a stored row ---------------------------------


def stored_keys(db: SqlDb, conn: Any) -> dict[str, set[tuple]]:
    """Every history table's primary keys, read on `conn` (autocommit: committed rows only)."""
    out = {}
    for table in sql.TABLES:
        keys = ", ".join(db.q(name) for name in table.names[: table.keys])
        cur = conn.cursor()
        cur.execute(f"SELECT {keys} FROM {db.q(table.name)}")
        out[table.name] = {tuple(row) for row in cur.fetchall()}
    return out


def test_a_force_run_never_leaves_a_reader_without_a_stored_row(served, any_db):
    """After every DELETE of a --force run (inside its transaction) and after every commit, another
    connection still sees every day, week, month and cohort week row stored before the run."""
    collections, server = served
    start, end = date(2025, 2, 10), date(2025, 2, 16)  # a whole week, in a month that is over
    export(server, any_db, start, end)
    reader_conn = any_db.connect()
    before = stored_keys(any_db, reader_conn)
    assert before["weekly_users"] and before["monthly_users"] and before["weekly_retention"]
    store = sql.Target.from_url(any_db.url).connect()
    client = server.client()
    checks = 0

    def check() -> None:
        nonlocal checks
        now = stored_keys(any_db, reader_conn)
        for table, keys in before.items():
            assert keys <= now[table], (table, keys - now[table])
        checks += 1

    real = store._exec

    def exec_then_check(text: str, params: Any = None) -> None:
        real(text, params)
        if text.startswith("DELETE"):
            check()

    store._exec = exec_then_check  # type: ignore[method-assign]
    try:
        reader = Reader.from_settings(client, load({"MONGODB_URI": server.uri}))
        src = compute.Source(
            reader, "UTC", compute.resolve_token_source(reader, "auto"), tally.agent_models(reader)
        )
        done = cli.export(src, store, start, end, force=True)
        check()
    finally:
        store.close()
        client.close()
        reader_conn.close()
    assert done.days == 7 and done.weeks == 1 and done.months == 1 and done.cohort_weeks
    assert checks > 7 * len(sql.DAILY)
    want = history_rows(collections, start, end, "UTC", "auto")
    assert_rows_equal(any_db.snapshot(), want)
