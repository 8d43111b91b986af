"""Response time: how long users waited for the first reply to their message (docs/semantics.md).

LibreChat saves the user message when it is sent and the assistant message when generation ends. Two
index-bounded reads per cycle: the (conversation, parent) pairs of the replies in the window, then, by
`conversationId`, only the questions they answer and the replies to those questions (to find earlier
siblings). What travels follows the cycle's replies, not the length of their conversations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from . import values
from .labels import name_label
from .mongo import AnyOf, Reader, Span
from .query import Query, single
from .replymodel import ReplyModels
from .tally import ASSISTANT_EXPR, ASSISTANT_QUERY

PERCENTILES = (50, 90, 99)
# Upper bounds of the response-time histogram: OpenTelemetry's gen_ai.client.operation.duration buckets.
BOUNDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# Up to this many conversations, their messages are looked up by id; above, one pass reads them all.
CONVERSATION_CHUNK = 5_000
# A bounded span's replies are matched to the questions asked in it or up to this long before it; only
# the conversations of replies whose question is older (rare: the question is saved when it is sent)
# are read whole.
QUESTION_LOOKBACK = timedelta(hours=1)
Timed = tuple[str, float, dict[str, Any]]  # (model name label, seconds, the reply: _id and createdAt)
Decision = tuple[dict[str, Any], float | None, bool]  # a question's first reply, its wait, final or not
_FIELDS = {"_id": 1, "conversationId": 1, "messageId": 1, "parentMessageId": 1, "createdAt": 1, "model": 1}


def relabel(timed: list[Timed], models: ReplyModels) -> list[Timed]:
    """The first replies with their model labels by `models` (an agent reply: the model that wrote it)."""
    return [
        (models.label(m, reply.get("messageId"), reply.get("createdAt")), s, reply) for m, s, reply in timed
    ]


def inside(span: Span | AnyOf, doc: dict[str, Any]) -> bool:
    """Is `doc` in the span: the Python twin of `span.match()` (createdAt, or `_id` when inserted)."""
    if isinstance(span, AnyOf):
        return any(inside(part, doc) for part in span.spans)
    if span.lo is not None:
        return span.holds(doc)
    if span.hi is None:
        return True
    return not Span(span.hi, None, span.inserted).holds(doc)  # Span(None, hi) = not Span(hi, None)


def first_reply_times(reader: Reader, span: Span | AnyOf) -> list[Timed]:
    """(model name label, seconds, reply) for every first reply in `span` (the recount's).

    Up to CONVERSATION_CHUNK conversations, their messages are asked for by conversationId. More (a
    recount's: nearly every conversation) are read in one pass over all messages in conversation order,
    one conversation at a time: the same documents, without a lookup per chunk of ids."""
    ids = conversations_query().run(reader, span.match())
    project = {"$project": {**_FIELDS, "assistant": ASSISTANT_EXPR}}
    if len(ids) > CONVERSATION_CHUNK:
        wanted = set(ids)
        every = reader.each(
            "messages",
            [
                {"$match": {"conversationId": {"$type": "string"}}},
                {"$sort": {"conversationId": 1, "createdAt": 1, "_id": 1}},
                project,
            ],
        )
        timed: list[Timed] = []
        by_conversation = itertools.groupby(every, key=lambda doc: values.key(doc["conversationId"]))
        for conversation_id, messages in by_conversation:
            if conversation_id in wanted:
                timed += _waits(list(messages), span)
        return timed
    return _conversation_waits(reader, ids, span)


def _conversation_waits(reader: Reader, ids: list[str], span: Span | AnyOf) -> list[Timed]:
    """The first replies in `span` of the conversations `ids`, each conversation read whole."""
    # Replies in the order of the token source's earliest reply (tally.reply_models): createdAt, _id.
    found = reader.each(
        "messages",
        [
            {"$match": {"conversationId": {"$in": ids}}},
            {"$sort": {"createdAt": 1, "_id": 1}},
            {"$project": {**_FIELDS, "assistant": ASSISTANT_EXPR}},
        ],
    )
    conversations: dict[str, list[dict[str, Any]]] = {}
    for doc in found:
        conversations.setdefault(doc["conversationId"], []).append(doc)
    return [wait for messages in conversations.values() for wait in _waits(messages, span)]


def span_reply_times(reader: Reader, span: Span) -> list[Timed]:
    """first_reply_times of a bounded span (a history day) without sending any id list: one read of
    the messages created in the span and the QUESTION_LOOKBACK before it, in conversation order; a
    conversation in which a reply of the span answers a message not in that read is read whole."""
    assert span.lo is not None and span.hi is not None
    window = Span(span.lo - QUESTION_LOOKBACK, span.hi)
    found = reader.each(
        "messages",
        [
            {"$match": {"$and": [window.match(), {"conversationId": {"$type": "string"}}]}},
            {"$sort": {"createdAt": 1, "_id": 1}},
            {"$project": {**_FIELDS, "assistant": ASSISTANT_EXPR}},
        ],
    )
    conversations: dict[str, list[dict[str, Any]]] = {}
    for doc in found:
        conversation_id = values.text(doc["conversationId"])  # `$type: "string"` also matches arrays
        if conversation_id is not None:
            conversations.setdefault(conversation_id, []).append(doc)
    whole: list[str] = []
    timed: list[Timed] = []
    for conversation_id, messages in conversations.items():
        ids = {values.text(doc.get("messageId")) for doc in messages}
        if any(_unanswerable(doc, ids, span) for doc in messages):
            whole.append(conversation_id)
        else:
            timed += _waits(messages, span)
    return timed + (_conversation_waits(reader, sorted(whole), span) if whole else [])


def _unanswerable(doc: dict[str, Any], ids: set[str | None], span: Span) -> bool:
    """Is `doc` a reply in `span` whose parent is not among the messageIds read with it?"""
    parent = values.text(doc.get("parentMessageId"))
    return bool(doc["assistant"]) and parent is not None and parent not in ids and inside(span, doc)


# A reply with a question and a conversation (the $match of both reply reads).
_REPLY_MATCH = {
    "$and": [ASSISTANT_QUERY, {"parentMessageId": {"$type": "string"}}],
    "conversationId": {"$type": "string"},
}


def conversations_query() -> Query[list[str]]:
    """The conversationIds of the matched replies, sorted."""
    stages: list[dict[str, Any]] = [
        {"$match": _REPLY_MATCH},
        {"$group": {"_id": "$conversationId"}},
    ]
    return single("messages", stages, _conversation_ids)


def reply_parents_query(limit: int | None = None) -> Query[list[tuple[str, str]]]:
    """(conversationId, parentMessageId) of the matched replies (at most `limit` pairs), sorted."""
    stages: list[dict[str, Any]] = [
        {"$match": _REPLY_MATCH},
        {"$group": {"_id": {"c": "$conversationId", "p": "$parentMessageId"}}},
    ]
    return single("messages", stages if limit is None else [*stages, {"$limit": limit}], _pairs)


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs of strings (`$type: "string"` also matches an array of strings, which is no id)."""
    found = ((values.text(row["_id"].get("c")), values.text(row["_id"].get("p"))) for row in rows)
    return sorted((c, p) for c, p in found if c is not None and p is not None)


def reply_times(
    reader: Reader,
    pairs: list[tuple[str, str]],
    span: Span | AnyOf,
    known: dict[tuple[str, str], Decision] | None = None,
) -> list[Timed]:
    """first_reply_times of the replies in `span` whose (conversation, question) pairs are given (a
    cycle's, from reply_parents_query): only the questions and the replies to them are read, by
    `conversationId` (indexed), never a whole conversation. Every message of a pair's conversation
    whose messageId is the question's (the question, or a duplicate that disqualifies it) or whose
    parentMessageId is (each sibling reply) is read, so the first reply is decided as over the whole
    conversation. `known` keeps the final decisions of earlier calls: their pairs are not read again."""
    known = {} if known is None else known
    decided = {pair: known[pair] for pair in pairs if pair in known}
    parents: dict[str, set[str]] = {}
    for conversation_id, parent in pairs:
        if (conversation_id, parent) not in decided:
            parents.setdefault(conversation_id, set()).add(parent)
    conversations = sorted(parents)
    for i in range(0, len(conversations), CONVERSATION_CHUNK):
        chunk = conversations[i : i + CONVERSATION_CHUNK]
        asked = sorted(set().union(*(parents[c] for c in chunk)))
        related = {"$or": [{"messageId": {"$in": asked}}, {"parentMessageId": {"$in": asked}}]}
        found = reader.each(
            "messages",
            [
                {"$match": {"conversationId": {"$in": chunk}, **related}},
                {"$sort": {"createdAt": 1, "_id": 1}},
                {"$project": {**_FIELDS, "assistant": ASSISTANT_EXPR}},
            ],
        )
        by_conversation: dict[str, list[dict[str, Any]]] = {}
        for doc in found:
            key = values.text(doc.get("conversationId"))  # `$in` also matches arrays
            if key is not None:
                by_conversation.setdefault(key, []).append(doc)
        for conversation_id, messages in by_conversation.items():
            for parent, decision in _first_replies(messages).items():
                if parent in parents[conversation_id]:
                    decided[(conversation_id, parent)] = decision
    known.clear()  # what the next call may reuse: the final decisions of these pairs
    known.update({pair: decision for pair, decision in decided.items() if decision[2]})
    return [
        (name_label(reply.get("model")), seconds, reply)
        for reply, seconds, _ in decided.values()
        if seconds is not None and inside(span, reply)
    ]


def _conversation_ids(rows: list[dict[str, Any]]) -> list[str]:
    """The string ids (`$type: "string"` also matches an array of strings, which is no id)."""
    return sorted(cid for row in rows if (cid := values.text(row["_id"], "conversationId")) is not None)


def _waits(conversation: list[dict[str, Any]], span: Span | AnyOf) -> list[Timed]:
    """(model, seconds, when) of the first replies in the span, from one conversation's sorted messages."""
    return [
        (name_label(reply.get("model")), seconds, reply)
        for reply, seconds, _ in _first_replies(conversation).values()
        if seconds is not None and inside(span, reply)
    ]


def _first_replies(conversation: list[dict[str, Any]]) -> dict[str, Decision]:
    """Question messageId -> its first reply (the earliest assistant message answering it), the wait
    (None when there is no single dated user question before it) and whether that is final: the
    question is there (only a duplicate or an earlier sibling inserted later would change it)."""
    asked: dict[str, list[Any]] = {}
    for doc in conversation:
        message_id = values.text(doc.get("messageId"))  # a reply's parent is a string: only these match
        if message_id is not None:
            asked.setdefault(message_id, []).append(
                None if doc["assistant"] else values.date(doc.get("createdAt"))
            )
    first: dict[str, Decision] = {}
    for reply in conversation:
        parent, when = values.text(reply.get("parentMessageId")), values.date(reply.get("createdAt"))
        if not reply["assistant"] or parent is None or parent in first:
            continue  # not a reply, or a regeneration: its wait started at a click not recorded
        question = asked.get(parent, [])
        seconds = None
        if len(question) == 1 and question[0] is not None and when is not None and when >= question[0]:
            seconds = (when - question[0]).total_seconds()
        first[parent] = (reply, seconds, len(question) == 1)
    return first


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles p: the value at rank ceil(p / 100 * n) of the sorted values."""
    ordered = sorted(seconds)
    n = len(ordered)
    return {str(p): ordered[(p * n + 99) // 100 - 1] for p in PERCENTILES}


@dataclass
class WaitHistogram:
    """Cumulative histogram (response times of one model by default): counts per upper bound (`bounds`,
    then +Inf) and the sum of the observed values."""

    buckets: list[int] = field(default_factory=list)
    total: float = 0.0
    bounds: tuple[float, ...] = BOUNDS

    def __post_init__(self) -> None:
        if not self.buckets:
            self.buckets = [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                self.buckets[i] += 1
        self.buckets[-1] += 1
        self.total += seconds

    def __add__(self, other: WaitHistogram) -> WaitHistogram:
        return WaitHistogram(
            [a + b for a, b in zip(self.buckets, other.buckets, strict=True)],
            self.total + other.total,
            self.bounds,
        )


def histograms(waits: list[Timed], within: Span | None = None) -> dict[str, WaitHistogram]:
    """Histograms per model name label of the waits whose reply is in `within` (all when None)."""
    out: dict[str, WaitHistogram] = {}
    for model, seconds, reply in waits:
        if within is None or inside(within, reply):
            out.setdefault(model, WaitHistogram()).observe(seconds)
    return out


def merge(a: dict[str, WaitHistogram], b: dict[str, WaitHistogram]) -> dict[str, WaitHistogram]:
    return {key: a.get(key, WaitHistogram()) + b.get(key, WaitHistogram()) for key in a.keys() | b.keys()}
