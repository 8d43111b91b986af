"""Label values: how raw document fields become safe, bounded Prometheus label strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

UNKNOWN = "unknown"
AGENT_PREFIX = "agent_"  # LibreChat's agent ids, which replies carry as their model
OTHER = "other"
MAX_LABEL_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_label(value: Any) -> str:
    """model, tool_name and api_endpoint: null, missing or empty become `unknown`, others str()."""
    if value is None or value == "":
        return UNKNOWN
    return value if isinstance(value, str) else str(value)


def tag_label(value: Any) -> str | None:
    """feedback.tag: a key string, or the `key` of an object; None when there is no tag."""
    if isinstance(value, Mapping) and "key" in value:
        value = str(value["key"])
    elif value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def is_agent_id(value: object) -> bool:
    """A string that is an agent id (`agent_…`)."""
    return isinstance(value, str) and value.startswith(AGENT_PREFIX)


def resolve_agent(model: str, agents: Mapping[str, str]) -> str:
    """An agent id (`agent_…`) stands for the agent's underlying model when we know it."""
    if is_agent_id(model):
        return agents.get(model, model)
    return model


def sanitise(value: str) -> str:
    """Control characters become spaces; long values are cut."""
    return _CONTROL.sub(" ", value)[:MAX_LABEL_LENGTH]


def cap(samples: Mapping[tuple[str, ...], float], limit: int) -> dict[tuple[str, ...], float]:
    """Keep the `limit` largest label sets; sum the rest into one set whose labels are all `other`."""
    if len(samples) <= limit:
        return dict(samples)
    ranked = sorted(samples.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: limit - 1])
    width = len(ranked[0][0])
    kept[(OTHER,) * width] = kept.get((OTHER,) * width, 0.0) + sum(v for _, v in ranked[limit - 1 :])
    return kept
