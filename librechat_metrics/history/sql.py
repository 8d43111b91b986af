"""The SQL side: table definitions, MariaDB/MySQL (PyMySQL) and PostgreSQL (psycopg 3) writers.

Tables and columns are those of the original `init.sql`, with 64-bit counts, DOUBLE tokens and one
added column, `daily_users.computed_at` (UTC): a day counts as stored only when it was computed
after it ended, so a day exported while still running is recomputed by the next run.
Every write replaces exactly one key (a day, a week, a month) in one transaction, so a reader never
misses a row that was stored; a day's transaction also marks the week and month rows that contain it
as pending (history_pending), and a run recomputes every pending row, so none stays older than its days.

The drivers are imported when a connection is opened: a broken libpq does not stop MariaDB exports.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .compute import Rows

CONNECT_TIMEOUT = 10
IO_TIMEOUT = 600
SCHEMA_LOCK = "librechat_metrics_schema:"  # serialises schema changes of concurrent first runs
SCHEMA_LOCK_TIMEOUT = 120  # seconds
WRITE_LOCK = "librechat_metrics_write:"  # serialises the day and period transactions of concurrent runs
LOCK_NAME = "LEFT(CONCAT(%s, DATABASE()), 64)"  # MariaDB/MySQL: named locks are server-wide
UNKNOWN_DATABASE = 1049  # MariaDB/MySQL error: the database does not exist
DATABASE_DENIED = 1044  # ... access denied to a database (also said when it does not exist)

log = logging.getLogger("librechat_metrics.history")


class SchemaBusy(Exception):
    """Another export held the schema lock too long."""


class ScopeMismatch(Exception):
    """The history database holds another MongoDB database's or tenant's rows; its message says whose."""


class ColumnMismatch(Exception):
    """A table's column is missing or of a type that would change the values; the message says which."""


class MissingDatabase(Exception):
    """The SQL database does not exist and this user may not create it; the message gives the SQL."""


def errors() -> tuple[type[BaseException], ...]:
    """The error classes of the drivers loaded so far (for `except sql.errors()`)."""
    found: list[type[BaseException]] = [SchemaBusy]
    pymysql, psycopg = sys.modules.get("pymysql"), sys.modules.get("psycopg")
    if pymysql is not None and hasattr(pymysql, "err"):
        found.append(pymysql.err.Error)
    if psycopg is not None and hasattr(psycopg, "Error"):
        found.append(psycopg.Error)
    return tuple(found)


# MariaDB/MySQL errors a later run may not meet: no server, connection lost, too many connections,
# server shutting down, lock wait timeout, deadlock. PostgreSQL: SQLSTATE classes 08 (connection), 40
# (serialization, deadlock), 53 (resources), 57P (shutdown, cannot connect now), 55P03 (lock timeout).
MYSQL_TRANSIENT = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055}
PG_TRANSIENT = ("08", "40", "53", "57P", "55P03")


def transient(err: BaseException) -> bool:
    """Whether repeating the run may succeed: the server unreachable or gone, a lock or deadlock, too
    many connections. A missing right, a bad password or a bad value fails the same way again."""
    if isinstance(err, SchemaBusy):
        return True
    code = getattr(err, "args", (None,))[:1]
    if type(err).__module__.startswith("pymysql"):
        return bool(code) and code[0] in MYSQL_TRANSIENT
    state = getattr(err, "sqlstate", None)
    if state:
        return str(state).startswith(PG_TRANSIENT)
    # psycopg's own connection errors carry no SQLSTATE: unreachable or lost, unless the server refused
    refused = re.search(r"authentication failed|does not exist|no pg_hba\.conf entry|permission", str(err))
    return type(err).__name__ == "OperationalError" and not refused


