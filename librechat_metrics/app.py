"""Wiring of the exporter: settings -> MongoDB reader -> jobs -> snapshots -> HTTP."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import __version__
from .collector import SnapshotCollector, registries
from .groups import (
    UsageGroup,
    collect_activity,
    collect_agents,
    collect_balances,
    collect_inventory,
    collect_recent_ratings,
)
from .indexes import MissingIndexes, missing_indexes_report
from .mongo import Reader, connect
from .pagecache import PageCache
from .scheduler import Job, Scheduler
from .server import make_app, serve
from .settings import Settings, effective, parse_cli, redact
from .webconfig import WebConfigError, load_web_config

log = logging.getLogger("librechat_metrics")


def build_jobs(reader: Reader, settings: Settings, missing: MissingIndexes) -> list[Job]:
    """The background jobs; a job runs only when a family that needs it is enabled."""
    fast, slow = settings.metrics_cache_ttl, settings.metrics_slow_interval
    on = settings.enabled

    def ping(now: datetime) -> bool:
        reader.ping()
        return True

    def bind(collect: Any) -> Any:
        return lambda now: collect(reader, settings, now)

    # A slow job that failed (e.g. MongoDB was down) retries at the fast pace, not 5 minutes later.
    jobs = [Job("ping", fast, ping)]
    if any(on(t) for t in ("basic", "token", "model", "time_window", "rating", "tool")):
        jobs.append(Job("usage", fast, UsageGroup(reader, settings)))
    if on("user"):
        jobs.append(Job("activity", fast, bind(collect_activity)))
    if on("basic") or on("user") or on("file"):
        jobs.append(Job("inventory", slow, bind(collect_inventory), retry=fast))
    if on("rating") and on("time_window"):
        jobs.append(Job("recent_ratings", slow, bind(collect_recent_ratings), retry=fast))
    if on("model"):
        jobs.append(Job("agents", slow, bind(collect_agents), retry=fast))
    if on("user"):
        jobs.append(Job("balances", slow, bind(collect_balances), retry=fast))
    jobs.append(Job("indexes", slow, missing.refresh, retry=fast))
    return jobs


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


def create_app(settings: Settings) -> Exporter:
    """Build the exporter without starting anything (tests call this too)."""
    web = load_web_config(settings.web_config_file)
    reader = Reader.from_settings(connect(settings), settings)
    missing = MissingIndexes(reader)
    scheduler = Scheduler(build_jobs(reader, settings, missing))
    collector = SnapshotCollector(scheduler, settings, extra=[missing.metrics])
    runtime, full = registries(collector)
    cache = PageCache(collector, scheduler, settings, runtime)
    scheduler.on_change = cache.changed
    return Exporter(scheduler, make_app(cache, full, scheduler, web), settings)


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


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_cli(argv, "Prometheus exporter for LibreChat's MongoDB.", _cli)
    # A scrape thread waits at most this long for the GIL while a job renders its families.
    sys.setswitchinterval(0.0005)
    try:
        exporter = create_app(settings)
    except WebConfigError as err:
        print(f"metrics.py: error: WEB_CONFIG_FILE: {err}", file=sys.stderr)
        return 2
    if args.check_config:
        print("\n".join(effective(settings)))
        return 0
    if args.check_indexes:
        reader = Reader.from_settings(connect(settings), settings)
        return missing_indexes_report(reader, sys.stdout)
    try:
        httpd = exporter.start()
    except OSError as err:
        print(
            f"metrics.py: error: cannot listen on {settings.metrics_listen_address}:{settings.metrics_port}: "
            f"{err.strerror or err}",
            file=sys.stderr,
        )
        return 1
    log.info(
        "serving on %s:%s, reading %s database %s",
        settings.metrics_listen_address,
        settings.metrics_port,
        redact(settings.mongodb_uri),
        settings.mongodb_database,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping")
    httpd.shutdown()
    exporter.scheduler.stop()
    return 0
