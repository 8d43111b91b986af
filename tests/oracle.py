"""Test oracle: an independent, plain-Python implementation of docs/semantics.md.

It computes every exporter metric family and every history row from raw documents (plain dicts,
as pymongo returns them). It deliberately shares no code with the ``librechat_metrics`` package
and never talks to MongoDB. Every rule below cites the paragraph of docs/semantics.md it follows;
where the contract was silent, the judgement call is marked ``JUDGEMENT`` and listed in
``JUDGEMENT_CALLS`` at the end of this module.

Public API::

    exporter_samples(collections, now, tz="UTC", token_source="auto")
        -> {family: {sorted ((label, value), ...): float}}
    history_rows(collections, start, end, tz="UTC", token_source="auto")
        -> {table: {row tuple, ...}}
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId
from bson.decimal128 import Decimal128

UTC = timezone.utc

Doc = dict[str, Any]
Collections = dict[str, list[Doc]]
LabelKey = tuple[tuple[str, str], ...]
Samples = dict[str, dict[LabelKey, float]]

TOKEN_SOURCES = ("auto", "transactions", "messages")

# Every family of the table in semantics.md, with its label names, exactly as exposed.
FAMILIES: dict[str, tuple[str, ...]] = {
    "librechat_messages_total": (),
    "librechat_messages_by_origin_total": ("origin",),
    "librechat_error_messages_total": (),
    "librechat_errors_per_model_total": ("model",),
    "librechat_conversations_total": (),
    "librechat_registered_users_total": (),
    "librechat_uploaded_files_total": (),
    "librechat_input_tokens_total": (),
    "librechat_output_tokens_total": (),
    "librechat_input_tokens_per_model_total": ("model",),
    "librechat_output_tokens_per_model_total": ("model",),
    "librechat_messages_per_model_total": ("model",),
    "librechat_active_users": (),
    "librechat_active_conversations": (),
    "librechat_daily_unique_users": (),
    "librechat_weekly_unique_users": (),
    "librechat_monthly_unique_users": (),
    "librechat_messages_5m": (),
    "librechat_messages_per_model_5m": ("model",),
    "librechat_error_messages_5m": (),
    "librechat_errors_per_model_5m": ("model",),
    "librechat_replies_5m": (),
    "librechat_error_replies_5m": (),
    "librechat_input_tokens_5m": (),
    "librechat_output_tokens_5m": (),
    "librechat_model_input_tokens_5m": ("model",),
    "librechat_model_output_tokens_5m": ("model",),
    "librechat_thumbs_up_total": (),
    "librechat_thumbs_down_total": (),
    "librechat_thumbs_up_per_model": ("model",),
    "librechat_thumbs_down_per_model": ("model",),
    "librechat_rating_ratio_per_model": ("model",),
    "librechat_overall_rating_ratio": (),
    "librechat_rating_counts_per_tag": ("tag",),
    "librechat_model_tag_thumbs_up": ("model", "tag"),
    "librechat_model_tag_thumbs_down": ("model", "tag"),
    "librechat_rated_messages_total": (),
    "librechat_thumbs_up_5m": (),
    "librechat_thumbs_down_5m": (),
    "librechat_tool_calls_total": (),
    "librechat_tool_calls_per_tool": ("tool_name",),
    "librechat_tool_calls_per_model": ("model", "tool_name"),
    "librechat_tool_calls_per_endpoint": ("api_endpoint", "tool_name"),
    "librechat_tool_call_errors_total": (),
    "librechat_tool_call_errors_per_tool_total": ("tool_name",),
    "librechat_tool_success_rate_per_tool": ("tool_name",),
    "librechat_tool_calls_5m": (),
    "librechat_tool_calls_per_tool_5m": ("tool_name",),
    "librechat_tool_call_errors_5m": (),
    "librechat_messages_with_tools_total": (),
    "librechat_active_tool_users": (),
    "librechat_responses_5m": ("model",),
    "librechat_response_time_seconds_5m": ("model", "percentile"),
    # issue #12: cost, caching, endpoints, agents, unfinished replies, histogram, balances
    "librechat_spend_usd_total": ("model",),
    "librechat_spend_usd_5m": ("model",),
    "librechat_cache_read_tokens_total": ("model",),
    "librechat_cache_write_tokens_total": ("model",),
    "librechat_messages_per_endpoint_total": ("endpoint",),
    "librechat_messages_per_endpoint_5m": ("endpoint",),
    "librechat_errors_per_endpoint_total": ("endpoint",),
    "librechat_errors_per_endpoint_5m": ("endpoint",),
    "librechat_unfinished_replies_total": ("model",),
    "librechat_unfinished_replies_5m": ("model",),
    "librechat_agent_replies_total": ("agent_id",),
    "librechat_agent_replies_5m": ("agent_id",),
    "librechat_agent_errors_total": ("agent_id",),
    "librechat_agent_errors_5m": ("agent_id",),
    "librechat_agent_info": ("agent_id", "model", "name", "provider"),
    "librechat_agent_spend_usd_total": ("agent_id",),
    "librechat_agent_active_users": ("agent_id",),
    "librechat_agent_daily_users": ("agent_id",),
    "librechat_agent_weekly_users": ("agent_id",),
    "librechat_agent_monthly_users": ("agent_id",),
    "librechat_response_time_seconds_bucket": ("le", "model"),
    "librechat_response_time_seconds_sum": ("model",),
    "librechat_response_time_seconds_count": ("model",),
    "librechat_balance_credits_usd": (),
    "librechat_balance_reserved_usd": (),
    "librechat_balance_users_at_or_below_zero": (),
    "librechat_balance_auto_refill_users": (),
    # issue #20: scheduled chats
    "librechat_schedules": ("state",),
    "librechat_schedule_runs": ("status",),
    "librechat_schedule_failed_runs_by_mcp_status": ("mcp_status",),
    "librechat_schedule_run_duration_seconds_bucket": ("le", "status"),
    "librechat_schedule_run_duration_seconds_sum": ("status",),
    "librechat_schedule_run_duration_seconds_count": ("status",),
    # the page's numbers: messages and spend per model in the current calendar day, week and month
    "librechat_daily_messages": (),
    "librechat_weekly_messages": (),
    "librechat_monthly_messages": (),
    "librechat_daily_spend_usd": ("model",),
    "librechat_weekly_spend_usd": ("model",),
    "librechat_monthly_spend_usd": ("model",),
    # cost per group (chargeback)
    "librechat_group_spend_usd_total": ("group",),
    "librechat_group_active_users": ("group",),
}

# Upper bounds of the response-time histogram (OpenTelemetry gen_ai.client.operation.duration), as
# prometheus_client writes them.
HISTOGRAM_BOUNDS = (
    ("0.01", 0.01), ("0.02", 0.02), ("0.04", 0.04), ("0.08", 0.08), ("0.16", 0.16), ("0.32", 0.32),
    ("0.64", 0.64), ("1.28", 1.28), ("2.56", 2.56), ("5.12", 5.12), ("10.24", 10.24), ("20.48", 20.48),
    ("40.96", 40.96), ("81.92", 81.92), ("+Inf", math.inf),
)  # fmt: skip

# Upper bounds (seconds) of the schedule-run duration histogram, as prometheus_client writes them.
RUN_BOUNDS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
RUN_STATUSES = ("started", "requires_action", "success", "error", "interrupted", "skipped_overlap",
                "skipped_balance")  # fmt: skip
FINISHED_RUNS = ("success", "error", "interrupted")

HISTORY_TABLES = (
    "daily_users",
    "daily_messages",
    "daily_messages_by_model",
    "daily_tokens_by_model",
    "daily_tokens_by_user",
    "daily_errors_by_model",
    "daily_registrations",
    "daily_retention",
    "daily_churn",
    "daily_user_messages",
    "weekly_users",
    "monthly_users",
    "weekly_retention",
    "daily_cost_by_model",
    "daily_messages_by_endpoint",
    "daily_unfinished_by_model",
    "daily_replies_by_agent",
    "daily_response_time_by_model",
    "daily_spend_by_agent",
    "daily_schedule_runs",
    "daily_cost_by_group",
    "daily_users_by_agent",
    "agent_info",
)

TOOL_ERROR_RE = re.compile(re.escape("error processing tool"), re.IGNORECASE)
TOOL_THREW_RE = re.compile(r"^Error: [\s\S]*\n Please fix your mistakes\.")  # @librechat/agents ToolNode


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def as_utc(value: Any) -> datetime | None:
    """A datetime as tz-aware UTC (naive means UTC); None for anything that is not a datetime."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def created_at(doc: Doc) -> datetime | None:
    """The document's ``createdAt`` as aware UTC, or None when it is not a date (in no window)."""
    return as_utc(doc.get("createdAt"))


def transaction_time(doc: Doc) -> datetime | None:
    """Transactions are windowed by the time in their ObjectId ``_id`` (second precision)."""
    oid = doc.get("_id")
    if isinstance(oid, ObjectId):
        return oid.generation_time.astimezone(UTC)
    return None  # JUDGEMENT: an _id that is not an ObjectId puts the transaction in no window


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """00:00 local time of ``day`` in ``zone``, as aware UTC (zoneinfo's default fold=0)."""
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Terms
# --------------------------------------------------------------------------------------------


def is_assistant(msg: Doc) -> bool:
    """Assistant message: isCreatedByUser is False; if it is not a bool, sender != "User"."""
    flag = msg.get("isCreatedByUser")
    if isinstance(flag, bool):
        return flag is False
    return msg.get("sender") != "User"


def is_error(msg: Doc) -> bool:
    """Error message: ``error`` is True, or ``content`` is a list holding a dict with type "error"."""
    if msg.get("error") is True:
        return True
    content = msg.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "error":
                return True
    return False


def tool_calls(msg: Doc) -> list[Doc]:
    """Every element of a ``content`` list that is a dict with type "tool_call"."""
    calls = []
    content = msg.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "tool_call":
                calls.append(part)
    return calls


def has_tools(msg: Doc) -> bool:
    """Message with tools: at least one tool call in ``content``."""
    return len(tool_calls(msg)) > 0


def tool_call_body(part: Doc) -> Doc:
    """The ``tool_call`` sub-document of a tool-call part ({} when missing or not a dict)."""
    body = part.get("tool_call")
    if isinstance(body, dict):
        return body
    return {}


def failed_text(value: Any) -> bool:
    """A string in one of the failed-call shapes @librechat/agents writes: it contains "error processing
    tool" (any case; Graph's tool-error handler), or starts with "Error: " and holds
    "\\n Please fix your mistakes." (ToolNode: a tool that threw or reported an error, e.g. MCP)."""
    if not isinstance(value, str):
        return False
    return TOOL_ERROR_RE.search(value) is not None or TOOL_THREW_RE.search(value) is not None


def tool_call_failed(part: Doc) -> bool:
    """Failed: output is a failed-call string, or a list holding one as a string element or as the
    ``text`` of a ``{type: "text"}`` part (an output given as an array of content parts)."""
    output = tool_call_body(part).get("output")
    if isinstance(output, list):
        return any(
            failed_text(element)
            or (
                isinstance(element, dict)
                and element.get("type") == "text"
                and failed_text(element.get("text"))
            )
            for element in output
        )
    return failed_text(output)


NUMBER_LIMIT = 1e300  # semantics.md: a valid number is at most 1e300 in magnitude


def as_number(value: Any) -> int | float | None:
    """A valid number: an int (Int64 is one) or float, never a boolean, or a Decimal128 as float;
    finite and at most NUMBER_LIMIT in magnitude. None for anything else."""
    if isinstance(value, Decimal128):
        try:
            value = float(value.to_decimal())
        except (ArithmeticError, ValueError, OverflowError):
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if abs(value) <= NUMBER_LIMIT else None


