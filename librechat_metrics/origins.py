"""Who wrote a message: a person, a scheduled run, or an agent event (docs/semantics.md, "Origin").

LibreChat stores a scheduled run's prompt like a typed message; the only link is the run's row in
`scheduleruns` (`conversationId`). A message is

- `agent_event` when it carries `subagentTriggerProjection` (an object), or when it is an assistant
  reply, in the same conversation, to such a message;
- `schedule` when its conversation is named by a stored run and it is the run's prompt (the
  conversation's earliest root user message, `parentMessageId` NO_PARENT) or an assistant reply to it;
- `person` otherwise (so a person's later message in a run conversation, and its replies, are theirs).

Distinct-user numbers count person messages only. This module is the one place that reads what is
automated (bounded: runs by the `{status, firedAt}` index, prompts by `conversationId`, trigger
messages on the span's own index) and builds the `$match` clause that keeps person messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from . import values
from .mongo import Reader, Span
from .tally import ASSISTANT_EXPR, ASSISTANT_QUERY

ORIGINS = ("person", "schedule", "agent_event")
NO_PARENT = "00000000-0000-0000-0000-000000000000"  # librechat-data-provider Constants.NO_PARENT
RUN_STATUSES = (
    "started",
    "requires_action",
    "success",
    "error",
    "interrupted",
    "skipped_overlap",
    "skipped_balance",
)
# A read for a span also takes the runs fired this long before it (a reply may follow its run's
# start by a long generation or an approval pause) and the trigger messages this long before it.
RUN_LOOKBACK = timedelta(days=7)
TRIGGER_LOOKBACK = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CHUNK = 20_000  # conversation ids per prompt lookup (keeps each command far below 16 MB)

TRIGGER = {"subagentTriggerProjection": {"$type": "object"}}
_TRIGGER_EXPR = {"$eq": [{"$type": "$subagentTriggerProjection"}, "object"]}


@dataclass(frozen=True)
class Automated:
    """What is automated among the messages of a span: run conversations and their prompts, and the
    conversations and messageIds of agent-event trigger messages (all sorted, for stable queries)."""

    runs: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()

    def _clauses(self) -> list[dict[str, Any]]:
        """Queries that together select exactly the automated messages."""
        out: list[dict[str, Any]] = [TRIGGER]
        if self.triggers:
            answer: dict[str, Any] = {
                "conversationId": {"$in": list(self.events)},
                "parentMessageId": {"$in": list(self.triggers)},
            }
            out.append({"$and": [ASSISTANT_QUERY, answer]})
        if self.prompts:
            prompts = list(self.prompts)
            reply = {"$and": [ASSISTANT_QUERY, {"parentMessageId": {"$in": prompts}}]}
            own = {"$or": [{"messageId": {"$in": prompts}}, reply]}
            out.append({"$and": [{"conversationId": {"$in": list(self.runs)}}, own]})
        return out

    def person(self) -> dict[str, Any]:
        """The `$match` clause that keeps person messages."""
        return {"$nor": self._clauses()}

    def automated(self) -> dict[str, Any]:
        """The `$match` clause that keeps automated messages."""
        return {"$or": self._clauses()}

    def person_expr(self) -> dict[str, Any]:
        """The same test as an aggregation expression (linear in the sets: use it on few documents)."""
        parts: list[dict[str, Any]] = [_TRIGGER_EXPR]
        if self.triggers:
            parts.append(
                {
                    "$and": [
                        ASSISTANT_EXPR,
                        {"$in": ["$conversationId", list(self.events)]},
                        {"$in": ["$parentMessageId", list(self.triggers)]},
                    ]
                }
            )
        if self.prompts:
            prompts = list(self.prompts)
            own = {
                "$or": [
                    {"$in": ["$messageId", prompts]},
                    {"$and": [ASSISTANT_EXPR, {"$in": ["$parentMessageId", prompts]}]},
                ]
            }
            parts.append({"$and": [{"$in": ["$conversationId", list(self.runs)]}, own]})
        return {"$eq": [{"$or": parts}, False]}

    @cached_property
    def _sets(self) -> tuple[frozenset[Any], ...]:
        return frozenset(self.runs), frozenset(self.prompts), frozenset(self.events), frozenset(self.triggers)

    def origin(self, doc: dict[str, Any]) -> str:
        """The origin of one message document (the fields the clauses test), in Python."""
        runs, prompts, events, triggers = self._sets
        conversation, parent = values.key(doc.get("conversationId")), values.key(doc.get("parentMessageId"))
        if isinstance(doc.get("subagentTriggerProjection"), dict):
            return "agent_event"
        assistant = _is_assistant(doc)
        if assistant and conversation in events and parent in triggers:
            return "agent_event"
        own = values.key(doc.get("messageId")) in prompts or (assistant and parent in prompts)
        if conversation in runs and own:
            return "schedule"
        return "person"


def _is_assistant(doc: dict[str, Any]) -> bool:
    """tally.ASSISTANT_QUERY in Python."""
    created = doc.get("isCreatedByUser")
    if isinstance(created, bool):
        return not created
    return doc.get("sender") != "User"


def _earlier(span: Span, by: timedelta) -> Span:
    return Span(None if span.lo is None else span.lo - by, span.hi, span.inserted)


def run_conversations(reader: Reader, span: Span) -> list[str]:
    """Conversation ids of the runs fired in the span or up to RUN_LOOKBACK before it (every run when
    the span has no lower bound), read on the `{status: 1, firedAt: 1}` index."""
    fired: dict[str, Any] = {"$gte": EPOCH if span.lo is None else span.lo - RUN_LOOKBACK}
    if span.hi is not None:
        fired["$lt"] = span.hi
    query = {"status": {"$in": list(RUN_STATUSES)}, "firedAt": fired, "conversationId": {"$type": "string"}}
    rows = reader.find("scheduleruns", query, {"_id": 0, "conversationId": 1})
    # `$type: "string"` also matches an array of strings: only a string is a conversation id.
    return sorted({c for row in rows if (c := values.text(row.get("conversationId"))) is not None})


def prompts(reader: Reader, conversations: list[str]) -> dict[str, str]:
    """conversationId -> messageId of its earliest root user message (createdAt, then _id), read by
    `conversationId`."""
    found: dict[str, tuple[tuple[int, Any, str], str]] = {}
    for i in range(0, len(conversations), CHUNK):
        match = {
            "conversationId": {"$in": conversations[i : i + CHUNK]},
            "parentMessageId": NO_PARENT,
            "messageId": {"$type": "string"},
            "$nor": [ASSISTANT_QUERY],
        }
        fields = {"conversationId": 1, "messageId": 1, "createdAt": 1}
        for row in reader.find("messages", match, fields):
            conversation, message = values.text(row.get("conversationId")), values.text(row.get("messageId"))
            if conversation is None or message is None:  # arrays match `$in` and `$type` by an element
                continue
            when = values.date(row.get("createdAt"))
            order = (0, when, str(row["_id"])) if when is not None else (1, None, str(row["_id"]))
            best = found.get(conversation)
            if best is None or _before(order, best[0]):
                found[conversation] = (order, message)
    return {conversation: message for conversation, (_, message) in found.items()}


def _before(a: tuple[int, Any, str], b: tuple[int, Any, str]) -> bool:
    if a[0] != b[0]:
        return a[0] < b[0]
    if a[1] != b[1] and a[1] is not None:
        return bool(a[1] < b[1])
    return a[2] < b[2]


def trigger_messages(reader: Reader, span: Span) -> list[dict[str, Any]]:
    """Agent-event trigger messages (conversationId, messageId) in the span or up to TRIGGER_LOOKBACK
    before it, on the span's index (createdAt, or `_id` for an insertion span)."""
    match = {"$and": [_earlier(span, TRIGGER_LOOKBACK).match(), TRIGGER, {"messageId": {"$type": "string"}}]}
    return reader.find("messages", match, {"_id": 0, "conversationId": 1, "messageId": 1})


