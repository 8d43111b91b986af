"""The MongoDB side: client factory, time limits, and the index-friendly time spans every query uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError

from . import uri
from .settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword options for MongoClient: the settings are defaults, and every option written in
    MONGODB_URI wins (pymongo lets keywords beat the URI, so those are left out here)."""
    selection_ms = int(settings.mongodb_timeout * 1000)
    defaults = {
        "serverSelectionTimeoutMS": selection_ms,
        "connectTimeoutMS": selection_ms,
        "socketTimeoutMS": int(settings.mongodb_query_timeout * 1000) + 5000,
        "readPreference": settings.mongodb_read_preference,
        "appname": "librechat-metrics",
        "retryReads": False,
    }
    written = uri.options(settings.mongodb_uri)
    kept = {name: value for name, value in defaults.items() if name.lower() not in written}
    return {**kept, "tz_aware": True}  # not a URI option: the code relies on aware datetimes


def connect(settings: Settings) -> MongoClient:
    """A lazily connecting client with short server-selection and socket time limits."""
    return MongoClient(settings.mongodb_uri, **client_options(settings))


def check_client(settings: Settings) -> None:
    """Build the client without connecting (loads TLS certificates and keys), for --check-config.
    A mongodb+srv URI is left alone: pymongo would resolve its name in DNS."""
    if settings.mongodb_uri.startswith("mongodb+srv://"):
        return
    MongoClient(settings.mongodb_uri, **client_options(settings), connect=False).close()


@dataclass(frozen=True)
class Reader:
    """Runs aggregations on LibreChat's database with a server-side time limit on each one."""

    db: Database
    time_limit_ms: int

    @classmethod
    def from_settings(cls, client: MongoClient, settings: Settings) -> Reader:
        return cls(client[settings.mongodb_database], int(settings.mongodb_query_timeout * 1000))

    def aggregate(self, collection: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cursor = self.db[collection].aggregate(pipeline, maxTimeMS=self.time_limit_ms, allowDiskUse=True)
        return list(cursor)

    def count(self, collection: str) -> int:
        return self.db[collection].estimated_document_count(maxTimeMS=self.time_limit_ms)

    def find(
        self, collection: str, query: dict[str, Any], projection: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return list(self.db[collection].find(query, projection, max_time_ms=self.time_limit_ms))

    def ping(self) -> None:
        """Ping a server the reads may use: with readPreference primary (pymongo's default for commands)
        a replica set without a primary would read as down although secondaries serve every query."""
        self.db.client.admin.command("ping", read_preference=self.db.read_preference)


@dataclass(frozen=True)
class Span:
    """A half-open time span [lo, hi) on a date field; lo=None also takes undated documents.

    Spans that meet at the same bound partition a collection exactly: `Span(None, t)` and
    `Span(t, None)` together cover every document, including those without a usable date.
    """

    lo: datetime | None = None
    hi: datetime | None = None

    def match(self, by_id: bool = False) -> dict[str, Any]:
        """The $match filter on `createdAt`, or on `_id` (ObjectId time) when `by_id`."""
        field = "_id" if by_id else "createdAt"

        def bound(when: datetime) -> Any:
            return oid_bound(when) if by_id else when

        if self.lo is not None:
            rng = {"$gte": bound(self.lo)}
            if self.hi is not None:
                rng["$lt"] = bound(self.hi)
            return {field: rng}
        if self.hi is not None:
            return {"$nor": [{field: {"$gte": bound(self.hi)}}]}
        return {}


def oid_bound(when: datetime) -> ObjectId:
    """The smallest ObjectId whose (whole-second) time is at or after `when`."""
    whole = when.replace(microsecond=0)
    if whole < when:
        whole += timedelta(seconds=1)
    return ObjectId.from_datetime(whole)


def since(field: str, when: datetime) -> dict[str, Any]:
    """Aggregation expression: is `field` at or after `when` (dates only; ObjectId time for _id)."""
    if field == "_id":
        return {"$gte": ["$_id", oid_bound(when)]}
    bound = when
    # Only real dates count: a string or missing createdAt must not pass a date comparison.
    return {"$and": [{"$eq": [{"$type": f"${field}"}, "date"]}, {"$gte": [f"${field}", bound]}]}


def describe(err: BaseException, limit: int = 200) -> str:
    """One short line for a failed MongoDB operation, `kind: detail`: pymongo's server-selection errors
    end in a topology dump of several hundred characters, and server errors may quote the command.
    Every way of not reaching a server (refused, timed out, connection lost) is one kind."""
    if isinstance(err, ServerSelectionTimeoutError):
        reason = f"MongoDB unreachable: no server answered in time: {str(err).split(', Timeout:')[0]}"
    elif isinstance(err, ConnectionFailure):  # AutoReconnect, NetworkTimeout...
        reason = f"MongoDB unreachable: {type(err).__name__}: {err}"
    elif isinstance(err, OperationFailure):
        details = err.details or {}
        name = details.get("codeName") or f"code {err.code}"
        reason = f"{name}: {details.get('errmsg', str(err))}"
    else:
        reason = f"{type(err).__name__}: {err}"
    reason = re.sub(r" \(configured timeouts: [^)]*\)", "", reason)
    reason = " ".join(uri.redact_in(reason).split())
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."
