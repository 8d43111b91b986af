"""Which indexes the exporter's queries rely on, and which optional ones would make slow groups cheap.

The exporter never creates an index itself; it reports what is missing (a self-metric and
`metrics.py --check-indexes`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from prometheus_client.core import GaugeMetricFamily, Metric
from pymongo.errors import OperationFailure

from .mongo import Reader

NAMESPACE_NOT_FOUND = 26  # MongoDB's error code

# (collection, key, why) — stock LibreChat has the createdAt ones; updatedAt is optional.
WANTED: tuple[tuple[str, str, str], ...] = (
    ("messages", "createdAt", "stock LibreChat index; every time window on messages uses it"),
    ("conversations", "createdAt", "stock LibreChat index"),
    (
        "messages",
        "updatedAt",
        "optional: librechat_thumbs_up_5m and _down_5m are served only with it, or with RATINGS_5M_SCAN=true"
        " (a scan of messages every METRICS_SLOW_INTERVAL)",
    ),
)


def leading_keys(reader: Reader, collection: str) -> set[str]:
    """The first key of each index of `collection`. Asked with the client's read preference: pymongo's
    index_information() always asks a primary, which a replica set may lack while reads work."""
    db = reader.db
    try:
        reply = db.command({"listIndexes": collection, "cursor": {}}, read_preference=db.read_preference)
    except OperationFailure as err:
        if err.code == NAMESPACE_NOT_FOUND:  # no such collection: no index
            return set()
        raise
    return {next(iter(spec["key"])) for spec in reply["cursor"]["firstBatch"] if spec.get("key")}


def missing(reader: Reader) -> list[tuple[str, str, str]]:
    """Wanted indexes whose first key is not the leading key of any index of the collection."""
    leading = {collection: leading_keys(reader, collection) for collection in {c for c, _, _ in WANTED}}
    return [(c, k, why) for c, k, why in WANTED if k not in leading[c]]


@dataclass
class MissingIndexes:
    """The slow job that checks indexes, and the self-metric it feeds."""

    reader: Reader
    found: list[tuple[str, str, str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, now: datetime) -> list[tuple[str, str, str]]:
        result = missing(self.reader)
        with self._lock:
            self.found = result
        return result

    def metrics(self) -> Iterator[Metric]:
        with self._lock:
            found = self.found
        if found is None:
            return
        family = GaugeMetricFamily(
            "librechat_exporter_missing_index",
            "1 for each index the exporter would use that MongoDB lacks",
            labels=["collection", "key"],
        )
        for collection, key, _ in found:
            family.add_metric([collection, key], 1)
        yield family


def missing_indexes_report(reader: Reader, out: TextIO) -> int:
    """Print the missing indexes with the mongosh command that creates each; exit code 0."""
    rows = missing(reader)
    if not rows:
        print("all indexes the exporter uses are present", file=out)
    for collection, key, why in rows:
        print(f"missing {collection}.{key} ({why}):\n  db.{collection}.createIndex({{{key}: 1}})", file=out)
    return 0
