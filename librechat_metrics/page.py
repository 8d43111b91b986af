"""The page for people at `/`: state, jobs and headline numbers in one HTML document.

Rendered per request from memory only, never from MongoDB: the families the page cache holds (the
same snapshot /metrics serves), the usage job's last good result and the jobs' states. No external
assets, no script; every text that may come from data (model names, error reasons) is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from zoneinfo import ZoneInfo

from prometheus_client.core import Metric

from . import __version__
from .groups import Usage
from .responses import percentiles
from .scheduler import JobState, Scheduler
from .settings import Settings

CONTENT_TYPE = "text/html; charset=utf-8"
# Only inline styles, nothing else: a label value that slipped through escaping still could not run.
HEADERS = [
    ("Content-Type", CONTENT_TYPE),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
EXPOSITION_TYPES = ("text/plain", "application/openmetrics-text")
DEMO_BANNER = "DEMO MODE: synthetic LibreChat data in an embedded MongoDB (mongoeco), not a real LibreChat."
REFRESH_SECONDS = 30

Values = dict[str, dict[tuple[tuple[str, str], ...], float]]


def wants_html(accept: str) -> bool:
    """A browser's Accept header: `text/html` named with q > 0 and a q at least that of every exposition
    format it names. `*/*` (curl) and Prometheus's header name no text/html: they get the exposition."""
    html: float | None = None
    exposition = 0.0
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if kind == "text/html":
            html = q if html is None else max(html, q)
        elif kind in EXPOSITION_TYPES:
            exposition = max(exposition, q)
    return html is not None and html > 0 and html >= exposition


def values(metrics: Iterable[Metric]) -> Values:
    """sample name -> sorted label pairs -> value."""
    out: Values = {}
    for metric in metrics:
        for sample in metric.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def reply_errors(usage: Usage) -> tuple[int, int]:
    """(error replies, replies) in the 5-minute window: assistant messages, and those that are errors."""
    replies = errors = 0
    for key, n in usage.recent.messages.count.items():
        if key[0]:
            replies += n
            errors += n if key[2] else 0
    return errors, replies


@dataclass
class Page:
    """Renders the page from the snapshot: `families()` gives the page cache's families."""

    families: Callable[[], list[Metric]]
    scheduler: Scheduler
    settings: Settings
    demo: bool = False
    wall: Callable[[], float] = time.time

    def render(self) -> bytes:
        now = self.wall()
        found = values(self.families())
        usage = self.scheduler.fresh_result("usage", self.settings.metrics_max_staleness)
        parts = [
            _head(),
            f'<p class="demo" id="demo">{escape(DEMO_BANNER)}</p>' if self.demo else "",
            self._title(now),
            _status(found, self.scheduler),
            _headline(found, usage if isinstance(usage, Usage) else None),
            _models(found),
            _jobs(self.scheduler.states, now),
            '<p class="links"><a href="metrics">/metrics</a> (Prometheus exposition) · '
            '<a href="readyz">/readyz</a> (readiness) · this page reloads every '
            f"{REFRESH_SECONDS} s</p>",
            "</body></html>\n",
        ]
        return "".join(parts).encode()

    def _title(self, now: float) -> str:
        zone = self.settings.timezone
        local = datetime.fromtimestamp(now, timezone.utc).astimezone(ZoneInfo(zone))
        where = f" · {escape(self.scheduler.where)}" if self.scheduler.where else ""
        return (
            f'<h1>LibreChat metrics</h1><p class="sub">{local:%Y-%m-%d %H:%M:%S} {escape(zone)}{where}'
            f" · librechat-metrics {escape(__version__)}</p>"
        )


