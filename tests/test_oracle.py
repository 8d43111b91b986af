"""Unit tests of the test oracle (tests/oracle.py) on tiny hand-written datasets.

Every expected number is worked out by hand from docs/semantics.md; the comment next to it says why.
"""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId

from tests.oracle import FAMILIES, HISTORY_TABLES, exporter_samples, history_rows

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 5, 15, 12, 0, 0, tzinfo=UTC)  # a Wednesday
_serial = itertools.count(1)


def oid(when: datetime) -> ObjectId:
    """A unique ObjectId whose time is ``when`` (second precision), increasing with each call."""
    return ObjectId(f"{int(when.timestamp()):08x}{next(_serial):016x}")


def at(minutes: float) -> datetime:
    """NOW shifted by ``minutes`` (negative = in the past)."""
    return NOW + timedelta(minutes=minutes)


def user_msg(when: Any, mid: str = "", tokens: Any = None, user: Any = "u1", **extra: Any) -> dict:
    """A user message (isCreatedByUser True, sender User, model None)."""
    doc = {
        "_id": oid(when if isinstance(when, datetime) else NOW),
        "createdAt": when,
        "user": user,
        "isCreatedByUser": True,
        "sender": "User",
        "model": None,
        "messageId": mid or f"q{next(_serial)}",
        "conversationId": "c1",
    }
    if tokens is not None:
        doc["tokenCount"] = tokens
    doc.update(extra)
    return doc


def ai_msg(
    when: Any, model: Any = "m1", parent: str = "", tokens: Any = None, user: Any = "u1", **extra: Any
) -> dict:
    """An assistant message (isCreatedByUser False) replying to ``parent``."""
    doc = {
        "_id": oid(when if isinstance(when, datetime) else NOW),
        "createdAt": when,
        "user": user,
        "isCreatedByUser": False,
        "sender": "AI",
        "model": model,
        "messageId": f"r{next(_serial)}",
        "parentMessageId": parent or "none",
        "conversationId": "c1",
    }
    if tokens is not None:
        doc["tokenCount"] = tokens
    doc.update(extra)
    return doc


def tx(when: datetime, kind: str, raw: Any, model: Any = "m1", user: Any = None, **extra: Any) -> dict:
    """A transaction whose ObjectId time is ``when``."""
    doc = {
        "_id": oid(when),
        "createdAt": when,
        "tokenType": kind,
        "rawAmount": raw,
        "model": model,
        "user": user,
    }
    doc.update(extra)
    return doc


def one(samples: dict, family: str) -> float:
    """The single sample of an unlabelled family."""
    assert set(samples[family]) == {()}
    return samples[family][()]


def by(samples: dict, family: str) -> dict:
    """A labelled family as {label value: v} (one label) or {(values in label-name order): v}."""
    out = {}
    for label_key, value in samples[family].items():
        values = tuple(v for _, v in label_key)
        out[values[0] if len(values) == 1 else values] = value
    return out


# --- families and plain counts ---------------------------------------------------------------------


def test_empty_collections_give_every_family():
    s = exporter_samples({}, NOW)
    assert set(s) == set(FAMILIES)  # all 100 sample names are present
    # semantics.md: 50 families, 24 of issue #12 (the histogram as 3 sample names: +2), the 6
    # rolling engagement gauges of issue #10, the 2 reply gauges of the error share (issue #17), the
    # reserved balance, 4 schedule families (the histogram as 3 sample names) and messages by origin
    # of issue #20, and the 6 calendar messages and spend gauges and 2 group families of issue #19.
    assert len(FAMILIES) == 50 + 24 + 2 + 6 + 2 + 1 + 6 + 1 + 6 + 2
    no_balances = {name for name in FAMILIES if name.startswith("librechat_balance_")}
    origins = {(("origin", origin),): 0.0 for origin in ("person", "schedule", "agent_event")}
    for name, labels in FAMILIES.items():
        if name == "librechat_messages_by_origin_total":
            assert s[name] == origins  # every origin, 0 included
        elif name == "librechat_overall_rating_ratio" or name in no_balances:
            assert s[name] == {}  # nothing rated / no balances collection: no sample
        elif labels:
            assert s[name] == {}  # no labelled zero samples
        else:
            assert s[name] == {(): 0.0}  # unlabelled families always have one sample


def test_collection_document_counts():
    data = {"messages": [user_msg(None)], "conversations": [{}, {}], "users": [{}, {}, {}], "files": [{}]}
    s = exporter_samples(data, NOW)
    assert one(s, "librechat_messages_total") == 1  # one message, even without a date
    assert one(s, "librechat_conversations_total") == 2  # two conversation documents
    assert one(s, "librechat_registered_users_total") == 3  # three user documents
    assert one(s, "librechat_uploaded_files_total") == 1  # one file document


