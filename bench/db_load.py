"""MongoDB load of the exporter at steady state, measured with a pymongo command listener.

Runs the exporter's jobs in this process (default settings) against a served synthetic dataset. Once
every job has succeeded once (the first full recount is done), it measures for `--minutes` and reports,
from minute 2 on: commands per minute, whole-collection reads per minute (a read whose filter bounds no
field that stock LibreChat indexes) and documents returned per minute. Runs with different `--messages`
share the same last two days of activity and differ only in older history, so runs at 10k and 100k
messages show whether the load grows with history.

    .venv/bin/python bench/db_load.py --messages 10000 --minutes 6
    .venv/bin/python bench/db_load.py --messages 100000 --minutes 6
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
from pymongo import monitoring

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.app import build_jobs  # noqa: E402
from librechat_metrics.indexes import MissingIndexes  # noqa: E402
from librechat_metrics.mongo import Reader, connect  # noqa: E402
from librechat_metrics.scheduler import Scheduler  # noqa: E402
from librechat_metrics.settings import load  # noqa: E402
from librechat_metrics.synthetic import generate  # noqa: E402
from tests.support.exporter import start_exporter  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402

# Stock LibreChat indexes (librechat-data-model.md); `_id` is indexed everywhere.
INDEXED = {
    "messages": {"_id", "createdAt", "messageId", "conversationId", "user", "expiredAt", "tenantId"},
    "conversations": {"_id", "createdAt", "conversationId", "user", "expiredAt"},
}
READS = {"aggregate", "find", "count", "distinct"}


def bounded(filter_: dict[str, Any], collection: str) -> bool:
    """Does the filter restrict an indexed field (so MongoDB need not read the whole collection)?"""
    indexed = INDEXED.get(collection, {"_id"})
    for key, value in filter_.items():
        if key == "$and":
            if any(bounded(part, collection) for part in value):
                return True
        elif key in indexed and not (isinstance(value, dict) and set(value) <= {"$ne", "$exists", "$type"}):
            return True
    return False


class Recorder(monitoring.CommandListener):
    """Counts commands per minute; classifies reads; counts returned documents."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.per_minute: dict[int, Counter[str]] = {}
        self.pending: dict[int, int] = {}

    def _bump(self, what: str, by: int = 1) -> None:
        minute = int((time.monotonic() - self.start) // 60)
        with self.lock:
            self.per_minute.setdefault(minute, Counter())[what] += by

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name, cmd = event.command_name, event.command
        if name in ("hello", "ismaster", "isMaster", "endSessions"):
            return  # driver housekeeping, not the exporter's queries
        self._bump("commands")
        if name in READS:
            collection = cmd.get(name)
            filter_ = {}
            if name == "aggregate":
                first = (cmd.get("pipeline") or [{}])[0]
                filter_ = first.get("$match", {})
            elif name == "find":
                filter_ = cmd.get("filter", {})
            elif name == "count":
                filter_ = cmd.get("query") or {}
                if not filter_:
                    return  # estimatedDocumentCount: collection metadata, not a read
            if not bounded(filter_, collection):
                self._bump("whole_collection_reads")
                self._bump(f"whole:{collection}:{name}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if cursor:
            self._bump("documents_returned", len(cursor.get("firstBatch", cursor.get("nextBatch", []))))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._bump("failed")


def dataset(now: datetime, messages: int, recent: int) -> dict[str, list[dict]]:
    """The same last two days (same seed, same `now`) on top of `messages - recent` older messages, so that
    runs of different sizes differ only in history."""
    today = generate(profile="v0.8.7", seed=1, n_messages=recent, now=now, zones=("UTC",), history_days=2)
    older = generate(
        profile="v0.8.7",
        seed=2,
        n_messages=messages - recent,
        now=now - timedelta(days=3),
        zones=("UTC",),
        history_days=max(2, (messages - recent) // 100),
    )
    return {name: today.collections[name] + older.collections[name] for name in today.collections}


def exporter_rss(uri: str) -> float:
    """RSS (MB) of a real `metrics.py` process after its jobs have all run twice against the dataset."""
    exporter = start_exporter(
        uri, {"METRICS_CACHE_TTL": "5", "LOGGING_LEVEL": "warning", "MONGODB_TIMEOUT": "300"}
    )
    try:
        exporter.wait_ready(600)
        time.sleep(12)
        return psutil.Process(exporter.proc.pid).memory_info().rss / 2**20
    finally:
        exporter.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument(
        "--recent", type=int, default=300, help="messages of the last two days (same every run)"
    )
    parser.add_argument("--minutes", type=float, default=6)
    args = parser.parse_args()

    now = datetime.now(timezone.utc).replace(microsecond=0)
    began = time.monotonic()
    data = dataset(now, args.messages, args.recent)
    server = start_mongoeco(data)
    seeded = time.monotonic() - began
    recorder = Recorder()
    monitoring.register(recorder)
    # mongoeco answers one command at a time in pure Python: a full recount of 100k documents blocks its
    # heartbeat replies for longer than the default 5 s, so give the test server more patience.
    settings = load(
        {
            "MONGODB_URI": server.uri,
            "LOGGING_LEVEL": "warning",
            "MONGODB_TIMEOUT": "300",
            "MONGODB_QUERY_TIMEOUT": "3600",
        }
    )
    reader = Reader.from_settings(connect(settings), settings)
    scheduler = Scheduler(build_jobs(reader, settings, MissingIndexes(reader)))
    recorder.start = time.monotonic()
    scheduler.start()
    try:
        # Steady state starts once every job has succeeded once (the first recount is done).
        while not scheduler.ready():
            time.sleep(1)
        warmup = time.monotonic() - recorder.start
        first = dict(sum(recorder.per_minute.values(), Counter()))
        recorder.start, recorder.per_minute = time.monotonic(), {}
        time.sleep(args.minutes * 60)
        scheduler.stop()
        rss = exporter_rss(server.uri)
    finally:
        scheduler.stop()
        server.stop()
    steady = [m for m in recorder.per_minute if 1 <= m < int(args.minutes)]  # minute 2 onward
    total = Counter()
    for m in steady:
        total.update(recorder.per_minute[m])
    per_minute = {k: v / max(1, len(steady)) for k, v in sorted(total.items())}
    usage = scheduler.states["usage"]
    print(
        json.dumps(
            {
                "messages": len(data["messages"]),
                "transactions": len(data["transactions"]),
                "seed_seconds": round(seeded, 1),
                "minutes_measured": len(steady),
                "per_minute_from_minute_2": per_minute,
                "warm_up_until_every_job_succeeded": {"seconds": round(warmup, 1), **first},
                "usage_last_cycle_seconds": usage.duration,
                "exporter_process_rss_mb": rss,
                "errors": {n: s.errors for n, s in scheduler.states.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