def valid_token_count(value: Any) -> bool:
    """A tokenCount is valid when it is a valid number (as_number) and >= 0."""
    number = as_number(value)
    return number is not None and number >= 0


def valid_raw_amount(value: Any) -> bool:
    """A rawAmount is valid when it is a valid number (as_number), any sign."""
    return as_number(value) is not None


def counted_transactions(collections: Collections) -> list[tuple[Doc, str, int | float]]:
    """(document, "prompt"/"completion", |rawAmount|) for every transaction that counts."""
    counted = []
    for tx in collections.get("transactions", []):
        kind = tx.get("tokenType")
        if kind not in ("prompt", "completion"):
            continue  # credits (and anything else) never count
        raw = tx.get("rawAmount")
        if not valid_raw_amount(raw):
            continue  # the document is ignored entirely
        counted.append((tx, kind, abs(as_number(raw))))
    return counted


def resolve_token_source(collections: Collections, token_source: str) -> str:
    """auto -> transactions when any transaction counts (whole collection), else messages."""
    if token_source not in TOKEN_SOURCES:
        raise ValueError(f"token_source must be one of {TOKEN_SOURCES}, not {token_source!r}")
    if token_source != "auto":
        return token_source
    if counted_transactions(collections):
        return "transactions"
    return "messages"


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def sanitise(value: str) -> str:
    """Replace characters below U+0020 and U+007F by a space, then cut to 200 characters."""
    chars = []
    for ch in value:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            chars.append(" ")
        else:
            chars.append(ch)
    return "".join(chars)[:200]


def plain_label(value: Any) -> str:
    """The model rule without agent lookup: None/""/missing -> unknown, str as is, else str()."""
    if value is None or value == "":
        return sanitise("unknown")
    if isinstance(value, str):
        return sanitise(value)
    return sanitise(str(value))


def agents_by_id(collections: Collections) -> dict[str, Doc]:
    """The agents document of each string id: of several sharing an id, the oldest (smallest ObjectId
    `_id`; documents without an ObjectId `_id` after those, in collection order) decides everything."""

    def age(agent: Doc) -> tuple[int, bytes]:
        oid = agent.get("_id")
        return (0, oid.binary) if isinstance(oid, ObjectId) else (1, b"")

    chosen: dict[str, Doc] = {}
    for agent in sorted(collections.get("agents", []), key=age):
        agent_id = agent.get("id")
        if isinstance(agent_id, str) and agent_id not in chosen:
            chosen[agent_id] = agent
    return chosen


def agent_models(collections: Collections) -> dict[str, str]:
    """agents.id -> agents.model of the id's document (agents_by_id), when a non-empty string."""
    mapping: dict[str, str] = {}
    for agent_id, agent in agents_by_id(collections).items():
        model = agent.get("model")
        if isinstance(model, str) and model != "":
            mapping[agent_id] = model
    return mapping


def model_label(value: Any, agents: dict[str, str]) -> str:
    """Model label: agent_* ids with a known agent map to the agent's model; else plain_label."""
    if isinstance(value, str) and value.startswith("agent_") and value in agents:
        return sanitise(agents[value])
    return plain_label(value)


# semantics.md "Labels", model: one model per message whose model is an agent id.
LEDGER_LAG = timedelta(minutes=5)


class Models(dict):
    """The agents' current models (a plain agent map, for model_label), plus what labels a message
    whose model is an agent id: the ledger (messageId -> the model its transactions name) and each
    agent's versions [(updatedAt, model)], ascending (a tie: the later array entry wins)."""

    ledger: dict[str, str]
    versions: dict[str, list[tuple[datetime, str]]]
    bounds: list[datetime] | None = None  # with ledgers: the ledger of each window [bounds[i], bounds[i+1])
    ledgers: list[dict[str, str]] | None = None


def agent_reply_ids(collections: Collections) -> set[str]:
    """messageIds (strings) of the agent replies: assistant messages whose model is an agent id."""
    return {
        m["messageId"]
        for m in collections.get("messages", [])
        if is_assistant(m) and isinstance(m.get("model"), str) and m["model"].startswith("agent_")
        and isinstance(m.get("messageId"), str)
    }  # fmt: skip


def ledger_of(
    collections: Collections, lo: datetime | None = None, hi: datetime | None = None
) -> dict[str, str]:
    """messageId of an agent reply -> the model (a non-empty string) with the most |rawAmount| among its
    counted transactions (a tie: the smallest); with lo/hi, only transactions whose ObjectId time is in
    [lo - 5 min, hi) count (the history's day, the report's runs of days)."""
    replies = agent_reply_ids(collections)
    tokens: dict[str, dict[str, Fraction]] = {}
    for tx, _, amount in counted_transactions(collections):
        message_id, model = tx.get("messageId"), tx.get("model")
        if message_id not in replies or not isinstance(model, str) or model == "":
            continue
        if lo is not None:
            when = transaction_time(tx)
            if when is None or not (lo - LEDGER_LAG <= when < hi):
                continue
        per = tokens.setdefault(message_id, {})
        per[model] = per.get(model, Fraction(0)) + Fraction(amount)
    return {mid: min(per, key=lambda m, per=per: (-per[m], m)) for mid, per in tokens.items()}


def models_of(collections: Collections, ledger: dict[str, str] | None = None) -> Models:
    """The agent map with the agents' versions and a ledger (default: every transaction's)."""
    out = Models(agent_models(collections))
    out.ledger = ledger_of(collections) if ledger is None else ledger
    out.versions = {}
    for agent_id, agent in agents_by_id(collections).items():
        if not agent_id.startswith("agent_"):
            continue
        entries = []
        for i, version in enumerate(agent.get("versions") if isinstance(agent.get("versions"), list) else []):
            if isinstance(version, dict):
                when, model = version.get("updatedAt"), version.get("model")
                if isinstance(when, datetime) and isinstance(model, str) and model != "":
                    entries.append((as_utc(when), i, model))
        out.versions[agent_id] = [(when, model) for when, _, model in sorted(entries)]
    return out


def with_ledger(models: Models, ledger: dict[str, str]) -> Models:
    """The same agents with another ledger."""
    out = Models(models)
    out.ledger, out.versions = ledger, models.versions
    return out


def windowed(collections: Collections, models: Models, bounds: list[datetime]) -> Models:
    """The same agents; a message's ledger is that of the window its createdAt (or `at`) is in, from
    the transactions of that window and the 5 minutes before (the history's days, the report's runs)."""
    out = with_ledger(models, {})
    out.bounds = bounds
    out.ledgers = [ledger_of(collections, lo, hi) for lo, hi in itertools.pairwise(bounds)]
    return out


def msg_model(msg: Doc, agents: dict[str, str], at: datetime | None = None) -> str:
    """A message's model label. Its model is an agent id: the model its transactions name, else the
    agent version's in force at its createdAt (the last with updatedAt <= createdAt), else the agent's
    current model; else (and for every other message) model_label. With windowed ledgers, the ledger
    is that of the window of `at` (default: the message's createdAt)."""
    value = msg.get("model")
    if not (isinstance(agents, Models) and isinstance(value, str) and value.startswith("agent_")):
        return model_label(value, agents)
    ledger = agents.ledger
    if agents.bounds is not None and agents.ledgers is not None:
        i = window_index(agents.bounds, at or created_at(msg))
        ledger = agents.ledgers[i] if i is not None else {}
    message_id = msg.get("messageId")
    if isinstance(message_id, str) and message_id in ledger:
        return model_label(ledger[message_id], agents)
    when = created_at(msg)
    in_force = [model for at, model in agents.versions.get(value, []) if when is not None and at <= when]
    if in_force:
        return model_label(in_force[-1], agents)
    return model_label(value, agents)


def tag_label(feedback: Doc) -> str | None:
    """Tag label of a feedback sub-document; None means "no tag"."""
    tag = feedback.get("tag")
    if tag is None:
        return None
    if isinstance(tag, str):
        text = tag
    elif isinstance(tag, dict) and "key" in tag:
        text = str(tag["key"])  # JUDGEMENT: {"key": None} gives "None", as str() does
    else:
        text = str(tag)
    if text == "":
        return None  # JUDGEMENT: also applied to {"key": ""}
    return sanitise(text)


def rating_of(msg: Doc) -> str | None:
    """ "thumbsUp"/"thumbsDown" when feedback.rating is one of those, else None (not rated)."""
    feedback = msg.get("feedback")
    if not isinstance(feedback, dict):
        return None
    rating = feedback.get("rating")
    if rating == "thumbsUp" or rating == "thumbsDown":
        return rating
    return None


def distinct_key(value: Any) -> Any:
    """Python-value identity for distinct counts (5 == 5.0); unhashable values by their repr."""
    try:
        hash(value)
    except TypeError:
        return ("unhashable", repr(value))
    return value


def key(**labels: str) -> LabelKey:
    """Sorted tuple of (label_name, label_value) pairs."""
    return tuple(sorted(labels.items()))


def total(values: list[int | float]) -> int | float:
    """Exact int sum when every value is an int, else a correctly rounded float sum."""
    if all(isinstance(v, int) for v in values):
        return sum(values)
    return math.fsum(values)


# --------------------------------------------------------------------------------------------
# Messages token source: earliest assistant reply
# --------------------------------------------------------------------------------------------


def reply_sort_key(msg: Doc) -> tuple[int, datetime, bytes]:
    """Order replies by createdAt then _id; replies without a date createdAt sort first."""
    when = created_at(msg)
    oid = msg.get("_id")
    oid_bytes = oid.binary if isinstance(oid, ObjectId) else b""
    if when is None:
        return (0, datetime.min.replace(tzinfo=UTC), oid_bytes)
    return (1, when, oid_bytes)


def earliest_reply_models(messages: list[Doc], agents: dict[str, str]) -> dict[Any, Doc]:
    """messageId -> its earliest assistant reply (parentMessageId == messageId)."""
    replies: dict[Any, list[Doc]] = {}
    for msg in messages:
        if not is_assistant(msg):
            continue
        parent = msg.get("parentMessageId")
        if parent is None:
            continue
        replies.setdefault(distinct_key(parent), []).append(msg)
    result: dict[Any, str] = {}
    for parent, candidates in replies.items():
        first = min(candidates, key=reply_sort_key)
        result[parent] = first
    return result


def input_model_of(user_msg: Doc, replies: dict[Any, Doc], agents: dict[str, str]) -> str:
    """Model label a user message's input is attributed to ("unknown" without a reply): its earliest
    reply's (with windowed ledgers, the ledger of the user message's window)."""
    message_id = user_msg.get("messageId")
    if message_id is None:
        return plain_label(None)  # JUDGEMENT: no messageId -> no reply
    reply = replies.get(distinct_key(message_id))
    return plain_label(None) if reply is None else msg_model(reply, agents, created_at(user_msg))


# --------------------------------------------------------------------------------------------
# Exporter
# --------------------------------------------------------------------------------------------


def add(bucket: dict[LabelKey, list], label_key: LabelKey, value: Any) -> None:
    """Append ``value`` to the list kept for ``label_key``."""
    bucket.setdefault(label_key, []).append(value)


def labelled_sums(bucket: dict[LabelKey, list]) -> dict[LabelKey, float]:
    """Sum each label set's values; label sets whose sum is 0 get no sample."""
    out: dict[LabelKey, float] = {}
    for label_key, values in bucket.items():
        value = float(total(values))
        if value != 0:
            out[label_key] = value
    return out


# --------------------------------------------------------------------------------------------
# Origin of a message (semantics.md "Origin")
# --------------------------------------------------------------------------------------------

NO_PARENT = "00000000-0000-0000-0000-000000000000"
ORIGINS = ("person", "schedule", "agent_event")
RUN_STATUSES = {"started", "requires_action", "success", "error", "interrupted", "skipped_overlap",
                "skipped_balance"}  # fmt: skip


