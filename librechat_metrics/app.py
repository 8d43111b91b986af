"""Wiring of the exporter: settings -> MongoDB reader -> jobs -> snapshots -> HTTP."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import Metric
from pymongo.errors import PyMongoError

from . import __version__, mongo, uri
from .chargeback import GroupCostJob
from .collector import SnapshotCollector, registries
from .demo.options import pace_help
from .engagement import collect_engagement
from .groups import (
    UsageGroup,
    collect_activity,
    collect_balances,
    collect_inventory,
    collect_recent_ratings,
    collect_schedules,
)
from .indexes import MissingIndexes, missing_indexes_report
from .mongo import Reader, connect
from .page import Page
from .pagecache import PageCache
from .scheduler import Blocked, Job, Scheduler
from .server import make_app, serve
from .settings import Settings, effective, parse_cli, redact
from .target import TargetMismatch, TargetWatch, check_target
from .webconfig import WebConfigError, load_web_config

log = logging.getLogger("librechat_metrics")


UNGATED = ("ping", "target")  # every other job reads LibreChat's collections


class Restartable:
    """A job rebuilt from scratch (the usage group's recount base) whenever `epoch()` changes: the
    target failed its check in between, so what it kept may come from another database."""

    def __init__(self, make: Callable[[], Callable[[datetime], Any]], epoch: Callable[[], int]) -> None:
        self.make, self.epoch = make, epoch
        self.seen, self.current = epoch(), make()

    def __call__(self, now: datetime) -> Any:
        if self.epoch() != self.seen:
            self.seen, self.current = self.epoch(), self.make()
        return self.current(now)


def build_jobs(
    reader: Reader, settings: Settings, missing: MissingIndexes, watch: TargetWatch | None = None
) -> list[Job]:
    """The background jobs; a job runs only when a family that needs it is enabled. With `watch`, a
    `target` job checks the database every fast cycle, and the others run only while it passes."""
    fast, slow = settings.metrics_cache_ttl, settings.metrics_slow_interval
    on = settings.enabled

    def ping(now: datetime) -> bool:
        reader.ping()
        return True

    def gate(run: Callable[[datetime], Any]) -> Callable[[datetime], Any]:
        if watch is None:
            return run

        def gated(now: datetime) -> Any:
            if not watch.ok:
                raise Blocked(_blocked(watch))
            result = run(now)
            if not watch.ok:  # the verdict turned while this ran: its data is not to be trusted
                raise Blocked(_blocked(watch))
            return result

        return gated

    def epoch() -> int:
        return watch.failures if watch else 0

    def bind(collect: Any) -> Any:
        return gate(lambda now: collect(reader, settings, now))

    # A slow job that failed (e.g. MongoDB was down) retries at the fast pace, not 5 minutes later.
    # The target check's listCollections is answered only by a reachable MongoDB, so it is the ping
    # too (librechat_mongodb_up comes from it): one command a cycle instead of two.
    jobs = [Job("ping", fast, ping) if watch is None else Job("target", fast, watch.refresh)]
    if any(on(t) for t in ("basic", "token", "model", "time_window", "rating", "tool")):
        usage = Restartable(lambda: UsageGroup(reader, settings), epoch)
        jobs.append(Job("usage", fast, gate(usage)))
    if on("user"):
        jobs.append(Job("activity", fast, bind(collect_activity)))
    if on("user"):  # rolling 1/7/30-day windows: the 30-day read is large, so at the slow pace
        jobs.append(Job("engagement", slow, bind(collect_engagement), retry=fast))
    if on("basic") or on("user") or on("file"):
        jobs.append(Job("inventory", slow, bind(collect_inventory), retry=fast))
    if on("rating") and on("time_window"):
        jobs.append(Job("recent_ratings", slow, bind(collect_recent_ratings), retry=fast))
    if on("user"):
        jobs.append(Job("balances", slow, bind(collect_balances), retry=fast))
    if on("user"):  # cost per group: membership and per-user credits, at the slow pace
        jobs.append(Job("group_cost", slow, gate(Restartable(lambda: GroupCostJob(reader, settings), epoch))))
    if on("schedule"):
        jobs.append(Job("schedules", slow, bind(collect_schedules), retry=fast))
    jobs.append(Job("indexes", slow, gate(missing.refresh), retry=fast))
    return jobs


def _blocked(watch: TargetWatch) -> str:
    if watch.last is None:
        return "the target database has not been checked yet"
    return "the target database fails its check (see target)"


def follow_target(watch: TargetWatch, scheduler: Scheduler, missing: MissingIndexes) -> None:
    """When the verdict turns bad, drop everything read from the database at once; when it turns
    good, collect at once instead of at the next interval."""
    gated = [name for name in scheduler.states if name not in UNGATED]

    def turned(ok: bool) -> None:
        if ok:
            scheduler.wake(gated)
        else:
            missing.found = None
            scheduler.invalidate(gated)

    watch.on_verdict = turned


@dataclass
class Exporter:
    scheduler: Scheduler
    app: Any
    settings: Settings

    def start(self) -> Any:
        web = load_web_config(self.settings.web_config_file)
        httpd, _ = serve(self.app, self.settings.metrics_listen_address, self.settings.metrics_port, web)
        self.scheduler.start()
        return httpd


def where(settings: Settings) -> str:
    """Host(s) and database, for log and error lines."""
    return f"{uri.hosts(settings.mongodb_uri)} database {settings.mongodb_database!r}"


def describe(err: BaseException) -> str:
    return str(err) if isinstance(err, TargetMismatch) else mongo.describe(err)


def create_app(settings: Settings, demo: bool = False) -> Exporter:
    """Build the exporter without starting anything (tests call this too); `demo` shows the demo banner."""
    web = load_web_config(settings.web_config_file)
    client = connect(settings)
    reader = Reader.from_settings(client, settings)
    watch = TargetWatch(client, settings.mongodb_database, reader.tenant)
    missing = MissingIndexes(reader)
    jobs = build_jobs(reader, settings, missing, watch)
    scheduler = Scheduler(jobs, describe=describe, where=where(settings))
    follow_target(watch, scheduler, missing)

    def index_metrics() -> Iterator[Metric]:
        return missing.metrics() if watch.ok else iter(())

    collector = SnapshotCollector(scheduler, settings, [watch.metrics, index_metrics], lambda: watch.answered)
    runtime, full = registries(collector)
    cache = PageCache(collector, scheduler, settings, runtime)
    scheduler.on_change = cache.changed
    page = Page(cache.families, scheduler, settings, demo)
    return Exporter(scheduler, make_app(cache, full, scheduler, web, page.render), settings)


def _cli(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"librechat-metrics {__version__}")
    parser.add_argument(
        "--check-indexes",
        action="store_true",
        help="list the optional MongoDB indexes that would make slow groups cheap, then exit",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the settings and WEB_CONFIG_FILE without connecting, print them, then exit",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve synthetic LibreChat data from an embedded, live database (needs requirements-demo.txt); "
        + pace_help(),
    )


def _error(message: str) -> None:
    print(f"metrics.py: error: {message}", file=sys.stderr)


def check_indexes(settings: Settings) -> int:
    """--check-indexes: 0 with the report, 2 when the database is not LibreChat's, 1 when MongoDB
    fails; one line on failure."""
    try:
        with connect(settings) as client:
            check = check_target(client, settings.mongodb_database, settings.tenant)
            if not check.ok:
                _error(f"MongoDB at {where(settings)}: {check.reason()}")
                return 2
            return missing_indexes_report(Reader.from_settings(client, settings), sys.stdout)
    except PyMongoError as err:
        _error(f"MongoDB at {where(settings)}: {mongo.describe(err)}")
        return 1


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 bad settings, web config or target database, 1 runtime failure."""
    args, settings = parse_cli(argv, "Prometheus exporter for LibreChat's MongoDB.", _cli)
    if args.demo:
        from .demo.hooks import exporter as demo

        settings = demo(settings)
    # A scrape thread waits at most this long for the GIL while a job renders its families.
    sys.setswitchinterval(0.0005)
    try:
        load_web_config(settings.web_config_file)
    except WebConfigError as err:
        _error(f"WEB_CONFIG_FILE: {err}")
        return 2
    if args.check_config:
        try:
            mongo.check_client(settings)
        except PyMongoError as err:
            _error(f"MONGODB_URI: {mongo.describe(err)}")
            return 2
        print("\n".join(effective(settings)))
        return 0
    if args.check_indexes:
        return check_indexes(settings)
    try:
        exporter = create_app(settings, demo=args.demo)
    except PyMongoError as err:  # e.g. a mongodb+srv name that does not resolve
        _error(f"MongoDB at {where(settings)}: {mongo.describe(err)}")
        return 1
    try:
        httpd = exporter.start()
    except OSError as err:
        address = f"{settings.metrics_listen_address}:{settings.metrics_port}"
        _error(f"cannot listen on {address}: {err.strerror or err}")
        return 1
    log.info(
        "serving on %s:%s, reading %s database %s",
        settings.metrics_listen_address,
        settings.metrics_port,
        redact(settings.mongodb_uri),
        settings.mongodb_database,
    )
    for unknown in uri.parse(settings.mongodb_uri)["unknown"]:
        log.warning("MONGODB_URI: %s (pymongo ignores it)", unknown)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping")
    httpd.shutdown()
    exporter.scheduler.stop()
    return 0
