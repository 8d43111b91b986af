"""Print the README's metric table from the family declarations (a test keeps the README in sync)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from librechat_metrics.families import FAMILIES, FROM_ACTIVITY, Family
from librechat_metrics.jobs import BY_NAME, USAGE


def source(family: Family) -> str:
    """What the family is computed from: its own declaration, else its job's."""
    return family.source or BY_NAME[family.job].source


def refresh(family: Family) -> str:
    if family.name == "librechat_agent_info":
        return "`METRICS_SLOW_INTERVAL`, and at once when a reply names an unknown agent"
    if family.job == USAGE and (
        family.name.endswith(("_5m", "ly_spend_usd"))
        or family.name in FROM_ACTIVITY
        or family.name == "librechat_active_tool_users"
    ):
        return "fast"
    return BY_NAME[family.job].refresh


def table() -> str:
    rows = [
        "| metric | type | labels | meaning | source | refresh | toggle |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in FAMILIES:
        labels = ", ".join(f"`{label}`" for label in f.labels) or "—"
        toggles = ", ".join(f"`ENABLE_{t.upper()}_METRICS`" for t in f.toggles) or "always"
        rows.append(
            f"| `{f.name}` | {f.kind} | {labels} | {f.help} | {source(f)} | {refresh(f)} | {toggles} |"
        )
    return "\n".join(rows)


def write(readme: Path) -> None:
    """Replace the table between the README's metrics-table markers."""
    text = readme.read_text()
    head, rest = text.split("<!-- metrics-table:start -->\n", 1)
    _, tail = rest.split("<!-- metrics-table:end -->", 1)
    readme.write_text(f"{head}<!-- metrics-table:start -->\n{table()}\n<!-- metrics-table:end -->{tail}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write(Path(__file__).resolve().parents[1] / "README.md")
    else:
        print(table())
