"""The target check: does the configured database look like LibreChat's?

A wrong database name (`librechat` instead of `LibreChat`) or a URI that points at another server reads
as an empty LibreChat: every count zero. Those zeros look real, so the exporter serves nothing and the
history export writes nothing until the target holds LibreChat's collections. A fresh LibreChat install
passes: Mongoose creates its collections (empty) when LibreChat starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from pymongo import MongoClient
from pymongo.errors import OperationFailure

# Created by every LibreChat since v0.4 (2023) at start-up, before the first user signs up.
REQUIRED = ("conversations", "messages", "users")
SYSTEM_DATABASES = frozenset(("admin", "config", "local"))
UNAUTHORIZED = 13  # MongoDB's error code
LIMITED = "this user sees only the collections it may read; give it the read role on the database"


@dataclass(frozen=True)
class TargetCheck:
    """The outcome of one check: ok, or why not and where LibreChat's data may be instead."""

    database: str
    missing: tuple[str, ...]  # required collections the database lacks
    candidates: tuple[str, ...] = ()  # other databases on that server that look like LibreChat's
    listing_error: str = ""  # why the other databases could not be listed (e.g. no listDatabases right)
    unknown_tenant: str = ""  # LIBRECHAT_TENANT_ID when no user of the database has that tenantId

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unknown_tenant

    def reason(self) -> str:
        """One line for logs, /readyz and the export's error message."""
        if self.ok:
            return f"database {self.database!r} looks like LibreChat's"
        if not self.missing:
            return (
                f"no user in database {self.database!r} has tenantId {self.unknown_tenant!r} "
                "(check LIBRECHAT_TENANT_ID)"
            )
        line = (
            f"database {self.database!r} does not look like LibreChat's "
            f"(no collection {', '.join(repr(name) for name in self.missing)})"
        )
        if self.candidates:
            named = []
            for name in self.candidates:
                case = " (differs only in case)" if name.lower() == self.database.lower() else ""
                named.append(f"{name!r}{case}")
            line += f"; databases on this server that do: {', '.join(named)}"
        elif self.listing_error:
            line += f"; other databases or collections could not be listed: {self.listing_error}"
        else:
            line += "; no database on this server does"
        return line + " (check MONGODB_DATABASE, and the server in MONGODB_URI)"


def looks_like_librechat(collections: list[str]) -> tuple[str, ...]:
    """The required collections missing from a list of collection names."""
    present = set(collections)
    return tuple(name for name in REQUIRED if name not in present)


def required_present(client: MongoClient, database: str) -> tuple[list[str], bool]:
    """Which of the required collections `database` has, and whether that list is only what this user
    may read. Asks only for those (a database may hold thousands) and with the client's read preference
    (pymongo's list_collection_names always asks a primary: a replica set without one would fail the
    check although every read works). A user without the listCollections right (a role with `find` on
    some collections) gets the collections it may read (authorizedCollections)."""
    db = client[database]
    command = {"listCollections": 1, "nameOnly": True, "filter": {"name": {"$in": list(REQUIRED)}}}
    try:
        reply, limited = db.command(command, read_preference=db.read_preference), False
    except OperationFailure as err:
        if err.code != UNAUTHORIZED:
            raise
        command["authorizedCollections"] = True
        reply, limited = db.command(command, read_preference=db.read_preference), True
    return [entry["name"] for entry in reply["cursor"]["firstBatch"]], limited


def tenant_seen(client: MongoClient, database: str, tenant: str) -> bool:
    """Does any user of `database` have this tenantId (one index-bounded read on users.tenantId)?"""
    db = client[database]
    users = db.get_collection("users", read_preference=db.read_preference)
    return users.find_one({"tenantId": tenant}, {"_id": 1}) is not None


def check_target(client: MongoClient, database: str, tenant: str | None = None) -> TargetCheck:
    """Check `database` on the server behind `client`, and with `tenant` that some user has that
    tenantId: a mistyped LIBRECHAT_TENANT_ID reads as an empty tenant, all zeros. Raises pymongo errors
    when MongoDB is unreachable or the user may not list the database's collections (a failure, not a
    verdict)."""
    present, limited = required_present(client, database)
    missing = looks_like_librechat(present)
    if not missing:
        if tenant and not tenant_seen(client, database, tenant):
            return TargetCheck(database, (), unknown_tenant=tenant)
        return TargetCheck(database, ())
    if limited:  # the collections may exist but be unreadable for this user
        return TargetCheck(database, missing, listing_error=LIMITED)
    try:
        reply = client.admin.command(
            {"listDatabases": 1, "nameOnly": True, "authorizedDatabases": True},
            read_preference=client.read_preference,
        )
    except OperationFailure as err:  # a user with rights on one database only
        return TargetCheck(database, missing, listing_error=str((err.details or {}).get("errmsg", err)))
    candidates = []
    for name in sorted(entry["name"] for entry in reply["databases"]):
        if name in SYSTEM_DATABASES or name == database:
            continue
        try:
            if not looks_like_librechat(required_present(client, name)[0]):
                candidates.append(name)
        except OperationFailure:
            continue
    return TargetCheck(database, missing, tuple(candidates))


class TargetWatch:
    """The exporter's view of the target: the last verdict, re-checked every fast cycle.

    Until a check has said yes, and from the moment one says no, the LibreChat jobs must not run and
    their data must not be served (`ok` is False); an unreachable MongoDB keeps the last verdict, so an
    outage behaves as before (last good values until they are stale)."""

    def __init__(self, client: MongoClient, database: str, tenant: str | None = None) -> None:
        self.client, self.database, self.tenant = client, database, tenant
        self.last: TargetCheck | None = None
        self.failures = 0  # how many times the verdict has turned bad
        self.answered: bool | None = None  # did MongoDB answer the last check (None: not tried yet)
        self.on_verdict: Callable[[bool], None] = lambda ok: None  # called when ok changes

    @property
    def ok(self) -> bool:
        last = self.last
        return last is not None and last.ok

    def refresh(self, now: object = None) -> TargetCheck:
        """Check now; raise TargetMismatch when the database does not look like LibreChat's."""
        try:
            check = check_target(self.client, self.database, self.tenant)
        except Exception as err:
            self.answered = isinstance(err, OperationFailure)  # refused is answered; unreachable is not
            raise
        self.answered = True  # MongoDB answered (whatever the verdict): the exporter's ping
        was = self.ok
        self.last = check
        if check.ok != was:
            self.failures += 0 if check.ok else 1
            self.on_verdict(check.ok)
        if not check.ok:
            raise TargetMismatch(check.reason())
        return check

    def metrics(self) -> Iterator[Metric]:
        last = self.last
        if last is None:
            return
        family = GaugeMetricFamily(
            "librechat_exporter_target_ok",
            "Whether the configured MongoDB database looks like LibreChat's (1) or not (0)",
        )
        family.add_metric([], 1.0 if last.ok else 0.0)
        yield family


class TargetMismatch(Exception):
    """The configured database does not look like LibreChat's (the message says why and where)."""