def describe_error(err: BaseException) -> str:
    """A driver error as one line: PyMySQL's `(1142, "...")` becomes `... (error 1142)`."""
    args: tuple[Any, ...] = getattr(err, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = f"{args[1]} (error {args[0]})"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


@dataclass
class Changes:
    """How a write compared with what was stored: rows new, changed, removed, or equal (unchanged)."""

    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0

    def add(self, before: dict[tuple, tuple], after: dict[tuple, tuple]) -> None:
        """Count one key's rows: `before` and `after` map primary keys to the other columns."""
        for key, values in after.items():
            if key not in before:
                self.new += 1
            elif before[key] == values:
                self.unchanged += 1
            else:
                self.changed += 1
        self.removed += sum(1 for key in before if key not in after)

    def __iadd__(self, other: Changes) -> Changes:
        self.new += other.new
        self.changed += other.changed
        self.removed += other.removed
        self.unchanged += other.unchanged
        return self


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, kind): date, text, count or tokens
    keys: int  # the first `keys` columns are the primary key
    optional: tuple[str, ...] = ()  # NULL-able columns, added by ALTER TABLE to an older table

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def keyed(self, rows: list[tuple[Any, ...]]) -> dict[tuple, tuple]:
        """Rows as {primary key: other columns}."""
        return {tuple(row[: self.keys]): tuple(row[self.keys : len(self.columns)]) for row in rows}


DAILY: tuple[Table, ...] = (
    Table("daily_users", (("date", "date"), ("unique_users", "count")), 1),
    Table(
        "daily_messages", (("date", "date"), ("total_messages", "count"), ("total_conversations", "count")), 1
    ),
    Table("daily_messages_by_model", (("date", "date"), ("model", "text"), ("message_count", "count")), 2),
    Table(
        "daily_tokens_by_model",
        (("date", "date"), ("model", "text"), ("input_tokens", "tokens"), ("output_tokens", "tokens")),
        2,
    ),
    Table(
        "daily_tokens_by_user",
        (("date", "date"), ("user", "text"), ("input_tokens", "tokens"), ("output_tokens", "tokens")),
        2,
    ),
    Table("daily_errors_by_model", (("date", "date"), ("model", "text"), ("error_count", "count")), 2),
    # issue #12: what LibreChat costs (docs/semantics.md "History rows")
    Table(
        "daily_cost_by_model",
        (
            ("date", "date"),
            ("model", "text"),
            ("spend_usd", "tokens"),
            ("cache_read_tokens", "tokens"),
            ("cache_write_tokens", "tokens"),
        ),
        2,
    ),
    Table(
        "daily_messages_by_endpoint",
        (("date", "date"), ("endpoint", "text"), ("message_count", "count"), ("error_count", "count")),
        2,
    ),
    Table(
        "daily_unfinished_by_model", (("date", "date"), ("model", "text"), ("unfinished_count", "count")), 2
    ),
    Table(
        "daily_replies_by_agent",
        (("date", "date"), ("agent_id", "text"), ("reply_count", "count"), ("error_count", "count")),
        2,
    ),
    Table("daily_spend_by_agent", (("date", "date"), ("agent_id", "text"), ("spend_usd", "tokens")), 2),
    Table(
        "daily_response_time_by_model",
        (
            ("date", "date"),
            ("model", "text"),
            ("first_replies", "count"),
            ("p50_seconds", "tokens"),
            ("p90_seconds", "tokens"),
            ("p99_seconds", "tokens"),
        ),
        2,
    ),
    Table(
        "daily_schedule_runs",
        (
            ("date", "date"),
            ("status", "text"),
            ("run_count", "count"),
            ("p50_seconds", "tokens"),
            ("p90_seconds", "tokens"),
        ),
        2,
        optional=("p50_seconds", "p90_seconds"),  # NULL for a status without finished runs (skipped)
    ),
    # cost per group (chargeback): a user in several groups counts in each; "(no group)" for the rest
    Table(
        "daily_cost_by_group",
        (
            ("date", "date"),
            ("group", "text"),
            ("spend_usd", "tokens"),
            ("tokens_in", "tokens"),
            ("tokens_out", "tokens"),
            ("active_users", "count"),
        ),
        2,
    ),
    # distinct users of each agent's replies that day (people only, as daily_users)
    Table("daily_users_by_agent", (("date", "date"), ("agent_id", "text"), ("active_users", "count")), 2),
    # issue #10: users registered that day (time in the user's ObjectId; users has no createdAt index)
    Table("daily_registrations", (("date", "date"), ("new_users", "count")), 1),
    Table(
        "daily_retention",
        (
            ("date", "date"),
            *((f"{part}_{n}d", "count") for n in (1, 7, 30) for part in ("cohort", "retained")),
        ),
        1,
    ),
    Table(
        "daily_user_messages",
        (
            ("date", "date"),
            ("user", "text"),
            ("messages", "count"),
            ("top_model", "text"),
            ("tokens_in", "tokens"),
            ("tokens_out", "tokens"),
            ("spend_usd", "tokens"),
            ("email", "text"),  # EXPORT_USER_DETAILS only, else NULL
            ("name", "text"),
        ),
        2,
        optional=("tokens_in", "tokens_out", "spend_usd", "email", "name"),
    ),
    Table(
        "daily_churn", (("date", "date"), ("active_users_28d", "count"), ("churned_users_28d", "count")), 1
    ),
)
WEEKLY = Table("weekly_users", (("week_start", "date"), ("unique_users", "count")), 1)
MONTHLY = Table("monthly_users", (("month_start", "date"), ("unique_users", "count")), 1)
# issue #10: signup cohorts of a week; retained_Nd is NULL until signup day + N is over for every member
WEEKLY_RETENTION = Table(
    "weekly_retention",
    (("week_start", "date"), ("cohort", "count"), *((f"retained_{n}d", "count") for n in (1, 7, 30))),
    1,
    optional=("retained_1d", "retained_7d", "retained_30d"),
)
# Every agent any export has seen, with its last known name and model: refreshed (upserted) by each
# export, never deleted, so the per-agent tables of a deleted agent keep a name to show.
AGENT_INFO = Table("agent_info", (("agent_id", "text"), ("name", "text"), ("model", "text")), 1)
TABLES: tuple[Table, ...] = (*DAILY, WEEKLY, MONTHLY, WEEKLY_RETENTION, AGENT_INFO)
STAMP = "computed_at"  # extra column of daily_users
# Whose history the database holds (issue #10): rows `mongodb_database` and `tenant_id` ("" = every
# tenant), recorded by the first export; the tables have no tenant column, so runs of another scope stop.
SCOPE = Table("history_scope", (("name", "text"), ("value", "text")), 1)
# Week and month rows (table, key) whose days were rewritten since the row was: recomputed by the next run.
PENDING = Table("history_pending", (("table_name", "text"), ("period_start", "date")), 2)
# Each stored day's users of person messages (engagement.user_key digests; NO_USER marks a day as held
# even when nobody wrote): the windowed rows of later runs read these days here, not in MongoDB.
ACTIVITY = Table("history_activity", (("date", "date"), ("user_key", "text")), 2)
NO_USER = ""