def message_origins(collections: Collections) -> dict[int, str]:
    """id(message document) -> "person", "schedule" or "agent_event", straight from the definition:
    a trigger message (subagentTriggerProjection is an object) and an assistant reply to one in the
    same conversation are agent_event; in a conversation named by a run row (a status of the schema,
    a date firedAt, a string conversationId), the earliest root user message (parentMessageId
    NO_PARENT; createdAt, undated last, then _id) and the assistant replies to it are schedule."""
    messages = collections.get("messages", [])
    runs = set()
    for run in collections.get("scheduleruns", []):
        if (
            run.get("status") in RUN_STATUSES
            and isinstance(run.get("firedAt"), datetime)
            and isinstance(run.get("conversationId"), str)
        ):
            runs.add(run["conversationId"])
    first: dict[str, Doc] = {}
    for msg in messages:
        conv = distinct_key(msg.get("conversationId"))
        if conv not in runs or is_assistant(msg) or msg.get("parentMessageId") != NO_PARENT:
            continue
        if not isinstance(msg.get("messageId"), str):
            continue
        if conv not in first or root_order(msg) < root_order(first[conv]):
            first[conv] = msg
    prompts = {(conv, msg["messageId"]) for conv, msg in first.items()}
    triggers = set()
    for msg in messages:
        if isinstance(msg.get("subagentTriggerProjection"), dict) and isinstance(msg.get("messageId"), str):
            triggers.add((distinct_key(msg.get("conversationId")), msg["messageId"]))
    out = {}
    for msg in messages:
        conv = distinct_key(msg.get("conversationId"))
        reply_to = (conv, distinct_key(msg.get("parentMessageId")))
        trigger = isinstance(msg.get("subagentTriggerProjection"), dict)
        prompt = (conv, distinct_key(msg.get("messageId"))) in prompts
        if trigger or (is_assistant(msg) and reply_to in triggers):
            out[id(msg)] = "agent_event"
        elif prompt or (is_assistant(msg) and reply_to in prompts):
            out[id(msg)] = "schedule"
        else:
            out[id(msg)] = "person"
    return out


def root_order(msg: Doc) -> tuple[bool, datetime, str]:
    """Earliest first: dated before undated, then createdAt, then the _id's text."""
    when = created_at(msg)
    return (when is None, when or datetime.min.replace(tzinfo=UTC), str(msg.get("_id")))


# semantics.md "Expired documents": messages and conversations whose expiredAt has passed are hidden.
EXPIRING = ("messages", "conversations")


def is_visible(doc: Doc, now: datetime) -> bool:
    """LibreChat still shows the document at ``now``: expiredAt missing or null, or a date after now
    (anything else, an array included, hides it)."""
    expired_at = doc.get("expiredAt")
    if expired_at is None:
        return True
    when = as_utc(expired_at) if isinstance(expired_at, datetime) else None
    return when is not None and when > now


def visible_only(collections: Collections, now: datetime | None) -> Collections:
    """The collections as LibreChat shows them at ``now`` (default: the clock)."""
    at = as_utc(now) if now is not None else datetime.now(UTC)
    assert at is not None
    return {
        name: [doc for doc in docs if is_visible(doc, at)] if name in EXPIRING else docs
        for name, docs in collections.items()
    }


def exporter_samples(
    collections: Collections, now: datetime, tz: str = "UTC", token_source: str = "auto"
) -> Samples:
    """Every exporter family of semantics.md, computed from raw documents at instant ``now``."""
    zone = ZoneInfo(tz)
    now_utc = as_utc(now)
    if now_utc is None:
        raise TypeError("now must be a datetime")
    collections = visible_only(collections, now_utc)
    bound_5m = now_utc - timedelta(seconds=300)
    today = now_utc.astimezone(zone).date()
    day_start = local_midnight(today, zone)
    week_start = local_midnight(today - timedelta(days=today.weekday()), zone)
    month_start = local_midnight(today.replace(day=1), zone)

    messages = collections.get("messages", [])
    agents = models_of(collections)
    source = resolve_token_source(collections, token_source)

    def in_5m(msg: Doc) -> bool:
        when = created_at(msg)
        return when is not None and when >= bound_5m

    out: Samples = {name: {} for name in FAMILIES}

    # --- plain counts and errors -------------------------------------------------------------
    n_messages = 0
    n_messages_5m = 0
    n_errors = 0
    n_errors_5m = 0
    n_replies_5m = 0  # assistant messages in the window ("Assistant message"), and those that are errors
    n_error_replies_5m = 0
    errors_per_model: dict[LabelKey, list] = {}
    errors_per_model_5m: dict[LabelKey, list] = {}
    messages_per_model: dict[LabelKey, list] = {}
    messages_per_model_5m: dict[LabelKey, list] = {}
    for msg in messages:
        label = key(model=msg_model(msg, agents))
        n_messages += 1
        if in_5m(msg):
            n_messages_5m += 1
        if is_error(msg):
            n_errors += 1
            add(errors_per_model, label, 1)
            if in_5m(msg):
                n_errors_5m += 1
                add(errors_per_model_5m, label, 1)
        if is_assistant(msg):
            add(messages_per_model, label, 1)
            if in_5m(msg):
                add(messages_per_model_5m, label, 1)
                n_replies_5m += 1
                n_error_replies_5m += is_error(msg)
    out["librechat_messages_total"][()] = float(n_messages)
    by_origin = {origin: 0 for origin in ORIGINS}
    for origin in message_origins(collections).values():
        by_origin[origin] += 1
    out["librechat_messages_by_origin_total"] = {key(origin=o): float(n) for o, n in by_origin.items()}
    out["librechat_messages_5m"][()] = float(n_messages_5m)
    out["librechat_error_messages_total"][()] = float(n_errors)
    out["librechat_error_messages_5m"][()] = float(n_errors_5m)
    out["librechat_replies_5m"][()] = float(n_replies_5m)
    out["librechat_error_replies_5m"][()] = float(n_error_replies_5m)
    out["librechat_errors_per_model_total"] = labelled_sums(errors_per_model)
    out["librechat_errors_per_model_5m"] = labelled_sums(errors_per_model_5m)
    out["librechat_messages_per_model_total"] = labelled_sums(messages_per_model)
    out["librechat_messages_per_model_5m"] = labelled_sums(messages_per_model_5m)
    out["librechat_conversations_total"][()] = float(len(collections.get("conversations", [])))
    out["librechat_registered_users_total"][()] = float(len(collections.get("users", [])))
    out["librechat_uploaded_files_total"][()] = float(len(collections.get("files", [])))

    # --- tokens ------------------------------------------------------------------------------
    input_all: list = []
    output_all: list = []
    input_5m: list = []
    output_5m: list = []
    input_per_model: dict[LabelKey, list] = {}
    output_per_model: dict[LabelKey, list] = {}
    input_per_model_5m: dict[LabelKey, list] = {}
    output_per_model_5m: dict[LabelKey, list] = {}
    if source == "transactions":
        for tx, kind, amount in counted_transactions(collections):
            label = key(model=model_label(tx.get("model"), agents))
            when = transaction_time(tx)
            recent = when is not None and when >= bound_5m
            if kind == "prompt":
                input_all.append(amount)
                add(input_per_model, label, amount)
                if recent:
                    input_5m.append(amount)
                    add(input_per_model_5m, label, amount)
            else:
                output_all.append(amount)
                add(output_per_model, label, amount)
                if recent:
                    output_5m.append(amount)
                    add(output_per_model_5m, label, amount)
    else:
        reply_models = earliest_reply_models(messages, agents)
        for msg in messages:
            tokens = as_number(msg.get("tokenCount"))
            if not valid_token_count(tokens):
                continue  # counts as 0 tokens
            if is_assistant(msg):
                label = key(model=msg_model(msg, agents))
                output_all.append(tokens)
                add(output_per_model, label, tokens)
                if in_5m(msg):
                    output_5m.append(tokens)
                    add(output_per_model_5m, label, tokens)
            else:
                label = key(model=input_model_of(msg, reply_models, agents))
                input_all.append(tokens)
                add(input_per_model, label, tokens)
                if in_5m(msg):  # JUDGEMENT: the reply itself may lie outside the window
                    input_5m.append(tokens)
                    add(input_per_model_5m, label, tokens)
    out["librechat_input_tokens_total"][()] = float(total(input_all))
    out["librechat_output_tokens_total"][()] = float(total(output_all))
    out["librechat_input_tokens_5m"][()] = float(total(input_5m))
    out["librechat_output_tokens_5m"][()] = float(total(output_5m))
    out["librechat_input_tokens_per_model_total"] = labelled_sums(input_per_model)
    out["librechat_output_tokens_per_model_total"] = labelled_sums(output_per_model)
    out["librechat_model_input_tokens_5m"] = labelled_sums(input_per_model_5m)
    out["librechat_model_output_tokens_5m"] = labelled_sums(output_per_model_5m)

    # --- users and conversations -------------------------------------------------------------
    active_users = set()
    active_conversations = set()
    daily_users = set()
    weekly_users = set()
    monthly_users = set()
    origins = message_origins(collections)
    for msg in messages:
        when = created_at(msg)
        if when is None:
            continue
        user = msg.get("user") if origins[id(msg)] == "person" else None  # users are people
        conversation = msg.get("conversationId")
        if when >= bound_5m:
            if user is not None:
                active_users.add(distinct_key(user))
            if conversation is not None:
                active_conversations.add(distinct_key(conversation))
        if user is not None:
            if when >= day_start:
                daily_users.add(distinct_key(user))
            if when >= week_start:
                weekly_users.add(distinct_key(user))
            if when >= month_start:
                monthly_users.add(distinct_key(user))
    out["librechat_active_users"][()] = float(len(active_users))
    calendar = {"daily": day_start, "weekly": week_start, "monthly": month_start}
    for period, start in calendar.items():
        created = [when for when in map(created_at, messages) if when is not None]
        out[f"librechat_{period}_messages"][()] = float(sum(1 for when in created if when >= start))
        spend: dict[LabelKey, list] = {}
        for tx, _, _ in counted_transactions(collections):  # whatever the token source says
            when = transaction_time(tx)
            if when is not None and when >= start:
                usd = Fraction(magnitude(tx, "tokenValue")) / 1_000_000
                add(spend, key(model=model_label(tx.get("model"), agents)), usd)
        out[f"librechat_{period}_spend_usd"] = {k: float(sum(v)) for k, v in spend.items() if sum(v) != 0}
    out["librechat_active_conversations"][()] = float(len(active_conversations))
    out["librechat_daily_unique_users"][()] = float(len(daily_users))
    out["librechat_weekly_unique_users"][()] = float(len(weekly_users))
    out["librechat_monthly_unique_users"][()] = float(len(monthly_users))

    # --- ratings -----------------------------------------------------------------------------
    up = 0
    down = 0
    up_5m = 0
    down_5m = 0
    up_per_model: dict[LabelKey, list] = {}
    down_per_model: dict[LabelKey, list] = {}
    per_tag: dict[LabelKey, list] = {}
    model_tag_up: dict[LabelKey, list] = {}
    model_tag_down: dict[LabelKey, list] = {}
    model_labels_rated: set[str] = set()
    for msg in messages:
        rating = rating_of(msg)
        if rating is None:
            continue
        model = msg_model(msg, agents)
        model_labels_rated.add(model)
        tag = tag_label(msg["feedback"])
        updated = as_utc(msg.get("updatedAt"))
        recent = updated is not None and updated >= bound_5m
        if rating == "thumbsUp":
            up += 1
            add(up_per_model, key(model=model), 1)
            if recent:
                up_5m += 1
            if tag is not None:
                add(model_tag_up, key(model=model, tag=tag), 1)
        else:
            down += 1
            add(down_per_model, key(model=model), 1)
            if recent:
                down_5m += 1
            if tag is not None:
                add(model_tag_down, key(model=model, tag=tag), 1)
        if tag is not None:
            add(per_tag, key(tag=tag), 1)
    out["librechat_thumbs_up_total"][()] = float(up)
    out["librechat_thumbs_down_total"][()] = float(down)
    out["librechat_rated_messages_total"][()] = float(up + down)
    out["librechat_thumbs_up_5m"][()] = float(up_5m)
    out["librechat_thumbs_down_5m"][()] = float(down_5m)
    out["librechat_thumbs_up_per_model"] = labelled_sums(up_per_model)
    out["librechat_thumbs_down_per_model"] = labelled_sums(down_per_model)
    out["librechat_rating_counts_per_tag"] = labelled_sums(per_tag)
    out["librechat_model_tag_thumbs_up"] = labelled_sums(model_tag_up)
    out["librechat_model_tag_thumbs_down"] = labelled_sums(model_tag_down)
    for model in model_labels_rated:
        model_up = len(up_per_model.get(key(model=model), []))
        model_down = len(down_per_model.get(key(model=model), []))
        if model_up + model_down > 0:
            ratio = 100.0 * model_up / (model_up + model_down)
            out["librechat_rating_ratio_per_model"][key(model=model)] = ratio
    if up + down > 0:
        out["librechat_overall_rating_ratio"][()] = 100.0 * up / (up + down)

    # --- tools -------------------------------------------------------------------------------
    n_calls = 0
    n_failed = 0
    n_calls_5m = 0
    n_failed_5m = 0
    n_with_tools = 0
    tool_users_5m = set()
    calls_per_tool: dict[LabelKey, list] = {}
    calls_per_model: dict[LabelKey, list] = {}
    calls_per_endpoint: dict[LabelKey, list] = {}
    failed_per_tool: dict[LabelKey, list] = {}
    calls_per_tool_5m: dict[LabelKey, list] = {}
    for msg in messages:
        calls = tool_calls(msg)
        if not calls:
            continue
        n_with_tools += 1
        recent = in_5m(msg)
        if recent and msg.get("user") is not None and origins[id(msg)] == "person":
            tool_users_5m.add(distinct_key(msg.get("user")))
        model = msg_model(msg, agents)
        endpoint = plain_label(msg.get("endpoint"))
        for part in calls:
            name = plain_label(tool_call_body(part).get("name"))
            failed = tool_call_failed(part)
            n_calls += 1
            add(calls_per_tool, key(tool_name=name), 1)
            add(calls_per_model, key(model=model, tool_name=name), 1)
            add(calls_per_endpoint, key(api_endpoint=endpoint, tool_name=name), 1)
            if failed:
                n_failed += 1
                add(failed_per_tool, key(tool_name=name), 1)
            if recent:
                n_calls_5m += 1
                add(calls_per_tool_5m, key(tool_name=name), 1)
                if failed:
                    n_failed_5m += 1
    out["librechat_tool_calls_total"][()] = float(n_calls)
    out["librechat_tool_call_errors_total"][()] = float(n_failed)
    out["librechat_tool_calls_5m"][()] = float(n_calls_5m)
    out["librechat_tool_call_errors_5m"][()] = float(n_failed_5m)
    out["librechat_messages_with_tools_total"][()] = float(n_with_tools)
    out["librechat_active_tool_users"][()] = float(len(tool_users_5m))
    out["librechat_tool_calls_per_tool"] = labelled_sums(calls_per_tool)
    out["librechat_tool_calls_per_model"] = labelled_sums(calls_per_model)
    out["librechat_tool_calls_per_endpoint"] = labelled_sums(calls_per_endpoint)
    out["librechat_tool_call_errors_per_tool_total"] = labelled_sums(failed_per_tool)
    out["librechat_tool_calls_per_tool_5m"] = labelled_sums(calls_per_tool_5m)
    for label_key, values in calls_per_tool.items():
        calls_count = len(values)
        failed_count = len(failed_per_tool.get(label_key, []))
        out["librechat_tool_success_rate_per_tool"][label_key] = (
            100.0 * (calls_count - failed_count) / calls_count
        )

    out.update(engagement_samples(collections, now_utc))
    cost_samples(out, collections, messages, agents, in_5m, bound_5m)
    group_samples(out, collections, [m for m in messages if origins[id(m)] == "person"], day_start)
    agent_users = {name: {} for name in ("active", "daily", "weekly", "monthly")}
    starts = {"active": bound_5m, "daily": day_start, "weekly": week_start, "monthly": month_start}
    for msg in messages:
        agent, when, user = agent_id_of(msg), created_at(msg), msg.get("user")
        if agent is None or when is None or user is None or origins[id(msg)] != "person":
            continue
        for name, start in starts.items():
            if when >= start:
                agent_users[name].setdefault(key(agent_id=agent), set()).add(distinct_key(user))
    for name, users in agent_users.items():
        out[f"librechat_agent_{name}_users"] = {k: float(len(v)) for k, v in users.items()}

    # --- response time of first replies (semantics.md "Response time") -------------------------
    waits = response_times(messages, in_5m, agents)
    for model, seconds in waits.items():
        out["librechat_responses_5m"][key(model=model)] = float(len(seconds))
        ordered = sorted(seconds)
        for percentile in (50, 90, 99):
            rank = math.ceil(Fraction(percentile, 100) * len(ordered))  # exact arithmetic
            out["librechat_response_time_seconds_5m"][key(model=model, percentile=str(percentile))] = ordered[
                rank - 1
            ]

    return out


