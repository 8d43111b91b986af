"""Additive tallies over a time span of LibreChat's collections, shared by exporter and history export.

Each query groups in MongoDB on raw fields (so little data travels) and the fold turns the rows into
label keys in Python (so odd values never break an expression). Tallies over disjoint spans add up.
`marks` name sub-spans (lower bounds, on createdAt or on insertion order) inside the queried span: the
fold can then keep only the rows in one of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from bson import ObjectId

from . import values
from .labels import AGENT_PREFIX, is_agent_id, name_label, tag_label
from .mongo import AnyOf, Reader, Span, since
from .query import Query, Rows, rows, single
from .replymodel import ReplyModels, Versions, agent_versions, ledger_models
from .values import LIMIT

RATINGS = ("thumbsUp", "thumbsDown")
# A failed tool call's output, in the shapes LibreChat's agents write it: "Error processing tool…" (a
# tool error the graph handles), "Error: …\n Please fix your mistakes." (a tool that threw, or one
# LibreChat ran that reported an error: MCP), either as a string or as an array of parts holding one
# (a string, or a {type: "text", text} part).
FAILED_TOOL_PATTERNS = (
    {"$regex": "error processing tool", "$options": "i"},
    {"$regex": r"^Error: [\s\S]*\n Please fix your mistakes\."},
)
_OUTPUT = "content.tool_call.output"
FAILED_TOOL_QUERY = {
    "$or": [
        *({_OUTPUT: pattern} for pattern in FAILED_TOOL_PATTERNS),
        *({_OUTPUT: {"$elemMatch": {"type": "text", "text": pattern}}} for pattern in FAILED_TOOL_PATTERNS),
    ]
}
# What a tool-call row reads of its message (the origin test needs the last five).
TOOL_FIELDS: tuple[str, ...] = ("model", "endpoint", "user", "createdAt", "content", "conversationId")
TOOL_FIELDS += ("messageId", "parentMessageId", "isCreatedByUser", "sender", "subagentTriggerProjection")

# A message is an assistant message when isCreatedByUser is false, or (when that is not a boolean)
# when its sender is not "User".
ASSISTANT_EXPR = {
    "$cond": [
        {"$eq": [{"$type": "$isCreatedByUser"}, "bool"]},
        {"$eq": ["$isCreatedByUser", False]},
        {"$ne": ["$sender", "User"]},
    ]
}
# The same in the query language, which matches an array by its elements: an array isCreatedByUser
# is no boolean, an array sender is not the string "User" (as the expression and the rules say).
ASSISTANT_QUERY = {
    "$or": [
        {"isCreatedByUser": {"$eq": False, "$not": {"$type": "array"}}},
        {
            "$and": [
                {
                    "$or": [
                        {"isCreatedByUser": {"$not": {"$type": "bool"}}},
                        {"isCreatedByUser": {"$type": "array"}},
                    ]
                },
                {"$or": [{"sender": {"$ne": "User"}}, {"sender": {"$type": "array"}}]},
            ]
        },
    ]
}
_CONTENT_TYPES = {"$cond": [{"$eq": [{"$type": "$content"}, "array"]}, "$content.type", []]}
ERROR_EXPR = {"$or": [{"$eq": ["$error", True]}, {"$in": ["error", _CONTENT_TYPES]}]}
HAS_TOOLS_EXPR = {"$in": ["tool_call", _CONTENT_TYPES]}
# A number is valid up to LIMIT in magnitude (values.number): larger ones, like NaN and ±inf, are
# left out in the query, so a sum MongoDB makes of valid numbers stays finite.
NUMBER_TYPES = ["double", "int", "long", "decimal"]
VALID_TOKENS_EXPR = {
    "$and": [
        {"$in": [{"$type": "$tokenCount"}, NUMBER_TYPES]},
        {"$gte": ["$tokenCount", 0]},
        {"$lte": ["$tokenCount", LIMIT]},
    ]
}
# A transaction that counts: prompt or completion with a valid numeric rawAmount (never credits).
# The query language also matches an array holding such a value: arrays are said not to count.
_NO_ARRAY = {"$not": {"$type": "array"}}
COUNTED_TRANSACTION = {
    "tokenType": {"$in": ["prompt", "completion"], **_NO_ARRAY},
    "rawAmount": {"$gte": -LIMIT, "$lte": LIMIT, **_NO_ARRAY},
}
_RATED_EXPR = {"$in": [{"$ifNull": ["$feedback.rating", None]}, list(RATINGS)]}
# An unfinished reply: an assistant message with unfinished: true or finish_reason: "incomplete".
UNFINISHED_EXPR = {
    "$and": [
        ASSISTANT_EXPR,
        {"$or": [{"$eq": ["$unfinished", True]}, {"$eq": ["$finish_reason", "incomplete"]}]},
    ]
}


# A message whose model is an agent id: its rows carry its messageId and createdAt, so that its model
# label can be the model that produced it (replymodel.ReplyModels).
AGENT_MODEL_EXPR = {
    "$and": [
        {"$eq": [{"$type": "$model"}, "string"]},
        {"$eq": [{"$substrCP": ["$model", 0, 6]}, AGENT_PREFIX]},
    ]
}


def _reply_keys() -> dict[str, Any]:
    """Group-key fields of an agent message (null for every other): its messageId and createdAt."""
    return {name: {"$cond": [AGENT_MODEL_EXPR, _raw(path), None]} for name, path in REPLY_KEYS.items()}


REPLY_KEYS = {"i": "messageId", "c": "createdAt"}


def made_by_of(k: dict[str, Any], models: ReplyModels | None) -> str | None:
    """The model that produced an agent message's row (`m`, `i`, `c`) by `models`; None for others."""
    model = name_label(k["m"])
    return None if models is None or not is_agent_id(model) else models.label(model, k.get("i"), k.get("c"))