# Column types that hold what the export writes without changing it, by kind (information_schema's
# data_type, MariaDB/MySQL and PostgreSQL spellings). Counts may be 32-bit: the original export's INT.
FITS = {
    "date": {"date"},
    "count": {"bigint", "int", "integer"},
    "tokens": {"double", "double precision"},
    "text": {"varchar", "character varying", "char", "character", "text", "mediumtext", "longtext"},
    "stamp": {"datetime", "timestamp", "timestamp without time zone"},
}


PG_SHORT = {"character varying": "varchar", "character": "char", "timestamp without time zone": "timestamp"}


def _type_fits(kind: str, data_type: str, length: int | None) -> bool:
    """Whether a column of `data_type` (and character `length`) holds the values of `kind` unchanged."""
    if data_type not in FITS[kind]:
        return False
    return kind != "text" or length is None or length >= 255 or data_type.endswith("text")


def describe_scope(scope: dict[str, str]) -> str:
    """`MongoDB database 'LibreChat', tenant 'acme'` (or `..., every tenant`)."""
    tenant = scope.get("tenant_id", "")
    who = f"tenant {tenant!r}" if tenant else "every tenant (LIBRECHAT_TENANT_ID unset)"
    return f"MongoDB database {scope.get('mongodb_database', '')!r}, {who}"