def schedule_state(doc: Doc) -> str:
    """`enabled` when enabled is the boolean true, else a non-empty string disabledReason, else `disabled`."""
    if doc.get("enabled") is True:
        return "enabled"
    reason = doc.get("disabledReason")
    return sanitise(reason) if isinstance(reason, str) and reason != "" else "disabled"


def schedule_samples(out: Samples, collections: Collections) -> None:
    """Schedules per state (not `deleting`, not `erased`: LibreChat hides them), stored runs per status
    (statuses of LibreChat's enum), failed runs per MCP status, durations of finished runs."""
    for doc in collections.get("schedules", []):
        if doc.get("deleting") is True or doc.get("erased") is True:
            continue
        label = key(state=schedule_state(doc))
        out["librechat_schedules"][label] = out["librechat_schedules"].get(label, 0.0) + 1
    durations: dict[str, list] = {}
    for run in collections.get("scheduleruns", []):
        status = run.get("status")
        if not isinstance(status, str) or status not in RUN_STATUSES:
            continue
        runs = out["librechat_schedule_runs"]
        runs[key(status=status)] = runs.get(key(status=status), 0.0) + 1
        if status == "error" and isinstance(run.get("mcp"), list):
            seen = set()
            for server in run["mcp"]:
                value = server.get("status") if isinstance(server, dict) else None
                seen.add(sanitise(value) if isinstance(value, str) and value != "" else "unknown")
            failed = out["librechat_schedule_failed_runs_by_mcp_status"]
            for value in seen:
                failed[key(mcp_status=value)] = failed.get(key(mcp_status=value), 0.0) + 1
        millis = exact_number(run.get("durationMs"))
        if status in FINISHED_RUNS and millis is not None and millis >= 0:
            durations.setdefault(status, []).append(millis / 1000)
    for status, seconds in durations.items():
        for bound in RUN_BOUNDS:
            below = sum(1 for s in seconds if s <= Fraction(bound))
            out["librechat_schedule_run_duration_seconds_bucket"][key(status=status, le=str(bound))] = float(
                below
            )
        out["librechat_schedule_run_duration_seconds_bucket"][key(status=status, le="+Inf")] = float(
            len(seconds)
        )
        out["librechat_schedule_run_duration_seconds_sum"][key(status=status)] = float(sum(seconds))
        out["librechat_schedule_run_duration_seconds_count"][key(status=status)] = float(len(seconds))


def bson_order(value: Any) -> tuple[int, Any]:
    """A sort key in MongoDB's order of BSON types (numbers, strings, documents, ..., ObjectId, bool,
    date) for the `_id`s the fixtures use."""
    if isinstance(value, bool):
        return (8, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, ObjectId):
        return (7, value.binary)
    if isinstance(value, datetime):
        return (9, as_utc(value))
    return (3, repr(value))  # JUDGEMENT: other _id types are not written by LibreChat


def effective_balances(balances: list[Doc]) -> list[Doc]:
    """The document LibreChat reads for each user: the oldest by _id (findOne({user}).sort({_id: 1}));
    documents without a user are never read."""
    oldest: dict[Any, Doc] = {}
    for doc in balances:
        user = doc.get("user")
        if user is None:
            continue
        mine = oldest.get(distinct_key(user))
        if mine is None or bson_order(doc.get("_id")) < bson_order(mine.get("_id")):
            oldest[distinct_key(user)] = doc
    return list(oldest.values())


def reserved_credits(balance: Doc, now: datetime) -> Fraction:
    """Credits held by unexpired reservations (findBalanceByUser with includeReservedCredits): the sum
    of `amount` over `reservations` whose `expiresAt` is after now; `reservedCredits` is not read."""
    reservations = balance.get("reservations")
    if not isinstance(reservations, list):
        return Fraction(0)
    held = Fraction(0)
    for part in reservations:
        amount = exact_number(part.get("amount")) if isinstance(part, dict) else None
        expires = as_utc(part.get("expiresAt")) if isinstance(part, dict) else None
        if amount is not None and expires is not None and expires > now:
            held += amount
    return held


def exact_number(value: Any) -> Fraction | None:
    """The exact value of a valid number (as_number), else None."""
    if as_number(value) is None:
        return None
    return Fraction(value.to_decimal() if isinstance(value, Decimal128) else value)


def page_numbers(collections: Collections, now: datetime) -> dict[str, float | None]:
    """The page's two numbers that are no family, over the 5m window (None where there is nothing):
    the error share of replies (assistant messages that are error messages / assistant messages) and
    the nearest-rank p90 of every first reply's wait, all models together."""
    now_utc = as_utc(now)
    if now_utc is None:
        raise TypeError("now must be a datetime")
    bound_5m = now_utc - timedelta(seconds=300)
    collections = visible_only(collections, now_utc)

    def in_5m(msg: Doc) -> bool:
        when = created_at(msg)
        return when is not None and when >= bound_5m

    messages = collections.get("messages", [])
    replies = [msg for msg in messages if is_assistant(msg) and in_5m(msg)]
    errors = [msg for msg in replies if is_error(msg)]
    waits = sorted(
        s for seconds in response_times(messages, in_5m, models_of(collections)).values() for s in seconds
    )
    p90 = waits[math.ceil(Fraction(90, 100) * len(waits)) - 1] if waits else None
    return {"error_share_5m": len(errors) / len(replies) if replies else None, "p90_5m": p90}


def valid_number(value: Any) -> bool:
    """A valid number (as_number): tokenValue, readTokens, writeTokens, tokenCredits."""
    return as_number(value) is not None


def magnitude(doc: Doc, field: str) -> int | float:
    """|doc[field]| when it is a valid number, else 0."""
    value = as_number(doc.get(field))
    return abs(value) if value is not None else 0


def is_unfinished(msg: Doc) -> bool:
    """Unfinished reply: an assistant message with unfinished True or finish_reason "incomplete"."""
    return is_assistant(msg) and (msg.get("unfinished") is True or msg.get("finish_reason") == "incomplete")


def agent_id_of(msg: Doc) -> str | None:
    """The agent id of an agent reply (assistant message whose model starts with agent_), else None."""
    model = msg.get("model")
    if is_assistant(msg) and isinstance(model, str) and model.startswith("agent_"):
        return sanitise(model)
    return None


