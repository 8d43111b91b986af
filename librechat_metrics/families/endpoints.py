"""Replies and errors per endpoint (openAI, anthropic, agents, custom endpoint names ...), and unfinished
replies per model."""

from __future__ import annotations

from collections.abc import Callable

from ..groups import Usage
from ..jobs import USAGE
from .base import Family, M, Samples, add_up, model_of
from .messages import ASSISTANT, ERROR

E = ("endpoint",)


def per_endpoint(usage: Usage, recent: bool, flag: str) -> Samples:
    """Messages whose MessageKey field `flag` (assistant, error) is set, per endpoint."""
    tallies = usage.recent if recent else usage.total
    return add_up(((k.endpoint,), n) for k, n in tallies.messages.count.items() if getattr(k, flag))


def unfinished(usage: Usage, recent: bool) -> Samples:
    tallies = usage.recent if recent else usage.total
    return add_up(((model_of(usage, k),), n) for k, n in tallies.messages.count.items() if k.unfinished)


def _family(name: str, kind: str, help_text: str, labels: tuple, toggles: tuple, value: Callable) -> Family:
    return Family(name, kind, help_text, labels, toggles, USAGE, value)


FAMILIES: tuple[Family, ...] = (
    _family(
        "librechat_messages_per_endpoint_total",
        "counter",
        "Number of assistant messages per endpoint",
        E,
        ("model",),
        lambda u: per_endpoint(u, False, ASSISTANT),
    ),
    _family(
        "librechat_errors_per_endpoint_total",
        "counter",
        "Number of error messages per endpoint (unknown when LibreChat stored none)",
        E,
        ("model",),
        lambda u: per_endpoint(u, False, ERROR),
    ),
    _family(
        "librechat_messages_per_endpoint_5m",
        "gauge",
        "Number of assistant messages per endpoint in the last 5 minutes",
        E,
        ("time_window", "model"),
        lambda u: per_endpoint(u, True, ASSISTANT),
    ),
    _family(
        "librechat_errors_per_endpoint_5m",
        "gauge",
        "Number of error messages per endpoint in the last 5 minutes",
        E,
        ("time_window", "model"),
        lambda u: per_endpoint(u, True, ERROR),
    ),
    _family(
        "librechat_unfinished_replies_total",
        "counter",
        "Number of replies stopped or interrupted before they finished, per model",
        M,
        ("model",),
        lambda u: unfinished(u, False),
    ),
    _family(
        "librechat_unfinished_replies_5m",
        "gauge",
        "Number of replies stopped or interrupted before they finished, per model, in the last 5 minutes",
        M,
        ("time_window", "model"),
        lambda u: unfinished(u, True),
    ),
)