def _valid_number(path: str) -> dict[str, Any]:
    """A valid number (|value| <= LIMIT): in MongoDB's comparison order null/missing and NaN sort below
    every number, strings, objects, booleans and dates above, so two comparisons leave only numbers."""
    return {"$and": [{"$gte": [path, -LIMIT]}, {"$lte": [path, LIMIT]}]}


def _magnitude(path: str) -> dict[str, Any]:
    """|value| of a valid number, else 0."""
    absolute = {"$cond": [{"$lt": [path, 0]}, {"$subtract": [0, path]}, path]}
    return {"$cond": [_valid_number(path), absolute, 0]}


# |rawAmount| of a counted transaction (COUNTED_TRANSACTION has made it a valid number).
_ABS_RAW = {"$cond": [{"$lt": ["$rawAmount", 0]}, {"$subtract": [0, "$rawAmount"]}, "$rawAmount"]}


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


# --- messages ----------------------------------------------------------------------------------


class MessageKey(NamedTuple):
    """One kind of message the tally counts; `model` is the raw label (agent ids not yet resolved)."""

    assistant: bool
    model: str
    error: bool
    tools: bool  # has tool calls
    rating: str | None
    tag: str | None
    endpoint: str
    unfinished: bool  # an unfinished reply
    made_by: str | None = None  # a message whose model is an agent id: the model that produced it


@dataclass
class MessageTally:
    """Message counts and valid tokenCount sums per MessageKey."""

    count: Counter[MessageKey] = field(default_factory=Counter)
    tokens: Counter[MessageKey] = field(default_factory=Counter)

    def __add__(self, other: MessageTally) -> MessageTally:
        return MessageTally(self.count + other.count, _plus(self.tokens, other.tokens))


def message_rows(reader: Reader, span: Span | AnyOf, marks: dict[str, Span]) -> list[dict[str, Any]]:
    return messages_query(marks).run(reader, span.match())


def messages_query(marks: dict[str, Span]) -> Query[Rows]:
    """Message counts and token sums grouped by the MessageKey fields (and marks): fold_messages' rows."""
    return rows("messages", [_message_group(marks)])


def _message_group(marks: dict[str, Span]) -> dict[str, Any]:
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
        **_reply_keys(),
        **_marks(marks),
    }
    tokens = {"$cond": [VALID_TOKENS_EXPR, "$tokenCount", 0]}
    return {"$group": {"_id": key, "n": {"$sum": 1}, "k": {"$sum": tokens}}}