def group_samples(out: Samples, collections: Collections, persons: list[Doc], day_start: datetime) -> None:
    """Cost per group (semantics.md "Groups"): every group label and "(no group)" once any groups
    document exists; all-time spend of the members' counted transactions (a transaction's str(user) in
    no group, or no user: "(no group)"); members with a person message created at or after the local
    midnight (any later createdAt, as librechat_daily_unique_users), "(no group)": the day's distinct
    users that are members of no group (non-string users among them)."""
    members = group_members(collections)
    if not members:
        return
    grouped = set().union(*members.values())
    spend = {name: Fraction(0) for name in [*members, "(no group)"]}
    for doc, _, _ in counted_transactions(collections):
        user = None if doc.get("user") is None else str(doc["user"])
        usd = Fraction(magnitude(doc, "tokenValue")) / 1_000_000
        for name in [n for n, who in members.items() if user in who] or ["(no group)"]:
            spend[name] += usd
    dated = [(m, created_at(m)) for m in persons if m.get("user") is not None]
    today = [m for m, when in dated if when is not None and when >= day_start]
    active = {distinct_key(m["user"]) for m in today}
    ids = {m["user"] for m in today if isinstance(m["user"], str)}
    for name, usd in spend.items():
        out["librechat_group_spend_usd_total"][key(group=name)] = float(usd)
    for name, who in members.items():
        out["librechat_group_active_users"][key(group=name)] = float(len(who & ids))
    out["librechat_group_active_users"][key(group="(no group)")] = float(len(active) - len(grouped & ids))


def cost_samples(
    out: Samples, collections: Collections, messages: list[Doc], agents: dict[str, str], in_5m: Any,
    bound_5m: datetime,
) -> None:  # fmt: skip
    """The issue #12 families (semantics.md "Cost, caching, endpoints, agents ...")."""
    spend: dict[LabelKey, list] = {}
    spend_5m: dict[LabelKey, list] = {}
    reads: dict[LabelKey, list] = {}
    writes: dict[LabelKey, list] = {}
    for doc, kind, _ in counted_transactions(collections):  # whatever the token source says
        label = key(model=model_label(doc.get("model"), agents))
        usd = Fraction(magnitude(doc, "tokenValue")) / 1_000_000
        add(spend, label, usd)
        when = transaction_time(doc)
        if when is not None and when >= bound_5m:
            add(spend_5m, label, usd)
        if kind == "prompt":
            add(reads, label, magnitude(doc, "readTokens"))
            add(writes, label, magnitude(doc, "writeTokens"))
    out["librechat_spend_usd_total"] = {k: float(sum(v)) for k, v in spend.items() if sum(v) != 0}
    replies_by_id: dict[str, list[str]] = {}
    for msg in messages:
        agent = agent_id_of(msg)
        if agent is not None and isinstance(msg.get("messageId"), str):
            replies_by_id.setdefault(msg["messageId"], []).append(agent)
    agent_spend: dict[LabelKey, list] = {}
    for doc, _, _ in counted_transactions(collections):
        message_id = doc.get("messageId")
        for agent in replies_by_id.get(message_id, []) if isinstance(message_id, str) else []:
            add(agent_spend, key(agent_id=agent), Fraction(magnitude(doc, "tokenValue")) / 1_000_000)
    out["librechat_agent_spend_usd_total"] = {k: float(sum(v)) for k, v in agent_spend.items() if sum(v) != 0}
    out["librechat_spend_usd_5m"] = {k: float(sum(v)) for k, v in spend_5m.items() if sum(v) != 0}
    out["librechat_cache_read_tokens_total"] = labelled_sums(reads)
    out["librechat_cache_write_tokens_total"] = labelled_sums(writes)

    buckets = {
        "librechat_messages_per_endpoint": lambda m: is_assistant(m),
        "librechat_errors_per_endpoint": is_error,
    }
    for family, wanted in buckets.items():
        every: dict[LabelKey, list] = {}
        recent: dict[LabelKey, list] = {}
        for msg in messages:
            if wanted(msg):
                label = key(endpoint=plain_label(msg.get("endpoint")))
                add(every, label, 1)
                if in_5m(msg):
                    add(recent, label, 1)
        out[f"{family}_total"] = labelled_sums(every)
        out[f"{family}_5m"] = labelled_sums(recent)

    unfinished: dict[LabelKey, list] = {}
    unfinished_5m: dict[LabelKey, list] = {}
    replies: dict[LabelKey, list] = {}
    replies_5m: dict[LabelKey, list] = {}
    errors: dict[LabelKey, list] = {}
    errors_5m: dict[LabelKey, list] = {}
    for msg in messages:
        if is_unfinished(msg):
            label = key(model=msg_model(msg, agents))
            add(unfinished, label, 1)
            if in_5m(msg):
                add(unfinished_5m, label, 1)
        agent = agent_id_of(msg)
        if agent is not None:
            add(replies, key(agent_id=agent), 1)
            if in_5m(msg):
                add(replies_5m, key(agent_id=agent), 1)
            if is_error(msg):
                add(errors, key(agent_id=agent), 1)
                if in_5m(msg):
                    add(errors_5m, key(agent_id=agent), 1)
    out["librechat_unfinished_replies_total"] = labelled_sums(unfinished)
    out["librechat_unfinished_replies_5m"] = labelled_sums(unfinished_5m)
    out["librechat_agent_replies_total"] = labelled_sums(replies)
    out["librechat_agent_replies_5m"] = labelled_sums(replies_5m)
    out["librechat_agent_errors_total"] = labelled_sums(errors)
    out["librechat_agent_errors_5m"] = labelled_sums(errors_5m)

    for agent_id, agent in agents_by_id(collections).items():
        if not agent_id.startswith("agent_"):
            continue  # as for the model lookup, the id's oldest document decides (agents_by_id)
        labels = {f: plain_label(agent.get(f)) for f in ("name", "provider", "model")}
        out["librechat_agent_info"][key(agent_id=sanitise(agent_id), **labels)] = 1.0

    waits = response_times(messages, lambda m: created_at(m) is not None, agents)  # any date
    for model, seconds in waits.items():
        for le, bound in HISTOGRAM_BOUNDS:
            below = sum(1 for s in seconds if s <= bound)
            out["librechat_response_time_seconds_bucket"][key(model=model, le=le)] = float(below)
        out["librechat_response_time_seconds_sum"][key(model=model)] = math.fsum(seconds)
        out["librechat_response_time_seconds_count"][key(model=model)] = float(len(seconds))

    schedule_samples(out, collections)

    balances = effective_balances(collections.get("balances", []))
    if balances:
        held = [reserved_credits(b, bound_5m + timedelta(seconds=300)) for b in balances]
        credits = [(exact_number(b.get("tokenCredits")), r) for b, r in zip(balances, held, strict=True)]
        credits = [(c, r) for c, r in credits if c is not None]
        positive = sum(Fraction(c) for c, _ in credits if c > 0)
        out["librechat_balance_credits_usd"][()] = float(positive / 1_000_000)
        out["librechat_balance_reserved_usd"][()] = float(sum(held, Fraction(0)) / 1_000_000)
        low = sum(1 for c, r in credits if Fraction(c) - r <= 0)
        out["librechat_balance_users_at_or_below_zero"][()] = float(low)
        auto = sum(1 for b in balances if b.get("autoRefillEnabled") is True)
        out["librechat_balance_auto_refill_users"][()] = float(auto)


def response_times(messages: list[Doc], in_window: Any, agents: dict[str, str]) -> dict[str, list[float]]:
    """Model label -> seconds from the user message to its first reply, for first replies in the window."""
    by_conversation: dict[str, list[Doc]] = {}
    for msg in messages:
        if isinstance(msg.get("conversationId"), str):
            by_conversation.setdefault(msg["conversationId"], []).append(msg)
    waits: dict[str, list[float]] = {}
    for reply in messages:
        parent = reply.get("parentMessageId")
        if not (is_assistant(reply) and in_window(reply) and isinstance(parent, str)):
            continue
        if not isinstance(reply.get("conversationId"), str):
            continue
        conversation = by_conversation[reply["conversationId"]]
        questions = [m for m in conversation if m.get("messageId") == parent]
        if len(questions) != 1 or is_assistant(questions[0]) or created_at(questions[0]) is None:
            continue
        siblings = [m for m in conversation if is_assistant(m) and m.get("parentMessageId") == parent]
        if min(siblings, key=reply_sort_key) is not reply:
            continue  # a regeneration (or a later duplicate): its wait is not recorded
        asked, answered = created_at(questions[0]), created_at(reply)
        if answered < asked:
            continue
        model = msg_model(reply, agents)
        waits.setdefault(model, []).append((answered - asked).total_seconds())
    return waits


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def add_month(month_start: date) -> date:
    """The 1st of the month after ``month_start``."""
    if month_start.month == 12:
        return date(month_start.year + 1, 1, 1)
    return date(month_start.year, month_start.month + 1, 1)


def window_index(bounds: list[datetime], when: datetime | None) -> int | None:
    """Index i with bounds[i] <= when < bounds[i + 1], or None (outside, or not a date)."""
    if when is None:
        return None
    i = bisect.bisect_right(bounds, when) - 1
    if 0 <= i < len(bounds) - 1:
        return i
    return None


