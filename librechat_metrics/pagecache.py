"""/metrics as bytes: rendered when a job's result changes, per negotiated format, never per scrape.

The scrape path never touches MongoDB, and apart from the small process part it renders nothing.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, generate_latest

from .collector import SnapshotCollector, View
from .scheduler import JobState, Scheduler
from .settings import Settings


@dataclass(frozen=True)
class Format:
    """One negotiated exposition format (Prometheus text or OpenMetrics, with its version)."""

    content_type: str
    encode: Callable[[Any], bytes]

    @property
    def trailer(self) -> bytes:
        return b"# EOF\n" if self.content_type.startswith("application/openmetrics-text") else b""

    def render(self, source: Any) -> bytes:
        """The families of `source` (a registry or a View) without the format's end marker."""
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
        self._families: dict[str, tuple[float | None, list[Metric]]] = {}  # group -> (success time, families)
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

    def changed(self, group: str, state: JobState) -> None:
        """Called with a job's state after every run: rebuild what that run changed, render it for every
        format served so far and compress it, here in the job's thread rather than in a scrape."""
        with self._lock:
            # A dropped result (invalidated: its data can no longer be trusted) counts as none.
            success = state.success_time if state.result is not None else None
            if group not in self._families or self._families[group][0] != success:
                families = [] if success is None else list(self.collector.families_of(group, state.result))
                self._families[group] = (success, families)
            self._own = list(self.collector.own_families())
            self._version += 1
            for fmt in list(self._formats.values()):
                self._current(fmt).gzip_prefix()

    def _fresh(self) -> list[tuple[str, list[Metric]]]:
        """(group, families) of the groups whose data is not stale, in a stable order."""
        max_age = self.settings.metrics_max_staleness
        parts = list(self._families.items())  # one atomic copy: job threads may add groups meanwhile
        now = self.scheduler.wall()
        return [(g, fs) for g, (success, fs) in parts if success is not None and now - success <= max_age]

    def _part(self, fmt: Format, group: str, families: list[Metric]) -> bytes:
        cached = self._parts.get((fmt.content_type, group))
        if cached is None or cached[0] is not families:
            cached = self._parts[(fmt.content_type, group)] = (families, fmt.render(View(families)))
        return cached[1]

    def _current(self, fmt: Format) -> _Joined:
        fresh = self._fresh()
        key = (self._version, tuple(g for g, _ in fresh))
        joined = self._joined.get(fmt.content_type)
        if joined is None or joined.key != key:
            body = b"".join(self._part(fmt, g, fs) for g, fs in fresh) + fmt.render(View(self._own))
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

    def families(self) -> list[Metric]:
        """The families served now: those of the jobs whose data is not stale, and the exporter's own."""
        return [f for _, fs in self._fresh() for f in fs] + self._own

    def page(self, fmt: Format) -> bytes:
        if fmt.content_type not in self._formats:
            return self._uncached(fmt)
        return self._current(fmt).body + self._process_part(fmt).body

    def page_gzip(self, fmt: Format) -> bytes:
        if fmt.content_type not in self._formats:
            return zlib.compress(self._uncached(fmt), 1, wbits=16 + zlib.MAX_WBITS)
        return self._current(fmt).gzipped(self._process_part(fmt))

    def _uncached(self, fmt: Format) -> bytes:
        return fmt.render(View(self.families())) + fmt.render(self.runtime) + fmt.trailer


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