def fold_messages(
    rows: list[dict[str, Any]], mark: str | None = None, models: ReplyModels | None = None
) -> MessageTally:
    """The rows (of `mark` only, when given) as a tally, agent messages labelled by `models`."""
    tally = MessageTally()
    for row in rows:
        k = row["_id"]
        if not _keep(k, mark):
            continue
        key = MessageKey(
            assistant=bool(k["a"]),
            model=name_label(k["m"]),
            error=bool(k["e"]),
            tools=bool(k["t"]),
            rating=k["r"],
            tag=tag_label(k["g"]),
            endpoint=name_label(k["p"]),
            unfinished=bool(k["f"]),
            made_by=made_by_of(k, models),
        )
        tally.count[key] += row["n"]
        tally.tokens[key] = values.add(tally.tokens[key], row["k"])
    return tally


# --- tool calls --------------------------------------------------------------------------------


class ToolKey(NamedTuple):
    """One kind of tool call."""

    tool: str
    model: str
    endpoint: str
    failed: bool
    made_by: str | None = None  # as MessageKey.made_by


@dataclass
class ToolTally:
    """Tool calls per ToolKey, and the distinct users seen (only for the mark asked for)."""

    calls: Counter[ToolKey] = field(default_factory=Counter)
    users: set[Any] = field(default_factory=set)

    def __add__(self, other: ToolTally) -> ToolTally:
        return ToolTally(self.calls + other.calls, self.users | other.users)


