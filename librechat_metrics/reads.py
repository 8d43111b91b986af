"""Every field of LibreChat's documents that the exporter's jobs, the history export and the report read.

The queries in tally, responses, engagement and history name these fields (dotted paths go into
arrays and sub-documents as MongoDB's do). tests/test_odd_values.py records every command the jobs
and the export send, derives the fields they name and checks that they are exactly these, then puts
values of every BSON type into each of them: a new read must be listed here, or that test fails.
"""

from __future__ import annotations

FIELDS_READ: dict[str, tuple[str, ...]] = {
    "messages": (
        "_id",
        "createdAt",
        "updatedAt",
        "user",
        "conversationId",
        "messageId",
        "parentMessageId",
        "isCreatedByUser",
        "sender",
        "model",
        "endpoint",
        "error",
        "unfinished",
        "finish_reason",
        "tokenCount",
        "content",
        "content.type",
        "content.tool_call.name",
        "content.tool_call.output",
        "feedback.rating",
        "feedback.tag",
        "subagentTriggerProjection",
        "expiredAt",
    ),
    "transactions": (
        "_id",
        "user",
        "messageId",
        "tokenType",
        "model",
        "rawAmount",
        "tokenValue",
        "readTokens",
        "writeTokens",
    ),
    "conversations": ("createdAt", "expiredAt", "initial_agent_id", "agent_id"),
    "users": ("_id", "email", "name", "idOnTheSource"),
    "agents": ("_id", "id", "name", "provider", "model", "versions.model", "versions.updatedAt"),
    "balances": ("_id", "user", "tokenCredits", "autoRefillEnabled", "reservations"),
    "schedules": ("enabled", "disabledReason", "deleting", "erased"),
    "groups": ("name", "memberIds"),
    "scheduleruns": ("_id", "status", "firedAt", "conversationId", "durationMs", "mcp", "mcp.status"),
}
TENANT_FIELD = "tenantId"  # read in every collection when LIBRECHAT_TENANT_ID is set (mongo.Reader)
