"""examples/: the Prometheus config and alert rules are valid and their unit tests pass; a real Prometheus
that scrapes the demo exporter evaluates every rule without error; every dashboard query returns data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from scripts.grafana_dashboard import OUT as DASHBOARD
from scripts.grafana_dashboard import queries, render
from tests.support.demo import Demo
from tests.support.grafana import importable
from tests.support.prometheus import AVAILABLE as prometheus_available
from tests.support.prometheus import start_prometheus

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "prometheus"
RULES = yaml.safe_load((EXAMPLES / "alerts.yml").read_text())["groups"][0]["rules"]
RECORDING = [
    rule
    for group in yaml.safe_load((EXAMPLES / "recording.yml").read_text())["groups"]
    for rule in group["rules"]
]
RANGE = "10m"  # what Grafana puts for $__range (the time picker's span); the data is younger: all of it
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="scripts/services.sh installs it"
)
needs_prometheus = pytest.mark.skipif(not prometheus_available, reason="scripts/services.sh installs it")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=60)


@needs_promtool
def test_config_and_rules_are_valid():
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_prometheus
def test_recording_rules_record_the_series_the_exporter_feeds_them(live):
    exporter, prometheus = live
    served = exporter.scrape().samples
    # Rates of unlabelled 5-minute families always have a sample; shares have one when there was traffic.
    always = {"librechat:messages:rate5m", "librechat:input_tokens:rate5m", "librechat:output_tokens:rate5m"}
    if served["librechat_replies_5m"][()] > 0:
        always.add("librechat:error_replies:ratio_5m")
    deadline = time.monotonic() + 30
    while missing := {name for name in always if not prometheus.query(name)}:
        assert time.monotonic() < deadline, f"not recorded: {missing}"
        time.sleep(0.5)
    for name in always:
        for row in prometheus.query(name):
            assert row["metric"]["job"] == "librechat-metrics"
            assert float(row["value"][1]) >= 0


@needs_promtool
def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (EXAMPLES / "alerts_test.yml").read_text()))
    assert tested == {rule["alert"] for rule in RULES}


def test_the_committed_dashboard_is_the_generated_one():
    assert DASHBOARD.read_text() == render(), "run scripts/grafana_dashboard.py --write"
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert [t["expr"] for p in panels for t in p.get("targets", [])] == queries()


def test_every_error_share_divides_error_replies_by_replies():
    """Alert, recording rule and dashboard: a share of replies; user messages are never errors' peers."""
    shares = [q for q in queries() if "error" in q and " / " in q]
    shares += [r["expr"] for r in RULES + RECORDING if "error" in r["expr"] and "tool" not in r["expr"]]
    shares = [q for q in shares if "librechat_exporter_" not in q and "agent" not in q]
    assert len(shares) == 4, shares
    for expr in shares:
        numerator, denominator = expr.split(" / ")
        assert "librechat_error_replies_5m" in numerator and "librechat_replies_5m" in denominator, expr
        assert "librechat_messages_5m" not in expr and "librechat_error_messages_5m" not in expr, expr


def test_the_live_dashboard_is_importable():
    dashboard = json.loads(DASHBOARD.read_text())
    importable(dashboard, "prometheus")
    assert {"DS_PROMETHEUS"} == set(re.findall(r"\$\{(DS_\w+)\}", json.dumps(dashboard)))


def test_range_panels_cover_every_range_question():
    """Spend per model, agent (with its name), group; endpoints; top agents; error share: over $__range."""
    ranged = [q for q in queries() if "$__range" in q]
    for family in ("spend_usd_total", "agent_spend_usd_total", "group_spend_usd_total",
                   "messages_per_endpoint_total", "agent_replies_total", "error_replies_5m"):  # fmt: skip
        assert any(f"librechat_{family}[$__range]" in q for q in ranged), family
    assert all("librechat_agent_info" in q for q in ranged if "agent_spend" in q or "agent_replies" in q)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """metrics.py --demo (embedded database, live activity) -> Prometheus (job librechat-metrics, as in
    the example and the compose stack, with its rules): what an operator trying the kit sees."""
    demo = Demo(tmp_path_factory.mktemp("demo"), METRICS_CACHE_TTL="5")
    prometheus = None
    try:
        demo.wait_families()
        demo.exporter.wait_ready()
        prometheus = start_prometheus(
            tmp_path_factory.mktemp("prometheus"),
            "librechat-metrics",
            f"127.0.0.1:{demo.port}",
            rule_files=(EXAMPLES / "alerts.yml", EXAMPLES / "recording.yml"),
        )
        prometheus.wait_until_scraped("librechat-metrics")
        yield demo.exporter, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        demo.stop()


@needs_prometheus
def test_the_rules_name_only_metrics_the_exporter_serves(live):
    exporter, _ = live
    page = exporter.scrape()
    served = set(page.samples) | set(page.types)  # a family without samples (no index missing) is declared
    family = re.compile(r"(?<!:)\b(librechat_\w+)")  # not a recorded series (model:librechat_…:p90_5m)
    named = {name for rule in RULES + RECORDING for name in family.findall(rule["expr"])}
    assert named and named <= served, named - served


@needs_prometheus
def test_prometheus_evaluates_every_rule_on_real_data(live):
    _, prometheus = live
    deadline = time.monotonic() + 30
    while True:  # rules are evaluated every second once loaded
        every = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        if len(every) == len(RULES) + len(RECORDING) and all(
            r.get("lastEvaluation", "").startswith("2") for r in every
        ):
            break
        assert time.monotonic() < deadline, every
        time.sleep(0.5)
    rules = [r for r in every if r["type"] == "alerting"]
    assert {r["name"]: r["health"] for r in rules} == {rule["alert"]: "ok" for rule in RULES}
    recorded = {r["name"]: r["health"] for r in every if r["type"] == "recording"}
    assert recorded == {rule["record"]: "ok" for rule in RECORDING}
    # A healthy exporter on a healthy database raises none of the operational alerts.
    firing = {r["name"] for r in rules if r["state"] != "inactive"}
    assert not firing & {
        "LibreChatExporterDown",
        "LibreChatMongoDBUnreachable",
        "LibreChatMetricsStale",
        "LibreChatWrongDatabase",
    }


@needs_prometheus
@pytest.mark.parametrize("expr", queries())
def test_every_dashboard_query_returns_data(live, expr):
    exporter, prometheus = live
    result = prometheus.query(expr.replace("$__range", RANGE))
    if expr.startswith("librechat_exporter_missing_index"):  # the demo has every index it would use:
        missing = exporter.scrape().samples.get("librechat_exporter_missing_index", {})
        assert len(result) == len(missing), (result, missing)  # the panel shows what is served
        return
    assert result, f"no data for {expr}"
    for row in result:
        float(row["value"][1])  # a number, NaN included, never an error


@needs_prometheus
def test_agent_range_panels_carry_the_agents_names(live):
    """The join onto librechat_agent_info gives the demo's agents their names (it has agents)."""
    _, prometheus = live
    joined = [q for q in queries() if "librechat_agent_info" in q]
    assert len(joined) == 3
    for expr in joined:
        rows = prometheus.query(expr.replace("$__range", RANGE))
        assert any(row["metric"].get("name") for row in rows), (expr, rows)