def _head() -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>LibreChat metrics</title><style>{STYLE}</style></head><body>"
    )


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;
max-width:1200px;padding:16px 24px;color:#1d2433;background:#f6f7f9}
h1{font-size:24px;margin:4px 0}h2{font-size:17px;margin:22px 0 8px}.sub{color:#5b6475;margin:0 0 12px}
.demo{background:#fff3cd;border:1px solid #e0b000;color:#5c4300;padding:8px 12px;border-radius:6px;
font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:8px;padding:10px 12px}
.card .n{font-size:24px;font-weight:650}.card .l{color:#5b6475;font-size:13px}
table{border-collapse:collapse;background:#fff;border:1px solid #dfe3ea;width:100%}
th,td{padding:5px 10px;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#0a7a32;font-weight:600}.bad{color:#b3261e;font-weight:600}.wait{color:#8a5a00;font-weight:600}
.err{color:#b3261e;font-size:13px;word-break:break-word}.links{margin-top:20px;color:#5b6475}
"""


def _data(value: float | None, shown: Callable[[float], str]) -> str:
    """A number with its exact value for machines (`<data value>`), or a dash when there is none."""
    if value is None:
        return '<span class="none" title="not collected (yet), stale, or switched off">—</span>'
    return f'<data value="{float(value)!r}">{escape(shown(value))}</data>'


def _one(found: Values, name: str) -> float | None:
    return found.get(name, {}).get(())


def _per_model(found: Values, name: str, **extra: str) -> dict[str, float] | None:
    if name not in found:
        return None
    out = {}
    for labels, value in found[name].items():
        label = dict(labels)
        if all(label.get(k) == v for k, v in extra.items()):
            out[label.get("model", "")] = value
    return out


def _total(found: Values, name: str) -> float | None:
    samples = found.get(name)
    return None if samples is None else sum(samples.values())


def usd(value: float) -> str:
    return f"${value:,.2f}" if value == 0 or abs(value) >= 0.01 else f"${value:.4f}"


def count(value: float) -> str:
    return f"{round(value):,}"


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:,.1f} s"


def share(value: float) -> str:
    return f"{100 * value:.1f} %"


def _status(found: Values, scheduler: Scheduler) -> str:
    up = _one(found, "librechat_mongodb_up")
    target = _one(found, "librechat_exporter_target_ok")
    mongo = _flag(up, "answering", "not answering", "not checked yet")
    database = _flag(target, "is LibreChat's", "does not look like LibreChat's", "not checked yet")
    waiting = scheduler.not_ready()
    ready = (
        '<span class="ok">ready</span>'
        if not waiting
        else '<span class="wait">not ready</span><ul class="err">'
        + "".join(f"<li>{escape(line)}</li>" for line in waiting)
        + "</ul>"
    )
    rows = [
        ("MongoDB", mongo, "mongodb"),
        ("Target database", database, "target"),
        ("Readiness", ready, "ready"),
    ]
    body = "".join(f'<tr><th>{name}</th><td id="{ident}">{cell}</td></tr>' for name, cell, ident in rows)
    return f'<h2>State</h2><table class="state">{body}</table>'


def _flag(value: float | None, yes: str, no: str, unknown: str) -> str:
    if value is None:
        return f'<span class="wait">{unknown}</span>'
    return f'<span class="ok">{yes}</span>' if value == 1 else f'<span class="bad">{no}</span>'


def _headline(found: Values, usage: Usage | None) -> str:
    error_share = p90 = None
    if usage is not None:
        errors, replies = reply_errors(usage)
        error_share = errors / replies if replies else None
        waits = [s for _, s in usage.waits]
        p90 = percentiles(waits)["90"] if waits else None
    cards = [
        ("messages-today", "Messages today", _one(found, "librechat_daily_messages"), count),
        ("active-users-5m", "Active users now (5 min)", _one(found, "librechat_active_users"), count),
        ("active-users-today", "Active users today", _one(found, "librechat_daily_unique_users"), count),
        ("spend-today", "Spend today", _total(found, "librechat_daily_spend_usd"), usd),
        ("spend-month", "Spend this month", _total(found, "librechat_monthly_spend_usd"), usd),
        ("error-share-5m", "Error share of replies (5 min)", error_share, share),
        ("p90-5m", "p90 response time (5 min)", p90, seconds),
    ]
    body = "".join(
        f'<div class="card" id="{ident}"><div class="n">{_data(value, shown)}</div>'
        f'<div class="l">{label}</div></div>'
        for ident, label, value, shown in cards
    )
    return f'<h2>Now</h2><div class="cards">{body}</div>'


def _models(found: Values) -> str:
    p90 = _per_model(found, "librechat_response_time_seconds_5m", percentile="90")
    columns = [
        ("Spend today", _per_model(found, "librechat_daily_spend_usd"), usd),
        ("Spend this month", _per_model(found, "librechat_monthly_spend_usd"), usd),
        ("Replies (5 min)", _per_model(found, "librechat_messages_per_model_5m"), count),
        ("p90 response time (5 min)", p90, seconds),
    ]
    names = {model for _, samples, _ in columns for model in samples or {}}
    month = columns[1][1] or {}
    ordered = sorted(names, key=lambda m: (-month.get(m, 0.0), m))
    head = "".join(f'<th class="r">{title}</th>' for title, _, _ in columns)
    rows = []
    for model in ordered:
        cells = "".join(
            f'<td class="r">{_data(samples[model], shown) if samples and model in samples else ""}</td>'
            for _, samples, shown in columns
        )
        rows.append(f"<tr><td>{escape(model)}</td>{cells}</tr>")
    if not rows:
        empty = "no spend this month and no replies in the last 5 minutes"
        rows.append(f'<tr><td colspan="{len(columns) + 1}">{empty}</td></tr>')
    return f'<h2>Per model</h2><table id="models"><tr><th>Model</th>{head}</tr>{"".join(rows)}</table>'


def age(delta: float) -> str:
    """How long ago, in the largest unit that keeps it readable."""
    delta = max(0.0, delta)
    if delta < 90:
        return f"{delta:.0f} s ago"
    if delta < 90 * 60:
        return f"{delta / 60:.0f} min ago"
    if delta < 48 * 3600:
        return f"{delta / 3600:.0f} h ago"
    return f"{delta / 86400:.0f} d ago"


def _utc(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jobs(states: dict[str, JobState], now: float) -> str:
    rows = []
    for name, state in states.items():
        if state.ok:
            condition = '<span class="ok">ok</span>'
        elif state.failing_since is not None:
            condition = f'<span class="bad">failing since {_utc(state.failing_since)}</span>'
        elif state.last_error:
            condition = '<span class="wait">waiting</span>'
        else:
            condition = '<span class="wait">not run yet</span>'
        success = (
            f'<span title="{_utc(state.success_time)}">{age(now - state.success_time)}</span>'
            if state.success_time is not None
            else "never"
        )
        took = f"{state.duration:.2f} s" if state.duration is not None else ""
        reason = f'<span class="err">{escape(state.last_error)}</span>' if state.last_error else ""
        rows.append(
            f'<tr id="job-{escape(name)}"><td>{escape(name)}</td><td>{condition}</td><td>{success}</td>'
            f'<td class="r">{took}</td><td class="r">{state.errors}</td><td>{reason}</td></tr>'
        )
    head = (
        '<tr><th>Job</th><th>State</th><th>Last success</th><th class="r">Last run took</th>'
        '<th class="r">Errors since start</th><th>Last error</th></tr>'
    )
    return f'<h2>Jobs</h2><table id="jobs">{head}{"".join(rows)}</table>'
