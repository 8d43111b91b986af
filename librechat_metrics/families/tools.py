"""Tool calls in assistant messages' content[]: calls, failures, success rate, tool users."""

from __future__ import annotations

from ..groups import Usage
from ..jobs import USAGE
from ..tally import ToolKey
from .base import Family, Samples, add_up, model_of, one, sourced
from .messages import TOOLS, count, flag


def calls(usage: Usage, recent: bool, failed: bool | None, labels: tuple[str, ...]) -> Samples:
    """Tool calls (failed=False), failures (True), keyed by ToolKey fields (tool, model, endpoint)."""
    tallies = usage.recent if recent else usage.total
    if tallies.tools is None:
        return {}

    def part(key: ToolKey, name: str) -> str:
        return model_of(usage, key) if name == "model" else str(getattr(key, name))

    rows = ((k, n) for k, n in tallies.tools.calls.items() if k.failed == bool(failed))
    return add_up(((tuple(part(k, name) for name in labels), n) for k, n in rows), labelled=bool(labels))


def success_rate(usage: Usage) -> Samples:
    made, failed = calls(usage, False, False, ("tool",)), calls(usage, False, True, ("tool",))
    return {key: 100.0 * (n - failed.get(key, 0)) / n for key, n in made.items() if n > 0}


FAMILIES: tuple[Family, ...] = sourced(
    (
        Family(
            "librechat_tool_calls_total",
            "gauge",
            "Total number of tool calls",
            (),
            ("tool",),
            USAGE,
            lambda u: calls(u, False, False, ()),
        ),
        Family(
            "librechat_tool_calls_per_tool",
            "gauge",
            "Number of tool calls per tool",
            ("tool_name",),
            ("tool",),
            USAGE,
            lambda u: calls(u, False, False, ("tool",)),
        ),
        Family(
            "librechat_tool_calls_per_model",
            "gauge",
            "Number of tool calls per model and tool",
            ("model", "tool_name"),
            ("tool",),
            USAGE,
            lambda u: calls(u, False, False, ("model", "tool")),
        ),
        Family(
            "librechat_tool_calls_per_endpoint",
            "gauge",
            "Number of tool calls per API endpoint and tool",
            ("api_endpoint", "tool_name"),
            ("tool",),
            USAGE,
            lambda u: calls(u, False, False, ("endpoint", "tool")),
        ),
        Family(
            "librechat_tool_call_errors_total",
            "counter",
            "Total number of failed tool calls",
            (),
            ("tool",),
            USAGE,
            lambda u: calls(u, False, True, ()),
        ),
        Family(
            "librechat_tool_call_errors_per_tool_total",
            "counter",
            "Number of failed tool calls per tool",
            ("tool_name",),
            ("tool",),
            USAGE,
            lambda u: calls(u, False, True, ("tool",)),
        ),
        Family(
            "librechat_tool_success_rate_per_tool",
            "gauge",
            "Percentage of successful tool calls per tool (0-100)",
            ("tool_name",),
            ("tool",),
            USAGE,
            success_rate,
            additive=False,
        ),
        Family(
            "librechat_tool_calls_5m",
            "gauge",
            "Number of tool calls in the last 5 minutes",
            (),
            ("tool", "time_window"),
            USAGE,
            lambda u: calls(u, True, False, ()),
        ),
        Family(
            "librechat_tool_calls_per_tool_5m",
            "gauge",
            "Number of tool calls per tool in the last 5 minutes",
            ("tool_name",),
            ("tool", "time_window"),
            USAGE,
            lambda u: calls(u, True, False, ("tool",)),
        ),
        Family(
            "librechat_tool_call_errors_5m",
            "gauge",
            "Number of failed tool calls in the last 5 minutes",
            (),
            ("tool", "time_window"),
            USAGE,
            lambda u: calls(u, True, True, ()),
        ),
        Family(
            "librechat_messages_with_tools_total",
            "gauge",
            "Number of messages that contain tool calls",
            (),
            ("tool",),
            USAGE,
            lambda u: count(u, False, False, flag(TOOLS)),
        ),
        Family(
            "librechat_active_tool_users",
            "gauge",
            "Number of users who made tool calls in the last 5 minutes",
            (),
            ("tool", "user"),
            USAGE,
            lambda u: one(len(u.recent.tools.users) if u.recent.tools else 0),
        ),
    ),
    "messages `content[]`",
)
