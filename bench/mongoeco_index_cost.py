"""Why the server seconds of bench/db_load.py are no forecast for MongoDB: mongoeco's index ranges.

Times, in mongoeco's in-memory engine (in process), an aggregation and a count whose filter is a range on
an indexed `createdAt` that selects the same 51 documents at 10k and 100k documents, beside a scan of an
unindexed field. On MongoDB the indexed range costs the same at both sizes; here it grows with the
collection (and is slower than the scan), so mongoeco time grows with history even for index-bounded
reads. The command counts of db_load do not depend on this.

    .venv/bin/python bench/mongoeco_index_cost.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from mongoeco import MongoClient


def timed_ms(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return round((time.perf_counter() - began) * 1000, 1)


def measure(size: int, now: datetime) -> dict[str, float | int]:
    recent = {"createdAt": {"$gte": now - timedelta(minutes=50)}}
    by_model = {"$group": {"_id": "$model", "n": {"$sum": 1}}}
    collection = MongoClient()["bench"]["messages"]
    collection.create_index("createdAt")
    collection.insert_many(
        [{"createdAt": now - timedelta(minutes=i), "model": f"m{i % 7}", "x": i} for i in range(size)]
    )
    return {
        "indexed_range_aggregate_ms": timed_ms(
            lambda: list(collection.aggregate([{"$match": recent}, by_model]))
        ),
        "indexed_range_count_ms": timed_ms(lambda: collection.count_documents(recent)),
        "unindexed_scan_aggregate_ms": timed_ms(
            lambda: list(collection.aggregate([{"$match": {"x": {"$lt": 51}}}, by_model]))
        ),
        "documents_in_range": collection.count_documents(recent),
    }


def main() -> None:
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    print(json.dumps({size: measure(size, now) for size in (10_000, 100_000)}, indent=2))


if __name__ == "__main__":
    main()
