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

    def collect(self) -> Iterator[Metric]:
        max_age = self.settings.metrics_max_staleness
        for family in enabled_families(self.settings):
            result = self.scheduler.fresh_result(family.group, max_age)
            if result is None:
                continue
            try:
                samples = family.value(result)
            except Exception:  # odd data must never fail a scrape; the family is left out
                log.exception("cannot render %s", family.name)
                continue
            yield build(
                family,
                cap(samples, self.settings.metrics_label_limit)
                if family.additive
                else _top(samples, self.settings.metrics_label_limit),
            )
        yield from self_metrics(self.scheduler)
        for source in self.extra:
            yield from source()


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
    """The rendered LibreChat part of /metrics, rebuilt when a snapshot changed or went stale."""

    def __init__(self, registry: CollectorRegistry, scheduler: Scheduler, settings: Settings):
        self.registry, self.scheduler, self.settings = registry, scheduler, settings
        self.version = 0
        self._key: Any = None
        self._page = b""
        self._lock = threading.Lock()

    def changed(self) -> None:
        self.version += 1

    def page(self) -> bytes:
        max_age = self.settings.metrics_max_staleness
        fresh = tuple(
            self.scheduler.fresh_result(name, max_age) is not None for name in self.scheduler.states
        )
        key = (self.version, fresh)
        if key != self._key:
            with self._lock:
                if key != self._key:
                    self._page = generate_latest(self.registry)
                    self._key = key
        return self._page


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server6(ThreadingWSGIServer):
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
        body = cache.page() + generate_latest(runtime)
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
    server_class = _Server6 if ":" in address else ThreadingWSGIServer
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
    return core, runtime, full
