"""LibreChat's scheduled chats (v0.8.8): schedules by state, stored runs by status, run durations.

`schedules` holds one document per schedule (a per-user cap keeps it small); `scheduleruns` one per
occurrence, and LibreChat expires settled runs 90 days after `settledAt`, so the runs read are the
ones it keeps. Both run reads select on `status`, the leading field of LibreChat's
`{status, firedAt}` index: the counts need no other field (MongoDB can answer them from the index
alone when no tenant is set), the durations and MCP statuses read the finished runs' documents.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .mongo import Reader
from .responses import WaitHistogram
from .values import number, text

STATUSES = (
    "started",
    "requires_action",
    "success",
    "error",
    "interrupted",
    "skipped_overlap",
    "skipped_balance",
)
FINISHED = ("success", "error", "interrupted")  # settled runs that generated (skipped runs never do)
FAILED = "error"
# Upper bounds (seconds) of the run-duration histogram: a scheduled agent run takes seconds to an hour.
BOUNDS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)

_NAMED = {"$and": [{"$eq": [{"$type": "$mcp.status"}, "string"]}, {"$ne": ["$mcp.status", ""]}]}
# One read of the stored runs (on the `{status, firedAt}` index): runs per status, and the finished
# runs' durations and failed runs' MCP statuses.
_FINISHED = {"status": {"$in": list(FINISHED)}}
RUNS: list[dict[str, Any]] = [
    # `$in` alone also matches an array holding a status: only a plain string is one
    {"$match": {"status": {"$in": list(STATUSES), "$not": {"$type": "array"}}}},
    {
        "$facet": {
            "counts": [{"$group": {"_id": "$status", "n": {"$sum": 1}}}],
            "durations": [
                {"$match": {**_FINISHED, "durationMs": {"$gte": 0, "$lt": float("inf")}}},
                {
                    "$group": {
                        "_id": "$status",
                        "n": {"$sum": 1},
                        "t": {"$sum": "$durationMs"},
                        **{
                            f"b{i}": {"$sum": {"$cond": [{"$lte": ["$durationMs", bound * 1000]}, 1, 0]}}
                            for i, bound in enumerate(BOUNDS)
                        },
                    }
                },
            ],
            "mcp": [
                {"$match": {"status": FAILED, "mcp": {"$type": "array"}}},
                {"$project": {"_id": 1, "mcp.status": 1}},
                {"$unwind": "$mcp"},
                {"$group": {"_id": {"run": "$_id", "m": {"$cond": [_NAMED, "$mcp.status", None]}}}},
                {"$group": {"_id": "$_id.m", "n": {"$sum": 1}}},
            ],
        }
    },
]
# Schedules an owner still has: not being deleted, not an erased tombstone.
STATES: list[dict[str, Any]] = [
    {"$match": {"deleting": {"$ne": True}, "erased": {"$ne": True}}},
    {"$group": {"_id": {"e": "$enabled", "r": "$disabledReason"}, "n": {"$sum": 1}}},
]


@dataclass
class Schedules:
    """Schedules per state, stored runs per status, durations of finished runs per status, and failed
    runs per MCP server status (a run counts once for each status among its servers)."""

    states: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    durations: dict[str, WaitHistogram] = field(default_factory=dict)
    mcp: Counter[str] = field(default_factory=Counter)


def state(enabled: Any, reason: Any) -> str:
    """`enabled`, else the `disabledReason` LibreChat recorded, else `disabled`."""
    if enabled is True:
        return "enabled"
    return text(reason, "disabledReason") or "disabled"


def fold_durations(rows: list[dict[str, Any]]) -> dict[str, WaitHistogram]:
    """Histograms per status from the grouped rows: runs with a valid `durationMs` >= 0, their sum and
    the number at or below each bound, in seconds."""
    out: dict[str, WaitHistogram] = {}
    for row in rows:
        below = [int(row[f"b{i}"]) for i in range(len(BOUNDS))]
        total = (number(row.get("t"), "durationMs") or 0.0) / 1000
        out[row["_id"]] = WaitHistogram([*below, int(row["n"])], total, BOUNDS)
    return out


def schedules(reader: Reader, now: datetime) -> Schedules:
    """Two reads: schedules by state; runs by status, finished runs' durations and MCP statuses."""
    result = Schedules()
    for row in reader.aggregate("schedules", STATES):
        result.states[state(row["_id"].get("e"), row["_id"].get("r"))] += row["n"]
    found = reader.aggregate("scheduleruns", RUNS)
    runs = found[0] if found else {"counts": [], "durations": [], "mcp": []}
    for row in runs["counts"]:
        result.runs[row["_id"]] += row["n"]
    result.durations = fold_durations(runs["durations"])
    for row in runs["mcp"]:
        result.mcp[text(row["_id"], "mcp.status") or "unknown"] += row["n"]
    return result
