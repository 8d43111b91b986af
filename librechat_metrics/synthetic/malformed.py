"""A corpus of odd and malformed LibreChat documents; each carries its kind in the field `oddity`."""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId

from .timeplan import DAY, HOUR, SECOND, Clock, to_dt, to_ms

LONG = "x" * 10_240
CONTROL = "ctl\x00\x01\n\r\t\x1b\x7f-end"
QUOTES = 'q"uo\'te\\back\\slash\\"'
ERROR_OUTPUT = "Error processing tool web_search: timeout"

Patch = Callable[[dict], None]


def _tool(**call: Any) -> list[dict]:
    return [{"type": "tool_call", "tool_call": {"id": "call_x", "args": "{}", "output": "ok", **call}}]


def _set(**fields: Any) -> Patch:
    return lambda doc: doc.update(fields)


def _drop(*names: str, **fields: Any) -> Patch:
    def patch(doc: dict) -> None:
        for name in names:
            doc.pop(name, None)
        doc.update(fields)

    return patch


# kind -> change applied to a valid assistant message
MESSAGE_ODDITIES: dict[str, Patch] = {
    "model_int": _set(model=5),
    "model_float": _set(model=5.0),
    "model_dict": _set(model={"a": 1}),
    "model_list": _set(model=["gpt-4o", "gpt-4o-mini"]),
    "model_null": _set(model=None),
    "model_empty": _set(model=""),
    "model_control_chars": _set(model=CONTROL),
    "model_quotes_backslashes": _set(model=QUOTES),
    "model_newlines": _set(model="gpt-4o\nsecond line\n"),
    "model_long": _set(model="m" + LONG),
    "model_unknown_agent": _set(model="agent_doesNotExist000000000", endpoint="agents"),
    "model_agent_without_model": _set(model="agent_malformedNoModel00000", endpoint="agents"),
    "model_agent_model_not_string": _set(model="agent_malformedIntModel0000", endpoint="agents"),
    "endpoint_control_chars": _set(endpoint=CONTROL),
    "endpoint_quotes_backslashes": _set(endpoint=QUOTES),
    "endpoint_long": _set(endpoint="e" + LONG),
    "endpoint_int": _set(endpoint=42),
    "feedback_tag_dict_without_key": _set(feedback={"rating": "thumbsUp", "tag": {"label": "other"}}),
    "feedback_tag_numeric": _set(feedback={"rating": "thumbsDown", "tag": 7}),
    "feedback_tag_empty": _set(feedback={"rating": "thumbsDown", "tag": ""}),
    "feedback_tag_key_int": _set(feedback={"rating": "thumbsUp", "tag": {"key": 3}}),
    "feedback_tag_control_chars": _set(feedback={"rating": "thumbsDown", "tag": CONTROL}),
    "feedback_empty": _set(feedback={}),
    "feedback_rating_meh": _set(feedback={"rating": "meh", "tag": "other"}),
    "feedback_not_object": _set(feedback="thumbsUp"),
    "tokenCount_string": _set(tokenCount="12"),
    "tokenCount_nan": _set(tokenCount=float("nan")),
    "tokenCount_negative": _set(tokenCount=-5),
    "tokenCount_inf": _set(tokenCount=float("inf")),
    "tokenCount_neg_inf": _set(tokenCount=float("-inf")),
    "tokenCount_bool": _set(tokenCount=True),
    "tokenCount_null": _set(tokenCount=None),
    "createdAt_missing": _drop("createdAt"),
    "createdAt_string": lambda d: d.update(createdAt=d["createdAt"].strftime("%Y-%m-%dT%H:%M:%S.000Z")),
    "createdAt_null": _set(createdAt=None),
    "user_null": _set(user=None),
    "user_missing": _drop("user"),
    "user_objectid": lambda d: d.update(user=ObjectId(d["user"])),
    "isCreatedByUser_string": _set(isCreatedByUser="false"),
    "isCreatedByUser_missing_sender_user": _drop("isCreatedByUser", sender="User"),
    "isCreatedByUser_missing_sender_missing": _drop("isCreatedByUser", "sender"),
    "error_string": _set(error="true"),
    "content_string": _set(content="just a string"),
    "content_dict": _set(content={"type": "tool_call", "tool_call": {"name": "web_search"}}),
    "content_list_non_dict": _set(content=[1, "two", None, ["x"], {"type": "text", "text": "ok"}]),
    "content_part_without_type": _set(content=[{"text": "no type"}, {"type": None}]),
    "tool_call_null": _set(content=[{"type": "tool_call", "tool_call": None}]),
    "tool_call_not_object": _set(content=[{"type": "tool_call", "tool_call": "web_search"}]),
    "tool_output_number": _set(content=_tool(name="web_search", output=42)),
    "tool_output_null": _set(content=_tool(name="web_search", output=None)),
    "tool_output_array": _set(content=_tool(name="web_search", output=["fine", ERROR_OUTPUT])),
    "tool_output_error_uppercase": _set(
        content=_tool(name="web_search", output="ERROR PROCESSING TOOL x: y")
    ),
    "tool_name_int": _set(content=_tool(name=7)),
    "tool_name_null": _set(content=_tool(name=None)),
    "tool_name_control_chars": _set(content=_tool(name=CONTROL)),
    "tool_name_quotes_backslashes": _set(content=_tool(name=QUOTES)),
    "tool_name_long": _set(content=_tool(name="t" + LONG)),
    "error_part_not_string": _set(content=[{"type": "error", "error": {"code": 500}}]),
    "unfinished_string": _set(unfinished="true"),
    "unfinished_true_with_error": _set(unfinished=True, error=True),
    "finish_reason_int": _set(finish_reason=1),
    "finish_reason_incomplete_user": _set(finish_reason="incomplete", isCreatedByUser=True, sender="User"),
}

