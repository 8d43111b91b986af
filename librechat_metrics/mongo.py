"""The MongoDB side: client factory, time limits, and the index-friendly time spans every query uses."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError

from . import uri
from .settings import Settings

log = logging.getLogger("librechat_metrics.mongo")

# Collections whose documents LibreChat hides once their `expiredAt` has passed (activeExpirationFilter
# in @librechat/data-schemas), before MongoDB's TTL monitor deletes them.
EXPIRING = ("messages", "conversations")
# Every BSON type a query can name but null and date: an expiredAt of one of them is never visible.
_ODD_TYPES = ["double", "string", "object", "array", "binData", "objectId", "bool", "regex", "int"]
_ODD_TYPES += ["timestamp", "long", "decimal", "minKey", "maxKey", "javascript"]


def visible(now: datetime) -> dict[str, Any]:
    """Query: a document LibreChat still shows at `now`: `expiredAt` missing, null or a date after `now`
    (`{$or: [{expiredAt: null}, {expiredAt: {$gt: now}}]}`, with no array, which would match by element)."""
    after = {"expiredAt": {"$type": "date", "$gt": now}}
    return {"$and": [{"expiredAt": {"$not": {"$type": "array"}}}, {"$or": [{"expiredAt": None}, after]}]}


def hidden(now: datetime) -> dict[str, Any]:
    """Query: the documents `visible` leaves out, bounded on the TTL index of `expiredAt`."""
    return {"$or": [{"expiredAt": {"$type": "date", "$lte": now}}, {"expiredAt": {"$type": _ODD_TYPES}}]}


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
    """Runs aggregations on LibreChat's database with a server-side time limit on each one.

    With `tenant` (LIBRECHAT_TENANT_ID), every read is scoped to that tenant here, in one place, so
    no query can forget it: `{tenantId: tenant}` joins the leading `$match` of every aggregation and
    the filter of every find, and counts become index-bounded `count_documents` on `tenantId`
    (collection metadata cannot filter). LibreChat indexes `tenantId` on every collection.

    Reads of the EXPIRING collections see only the documents `visible` at `now` (a job's run sets it
    with `at`; unset, the clock), as LibreChat's own queries do.
    """

    db: Database
    time_limit_ms: int
    tenant: str | None = None
    now: datetime | None = None

    def at(self, now: datetime) -> Reader:
        """The same reader, hiding what has expired at `now`."""
        return replace(self, now=now)

    def _now(self) -> datetime:
        return self.now if self.now is not None else datetime.now(timezone.utc)

    @classmethod
    def from_settings(cls, client: MongoClient, settings: Settings) -> Reader:
        return cls(
            client[settings.mongodb_database], int(settings.mongodb_query_timeout * 1000), settings.tenant
        )

    def scoped(self, query: dict[str, Any], collection: str = "") -> dict[str, Any]:
        """`query` restricted to the tenant and, in an EXPIRING collection, to visible documents
        (unchanged otherwise)."""
        only = [] if self.tenant is None else [{"tenantId": self.tenant}]
        if collection in EXPIRING:
            only.append(visible(self._now()))
        if not only:
            return query
        parts = [*only, query] if query else only
        return {"$and": parts} if len(parts) > 1 else parts[0]

    def scoped_pipeline(self, pipeline: list[dict[str, Any]], collection: str = "") -> list[dict[str, Any]]:
        """`pipeline` whose leading `$match` (added when there is none) is scoped (see `scoped`)."""
        if self.tenant is None and collection not in EXPIRING:
            return pipeline
        if pipeline and list(pipeline[0]) == ["$match"]:
            return [{"$match": self.scoped(pipeline[0]["$match"], collection)}, *pipeline[1:]]
        return [{"$match": self.scoped({}, collection)}, *pipeline]

    def aggregate(self, collection: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        started = time.monotonic()
        scoped = self.scoped_pipeline(pipeline, collection)
        cursor = self.db[collection].aggregate(scoped, maxTimeMS=self.time_limit_ms, allowDiskUse=True)
        result = list(cursor)
        _ran("aggregate", collection, _stages(scoped), len(result), started)
        return result

    def each(self, collection: str, pipeline: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Like aggregate, one batch at a time (for results too large to hold at once)."""
        started, n = time.monotonic(), 0
        scoped = self.scoped_pipeline(pipeline, collection)
        with self.db[collection].aggregate(scoped, maxTimeMS=self.time_limit_ms, allowDiskUse=True) as cursor:
            for n, doc in enumerate(cursor, 1):  # noqa: B007 - n is the count read so far
                yield doc
        _ran("aggregate (streamed)", collection, _stages(scoped), n, started)

    def count(self, collection: str) -> int:
        started = time.monotonic()
        documents = self.db[collection]
        if self.tenant is not None:
            n = documents.count_documents(self.scoped({}, collection), maxTimeMS=self.time_limit_ms)
        else:
            n = documents.estimated_document_count(maxTimeMS=self.time_limit_ms)
            if collection in EXPIRING:  # metadata counts hidden documents too: take them off
                gone = documents.count_documents(hidden(self._now()), maxTimeMS=self.time_limit_ms)
                n = max(0, n - gone)
        _ran("count", collection, "", n, started)
        return n

    def find(
        self, collection: str, query: dict[str, Any], projection: dict[str, Any]
    ) -> list[dict[str, Any]]:
        started = time.monotonic()
        scoped = self.scoped(query, collection)
        cursor = self.db[collection].find(scoped, projection, max_time_ms=self.time_limit_ms)
        result = list(cursor)
        _ran("find", collection, f" of {', '.join(map(str, projection))}", len(result), started)
        return result

    def ping(self) -> None:
        """Ping a server the reads may use: with readPreference primary (pymongo's default for commands)
        a replica set without a primary would read as down although secondaries serve every query."""
        self.db.client.admin.command("ping", read_preference=self.db.read_preference)


