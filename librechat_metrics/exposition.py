"""What a scrape sees: families rendered from the last snapshots, served over HTTP(S).

The scrape path never touches MongoDB. The LibreChat and self-metric part of the page is rendered
once per change of the snapshots and then served from memory; only the small process part is
rendered per request.
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, ThreadingWSGIServer

from . import __version__
from .families import FAMILIES, Family
from .labels import cap
from .scheduler import Scheduler
from .settings import Settings
from .webconfig import WebConfig

log = logging.getLogger("librechat_metrics")


def enabled_families(settings: Settings) -> list[Family]:
    return [f for f in FAMILIES if all(settings.enabled(t) for t in f.toggles)]


@dataclass(eq=False)
class SnapshotCollector:
    """A prometheus_client custom collector: fresh metric families from the scheduler's snapshots."""

    scheduler: Scheduler
    settings: Settings
    extra: list[Callable[[], Iterable[Metric]]] = field(default_factory=list)

    def describe(self) -> list[Metric]:
        return []  # no collection at registration time

    def group_families(self, group: str) -> Iterator[Metric]:
        """The families of one job, from its last good result (nothing when it has none)."""
        result = self.scheduler.fresh_result(group, self.settings.metrics_max_staleness)
        if result is None:
            return
        limit = self.settings.metrics_label_limit
        for family in enabled_families(self.settings):
            if family.group != group:
                continue
            try:
                samples = family.value(result)
            except Exception:  # odd data must never fail a scrape; the family is left out
                log.exception("cannot render %s", family.name)
                continue
            yield build(family, cap(samples, limit) if family.additive else _top(samples, limit))

    def own_families(self) -> Iterator[Metric]:
        """The exporter's own metrics."""
        yield from self_metrics(self.scheduler)
        for source in self.extra:
            yield from source()

    def collect(self) -> Iterator[Metric]:
        for group in self.scheduler.states:
            yield from self.group_families(group)
        yield from self.own_families()


@dataclass
class _View:
    """Something generate_latest can render: a fixed list of metric families."""

    metrics: list[Metric]

    def collect(self) -> list[Metric]:
        return self.metrics


def _top(samples: dict[tuple[str, ...], float], limit: int) -> dict[tuple[str, ...], float]:
    return dict(sorted(samples.items())[:limit])


def build(family: Family, samples: dict[tuple[str, ...], float]) -> Metric:
    cls = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
    metric = cls(family.name, family.help, labels=list(family.labels))
    for labels, value in sorted(samples.items()):
        metric.add_metric(list(labels), value)
    return metric


def self_metrics(scheduler: Scheduler) -> Iterator[Metric]:
    info = GaugeMetricFamily(
        "librechat_exporter_build_info", "Version of librechat-metrics", labels=["version"]
    )
    info.add_metric([__version__], 1)
    yield info
    duration = GaugeMetricFamily(
        "librechat_exporter_collection_duration_seconds",
        "Seconds the last collection of each group took",
        labels=["group"],
    )
    errors = CounterMetricFamily(
        "librechat_exporter_collection_errors", "Failed collections per group since start", labels=["group"]
    )
    success = GaugeMetricFamily(
        "librechat_exporter_last_success_timestamp_seconds",
        "Unix time at which the last successful collection of each group started (its data is as of then)",
        labels=["group"],
    )
    for name, state in sorted(scheduler.states.items()):
        if name == "ping":
            continue
        if state.duration is not None:
            duration.add_metric([name], state.duration)
        errors.add_metric([name], state.errors)
        if state.success_time is not None:
            success.add_metric([name], state.success_time)
    yield from (duration, errors, success)
    ping = scheduler.states.get("ping")
    if ping is not None and ping.runs:
        up = GaugeMetricFamily(
            "librechat_mongodb_up", "Whether MongoDB answered the last ping (1) or not (0)"
        )
        up.add_metric([], 1.0 if ping.ok else 0.0)
        yield up


class PageCache:
    """/metrics as bytes: each job's families are rendered once, in the job's thread, when its result
    changes; a request only joins the parts of jobs whose data is not stale."""

    def __init__(self, collector: SnapshotCollector, scheduler: Scheduler, settings: Settings):
        self.collector, self.scheduler, self.settings = collector, scheduler, settings
        self._parts: dict[str, tuple[float | None, bytes]] = {}
        self._own = b""
        self._version = 0
        self._joined: tuple[Any, bytes] = (None, b"")
        self._runtime_page = (0.0, b"")

    def changed(self, group: str) -> None:
        """Called after every run of a job: re-render what that run changed."""
        success = self.scheduler.states[group].success_time
        if self._parts.get(group, (None, b""))[0] != success:
            self._parts[group] = (success, generate_latest(_View(list(self.collector.group_families(group)))))
        self._own = generate_latest(_View(list(self.collector.own_families())))
        self._version += 1

    def runtime_page(self, runtime: CollectorRegistry, max_age: float = 1.0) -> bytes:
        """The process metrics, rendered at most once per `max_age` seconds (they cost 0.6 ms each time)."""
        rendered_at, page = self._runtime_page
        now = time.monotonic()
        if now - rendered_at > max_age:
            page = generate_latest(runtime)
            self._runtime_page = (now, page)
        return page

    def page(self) -> bytes:
        max_age = self.settings.metrics_max_staleness
        fresh = tuple(g for g in self._parts if self.scheduler.fresh_result(g, max_age) is not None)
        key = (self._version, fresh)
        joined_key, joined = self._joined
        if key != joined_key:
            joined = b"".join(self._parts[g][1] for g in fresh) + self._own
            self._joined = (key, joined)
        return joined


class _QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingWSGIServer):
    request_queue_size = 128  # socketserver's default of 5 drops connections when many scrapers come at once


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_app(
    cache: PageCache,
    runtime: CollectorRegistry,
    full: CollectorRegistry,
    scheduler: Scheduler,
    web: WebConfig,
) -> Callable:
    """The WSGI app: / and /metrics (auth if configured), /healthz, /readyz."""
    fallback = make_wsgi_app(full)

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            ready = scheduler.ready()
            return _plain(
                start_response,
                "200 OK" if ready else "503 Service Unavailable",
                b"ready\n" if ready else b"not ready: a group has not collected yet\n",
            )
        if path not in ("/", "/metrics"):
            return _plain(start_response, "404 Not Found", b"not found: try /metrics\n")
        if not web.authorized(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="librechat-metrics"')],
            )
            return [b"unauthorized\n"]
        if environ.get("QUERY_STRING") or "openmetrics" in environ.get("HTTP_ACCEPT", ""):
            return fallback(environ, start_response)
        body = cache.page() + cache.runtime_page(runtime)
        headers = [("Content-Type", CONTENT_TYPE_LATEST)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def _plain(start_response: Callable, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def serve(
    app: Callable, address: str, port: int, web: WebConfig
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Start the HTTP(S) server in a daemon thread."""
    server_class = _Server6 if ":" in address else _Server
    httpd = make_server(address, port, app, server_class, handler_class=_QuietHandler)
    context = web.ssl_context()
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
    thread.start()
    return httpd, thread


def registries(
    collector: SnapshotCollector,
) -> tuple[CollectorRegistry, CollectorRegistry, CollectorRegistry]:
    """(LibreChat + self metrics, process metrics, both) registries."""
    core, runtime, full = (CollectorRegistry(auto_describe=False) for _ in range(3))
    core.register(collector)
    for reg in (runtime, full):
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)
    full.register(collector)
    return runtime, full
