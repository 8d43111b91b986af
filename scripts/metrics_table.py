"""Print the README's metric table from the family declarations (a test keeps the README in sync)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from librechat_metrics.families import FAMILIES, Family

REFRESH = {
    "usage": "fast; all-time part recounted every `METRICS_RESYNC_INTERVAL`",
    "activity": "fast",
    "inventory": "slow",
    "recent_ratings": "slow (needs `updatedAt`, unindexed in stock LibreChat)",
    "engagement": "slow",
    "balances": "slow",
    "schedules": "slow",
    "group_cost": "slow",
}


def source(family: Family) -> str:
    name = family.name
    if family.group == "inventory":
        return {"conversations": "conversations", "registered": "users", "uploaded": "files"}[
            name.split("_")[1]
        ]
    if family.group == "group_cost":
        return "groups, users, " + ("transactions" if "spend" in name else "messages")
    if family.group == "schedules":
        return "schedules" if name == "librechat_schedules" else "scheduleruns"
    if family.group == "balances" or name == "librechat_agent_info":
        return family.group if family.group == "balances" else "agents"
    if "spend" in name or "cache" in name:
        return "transactions"
    if "tokens" in name:
        return "transactions, or messages (`TOKEN_SOURCE`)"
    if name.startswith("librechat_new_users_"):
        return "users `_id`"
    if name.startswith("librechat_exporter_"):
        return "—"
    if "tool" in name:
        return "messages `content[]`"
    if name == "librechat_messages_by_origin_total":
        return "messages, scheduleruns"
    return "messages"


def refresh(family: Family) -> str:
    if family.name == "librechat_agent_info":
        return "`METRICS_SLOW_INTERVAL`, and at once when a reply names an unknown agent"
    if family.group == "usage" and (
        family.name.endswith(("_5m", "ly_spend_usd")) or family.name == "librechat_active_tool_users"
    ):
        return "fast"
    return REFRESH[family.group]


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
