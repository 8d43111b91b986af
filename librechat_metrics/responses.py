"""Response time: how long users waited for the first reply to their message (docs/semantics.md).

LibreChat saves the user message when it is sent and the assistant message when generation ends. Two
index-bounded reads per cycle: the conversations with an assistant message in the window (createdAt
index), then those conversations' messages (conversationId index), to find each reply's question and
its earlier siblings. The load follows recent activity and conversation length, not history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .labels import name_label
from .mongo import Reader, Span
from .tally import ASSISTANT_EXPR, ASSISTANT_QUERY

PERCENTILES = (50, 90, 99)
_FIELDS = {"_id": 0, "conversationId": 1, "messageId": 1, "parentMessageId": 1, "createdAt": 1, "model": 1}


def first_reply_waits(reader: Reader, span: Span) -> list[tuple[str, float]]:
    """(model name label, seconds) for every first reply created in `span`."""
    window = {"$and": [span.match(), ASSISTANT_QUERY, {"parentMessageId": {"$type": "string"}}]}
    rows = reader.aggregate(
        "messages",
        [
            {"$match": {"$and": [window, {"conversationId": {"$type": "string"}}]}},
            {"$group": {"_id": "$conversationId"}},
        ],
    )
    if not rows:
        return []
    # Replies in the order of the token source's earliest reply (tally.reply_models): createdAt, then _id.
    found = reader.aggregate(
        "messages",
        [
            {"$match": {"conversationId": {"$in": [row["_id"] for row in rows]}}},
            {"$sort": {"createdAt": 1, "_id": 1}},
            {"$project": {**_FIELDS, "assistant": ASSISTANT_EXPR}},
        ],
    )
    conversations: dict[str, list[dict[str, Any]]] = {}
    for doc in found:
        conversations.setdefault(doc["conversationId"], []).append(doc)
    return [wait for messages in conversations.values() for wait in _waits(messages, span.lo)]


def _waits(conversation: list[dict[str, Any]], since: datetime | None) -> list[tuple[str, float]]:
    """(model, seconds) of the first replies in the window, from one conversation's sorted messages."""
    asked: dict[str, list[Any]] = {}
    for doc in conversation:
        if isinstance(doc.get("messageId"), str):  # a reply's parent is a string, so only these can match
            asked.setdefault(doc["messageId"], []).append(None if doc["assistant"] else doc.get("createdAt"))
    answered: set[str] = set()
    waits = []
    for reply in conversation:
        parent, when = reply.get("parentMessageId"), reply.get("createdAt")
        if not reply["assistant"] or not isinstance(parent, str) or parent in answered:
            continue  # not a reply, or a regeneration: its wait started at a click not recorded
        answered.add(parent)
        question = asked.get(parent, [])
        if len(question) != 1 or not isinstance(question[0], datetime) or not isinstance(when, datetime):
            continue  # no single user question with a date
        if (since is None or when >= since) and when >= question[0]:
            waits.append((name_label(reply.get("model")), (when - question[0]).total_seconds()))
    return waits


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles p: the value at rank ceil(p / 100 * n) of the sorted values."""
    ordered = sorted(seconds)
    n = len(ordered)
    return {str(p): ordered[(p * n + 99) // 100 - 1] for p in PERCENTILES}