def automated(reader: Reader, span: Span) -> Automated:
    """Everything automated that a message of `span` can be (see the module docstring)."""
    conversations = run_conversations(reader, span)
    found = prompts(reader, conversations) if conversations else {}
    triggers = trigger_messages(reader, span)
    return Automated(
        tuple(sorted(found)),
        tuple(sorted(set(found.values()))),
        tuple(sorted({values.key(t.get("conversationId")) for t in triggers}, key=repr)),
        tuple(sorted({m for t in triggers if (m := values.text(t.get("messageId"))) is not None})),
    )


def automated_counts(reader: Reader, span: Span, auto: Automated) -> Counter[str]:
    """Messages of the span per automated origin ("schedule", "agent_event"): the automated documents
    are read (few fields) and classified here by `Automated.origin`."""
    return Counter(auto.origin(doc) for doc in automated_docs(reader, span, auto))


def automated_docs(reader: Reader, span: Span, auto: Automated) -> list[dict[str, Any]]:
    """The automated messages of the span: `_id` and the fields `Automated.origin` tests."""
    fields = {"conversationId": 1, "messageId": 1, "parentMessageId": 1, "isCreatedByUser": 1, "sender": 1}
    fields["subagentTriggerProjection"] = 1
    if not auto.prompts and not auto.triggers:  # the reads found nothing automated in the span
        return []
    return reader.find("messages", {"$and": [span.match(), auto.automated()]}, fields)


def by_origin(total: int, automated_counts: Counter[str]) -> dict[str, int]:
    """Messages per origin: the automated counts, and the rest of `total` as person."""
    out = {origin: int(automated_counts.get(origin, 0)) for origin in ORIGINS[1:]}
    return {"person": total - sum(out.values()), **out}