def history_rows(
    collections: Collections,
    start: date,
    end: date,
    tz: str = "UTC",
    token_source: str = "auto",
    details: bool = False,
    now: datetime | None = None,
) -> dict[str, set[tuple]]:
    """Every history row of semantics.md for the days ``start``..``end`` (inclusive); ``details``:
    EXPORT_USER_DETAILS (e-mail and name in daily_user_messages); ``now`` (default: the clock) decides
    which weekly_retention rows and columns exist yet, and what has expired."""
    zone = ZoneInfo(tz)
    collections = visible_only(collections, now)
    messages = collections.get("messages", [])
    conversations = collections.get("conversations", [])
    source = resolve_token_source(collections, token_source)
    out: dict[str, set[tuple]] = {table: set() for table in HISTORY_TABLES}
    if end < start:
        return out

    # Day windows: [local midnight D, local midnight D+1) for D in start..end.
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    day_bounds = [local_midnight(d, zone) for d in days] + [local_midnight(end + timedelta(days=1), zone)]
    # an agent message is labelled by the ledger of its day (semantics.md "Labels", model)
    agents = windowed(collections, models_of(collections, {}), day_bounds)

    # Week windows: every ISO week (Monday start) with a day in the range, over its whole span.
    first_monday = start - timedelta(days=start.weekday())
    weeks = []
    monday = first_monday
    while monday <= end:
        weeks.append(monday)
        monday = monday + timedelta(days=7)
    week_bounds = [local_midnight(w, zone) for w in weeks] + [local_midnight(monday, zone)]

    # Month windows: every month with a day in the range, over its whole span.
    months = []
    first = start.replace(day=1)
    while first <= end:
        months.append(first)
        first = add_month(first)
    month_bounds = [local_midnight(m, zone) for m in months] + [local_midnight(first, zone)]

    # daily_users, daily_messages, weekly_users, monthly_users
    users_by_day: dict[date, set] = {d: set() for d in days}
    messages_by_day: dict[date, int] = {d: 0 for d in days}
    users_by_week: dict[date, set] = {w: set() for w in weeks}
    users_by_month: dict[date, set] = {m: set() for m in months}
    origins = message_origins(collections)
    for msg in messages:
        when = created_at(msg)
        user = msg.get("user") if origins[id(msg)] == "person" else None  # users are people
        i = window_index(day_bounds, when)
        if i is not None:
            messages_by_day[days[i]] += 1
            if user is not None:
                users_by_day[days[i]].add(distinct_key(user))
        w = window_index(week_bounds, when)
        if w is not None and user is not None:
            users_by_week[weeks[w]].add(distinct_key(user))
        m = window_index(month_bounds, when)
        if m is not None and user is not None:
            users_by_month[months[m]].add(distinct_key(user))
    conversations_by_day: dict[date, int] = {d: 0 for d in days}
    for conv in conversations:
        i = window_index(day_bounds, created_at(conv))
        if i is not None:
            conversations_by_day[days[i]] += 1
    out["daily_registrations"] = registration_rows(collections, day_bounds, days)
    out["daily_retention"], out["daily_churn"] = retention_and_churn_rows(collections, days, zone)
    out["weekly_retention"] = weekly_retention_rows(collections, start, end, zone, now or datetime.now(UTC))
    for d in days:
        out["daily_users"].add((d, len(users_by_day[d])))
        out["daily_messages"].add((d, messages_by_day[d], conversations_by_day[d]))
    for w in weeks:
        out["weekly_users"].add((w, len(users_by_week[w])))
    for m in months:
        out["monthly_users"].add((m, len(users_by_month[m])))

    # daily_messages_by_model, daily_errors_by_model
    assistant_counts: dict[tuple[date, str], int] = {}
    error_counts: dict[tuple[date, str], int] = {}
    for msg in messages:
        i = window_index(day_bounds, created_at(msg))
        if i is None:
            continue
        model = msg_model(msg, agents)
        if is_assistant(msg):
            assistant_counts[(days[i], model)] = assistant_counts.get((days[i], model), 0) + 1
        if is_error(msg):
            error_counts[(days[i], model)] = error_counts.get((days[i], model), 0) + 1
    for (d, model), count in assistant_counts.items():
        out["daily_messages_by_model"].add((d, model, count))
    for (d, model), count in error_counts.items():
        out["daily_errors_by_model"].add((d, model, count))

    # daily_tokens_by_model, daily_tokens_by_user: (key) -> ([input values], [output values])
    by_model: dict[tuple[date, str], tuple[list, list]] = {}
    by_user: dict[tuple[date, str], tuple[list, list]] = {}
    if source == "transactions":
        for tx, kind, amount in counted_transactions(collections):
            i = window_index(day_bounds, transaction_time(tx))
            if i is None:
                continue
            column = 0 if kind == "prompt" else 1
            model = model_label(tx.get("model"), agents)
            by_model.setdefault((days[i], model), ([], []))[column].append(amount)
            user = tx.get("user")
            if user is not None:
                by_user.setdefault((days[i], str(user)), ([], []))[column].append(amount)
    else:
        reply_models = earliest_reply_models(messages, agents)
        for msg in messages:
            tokens = as_number(msg.get("tokenCount"))
            if not valid_token_count(tokens):
                continue
            i = window_index(day_bounds, created_at(msg))
            if i is None:
                continue
            if is_assistant(msg):
                column = 1
                model = msg_model(msg, agents)
            else:
                column = 0
                model = input_model_of(msg, reply_models, agents)
            by_model.setdefault((days[i], model), ([], []))[column].append(tokens)
            user = msg.get("user")
            if user is not None:
                by_user.setdefault((days[i], str(user)), ([], []))[column].append(tokens)
    for (d, model), (inputs, outputs) in by_model.items():
        row = (d, model, total(inputs), total(outputs))
        if row[2] != 0 or row[3] != 0:
            out["daily_tokens_by_model"].add(row)
    for (d, user), (inputs, outputs) in by_user.items():
        row = (d, user, total(inputs), total(outputs))
        if row[2] != 0 or row[3] != 0:
            out["daily_tokens_by_user"].add(row)
    spend = user_spend(collections, day_bounds, days)
    people = user_details(collections) if details else {}
    persons = [msg for msg in messages if origins[id(msg)] == "person"]
    out["daily_user_messages"] = user_message_rows(persons, day_bounds, days, agents, by_user, spend, people)
    out["daily_cost_by_group"] = group_cost_rows(collections, persons, day_bounds, days, by_user)
    out["daily_users_by_agent"] = agent_user_rows(persons, day_bounds, days)
    out["agent_info"] = agent_info_rows(collections)

    cost_history(out, collections, messages, agents, days, day_bounds)
    return out


# --------------------------------------------------------------------------------------------
# Tenants (semantics.md "Tenants")
# --------------------------------------------------------------------------------------------


def only_tenant(collections: Collections, tenant: str | None) -> Collections:
    """The documents of one tenant: those whose tenantId is that string (None: every document).

    Both exporter_samples and history_rows then run on these documents alone, as if the database
    held nothing else."""
    if tenant is None:
        return collections
    return {
        name: [doc for doc in docs if isinstance(doc.get("tenantId"), str) and doc["tenantId"] == tenant]
        for name, docs in collections.items()
    }


# --------------------------------------------------------------------------------------------
# Registrations per day (semantics.md "History rows", daily_registrations)
# --------------------------------------------------------------------------------------------


def registration_rows(collections: Collections, day_bounds: list[datetime], days: list[date]) -> set[tuple]:
    """(day, users whose ObjectId _id time falls in the local day), every day, zeros included."""
    counts = {d: 0 for d in days}
    for user in collections.get("users", []):
        oid = user.get("_id")
        if isinstance(oid, ObjectId):
            i = window_index(day_bounds, oid.generation_time)
            if i is not None:
                counts[days[i]] += 1
    return {(d, n) for d, n in counts.items()}


def user_message_rows(
    messages: list[Doc],
    day_bounds: list[datetime],
    days: list[date],
    agents: dict[str, str],
    tokens: dict[tuple[date, str], tuple[list, list]],
    spend: dict[tuple[date, str], Fraction],
    details: dict[str, tuple[str | None, str | None]],
) -> set[tuple]:
    """(day, str(user), user messages, model label with most assistant messages or "", input tokens,
    output tokens, spend USD, email, name) per user with a message that day (``messages``: the person
    messages, semantics.md "Origin"; tokens and spend count every message), or with non-zero tokens
    (as daily_tokens_by_user sums them) or spend that day; a tie of models goes to the smallest label;
    email/name from ``details`` (None when absent)."""
    sent: dict[tuple[date, str], int] = {}
    answered: dict[tuple[date, str], dict[str, int]] = {}
    for msg in messages:
        i = window_index(day_bounds, created_at(msg))
        if i is None or msg.get("user") is None:
            continue
        k = (days[i], str(msg["user"]))
        sent.setdefault(k, 0)
        if is_assistant(msg):
            models = answered.setdefault(k, {})
            label = msg_model(msg, agents)
            models[label] = models.get(label, 0) + 1
        else:
            sent[k] += 1
    sums = {k: (total(inputs), total(outputs)) for k, (inputs, outputs) in tokens.items()}
    who = set(sent) | {k for k, (i, o) in sums.items() if i or o} | {k for k, v in spend.items() if v}
    rows = set()
    for d, user in who:
        models = answered.get((d, user), {})
        top = sorted(models.items(), key=lambda item: (-item[1], item[0]))[0][0] if models else ""
        inputs, outputs = sums.get((d, user), (0, 0))
        usd = float(spend.get((d, user), Fraction(0)))
        rows.add(
            (d, user, sent.get((d, user), 0), top, inputs, outputs, usd, *details.get(user, (None, None)))
        )
    return rows


def group_cost_rows(
    collections: Collections,
    persons: list[Doc],
    day_bounds: list[datetime],
    days: list[date],
    by_user: dict[tuple[date, str], tuple[list, list]],
) -> set[tuple]:
    """daily_cost_by_group (semantics.md "Groups", today's membership for every day): per day and group
    label, USD of the counted transactions whose str(user) is a member, the members' tokens (the
    daily_tokens_by_user sums), and the members with a person message; "(no group)" takes the rest
    (userless transactions, non-members, non-string users); all-zero rows are left out."""
    members = group_members(collections)
    if not members:
        return set()
    grouped = set().union(*members.values())

    def of(user: str | None) -> list[str]:
        return [name for name, who in members.items() if user in who] or ["(no group)"]

    sums: dict[tuple[date, str], list] = {}

    def row(d: date, name: str) -> list:
        return sums.setdefault((d, name), [Fraction(0), [], [], 0])

    for tx, _, _ in counted_transactions(collections):
        i = window_index(day_bounds, transaction_time(tx))
        if i is not None:
            for name in of(None if tx.get("user") is None else str(tx["user"])):
                row(days[i], name)[0] += Fraction(magnitude(tx, "tokenValue")) / 1_000_000
    for (d, user), (inputs, outputs) in by_user.items():
        for name in of(user):
            row(d, name)[1].extend(inputs)
            row(d, name)[2].extend(outputs)
    seen: dict[date, set] = {}
    for msg in persons:
        i = window_index(day_bounds, created_at(msg))
        if i is not None and msg.get("user") is not None:
            seen.setdefault(days[i], set()).add(distinct_key(msg["user"]))
    for d, users in seen.items():
        hex_ids = {u for u in users if isinstance(u, str)}
        for name, who in members.items():
            row(d, name)[3] = len(who & hex_ids)
        row(d, "(no group)")[3] = len(users) - len(grouped & hex_ids)
    out = set()
    for (d, name), (usd, inputs, outputs, active) in sums.items():
        values = (float(usd), total(inputs), total(outputs), active)
        if any(values):
            out.add((d, name, *values))
    return out


def agent_user_rows(persons: list[Doc], day_bounds: list[datetime], days: list[date]) -> set[tuple]:
    """daily_users_by_agent: per day and agent id (agent_id_of), the distinct users (distinct_key) of
    the agent's replies that are person messages with a user; agents without such a user have no row."""
    users: dict[tuple[date, str], set] = {}
    for msg in persons:
        i = window_index(day_bounds, created_at(msg))
        agent = agent_id_of(msg)
        if i is not None and agent is not None and msg.get("user") is not None:
            users.setdefault((days[i], agent), set()).add(distinct_key(msg["user"]))
    return {(d, agent, len(who)) for (d, agent), who in users.items()}


def agent_info_rows(collections: Collections) -> set[tuple]:
    """agent_info as one export writes it: every agent id starting with agent_ (agents_by_id: the
    oldest document of an id), sanitised, with plain_label of its name and of its model."""
    return {
        (sanitise(agent_id), plain_label(doc.get("name")), plain_label(doc.get("model")))
        for agent_id, doc in agents_by_id(collections).items()
        if agent_id.startswith("agent_")
    }


def user_spend(
    collections: Collections, day_bounds: list[datetime], days: list[date]
) -> dict[tuple[date, str], Fraction]:
    """USD per (day, str(user)): |tokenValue| / 1e6 summed over the user's counted transactions, dated
    by their ObjectId (transactions without a user belong to nobody)."""
    spend: dict[tuple[date, str], Fraction] = {}
    for tx, _, _ in counted_transactions(collections):
        i = window_index(day_bounds, transaction_time(tx))
        if i is None or tx.get("user") is None:
            continue
        k = (days[i], str(tx["user"]))
        spend[k] = spend.get(k, Fraction(0)) + Fraction(magnitude(tx, "tokenValue")) / 1_000_000
    return spend


def user_details(collections: Collections) -> dict[str, tuple[str | None, str | None]]:
    """hex id -> (email, name) of the users with an ObjectId _id; a value that is not a string is None,
    a string has NUL turned into a space and is cut to 255 characters (the VARCHAR(255) rule)."""

    def text(value: Any) -> str | None:
        return value.replace("\x00", " ")[:255] if isinstance(value, str) else None

    return {
        str(user["_id"]): (text(user.get("email")), text(user.get("name")))
        for user in collections.get("users", [])
        if isinstance(user.get("_id"), ObjectId)
    }


