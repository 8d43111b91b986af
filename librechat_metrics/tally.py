"""Additive tallies over a time span of LibreChat's collections, shared by exporter and history export.

Each query groups in MongoDB on raw fields (so little data travels) and the fold turns the rows into
label keys in Python (so odd values never break an expression). Tallies over disjoint spans add up.
`marks` name sub-spans (lower bounds, on createdAt or on insertion order) inside the queried span: the
fold can then keep only the rows in one of them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .labels import name_label, tag_label
from .mongo import AnyOf, Reader, Span, since

INF = float("inf")
RATINGS = ("thumbsUp", "thumbsDown")
FAILED_TOOL_OUTPUT = "error processing tool"

# A message is an assistant message when isCreatedByUser is false, or (when that is not a boolean)
# when its sender is not "User".
ASSISTANT_EXPR = {
    "$cond": [
        {"$eq": [{"$type": "$isCreatedByUser"}, "bool"]},
        {"$eq": ["$isCreatedByUser", False]},
        {"$ne": ["$sender", "User"]},
    ]
}
ASSISTANT_QUERY = {
    "$or": [
        {"isCreatedByUser": False},
        {"isCreatedByUser": {"$not": {"$type": "bool"}}, "sender": {"$ne": "User"}},
    ]
}
_CONTENT_TYPES = {"$cond": [{"$eq": [{"$type": "$content"}, "array"]}, "$content.type", []]}
ERROR_EXPR = {"$or": [{"$eq": ["$error", True]}, {"$in": ["error", _CONTENT_TYPES]}]}
HAS_TOOLS_EXPR = {"$in": ["tool_call", _CONTENT_TYPES]}
VALID_TOKENS_EXPR = {
    "$and": [
        {"$in": [{"$type": "$tokenCount"}, ["double", "int", "long"]]},
        {"$gte": ["$tokenCount", 0]},
        {"$lt": ["$tokenCount", INF]},
    ]
}
# A transaction that counts: prompt or completion with a finite numeric rawAmount (never credits).
COUNTED_TRANSACTION = {"tokenType": {"$in": ["prompt", "completion"]}, "rawAmount": {"$gt": -INF, "$lt": INF}}
_RATED_EXPR = {"$in": [{"$ifNull": ["$feedback.rating", None]}, list(RATINGS)]}
# An unfinished reply: an assistant message with unfinished: true or finish_reason: "incomplete".
UNFINISHED_EXPR = {
    "$and": [
        ASSISTANT_EXPR,
        {"$or": [{"$eq": ["$unfinished", True]}, {"$eq": ["$finish_reason", "incomplete"]}]},
    ]
}


def _valid_number(path: str) -> dict[str, Any]:
    """A finite number: in MongoDB's comparison order null/missing and NaN sort below -inf, strings,
    objects, booleans and dates above +inf, so two comparisons leave only finite numbers."""
    return {"$and": [{"$gt": [path, -INF]}, {"$lt": [path, INF]}]}


def _magnitude(path: str) -> dict[str, Any]:
    """|value| of a valid number, else 0."""
    absolute = {"$cond": [{"$lt": [path, 0]}, {"$subtract": [0, path]}, path]}
    return {"$cond": [_valid_number(path), absolute, 0]}


def _raw(path: str) -> dict[str, Any]:
    """A field for a group key; missing and null become one value on every backend."""
    return {"$ifNull": [f"${path}", None]}


def _label_key(name: str, path: str) -> dict[str, Any]:
    """Group-key fields for a label source: its value, and its BSON type, because MongoDB groups 5 and
    5.0 together while their labels ("5", "5.0") differ."""
    return {name: _raw(path), f"{name}_type": {"$type": f"${path}"}}


def _marks(marks: dict[str, Span], by_id: bool = False) -> dict[str, Any]:
    """Group-key flags: is the document in each marked span (on `_id` for every mark when `by_id`)."""
    return {f"at_{name}": span.test(by_id) for name, span in marks.items()}


def _keep(row_id: dict[str, Any], mark: str | None) -> bool:
    return mark is None or bool(row_id.get(f"at_{mark}"))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


# --- messages ----------------------------------------------------------------------------------

MessageKey = tuple[bool, str, bool, bool, "str | None", "str | None", str, bool]
"""(assistant, model, error, has tools, rating or None, tag or None, endpoint, unfinished reply);
model not yet agent-resolved."""


@dataclass
class MessageTally:
    """Message counts and valid tokenCount sums per MessageKey."""

    count: Counter[MessageKey] = field(default_factory=Counter)
    tokens: Counter[MessageKey] = field(default_factory=Counter)

    def __add__(self, other: MessageTally) -> MessageTally:
        return MessageTally(self.count + other.count, _plus(self.tokens, other.tokens))


def message_rows(reader: Reader, span: Span | AnyOf, marks: dict[str, Span]) -> list[dict[str, Any]]:
    return reader.aggregate("messages", [{"$match": span.match()}, message_group(marks)])


def message_group(marks: dict[str, Span]) -> dict[str, Any]:
    """The $group stage of message_rows (after the span's $match)."""
    key = {
        "a": ASSISTANT_EXPR,
        **_label_key("m", "model"),
        "e": ERROR_EXPR,
        "t": HAS_TOOLS_EXPR,
        "r": {"$cond": [_RATED_EXPR, "$feedback.rating", None]},
        "g": {"$cond": [_RATED_EXPR, _raw("feedback.tag"), None]},
        "g_type": {"$cond": [_RATED_EXPR, {"$type": "$feedback.tag"}, None]},
        **_label_key("p", "endpoint"),
        "f": UNFINISHED_EXPR,
        **_marks(marks),
    }
    tokens = {"$cond": [VALID_TOKENS_EXPR, "$tokenCount", 0]}
    return {"$group": {"_id": key, "n": {"$sum": 1}, "k": {"$sum": tokens}}}


def fold_messages(rows: list[dict[str, Any]], mark: str | None = None) -> MessageTally:
    tally = MessageTally()
    for row in rows:
        k = row["_id"]
        if not _keep(k, mark):
            continue
        key = (
            bool(k["a"]),
            name_label(k["m"]),
            bool(k["e"]),
            bool(k["t"]),
            k["r"],
            tag_label(k["g"]),
            name_label(k["p"]),
            bool(k["f"]),
        )
        tally.count[key] += row["n"]
        tally.tokens[key] += row["k"]
    return tally


# --- tool calls --------------------------------------------------------------------------------

ToolKey = tuple[str, str, str, bool]
"""(tool name, model, api endpoint, failed)."""


@dataclass
class ToolTally:
    """Tool calls per ToolKey, and the distinct users seen (only for the mark asked for)."""

    calls: Counter[ToolKey] = field(default_factory=Counter)
    users: set[Any] = field(default_factory=set)

    def __add__(self, other: ToolTally) -> ToolTally:
        return ToolTally(self.calls + other.calls, self.users | other.users)


def tool_rows(
    reader: Reader, span: Span | AnyOf, marks: dict[str, Span], users_for: str | None = None
) -> list[dict[str, Any]]:
    """Tool-call rows; each row's `_id.f` says whether those calls failed. One command: calls and
    failures are two facets of the same messages."""
    return tool_result(facets(reader, "messages", [{"$match": span.match()}], tool_parts(marks, users_for)))


def tool_parts(marks: dict[str, Span], users_for: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The two $facet pipelines of tool_rows (after the span's $match): all calls, failed calls."""
    key: dict[str, Any] = {
        **_label_key("n", "content.tool_call.name"),
        **_label_key("m", "model"),
        **_label_key("p", "endpoint"),
        **_marks(marks),
    }
    if users_for is not None:
        key["u"] = {"$cond": [marks[users_for].test(), _raw("user"), None]}
    calls = [
        {"$match": {"content": {"$type": "array"}, "content.type": "tool_call"}},
        {"$project": {"model": 1, "endpoint": 1, "user": 1, "createdAt": 1, "content": 1}},
        {"$unwind": "$content"},
        {"$match": {"content": {"$type": "object"}, "content.type": "tool_call"}},
    ]
    failed = {"$match": {"content.tool_call.output": {"$regex": FAILED_TOOL_OUTPUT, "$options": "i"}}}
    group = {"$group": {"_id": key, "n": {"$sum": 1}}}
    return {"tool_calls": [*calls, group], "tool_failures": [*calls, failed, group]}


def tool_result(parts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """tool_rows's rows from the results of tool_parts."""
    rows = []
    for part, is_failure in (("tool_calls", False), ("tool_failures", True)):
        for row in parts[part]:
            row["_id"]["f"] = is_failure
            rows.append(row)
    return rows


def fold_tools(rows: list[dict[str, Any]], mark: str | None = None) -> ToolTally:
    """Calls are counted from the all-calls rows; failures are a subset counted again with failed=True."""
    tally = ToolTally()
    for row in rows:
        k = row["_id"]
        if not _keep(k, mark):
            continue
        key = (name_label(k["n"]), name_label(k["m"]), name_label(k["p"]), bool(k["f"]))
        tally.calls[key] += row["n"]
        if not k["f"] and k.get("u") is not None:
            tally.users.add(_hashable(k["u"]))
    return tally


# --- transactions ------------------------------------------------------------------------------

TxKey = tuple[str, str, "str | None"]
"""(prompt or completion, model, user hex or None)."""


@dataclass
class TxTally:
    """|rawAmount| sums and document counts per TxKey (credits and invalid amounts never count), and
    the |tokenValue| (credits, 1e6 = 1 USD), |readTokens| and |writeTokens| sums of the same documents."""

    tokens: Counter[TxKey] = field(default_factory=Counter)
    count: Counter[TxKey] = field(default_factory=Counter)
    value: Counter[TxKey] = field(default_factory=Counter)
    cache_read: Counter[TxKey] = field(default_factory=Counter)
    cache_write: Counter[TxKey] = field(default_factory=Counter)

    def __add__(self, other: TxTally) -> TxTally:
        return TxTally(
            _plus(self.tokens, other.tokens),
            self.count + other.count,
            _plus(self.value, other.value),
            _plus(self.cache_read, other.cache_read),
            _plus(self.cache_write, other.cache_write),
        )


def transaction_rows(
    reader: Reader, span: Span | AnyOf, marks: dict[str, Span], by_user: bool = False
) -> list[dict[str, Any]]:
    key: dict[str, Any] = {"k": "$tokenType", **_label_key("m", "model"), **_marks(marks, by_id=True)}
    if by_user:
        key["u"] = _raw("user")
    amount = {"$cond": [{"$lt": ["$rawAmount", 0]}, {"$subtract": [0, "$rawAmount"]}, "$rawAmount"]}
    match = {**span.match(by_id=True), **COUNTED_TRANSACTION}
    group = {"_id": key, "s": {"$sum": amount}, "n": {"$sum": 1}, "v": {"$sum": _magnitude("$tokenValue")}}
    prompt = {"$eq": ["$tokenType", "prompt"]}  # completions carry no cache tokens (and never count them)
    group["r"] = {"$sum": {"$cond": [prompt, _magnitude("$readTokens"), 0]}}
    group["w"] = {"$sum": {"$cond": [prompt, _magnitude("$writeTokens"), 0]}}
    return reader.aggregate("transactions", [{"$match": match}, {"$group": group}])


def fold_transactions(rows: list[dict[str, Any]], mark: str | None = None) -> TxTally:
    tally = TxTally()
    for row in rows:
        k = row["_id"]
        if not _keep(k, mark):
            continue
        user = k.get("u")
        key = (k["k"], name_label(k["m"]), None if user is None else str(user))
        tally.tokens[key] += row["s"]
        tally.count[key] += row["n"]
        tally.value[key] += row.get("v", 0)
        tally.cache_read[key] += row.get("r", 0)
        tally.cache_write[key] += row.get("w", 0)
    return tally


# --- agents: spend joined through transactions.messageId, distinct users ----------------------------

AGENT_ID = {"$regex": "^agent_"}  # a model that is an agent id (only strings match)


def _agent_reply(prefix: str = "") -> dict[str, Any]:
    """Query: an assistant message whose model is an agent id (fields under `prefix`)."""
    assistant = {"$or": [{f"{prefix}{k}": v for k, v in part.items()} for part in ASSISTANT_QUERY["$or"]]}
    return {"$and": [assistant, {f"{prefix}model": AGENT_ID}]}


REPLY_CHUNK = 5_000  # up to this many replies, agent_spend asks for their messageIds; above, one grouped pass


AGENT_REPLY = {"$and": [_agent_reply(), {"messageId": {"$type": "string"}}]}
REPLY_FIELDS = {"_id": 0, "messageId": 1, "model": 1}


def agent_replies(reader: Reader, span: Span) -> dict[str, list[str]]:
    """messageId -> agent ids of the agent replies created in `span` (several only if ids repeat)."""
    return reply_map(reader.find("messages", {"$and": [span.match(), AGENT_REPLY]}, REPLY_FIELDS))


def agent_reply_stages(limit: int) -> list[dict[str, Any]]:
    """agent_replies as stages after the span's $match (for a $facet), at most `limit` documents."""
    return [{"$match": AGENT_REPLY}, {"$project": REPLY_FIELDS}, {"$limit": limit}]


def reply_map(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """messageId -> agent ids, from agent reply documents (messageId and model)."""
    out: dict[str, list[str]] = {}
    for doc in docs:
        out.setdefault(doc["messageId"], []).append(doc["model"])
    return out


def agent_spend(reader: Reader, span: Span, replies: dict[str, list[str]]) -> Counter[str]:
    """Credits (|tokenValue|, 1e6 = 1 USD) per agent id of the counted transactions in `span` (bounded on
    `_id`) whose messageId names one of `replies` (LibreChat writes transactions.messageId from 0.8.3).

    A few replies (a cycle's) are asked for by id. More than REPLY_CHUNK (a recount's) are joined here
    from one pass that sums the span's transactions per messageId: `transactions.messageId` has no
    index, so each chunk of ids would be another scan of the span."""
    ids = {"$type": "string"} if len(replies) > REPLY_CHUNK else {"$in": sorted(replies)}
    match = {**span.match(by_id=True), **COUNTED_TRANSACTION, "messageId": ids}
    group = {"_id": "$messageId", "v": {"$sum": _magnitude("$tokenValue")}}
    rows = reader.each("transactions", [{"$match": match}, {"$group": group}])
    out: Counter[str] = Counter()
    for row in rows:
        for agent_id in replies.get(row["_id"], ()):
            out[agent_id] += row["v"]
    return out


def agent_users(reader: Reader, span: Span, marks: dict[str, datetime]) -> dict[str, Counter[str]]:
    """mark -> agent id -> distinct non-null users of the agent's replies at or after the mark."""
    rows = reader.aggregate("messages", [{"$match": span.match()}, *agent_user_stages(marks)])
    return agent_user_result(rows, marks)


def agent_user_stages(marks: dict[str, datetime]) -> list[dict[str, Any]]:
    """The stages after the span's $match that count each agent's distinct users (see agent_users)."""
    counters = {name: {"$sum": {"$cond": [since("last", when), 1, 0]}} for name, when in marks.items()}
    return [
        {"$match": {"$and": [_agent_reply(), {"user": {"$ne": None}}]}},
        {"$group": {"_id": {"a": "$model", "u": "$user"}, "last": {"$max": "$createdAt"}}},
        {"$group": {"_id": "$_id.a", **counters}},
    ]


def agent_user_result(rows: list[dict[str, Any]], marks: dict[str, datetime]) -> dict[str, Counter[str]]:
    return {name: Counter({row["_id"]: int(row[name]) for row in rows if row[name]}) for name in marks}


# --- input tokens attributed to the model of the earliest reply (token source "messages") ---------


def reply_models(reader: Reader, span: Span | AnyOf | None) -> dict[str, str]:
    """parentMessageId -> model of its earliest assistant reply (createdAt, then _id), replies in span."""
    match: dict[str, Any] = {**ASSISTANT_QUERY, "parentMessageId": {"$type": "string"}}
    if span is not None:
        match = {"$and": [match, span.match()]}
    rows = reader.aggregate(
        "messages",
        [
            {"$match": match},
            {"$sort": {"createdAt": 1, "_id": 1}},
            {"$group": {"_id": "$parentMessageId", "m": {"$first": _raw("model")}}},
        ],
    )
    return {row["_id"]: name_label(row["m"]) for row in rows}


def user_token_rows(reader: Reader, span: Span | AnyOf) -> list[dict[str, Any]]:
    """User messages with a valid tokenCount: _id, messageId, tokenCount, createdAt, user."""
    match = {"$and": [span.match(), {"$nor": [ASSISTANT_QUERY]}, {"tokenCount": {"$gte": 0, "$lt": INF}}]}
    projection = {"messageId": 1, "tokenCount": 1, "createdAt": 1, "user": 1}
    return reader.find("messages", match, projection)


def fold_inputs(
    rows: list[dict[str, Any]], replies: dict[str, str], within: Span | None = None
) -> Counter[str]:
    """Input tokens per (not yet agent-resolved) model label; rows outside `within` are skipped."""
    totals: Counter[str] = Counter()
    for row in rows:
        if within is not None and not within.holds(row):
            continue
        tokens = row["tokenCount"]
        if isinstance(tokens, bool) or not math.isfinite(tokens):
            continue
        parent = row.get("messageId")
        totals[replies.get(parent, "unknown") if isinstance(parent, str) else "unknown"] += tokens
    return totals


# --- distinct values and plain counts --------------------------------------------------------------


def distinct_counts(
    reader: Reader, collection: str, field_name: str, span: Span, marks: dict[str, datetime]
) -> dict[str, int]:
    """Distinct non-null `field_name` values in the span ("all") and at or after each mark."""
    rows = reader.aggregate(collection, [{"$match": span.match()}, *distinct_stages(field_name, marks)])
    return distinct_result(rows, marks)


def distinct_stages(field_name: str, marks: dict[str, datetime]) -> list[dict[str, Any]]:
    """The stages after the span's $match that count distinct values (see distinct_counts)."""
    counters = {"all": {"$sum": 1}}
    counters |= {name: {"$sum": {"$cond": [since("last", when), 1, 0]}} for name, when in marks.items()}
    return [
        {"$match": {field_name: {"$ne": None}}},
        {"$group": {"_id": f"${field_name}", "last": {"$max": "$createdAt"}}},
        {"$group": {"_id": None, **counters}},
    ]


def distinct_result(rows: list[dict[str, Any]], marks: dict[str, datetime]) -> dict[str, int]:
    return {name: int(rows[0][name]) if rows else 0 for name in ["all", *marks]}


def count_stages(marks: dict[str, datetime]) -> list[dict[str, Any]]:
    """The stage after the span's $match that counts the documents created at or after each mark."""
    counters = {name: {"$sum": {"$cond": [since("createdAt", when), 1, 0]}} for name, when in marks.items()}
    return [{"$group": {"_id": None, **counters}}]


def count_result(rows: list[dict[str, Any]], marks: dict[str, datetime]) -> dict[str, int]:
    return {name: int(rows[0][name]) if rows else 0 for name in marks}


def facets(
    reader: Reader, collection: str, head: list[dict[str, Any]], parts: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Several pipelines over the documents `head` selects, in one command: part name -> its rows."""
    rows = reader.aggregate(collection, [*head, {"$facet": parts}])
    return {name: rows[0][name] if rows else [] for name in parts}


def count_in(reader: Reader, collection: str, span: Span) -> int:
    rows = reader.aggregate(
        collection, [{"$match": span.match()}, {"$group": {"_id": None, "n": {"$sum": 1}}}]
    )
    return int(rows[0]["n"]) if rows else 0


def recent_ratings(reader: Reader, since_when: datetime) -> Counter[str]:
    """Rated messages whose document changed since `since_when` (feedback has no timestamp of its own)."""
    rows = reader.aggregate(
        "messages",
        [
            {"$match": {"updatedAt": {"$gte": since_when}, "feedback.rating": {"$in": list(RATINGS)}}},
            {"$group": {"_id": "$feedback.rating", "n": {"$sum": 1}}},
        ],
    )
    return Counter({row["_id"]: row["n"] for row in rows})


def agent_models(reader: Reader) -> dict[str, str]:
    """agent id -> underlying model, for agents whose model is a non-empty string."""
    query = {"id": {"$type": "string"}, "model": {"$type": "string", "$ne": ""}}
    return {doc["id"]: doc["model"] for doc in reader.find("agents", query, {"_id": 0, "id": 1, "model": 1})}


def _plus(a: Counter[Any], b: Counter[Any]) -> Counter[Any]:
    """Counter addition that keeps zero-valued keys (a message with 0 tokens still exists)."""
    out = Counter(a)
    for key, value in b.items():
        out[key] += value
    return out


# --- agents and balances (slow jobs) ---------------------------------------------------------------


@dataclass(frozen=True)
class AgentInfo:
    """Labels of one agent: name, provider and model by the api_endpoint rule (not yet sanitised)."""

    name: str
    provider: str
    model: str


def agent_map(reader: Reader) -> tuple[dict[str, str], dict[str, AgentInfo]]:
    """In one read: agent_models() and agent id (`agent_…`) -> its labels (the first document wins)."""
    fields = {"_id": 0, "id": 1, "name": 1, "provider": 1, "model": 1}
    models: dict[str, str] = {}
    infos: dict[str, AgentInfo] = {}
    for doc in reader.find("agents", {"id": {"$type": "string"}}, fields):
        model = doc.get("model")
        if isinstance(model, str) and model != "":
            models[doc["id"]] = model
        if doc["id"].startswith("agent_") and doc["id"] not in infos:
            infos[doc["id"]] = AgentInfo(*(name_label(doc.get(f)) for f in ("name", "provider", "model")))
    return models, infos


@dataclass(frozen=True)
class Balances:
    """The balances collection in one row: valid positive credits, users at or below 0, auto-refill."""

    credits: float
    at_or_below_zero: int
    auto_refill: int


def balances(reader: Reader) -> Balances | None:
    """One grouped read of `balances` (one document per user); None when it is empty (feature off)."""
    valid = _valid_number("$tokenCredits")
    positive = {"$and": [valid, {"$gt": ["$tokenCredits", 0]}]}
    low = {"$and": [valid, {"$lte": ["$tokenCredits", 0]}]}
    group = {
        "_id": None,
        "c": {"$sum": {"$cond": [positive, "$tokenCredits", 0]}},
        "z": {"$sum": {"$cond": [low, 1, 0]}},
        "a": {"$sum": {"$cond": [{"$eq": ["$autoRefillEnabled", True]}, 1, 0]}},
    }
    rows = reader.aggregate("balances", [{"$group": group}])
    return Balances(float(rows[0]["c"]), int(rows[0]["z"]), int(rows[0]["a"])) if rows else None
