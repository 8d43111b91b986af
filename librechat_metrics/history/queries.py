"""MongoDB queries the history export needs beyond `tally`, built from tally's expressions.

They follow docs/semantics.md exactly like tally's queries do: same assistant rule, same valid
tokenCount rule, same "counted transaction" rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from .. import tally, values
from ..labels import name_label
from ..mongo import Reader, Span
from ..replymodel import ReplyModels
from ..schedules import STATUSES
from ..tally import ASSISTANT_EXPR, ASSISTANT_QUERY, COUNTED_TRANSACTION, VALID_TOKENS_EXPR

# How many messageIds one reply lookup sends (keeps each command far below MongoDB's 16 MB limit).
IDS_PER_LOOKUP = 20_000


def has_counted_transaction(reader: Reader) -> bool:
    """Does the whole transactions collection hold at least one counted document (TOKEN_SOURCE=auto)?"""
    rows = reader.aggregate(
        "transactions", [{"$match": COUNTED_TRANSACTION}, {"$limit": 1}, {"$project": {"_id": 1}}]
    )
    return bool(rows)


def earliest_reply_models(
    reader: Reader, message_ids: Iterable[str], models: ReplyModels | None = None
) -> dict[str, str]:
    """messageId -> model label (not yet agent-resolved; an agent reply's by `models`) of its earliest
    assistant reply, any date.

    Replies are ordered by createdAt then _id, as tally.reply_models does; only the given parents
    are looked up, so the result stays as small as one day's user messages.
    """
    wanted = sorted({m for m in message_ids if isinstance(m, str)})
    out: dict[str, str] = {}
    for i in range(0, len(wanted), IDS_PER_LOOKUP):
        match = {"$and": [ASSISTANT_QUERY, {"parentMessageId": {"$in": wanted[i : i + IDS_PER_LOOKUP]}}]}
        rows = reader.aggregate(
            "messages",
            [
                {"$match": match},
                {"$project": {"parentMessageId": 1, "createdAt": 1, "model": 1, "messageId": 1}},
                {"$sort": {"createdAt": 1, "_id": 1}},
                {
                    "$group": {
                        "_id": "$parentMessageId",
                        "m": {"$first": {"$ifNull": ["$model", None]}},
                        **tally.reply_firsts(),
                    }
                },
            ],
        )
        # `$in` also matches an array holding a wanted id: only string parents are replies' parents
        out.update(
            (parent, tally.made_by_of(row, models) or name_label(row["m"]))
            for row in rows
            if (parent := values.text(row["_id"])) is not None
        )
    return out


def registrations(reader: Reader, span: Span) -> int:
    """Users whose ObjectId `_id` was made in the span (bounded on `_id`: users has no createdAt index)."""
    rows = reader.aggregate("users", [{"$match": span.match(by_id=True)}, {"$count": "n"}])
    return int(rows[0]["n"]) if rows else 0


def message_tokens_by_user(reader: Reader, span: Span) -> tuple[Counter[str], Counter[str]]:
    """(input, output) valid tokenCount sums per str(user) over the span's messages that have a user.

    User messages' tokens are input, assistant messages' are output. The group key keeps the BSON
    type, so 5 and 5.0 stay apart as str() tells them apart.
    """
    match = {"$and": [span.match(), {"user": {"$ne": None}}]}
    key = {"a": ASSISTANT_EXPR, "u": "$user", "t": {"$type": "$user"}}
    tokens = {"$cond": [VALID_TOKENS_EXPR, "$tokenCount", 0]}
    rows: list[dict[str, Any]] = reader.aggregate(
        "messages", [{"$match": match}, {"$group": {"_id": key, "k": {"$sum": tokens}}}]
    )
    inputs: Counter[str] = Counter()
    outputs: Counter[str] = Counter()
    for row in rows:
        side = outputs if row["_id"]["a"] else inputs
        user = str(row["_id"]["u"])
        side[user] = values.add(side[user], row["k"])
    return inputs, outputs


def schedule_runs(reader: Reader, span: Span) -> list[dict[str, Any]]:
    """status and durationMs of the schedule runs fired in the span (bounded by LibreChat's
    `{status, firedAt}` index on `scheduleruns`)."""
    assert span.lo is not None and span.hi is not None
    query = {"status": {"$in": list(STATUSES)}, "firedAt": {"$gte": span.lo, "$lt": span.hi}}
    return reader.find("scheduleruns", query, {"_id": 0, "status": 1, "durationMs": 1})