def weekly_retention_rows(
    collections: Collections, start: date, end: date, zone: ZoneInfo, now: datetime
) -> set[tuple]:
    """(Monday, cohort, retained after 1, 7, 30 days) for every ISO week that is over at ``now`` and
    whose row depends on a day of start..end: its Monday is at most ``end`` and its Monday + 36 (the
    last signup day + 30) at least ``start``. The cohort: users whose ObjectId _id time is in the
    week's local days; retained after N: members with a message (date createdAt, ``user`` equal to
    the member's hex id) on their own signup day + N; None while that day of the week's last signup
    day (Sunday + N) is not over."""
    signup: dict[str, date] = {}
    for user in collections.get("users", []):
        oid = user.get("_id")
        if isinstance(oid, ObjectId):
            signup[str(oid)] = oid.generation_time.astimezone(zone).date()
    active_on: dict[date, set[str]] = {}
    origins = message_origins(collections)
    for msg in collections.get("messages", []):
        when = created_at(msg)
        if when is not None and isinstance(msg.get("user"), str) and origins[id(msg)] == "person":
            active_on.setdefault(when.astimezone(zone).date(), set()).add(msg["user"])
    rows = set()
    monday = start - timedelta(days=36)
    monday += timedelta(days=(7 - monday.weekday()) % 7)  # the first Monday on or after start - 36
    while monday <= end:
        if local_midnight(monday + timedelta(days=7), zone) <= now:
            members = {u: d for u, d in signup.items() if monday <= d < monday + timedelta(days=7)}
            row: list[Any] = [monday, len(members)]
            for n in (1, 7, 30):
                if local_midnight(monday + timedelta(days=7 + n), zone) > now:
                    row.append(None)
                else:
                    row.append(
                        sum(1 for u, d in members.items() if u in active_on.get(d + timedelta(days=n), ()))
                    )
            rows.add(tuple(row))
        monday += timedelta(days=7)
    return rows


def retention_and_churn_rows(
    collections: Collections, days: list[date], zone: ZoneInfo
) -> tuple[set[tuple], set[tuple]]:
    """daily_retention and daily_churn rows of ``days``, straight from the definitions.

    A user's registration day is the local day of its ObjectId _id time; a user is active on a local
    day when a message with a date createdAt that day has ``user`` equal to the user's hex id (a
    string). Churn counts distinct non-null ``user`` values as the calendar families do."""

    def local_day(when: datetime | None) -> date | None:
        return None if when is None else when.astimezone(zone).date()

    registered: dict[date, set[str]] = {}
    for user in collections.get("users", []):
        oid = user.get("_id")
        if isinstance(oid, ObjectId):
            registered.setdefault(local_day(oid.generation_time), set()).add(str(oid))
    active_on: dict[date, set[str]] = {}
    days_of: dict[Any, set[date]] = {}
    origins = message_origins(collections)
    for msg in collections.get("messages", []):
        d = local_day(created_at(msg))
        if d is None or origins[id(msg)] != "person":
            continue
        user = msg.get("user")
        if isinstance(user, str):
            active_on.setdefault(d, set()).add(user)
        if user is not None:
            days_of.setdefault(distinct_key(user), set()).add(d)
    retention, churn = set(), set()
    for d in days:
        row: list[Any] = [d]
        for n in (1, 7, 30):
            cohort = registered.get(d - timedelta(days=n), set())
            row += [len(cohort), len(cohort & active_on.get(d, set()))]
        retention.add(tuple(row))
        recent = {d - timedelta(days=i) for i in range(28)}
        before = {d - timedelta(days=i) for i in range(28, 56)}
        active = sum(1 for seen in days_of.values() if seen & recent)
        churned = sum(1 for seen in days_of.values() if seen & before and not seen & recent)
        churn.add((d, active, churned))
    return retention, churn


# --------------------------------------------------------------------------------------------
# Engagement over rolling windows (semantics.md "Engagement")
# --------------------------------------------------------------------------------------------

ROLLING_DAYS = {"1d": 1, "7d": 7, "30d": 30}
FAMILIES.update({f"librechat_active_users_{w}": () for w in ROLLING_DAYS})
FAMILIES.update({f"librechat_new_users_{w}": () for w in ROLLING_DAYS})


def engagement_samples(collections: Collections, now: datetime) -> Samples:
    """Distinct users with a dated message, and users whose ObjectId _id was made, at or after
    now - N x 24 h, for N = 1, 7, 30."""
    now_utc = as_utc(now)
    assert now_utc is not None
    collections = visible_only(collections, now_utc)
    out: Samples = {}
    origins = message_origins(collections)
    for window, days in ROLLING_DAYS.items():
        lo = now_utc - timedelta(days=days)
        active = set()
        for msg in collections.get("messages", []):
            when = created_at(msg)
            person = origins[id(msg)] == "person"
            if when is not None and when >= lo and msg.get("user") is not None and person:
                active.add(distinct_key(msg["user"]))
        registered = 0
        for user in collections.get("users", []):
            oid = user.get("_id")
            if isinstance(oid, ObjectId) and oid.generation_time >= lo:
                registered += 1
        out[f"librechat_active_users_{window}"] = {(): float(len(active))}
        out[f"librechat_new_users_{window}"] = {(): float(registered)}
    return out


# semantics.md "History rows", daily_spend_by_agent: the transactions of a day (of a report's range) are
# joined to the agent replies created from 5 minutes before it to 5 minutes after it.
REPLY_LAG = timedelta(minutes=5)


def replies_near(messages: list[Doc], lo: datetime, hi: datetime) -> dict[str, list[str]]:
    """messageId -> agent ids of the agent replies (string messageId) whose createdAt is a date in
    [lo - 5 min, hi + 5 min); one entry per reply, so a repeated messageId joins each."""
    out: dict[str, list[str]] = {}
    for msg in messages:
        agent, when = agent_id_of(msg), created_at(msg)
        if agent is None or not isinstance(msg.get("messageId"), str) or when is None:
            continue
        if lo - REPLY_LAG <= when < hi + REPLY_LAG:
            out.setdefault(msg["messageId"], []).append(agent)
    return out


def cost_history(
    out: dict[str, set[tuple]], collections: Collections, messages: list[Doc], agents: dict[str, str],
    days: list[date], day_bounds: list[datetime],
) -> None:  # fmt: skip
    """The issue #12 daily tables (semantics.md "History rows")."""
    cost: dict[tuple[date, str], tuple[list, list, list]] = {}
    for doc, kind, _ in counted_transactions(collections):
        i = window_index(day_bounds, transaction_time(doc))
        if i is None:
            continue
        spend, reads, writes = cost.setdefault((days[i], model_label(doc.get("model"), agents)), ([], [], []))
        spend.append(Fraction(magnitude(doc, "tokenValue")) / 1_000_000)
        if kind == "prompt":
            reads.append(magnitude(doc, "readTokens"))
            writes.append(magnitude(doc, "writeTokens"))
    for (d, model), (spend, reads, writes) in cost.items():
        row = (d, model, float(sum(spend)), total(reads), total(writes))
        if any(row[2:]):
            out["daily_cost_by_model"].add(row)

    endpoints: dict[tuple[date, str], list[int]] = {}
    unfinished: dict[tuple[date, str], int] = {}
    agent_replies: dict[tuple[date, str], list[int]] = {}
    for msg in messages:
        i = window_index(day_bounds, created_at(msg))
        if i is None:
            continue
        counts = endpoints.setdefault((days[i], plain_label(msg.get("endpoint"))), [0, 0])
        counts[0] += is_assistant(msg)
        counts[1] += is_error(msg)
        if is_unfinished(msg):
            label = (days[i], msg_model(msg, agents))
            unfinished[label] = unfinished.get(label, 0) + 1
        agent = agent_id_of(msg)
        if agent is not None:
            counts = agent_replies.setdefault((days[i], agent), [0, 0])
            counts[0] += 1
            counts[1] += is_error(msg)
    out["daily_messages_by_endpoint"] = {(d, e, n, err) for (d, e), (n, err) in endpoints.items() if n or err}
    out["daily_unfinished_by_model"] = {(d, m, n) for (d, m), n in unfinished.items()}
    out["daily_replies_by_agent"] = {(d, a, n, err) for (d, a), (n, err) in agent_replies.items()}

    near = [replies_near(messages, day_bounds[i], day_bounds[i + 1]) for i in range(len(days))]
    agent_spend: dict[tuple[date, str], Fraction] = {}
    for doc, _, _ in counted_transactions(collections):
        i = window_index(day_bounds, transaction_time(doc))
        message_id = doc.get("messageId")
        if i is None or not isinstance(message_id, str):
            continue
        for agent in near[i].get(message_id, []):
            usd = Fraction(magnitude(doc, "tokenValue")) / 1_000_000
            agent_spend[(days[i], agent)] = agent_spend.get((days[i], agent), Fraction(0)) + usd
    out["daily_spend_by_agent"] = {(d, a, float(v)) for (d, a), v in agent_spend.items() if v != 0}

    runs: dict[tuple[date, str], int] = {}
    run_seconds: dict[tuple[date, str], list[Fraction]] = {}
    for run in collections.get("scheduleruns", []):  # by the day of firedAt; statuses LibreChat writes
        i = window_index(day_bounds, as_utc(run.get("firedAt")))
        status = run.get("status")
        if i is None or not isinstance(status, str) or status not in RUN_STATUSES:
            continue
        runs[(days[i], status)] = runs.get((days[i], status), 0) + 1
        millis = exact_number(run.get("durationMs"))
        if status in FINISHED_RUNS and millis is not None and millis >= 0:
            run_seconds.setdefault((days[i], status), []).append(millis / 1000)
    for (d, status), n in runs.items():
        ordered = sorted(run_seconds.get((d, status), []))
        ranks = [math.ceil(Fraction(p, 100) * len(ordered)) for p in (50, 90)]
        p50, p90 = (float(ordered[r - 1]) if ordered else None for r in ranks)
        out["daily_schedule_runs"].add((d, sanitise(status), n, p50, p90))

    for i, d in enumerate(days):
        waits = response_times(messages, lambda m, i=i: window_index(day_bounds, created_at(m)) == i, agents)
        for model, seconds in waits.items():
            ordered = sorted(seconds)
            ranks = [math.ceil(Fraction(p, 100) * len(ordered)) for p in (50, 90, 99)]
            out["daily_response_time_by_model"].add(
                (d, model, len(ordered), *(ordered[r - 1] for r in ranks))
            )


# --------------------------------------------------------------------------------------------
# Report over a range (semantics.md "Report")
# --------------------------------------------------------------------------------------------


def membership_key(user: Doc) -> str:
    """What LibreChat stores in groups.memberIds for a user: its idOnTheSource, else str(_id)."""
    source = user.get("idOnTheSource")
    return source if isinstance(source, str) and source != "" else str(user["_id"])


def group_members(collections: Collections) -> dict[str, set[str]]:
    """Group label (plain_label of name) -> str(_id) of the users whose membership key is among its
    string memberIds; groups with the same label are one group."""
    by_key: dict[str, set[str]] = {}
    for user in collections.get("users", []):
        if "_id" in user:  # a stored user always has one; hand-made fixtures may not
            by_key.setdefault(membership_key(user), set()).add(str(user["_id"]))
    groups: dict[str, set[str]] = {}
    for group in collections.get("groups", []):
        members = groups.setdefault(plain_label(group.get("name")), set())
        ids = group.get("memberIds")
        for member in ids if isinstance(ids, list) else []:
            if isinstance(member, str):
                members |= by_key.get(member, set())
    return groups