TRANSACTION_ODDITIES: dict[str, Patch] = {
    "rawAmount_string": _set(rawAmount="-100"),
    "rawAmount_nan": _set(rawAmount=float("nan")),
    "rawAmount_inf": _set(rawAmount=float("-inf")),
    "rawAmount_bool": _set(rawAmount=True),
    "rawAmount_null": _set(rawAmount=None),
    "rawAmount_missing": _drop("rawAmount"),
    "tokenType_missing": _drop("tokenType"),
    "tokenType_unknown": _set(tokenType="reasoning"),
    "model_null": _set(model=None),
    "model_int": _set(model=4),
    "model_control_chars": _set(model=CONTROL),
    "user_string": lambda d: d.update(user=str(d["user"])),
    "user_null": _set(user=None),
    "createdAt_missing": _drop("createdAt", "updatedAt"),
    "tokenValue_nan": _set(tokenValue=float("nan")),
    "tokenValue_inf": _set(tokenValue=float("-inf")),
    "tokenValue_string": _set(tokenValue="-250"),
    "tokenValue_missing": _drop("tokenValue"),
    "tokenValue_positive": _set(tokenValue=250.0),
    "tokenValue_bool": _set(tokenValue=True),
    "tokenValue_date": lambda d: d.update(tokenValue=d["createdAt"]),
    "readTokens_string": _set(rawAmount=-100, inputTokens=-40, writeTokens=-10, readTokens="-50"),
    "writeTokens_nan": _set(rawAmount=-100, inputTokens=-40, writeTokens=float("nan"), readTokens=-50),
    "readTokens_positive": _set(rawAmount=-100, inputTokens=-40, writeTokens=0, readTokens=60),
    "cache_tokens_on_completion": _set(tokenType="completion", writeTokens=-7, readTokens=-9),
    "credits_with_cache_tokens": _set(
        tokenType="credits", context="admin", rawAmount=5000, tokenValue=5000, readTokens=-3
    ),
}

USER_ODDITIES: dict[str, Patch] = {
    "email_missing": _drop("email"),
    "createdAt_missing": _drop("createdAt", "updatedAt"),
    "createdAt_string": _set(createdAt="yesterday"),
    "name_control_chars": _set(name=CONTROL, username=QUOTES),
    "role_int": _set(role=1),
}

FILE_ODDITIES: dict[str, Patch] = {
    "type_missing": _drop("type"),
    "type_long": _set(type="application/" + LONG),
    "bytes_string": _set(bytes="1024"),
    "user_null": _set(user=None),
    "createdAt_missing": _drop("createdAt", "updatedAt"),
}

AGENT_ODDITIES: dict[str, Patch] = {
    "model_missing": _drop("model", id="agent_malformedNoModel00000"),
    "model_int": _set(id="agent_malformedIntModel0000", model=12),
    "model_dict": _set(id="agent_malformedDictModel000", model={"name": "gpt-4o"}),
    "model_empty": _set(id="agent_malformedEmptyModel00", model=""),
    "id_not_agent_prefix": _set(id="assistant_123"),
    "id_missing": _drop("id"),
}


