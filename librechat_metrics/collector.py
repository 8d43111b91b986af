"""The families a scrape sees, built from the scheduler's last good snapshots (a prometheus_client
custom collector), and the registries that add the process metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from . import __version__, values
from .families import FAMILIES, Family
from .labels import cap
from .responses import WaitHistogram
from .scheduler import Scheduler
from .settings import Settings

log = logging.getLogger("librechat_metrics")


def enabled_families(settings: Settings) -> list[Family]:
    return [f for f in FAMILIES if all(settings.enabled(t) for t in f.toggles)]


@dataclass(eq=False)
class SnapshotCollector:
    """A prometheus_client custom collector: fresh metric families from the scheduler's snapshots."""

    scheduler: Scheduler
    settings: Settings
    extra: list[Callable[[], Iterable[Metric]]] = field(default_factory=list)
    answered: Callable[[], bool | None] | None = None  # did MongoDB answer the target check (no ping job)

    def describe(self) -> list[Metric]:
        return []  # no collection at registration time

    def group_families(self, group: str) -> Iterator[Metric]:
        """The families of one job, from its last good result (nothing when it has none)."""
        result = self.scheduler.fresh_result(group, self.settings.metrics_max_staleness)
        if result is not None:
            yield from self.families_of(group, result)

    def families_of(self, job: str, result: Any) -> Iterator[Metric]:
        """The enabled families of `job` built from one of its results."""
        limit = self.settings.metrics_label_limit
        for family in enabled_families(self.settings):
            if family.job != job:
                continue
            try:
                samples = family.value(result)
            except Exception:  # odd data must never fail a scrape; the family is left out
                log.exception("cannot render %s", family.name)
                continue
            yield build(family, cap(samples, limit) if family.additive else _top(samples, limit))

    def own_families(self) -> Iterator[Metric]:
        """The exporter's own metrics."""
        yield from self_metrics(self.scheduler, self.answered)
        for source in self.extra:
            yield from source()

    def collect(self) -> Iterator[Metric]:
        for group in self.scheduler.states:
            yield from self.group_families(group)
        yield from self.own_families()


@dataclass
class View:
    """Something generate_latest can render: a fixed list of metric families."""

    metrics: list[Metric]

    def collect(self) -> list[Metric]:
        return self.metrics


def _top(samples: Mapping[tuple[str, ...], Any], limit: int) -> dict[tuple[str, ...], Any]:
    return dict(sorted(samples.items())[:limit])


def build(family: Family, samples: dict[tuple[str, ...], Any]) -> Metric:
    if family.kind == "histogram":
        return _histogram(family, samples)
    cls = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
    metric = cls(family.name, family.help, labels=list(family.labels))
    for labels, value in sorted(samples.items()):
        metric.add_metric(list(labels), value)
    return metric


def _histogram(family: Family, samples: dict[tuple[str, ...], WaitHistogram]) -> Metric:
    metric = HistogramMetricFamily(family.name, family.help, labels=list(family.labels))
    for labels, histogram in sorted(samples.items(), key=lambda item: item[0]):
        bounds = [floatToGoString(b) for b in histogram.bounds] + ["+Inf"]
        metric.add_metric(list(labels), list(zip(bounds, histogram.buckets, strict=True)), histogram.total)
    return metric


def self_metrics(scheduler: Scheduler, answered: Callable[[], bool | None] | None = None) -> Iterator[Metric]:
    """Build info, per-group collection duration, errors and last success, and whether MongoDB answered
    (the ping job's last run, or without one the target check's: `answered`)."""
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
    skipped = CounterMetricFamily(
        "librechat_exporter_skipped_values",
        "Values of a field a group could not use since start (left out, as documented)",
        labels=["group", "field"],
    )
    for (group, field_name), count in sorted(values.skipped().items()):
        skipped.add_metric([group or "none", field_name], count)
    yield skipped
    ping = scheduler.states.get("ping")
    if ping is not None and ping.runs:
        reached: bool | None = ping.ok
    else:
        reached = answered() if answered is not None else None
    if reached is not None:
        up = GaugeMetricFamily(
            "librechat_mongodb_up", "Whether MongoDB answered the last ping (1) or not (0)"
        )
        up.add_metric([], 1.0 if reached else 0.0)
        yield up


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