def report_numbers(
    collections: Collections,
    start: date,
    end: date,
    tz: str = "UTC",
    token_source: str = "auto",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report of the local days start..end: one window [midnight start, midnight end + 1).

    Returns {"totals": {...}, "models": {model: {...}}, "agents": {id: {...}}, "endpoints": {...},
    "tools": {...}, "groups": {...}} with the fields of the json format (spend as Fraction)."""
    zone = ZoneInfo(tz)
    lo, hi = local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)
    collections = visible_only(collections, now)

    def inside(when: datetime | None) -> bool:
        return when is not None and lo <= when < hi

    messages = collections.get("messages", [])
    # an agent message is labelled by the ledger of the report's run of up to 7 days it is in; first
    # replies by the ledger of the whole range (semantics.md "Report")
    runs = [local_midnight(start + timedelta(days=k), zone) for k in range(0, (end - start).days + 1, 7)]
    agents = windowed(collections, models_of(collections, {}), [*runs, hi])
    whole = with_ledger(agents, ledger_of(collections, lo, hi))
    source = resolve_token_source(collections, token_source)
    dated = [m for m in messages if inside(created_at(m))]
    txs = [
        (tx, kind, amount)
        for tx, kind, amount in counted_transactions(collections)
        if inside(transaction_time(tx))
    ]

    models: dict[str, dict[str, Any]] = {}

    def model_row(label: str) -> dict[str, Any]:
        return models.setdefault(label, {
            "replies": 0, "errors": 0, "input_tokens": [], "output_tokens": [], "cache_read_tokens": [],
            "cache_write_tokens": [], "spend_usd": Fraction(0), "unfinished_replies": 0,
            "first_replies": 0, "p50_seconds": None, "p90_seconds": None,
        })  # fmt: skip

    for msg in dated:
        label = msg_model(msg, agents)
        if is_assistant(msg):
            model_row(label)["replies"] += 1
        if is_error(msg):
            model_row(label)["errors"] += 1
        if is_unfinished(msg):
            model_row(label)["unfinished_replies"] += 1
    # tokens: (user key or None, model label, column, amount)
    tokens: list[tuple[str | None, str, str, int | float]] = []
    if source == "transactions":
        for tx, kind, amount in txs:
            column = "input_tokens" if kind == "prompt" else "output_tokens"
            user = None if tx.get("user") is None else str(tx["user"])
            tokens.append((user, model_label(tx.get("model"), agents), column, amount))
    else:
        replies = earliest_reply_models(messages, agents)
        for msg in dated:
            if not valid_token_count(msg.get("tokenCount")):
                continue
            assistant = is_assistant(msg)
            label = msg_model(msg, agents) if assistant else input_model_of(msg, replies, agents)
            user = None if msg.get("user") is None else str(msg["user"])
            tokens.append((user, label, "output_tokens" if assistant else "input_tokens", msg["tokenCount"]))
    for _, label, column, amount in tokens:
        model_row(label)[column].append(amount)
    spend_by_user: dict[str | None, Fraction] = {}
    for tx, kind, _ in txs:
        row = model_row(model_label(tx.get("model"), agents))
        usd = Fraction(magnitude(tx, "tokenValue")) / 1_000_000
        row["spend_usd"] += usd
        user = None if tx.get("user") is None else str(tx["user"])
        spend_by_user[user] = spend_by_user.get(user, Fraction(0)) + usd
        if kind == "prompt":
            row["cache_read_tokens"].append(magnitude(tx, "readTokens"))
            row["cache_write_tokens"].append(magnitude(tx, "writeTokens"))
    for label, seconds in response_times(messages, lambda m: inside(created_at(m)), whole).items():
        ordered = sorted(seconds)
        p50, p90 = (ordered[math.ceil(Fraction(p, 100) * len(ordered)) - 1] for p in (50, 90))
        model_row(label).update(first_replies=len(ordered), p50_seconds=p50, p90_seconds=p90)
    for row in models.values():
        for column in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            row[column] = total(row[column])
    models = {m: r for m, r in models.items() if any(v for v in r.values())}

    replies_by_id = replies_near(messages, lo, hi)  # a reply saved up to 5 minutes after R counts
    info: dict[str, tuple[str, str]] = {}
    for doc in collections.get("agents", []):
        agent_id = doc.get("id")
        if isinstance(agent_id, str) and agent_id.startswith("agent_") and sanitise(agent_id) not in info:
            info[sanitise(agent_id)] = (plain_label(doc.get("name")), plain_label(doc.get("model")))
    agent_rows: dict[str, dict[str, Any]] = {}

    def agent_row(agent: str) -> dict[str, Any]:
        name, model = info.get(agent, (None, None))
        return agent_rows.setdefault(agent, {
            "name": name, "model": model, "replies": 0, "errors": 0, "users": set(), "spend_usd": Fraction(0),
            "conversations": 0,
        })  # fmt: skip

    origins = message_origins(collections)

    def person(msg: Doc) -> bool:
        return msg.get("user") is not None and origins[id(msg)] == "person"  # users are people

    for msg in dated:
        agent = agent_id_of(msg)
        if agent is not None:
            row = agent_row(agent)
            row["replies"] += 1
            row["errors"] += is_error(msg)
            if person(msg):
                row["users"].add(distinct_key(msg["user"]))
    for tx, _, _ in txs:
        message_id = tx.get("messageId")
        for agent in replies_by_id.get(message_id, []) if isinstance(message_id, str) else []:
            agent_row(agent)["spend_usd"] += Fraction(magnitude(tx, "tokenValue")) / 1_000_000
    # chats per agent (semantics.md "Report"): conversations created in R, by initial_agent_id when a
    # non-empty string, else agent_id, when that is an agent id
    for convo in collections.get("conversations", []):
        started = convo.get("initial_agent_id")
        if not (isinstance(started, str) and started != ""):
            started = convo.get("agent_id")
        if inside(created_at(convo)) and isinstance(started, str) and started.startswith("agent_"):
            agent_row(sanitise(started))["conversations"] += 1
    for row in agent_rows.values():
        row["users"] = len(row["users"])
    agent_rows = {a: r for a, r in agent_rows.items() if r["replies"] or r["spend_usd"] or r["conversations"]}

    endpoints: dict[str, dict[str, int]] = {}
    tools: dict[str, dict[str, int]] = {}
    for msg in dated:
        row = endpoints.setdefault(plain_label(msg.get("endpoint")), {"replies": 0, "errors": 0})
        row["replies"] += is_assistant(msg)
        row["errors"] += is_error(msg)
        for part in tool_calls(msg):
            tool = tools.setdefault(
                plain_label(tool_call_body(part).get("name")), {"calls": 0, "failures": 0}
            )
            tool["calls"] += 1
            tool["failures"] += tool_call_failed(part)
    endpoints = {e: r for e, r in endpoints.items() if r["replies"] or r["errors"]}

    active = {distinct_key(m["user"]) for m in dated if person(m)}
    active_hex = {m["user"] for m in dated if person(m) and isinstance(m["user"], str)}
    joined = {
        str(u["_id"]) for u in collections.get("users", [])
        if isinstance(u.get("_id"), ObjectId) and inside(u["_id"].generation_time)
    }  # fmt: skip
    conversations = sum(1 for c in collections.get("conversations", []) if inside(created_at(c)))
    spend = sum((r["spend_usd"] for r in models.values()), Fraction(0))
    totals = {
        "messages": len(dated),
        "conversations": conversations,
        "replies": sum(1 for m in dated if is_assistant(m)),
        "error_messages": sum(1 for m in dated if is_error(m)),
        "error_replies": sum(1 for m in dated if is_assistant(m) and is_error(m)),
        "unfinished_replies": sum(1 for m in dated if is_unfinished(m)),
        "input_tokens": total([a for _, _, c, a in tokens if c == "input_tokens"]),
        "output_tokens": total([a for _, _, c, a in tokens if c == "output_tokens"]),
        "cache_read_tokens": total([magnitude(tx, "readTokens") for tx, k, _ in txs if k == "prompt"]),
        "cache_write_tokens": total([magnitude(tx, "writeTokens") for tx, k, _ in txs if k == "prompt"]),
        "spend_usd": spend,
        "active_users": len(active),
        "new_users": len(joined),
        "returning_users": len(active) - len(active_hex & joined),
    }
    totals["error_share"] = (
        Fraction(totals["error_replies"], totals["replies"]) if totals["replies"] else Fraction(0)
    )

    groups: dict[str, dict[str, Any]] = {}
    members = group_members(collections)
    if members:
        grouped = set().union(*members.values())
        everyone = {str(u["_id"]) for u in collections.get("users", [])}
        for name, who in [*members.items(), ("(no group)", everyone - grouped)]:
            groups[name] = {"members": len(who), "active_users": 0, "input_tokens": [], "output_tokens": [],
                            "spend_usd": Fraction(0)}  # fmt: skip

        def of(user: str | None) -> list[str]:
            found = [name for name, who in members.items() if user in who]
            return found or ["(no group)"]

        for name, who in members.items():
            groups[name]["active_users"] = len(who & active_hex)
        groups["(no group)"]["active_users"] = len(active) - len(grouped & active_hex)
        for user, usd in spend_by_user.items():
            for name in of(user):
                groups[name]["spend_usd"] += usd
        for user, _, column, amount in tokens:
            if user is not None:  # JUDGEMENT: tokens without a user are in no per-user sum (as history)
                for name in of(user):
                    groups[name][column].append(amount)
        for row in groups.values():
            row["input_tokens"], row["output_tokens"] = (
                total(row["input_tokens"]),
                total(row["output_tokens"]),
            )
    return {
        "totals": totals, "models": models, "agents": agent_rows, "endpoints": endpoints, "tools": tools,
        "groups": groups,
    }  # fmt: skip


# Every place where docs/semantics.md left room for interpretation, and what this oracle does.
JUDGEMENT_CALLS = """
1. Replies ordering: replies whose createdAt is not a datetime sort before all dated replies and
   tie among themselves (then _id order); _id order is ObjectId byte order, a non-ObjectId _id sorts first.
2. A user message whose messageId is None/missing has no reply (input goes to "unknown"), even if an
   assistant message has parentMessageId None. parentMessageId/messageId are matched by Python equality.
3. The earliest reply is searched among all messages (any conversation, any date) also for the 5m
   families and the history days; only the user message itself must be in the window/day.
4. The agent lookup applies wherever a model label is built, including transactions.model. If several
   agents documents share an id, the oldest (smallest ObjectId `_id`) decides model and labels; the
   other documents are not looked at, even when the oldest has no usable model.
5. Sanitising happens before grouping: raw values that sanitise to the same label are summed into one
   series (ratios/success rates are then computed from the merged counts). The history export uses the
   same (sanitised) model label; the history `user` column is plain str(user), not sanitised.
6. Tag: {"key": None} -> "None"; a final empty string (tag "" or {"key": ""}) means no tag.
7. `content` that is a dict (not a list) is neither an error part nor a tool call. A tool-call part whose
   tool_call is missing/not a dict has name "unknown" and does not fail. Only top-level string elements
   of an output list are checked. Case-insensitivity follows Python's re.IGNORECASE.
8. Distinct values are Python values: 5 == 5.0, and also True == 1 (MongoDB would keep a bool apart).
9. auto token source looks at the whole transactions collection, whatever the window or history range;
   a valid rawAmount of 0 is enough to select transactions.
10. A transaction whose _id is not an ObjectId is in no window and no history day (still all-time).
11. Local midnights use zoneinfo's default fold=0 (a non-existent midnight maps to the instant of the
    transition). All comparisons are done on UTC instants.
12. Labelled samples with a zero sum (e.g. tokens that are all 0) are left out; ratios/success rates of 0
    are kept because the definition produces them.
13. daily_tokens_by_user keeps a user "" (it is not None/missing). Token sums are int when all
    contributing (valid) values are ints, else math.fsum of them.
14. Errors, ratings and tool calls are counted on every message, user or assistant (the contract does not
    restrict them); their model label follows the model rule (None -> unknown, agent lookup).
15. The tool 5m families and active_tool_users use createdAt (the contract's "created in the 5m window"),
    not updatedAt; only the thumbs 5m families use updatedAt.
16. Origin: replies are matched to prompts and triggers by (conversationId, messageId) pairs; the
    exporter matches conversation and parent separately (equal while messageIds are unique). The
    oracle has no lookback: a run or trigger counts however long before the message it was (the
    exporter reads 7 days of runs and 1 hour of triggers before a window; the fixtures stay inside).
"""