def test_assistant_user_rule():
    msgs = [
        {"isCreatedByUser": False, "sender": "User", "model": "m1"},  # bool False wins over sender: assistant
        {"isCreatedByUser": True, "sender": "GPT", "model": "m1"},  # bool True: user
        {"sender": "User", "model": "m1"},  # no flag, sender User: user
        {"sender": "Claude", "model": "m2"},  # no flag, other sender: assistant
        {"isCreatedByUser": "false", "sender": "User", "model": "m2"},  # non-bool flag, sender User: user
        {"isCreatedByUser": None, "model": None},  # non-bool flag, no sender: assistant, model unknown
        {"isCreatedByUser": 0, "sender": "user", "model": "m2"},  # 0 is not a bool; "user" != "User"
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_messages_total") == 7  # every document
    assert by(s, "librechat_messages_per_model_total") == {"m1": 1, "m2": 2, "unknown": 1}  # the 4 assistants


# --- 5m window -------------------------------------------------------------------------------------


def test_5m_window_edges():
    msgs = [
        user_msg(at(-5), user="a", conversationId="c1"),  # exactly now-300s: inside (>=)
        user_msg(at(-5) - timedelta(milliseconds=1), user="x", conversationId="cx"),  # 1 ms before: outside
        user_msg(at(10), user="b", conversationId="c1"),  # future: inside (lower bound only)
        user_msg(None, user="y", conversationId="cy"),  # no date: in no window
        user_msg(datetime(2024, 5, 15, 11, 56), user=None, conversationId="c2"),  # naive = UTC: inside
        user_msg(datetime(2024, 5, 15, 13, 54, 59, tzinfo=BERLIN), user="z"),  # 11:54:59Z: outside
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_messages_total") == 6  # all documents
    assert one(s, "librechat_messages_5m") == 3  # edge, future and naive ones
    assert one(s, "librechat_active_users") == 2  # a and b; the naive one has user None
    assert one(s, "librechat_active_conversations") == 2  # c1 and c2


def test_5m_errors_and_models():
    msgs = [
        ai_msg(at(-1), model="m1", error=True),  # in window, error, assistant
        ai_msg(at(-6), model="m1", error=True),  # outside window
        ai_msg(at(-2), model=None),  # in window, assistant with unknown model
        user_msg(at(-3), error=True),  # user error in window, model None -> unknown
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_error_messages_5m") == 2  # the m1 one at -1 and the user one
    assert by(s, "librechat_errors_per_model_5m") == {"m1": 1, "unknown": 1}
    assert by(s, "librechat_errors_per_model_total") == {"m1": 2, "unknown": 1}  # all time
    assert by(s, "librechat_messages_per_model_5m") == {"m1": 1, "unknown": 1}  # assistants in window
    assert one(s, "librechat_replies_5m") == 2  # the m1 error at -1 and the unknown one at -2
    assert one(s, "librechat_error_replies_5m") == 1  # the user error is not a reply


def test_5m_transactions_use_objectid_time():
    old = datetime(2020, 1, 1, tzinfo=UTC)
    txs = [
        {"_id": oid(at(-5)), "createdAt": old, "tokenType": "prompt", "rawAmount": -10, "model": "m1"},
        # _id time exactly now-300s: inside although createdAt is old
        {
            "_id": oid(at(-5) - timedelta(seconds=1)),
            "createdAt": at(-1),
            "tokenType": "completion",
            "rawAmount": -20,
            "model": "m1",
        },  # _id 1 s before the bound: outside despite recent createdAt
        {"_id": "not-an-oid", "createdAt": at(-1), "tokenType": "completion", "rawAmount": -7, "model": "m1"},
        # non-ObjectId _id: in no window, still all-time
    ]
    s = exporter_samples({"transactions": txs}, NOW)
    assert one(s, "librechat_input_tokens_5m") == 10  # first document only
    assert one(s, "librechat_output_tokens_5m") == 0  # both completions are outside
    assert one(s, "librechat_output_tokens_total") == 27  # 20 + 7 all time
    assert by(s, "librechat_model_input_tokens_5m") == {"m1": 10}
    assert by(s, "librechat_model_output_tokens_5m") == {}  # zero: no sample


# --- calendar windows ------------------------------------------------------------------------------


def test_calendar_windows_utc():
    def m(when: datetime, user: str) -> dict:
        return user_msg(when, user=user)

    msgs = [
        m(datetime(2024, 5, 15, 0, 0, tzinfo=UTC), "u1"),  # today's midnight: day, week, month
        m(datetime(2024, 5, 14, 23, 59, 59, tzinfo=UTC), "u2"),  # yesterday: week, month
        m(datetime(2024, 5, 13, 0, 0, tzinfo=UTC), "u3"),  # Monday 00:00: week, month
        m(datetime(2024, 5, 12, 23, 59, 59, tzinfo=UTC), "u4"),  # Sunday before: month only
        m(datetime(2024, 5, 1, 0, 0, tzinfo=UTC), "u5"),  # the 1st 00:00: month
        m(datetime(2024, 4, 30, 23, 59, 59, tzinfo=UTC), "u6"),  # April: nothing
        m(datetime(2024, 5, 20, 0, 0, tzinfo=UTC), "u7"),  # future: every window
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_daily_unique_users") == 2  # u1, u7
    assert one(s, "librechat_weekly_unique_users") == 4  # u1, u2, u3, u7
    assert one(s, "librechat_monthly_unique_users") == 6  # all but u6


def test_calendar_windows_berlin_dst_start():
    # 2024-03-31 is a Sunday and the day Berlin switches CET (+1) -> CEST (+2) at 02:00 local.
    now = datetime(2024, 3, 31, 10, 0, tzinfo=UTC)  # 12:00 CEST
    msgs = [
        user_msg(datetime(2024, 3, 30, 23, 0, tzinfo=UTC), user="a"),  # Mar 31 00:00 CET: day start
        user_msg(datetime(2024, 3, 30, 22, 59, 59, tzinfo=UTC), user="b"),  # Mar 30 local: week
        user_msg(datetime(2024, 3, 24, 23, 0, tzinfo=UTC), user="c"),  # Mon Mar 25 00:00 CET: week start
        user_msg(datetime(2024, 3, 24, 22, 59, 59, tzinfo=UTC), user="d"),  # Sun Mar 24 local: month
        user_msg(datetime(2024, 2, 29, 23, 0, tzinfo=UTC), user="e"),  # Mar 1 00:00 CET: month start
        user_msg(datetime(2024, 2, 29, 22, 59, 59, tzinfo=UTC), user="f"),  # Feb 29 local: none
    ]
    s = exporter_samples({"messages": msgs}, now, tz="Europe/Berlin")
    assert one(s, "librechat_daily_unique_users") == 1  # a
    assert one(s, "librechat_weekly_unique_users") == 3  # a, b, c
    assert one(s, "librechat_monthly_unique_users") == 5  # a..e
    u = exporter_samples({"messages": msgs}, now, tz="UTC")
    assert one(u, "librechat_daily_unique_users") == 0  # UTC day starts Mar 31 00:00Z, after a
    assert one(u, "librechat_weekly_unique_users") == 2  # UTC week starts Mar 25 00:00Z: a, b
    assert one(u, "librechat_monthly_unique_users") == 4  # UTC month starts Mar 1 00:00Z: a..d


# --- errors, tokens, token source ------------------------------------------------------------------


def test_error_content_parts_vs_error_true():
    msgs = [
        ai_msg(at(-60), model="m1", error=True),  # error: true
        ai_msg(
            at(-60),
            model="m1",
            error=False,
            content=[{"type": "text", "text": "hi"}, {"type": "error", "error": "boom"}],
        ),  # error part
        ai_msg(at(-60), model="m1", error="true"),  # a string is not the boolean true
        ai_msg(at(-60), model="m1", content=[{"type": "Error"}]),  # type is case-sensitive
        ai_msg(at(-60), model="m1", content={"type": "error"}),  # content not an array
        ai_msg(at(-60), model="m1", error=1),  # 1 is not the boolean true
        user_msg(at(-60), error=True),  # user messages count too (model None -> unknown)
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_error_messages_total") == 3  # the first two and the user one
    assert by(s, "librechat_errors_per_model_total") == {"m1": 2, "unknown": 1}


def test_token_validity():
    outputs = [10, 3.5, float("nan"), float("inf"), -5, "10", True, None, 0, -0.0]
    msgs = [ai_msg(at(-60), model="m1", tokens=t) for t in outputs]
    msgs.append(ai_msg(at(-60), model="m1"))  # no tokenCount at all
    msgs += [
        user_msg(at(-60), tokens=7),
        user_msg(at(-60), tokens=float("-inf")),
        user_msg(at(-60), tokens=False),
    ]
    s = exporter_samples({"messages": msgs}, NOW, token_source="messages")
    assert one(s, "librechat_output_tokens_total") == 13.5  # 10 + 3.5 (+0, -0.0); the rest are invalid
    assert by(s, "librechat_output_tokens_per_model_total") == {"m1": 13.5}
    assert by(s, "librechat_messages_per_model_total") == {"m1": 11}  # invalid tokens: message still counts
    assert one(s, "librechat_input_tokens_total") == 7  # only the valid 7
    assert by(s, "librechat_input_tokens_per_model_total") == {"unknown": 7}  # no reply -> unknown


def test_transactions_credits_ignored_and_abs():
    t = at(-60)
    txs = [
        tx(t, "prompt", -100, "m1"),  # input 100
        tx(t, "completion", -40, "m1"),  # output 40
        tx(t, "credits", 5000, None),  # credits never count
        tx(t, "prompt", 30, "m2"),  # positive rawAmount: |30|
        tx(t, "completion", float("nan"), "m2"),  # NaN: ignored
        tx(t, "prompt", "50", "m2"),  # string: ignored
        tx(t, "completion", True, "m2"),  # bool: ignored
        tx(t, "reasoning", -9, "m2"),  # other tokenType: ignored
        tx(t, "prompt", -2.5, None),  # float amount, model None -> unknown
    ]
    msgs = [ai_msg(t, model="m1", tokens=999)]  # ignored: transactions are the source
    s = exporter_samples({"transactions": txs, "messages": msgs}, NOW)
    assert one(s, "librechat_input_tokens_total") == 132.5  # 100 + 30 + 2.5
    assert one(s, "librechat_output_tokens_total") == 40  # 40
    assert by(s, "librechat_input_tokens_per_model_total") == {"m1": 100, "m2": 30, "unknown": 2.5}
    assert by(s, "librechat_output_tokens_per_model_total") == {"m1": 40}


def test_token_source_auto_switching():
    t = at(-60)
    msgs = [user_msg(t, mid="q", tokens=5), ai_msg(t, model="m1", parent="q", tokens=8)]
    only_invalid = [tx(t, "credits", 1000, None), tx(t, "prompt", float("inf")), tx(t, "prompt", None)]
    s = exporter_samples({"messages": msgs, "transactions": only_invalid}, NOW)
    assert one(s, "librechat_input_tokens_total") == 5  # no counted transaction: messages source
    assert one(s, "librechat_output_tokens_total") == 8

    zero_tx = [*only_invalid, tx(t, "prompt", 0)]
    s = exporter_samples({"messages": msgs, "transactions": zero_tx}, NOW)
    assert one(s, "librechat_input_tokens_total") == 0  # rawAmount 0 is valid: transactions source
    assert by(s, "librechat_input_tokens_per_model_total") == {}  # zero: no sample

    s = exporter_samples({"messages": msgs, "transactions": zero_tx}, NOW, token_source="messages")
    assert one(s, "librechat_input_tokens_total") == 5  # explicit messages source
    s = exporter_samples({"messages": msgs}, NOW, token_source="transactions")
    assert one(s, "librechat_output_tokens_total") == 0  # explicit transactions source, none there
    with pytest.raises(ValueError):
        exporter_samples({}, NOW, token_source="bogus")


def test_regeneration_earliest_reply_wins():
    t = at(-60)
    msgs = [
        user_msg(t, mid="q1", tokens=100),
        ai_msg(t + timedelta(seconds=10), model="late", parent="q1", tokens=20),  # regenerated later
        ai_msg(t + timedelta(seconds=5), model="early", parent="q1", tokens=30),  # earliest reply
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert by(s, "librechat_input_tokens_per_model_total") == {"early": 100}  # earliest by createdAt
    assert by(s, "librechat_output_tokens_per_model_total") == {"late": 20, "early": 30}


def test_regeneration_ties_and_undated_replies():
    t = at(-60)
    first_id = ObjectId("000000000000000000000001")
    second_id = ObjectId("000000000000000000000002")
    tie = [
        user_msg(t, mid="q1", tokens=10),
        {**ai_msg(t, model="second", parent="q1"), "_id": second_id},
        {**ai_msg(t, model="first", parent="q1"), "_id": first_id},  # same createdAt: smaller _id wins
    ]
    s = exporter_samples({"messages": tie}, NOW)
    assert by(s, "librechat_input_tokens_per_model_total") == {"first": 10}

    undated = [
        user_msg(t, mid="q2", tokens=4),
        ai_msg(t - timedelta(days=1), model="dated", parent="q2"),
        ai_msg(None, model="undated", parent="q2"),  # non-datetime createdAt sorts first
    ]
    s = exporter_samples({"messages": undated}, NOW)
    assert by(s, "librechat_input_tokens_per_model_total") == {"undated": 4}


def test_user_message_without_reply_or_id_goes_to_unknown():
    t = at(-60)
    msgs = [
        user_msg(t, mid="lonely", tokens=3),  # no reply at all
        {**user_msg(t, tokens=2), "messageId": None},  # no messageId ...
        ai_msg(t, model="m9", tokens=1, parentMessageId=None),  # ... is not matched by parent None
        user_msg(t, mid="q3", tokens=6),
        user_msg(t, mid="q4", tokens=4),  # replied to by a *user* message only: no assistant reply
        {**user_msg(t, tokens=1), "parentMessageId": "q4"},
        ai_msg(t, model="m3", parent="q3"),  # q3's reply
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert by(s, "librechat_input_tokens_per_model_total") == {"unknown": 10, "m3": 6}  # 3 + 2 + 4 + 1; q3
    assert one(s, "librechat_input_tokens_total") == 16  # 3 + 2 + 6 + 4 + 1


def test_5m_input_attributed_to_reply_anywhere():
    msgs = [
        user_msg(at(-2), mid="q1", tokens=8),
        ai_msg(at(1), model="m1", parent="q1", tokens=2),
        user_msg(at(-10), mid="q2", tokens=5),
        ai_msg(at(-4), model="m2", parent="q2", tokens=1),
        user_msg(at(-1), mid="q3", tokens=4),
        ai_msg(at(-20), model="m3", parent="q3", tokens=9),
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_input_tokens_5m") == 12  # q1 + q3 are in the window
    assert by(s, "librechat_model_input_tokens_5m") == {"m1": 8, "m3": 4}  # q3's reply is outside: still m3
    assert one(s, "librechat_output_tokens_5m") == 3  # replies in the window: 2 + 1
    assert by(s, "librechat_model_output_tokens_5m") == {"m1": 2, "m2": 1}
    assert by(s, "librechat_input_tokens_per_model_total") == {"m1": 8, "m2": 5, "m3": 4}


# --- labels ----------------------------------------------------------------------------------------


def test_null_and_odd_model_values():
    t = at(-60)
    msgs = [
        ai_msg(t, model=None),
        ai_msg(t, model=""),
        ai_msg(t, model=5),
        ai_msg(t, model=5.0),
        ai_msg(t, model={"a": 1}),
        ai_msg(t, model="unknown"),
    ]
    msgs.append({k: v for k, v in ai_msg(t).items() if k != "model"})  # model missing
    s = exporter_samples({"messages": msgs}, NOW)
    # None, "", missing and the literal "unknown" share one label; other types go through str()
    assert by(s, "librechat_messages_per_model_total") == {"unknown": 4, "5": 1, "5.0": 1, "{'a': 1}": 1}


def test_distinct_users_python_values_and_none():
    msgs = [
        user_msg(at(-1), user=5),
        user_msg(at(-1), user=5.0),
        user_msg(at(-1), user="5"),
        user_msg(at(-1), user=None),
        {k: v for k, v in user_msg(at(-1)).items() if k != "user"},
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_active_users") == 2  # 5 == 5.0, "5"; None and missing ignored
    assert one(s, "librechat_daily_unique_users") == 2


def test_agents_mapping():
    agents = [
        {"id": "agent_abc", "model": "gpt-4o"},
        {"id": "agent_empty", "model": ""},
        {"id": "agent_num", "model": 7},
        {"id": "plain", "model": "x"},
    ]
    t = at(-60)
    msgs = [
        ai_msg(t, model="agent_abc"),  # known agent -> its model
        ai_msg(t, model="agent_zzz"),  # unknown agent id stays as is
        ai_msg(t, model="agent_empty"),  # agent with empty model: id stays
        ai_msg(t, model="agent_num"),  # agent with non-string model: id stays
        ai_msg(t, model="plain"),  # does not start with agent_: no lookup
        ai_msg(t, model="gpt-4o"),
    ]  # the real model shares the label with agent_abc
    s = exporter_samples({"messages": msgs, "agents": agents}, NOW)
    assert by(s, "librechat_messages_per_model_total") == {
        "gpt-4o": 2,
        "agent_zzz": 1,
        "agent_empty": 1,
        "agent_num": 1,
        "plain": 1,
    }
    txs = [tx(t, "prompt", -5, model="agent_abc")]  # the lookup applies to transactions.model as well
    s = exporter_samples({"transactions": txs, "agents": agents}, NOW)
    assert by(s, "librechat_input_tokens_per_model_total") == {"gpt-4o": 5}


def test_label_sanitising():
    t = at(-60)
    long_name = "a" * 250
    msgs = [
        ai_msg(t, model="gpt\n4\x7f"),  # newline and DEL become spaces
        ai_msg(t, model=long_name),  # cut to 200 characters
        ai_msg(t, model="x\ty"),
        ai_msg(t, model="x y"),  # both sanitise to "x y": one series
        ai_msg(t, model="é\x1f"),
    ]  # non-ASCII kept, U+001F replaced
    s = exporter_samples({"messages": msgs}, NOW)
    assert by(s, "librechat_messages_per_model_total") == {"gpt 4 ": 1, "a" * 200: 1, "x y": 2, "é ": 1}
    rated = [ai_msg(t, model="m", feedback={"rating": "thumbsUp", "tag": "bad\r\ntag"})]
    s = exporter_samples({"messages": rated}, NOW)
    assert by(s, "librechat_rating_counts_per_tag") == {"bad  tag": 1}  # \r and \n -> two spaces


# --- ratings ---------------------------------------------------------------------------------------


def fb(rating: Any, tag: Any = None) -> dict:
    """A feedback sub-document."""
    return {"rating": rating, "tag": tag}


def test_tags_as_dict_and_other_types():
    t = at(-60)
    msgs = [
        ai_msg(t, model="m1", feedback=fb("thumbsUp", "accurate_reliable")),  # string tag
        ai_msg(t, model="m1", feedback=fb("thumbsUp", {"key": "creative_solution"})),  # dict with key
        ai_msg(t, model="m2", feedback=fb("thumbsDown", {"label": "x"})),  # dict without key -> str(dict)
        ai_msg(t, model="m2", feedback=fb("thumbsDown", "")),  # empty string: no tag
        ai_msg(t, model="m2", feedback=fb("thumbsUp", None)),  # None: no tag
        ai_msg(t, model=None, feedback=fb("thumbsDown", 5)),  # int -> "5"; model None -> unknown
        ai_msg(t, model="m1", feedback={"rating": "thumbsUp"}),  # tag missing: no tag
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_rated_messages_total") == 7  # every rating counts, tagged or not
    assert by(s, "librechat_rating_counts_per_tag") == {
        "accurate_reliable": 1,
        "creative_solution": 1,
        "{'label': 'x'}": 1,
        "5": 1,
    }
    assert by(s, "librechat_model_tag_thumbs_up") == {
        ("m1", "accurate_reliable"): 1,
        ("m1", "creative_solution"): 1,
    }
    assert by(s, "librechat_model_tag_thumbs_down") == {("m2", "{'label': 'x'}"): 1, ("unknown", "5"): 1}


def test_rating_ratios():
    t = at(-60)
    msgs = [ai_msg(t, model="m1", feedback=fb("thumbsUp")) for _ in range(3)]
    msgs += [
        ai_msg(t, model="m1", feedback=fb("thumbsDown")),
        ai_msg(t, model="m2", feedback=fb("thumbsDown")),
        ai_msg(t, model="m2", feedback=fb("thumbsDown")),
        ai_msg(t, model="m3", feedback=None),  # un-rated: feedback null
        ai_msg(t, model="m3", feedback=fb("meh")),  # not a known rating
        user_msg(t, feedback=fb("thumbsUp")),
    ]  # a rated user message still counts (model unknown)
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_thumbs_up_total") == 4  # 3 on m1 + the user message
    assert one(s, "librechat_thumbs_down_total") == 3  # 1 on m1, 2 on m2
    assert one(s, "librechat_rated_messages_total") == 7
    assert by(s, "librechat_thumbs_up_per_model") == {"m1": 3, "unknown": 1}
    assert by(s, "librechat_thumbs_down_per_model") == {"m1": 1, "m2": 2}
    assert by(s, "librechat_rating_ratio_per_model") == {"m1": 75.0, "m2": 0.0, "unknown": 100.0}  # no m3
    assert one(s, "librechat_overall_rating_ratio") == pytest.approx(100 * 4 / 7)  # 4 up of 7


def test_thumbs_5m_use_updated_at():
    old = datetime(2020, 1, 1, tzinfo=UTC)
    msgs = [
        ai_msg(old, feedback=fb("thumbsUp"), updatedAt=at(-5)),  # updated exactly at the bound: in
        ai_msg(at(-1), feedback=fb("thumbsDown"), updatedAt=at(-5) - timedelta(seconds=1)),  # out
        ai_msg(at(-1), feedback=fb("thumbsUp"), updatedAt=None),  # no updatedAt: out
        ai_msg(old, feedback=fb("thumbsDown"), updatedAt=datetime(2024, 5, 15, 11, 58)),  # naive UTC: in
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_thumbs_up_5m") == 1  # the first
    assert one(s, "librechat_thumbs_down_5m") == 1  # the last


# --- tools -----------------------------------------------------------------------------------------


def call(name: Any, output: Any = "ok") -> dict:
    """A tool-call content part."""
    return {"type": "tool_call", "tool_call": {"id": "x", "name": name, "args": "{}", "output": output}}


def test_tool_failures_and_success_rates():
    t = at(-60)
    m1 = ai_msg(
        t,
        model="m1",
        endpoint="openAI",
        content=[
            call("web_search", "Error processing tool web_search: timeout"),  # failed
            call("web_search", "ok"),
            call("calc", ["fine", "ERROR PROCESSING TOOL"]),  # array with a failing string: failed
            call("calc", [["error processing tool"]]),  # nested array: not matched
            call(None, None),  # name None -> unknown, not failed
            {"type": "tool_call"},  # no tool_call sub-document: unknown, not failed
            {"type": "text", "text": "error processing tool"},  # not a tool call
        ],
    )
    m2 = ai_msg(t, model=None, content=[call("calc", "error Processing Tool")])  # failed; no endpoint
    s = exporter_samples({"messages": [m1, m2]}, NOW)
    assert one(s, "librechat_tool_calls_total") == 7  # 6 in m1 + 1 in m2
    assert one(s, "librechat_tool_call_errors_total") == 3  # web_search 1, calc 2
    assert one(s, "librechat_messages_with_tools_total") == 2
    assert by(s, "librechat_tool_calls_per_tool") == {"web_search": 2, "calc": 3, "unknown": 2}
    assert by(s, "librechat_tool_call_errors_per_tool_total") == {"web_search": 1, "calc": 2}
    rates = by(s, "librechat_tool_success_rate_per_tool")
    assert rates == {"web_search": 50.0, "calc": pytest.approx(100 / 3), "unknown": 100.0}  # 1/2, 1/3, 2/2
    assert by(s, "librechat_tool_calls_per_model") == {
        ("m1", "web_search"): 2,
        ("m1", "calc"): 2,
        ("m1", "unknown"): 2,
        ("unknown", "calc"): 1,
    }
    assert by(s, "librechat_tool_calls_per_endpoint") == {
        ("openAI", "web_search"): 2,
        ("openAI", "calc"): 2,
        ("openAI", "unknown"): 2,
        ("unknown", "calc"): 1,
    }


def test_tool_failures_in_every_shape_the_agents_write():
    mcp = "get_issue_mcp_github"
    threw = "Error: MCP error -32603: rate limited\n Please fix your mistakes."
    parts = [{"type": "text", "text": "Error processing tool get_issue_mcp_github: 401"}]
    msg = ai_msg(
        at(-60),
        content=[
            call(mcp, parts),  # an array of content parts holding the error text: failed
            call(mcp, [{"type": "text", "text": threw}]),  # the same with ToolNode's shape: failed
            call(mcp, threw),  # ToolNode's shape as a string: failed
            call(mcp, "Error: not the end"),  # no "Please fix your mistakes.": not failed
            call(mcp, "See Error: x\n Please fix your mistakes."),  # not at the start: not failed
            call(mcp, [{"type": "image", "text": "error processing tool"}]),  # not a text part
            call(mcp, [{"type": "text", "text": "all good"}]),  # a text part without an error
            call(mcp, {"type": "text", "text": "error processing tool"}),  # a part, not an array
        ],
    )
    s = exporter_samples({"messages": [msg]}, NOW)
    assert one(s, "librechat_tool_calls_total") == 8
    assert one(s, "librechat_tool_call_errors_total") == 3  # the first three


def test_tool_success_rate_zero_is_kept():
    msgs = [ai_msg(at(-60), content=[call("broken", "Error processing tool broken")])]
    s = exporter_samples({"messages": msgs}, NOW)
    assert by(s, "librechat_tool_success_rate_per_tool") == {"broken": 0.0}  # all failed: 0, still a sample


def test_tool_5m_and_active_tool_users():
    msgs = [
        ai_msg(at(-4), user="a", content=[call("s", "Error processing tool s"), call("t")]),  # in window
        ai_msg(at(-10), user="b", content=[call("s")], updatedAt=at(-1)),  # created before: out
        ai_msg(at(-3), user=None, content=[call("t")]),  # in window, user None
        ai_msg(at(-2), user="c"),  # no tools
    ]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_tool_calls_5m") == 3  # 2 + 1 in the window
    assert one(s, "librechat_tool_call_errors_5m") == 1  # the failed s call
    assert by(s, "librechat_tool_calls_per_tool_5m") == {"s": 1, "t": 2}
    assert one(s, "librechat_active_tool_users") == 1  # only a (None does not count, c has no tools)


# --- history ---------------------------------------------------------------------------------------


def hist(messages: list, start: date, end: date, tz: str = "UTC", **collections: Any) -> dict:
    """history_rows on the given collections."""
    return history_rows({"messages": messages, **collections}, start, end, tz=tz)


def test_history_has_every_table_and_daily_rows_for_empty_days():
    h = history_rows({}, date(2024, 5, 14), date(2024, 5, 15))
    assert set(h) == set(HISTORY_TABLES)
    assert h["daily_users"] == {(date(2024, 5, 14), 0), (date(2024, 5, 15), 0)}  # a row per day
    assert h["daily_messages"] == {(date(2024, 5, 14), 0, 0), (date(2024, 5, 15), 0, 0)}
    assert h["weekly_users"] == {(date(2024, 5, 13), 0)}  # the week of Monday May 13
    assert h["monthly_users"] == {(date(2024, 5, 1), 0)}
    assert h["daily_tokens_by_model"] == set()  # no all-zero rows


def test_history_day_boundaries_utc():
    msgs = [
        user_msg(datetime(2024, 5, 14, 0, 0, tzinfo=UTC), user="a"),  # first instant of May 14
        user_msg(datetime(2024, 5, 14, 23, 59, 59, 999000, tzinfo=UTC), user="b"),  # last ms of May 14
        user_msg(datetime(2024, 5, 15, 0, 0, tzinfo=UTC), user="a"),  # May 15
        user_msg(datetime(2024, 5, 16, 0, 0, tzinfo=UTC), user="z"),  # after the range
        user_msg(datetime(2024, 5, 13, 23, 59, 59, tzinfo=UTC), user="y"),  # before the range
        user_msg(None, user="n"),  # no date: no day
    ]
    convs = [{"createdAt": datetime(2024, 5, 15, 10, 0, tzinfo=UTC)}, {"createdAt": datetime(2024, 5, 16)}]
    h = hist(msgs, date(2024, 5, 14), date(2024, 5, 15), conversations=convs)
    assert h["daily_users"] == {(date(2024, 5, 14), 2), (date(2024, 5, 15), 1)}  # {a, b}; {a}
    assert h["daily_messages"] == {(date(2024, 5, 14), 2, 0), (date(2024, 5, 15), 1, 1)}  # 1 conv on 15th


def test_history_day_boundaries_berlin_dst_end():
    # 2024-10-27: Berlin goes CEST (+2) -> CET (+1); that local day lasts 25 hours.
    msgs = [
        user_msg(datetime(2024, 10, 26, 21, 59, 59, tzinfo=UTC), user="a"),  # Oct 26 23:59:59 CEST
        user_msg(datetime(2024, 10, 26, 22, 0, tzinfo=UTC), user="b"),  # Oct 27 00:00 CEST
        user_msg(datetime(2024, 10, 27, 22, 59, 59, tzinfo=UTC), user="c"),  # Oct 27 23:59:59 CET
        user_msg(datetime(2024, 10, 27, 23, 0, tzinfo=UTC), user="d"),  # Oct 28 00:00 CET (a Monday)
        user_msg(datetime(2024, 10, 25, 21, 59, 59, tzinfo=UTC), user="e"),  # Oct 25 local: before range
    ]
    h = hist(msgs, date(2024, 10, 26), date(2024, 10, 28), tz="Europe/Berlin")
    assert h["daily_messages"] == {
        (date(2024, 10, 26), 1, 0),
        (date(2024, 10, 27), 2, 0),
        (date(2024, 10, 28), 1, 0),
    }  # a; b, c; d
    assert h["daily_users"] == {(date(2024, 10, 26), 1), (date(2024, 10, 27), 2), (date(2024, 10, 28), 1)}
    assert h["weekly_users"] == {(date(2024, 10, 21), 4), (date(2024, 10, 28), 1)}  # a, b, c, e; d
    assert h["monthly_users"] == {(date(2024, 10, 1), 5)}  # all five are in October local time
    u = hist(msgs, date(2024, 10, 26), date(2024, 10, 28), tz="UTC")
    assert u["daily_messages"] == {
        (date(2024, 10, 26), 2, 0),
        (date(2024, 10, 27), 2, 0),
        (date(2024, 10, 28), 0, 0),
    }  # a, b; c, d; none


def test_history_partial_week_and_month():
    def m(when: datetime, user: str) -> dict:
        return user_msg(when, user=user)

    msgs = [
        m(datetime(2024, 5, 1, tzinfo=UTC), "a"),  # May, not in the week
        m(datetime(2024, 5, 27, tzinfo=UTC), "b"),  # Monday of the week, before the range
        m(datetime(2024, 5, 31, 12, tzinfo=UTC), "c"),  # a range day
        m(datetime(2024, 6, 2, 23, 59, tzinfo=UTC), "d"),  # last range day (Sunday)
        m(datetime(2024, 6, 3, tzinfo=UTC), "e"),  # next week (not written), June
        m(datetime(2024, 6, 30, tzinfo=UTC), "f"),  # June
        m(datetime(2024, 7, 1, tzinfo=UTC), "g"),  # July: nothing
    ]
    h = hist(msgs, date(2024, 5, 30), date(2024, 6, 2))
    assert h["weekly_users"] == {(date(2024, 5, 27), 3)}  # b, c, d over the whole week
    assert h["monthly_users"] == {(date(2024, 5, 1), 3), (date(2024, 6, 1), 3)}  # a, b, c; d, e, f
    assert h["daily_users"] == {
        (date(2024, 5, 30), 0),
        (date(2024, 5, 31), 1),
        (date(2024, 6, 1), 0),
        (date(2024, 6, 2), 1),
    }


def test_history_messages_source_attribution():
    d14, d15 = date(2024, 5, 14), date(2024, 5, 15)
    msgs = [
        user_msg(datetime(2024, 5, 14, 23, 59, tzinfo=UTC), mid="q1", tokens=10, user="u1"),
        ai_msg(datetime(2024, 5, 15, 0, 1, tzinfo=UTC), model="m1", parent="q1", tokens=4, user="u1"),
        ai_msg(datetime(2024, 5, 16, 0, 1, tzinfo=UTC), model="m2", parent="q1", tokens=6, user="u1"),
        user_msg(datetime(2024, 5, 15, 8, 0, tzinfo=UTC), mid="q2", tokens=3, user=None),  # no reply, no user
        ai_msg(datetime(2024, 5, 15, 9, 0, tzinfo=UTC), model="m1", error=True, user="u2"),  # no tokens
    ]
    h = hist(msgs, d14, d15)
    assert h["daily_tokens_by_model"] == {
        (d14, "m1", 10, 0),  # q1's input: q1's day, earliest reply's model
        (d15, "m1", 0, 4),  # the reply's output on its own day
        (d15, "unknown", 3, 0),  # q2 has no reply
    }  # the regeneration on May 16 is outside the range
    assert h["daily_tokens_by_user"] == {(d14, "u1", 10, 0), (d15, "u1", 0, 4)}  # q2 has no user: left out
    assert h["daily_messages_by_model"] == {(d15, "m1", 2)}  # two assistant messages on May 15
    assert h["daily_errors_by_model"] == {(d15, "m1", 1)}
    assert h["daily_users"] == {(d14, 1), (d15, 2)}  # u1; u1, u2 (None not counted)


def test_history_transactions_by_user_hex_and_objectid_day():
    uid = ObjectId("6650a0b0c0d0e0f000000001")
    day = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    txs = [
        tx(day, "prompt", -100, "m1", user=uid, createdAt=datetime(2024, 5, 20)),  # day from _id
        tx(day, "completion", -40, "m1", user=uid),
        tx(day, "prompt", -7, "m2", user=None),  # no user: only in by_model
        tx(day, "credits", 500, None, user=uid),  # credits never count
    ]
    msgs = [ai_msg(day, model="m1", tokens=999, user="u1")]  # ignored: transactions are the source
    h = hist(msgs, date(2024, 5, 14), date(2024, 5, 14), transactions=txs)
    assert h["daily_tokens_by_model"] == {(date(2024, 5, 14), "m1", 100, 40), (date(2024, 5, 14), "m2", 7, 0)}
    assert h["daily_tokens_by_user"] == {(date(2024, 5, 14), "6650a0b0c0d0e0f000000001", 100, 40)}


def test_history_no_zero_rows_and_int_vs_float():
    d = date(2024, 5, 14)
    t = datetime(2024, 5, 14, 12, tzinfo=UTC)
    msgs = [
        ai_msg(t, model="zero", tokens=0, user="u1"),  # all-zero token rows are not written
        ai_msg(t, model="ints", tokens=3, user="u2"),
        ai_msg(t, model="ints", tokens=4, user="u2"),
        ai_msg(t, model="mixed", tokens=2, user="u3"),
        ai_msg(t, model="mixed", tokens=0.5, user="u3"),
    ]
    h = hist(msgs, d, d)
    assert h["daily_tokens_by_model"] == {(d, "ints", 0, 7), (d, "mixed", 0, 2.5)}
    assert h["daily_messages_by_model"] == {(d, "zero", 1), (d, "ints", 2), (d, "mixed", 2)}  # still counted
    rows = {row[1]: row for row in h["daily_tokens_by_model"]}
    assert type(rows["ints"][3]) is int  # every contributing value is an int
    assert type(rows["mixed"][3]) is float  # one float makes it a float
    assert type(rows["ints"][2]) is int  # no contributing values: int 0
    assert h["daily_tokens_by_user"] == {(d, "u2", 0, 7), (d, "u3", 0, 2.5)}  # u1's row is all zero


def test_history_model_labels_and_agents():
    d = date(2024, 5, 14)
    t = datetime(2024, 5, 14, 12, tzinfo=UTC)
    agents = [{"id": "agent_abc", "model": "claude"}]
    msgs = [
        ai_msg(t, model="agent_abc", error=True),
        ai_msg(t, model=None),
        ai_msg(t, model="bad\nname", content=[{"type": "error"}]),
    ]
    h = hist(msgs, d, d, agents=agents)
    assert h["daily_messages_by_model"] == {(d, "claude", 1), (d, "unknown", 1), (d, "bad name", 1)}
    assert h["daily_errors_by_model"] == {(d, "claude", 1), (d, "bad name", 1)}  # error:true and error part


def test_history_empty_range():
    h = history_rows({}, date(2024, 5, 15), date(2024, 5, 14))
    assert all(rows == set() for rows in h.values())  # end before start: nothing


def test_sums_are_exact():
    msgs = [ai_msg(at(-60), model="m", tokens=0.1) for _ in range(10)]
    s = exporter_samples({"messages": msgs}, NOW)
    assert one(s, "librechat_output_tokens_total") == 1.0  # fsum: correctly rounded, not 0.99999...
    assert math.isclose(by(s, "librechat_output_tokens_per_model_total")["m"], 1.0)


# --- response time of first replies ----------------------------------------------------------------


def test_response_time_counts_first_replies_only():
    q1 = user_msg(at(-4), mid="q1")
    first = ai_msg(at(-4) + timedelta(seconds=4), model="m1", parent="q1")  # waited 4 s
    regenerated = ai_msg(at(-3), model="m1", parent="q1")  # a sibling: left out
    q2 = user_msg(at(-2), mid="q2")
    second = ai_msg(at(-2) + timedelta(seconds=3), model="m1", parent="q2")  # waited 3 s
    q3 = user_msg(at(-1), mid="q3")
    other_model = ai_msg(at(-1) + timedelta(seconds=30), model="m2", parent="q3")  # 30 s, model m2
    old_q = user_msg(at(-20), mid="q4")
    old_reply = ai_msg(at(-19), parent="q4")  # outside the 5m window
    late_first = ai_msg(at(-2), parent="q4")  # in the window, but a regeneration of old_reply
    orphan = ai_msg(at(-1), parent="missing")  # no question in its conversation
    elsewhere = ai_msg(at(-1), parent="q2", conversationId="c2")  # q2 is not in conversation c2
    to_assistant = ai_msg(at(-1), parent=first["messageId"])  # parent is not a user message
    messages = [q1, first, regenerated, q2, second, q3, other_model, old_q, old_reply, late_first, orphan]
    messages += [elsewhere, to_assistant]
    s = exporter_samples({"messages": messages}, NOW)
    assert s["librechat_responses_5m"] == {(("model", "m1"),): 2.0, (("model", "m2"),): 1.0}
    # m1 waits [3, 4]: p50 = rank ceil(1.0) = 1 -> 3; p90 = rank ceil(1.8) = 2 -> 4; p99 -> 4.
    assert s["librechat_response_time_seconds_5m"] == {
        (("model", "m1"), ("percentile", "50")): 3.0,
        (("model", "m1"), ("percentile", "90")): 4.0,
        (("model", "m1"), ("percentile", "99")): 4.0,
        (("model", "m2"), ("percentile", "50")): 30.0,
        (("model", "m2"), ("percentile", "90")): 30.0,
        (("model", "m2"), ("percentile", "99")): 30.0,
    }


def test_response_time_percentiles_are_nearest_rank():
    q = [user_msg(at(-4), mid=f"q{i}") for i in range(10)]
    replies = [ai_msg(at(-4) + timedelta(seconds=i + 1), parent=f"q{i}") for i in range(10)]  # 1..10 s
    s = exporter_samples({"messages": q + replies}, NOW)["librechat_response_time_seconds_5m"]
    # n = 10: p50 rank 5 -> 5 s; p90 rank 9 -> 9 s; p99 rank ceil(9.9) = 10 -> 10 s.
    assert {k[1][1]: v for k, v in s.items()} == {"50": 5.0, "90": 9.0, "99": 10.0}


# --- issue #12: spend, cache tokens, endpoints, unfinished replies, agents, histogram, balances --------


def test_spend_is_token_value_magnitude_in_usd_and_skips_credits_and_odd_values():
    data = {
        "transactions": [
            tx(at(-60), "prompt", -1000, model="m1", tokenValue=-2500.0),  # 0.0025 USD
            tx(at(-60), "completion", -200, model="m1", tokenValue=-2000),  # 0.002 USD
            tx(at(-2), "prompt", -10, model="m1", tokenValue=-500),  # 0.0005 USD, in the 5m window
            tx(at(-2), "credits", 5000, model="m1", tokenValue=5000),  # top-up: never
            tx(at(-2), "prompt", -10, model="m2", tokenValue=float("nan")),  # tokens count, spend 0
            tx(at(-2), "prompt", -10, model="m2", tokenValue="-300"),  # a string: spend 0
            tx(at(-2), "prompt", float("inf"), model="m3", tokenValue=-900),  # invalid rawAmount: ignored
            tx(at(-2), "completion", -1, model="m4", tokenValue=700),  # odd positive: its magnitude
        ]
    }
    s = exporter_samples(data, NOW)
    spend = by(s, "librechat_spend_usd_total")
    # m1: (2500 + 2000 + 500) / 1e6; m2 has 0 so no sample; m3 ignored; m4: 700 / 1e6.
    assert spend == {"m1": 0.005, "m4": 0.0007}
    assert by(s, "librechat_spend_usd_5m") == {"m1": 0.0005, "m4": 0.0007}
    assert one(s, "librechat_input_tokens_total") == 1000 + 10 + 10 + 10  # the NaN spend still has tokens


def test_spend_ignores_the_token_source_and_resolves_agents():
    data = {
        "transactions": [tx(at(-60), "prompt", -1000, model="agent_a", tokenValue=-3e6)],
        "agents": [{"id": "agent_a", "model": "real"}],
        "messages": [user_msg(at(-60), tokens=5)],
    }
    s = exporter_samples(data, NOW, token_source="messages")
    assert by(s, "librechat_spend_usd_total") == {"real": 3.0}  # 3,000,000 credits = 3 USD


def test_cache_tokens_are_magnitudes_of_structured_prompts_only():
    structured = {"inputTokens": -40, "writeTokens": -10, "readTokens": -50}
    data = {
        "transactions": [
            tx(at(-60), "prompt", -100, model="m1", **structured),
            tx(at(-60), "prompt", -100, model="m1", inputTokens=-40, writeTokens=-0.0, readTokens=-60),
            tx(
                at(-60),
                "prompt",
                -100,
                model="m2",
                inputTokens=-40,
                writeTokens=float("nan"),
                readTokens="-5",
            ),
            tx(at(-60), "completion", -100, model="m3", writeTokens=-7, readTokens=-9),  # completions: never
            tx(at(-60), "credits", 100, model="m3", readTokens=-3),  # credits: never
            tx(at(-60), "prompt", None, model="m3", readTokens=-3),  # invalid rawAmount: ignored
        ]
    }
    s = exporter_samples(data, NOW)
    assert by(s, "librechat_cache_read_tokens_total") == {"m1": 110}  # 50 + 60; m2's string is 0
    assert by(s, "librechat_cache_write_tokens_total") == {"m1": 10}  # 10 + |-0.0|; m2's NaN is 0


def test_messages_and_errors_per_endpoint():
    data = {
        "messages": [
            ai_msg(at(-60), endpoint="openAI"),
            ai_msg(at(-2), endpoint="openAI"),
            ai_msg(at(-2), endpoint="anthropic", error=True),
            ai_msg(at(-60), error=True),  # no endpoint (as on most error messages): unknown
            user_msg(at(-2), endpoint="openAI"),  # a user message: not a reply, not an error
            user_msg(at(-2), endpoint="Mistral", error=True),  # errors count on any message
        ]
    }
    s = exporter_samples(data, NOW)
    assert by(s, "librechat_messages_per_endpoint_total") == {"openAI": 2, "anthropic": 1, "unknown": 1}
    assert by(s, "librechat_messages_per_endpoint_5m") == {"openAI": 1, "anthropic": 1}
    assert by(s, "librechat_errors_per_endpoint_total") == {"anthropic": 1, "unknown": 1, "Mistral": 1}
    assert by(s, "librechat_errors_per_endpoint_5m") == {"anthropic": 1, "Mistral": 1}


def test_unfinished_replies_both_shapes():
    data = {
        "messages": [
            ai_msg(at(-60), model="m1", unfinished=True),  # agents abort route
            ai_msg(at(-2), model="m1", unfinished=False, finish_reason="incomplete"),  # abort middleware
            ai_msg(at(-2), model="m2", unfinished="true"),  # a string: not the boolean
            ai_msg(at(-2), model="m2", finish_reason="stop"),
            user_msg(at(-2), finish_reason="incomplete"),  # not an assistant message
        ]
    }
    s = exporter_samples(data, NOW)
    assert by(s, "librechat_unfinished_replies_total") == {"m1": 2}
    assert by(s, "librechat_unfinished_replies_5m") == {"m1": 1}


def test_agent_replies_errors_and_info():
    data = {
        "messages": [
            ai_msg(at(-60), model="agent_a"),
            ai_msg(at(-2), model="agent_a", error=True),
            ai_msg(at(-2), model="agent_gone"),  # a deleted agent keeps its id
            ai_msg(at(-2), model="gpt-4o", endpoint="agents"),  # an ephemeral agent: no agent id
            user_msg(at(-2), model="agent_a"),  # a user message is no reply
        ],
        "agents": [
            {"id": "agent_a", "name": "Helper\n", "provider": "openAI", "model": "gpt-4o"},
            {"id": "agent_a", "name": "Duplicate", "provider": "x", "model": "y"},  # first one wins
            {"id": "agent_b", "model": 5},  # no name or provider: unknown; model str()
            {"id": "assistant_1", "name": "not an agent id"},
        ],
    }
    s = exporter_samples(data, NOW)
    assert by(s, "librechat_agent_replies_total") == {"agent_a": 2, "agent_gone": 1}
    assert by(s, "librechat_agent_replies_5m") == {"agent_a": 1, "agent_gone": 1}
    assert by(s, "librechat_agent_errors_total") == {"agent_a": 1}
    assert by(s, "librechat_agent_errors_5m") == {"agent_a": 1}
    # labels in name order: agent_id, model, name, provider; the newline is sanitised to a space
    assert by(s, "librechat_agent_info") == {
        ("agent_a", "gpt-4o", "Helper ", "openAI"): 1.0,
        ("agent_b", "5", "unknown", "unknown"): 1.0,
    }
    # the reply of the deleted agent keeps its id as model label too
    assert by(s, "librechat_messages_per_model_total") == {"gpt-4o": 3, "agent_gone": 1}


def test_agent_info_sanitises_control_characters():
    s = exporter_samples(
        {"agents": [{"id": "agent_c", "name": "a\x00b", "provider": "p", "model": "m"}]}, NOW
    )
    assert by(s, "librechat_agent_info") == {("agent_c", "m", "a b", "p"): 1.0}


def test_response_time_histogram_is_cumulative_over_all_time():
    q1, q2, q3 = (user_msg(at(-600), mid=f"h{i}") for i in range(3))
    replies = [
        ai_msg(at(-600) + timedelta(seconds=0.01), parent="h0"),  # exactly on the 0.01 bound: in it
        ai_msg(at(-600) + timedelta(seconds=3), parent="h1"),  # 3 s: first bound above is 5.12
        ai_msg(at(-600) + timedelta(seconds=100), parent="h2"),  # above 81.92: only +Inf
        ai_msg(at(-590), parent="h2"),  # a regeneration: left out
    ]
    s = exporter_samples({"messages": [q1, q2, q3, *replies]}, NOW)
    buckets = {k[0][1]: v for k, v in s["librechat_response_time_seconds_bucket"].items()}
    assert buckets["0.01"] == 1 and buckets["2.56"] == 1 and buckets["5.12"] == 2
    assert buckets["81.92"] == 2 and buckets["+Inf"] == 3 and len(buckets) == 15
    assert by(s, "librechat_response_time_seconds_count") == {"m1": 3}
    assert math.isclose(by(s, "librechat_response_time_seconds_sum")["m1"], 103.01)
    assert s["librechat_responses_5m"] == {}  # all are older than 5 minutes


def test_balances():
    users = [ObjectId() for _ in range(8)]
    balances = [
        {"tokenCredits": 1_500_000, "autoRefillEnabled": True},
        {"tokenCredits": 500_000.5},
        {"tokenCredits": 0},
        {"tokenCredits": -20},
        {"tokenCredits": float("nan"), "autoRefillEnabled": "true"},  # invalid; a string is not true
        {"tokenCredits": "9"},
        {"tokenCredits": True},
    ]
    for doc, user in zip(balances, users, strict=False):
        doc |= {"_id": oid(NOW), "user": user}
    balances.append({"_id": oid(NOW), "user": None, "tokenCredits": 7_000_000})  # no user: never read
    s = exporter_samples({"balances": balances}, NOW)
    assert one(s, "librechat_balance_credits_usd") == 2.0000005  # (1,500,000 + 500,000.5) / 1e6
    assert one(s, "librechat_balance_users_at_or_below_zero") == 2  # 0 and -20
    assert one(s, "librechat_balance_auto_refill_users") == 1
    assert one(s, "librechat_balance_reserved_usd") == 0


def test_balances_read_the_oldest_document_and_unexpired_reservations():
    a, b, c = ObjectId(), ObjectId(), ObjectId()
    held = [
        {"id": "r1", "amount": 300_000, "expiresAt": at(5)},  # held
        {"id": "r2", "amount": 200_000, "expiresAt": at(-1)},  # expired: not held any more
        {"id": "r3", "amount": "9", "expiresAt": at(5)},  # unreadable amount
    ]
    balances = [
        # a: two documents; LibreChat reads the older (_id), 1,000,000 credits, 300,000 reserved
        {"_id": oid(at(-60)), "user": a, "tokenCredits": 2_000_000, "autoRefillEnabled": True},
        {"_id": oid(at(-120)), "user": a, "tokenCredits": 1_000_000, "reservations": held},
        # b: everything it has is reserved (stale reservedCredits is not read)
        {"_id": oid(at(-10)), "user": b, "tokenCredits": 400_000, "reservedCredits": 1,
         "reservations": [{"id": "r4", "amount": 400_000, "expiresAt": at(1)}]},
        # c: 0 credits, nothing reserved
        {"_id": oid(at(-10)), "user": c, "tokenCredits": 0},
    ]  # fmt: skip
    s = exporter_samples({"balances": balances}, NOW)
    assert one(s, "librechat_balance_credits_usd") == 1.4  # (1,000,000 + 400,000) / 1e6
    assert one(s, "librechat_balance_reserved_usd") == 0.7  # (300,000 + 400,000) / 1e6
    assert one(s, "librechat_balance_users_at_or_below_zero") == 2  # b (400,000 - 400,000) and c
    assert one(s, "librechat_balance_auto_refill_users") == 0  # a's newer document is not read


def test_history_cost_endpoint_unfinished_agent_and_response_time_rows():
    day = date(2024, 5, 14)  # the day before NOW, in UTC
    noon = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    data = {
        "transactions": [
            tx(noon, "prompt", -100, model="m1", tokenValue=-250_000, readTokens=-30, writeTokens=-5),
            tx(
                noon, "completion", -10, model="m1", tokenValue=-100_000, readTokens=-99
            ),  # no cache on completions
            tx(noon, "credits", 10**6, model="m1", tokenValue=10**6),  # never
            tx(noon, "prompt", -1, model="m2", tokenValue="x"),  # counted, but spend and cache 0: no row
        ],
        "messages": [
            user_msg(noon, mid="d1", endpoint="openAI"),
            ai_msg(noon + timedelta(seconds=2), parent="d1", endpoint="openAI", unfinished=True),  # 2 s
            user_msg(noon, mid="d2"),
            ai_msg(noon + timedelta(seconds=6), model="agent_x", parent="d2", endpoint="agents", error=True),
            ai_msg(
                datetime(2024, 5, 13, 23, 59, tzinfo=UTC), model="agent_x"
            ),  # the day before: not in range
        ],
        "agents": [{"id": "agent_x", "model": "m3"}],
    }
    rows = history_rows(data, day, day)
    # spend: (250,000 + 100,000) / 1e6 = 0.35 USD; cache: prompt only.
    assert rows["daily_cost_by_model"] == {(day, "m1", 0.35, 30, 5)}
    assert rows["daily_messages_by_endpoint"] == {(day, "openAI", 1, 0), (day, "agents", 1, 1)}
    assert rows["daily_unfinished_by_model"] == {(day, "m1", 1)}
    assert rows["daily_replies_by_agent"] == {(day, "agent_x", 1, 1)}
    assert rows["daily_spend_by_agent"] == set()  # no transaction names a message
    # one first reply each: m1 waited 2 s, the agent's reply (model m3) 6 s; every percentile is that value.
    assert rows["daily_response_time_by_model"] == {
        (day, "m1", 1, 2.0, 2.0, 2.0),
        (day, "m3", 1, 6.0, 6.0, 6.0),
    }


def test_agent_spend_joins_transactions_to_agent_replies_by_message_id():
    reply_a = ai_msg(at(-60), model="agent_a", messageId="ra")
    reply_b = ai_msg(at(-60), model="agent_b", messageId="rb", user="u2")
    plain = ai_msg(at(-60), model="gpt-4o", messageId="rp")
    data = {
        "messages": [reply_a, reply_b, plain, user_msg(at(-60), mid="ra")],  # a user message: no agent
        "transactions": [
            tx(at(-60), "prompt", -10, model="gpt-4o", tokenValue=-1_000_000, messageId="ra"),  # 1 USD to a
            tx(at(-60), "completion", -10, model="gpt-4o", tokenValue=-500_000, messageId="ra"),  # 0.5 to a
            tx(at(-60), "prompt", -10, model="x", tokenValue=-2_000_000, messageId="rb"),  # 2 USD to b
            tx(at(-60), "prompt", -10, model="x", tokenValue=-7_000_000, messageId="rp"),  # not an agent
            tx(at(-60), "prompt", -10, model="x", tokenValue=-9_000_000),  # no messageId (a title, v0.8.2)
            tx(at(-60), "credits", 10**7, model="x", tokenValue=10**7, messageId="ra"),  # top-up: never
        ],
    }
    assert by(exporter_samples(data, NOW), "librechat_agent_spend_usd_total") == {
        "agent_a": 1.5,
        "agent_b": 2.0,
    }


def test_agent_users_per_window():
    # NOW is Wednesday 2024-05-15 12:00 UTC: the week started Monday the 13th, the month on the 1st.
    data = {
        "messages": [
            ai_msg(at(-2), model="agent_a", user="u1"),
            ai_msg(at(-3), model="agent_a", user="u1"),  # the same user once
            ai_msg(at(-60), model="agent_a", user="u2"),  # today
            ai_msg(datetime(2024, 5, 13, 8, tzinfo=UTC), model="agent_a", user="u3"),  # this week
            ai_msg(datetime(2024, 5, 2, tzinfo=UTC), model="agent_b", user="u4"),  # this month
            ai_msg(at(-2), model="agent_b", user=None),  # no user: not counted
            user_msg(at(-2), user="u9", model="agent_a"),  # not a reply
        ]
    }
    s = exporter_samples(data, NOW)
    assert by(s, "librechat_agent_active_users") == {"agent_a": 1}
    assert by(s, "librechat_agent_daily_users") == {"agent_a": 2}
    assert by(s, "librechat_agent_weekly_users") == {"agent_a": 3}
    assert by(s, "librechat_agent_monthly_users") == {"agent_a": 3, "agent_b": 1}
