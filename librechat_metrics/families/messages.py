"""Messages and error messages, all time and in the 5-minute window."""

from __future__ import annotations

from collections.abc import Callable

from ..groups import Usage
from ..jobs import USAGE
from ..origins import ORIGINS
from ..tally import MessageKey
from .base import Family, M, Samples, add_up, model_of

ASSISTANT, ERROR, TOOLS = "assistant", "error", "tools"  # fields of tally.MessageKey


def count(
    usage: Usage, recent: bool, by_model: bool, where: Callable[[MessageKey], bool], tokens: bool = False
) -> Samples:
    """Messages (or their tokenCount sums) whose MessageKey passes `where`, optionally per model."""
    tallies = usage.recent if recent else usage.total
    source = tallies.messages.tokens if tokens else tallies.messages.count
    return add_up(
        (((model_of(usage, key),) if by_model else (), n) for key, n in source.items() if where(key)),
        labelled=by_model,
    )


def flag(name: str) -> Callable[[MessageKey], bool]:
    """A test of one boolean field of the key (assistant, error, tools, unfinished)."""
    return lambda key: bool(getattr(key, name))


def ANY(key: MessageKey) -> bool:
    return True


def ERROR_REPLY(key: MessageKey) -> bool:
    return key.assistant and key.error


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_messages_total",
        "counter",
        "Number of sent messages stored in the database",
        (),
        ("basic",),
        USAGE,
        lambda u: count(u, False, False, ANY),
    ),
    Family(
        "librechat_messages_by_origin_total",
        "counter",
        "Number of stored messages by origin: written by a person, by a scheduled run, or by an agent event",
        ("origin",),
        ("basic",),
        USAGE,
        lambda u: {(origin,): float(u.origins.get(origin, 0)) for origin in ORIGINS},
        source="messages, scheduleruns",
    ),
    Family(
        "librechat_error_messages_total",
        "counter",
        "Number of error messages stored in the database",
        (),
        ("basic",),
        USAGE,
        lambda u: count(u, False, False, flag(ERROR)),
    ),
    Family(
        "librechat_messages_per_model_total",
        "counter",
        "Number of messages per model",
        M,
        ("model",),
        USAGE,
        lambda u: count(u, False, True, flag(ASSISTANT)),
    ),
    Family(
        "librechat_errors_per_model_total",
        "counter",
        "Number of error messages per model",
        M,
        ("model",),
        USAGE,
        lambda u: count(u, False, True, flag(ERROR)),
    ),
    Family(
        "librechat_messages_5m",
        "gauge",
        "Number of messages sent in the last 5 minutes",
        (),
        ("time_window",),
        USAGE,
        lambda u: count(u, True, False, ANY),
    ),
    Family(
        "librechat_messages_per_model_5m",
        "gauge",
        "Number of messages per model in the last 5 minutes",
        M,
        ("time_window", "model"),
        USAGE,
        lambda u: count(u, True, True, flag(ASSISTANT)),
    ),
    Family(
        "librechat_error_messages_5m",
        "gauge",
        "Number of error messages in the last 5 minutes",
        (),
        ("time_window", "basic"),
        USAGE,
        lambda u: count(u, True, False, flag(ERROR)),
    ),
    Family(
        "librechat_replies_5m",
        "gauge",
        "Number of replies (assistant messages) in the last 5 minutes",
        (),
        ("time_window", "basic"),
        USAGE,
        lambda u: count(u, True, False, flag(ASSISTANT)),
    ),
    Family(
        "librechat_error_replies_5m",
        "gauge",
        "Number of replies (assistant messages) in the last 5 minutes that are error messages",
        (),
        ("time_window", "basic"),
        USAGE,
        lambda u: count(u, True, False, ERROR_REPLY),
    ),
    Family(
        "librechat_errors_per_model_5m",
        "gauge",
        "Number of error messages per model in the last 5 minutes",
        M,
        ("time_window", "model"),
        USAGE,
        lambda u: count(u, True, True, flag(ERROR)),
    ),
)
