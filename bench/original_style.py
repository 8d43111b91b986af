"""The MongoDB work of one collection cycle of an exporter built the original's way, for comparison.

Written from the behaviour described in ../shared/reference/original-exporter.md (sections 2 and 3.4), not
from its code: every cycle recomputes every number from the whole database, 37 operations with the same
filters (so the same index use) as the original's: 4 estimated counts, 3 count_documents, 5 distinct,
14 core aggregations, 6 rating aggregations, 4 tool aggregations and 1 tool count. 19 of them filter on
fields stock LibreChat does not index (sender, error, feedback.*, content.type, updatedAt): whole-collection
reads. Only the load matters here; the values are thrown away.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.database import Database

ASSISTANT = {"sender": {"$ne": "User"}}
USER = {"sender": "User"}
RATED = {"feedback.rating": {"$in": ["thumbsUp", "thumbsDown"]}}
TOOL = {"content.type": "tool_call"}


def _sum_tokens(match: dict) -> list[dict]:
    return [
        {"$match": {**match, "tokenCount": {"$ne": None}}},
        {"$group": {"_id": None, "n": {"$sum": "$tokenCount"}}},
    ]


def _per_model(match: dict, value: object = 1) -> list[dict]:
    return [{"$match": match}, {"$group": {"_id": "$model", "n": {"$sum": value}}}]


def _tool_calls(match: dict) -> list[dict]:
    return [
        {"$match": {**TOOL, **match}},
        {"$unwind": "$content"},
        {"$match": {"content.type": "tool_call"}},
        {"$group": {"_id": {"tool": "$content.tool_call.name", "model": "$model"}, "n": {"$sum": 1}}},
    ]


def cycle(db: Database, now: datetime) -> int:
    """Issue one cycle's 37 operations; return how many were issued."""
    messages = db["messages"]
    m5 = {"createdAt": {"$gte": now - timedelta(minutes=5)}}
    u5 = {"updatedAt": {"$gte": now - timedelta(minutes=5)}}
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week, month = day - timedelta(days=day.weekday()), day.replace(day=1)
    aggregations = [
        # core: tokens, per model, input tokens via the conversation's latest model, 5-minute windows
        _sum_tokens(USER),
        _sum_tokens(ASSISTANT),
        _per_model(ASSISTANT),
        _per_model({"error": True}),
        [
            {"$match": {**ASSISTANT, "model": {"$ne": None}}},
            {"$sort": {"createdAt": -1}},
            {"$group": {"_id": "$conversationId", "model": {"$first": "$model"}}},
        ],
        [
            {"$match": {**USER, "tokenCount": {"$ne": None}}},
            {"$group": {"_id": "$conversationId", "n": {"$sum": "$tokenCount"}}},
        ],
        _per_model({**ASSISTANT, "tokenCount": {"$ne": None}, "model": {"$ne": None}}, "$tokenCount"),
        _per_model({**m5, **ASSISTANT}),
        _per_model({**m5, "error": True, "model": {"$ne": None}}),
        _sum_tokens({**m5, **USER}),
        _sum_tokens({**m5, **ASSISTANT}),
        [
            {"$match": {**m5, **ASSISTANT, "model": {"$ne": None}}},
            {"$sort": {"createdAt": -1}},
            {"$group": {"_id": "$conversationId", "model": {"$first": "$model"}}},
        ],
        [{"$match": {**m5, **USER}}, {"$group": {"_id": "$conversationId", "n": {"$sum": "$tokenCount"}}}],
        _per_model({**m5, **ASSISTANT, "model": {"$ne": None}}, "$tokenCount"),
        # ratings
        [{"$match": RATED}, {"$group": {"_id": "$feedback.rating", "n": {"$sum": 1}}}],
        [
            {"$match": {**RATED, "model": {"$ne": None}}},
            {"$group": {"_id": {"m": "$model", "r": "$feedback.rating"}, "n": {"$sum": 1}}},
        ],
        [{"$match": {"feedback.tag": {"$ne": None}}}, {"$group": {"_id": "$feedback.tag", "n": {"$sum": 1}}}],
        [
            {
                "$match": {
                    "feedback.tag": {"$ne": None},
                    "feedback.rating": {"$ne": None},
                    "model": {"$ne": None},
                }
            },
            {
                "$group": {
                    "_id": {"m": "$model", "t": "$feedback.tag", "r": "$feedback.rating"},
                    "n": {"$sum": 1},
                }
            },
        ],
        [{"$match": {**RATED, **u5}}, {"$group": {"_id": "$feedback.rating", "n": {"$sum": 1}}}],
        [{"$match": {"feedback": {"$ne": None}}}, {"$group": {"_id": None, "n": {"$sum": 1}}}],
        # tools
        _tool_calls({}),
        _tool_calls({"content.tool_call.output": {"$regex": "error processing tool", "$options": "i"}}),
        _tool_calls(u5),
        [
            {"$match": {**TOOL, **u5}},
            {"$group": {"_id": "$user"}},
            {"$group": {"_id": None, "n": {"$sum": 1}}},
        ],
    ]
    for name in ("messages", "conversations", "users", "files"):
        db[name].estimated_document_count()
    for filter_ in ({"error": True}, m5, {**m5, "error": True}):
        messages.count_documents(filter_)
    for field, since in (("user", m5), ("conversationId", m5)):
        messages.distinct(field, since)
    for start in (day, week, month):
        messages.distinct("user", {"createdAt": {"$gte": start}})
    for pipeline in aggregations:
        list(messages.aggregate(pipeline))
    messages.count_documents(TOOL)
    return 4 + 3 + 5 + len(aggregations) + 1
