"""The MongoDB side: client factory, time limits, and the index-friendly time spans every query uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database

from .settings import Settings


def connect(settings: Settings) -> MongoClient:
    """A lazily connecting client with short server-selection and socket time limits."""
    selection_ms = int(settings.mongodb_timeout * 1000)
    return MongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=selection_ms,
        connectTimeoutMS=selection_ms,
        socketTimeoutMS=int(settings.mongodb_query_timeout * 1000) + 5000,
        readPreference=settings.mongodb_read_preference,
        tz_aware=True,
        appname="librechat-metrics",
        retryReads=False,
    )


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
        self.db.client.admin.command("ping")


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
