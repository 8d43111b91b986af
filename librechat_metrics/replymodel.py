"""One model per reply: which model produced a message whose `model` is an agent id (docs/semantics.md,
"Labels").

A message on LibreChat's agents endpoint stores the agent's id as its model. Its model label is, in this
order: the model its own transactions name (`transactions.messageId`, LibreChat 0.8.3+), the model of
the agent version in force at its `createdAt` (`agents.versions[]`), the agent's current model, and
else the agent id itself (a deleted agent). Message, error, rating, tool, response-time and token
families and the history all label through `ReplyModels.label`, so they agree with spend.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import values
from .labels import is_agent_id, name_label

Versions = dict[str, tuple[list[datetime], list[str]]]  # agent id -> (updatedAt ascending, model)


@dataclass
class ReplyModels:
    """The three sources of an agent message's model: its ledger, the agents' versions, their models."""

    ledger: dict[str, str] = field(default_factory=dict)  # messageId -> the model its transactions name
    versions: Versions = field(default_factory=dict)
    current: Mapping[str, str] = field(default_factory=dict)  # agent id -> its model now

    def label(self, model: str, message_id: Any, created: Any) -> str:
        """The model label of a message whose raw label is `model` (name_label()-ed)."""
        if not is_agent_id(model):
            return model
        key = values.text(message_id)
        if key is not None and key in self.ledger:
            return self.ledger[key]
        when = values.date(created)
        times, models = self.versions.get(model, ([], []))
        if when is not None and times:
            i = bisect.bisect_right(times, when)
            if i:
                return models[i - 1]
        return self.current.get(model, model)


def ledger_models(rows: Iterable[tuple[Any, Any, Any]]) -> dict[str, str]:
    """messageId -> model, from (messageId, model, |rawAmount| sum) rows of counted transactions: the
    model with the most tokens among those that are non-empty strings (a tie: the smallest label)."""
    tokens: dict[str, Counter[str]] = {}
    for message_id, model, amount in rows:
        key, name = values.text(message_id), values.text(model)
        if key is not None and name:
            per = tokens.setdefault(key, Counter())
            per[name] = values.add(per[name], amount)
    return {key: min(per, key=lambda name: (-per[name], name)) for key, per in tokens.items()}


def agent_versions(doc: Mapping[str, Any]) -> tuple[list[datetime], list[str]]:
    """An agent document's versions that name a date `updatedAt` and a non-empty string model, in
    updatedAt order (a tie keeps the array's order: the later entry wins)."""
    found = doc.get("versions")
    entries = []
    for i, version in enumerate(found if isinstance(found, list) else []):
        if not isinstance(version, Mapping):
            continue
        when, model = values.date(version.get("updatedAt")), values.text(version.get("model"))
        if when is not None and model:
            entries.append((when, i, name_label(model)))
    entries.sort()
    return [when for when, _, _ in entries], [model for _, _, model in entries]