@dataclass(frozen=True)
class Target:
    """Where rows go: `dialect` is "mysql" or "postgresql"; `url` (PostgreSQL) or the parts (MySQL)."""

    dialect: str
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    database: str = ""
    url: str = ""

    @classmethod
    def from_url(cls, url: str) -> Target:
        """mysql://, mariadb://, postgresql:// or postgres:// URLs; ValueError when unusable."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("postgresql", "postgres"):
            if not parts.path.strip("/"):
                raise ValueError("expected a database name, e.g. postgresql://user@host:5432/metrics")
            return cls("postgresql", url=url, password=unquote(parts.password or ""))
        if scheme not in ("mysql", "mariadb"):
            raise ValueError("expected mysql://, mariadb:// or postgresql://user:password@host:port/database")
        try:
            port = parts.port or 3306
        except ValueError:
            raise ValueError("expected a port number from 1 to 65535") from None
        database = unquote(parts.path.strip("/"))
        if not parts.hostname or not database:
            raise ValueError("expected mysql://user:password@host:port/database")
        return cls(
            "mysql",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=database,
        )

    def describe(self) -> str:
        """The target without its password, for logs."""
        if self.dialect == "postgresql":
            parts = urlsplit(self.url)
            netloc = parts.netloc.rpartition("@")[2]
            user = f"{unquote(parts.username)}@" if parts.username else ""
            return f"{parts.scheme}://{user}{netloc}{parts.path}"
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"

    def hide(self, text: str) -> str:
        """`text` with the password blanked out where it stands as a password: in a URL's user part
        (`user:secret@`) or as `password=secret`. Other words that contain it are left alone (user
        `adv_rw_user` with password `rw` stays readable); driver messages never quote it otherwise."""
        if not self.password:
            return text
        text = re.sub(r"(://[^\s/@:]*:)[^\s@/]*@", r"\1***@", text)
        secrets = {re.escape(self.password), re.escape(quote(self.password, safe=""))}
        pattern = rf"(\bpassword\s*[=:]\s*)(['\"]?)(?:{'|'.join(sorted(secrets))})\2(?=[\s,;)]|$)"
        return re.sub(pattern, r"\1\2***\2", text, flags=re.I)

    def connect(self) -> Store:
        """Open a connection (importing its driver now); driver errors, or Fatal-worthy ImportError.

        A database that does not exist is created first (MissingDatabase when this user may not)."""
        if self.dialect == "postgresql":
            import psycopg

            try:
                conn: Any = self._pg_connect(self.url)
            except psycopg.OperationalError as err:
                if not self._pg_missing(err):
                    raise
                self._pg_create()
                conn = self._pg_connect(self.url)
        else:
            import pymysql

            try:
                conn = self._my_connect(self.database)
            except pymysql.err.OperationalError as err:
                if err.args[:1] not in ((UNKNOWN_DATABASE,), (DATABASE_DENIED,)):
                    raise
                self._my_create(known=err.args[0] == UNKNOWN_DATABASE)
                conn = self._my_connect(self.database)
        return Store(conn, self.dialect)

    def _my_connect(self, database: str | None) -> Any:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=IO_TIMEOUT,
            write_timeout=IO_TIMEOUT,
        )

    def _my_create(self, known: bool) -> None:
        """CREATE DATABASE IF NOT EXISTS, connected without a database; MissingDatabase when denied.

        `known`: the server said the database does not exist; else it refused access to it, which
        MariaDB/MySQL also say for a database that does not exist (to users with no rights on it)."""
        import pymysql

        name = "`" + self.database.replace("`", "``") + "`"
        create = f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4"
        conn = self._my_connect(None)
        try:
            with conn.cursor() as cur:
                cur.execute(create)
        except pymysql.err.MySQLError as err:
            grant = f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER ON {name}.* TO '{self.user}'@'%'"
            what = (
                "does not exist and"
                if known
                else f"does not exist or user {self.user!r} has no rights on it, and"
            )
            raise MissingDatabase(
                f"{what} user {self.user!r} may not create it ({describe_error(err)}); "
                f"create it once with an account that may: {create}; {grant};"
            ) from None
        finally:
            conn.close()
        log.info("created SQL database %s", self.describe())

    @staticmethod
    def _pg_connect(url: str, **options: Any) -> Any:
        import psycopg

        return psycopg.connect(url, autocommit=False, connect_timeout=CONNECT_TIMEOUT, **options)

    def _pg_names(self) -> tuple[str, str]:
        """(database, user) of the URL; the user libpq would pick when the URL has none."""
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self.url)
        user = str(info.get("user") or os.environ.get("PGUSER") or getpass.getuser())
        return str(info.get("dbname") or user), user

    def _pg_missing(self, err: BaseException) -> bool:
        database, _ = self._pg_names()
        return f'database "{database}" does not exist' in str(err)

    def _pg_create(self) -> None:
        """CREATE DATABASE, connected to the maintenance database `postgres`; MissingDatabase when
        this user may not (or may not connect there)."""
        import psycopg
        from psycopg import sql as pgsql

        database, user = self._pg_names()
        create = f'CREATE DATABASE "{database.replace(chr(34), chr(34) * 2)}"'
        try:
            with self._pg_connect(self.url, dbname="postgres") as conn:
                conn.autocommit = True
                found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
                if found is None:
                    conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(database)))
        except psycopg.errors.DuplicateDatabase:  # another export created it at the same moment
            return
        except psycopg.Error as err:
            owner = f'{create} OWNER "{user.replace(chr(34), chr(34) * 2)}"'
            raise MissingDatabase(
                f"does not exist and user {user!r} may not create it ({self.hide(describe_error(err))}); "
                f"create it once with an account that may: {owner};"
            ) from None
        log.info("created SQL database %s", self.describe())


class Store:
    """An open connection to the history database."""

    def __init__(self, conn: Any, dialect: str):
        self.conn = conn
        self.dialect = dialect

    def q(self, name: str) -> str:
        """A quoted identifier (`user` is reserved in PostgreSQL)."""
        return f'"{name}"' if self.dialect == "postgresql" else f"`{name}`"

    # --- schema ----------------------------------------------------------------------------------

    def _text_collation(self) -> str:
        """A binary, no-pad collation, so keys differing in case or trailing spaces stay apart."""
        for name in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin"):
            if self._fetch("SHOW COLLATION LIKE %s", (name,)):
                return name
        return "utf8mb4_bin"

    def _kind(self, kind: str, collation: str) -> str:
        pg = self.dialect == "postgresql"
        return {
            "date": "DATE",
            "count": "BIGINT",
            "tokens": "DOUBLE PRECISION" if pg else "DOUBLE",
            "text": "VARCHAR(255)" if pg else f"VARCHAR(255) COLLATE {collation}",
        }[kind]

    @staticmethod
    def _null(table: Table, column: str) -> str:
        return "NULL" if column in table.optional else "NOT NULL"

    def create_table_sql(self, table: Table, collation: str = "") -> str:
        pg = self.dialect == "postgresql"
        lines = [
            f"{self.q(name)} {self._kind(kind, collation)} {self._null(table, name)}"
            for name, kind in table.columns
        ]
        if table.name == "daily_users":
            lines.append(f"{self.q(STAMP)} {'TIMESTAMP' if pg else 'DATETIME'} NULL")
        lines.append(f"PRIMARY KEY ({', '.join(self.q(n) for n in table.names[: table.keys])})")
        tail = "" if pg else f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"
        body = ",\n  ".join(lines)
        return f"CREATE TABLE IF NOT EXISTS {self.q(table.name)} (\n  {body}\n){tail}"

    def ensure_schema(self, scope: dict[str, str] | None = None) -> None:
        """Check the scope, create missing tables, add `computed_at` to an older daily_users and the
        optional columns to older tables, record the scope when none is. Never drops anything.

        A stored scope (history_scope) that differs from `scope` raises ScopeMismatch before anything
        is created or written. Tables that exist are left alone, so a writer with only SELECT, INSERT,
        UPDATE and DELETE works on a schema created beforehand. A lock serialises concurrent first runs
        (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe when two sessions run it at the same time)."""
        self._lock_schema()
        try:
            schema = "current_schema()" if self.dialect == "postgresql" else "DATABASE()"
            present = {
                row[0]
                for row in self._fetch(
                    f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}"
                )
            }
            stored: dict[str, str] = {}
            if SCOPE.name in present:
                names = ", ".join(self.q(n) for n in SCOPE.names)
                stored = dict(self._fetch(f"SELECT {names} FROM {self.q(SCOPE.name)}"))
            if scope is not None and stored and stored != scope:
                raise ScopeMismatch(
                    f"holds the history of {describe_scope(stored)}, but this run exports "
                    f"{describe_scope(scope)}; use one history database per MongoDB database and tenant"
                )
            missing = [table for table in (*TABLES, SCOPE, PENDING, ACTIVITY) if table.name not in present]
            found = self._column_types(schema)
            columns = set(found)
            self._check_columns(present, found)
            added = [
                (table, name)
                for table in TABLES
                if table.name in present
                for name in table.optional
                if (table.name, name) not in columns
            ]
            if missing or added:
                collation = "" if self.dialect == "postgresql" else self._text_collation()
                for table in missing:
                    self._exec(self.create_table_sql(table, collation))
                for table, name in added:  # rows stored before get NULL: recompute them with --force
                    kind = self._kind(dict(table.columns)[name], collation)
                    self._exec(f"ALTER TABLE {self.q(table.name)} ADD COLUMN {self.q(name)} {kind} NULL")
            if "daily_users" in present and ("daily_users", STAMP) not in columns:
                kind = "TIMESTAMP" if self.dialect == "postgresql" else "DATETIME"
                self._exec(f"ALTER TABLE {self.q('daily_users')} ADD COLUMN {self.q(STAMP)} {kind} NULL")
            if scope is not None and not stored:
                self._insert(SCOPE, sorted(scope.items()))
            self.conn.commit()
        except BaseException:
            self.rollback()
            raise
        finally:
            self._unlock_schema()

    def _column_types(self, schema: str) -> dict[tuple[str, str], tuple[str, int | None, str]]:
        """{(table, column): (data type, character length, the type as written)} of the schema."""
        written = "column_type" if self.dialect != "postgresql" else "data_type"
        rows = self._fetch(
            f"SELECT table_name, column_name, data_type, character_maximum_length, {written} "
            f"FROM information_schema.columns WHERE table_schema = {schema}"
        )
        types = {}
        for table, column, kind, length, text in rows:
            text = PG_SHORT.get(str(text), text)
            shown = f"{text}({length})" if self.dialect == "postgresql" and length else str(text)
            types[(str(table), str(column))] = (str(kind).lower(), length, shown.upper())
        return types

    def _check_columns(
        self, present: set[str], found: dict[tuple[str, str], tuple[str, int | None, str]]
    ) -> None:
        """ColumnMismatch when a table that exists lacks a required column or has one whose type would
        change the values written (INT for a DOUBLE rounds, a short VARCHAR cuts): such an export would
        store wrong numbers without an error. Wider types (INT counts of older tables, TEXT) pass."""
        problems = []
        for table in (*TABLES, SCOPE):
            if table.name not in present:
                continue
            wanted = list(table.columns) + ([(STAMP, "stamp")] if table.name == "daily_users" else [])
            for name, kind in wanted:
                expected = self._kind(kind, "") if kind != "stamp" else self._stamp_type()
                got = found.get((table.name, name))
                if got is None:
                    if name not in table.optional and kind != "stamp":
                        problems.append(f"table {table.name} has no column {name} (expected {expected})")
                    continue
                if not _type_fits(kind, got[0], got[1]):
                    fix = self._modify_sql(table, name, kind)
                    problems.append(
                        f"column {table.name}.{name} is {got[2]}, expected {expected} (the values stored "
                        f"would be rounded or cut); change it once: {fix}"
                    )
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ColumnMismatch(problems[0] + more)

    def _stamp_type(self) -> str:
        return "TIMESTAMP" if self.dialect == "postgresql" else "DATETIME"

    def _modify_sql(self, table: Table, name: str, kind: str) -> str:
        """The ALTER TABLE that gives column `name` the type the export writes."""
        if kind == "stamp":
            wanted, null = self._stamp_type(), "NULL"
        else:
            collation = "" if self.dialect == "postgresql" or kind != "text" else self._text_collation()
            wanted, null = self._kind(kind, collation), self._null(table, name)
        if self.dialect == "postgresql":
            return f"ALTER TABLE {self.q(table.name)} ALTER COLUMN {self.q(name)} TYPE {wanted}"
        return f"ALTER TABLE {self.q(table.name)} MODIFY {self.q(name)} {wanted} {null}"

    def _lock_schema(self) -> None:
        self._lock(SCHEMA_LOCK)

    def _unlock_schema(self) -> None:
        self._unlock(SCHEMA_LOCK)

    def _lock(self, name: str) -> None:
        """Serialise with other exports into this database: PostgreSQL a transaction-level advisory
        lock, MariaDB/MySQL a named lock (no rights needed). Two exports writing the same day at once
        would otherwise both delete nothing and both insert (a duplicate key on PostgreSQL)."""
        if self.dialect == "postgresql":
            self._exec("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
        else:
            got = self._fetch(f"SELECT GET_LOCK({LOCK_NAME}, %s)", (name, SCHEMA_LOCK_TIMEOUT))
            if not got or got[0][0] != 1:
                raise SchemaBusy(f"another export held the {name} lock for {SCHEMA_LOCK_TIMEOUT} s")

    def _unlock(self, name: str) -> None:
        if self.dialect != "postgresql":  # PostgreSQL's lock ended with the transaction
            with contextlib.suppress(Exception):
                self._fetch(f"SELECT RELEASE_LOCK({LOCK_NAME})", (name,))

    # --- reads -----------------------------------------------------------------------------------

    def stored_days(self, start: date, end: date) -> dict[date, datetime | None]:
        """Days in [start, end] present in daily_users, with the UTC time they were computed."""
        rows = self._fetch(
            f"SELECT {self.q('date')}, {self.q(STAMP)} FROM {self.q('daily_users')} "
            f"WHERE {self.q('date')} BETWEEN %s AND %s",
            (start, end),
        )
        self.conn.commit()
        return {row[0]: row[1] for row in rows}

    def period_rows(self, table: Table, keys: list[date]) -> dict[tuple, tuple]:
        """The stored rows of `keys` (weeks or months) as {(key,): (values,)}."""
        if not keys:
            return {}
        marks = ", ".join(["%s"] * len(keys))
        columns = ", ".join(self.q(n) for n in table.names)
        first = self.q(table.names[0])
        rows = self._fetch(f"SELECT {columns} FROM {self.q(table.name)} WHERE {first} IN ({marks})", keys)
        self.conn.commit()
        return table.keyed(rows)

    # --- writes ----------------------------------------------------------------------------------

    def pending(self, table: Table, keys: list[date]) -> set[date]:
        """Those of `keys` whose `table` row is pending (its days were rewritten since)."""
        if not keys:
            return set()
        marks = ", ".join(["%s"] * len(keys))
        name, start = (self.q(n) for n in PENDING.names)
        rows = self._fetch(
            f"SELECT {start} FROM {self.q(PENDING.name)} WHERE {name} = %s AND {start} IN ({marks})",
            (table.name, *keys),
        )
        self.conn.commit()
        return {row[0] for row in rows}

    def stored_activity(self, first: date, last: date) -> dict[date, set[str]]:
        """The user keys of the days in [first, last] that history_activity holds."""
        names = ", ".join(self.q(n) for n in ACTIVITY.names)
        rows = self._fetch(
            f"SELECT {names} FROM {self.q(ACTIVITY.name)} WHERE {self.q('date')} BETWEEN %s AND %s",
            (first, last),
        )
        self.conn.commit()
        out: dict[date, set[str]] = {}
        for day, key in rows:
            out.setdefault(day, set()).update({key} - {NO_USER})
        return out

    def replace_day(
        self,
        day: date,
        rows: Rows,
        computed_at: datetime,
        periods: tuple[tuple[Table, date], ...] = (),
        users: set[str] | None = None,
    ) -> Changes:
        """In one transaction: replace `day`'s rows in every daily table (a reader sees the old rows or
        the new ones, never none) and, when given, its `users` (history_activity), mark the rows of
        `periods` (the week and month containing the day) pending, commit. Returns how the day's rows
        compare with those stored before."""
        changes = Changes()
        with self._transaction():
            if users is not None:
                self._exec(f"DELETE FROM {self.q(ACTIVITY.name)} WHERE {self.q('date')} = %s", (day,))
                self._insert(ACTIVITY, [(day, key) for key in sorted(users | {NO_USER})])
            for table in DAILY:
                where = f"FROM {self.q(table.name)} WHERE {self.q('date')} = %s"
                columns = ", ".join(self.q(n) for n in table.names)
                before = table.keyed(self._fetch(f"SELECT {columns} {where}", (day,)))
                changes.add(before, table.keyed(rows.get(table.name, [])))
                self._exec(f"DELETE {where}", (day,))
            for table in DAILY:
                extra = (computed_at,) if table.name == "daily_users" else ()
                self._insert(table, [(*row, *extra) for row in rows.get(table.name, [])], bool(extra))
            for table, key in periods:
                self._unmark(table, key)
            self._insert(PENDING, [(table.name, key) for table, key in periods])
        return changes

    def replace_period(self, table: Table, row: tuple[Any, ...]) -> None:
        """In one transaction: replace the row of one week or month, which is no longer pending."""
        with self._transaction():
            self._exec(f"DELETE FROM {self.q(table.name)} WHERE {self.q(table.names[0])} = %s", (row[0],))
            self._insert(table, [row])
            self._unmark(table, row[0])

    def upsert(self, table: Table, rows: list[tuple[Any, ...]]) -> Changes:
        """In one transaction: insert `rows`, replacing the other columns of keys already stored; keys
        not in `rows` are kept (agent_info: a deleted agent keeps its last known name)."""
        changes = Changes()
        keys = [self.q(n) for n in table.names[: table.keys]]
        names = [self.q(n) for n in table.names]
        marks = ", ".join(["%s"] * len(names))
        rest = names[table.keys :]
        if self.dialect == "postgresql":
            update = ", ".join(f"{n} = EXCLUDED.{n}" for n in rest)
            tail = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
        else:
            tail = "ON DUPLICATE KEY UPDATE " + ", ".join(f"{n} = VALUES({n})" for n in rest)
        with self._transaction():
            before = table.keyed(self._fetch(f"SELECT {', '.join(names)} FROM {self.q(table.name)}"))
            after = table.keyed(rows)
            changes.add({k: v for k, v in before.items() if k in after}, after)
            if rows:
                with self.conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO {self.q(table.name)} ({', '.join(names)}) VALUES ({marks}) {tail}", rows
                    )
        return changes

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Under the write lock: the body's statements, committed, or rolled back on any exception."""
        try:
            self._lock(WRITE_LOCK)
            yield
            self.conn.commit()
        except BaseException:
            self.rollback()
            raise
        finally:
            self._unlock(WRITE_LOCK)

    def _unmark(self, table: Table, key: date) -> None:
        name, start = (self.q(n) for n in PENDING.names)
        self._exec(
            f"DELETE FROM {self.q(PENDING.name)} WHERE {name} = %s AND {start} = %s", (table.name, key)
        )

    def _insert(self, table: Table, rows: list[tuple[Any, ...]], stamped: bool = False) -> None:
        if not rows:
            return
        names = table.names + ((STAMP,) if stamped else ())
        columns = ", ".join(self.q(n) for n in names)
        marks = ", ".join(["%s"] * len(names))
        with self.conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {self.q(table.name)} ({columns}) VALUES ({marks})", rows)

    # --- plumbing --------------------------------------------------------------------------------

    def _exec(self, sql: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def _fetch(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def rollback(self) -> None:
        """Roll back if the connection still works (a lost connection rolls back on the server)."""
        with contextlib.suppress(Exception):
            self.conn.rollback()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