def tool_rows(
    reader: Reader,
    span: Span | AnyOf,
    marks: dict[str, Span],
    users_for: str | None = None,
    person: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Tool-call rows of the span (see tools_query). Calls and failures are read in a command each: an
    agent message's calls are rows of their own (replymodel), too many for one $facet document over a
    whole recount."""
    return tools_query(marks, users_for, person).apart(reader, span.match())


def tools_query(
    marks: dict[str, Span], users_for: str | None = None, person: dict[str, Any] | None = None
) -> Query[Rows]:
    """Tool-call rows; each row's `_id.f` says whether those calls failed (calls and failures are two
    facets of the same messages). Users (of the `users_for` mark) are those of the messages that pass
    the `person` expression."""
    key: dict[str, Any] = {
        **_label_key("n", "content.tool_call.name"),
        **_label_key("m", "model"),
        **_label_key("p", "endpoint"),
        **_reply_keys(),
        **_marks(marks),
    }
    if users_for is not None:
        test = marks[users_for].test() if person is None else {"$and": [marks[users_for].test(), person]}
        key["u"] = {"$cond": [test, _raw("user"), None]}
    calls: list[dict[str, Any]] = [
        {"$match": {"content": {"$type": "array"}, "content.type": "tool_call"}},
        {"$project": {field: 1 for field in TOOL_FIELDS}},
        {"$unwind": "$content"},
        {"$match": {"content": {"$type": "object"}, "content.type": {"$eq": "tool_call", **_NO_ARRAY}}},
    ]
    failed = {"$match": FAILED_TOOL_QUERY}
    group = {"$group": {"_id": key, "n": {"$sum": 1}}}
    return Query("messages", {"calls": [*calls, group], "failures": [*calls, failed, group]}, _tool_rows)


def _tool_rows(parts: Mapping[str, Rows]) -> Rows:
    out = []
    for part, is_failure in (("calls", False), ("failures", True)):
        for row in parts[part]:
            row["_id"]["f"] = is_failure
            out.append(row)
    return out


def fold_tools(
    rows: list[dict[str, Any]], mark: str | None = None, models: ReplyModels | None = None
) -> ToolTally:
    """Calls are counted from the all-calls rows; failures are a subset counted again with failed=True."""
    tally = ToolTally()
    for row in rows:
        k = row["_id"]
        if not _keep(k, mark):
            continue
        key = ToolKey(
            name_label(k["n"]), name_label(k["m"]), name_label(k["p"]), bool(k["f"]), made_by_of(k, models)
        )
        tally.calls[key] += row["n"]
        if not k["f"] and k.get("u") is not None:
            tally.users.add(values.key(k["u"]))
    return tally


# --- transactions ------------------------------------------------------------------------------


class TxKey(NamedTuple):
    """One kind of ledger entry."""

    kind: str  # "prompt" or "completion"
    model: str
    user: str | None  # the user's hex id, when tallied by user


# The ledger sums beside |rawAmount|, one line each: TxTally column -> (transaction field, summed on
# prompt transactions only). Each is the sum of the field's magnitude over the counted transactions.
TX_SUMS: dict[str, tuple[str, bool]] = {
    "value": ("tokenValue", False),  # credits, 1e6 = 1 USD
    "cache_read": ("readTokens", True),  # completions carry no cache tokens (and never count them)
    "cache_write": ("writeTokens", True),
}


@dataclass
class TxTally:
    """|rawAmount| sums and document counts per TxKey (credits and invalid amounts never count), and
    the TX_SUMS columns of the same documents."""

    tokens: Counter[TxKey] = field(default_factory=Counter)
    count: Counter[TxKey] = field(default_factory=Counter)
    value: Counter[TxKey] = field(default_factory=Counter)
    cache_read: Counter[TxKey] = field(default_factory=Counter)
    cache_write: Counter[TxKey] = field(default_factory=Counter)

    def __add__(self, other: TxTally) -> TxTally:
        sums = {name: _plus(getattr(self, name), getattr(other, name)) for name in ("tokens", *TX_SUMS)}
        return TxTally(count=self.count + other.count, **sums)


def transaction_rows(
    reader: Reader, span: Span | AnyOf, marks: dict[str, Span], by_user: bool = False
) -> list[dict[str, Any]]:
    """fold_transactions' rows: the counted transactions of `span` (on `_id`) per kind, model (and
    user) and mark."""
    return reader.aggregate("transactions", _transaction_stages(span, marks, by_user))


def transactions_query(span: Span | AnyOf, marks: dict[str, Span], limit: int) -> Query[Rows]:
    """transaction_rows as a query (at most `limit` rows), to share a command with spend_query."""
    return rows("transactions", [*_transaction_stages(span, marks, False), {"$limit": limit}])


def _transaction_stages(span: Span | AnyOf, marks: dict[str, Span], by_user: bool) -> list[dict[str, Any]]:
    key: dict[str, Any] = {"k": "$tokenType", **_label_key("m", "model"), **_marks(marks, by_id=True)}
    if by_user:
        key["u"] = _raw("user")
    match = {**span.match(by_id=True), **COUNTED_TRANSACTION}
    group: dict[str, Any] = {"_id": key, "s": {"$sum": _ABS_RAW}, "n": {"$sum": 1}}
    prompt = {"$eq": ["$tokenType", "prompt"]}
    for column, (source, prompt_only) in TX_SUMS.items():
        magnitude = _magnitude(f"${source}")
        group[column] = {"$sum": {"$cond": [prompt, magnitude, 0]} if prompt_only else magnitude}
    return [{"$match": match}, {"$group": group}]


def fold_transactions(rows: list[dict[str, Any]], mark: str | None = None) -> TxTally:
    tally = TxTally()
    for row in rows:
        k = row["_id"]
        if not _keep(k, mark):
            continue
        user = k.get("u")
        key = TxKey(k["k"], name_label(k["m"]), None if user is None else str(user))
        tally.tokens[key] = values.add(tally.tokens[key], row["s"])
        tally.count[key] += row["n"]
        for column in TX_SUMS:
            sums: Counter[TxKey] = getattr(tally, column)
            sums[key] = values.add(sums[key], row.get(column))
    return tally


# --- agents: spend joined through transactions.messageId, distinct users ----------------------------

AGENT_ID = {"$regex": f"^{AGENT_PREFIX}"}  # a model that is an agent id (arrays match too: dropped in Python)


def _agent_reply() -> dict[str, Any]:
    """Query: an assistant message whose model is an agent id."""
    return {"$and": [ASSISTANT_QUERY, {"model": AGENT_ID}]}


REPLY_CHUNK = 5_000  # up to this many replies, agent_spend asks for their messageIds; above, one grouped pass


AGENT_REPLY = {"$and": [_agent_reply(), {"messageId": {"$type": "string"}}]}
REPLY_FIELDS = {"_id": 0, "messageId": 1, "model": 1}


def agent_replies(reader: Reader, span: Span) -> dict[str, list[str]]:
    """messageId -> agent ids of the agent replies created in `span` (several only if ids repeat)."""
    return reply_map(reader.find("messages", {"$and": [span.match(), AGENT_REPLY]}, REPLY_FIELDS))


def agent_replies_query(limit: int) -> Query[Rows]:
    """The documents of agent_replies (messageId and model), at most `limit` of them."""
    return rows("messages", [{"$match": AGENT_REPLY}, {"$project": REPLY_FIELDS}, {"$limit": limit}])


def reply_map(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """messageId -> agent ids, from agent reply documents (messageId and model)."""
    out: dict[str, list[str]] = {}
    for doc in docs:
        # `$type: "string"` and `$regex` also match arrays of strings: only strings are ids
        message_id, agent_id = (
            values.text(doc.get("messageId"), "messageId"),
            values.text(doc.get("model"), "model"),
        )
        if message_id is not None and agent_id is not None:
            out.setdefault(message_id, []).append(agent_id)
    return out


def agent_spend(
    reader: Reader,
    span: Span,
    replies: dict[str, list[str]],
    spent: Span | None = None,
    one_pass: bool = False,
) -> tuple[Counter[str], dict[str, str]]:
    """Credits (|tokenValue|, 1e6 = 1 USD) per agent id of the counted transactions in `span` (bounded on
    `_id`; only those also in `spent`, when given) whose messageId names one of `replies` (LibreChat
    writes transactions.messageId from 0.8.3), and the model each reply's transactions name (the ledger
    of replymodel.ReplyModels, from every transaction of `span`). See spend_rows."""
    found = spend_rows(reader, span, replies, {} if spent is None else {"spent": spent}, one_pass)
    return fold_spend(found, replies, None if spent is None else "spent"), reply_ledger(found, replies)


def spend_rows(
    reader: Reader,
    span: Span,
    replies: dict[str, list[str]],
    marks: dict[str, Span] | None = None,
    one_pass: bool = False,
) -> Rows:
    """The counted transactions of `span` whose messageId may name one of `replies`, summed per
    messageId and model (and `marks`, on `_id`): fold_spend's and reply_ledger's rows.

    A few replies (a cycle's) are asked for by id. More than REPLY_CHUNK (a recount's) are joined in
    the fold from one pass that sums the span's transactions per messageId: `transactions.messageId`
    has no index, so each chunk of ids would be another scan of the span. With `one_pass` (the
    history's days), always the one pass: no id list is sent."""
    return list(reader.each("transactions", _spend_stages(span, replies, marks or {}, one_pass)))


def spend_query(span: Span, replies: dict[str, list[str]], marks: dict[str, Span], limit: int) -> Query[Rows]:
    """spend_rows as a query (at most `limit` rows), to share a command with transactions_query."""
    return rows("transactions", [*_spend_stages(span, replies, marks, False), {"$limit": limit}])


def _spend_stages(
    span: Span, replies: dict[str, list[str]], marks: dict[str, Span], one_pass: bool
) -> list[dict[str, Any]]:
    ids = {"$type": "string"} if one_pass or len(replies) > REPLY_CHUNK else {"$in": sorted(replies)}
    match = {**span.match(by_id=True), **COUNTED_TRANSACTION, "messageId": ids}
    key: dict[str, Any] = {"i": "$messageId", "m": _raw("model"), **_marks(marks, by_id=True)}
    group = {"_id": key, "v": {"$sum": _magnitude("$tokenValue")}, "s": {"$sum": _ABS_RAW}}
    return [{"$match": match}, {"$group": group}]


def fold_spend(
    rows: Rows, replies: dict[str, list[str]], mark: str | None = None, counted: bool = True
) -> Counter[str]:
    """Credits per agent id of the rows (of `mark` only, when given) joined to `replies` by messageId.
    A messageId that is no string is counted as skipped unless `counted` is off (a second fold of
    rows another fold has counted)."""
    out: Counter[str] = Counter()
    for row in rows:
        if not _keep(row["_id"], mark):
            continue
        # `$type: "string"` also matches arrays
        message_id = values.text(row["_id"]["i"], "messageId" if counted else None)
        for agent_id in replies.get(message_id, ()) if message_id is not None else ():
            out[agent_id] = values.add(out[agent_id], row["v"])
    return out


def reply_ledger(rows: Rows, replies: dict[str, list[str]]) -> dict[str, str]:
    """messageId -> the model its transactions name (every row), for the messageIds of `replies`."""
    ledger = ledger_models((row["_id"]["i"], row["_id"].get("m"), row["s"]) for row in rows)
    return {message_id: model for message_id, model in ledger.items() if message_id in replies}


def agent_chats(reader: Reader, span: Span) -> Counter[str]:
    """Conversations created in `span` per the agent they started with, as LibreChat's Insights
    attributes them: `initial_agent_id` when a non-empty string, else `agent_id`; agent ids only."""
    match = {"$and": [span.match(), {"$or": [{"initial_agent_id": AGENT_ID}, {"agent_id": AGENT_ID}]}]}
    key = {"i": _raw("initial_agent_id"), "a": _raw("agent_id")}
    rows = reader.aggregate("conversations", [{"$match": match}, {"$group": {"_id": key, "n": {"$sum": 1}}}])
    out: Counter[str] = Counter()
    for row in rows:  # `$regex` also matches arrays of strings: only strings are ids
        agent = values.text(row["_id"].get("i")) or values.text(row["_id"].get("a"))
        if is_agent_id(agent):
            assert agent is not None
            out[agent] += row["n"]
    return out


def agent_users(
    reader: Reader, span: Span, marks: dict[str, datetime], where: dict[str, Any] | None = None
) -> dict[str, Counter[str]]:
    """agent_users_query over the span's replies that also pass `where` (e.g. origins' person test)."""
    match = span.match() if where is None else {"$and": [span.match(), where]}
    return agent_users_query(marks).run(reader, match)


def agent_users_query(marks: dict[str, datetime]) -> Query[dict[str, Counter[str]]]:
    """mark -> agent id -> distinct non-null users of the agent's replies at or after the mark."""
    counters = {name: {"$sum": {"$cond": [since("last", when), 1, 0]}} for name, when in marks.items()}
    stages: list[dict[str, Any]] = [
        {"$match": {"$and": [_agent_reply(), {"user": {"$ne": None}}]}},
        {"$group": {"_id": {"a": "$model", "u": "$user"}, "last": {"$max": "$createdAt"}}},
        {"$group": {"_id": "$_id.a", **counters}},
    ]

    def parse(found: Rows) -> dict[str, Counter[str]]:
        # A model that is an array of strings passes `$regex`: only string agent ids are kept.
        agents = [(a, row) for row in found if (a := values.text(row["_id"], "model")) is not None]
        return {name: Counter({a: int(row[name]) for a, row in agents if row[name]}) for name in marks}

    return single("messages", stages, parse)


# --- input tokens attributed to the model of the earliest reply (token source "messages") ---------


def reply_models(
    reader: Reader, span: Span | AnyOf | None, models: ReplyModels | None = None
) -> dict[str, str]:
    """parentMessageId -> model label of its earliest assistant reply (createdAt, then _id), replies in
    span; an agent reply labelled by `models`."""
    match: dict[str, Any] = {**ASSISTANT_QUERY, "parentMessageId": {"$type": "string"}}
    if span is not None:
        match = {"$and": [match, span.match()]}
    rows = reader.aggregate(
        "messages",
        [
            {"$match": match},
            {"$sort": {"createdAt": 1, "_id": 1}},
            {"$group": {"_id": "$parentMessageId", "m": {"$first": _raw("model")}, **reply_firsts()}},
        ],
    )
    return {
        parent: made_by_of(row, models) or name_label(row["m"])
        for row in rows
        if (parent := values.text(row["_id"])) is not None
    }


def reply_firsts() -> dict[str, Any]:
    """$first accumulators of the reply keys (messageId and createdAt of an agent reply)."""
    return {name: {"$first": expr} for name, expr in _reply_keys().items()}


def user_token_rows(reader: Reader, span: Span | AnyOf) -> list[dict[str, Any]]:
    """User messages with a valid tokenCount: _id, messageId, tokenCount, createdAt, user."""
    match = {"$and": [span.match(), {"$nor": [ASSISTANT_QUERY]}, {"tokenCount": {"$gte": 0, "$lte": LIMIT}}]}
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
        tokens = values.number(row.get("tokenCount"), "tokenCount")
        if tokens is None:
            continue
        parent = values.text(row.get("messageId"))
        model = replies.get(parent, "unknown") if parent is not None else "unknown"
        totals[model] = values.add(totals[model], row["tokenCount"])
    return totals


# --- distinct values and plain counts --------------------------------------------------------------


def distinct_counts(
    reader: Reader,
    collection: str,
    field_name: str,
    span: Span,
    marks: dict[str, datetime],
    where: dict[str, Any] | None = None,
) -> dict[str, int]:
    """distinct_query over the span's documents that also pass `where` (e.g. origins' person test)."""
    match = span.match() if where is None else {"$and": [span.match(), where]}
    return distinct_query(collection, field_name, marks).run(reader, match)


def distinct_query(collection: str, field_name: str, marks: dict[str, datetime]) -> Query[dict[str, int]]:
    """Distinct non-null `field_name` values ("all") and those last seen at or after each mark."""
    counters: dict[str, Any] = {"all": {"$sum": 1}}
    counters |= {name: {"$sum": {"$cond": [since("last", when), 1, 0]}} for name, when in marks.items()}
    stages: list[dict[str, Any]] = [
        {"$match": {field_name: {"$ne": None}}},
        {"$group": {"_id": f"${field_name}", "last": {"$max": "$createdAt"}}},
        {"$group": {"_id": None, **counters}},
    ]
    return single(collection, stages, lambda found: _counts(found, ["all", *marks]))


def count_query(collection: str, marks: dict[str, datetime]) -> Query[dict[str, int]]:
    """The documents created at or after each mark."""
    counters = {name: {"$sum": {"$cond": [since("createdAt", when), 1, 0]}} for name, when in marks.items()}
    return single(
        collection, [{"$group": {"_id": None, **counters}}], lambda found: _counts(found, list(marks))
    )


def _counts(found: Rows, names: list[str]) -> dict[str, int]:
    return {name: int(found[0][name]) if found else 0 for name in names}


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
    # `$in` also matches an array holding a rating: only the plain strings count
    return Counter({rating: row["n"] for row in rows if (rating := values.text(row["_id"])) in RATINGS})


def agent_models(reader: Reader) -> dict[str, str]:
    """agent id -> underlying model, for agents whose model is a non-empty string (see agent_map)."""
    return agent_map(reader)[0]


def _plus(a: Counter[Any], b: Counter[Any]) -> Counter[Any]:
    """Counter addition that keeps zero-valued keys (a message with 0 tokens still exists)."""
    out = Counter(a)
    for key, value in b.items():
        out[key] = values.add(out[key], value)
    return out


# --- agents (slow job) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentInfo:
    """Labels of one agent: name, provider and model by the api_endpoint rule (not yet sanitised)."""

    name: str
    provider: str
    model: str


def agent_map(reader: Reader) -> tuple[dict[str, str], dict[str, AgentInfo]]:
    """In one read: agent id -> underlying model (when a non-empty string), and agent id (`agent_…`) ->
    its labels. An id is one agent: when several documents share it, the oldest (smallest ObjectId
    `_id`, documents without one after those) decides its model and its labels."""
    models, infos, _ = agents_read(reader)
    return models, infos


def agents_read(reader: Reader) -> tuple[dict[str, str], dict[str, AgentInfo], Versions]:
    """agent_map, and each agent's versions (replymodel.agent_versions), in one read."""
    fields = {"_id": 1, "id": 1, "name": 1, "provider": 1, "model": 1}
    fields |= {"versions.model": 1, "versions.updatedAt": 1}
    models: dict[str, str] = {}
    versions: Versions = {}
    infos: dict[str, AgentInfo] = {}
    seen: set[str] = set()
    for doc in sorted(reader.find("agents", {"id": {"$type": "string"}}, fields), key=_age):
        agent_id = values.text(doc.get("id"), "id")  # `$type: "string"` also matches arrays of strings
        if agent_id is None or agent_id in seen:
            continue
        seen.add(agent_id)
        model = values.text(doc.get("model"))
        if model:
            models[agent_id] = model
        if is_agent_id(agent_id):
            infos[agent_id] = AgentInfo(*(name_label(doc.get(f)) for f in ("name", "provider", "model")))
            versions[agent_id] = agent_versions(doc)
    return models, infos, versions


def reply_models_of(reader: Reader, ledger: dict[str, str] | None = None) -> ReplyModels:
    """The agents' versions and models, read now, with the given ledger."""
    models, _, versions = agents_read(reader)
    return ReplyModels(ledger or {}, versions, models)


def _age(doc: dict[str, Any]) -> tuple[int, bytes]:
    """Sort key: ObjectId `_id`s oldest first, then every other document in the order read."""
    oid = doc.get("_id")
    return (0, oid.binary) if isinstance(oid, ObjectId) else (1, b"")
