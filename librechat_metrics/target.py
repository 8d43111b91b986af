"""The target check: does the configured database look like LibreChat's?

A wrong database name (`librechat` instead of `LibreChat`) or a URI that points at another server reads
as an empty LibreChat: every count zero. Those zeros look real, so the exporter serves nothing and the
history export writes nothing until the target holds LibreChat's collections. A fresh LibreChat install
passes: Mongoose creates its collections (empty) when LibreChat starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import MongoClient
from pymongo.errors import OperationFailure

# Created by every LibreChat since v0.4 (2023) at start-up, before the first user signs up.
REQUIRED = ("conversations", "messages", "users")
SYSTEM_DATABASES = frozenset(("admin", "config", "local"))


@dataclass(frozen=True)
class TargetCheck:
    """The outcome of one check: ok, or why not and where LibreChat's data may be instead."""

    database: str
    missing: tuple[str, ...]  # required collections the database lacks
    candidates: tuple[str, ...] = ()  # other databases on that server that look like LibreChat's
    listing_error: str = ""  # why the other databases could not be listed (e.g. no listDatabases right)

    @property
    def ok(self) -> bool:
        return not self.missing

    def reason(self) -> str:
        """One line for logs, /readyz and the export's error message."""
        if self.ok:
            return f"database {self.database!r} looks like LibreChat's"
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
            line += f"; other databases could not be listed: {self.listing_error}"
        else:
            line += "; no database on this server does"
        return line + " (set MONGODB_DATABASE or the database in MONGODB_URI)"


def looks_like_librechat(collections: list[str]) -> tuple[str, ...]:
    """The required collections missing from a list of collection names."""
    present = set(collections)
    return tuple(name for name in REQUIRED if name not in present)


def check_target(client: MongoClient, database: str) -> TargetCheck:
    """Check `database` on the server behind `client`. Raises pymongo errors when MongoDB is unreachable
    or the user may not list the database's collections (a failure, not a verdict)."""
    missing = looks_like_librechat(client[database].list_collection_names())
    if not missing:
        return TargetCheck(database, ())
    try:
        names = client.list_database_names()
    except OperationFailure as err:  # a user with rights on one database only
        return TargetCheck(database, missing, listing_error=str(err.details.get("errmsg", err)))
    candidates = []
    for name in sorted(names):
        if name in SYSTEM_DATABASES or name == database:
            continue
        try:
            if not looks_like_librechat(client[name].list_collection_names()):
                candidates.append(name)
        except OperationFailure:
            continue
    return TargetCheck(database, missing, tuple(candidates))
