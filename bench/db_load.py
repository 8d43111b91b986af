"""MongoDB load of the exporter at steady state, measured with a pymongo command listener.

Runs the exporter's jobs in this process (default settings) against a served synthetic dataset while a
writer adds LibreChat activity at a constant rate (by default a message every 2.5 s with its
transactions, and a rating of an earlier reply every 25 s), as a live deployment does; the writer starts
`--prefill` seconds (5 minutes) before the exporter, so every 5-minute window is full from the first
measured minute and the write rate the exporter sees is constant throughout. Once every job has
succeeded once (the first full recount is done), it measures for `--minutes` and reports, from minute 2
on: commands per minute, whole-collection reads per minute (a read whose filter bounds no field that
stock LibreChat indexes), documents and reply bytes returned per minute (bytes also per job, and per
minute since the last full recount: do they follow the write rate, or grow until the next recount?),
and server seconds per minute (the summed round-trip time of the exporter's commands: mongoeco's time,
and its query plans are not MongoDB's, so this shows relative effort only, no forecast for MongoDB).
The writer's own commands are not counted.
Runs with different `--messages` share the same last two days of activity and the same writes, and
differ only in older history, so runs at 10k and 100k messages show whether the load grows with history.

The hourly full recount (METRICS_RESYNC_INTERVAL) is not in a few minutes' window; its cost is reported
from the warm-up, where it runs once, and spread over the resync interval.

`--exporter original` runs, instead, the 37 operations per 60 s of an exporter built the original's way
(bench/original_style.py) under the same writes.

    .venv/bin/python bench/db_load.py --messages 10000 --minutes 6
    .venv/bin/python bench/db_load.py --messages 100000 --minutes 6
    .venv/bin/python bench/db_load.py --messages 10000 --minutes 6 --exporter original
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bson
import psutil
from bson import ObjectId
from pymongo import MongoClient, monitoring
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.original_style import cycle as original_cycle  # noqa: E402
from librechat_metrics.app import create_app  # noqa: E402
from librechat_metrics.scheduler import Scheduler  # noqa: E402
from librechat_metrics.settings import load  # noqa: E402
from librechat_metrics.synthetic import generate  # noqa: E402
from librechat_metrics.values import job as current_job  # noqa: E402
from tests.support.exporter import start_exporter  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402

# Stock LibreChat indexes (librechat-data-model.md); `_id` is indexed everywhere.
INDEXED = {
    "messages": {"_id", "createdAt", "messageId", "conversationId", "user", "expiredAt", "tenantId"},
    "conversations": {"_id", "createdAt", "conversationId", "user", "expiredAt"},
    "scheduleruns": {"_id", "user", "tenantId", "scheduleId", "status", "settledAt"},  # {status, firedAt}
}
READS = {"aggregate", "find", "count", "distinct"}


def bounded(filter_: dict[str, Any], collection: str) -> bool:
    """Does the filter restrict an indexed field (so MongoDB need not read the whole collection)?"""
    indexed = INDEXED.get(collection, {"_id"})
    for key, value in filter_.items():
        if key == "$and":
            if any(bounded(part, collection) for part in value):
                return True
        elif key == "$or":  # MongoDB unions the branches' index ranges when every branch has one
            if value and all(bounded(part, collection) for part in value):
                return True
        elif value is None:  # null matches every document without the field: LibreChat's visibility filter
            continue
        elif isinstance(value, dict) and set(value) == {"$type"} and isinstance(value["$type"], list):
            if key in indexed:  # a list of odd types (hidden documents' expiredAt) is a narrow range
                return True
        elif key in indexed and not (
            isinstance(value, dict) and set(value) <= {"$ne", "$exists", "$type", "$not"}
        ):
            return True
    return False


def _shape(cmd: Any) -> str:
    """Which read a command is, none of its values: its stages after the first `$match` (a `$facet`'s
    facet names), or a find's projected fields."""
    stages = cmd.get("pipeline") or []
    parts = []
    for stage in stages[1:]:
        name = next(iter(stage), "")
        parts.append(f"{name}({','.join(stage[name])})" if name == "$facet" else name)
    if "projection" in cmd:
        parts.append(",".join(cmd["projection"]))
    return " ".join(parts)


