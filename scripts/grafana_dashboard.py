"""Build the live Grafana dashboard (Prometheus datasource) from one declarative list of panels.

    .venv/bin/python scripts/grafana_dashboard.py          # print it
    .venv/bin/python scripts/grafana_dashboard.py --write  # write examples/grafana/librechat-metrics.json

tests/test_examples.py checks that the committed file is what this prints and runs every query of it
against a real Prometheus that scraped the exporter.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "examples" / "grafana" / "librechat-metrics.json"


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # Grafana panel type: stat, timeseries, bargauge, table
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    width: int = 8
    description: str = ""
    options: dict = field(default_factory=dict)
    table: bool = False  # instant queries as table rows, merged on their common labels (agent_id)


def half(title: str, kind: str, expr: str, legend: str, unit: str = "short", description: str = "") -> Panel:
    """A half-width panel with one query."""
    return Panel(title, kind, ((expr, legend),), unit, 12, description)


RUN_BUCKETS = "sum by (le) (librechat_schedule_run_duration_seconds_bucket)"


def over_range(family: str, by: str) -> str:
    """What a counter grew by over the dashboard's time range, per `by`: delta(), not increase(). The
    counters count what MongoDB holds, so they fall when LibreChat deletes data, and never reset to 0
    (the exporter serves them after a full count): increase() would read a fall as a reset and count
    the whole value again, delta() is off by what was deleted."""
    return f"sum by ({by}) (delta({family}[$__range]))"


def named(family: str) -> str:
    """An agent counter's growth over the range, with the agent's name and model joined from
    librechat_agent_info (one info series per agent: topk); agents without one keep their id only."""
    info = "topk by (agent_id) (1, librechat_agent_info)"
    joined = f"delta({family}[$__range]) * on (agent_id) group_left (name, model) {info}"
    return f"sum by (agent_id, name, model) ({joined}) or on (agent_id) {over_range(family, 'agent_id')}"


RANGE_ERROR_SHARE = (
    "sum(sum_over_time(librechat_error_replies_5m[$__range]))"
    " / clamp_min(sum(sum_over_time(librechat_replies_5m[$__range])), 1)"
)

ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    (
        "The selected time range",
        (
            Panel(
                "Spend over the range, by model (USD)",
                "bargauge",
                ((over_range("librechat_spend_usd_total", "model"), "{{model}}"),),
                unit="currencyUSD",
                description="What the time picker's range cost, from LibreChat's transactions.",
            ),
            Panel(
                "Spend over the range, by agent (USD)",
                "bargauge",
                ((named("librechat_agent_spend_usd_total"), "{{name}} ({{agent_id}})"),),
                unit="currencyUSD",
                description="Transactions of agent replies; the name comes from librechat_agent_info.",
            ),
            Panel(
                "Spend over the range, by group (USD)",
                "bargauge",
                ((over_range("librechat_group_spend_usd_total", "group"), "{{group}}"),),
                unit="currencyUSD",
                description="LibreChat groups; a user in several groups counts in each, so groups can "
                "add up to more than the total. (no group): users in none.",
            ),
            Panel(
                "Top agents over the range",
                "table",
                (
                    (named("librechat_agent_replies_total"), "replies"),
                    ("max by (agent_id) (librechat_agent_monthly_users)", "users this month"),
                    (named("librechat_agent_spend_usd_total"), "spend (USD)"),
                ),
                width=16,
                description="Replies and spend over the range; users: distinct users of the agent this "
                "month (Prometheus cannot count distinct users over any range; the history can).",
                options={"sortBy": [{"displayName": "Value #A", "desc": True}]},
                table=True,
            ),
            Panel(
                "Replies over the range, by endpoint",
                "bargauge",
                ((over_range("librechat_messages_per_endpoint_total", "endpoint"), "{{endpoint}}"),),
                description="Assistant messages per LibreChat endpoint.",
            ),
            Panel(
                "Errors over the range, by endpoint",
                "bargauge",
                ((over_range("librechat_errors_per_endpoint_total", "endpoint"), "{{endpoint}}"),),
            ),
            Panel(
                "Error share of replies over the range",
                "stat",
                ((RANGE_ERROR_SHARE, "errors"),),
                unit="percentunit",
                description="Error replies / replies, from the 5-minute gauges averaged over the range.",
            ),
        ),
    ),
    (
        "Usage",
        (
            Panel("Active users (5 min)", "stat", (("librechat_active_users", "users"),), width=4),
            Panel(
                "Unique users",
                "stat",
                (
                    ("librechat_daily_unique_users", "today"),
                    ("librechat_weekly_unique_users", "this week"),
                    ("librechat_monthly_unique_users", "this month"),
                ),
                description="Since midnight, Monday and the 1st in the exporter's TIMEZONE.",
            ),
            Panel("Registered users", "stat", (("librechat_registered_users_total", "users"),), width=4),
            Panel(
                "Active conversations (5 min)",
                "stat",
                (("librechat_active_conversations", "conversations"),),
                width=4,
            ),
            Panel(
                "Active users, rolling",
                "stat",
                (
                    ("librechat_active_users_1d", "24 hours"),
                    ("librechat_active_users_7d", "7 days"),
                    ("librechat_active_users_30d", "30 days"),
                ),
                width=12,
                description="Distinct users with a message in the last 24 hours, 7 and 30 days (rolling).",
            ),
            Panel(
                "New users, rolling",
                "stat",
                (
                    ("librechat_new_users_1d", "24 hours"),
                    ("librechat_new_users_7d", "7 days"),
                    ("librechat_new_users_30d", "30 days"),
                ),
                width=12,
                description="Users registered in the last 24 hours, 7 and 30 days.",
            ),
            half(
                "Assistant messages in the last 5 minutes, by model",
                "timeseries",
                "sum by (model) (librechat_messages_per_model_5m)",
                "{{model}}",
            ),
            half(
                "Share of replies that are errors (5 min)",
                "timeseries",
                "librechat_error_replies_5m / clamp_min(librechat_replies_5m, 1)",
                "errors",
                unit="percentunit",
            ),
            half(
                "Output tokens in the last 5 minutes, by model",
                "timeseries",
                "sum by (model) (librechat_model_output_tokens_5m)",
                "{{model}}",
            ),
            half(
                "Response time (90th percentile, first replies, 5 min), by model",
                "timeseries",
                'max by (model) (librechat_response_time_seconds_5m{percentile="90"})',
                "{{model}}",
                unit="s",
                description="From a user message to its first reply (regenerations left out).",
            ),
            half(
                "Response time (median, first replies, 5 min), by model",
                "timeseries",
                'max by (model) (librechat_response_time_seconds_5m{percentile="50"})',
                "{{model}}",
                unit="s",
            ),
            half(
                "Input tokens in the last 5 minutes, by model",
                "timeseries",
                "sum by (model) (librechat_model_input_tokens_5m)",
                "{{model}}",
                description="From LibreChat's transactions (billed prompt tokens) when it has them.",
            ),
        ),
    ),
    (
        "Quality",
        (
            half(
                "Positive ratings per model",
                "bargauge",
                "librechat_rating_ratio_per_model / 100",
                "{{model}}",
                unit="percentunit",
            ),
            half("Ratings per feedback tag", "bargauge", "librechat_rating_counts_per_tag", "{{tag}}"),
            half(
                "Tool calls in the last 5 minutes, by tool",
                "timeseries",
                "sum by (tool_name) (librechat_tool_calls_per_tool_5m)",
                "{{tool_name}}",
            ),
            half(
                "Tool success rate (all time)",
                "bargauge",
                "librechat_tool_success_rate_per_tool / 100",
                "{{tool_name}}",
                unit="percentunit",
            ),
        ),
    ),
    (
        "Cost",
        (
            half(
                "Spend in the last 5 minutes, by model (USD)",
                "timeseries",
                "sum by (model) (librechat_spend_usd_5m)",
                "{{model}}",
                unit="currencyUSD",
                description="LibreChat's own prices at the time of each request (transactions.tokenValue).",
            ),
            half(
                "Spend, all time, by model (USD)",
                "bargauge",
                "max by (model) (librechat_spend_usd_total)",
                "{{model}}",
                unit="currencyUSD",
            ),
            half(
                "Share of input tokens read from the prompt cache (all time), by model",
                "bargauge",
                "max by (model) (librechat_cache_read_tokens_total)"
                " / max by (model) (librechat_input_tokens_per_model_total > 0)",
                "{{model}}",
                unit="percentunit",
                description="Only providers that report cache tokens (structured prompt transactions).",
            ),
            half(
                "Response time (90th percentile, first replies, all time), by model",
                "bargauge",
                "histogram_quantile(0.9, max by (model, le) (librechat_response_time_seconds_bucket))",
                "{{model}}",
                unit="s",
                description="From the histogram; rate(..._bucket[window]) gives any other window.",
            ),
        ),
    ),
    (
        "Scheduled chats",
        (
            Panel(
                "Schedules by state",
                "bargauge",
                (("librechat_schedules", "{{state}}"),),
                width=6,
                description="enabled, the reason LibreChat disabled a schedule, or disabled by its owner.",
            ),
            Panel(
                "Stored runs by status",
                "bargauge",
                (("librechat_schedule_runs", "{{status}}"),),
                width=6,
                description="Runs LibreChat keeps; settled runs expire after 90 days.",
            ),
            Panel(
                "Run duration",
                "stat",
                (
                    (
                        f"histogram_quantile(0.5, {RUN_BUCKETS})",
                        "p50",
                    ),
                    (
                        f"histogram_quantile(0.9, {RUN_BUCKETS})",
                        "p90",
                    ),
                ),
                unit="s",
                width=6,
                description="Finished runs (success, error, interrupted) LibreChat keeps.",
            ),
            Panel(
                "Failed runs by MCP server status",
                "bargauge",
                (("librechat_schedule_failed_runs_by_mcp_status", "{{mcp_status}}"),),
                width=6,
                description="A failed run counts once for each status among the MCP servers it used.",
            ),
        ),
    ),
    (
        "Exporter",
        (
            Panel("MongoDB reachable", "stat", (("librechat_mongodb_up", "up"),), width=4),
            Panel(
                "Data age per group",
                "timeseries",
                (("time() - librechat_exporter_last_success_timestamp_seconds", "{{group}}"),),
                unit="s",
                width=10,
                description="Values older than METRICS_MAX_STALENESS (15 min) are no longer served.",
            ),
            Panel(
                "Collection time per group",
                "timeseries",
                (("librechat_exporter_collection_duration_seconds", "{{group}}"),),
                unit="s",
                width=10,
            ),
            Panel(
                "Missing optional indexes",
                "table",
                (("librechat_exporter_missing_index == 1", "{{collection}}.{{key}}"),),
                width=24,
                description="python metrics.py --check-indexes prints how to create them.",
            ),
        ),
    ),
)


PANEL_NAMES = {"bargauge": "Bar gauge", "stat": "Stat", "table": "Table", "timeseries": "Time series"}
# A table panel's instant queries as one row per agent: joined on their common labels, Time hidden.
TABLE_MERGE = [
    {"id": "merge", "options": {}},
    {"id": "organize", "options": {"excludeByName": {"Time": True}}},
]


def queries() -> list[str]:
    """Every PromQL expression of the dashboard."""
    return [expr for _, panels in ROWS for panel in panels for expr, _ in panel.targets]


def dashboard() -> dict:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    panels, y, next_id = [], 0, 1
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "type": "row",
                "title": row_title,
                "id": next_id,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        next_id, y, x = next_id + 1, y + 1, 0
        for panel in row_panels:
            if x + panel.width > 24:
                x, y = 0, y + 8
            extra = {"transformations": TABLE_MERGE} if panel.table else {}
            panels.append(
                {
                    "type": panel.kind,
                    "title": panel.title,
                    "description": panel.description,
                    "id": next_id,
                    "datasource": datasource,
                    "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
                    "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                    "options": panel.options,
                    "targets": [
                        {
                            "refId": chr(ord("A") + i),
                            "datasource": datasource,
                            "expr": expr,
                            "legendFormat": legend,
                            **({"instant": True, "format": "table"} if panel.table else {}),
                        }
                        for i, (expr, legend) in enumerate(panel.targets)
                    ],
                    **extra,
                }
            )
            next_id, x = next_id + 1, x + panel.width
        y += 8
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "The Prometheus that scrapes librechat-metrics",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *({"type": "panel", "id": kind, "name": PANEL_NAMES[kind], "version": ""} for kind in kinds),
        ],
        "title": "LibreChat (librechat-metrics)",
        "uid": "librechat-metrics-live",
        "tags": ["librechat", "prometheus"],
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    # the datasource chosen on import; provisioned, Grafana picks the default Prometheus
                    "current": {"text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"},
                }
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(render())
    else:
        sys.stdout.write(render())
