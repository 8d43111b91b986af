"""Response time of first replies in the 5-minute window (definition in docs/semantics.md)."""

from __future__ import annotations

from ..groups import Usage
from ..jobs import USAGE
from ..labels import sanitise
from ..responses import WaitHistogram, percentiles
from .base import Family, M, Samples, add_up, model_of


def response_times(usage: Usage) -> Samples:
    by_model: dict[str, list[float]] = {}
    for model, seconds in usage.waits:
        by_model.setdefault(sanitise(model_of(usage, model)), []).append(seconds)
    return {(model, q): v for model, waits in by_model.items() for q, v in percentiles(waits).items()}


def latency(usage: Usage) -> dict[tuple[str, ...], WaitHistogram]:
    """All-time first-reply histograms per (agent-resolved, sanitised) model label."""
    out: dict[tuple[str, ...], WaitHistogram] = {}
    for model, histogram in usage.latency.items():
        key = (sanitise(model_of(usage, model)),)
        out[key] = out.get(key, WaitHistogram()) + histogram
    return out


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_responses_5m",
        "gauge",
        "Number of first replies created in the last 5 minutes whose response time is measured, per model",
        M,
        ("time_window", "model"),
        USAGE,
        lambda u: add_up(((model_of(u, model),), 1) for model, _ in u.waits),
    ),
    Family(
        "librechat_response_time_seconds_5m",
        "gauge",
        "Seconds from a user message to its first reply, for replies created in the last 5 minutes, "
        "per model (percentiles 50, 90 and 99)",
        ("model", "percentile"),
        ("time_window", "model"),
        USAGE,
        response_times,
        additive=False,
    ),
    Family(
        "librechat_response_time_seconds",
        "histogram",
        "Seconds from a user message to its first reply, per model, over all first replies",
        M,
        ("model",),
        USAGE,
        latency,
        additive=False,
    ),
)