class Recorder(monitoring.CommandListener):
    """Counts commands per minute; classifies reads; counts returned documents."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.per_minute: dict[int, Counter[str]] = {}
        self.pending: dict[int, str] = {}  # request id -> "collection:command", for the time per kind
        self.recounted: Callable[[], datetime | None] = lambda: None  # when the last full recount ran
        self.since_recount: dict[int, Counter[str]] = {}  # minute since the last recount -> reply bytes
        self.kinds: dict[int, str] = {}  # request id -> collection, command and pipeline shape

    def _bump(self, what: str, by: int = 1) -> None:
        minute = int((time.monotonic() - self.start) // 60)
        with self.lock:
            self.per_minute.setdefault(minute, Counter())[what] += by

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name, cmd = event.command_name, event.command
        if name in ("hello", "ismaster", "isMaster", "endSessions"):
            return  # driver housekeeping, not the exporter's queries
        self._bump("commands")
        self._bump(f"commands:{cmd.get(name)}:{name}")
        self.pending[event.request_id] = f"{cmd.get(name)}:{name}"
        self.kinds[event.request_id] = f"{cmd.get(name)}:{name}:{_shape(cmd)}"
        if name in READS:
            collection = cmd.get(name)
            filter_ = {}
            if name == "aggregate":
                first = (cmd.get("pipeline") or [{}])[0]
                filter_ = first.get("$match", {})
            elif name == "find":
                filter_ = cmd.get("filter", {})
            elif name == "distinct":
                filter_ = cmd.get("query") or {}
            elif name == "count":
                filter_ = cmd.get("query") or {}
                if not filter_:
                    return  # estimatedDocumentCount: collection metadata, not a read
            if not bounded(filter_, collection):
                self._bump("whole_collection_reads")
                self._bump(f"whole:{collection}:{name}")

    def _timed(self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent) -> None:
        self._bump("server_seconds", event.duration_micros / 1e6)
        kind = self.pending.pop(event.request_id, None)
        if kind is not None:
            self._bump(f"server_seconds:{kind}", event.duration_micros / 1e6)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._timed(event)
        size = len(bson.encode(event.reply))  # the reply document as it travels (BSON)
        self._bump("reply_bytes", size)
        self._bump(f"reply_bytes:{current_job()}", size)  # the job whose thread sent the command
        self._bump(f"reply_bytes:{current_job()}:{self.kinds.pop(event.request_id, '')}", size)
        recounted = self.recounted()
        if recounted is not None:
            minute = int((datetime.now(timezone.utc) - recounted).total_seconds() // 60)
            with self.lock:
                self.since_recount.setdefault(minute, Counter())["reply_bytes"] += size
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if cursor:
            self._bump("documents_returned", len(cursor.get("firstBatch", cursor.get("nextBatch", []))))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._timed(event)
        self.kinds.pop(event.request_id, None)
        self._bump("failed")


def _retried(write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """A write that a cancelled or lost connection interrupted is sent again; a document that had
    arrived anyway (duplicate _id) counts as written."""
    tries = 5
    for attempt in range(tries):
        try:
            write(*args, **kwargs)
            return
        except (DuplicateKeyError, BulkWriteError):
            return
        except AutoReconnect:
            if attempt == tries - 1:
                raise
            time.sleep(1)


class Writer(threading.Thread):
    """LibreChat at work: inserts a message (with its transactions) every `every` seconds and rates an
    earlier reply every tenth message, stamped with the current time. Uses a client created before the
    command listener was registered, so none of this is counted."""

    def __init__(self, uri: str, now: datetime, every: float) -> None:
        super().__init__(name="writer", daemon=True)
        pool = generate(profile="v0.8.7", seed=9, n_messages=600, now=now, zones=("UTC",), history_days=2)
        self.messages = sorted(pool.collections["messages"], key=lambda m: m["createdAt"])
        self.transactions: dict[Any, list[dict]] = {}
        for t in pool.collections["transactions"]:
            self.transactions.setdefault(t.get("messageId"), []).append(t)
        # As patient as the exporter's client below: a loaded mongoeco answers heartbeats late.
        patient = {
            "serverSelectionTimeoutMS": 3_600_000,
            "connectTimeoutMS": 3_600_000,
            "socketTimeoutMS": None,
        }
        self.db = MongoClient(uri, tz_aware=True, **patient)["LibreChat"]
        self.every, self.written, self.rated = every, 0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        replies: list[str] = []
        ids: dict[Any, str] = {}  # template messageId -> the id written (a reply names its question's)
        next_at = time.monotonic()
        while not self.stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.every
            template = self.messages[self.written % len(self.messages)]
            at = datetime.now(timezone.utc)
            message_id = f"bench-{self.written}"
            stamp = {"_id": ObjectId(), "createdAt": at, "updatedAt": at, "messageId": message_id}
            ids[template["messageId"]] = message_id
            parent = ids.get(template.get("parentMessageId"), template.get("parentMessageId"))
            _retried(self.db["messages"].insert_one, {**template, **stamp, "parentMessageId": parent})
            spent = [
                {**t, **stamp, "_id": ObjectId()} for t in self.transactions.get(template["messageId"], [])
            ]
            if spent:
                _retried(self.db["transactions"].insert_many, spent, ordered=False)
            if not template.get("isCreatedByUser"):
                replies.append(message_id)
            self.written += 1
            if self.written % 10 == 0 and replies:
                self.db["messages"].update_one(
                    {"messageId": replies[len(replies) // 2]},
                    {
                        "$set": {
                            "feedback": {"rating": "thumbsUp", "tag": "accurate_reliable"},
                            "updatedAt": at,
                        }
                    },
                )
                self.rated += 1


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
    patient = {"MONGODB_TIMEOUT": "600", "MONGODB_QUERY_TIMEOUT": "3600"}  # as start_ours: see there
    exporter = start_exporter(
        patient_uri(uri), {"METRICS_CACHE_TTL": "5", "LOGGING_LEVEL": "warning", **patient}
    )
    try:
        exporter.wait_ready(600)
        time.sleep(12)
        return psutil.Process(exporter.proc.pid).memory_info().rss / 2**20
    finally:
        exporter.stop()


def patient_uri(uri: str) -> str:
    """`uri` with an hour of patience for server selection and connections (monitor heartbeats too):
    at 100k documents mongoeco is busy with one recount read for minutes and answers nothing else, so
    the settings' limit (MONGODB_TIMEOUT, at most 600 s) would mark it down. URI options win."""
    joiner = "&" if "?" in uri else "/?"
    return f"{uri}{joiner}connectTimeoutMS=3600000&serverSelectionTimeoutMS=3600000"