def _stages(pipeline: list[dict[str, Any]]) -> str:
    """The stage names of a pipeline (` $match $group`): which query ran, none of its values."""
    return "".join(f" {name}" for stage in pipeline for name in stage)


def _ran(kind: str, collection: str, what: str, n: int, started: float) -> None:
    """The debug line of one read: its kind, collection and shape, documents returned, duration. Never
    a value of the query or of the answer (those hold ids, e-mails, names)."""
    took = time.monotonic() - started
    log.debug("%s on %s%s: %d documents in %.3f s", kind, collection, what, n, took)


@dataclass(frozen=True)
class Span:
    """A half-open time span [lo, hi) on a date field; lo=None also takes undated documents.

    Spans that meet at the same bound partition a collection exactly: `Span(None, t)` and
    `Span(t, None)` together cover every document, including those without a usable date.
    With `inserted`, the span is on insertion order (the time in an ObjectId `_id`) instead of
    `createdAt`; `Span(None, t, inserted=True)` then also takes every document whose `_id` is not
    an ObjectId.
    """

    lo: datetime | None = None
    hi: datetime | None = None
    inserted: bool = False

    def _field(self, by_id: bool) -> str:
        return "_id" if by_id or self.inserted else "createdAt"

    def _bound(self, when: datetime, by_id: bool) -> Any:
        return oid_bound(when) if self._field(by_id) == "_id" else when

    def match(self, by_id: bool = False) -> dict[str, Any]:
        """The $match filter on `createdAt`, or on `_id` (ObjectId time) when `by_id` or `inserted`."""
        field = self._field(by_id)
        # MongoDB compares an ObjectId bound only with ObjectIds, a date only with dates; saying so keeps
        # a test server that compares across types (mongoeco: a date `_id` is "after" every ObjectId, a
        # regex createdAt "after" every date) from differing.
        kind = {"$type": "objectId" if field == "_id" else "date"}
        if self.lo is not None:
            rng = {**kind, "$gte": self._bound(self.lo, by_id)}
            if self.hi is not None:
                rng["$lt"] = self._bound(self.hi, by_id)
            return {field: rng}
        if self.hi is not None:
            return {"$nor": [{field: {**kind, "$gte": self._bound(self.hi, by_id)}}]}
        return {}

    def test(self, by_id: bool = False) -> dict[str, Any]:
        """Aggregation expression: is the document in the span (a lower bound must be set)."""
        if self.lo is None:
            raise ValueError("a span used as an expression needs a lower bound")
        field = self._field(by_id)
        kind = "objectId" if field == "_id" else "date"
        # Only a real date (or ObjectId) counts: a string createdAt must not pass a comparison.
        parts = [
            {"$eq": [{"$type": f"${field}"}, kind]},
            {"$gte": [f"${field}", self._bound(self.lo, by_id)]},
        ]
        if self.hi is not None:
            parts.append({"$lt": [f"${field}", self._bound(self.hi, by_id)]})
        return {"$and": parts}

    def holds(self, doc: dict[str, Any], by_id: bool = False) -> bool:
        """The same test in Python, on a document that has the span's field."""
        if self.lo is None:
            raise ValueError("a span used as a test needs a lower bound")
        field = self._field(by_id)
        value = doc.get(field)
        if not isinstance(value, ObjectId if field == "_id" else datetime):
            return False
        return self._bound(self.lo, by_id) <= value and (
            self.hi is None or value < self._bound(self.hi, by_id)
        )


@dataclass(frozen=True)
class AnyOf:
    """Documents in any of the spans, in one query (MongoDB bounds each branch of `$or` on its index)."""

    spans: tuple[Span, ...]

    def match(self, by_id: bool = False) -> dict[str, Any]:
        return {"$or": [span.match(by_id) for span in self.spans]}


OID_FIRST = ObjectId("0" * 24)  # time 1970-01-01 00:00:00 UTC, the first an ObjectId can hold
OID_AFTER_LAST = ObjectId("f" * 24)  # no ObjectId's time is after 2106-02-07 06:28:15 UTC


def oid_bound(when: datetime) -> ObjectId:
    """The smallest ObjectId whose (whole-second) time is at or after `when`, clamped to the times
    an ObjectId holds (4 bytes of seconds since 1970): a bound before 1970 (a day's lookback, a zone
    west of UTC) is the first ObjectId, one after 2106 the last."""
    whole = when.replace(microsecond=0)
    if whole < when:
        whole += timedelta(seconds=1)
    seconds = (whole if whole.tzinfo else whole.replace(tzinfo=timezone.utc)).timestamp()  # naive: UTC
    if seconds <= 0:
        return OID_FIRST
    if seconds > 0xFFFFFFFF:
        return OID_AFTER_LAST
    return ObjectId.from_datetime(whole)


def since(field: str, when: datetime) -> dict[str, Any]:
    """Aggregation expression: is the date `field` at or after `when` (a string or missing one is not)."""
    return {"$and": [{"$eq": [{"$type": f"${field}"}, "date"]}, {"$gte": [f"${field}", when]}]}


# Server errors a later attempt may not meet: shutdowns, elections, network trouble, time limits.
TRANSIENT_CODES = {6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}


def transient(err: BaseException) -> bool:
    """Whether repeating the operation may succeed: no server reached, a connection lost, a time limit,
    a primary stepping down. A refused command, a bad query or a bad value fails the same way again."""
    if isinstance(err, ConnectionFailure):
        return True
    if isinstance(err, OperationFailure):
        return err.code in TRANSIENT_CODES or err.has_error_label("RetryableError")
    return False


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
