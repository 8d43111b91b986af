"""Every LibreChat metric family, declared once: name, type, HELP, labels, toggles, group, value.

Names, types, labels and HELP texts of the seed README are a contract with operators' dashboards.
A value function receives the results of its group and returns {label values: number}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .groups import Tallies, Usage
from .labels import resolve_agent, sanitise
from .responses import percentiles

Samples = dict[tuple[str, ...], float]


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    labels: tuple[str, ...]
    toggles: tuple[str, ...]
    group: str
    value: Callable[[Any], Samples]
    additive: bool = True  # False for ratios: capped series are dropped, not summed into "other"


# --- helpers over Usage ------------------------------------------------------------------------


def _sum(pairs: Iterable[tuple[tuple[str, ...], float]], labelled: bool = True) -> Samples:
    out: Counter[tuple[str, ...]] = Counter()
    for key, value in pairs:
        out[tuple(sanitise(k) for k in key) if labelled else ()] += value
    if not labelled:
        return {(): float(out.get((), 0))}
    return {key: float(v) for key, v in out.items() if v != 0}


def _model(usage: Usage, model: str) -> str:
    return resolve_agent(model, usage.agents)


def _messages(
    usage: Usage, recent: bool, by_model: bool, where: Callable[[tuple], bool], tokens: bool = False
) -> Samples:
    tallies = usage.recent if recent else usage.total
    source = tallies.messages.tokens if tokens else tallies.messages.count
    return _sum(
        (((_model(usage, key[1]),) if by_model else (), n) for key, n in source.items() if where(key)),
        labelled=by_model,
    )


def _tokens(usage: Usage, kind: str, recent: bool, by_model: bool) -> Samples:
    """Input ("prompt") or output ("completion") tokens from the resolved token source."""
    tallies: Tallies = usage.recent if recent else usage.total
    if usage.token_source == "transactions":
        pairs = (((_model(usage, k[1]),), v) for k, v in tallies.transactions.tokens.items() if k[0] == kind)
    elif kind == "completion" or not by_model:
        assistant = kind == "completion"
        pairs = (((_model(usage, k[1]),), v) for k, v in tallies.messages.tokens.items() if k[0] == assistant)
    else:
        pairs = (((_model(usage, m),), v) for m, v in (tallies.inputs or {}).items())
    if not by_model:
        pairs = (((), v) for _, v in pairs)
    return _sum(pairs, labelled=by_model)


def _rated(usage: Usage, rating: str | None, labels: str) -> Samples:
    """Rated messages, optionally of one rating, keyed by "" (none), "model", "tag" or "model,tag"."""

    def key(k: tuple) -> tuple[str, ...]:
        parts = {"model": _model(usage, k[1]), "tag": k[5]}
        return tuple(parts[name] for name in labels.split(",") if name)

    wanted = [
        k for k in usage.total.messages.count if k[4] is not None and (rating is None or k[4] == rating)
    ]
    if "tag" in labels:
        wanted = [k for k in wanted if k[5] is not None]
    return _sum(((key(k), usage.total.messages.count[k]) for k in wanted), labelled=bool(labels))


def _ratio(up: Samples, down: Samples) -> Samples:
    return {
        key: 100.0 * up.get(key, 0) / (up.get(key, 0) + down.get(key, 0))
        for key in set(up) | set(down)
        if up.get(key, 0) + down.get(key, 0) > 0
    }


def _tools(usage: Usage, recent: bool, failed: bool | None, labels: tuple[int, ...]) -> Samples:
    """Tool calls (failed=False), failures (True); key parts by index: 0 name, 1 model, 2 endpoint."""
    tallies = usage.recent if recent else usage.total
    if tallies.tools is None:
        return {}
    rows = ((k, n) for k, n in tallies.tools.calls.items() if k[3] == bool(failed))
    keyed = ((tuple(_model(usage, k[i]) if i == 1 else k[i] for i in labels), n) for k, n in rows)
    return _sum(keyed, labelled=bool(labels))


def _success_rate(usage: Usage) -> Samples:
    calls, failed = _tools(usage, False, False, (0,)), _tools(usage, False, True, (0,))
    return {key: 100.0 * (n - failed.get(key, 0)) / n for key, n in calls.items() if n > 0}


def _response_times(usage: Usage) -> Samples:
    by_model: dict[str, list[float]] = {}
    for model, seconds in usage.waits:
        by_model.setdefault(sanitise(_model(usage, model)), []).append(seconds)
    return {(model, q): v for model, waits in by_model.items() for q, v in percentiles(waits).items()}


def _one(value: float) -> Samples:
    return {(): float(value)}


def _is(flag: int) -> Callable[[tuple], bool]:
    return lambda key: bool(key[flag])


_ANY = lambda key: True  # noqa: E731
ASSISTANT, ERROR, TOOLS = 0, 2, 3

# --- the families ------------------------------------------------------------------------------

U, A, INV, R = "usage", "activity", "inventory", "recent_ratings"
M = ("model",)

FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_messages_total",
        "counter",
        "Number of sent messages stored in the database",
        (),
        ("basic",),
        U,
        lambda u: _messages(u, False, False, _ANY),
    ),
    Family(
        "librechat_error_messages_total",
        "counter",
        "Number of error messages stored in the database",
        (),
        ("basic",),
        U,
        lambda u: _messages(u, False, False, _is(ERROR)),
    ),
    Family(
        "librechat_input_tokens_total",
        "counter",
        "Number of input tokens processed",
        (),
        ("token",),
        U,
        lambda u: _tokens(u, "prompt", False, False),
    ),
    Family(
        "librechat_output_tokens_total",
        "counter",
        "Total number of output tokens generated",
        (),
        ("token",),
        U,
        lambda u: _tokens(u, "completion", False, False),
    ),
    Family(
        "librechat_conversations_total",
        "counter",
        "Number of started conversations stored in the database",
        (),
        ("basic",),
        INV,
        lambda c: _one(c["conversations"]),
    ),
    Family(
        "librechat_messages_per_model_total",
        "counter",
        "Number of messages per model",
        M,
        ("model",),
        U,
        lambda u: _messages(u, False, True, _is(ASSISTANT)),
    ),
    Family(
        "librechat_errors_per_model_total",
        "counter",
        "Number of error messages per model",
        M,
        ("model",),
        U,
        lambda u: _messages(u, False, True, _is(ERROR)),
    ),
    Family(
        "librechat_input_tokens_per_model_total",
        "counter",
        "Number of input tokens per model",
        M,
        ("model", "token"),
        U,
        lambda u: _tokens(u, "prompt", False, True),
    ),
    Family(
        "librechat_output_tokens_per_model_total",
        "counter",
        "Number of output tokens per model",
        M,
        ("model", "token"),
        U,
        lambda u: _tokens(u, "completion", False, True),
    ),
    Family(
        "librechat_active_users",
        "gauge",
        "Number of active users in the last 5 minutes",
        (),
        ("user",),
        A,
        lambda a: _one(a.users["recent"]),
    ),
    Family(
        "librechat_active_conversations",
        "gauge",
        "Number of active conversations in the last 5 minutes",
        (),
        ("user",),
        A,
        lambda a: _one(a.conversations_5m),
    ),
    Family(
        "librechat_uploaded_files_total",
        "counter",
        "Number of uploaded files",
        (),
        ("file",),
        INV,
        lambda c: _one(c["files"]),
    ),
    Family(
        "librechat_registered_users_total",
        "counter",
        "Number of registered users",
        (),
        ("user",),
        INV,
        lambda c: _one(c["users"]),
    ),
    Family(
        "librechat_daily_unique_users",
        "gauge",
        "Number of unique users active in the current day",
        (),
        ("user",),
        A,
        lambda a: _one(a.users["day"]),
    ),
    Family(
        "librechat_weekly_unique_users",
        "gauge",
        "Number of unique users active in the current week (starting from Monday)",
        (),
        ("user",),
        A,
        lambda a: _one(a.users["week"]),
    ),
    Family(
        "librechat_monthly_unique_users",
        "gauge",
        "Number of unique users active in the current month",
        (),
        ("user",),
        A,
        lambda a: _one(a.users["month"]),
    ),
    Family(
        "librechat_messages_5m",
        "gauge",
        "Number of messages sent in the last 5 minutes",
        (),
        ("time_window",),
        U,
        lambda u: _messages(u, True, False, _ANY),
    ),
    Family(
        "librechat_messages_per_model_5m",
        "gauge",
        "Number of messages per model in the last 5 minutes",
        M,
        ("time_window", "model"),
        U,
        lambda u: _messages(u, True, True, _is(ASSISTANT)),
    ),
    Family(
        "librechat_input_tokens_5m",
        "gauge",
        "Number of input tokens used in the last 5 minutes",
        (),
        ("time_window", "token"),
        U,
        lambda u: _tokens(u, "prompt", True, False),
    ),
    Family(
        "librechat_output_tokens_5m",
        "gauge",
        "Number of output tokens generated in the last 5 minutes",
        (),
        ("time_window", "token"),
        U,
        lambda u: _tokens(u, "completion", True, False),
    ),
    Family(
        "librechat_model_input_tokens_5m",
        "gauge",
        "Input tokens per model in the last 5 minutes",
        M,
        ("time_window", "token"),
        U,
        lambda u: _tokens(u, "prompt", True, True),
    ),
    Family(
        "librechat_model_output_tokens_5m",
        "gauge",
        "Output tokens per model in the last 5 minutes",
        M,
        ("time_window", "token"),
        U,
        lambda u: _tokens(u, "completion", True, True),
    ),
    Family(
        "librechat_error_messages_5m",
        "gauge",
        "Number of error messages in the last 5 minutes",
        (),
        ("time_window", "basic"),
        U,
        lambda u: _messages(u, True, False, _is(ERROR)),
    ),
    Family(
        "librechat_errors_per_model_5m",
        "gauge",
        "Number of error messages per model in the last 5 minutes",
        M,
        ("time_window", "model"),
        U,
        lambda u: _messages(u, True, True, _is(ERROR)),
    ),
    Family(
        "librechat_thumbs_up_total",
        "gauge",
        "Total number of thumbs up ratings",
        (),
        ("rating",),
        U,
        lambda u: _rated(u, "thumbsUp", ""),
    ),
    Family(
        "librechat_thumbs_down_total",
        "gauge",
        "Total number of thumbs down ratings",
        (),
        ("rating",),
        U,
        lambda u: _rated(u, "thumbsDown", ""),
    ),
    Family(
        "librechat_thumbs_up_per_model",
        "gauge",
        "Number of thumbs up ratings per model",
        M,
        ("rating",),
        U,
        lambda u: _rated(u, "thumbsUp", "model"),
    ),
    Family(
        "librechat_thumbs_down_per_model",
        "gauge",
        "Number of thumbs down ratings per model",
        M,
        ("rating",),
        U,
        lambda u: _rated(u, "thumbsDown", "model"),
    ),
    Family(
        "librechat_rating_ratio_per_model",
        "gauge",
        "Percentage of positive ratings per model (0-100)",
        M,
        ("rating",),
        U,
        lambda u: _ratio(_rated(u, "thumbsUp", "model"), _rated(u, "thumbsDown", "model")),
        additive=False,
    ),
    Family(
        "librechat_rating_counts_per_tag",
        "gauge",
        "Number of ratings per feedback tag",
        ("tag",),
        ("rating",),
        U,
        lambda u: _rated(u, None, "tag"),
    ),
    Family(
        "librechat_overall_rating_ratio",
        "gauge",
        "Overall percentage of positive ratings (0-100)",
        (),
        ("rating",),
        U,
        lambda u: _ratio(_rated(u, "thumbsUp", ""), _rated(u, "thumbsDown", "")),
        additive=False,
    ),
    Family(
        "librechat_thumbs_up_5m",
        "gauge",
        "Number of thumbs up ratings in the last 5 minutes",
        (),
        ("rating", "time_window"),
        R,
        lambda r: _one(r["thumbsUp"]),
    ),
    Family(
        "librechat_thumbs_down_5m",
        "gauge",
        "Number of thumbs down ratings in the last 5 minutes",
        (),
        ("rating", "time_window"),
        R,
        lambda r: _one(r["thumbsDown"]),
    ),
    Family(
        "librechat_rated_messages_total",
        "gauge",
        "Total number of messages that have ratings",
        (),
        ("rating",),
        U,
        lambda u: _rated(u, None, ""),
    ),
    Family(
        "librechat_model_tag_thumbs_up",
        "gauge",
        "Number of thumbs up ratings per model and tag combination",
        ("model", "tag"),
        ("rating",),
        U,
        lambda u: _rated(u, "thumbsUp", "model,tag"),
    ),
    Family(
        "librechat_model_tag_thumbs_down",
        "gauge",
        "Number of thumbs down ratings per model and tag combination",
        ("model", "tag"),
        ("rating",),
        U,
        lambda u: _rated(u, "thumbsDown", "model,tag"),
    ),
    Family(
        "librechat_tool_calls_total",
        "gauge",
        "Total number of tool calls",
        (),
        ("tool",),
        U,
        lambda u: _tools(u, False, False, ()),
    ),
    Family(
        "librechat_tool_calls_per_tool",
        "gauge",
        "Number of tool calls per tool",
        ("tool_name",),
        ("tool",),
        U,
        lambda u: _tools(u, False, False, (0,)),
    ),
    Family(
        "librechat_tool_calls_per_model",
        "gauge",
        "Number of tool calls per model and tool",
        ("model", "tool_name"),
        ("tool",),
        U,
        lambda u: _tools(u, False, False, (1, 0)),
    ),
    Family(
        "librechat_tool_calls_per_endpoint",
        "gauge",
        "Number of tool calls per API endpoint and tool",
        ("api_endpoint", "tool_name"),
        ("tool",),
        U,
        lambda u: _tools(u, False, False, (2, 0)),
    ),
    Family(
        "librechat_tool_call_errors_total",
        "counter",
        "Total number of failed tool calls",
        (),
        ("tool",),
        U,
        lambda u: _tools(u, False, True, ()),
    ),
    Family(
        "librechat_tool_call_errors_per_tool_total",
        "counter",
        "Number of failed tool calls per tool",
        ("tool_name",),
        ("tool",),
        U,
        lambda u: _tools(u, False, True, (0,)),
    ),
    Family(
        "librechat_tool_success_rate_per_tool",
        "gauge",
        "Percentage of successful tool calls per tool (0-100)",
        ("tool_name",),
        ("tool",),
        U,
        _success_rate,
        additive=False,
    ),
    Family(
        "librechat_tool_calls_5m",
        "gauge",
        "Number of tool calls in the last 5 minutes",
        (),
        ("tool", "time_window"),
        U,
        lambda u: _tools(u, True, False, ()),
    ),
    Family(
        "librechat_tool_calls_per_tool_5m",
        "gauge",
        "Number of tool calls per tool in the last 5 minutes",
        ("tool_name",),
        ("tool", "time_window"),
        U,
        lambda u: _tools(u, True, False, (0,)),
    ),
    Family(
        "librechat_tool_call_errors_5m",
        "gauge",
        "Number of failed tool calls in the last 5 minutes",
        (),
        ("tool", "time_window"),
        U,
        lambda u: _tools(u, True, True, ()),
    ),
    Family(
        "librechat_messages_with_tools_total",
        "gauge",
        "Number of messages that contain tool calls",
        (),
        ("tool",),
        U,
        lambda u: _messages(u, False, False, _is(TOOLS)),
    ),
    Family(
        "librechat_active_tool_users",
        "gauge",
        "Number of users who made tool calls in the last 5 minutes",
        (),
        ("tool", "user"),
        U,
        lambda u: _one(len(u.recent.tools.users) if u.recent.tools else 0),
    ),
    Family(
        "librechat_responses_5m",
        "gauge",
        "Number of first replies created in the last 5 minutes whose response time is measured, per model",
        M,
        ("time_window", "model"),
        U,
        lambda u: _sum(((_model(u, model),), 1) for model, _ in u.waits),
    ),
    Family(
        "librechat_response_time_seconds_5m",
        "gauge",
        "Seconds from a user message to its first reply, for replies created in the last 5 minutes, "
        "per model (percentiles 50, 90 and 99)",
        ("model", "percentile"),
        ("time_window", "model"),
        U,
        _response_times,
        additive=False,
    ),
    Family(
        "librechat_exporter_last_recount_timestamp_seconds",
        "gauge",
        "Unix time of the last full recount of all-time numbers; edits of older documents made after it "
        "show after the next recount",
        (),
        (),
        U,
        lambda u: _one(u.recounted_at.timestamp()),
    ),
    # --- engagement (issue #10): rolling windows, group "engagement" (librechat_metrics/engagement.py) ---
    *(
        Family(
            f"librechat_active_users_{window}",
            "gauge",
            f"Number of distinct users with a message in the last {days}",
            (),
            ("user",),
            "engagement",
            lambda e, w=window: _one(e.active[w]),
        )
        for window, days in (("1d", "24 hours"), ("7d", "7 days"), ("30d", "30 days"))
    ),
    *(
        Family(
            f"librechat_new_users_{window}",
            "gauge",
            f"Number of users registered in the last {days} (time in the user's ObjectId)",
            (),
            ("user",),
            "engagement",
            lambda e, w=window: _one(e.registered[w]),
        )
        for window, days in (("1d", "24 hours"), ("7d", "7 days"), ("30d", "30 days"))
    ),
)