def start_ours(uri: str) -> tuple[Scheduler, Callable[[], bool], Callable[[], None]]:
    """The exporter's jobs with default settings (more patience with mongoeco, see below)."""
    # mongoeco answers one command at a time in pure Python: a full recount of 100k documents blocks its
    # heartbeat replies for longer than the default 5 s, so give the test server more patience.
    settings = load(
        {
            "MONGODB_URI": patient_uri(uri),
            "LOGGING_LEVEL": "warning",
            "MONGODB_TIMEOUT": "600",
            "MONGODB_QUERY_TIMEOUT": "3600",
        }
    )
    scheduler = create_app(settings).scheduler  # every job the exporter runs, the target check included
    scheduler.start()
    return scheduler, scheduler.ready, scheduler.stop


def start_original(uri: str) -> tuple[None, Callable[[], bool], Callable[[], None]]:
    """Original-style cycles every 60 s (the next starts at once when one overruns)."""
    db = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=3_600_000, socketTimeoutMS=None)[
        "LibreChat"
    ]
    done, stopping = threading.Event(), threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            began = time.monotonic()
            original_cycle(db, datetime.now(timezone.utc))
            done.set()
            stopping.wait(max(0.0, 60 - (time.monotonic() - began)))

    threading.Thread(target=loop, name="original", daemon=True).start()
    return None, done.is_set, stopping.set


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument(
        "--recent", type=int, default=300, help="messages of the last two days (same every run)"
    )
    parser.add_argument("--minutes", type=float, default=6)
    parser.add_argument("--write-every", type=float, default=2.5, help="seconds between inserted messages")
    parser.add_argument("--exporter", choices=("ours", "original"), default="ours")
    parser.add_argument(
        "--prefill", type=float, default=300, help="seconds the writer runs before the exporter starts"
    )
    args = parser.parse_args()

    now = datetime.now(timezone.utc).replace(microsecond=0)
    began = time.monotonic()
    data = dataset(now, args.messages, args.recent)
    server = start_mongoeco(data)
    seeded = time.monotonic() - began
    writer = Writer(server.uri, now, args.write_every)  # its client predates the listener: not counted
    writer.start()
    # A constant write rate from the first measured minute: the 5-minute windows are full by then.
    time.sleep(args.prefill)
    recorder = Recorder()
    monitoring.register(recorder)
    recorder.start = time.monotonic()
    start = start_ours if args.exporter == "ours" else start_original
    scheduler, ready, stop = start(server.uri)
    if scheduler is not None:
        recorder.recounted = lambda: getattr(scheduler.states["usage"].result, "recounted_at", None)
    rss = None
    try:
        # Steady state starts once every job has succeeded once (for ours: the first recount is done).
        while not ready():
            time.sleep(1)
        warmup = time.monotonic() - recorder.start
        first = dict(sum(recorder.per_minute.values(), Counter()))
        recorder.start, recorder.per_minute, recorder.since_recount = time.monotonic(), {}, {}
        for minute in range(int(args.minutes)):  # a line per minute on stderr: a long run shows progress
            time.sleep(60)
            got = recorder.per_minute.get(minute, Counter())
            print(f"minute {minute + 1}: {dict(got)}", file=sys.stderr, flush=True)
        time.sleep(args.minutes * 60 - int(args.minutes) * 60)
        stop()
        if scheduler is not None:
            try:
                rss = exporter_rss(server.uri)
            except AssertionError as err:  # keep the load figures; say why RSS is missing
                print(f"db_load: exporter RSS not measured: {str(err).splitlines()[0]}", file=sys.stderr)
    finally:
        stop()
        writer.stopping.set()
        server.stop()
    steady = [m for m in recorder.per_minute if 1 <= m < int(args.minutes)]  # minute 2 onward
    total: Counter = Counter()
    for m in steady:
        total.update(recorder.per_minute[m])
    per_minute = {k: round(v / max(1, len(steady)), 3) for k, v in sorted(total.items())}
    result: dict[str, Any] = {
        "exporter": args.exporter,
        "messages": len(data["messages"]),
        "transactions": len(data["transactions"]),
        "seed_seconds": round(seeded, 1),
        "written_during_run": {"messages": writer.written, "ratings": writer.rated},
        "minutes_measured": len(steady),
        "per_minute_from_minute_2": per_minute,
        "warm_up_until_every_job_succeeded": {"seconds": round(warmup, 1), **first},
        # reply bytes in each whole minute since the last full recount (minute 0 holds the recount's
        # first cycle; the last minute is partial), and each measured minute's
        "reply_bytes_by_minute_since_recount": {
            m: c["reply_bytes"] for m, c in sorted(recorder.since_recount.items())
        },
        "reply_bytes_by_measured_minute": {
            m: c["reply_bytes"] for m, c in sorted(recorder.per_minute.items())
        },
    }
    if scheduler is not None:
        resync = load({"MONGODB_URI": server.uri}).metrics_resync_interval / 60
        result |= {
            # The warm-up is one full recount plus the first cycle of every job; spread over the hour it
            # is redone in, it is an upper bound of what the recount adds to each minute.
            "recount_spread_over_resync_interval": {
                "resync_minutes": resync,
                "whole_collection_reads_per_minute": round(
                    first.get("whole_collection_reads", 0) / resync, 3
                ),
                "server_seconds_per_minute": round(first.get("server_seconds", 0) / resync, 3),
            },
            "usage_last_cycle_seconds": scheduler.states["usage"].duration,
            "exporter_process_rss_mb": rss,
            "errors": {n: st.errors for n, st in scheduler.states.items()},
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