BALANCE_ODDITIES: dict[str, Patch] = {
    "tokenCredits_negative": _set(tokenCredits=-1500),
    "tokenCredits_zero": _set(tokenCredits=0),
    "tokenCredits_nan": _set(tokenCredits=float("nan")),
    "tokenCredits_inf": _set(tokenCredits=float("inf")),
    "tokenCredits_string": _set(tokenCredits="5000"),
    "tokenCredits_bool": _set(tokenCredits=True),
    "tokenCredits_missing": _drop("tokenCredits"),
    "autoRefillEnabled_string": _set(autoRefillEnabled="true"),
    "autoRefillEnabled_true": _set(autoRefillEnabled=True),
    "user_null": _set(user=None),
}


def malformed_corpus(now: datetime, seed: int = 0) -> dict[str, list[dict]]:
    """At least 30 odd documents per the data model's weak spots, dated legally relative to `now`."""
    rng = random.Random(f"librechat-malformed/{seed}")
    clock = Clock(to_ms(now))
    proc = b"\xff" + rng.randbytes(4)  # first byte 0xff: never clashes with generate()'s ids (< 0x80)
    counter = [rng.randrange(1 << 20)]
    user_oid = ObjectId(struct.pack(">I", (clock.now - 400 * DAY) // 1000) + proc + b"\x00\x00\x00")

    def when(i: int) -> int:
        """Alternately inside the 5-minute window, an hour ago and days ago."""
        offsets = (120 * SECOND, HOUR + 7 * SECOND, 3 * DAY + 11 * SECOND, 40 * SECOND)
        return clock.legal(clock.now - offsets[i % 4] - rng.randrange(5 * SECOND)) or clock.ceiling

    def oid(ms: int) -> ObjectId:
        counter[0] += 1
        return ObjectId(struct.pack(">I", ms // 1000) + proc + counter[0].to_bytes(3, "big"))

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def build(base: Callable[[], dict], oddities: dict[str, Patch]) -> list[dict]:
        docs = []
        for i, (kind, patch) in enumerate(oddities.items()):
            t = when(i)
            doc = base()
            doc.update(createdAt=to_dt(t), updatedAt=to_dt(t), oddity=kind)
            patch(doc)
            doc = {"_id": oid(t), **doc}
            docs.append(doc)
        return docs

    def message() -> dict:
        return {
            "messageId": uid(),
            "conversationId": uid(),
            "parentMessageId": uid(),
            "user": str(user_oid),
            "model": "gpt-4o",
            "endpoint": "openAI",
            "sender": "GPT-4o",
            "isCreatedByUser": False,
            "error": False,
            "unfinished": False,
            "text": "odd",
            "tokenCount": 10,
        }

    def transaction() -> dict:
        return {
            "user": user_oid,
            "conversationId": uid(),
            "tokenType": "prompt",
            "model": "gpt-4o",
            "context": "message",
            "rawAmount": -100,
            "rate": 2.5,
            "tokenValue": -250.0,
        }

    def user() -> dict:
        return {
            "name": "Odd User",
            "username": "odd",
            "email": f"odd{rng.randrange(10**6)}@example.org",
            "provider": "local",
            "role": "USER",
        }

    def file() -> dict:
        return {
            "user": user_oid,
            "file_id": uid(),
            "bytes": 1024,
            "filename": "odd.png",
            "filepath": "/o.png",
            "object": "file",
            "type": "image/png",
            "context": "message_attachment",
            "usage": 1,
        }

    def agent() -> dict:
        return {
            "id": "agent_" + "".join(rng.choices("abcdefghijklmnopqrstu", k=21)),
            "name": "Odd Agent",
            "provider": "openAI",
            "model": "gpt-4o",
            "author": user_oid,
        }

    def balance() -> dict:
        return {"user": user_oid, "tokenCredits": 20_000, "autoRefillEnabled": False, "refillAmount": 0}

    return {
        "messages": build(message, MESSAGE_ODDITIES),
        "transactions": build(transaction, TRANSACTION_ODDITIES),
        "users": build(user, USER_ODDITIES),
        "files": build(file, FILE_ODDITIES),
        "agents": build(agent, AGENT_ODDITIES),
        "balances": build(balance, BALANCE_ODDITIES),
    }
