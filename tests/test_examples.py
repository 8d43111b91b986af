"""examples/prometheus: the scrape config and alert rules are valid, their unit tests pass, and every
metric the rules name is one the exporter really serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from librechat_metrics.synthetic import generate
from tests.support.exporter import scrape_once
from tests.support.mongo import start_mongoeco

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "prometheus"
pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="scripts/services.sh installs promtool"
)


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=60)


def test_config_and_rules_are_valid():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((EXAMPLES / "alerts.yml").read_text())["groups"][0]["rules"]
    tested = set(re.findall(r"alertname: (\w+)", (EXAMPLES / "alerts_test.yml").read_text()))
    assert tested == {rule["alert"] for rule in rules}


def test_the_rules_name_only_metrics_the_exporter_serves():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    server = start_mongoeco(
        generate(profile="v0.8.7", seed=4, n_messages=300, now=now, zones=("UTC",)).collections
    )
    try:
        page, _ = scrape_once(server.uri)
    finally:
        server.stop()
    rules = yaml.safe_load((EXAMPLES / "alerts.yml").read_text())["groups"][0]["rules"]
    named = {name for rule in rules for name in re.findall(r"\b(librechat_\w+)", rule["expr"])}
    assert named and named <= set(page.samples), named - set(page.samples)
