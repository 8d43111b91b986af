"""What Grafana's import (and grafana.com) expects of a dashboard file."""

from __future__ import annotations

import json
import re


def importable(dashboard: dict, plugin: str) -> None:
    """As grafana.com and Grafana's import expect: `__inputs` declares the datasource (its ${DS_…}
    placeholders are all declared ones), `__requires` names Grafana, that plugin and every panel type."""
    inputs = {i["name"]: i for i in dashboard["__inputs"]}
    assert inputs and all(i["type"] == "datasource" and i["pluginId"] == plugin for i in inputs.values())
    used = set(re.findall(r"\$\{(DS_\w+)\}", json.dumps(dashboard)))
    assert used <= set(inputs), used - set(inputs)
    required = {(r["type"], r["id"]) for r in dashboard["__requires"]}
    assert {("grafana", "grafana"), ("datasource", plugin)} <= required
    kinds = {p["type"] for p in dashboard["panels"] if p["type"] != "row"}
    assert {("panel", kind) for kind in kinds} <= required, kinds
    assert all(r.get("version") is not None and r.get("name") for r in dashboard["__requires"])
