"""Response time: how long users waited for the first reply to their message (docs/semantics.md).

LibreChat saves the user message when it is sent and the assistant message when generation ends. Two
index-bounded reads per cycle: the conversations with an assistant message in the window (createdAt
index), then those conversations' messages (conversationId index), to find each reply's question and
its earlier siblings. The load follows recent activity and conversation length, not history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .labels import name_label
from .mongo import Reader, Span
from .tally import ASSISTANT_QUERY

PERCENTILES = (50, 90, 99)
_FIELDS = ("_id", "conversationId", "messageId", "parentMessageId", "createdAt", "isCreatedByUser", "sender")


def _is_assistant(doc: Mapping[str, Any]) -> bool:
    flag = doc.get("isCreatedByUser")
    return flag is False if isinstance(flag, bool) else doc.get("sender") != "User"


def _reply_order(doc: Mapping[str, Any]) -> tuple[int, Any, bytes]:
    """createdAt, then _id; a reply without a date createdAt comes first."""
    when, oid = doc.get("createdAt"), doc.get("_id")
    oid_bytes = getattr(oid, "binary", b"")
    return (1, when, oid_bytes) if isinstance(when, datetime) else (0, 0, oid_bytes)


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
    projection = {name: 1 for name in (*_FIELDS, "model")}
    found = reader.find("messages", {"conversationId": {"$in": [row["_id"] for row in rows]}}, projection)
    conversations: dict[str, list[dict[str, Any]]] = {}
    for doc in found:
        conversations.setdefault(doc["conversationId"], []).append(doc)
    waits = []
    for messages in conversations.values():
        for reply in messages:
            wait = _wait(reply, messages, span.lo)
            if wait is not None:
                waits.append((name_label(reply.get("model")), wait))
    return waits


def _wait(reply: dict[str, Any], conversation: list[dict[str, Any]], since: datetime | None) -> float | None:
    """Seconds from question to `reply`, or None unless `reply` is a first reply in the window."""
    parent, answered = reply.get("parentMessageId"), reply.get("createdAt")
    if not (_is_assistant(reply) and isinstance(parent, str) and isinstance(answered, datetime)):
        return None
    if since is not None and answered < since:
        return None
    questions = [m for m in conversation if m.get("messageId") == parent]
    asked = questions[0].get("createdAt") if len(questions) == 1 else None
    if not isinstance(asked, datetime) or _is_assistant(questions[0]):
        return None
    siblings = [m for m in conversation if _is_assistant(m) and m.get("parentMessageId") == parent]
    if min(siblings, key=_reply_order) is not reply:
        return None  # a regeneration: its wait started at a click the database does not record
    seconds = (answered - asked).total_seconds()
    return seconds if seconds >= 0 else None


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles p: the value at rank ceil(p / 100 * n) of the sorted values."""
    ordered = sorted(seconds)
    n = len(ordered)
    return {str(p): ordered[(p * n + 99) // 100 - 1] for p in PERCENTILES}
