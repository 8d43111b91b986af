"""What a scrape sees: families rendered from the last snapshots, served over HTTP(S).

The scrape path never touches MongoDB. The LibreChat and self-metric part of the page is rendered
once per change of the snapshots and then served from memory; only the small process part is
rendered per request.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
    ThreadingWSGIServer,
    choose_encoder,
    generate_latest,
)

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


@dataclass(frozen=True)
class Format:
    """One negotiated exposition format (Prometheus text or OpenMetrics, with its version)."""

    content_type: str
    encode: Callable[[Any], bytes]

    @property
    def trailer(self) -> bytes:
        return b"# EOF\n" if self.content_type.startswith("application/openmetrics-text") else b""

    def render(self, source: Any) -> bytes:
        """The families of `source` (a registry or a _View) without the format's end marker."""
        return self.encode(source).removesuffix(self.trailer) if self.trailer else self.encode(source)


class PageCache:
    """/metrics as bytes, per negotiated format. Each job's families are built once, in the job's thread,
    when its result changes, and rendered once per format; a request only joins the parts of jobs whose
    data is not stale and adds the process metrics (re-rendered at most once a second).

    The gzip form is cached too: the joined part is compressed once per change, and a request only
    finishes a copy of that compressor with the small process part (one gzip member, valid CRC)."""

    def __init__(
        self,
        collector: SnapshotCollector,
        scheduler: Scheduler,
        settings: Settings,
        runtime: CollectorRegistry,
    ):
        self.collector, self.scheduler, self.settings, self.runtime = collector, scheduler, settings, runtime
        self._lock = threading.Lock()
        self._families: dict[str, list[Metric]] = {}
        self._built_at: dict[str, float | None] = {}
        self._own: list[Metric] = []
        self._version = 0
        self._formats: dict[str, Format] = {}
        self._parts: dict[tuple[str, str], tuple[list[Metric], bytes]] = {}
        self._joined: dict[str, _Joined] = {}
        self._runtime: dict[str, _Runtime] = {}

    MAX_FORMATS = 8  # a client could name endless versions; past this many, pages are not cached

    def format(self, accept: str) -> Format:
        """The format the Accept header asks for (prometheus_client's negotiation; text if it fails)."""
        try:
            encode, content_type = choose_encoder(accept)
        except Exception:  # e.g. version=abc: answer in the classic text format rather than fail
            encode, content_type = generate_latest, CONTENT_TYPE_PLAIN_0_0_4
        known = self._formats.get(content_type)
        if known is not None:
            return known
        fmt = Format(content_type, encode)
        if len(self._formats) < self.MAX_FORMATS:
            self._formats.setdefault(content_type, fmt)
        return fmt

    def changed(self, group: str) -> None:
        """Called after every run of a job: rebuild what that run changed, render it for every format
        served so far and compress it, here in the job's thread rather than in a scrape."""
        with self._lock:
            success = self.scheduler.states[group].success_time
            if group not in self._built_at or self._built_at[group] != success:
                self._families[group] = list(self.collector.group_families(group))
                self._built_at[group] = success
            self._own = list(self.collector.own_families())
            self._version += 1
            for fmt in list(self._formats.values()):
                self._current(fmt).gzip_prefix()

    def _part(self, fmt: Format, group: str) -> bytes:
        families = self._families[group]
        cached = self._parts.get((fmt.content_type, group))
        if cached is None or cached[0] is not families:
            cached = self._parts[(fmt.content_type, group)] = (families, fmt.render(_View(families)))
        return cached[1]

    def _current(self, fmt: Format) -> _Joined:
        max_age = self.settings.metrics_max_staleness
        groups = list(self._families)  # one atomic copy: job threads may add groups meanwhile
        fresh = tuple(g for g in groups if self.scheduler.fresh_result(g, max_age) is not None)
        key = (self._version, fresh)
        joined = self._joined.get(fmt.content_type)
        if joined is None or joined.key != key:
            body = b"".join(self._part(fmt, g) for g in fresh) + fmt.render(_View(self._own))
            joined = self._joined[fmt.content_type] = _Joined(key, body)
        return joined

    def _process_part(self, fmt: Format, max_age: float = 1.0) -> _Runtime:
        """The process metrics and the end marker, rendered at most once per `max_age` seconds."""
        runtime = self._runtime.get(fmt.content_type)
        now = time.monotonic()
        if runtime is None or now - runtime.rendered_at > max_age:
            body = fmt.render(self.runtime) + fmt.trailer
            runtime = self._runtime[fmt.content_type] = _Runtime(now, body)
        return runtime

    def page(self, fmt: Format) -> bytes:
        if fmt.content_type not in self._formats:
            return self._uncached(fmt)
        return self._current(fmt).body + self._process_part(fmt).body

    def page_gzip(self, fmt: Format) -> bytes:
        if fmt.content_type not in self._formats:
            return zlib.compress(self._uncached(fmt), 1, wbits=16 + zlib.MAX_WBITS)
        return self._current(fmt).gzipped(self._process_part(fmt))

    def _uncached(self, fmt: Format) -> bytes:
        max_age = self.settings.metrics_max_staleness
        parts = list(self._families.items())
        fresh = [f for g, fs in parts if self.scheduler.fresh_result(g, max_age) is not None for f in fs]
        families = fresh + self._own
        return fmt.render(_View(families)) + fmt.render(self.runtime) + fmt.trailer


@dataclass
class _Runtime:
    rendered_at: float
    body: bytes


class _Joined:
    """The joined LibreChat + self-metrics part, with its gzip form made on first need."""

    def __init__(self, key: Any, body: bytes):
        self.key, self.body = key, body
        self._lock = threading.Lock()
        self._prefix: tuple[Any, bytes] | None = None
        self._tail: tuple[_Runtime | None, bytes] = (None, b"")

    def gzip_prefix(self) -> tuple[Any, bytes]:
        with self._lock:
            if self._prefix is None:
                compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
                self._prefix = (compressor, compressor.compress(self.body))
            return self._prefix

    def gzipped(self, runtime: _Runtime) -> bytes:
        compressor, prefix = self.gzip_prefix()
        owner, tail = self._tail
        if owner is not runtime:
            finisher = compressor.copy()
            tail = finisher.compress(runtime.body) + finisher.flush()
            self._tail = (runtime, tail)
        return prefix + tail


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
        fmt = cache.format(environ.get("HTTP_ACCEPT", ""))
        if environ.get("QUERY_STRING"):  # name[] filters: rare, rendered per request
            if fmt.content_type == CONTENT_TYPE_PLAIN_0_0_4:  # also when the Accept header is unparseable
                environ = {**environ, "HTTP_ACCEPT": ""}
            return fallback(environ, start_response)
        headers = [("Content-Type", fmt.content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = cache.page_gzip(fmt)
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = cache.page(fmt)
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


def registries(collector: SnapshotCollector) -> tuple[CollectorRegistry, CollectorRegistry]:
    """(process metrics, everything) registries. The second serves `?name[]=` filters, which need the
    collector found although it describes nothing in advance."""
    runtime = CollectorRegistry()
    full = CollectorRegistry(support_collectors_without_names=True)
    for reg in (runtime, full):
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)
    full.register(collector)
    return runtime, full
