"""The README documents every metric and setting exactly as the code declares them."""

from __future__ import annotations

import re
from pathlib import Path

from librechat_metrics.settings import SETTINGS
from scripts.metrics_table import table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_metric_table_is_generated_from_the_declarations():
    block = re.search(r"<!-- metrics-table:start -->\n(.*?)\n<!-- metrics-table:end -->", README, re.S)
    assert block and block.group(1).strip() == table().strip(), "run scripts/metrics_table.py into README.md"


def test_readme_and_env_example_list_every_setting():
    example = (ROOT / ".env.example").read_text()
    for setting in SETTINGS:
        assert f"`{setting.env}`" in README
        assert f"# {setting.env}=" in example
