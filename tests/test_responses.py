"""Response time (responses.py): first replies only, nearest-rank percentiles, through the real exporter."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from bson import ObjectId

from librechat_metrics.mongo import Reader, Span
from librechat_metrics.responses import QUESTION_LOOKBACK, percentiles, span_reply_times
from tests.support.compare import assert_samples_equal, expected
from tests.support.exporter import scrape_once
from tests.support.mongo import start_mongoeco

FAMILIES = {"librechat_responses_5m", "librechat_response_time_seconds_5m"}


def test_percentiles_are_nearest_rank():
    assert percentiles([7.0]) == {"50": 7.0, "90": 7.0, "99": 7.0}
    # 1..100: p50 = rank 50, p90 = rank 90, p99 = rank 99.
    assert percentiles([float(i) for i in range(100, 0, -1)]) == {"50": 50.0, "90": 90.0, "99": 99.0}
    # 1..10: p99 = rank ceil(9.9) = 10.
    assert percentiles([float(i) for i in range(1, 11)]) == {"50": 5.0, "90": 9.0, "99": 10.0}


def message(when: datetime, conversation: str, user: bool, parent: str | None = None, **extra) -> dict:
    doc = {
        "_id": ObjectId.from_datetime(when),
        "messageId": str(uuid.uuid4()),
        "conversationId": conversation,
        "parentMessageId": parent or "00000000-0000-0000-0000-000000000000",
        "isCreatedByUser": user,
        "sender": "User" if user else "AI",
        "user": "6650f0c0e4b0a1b2c3d4e5f6",
        "model": None if user else "gpt-4o",
        "createdAt": when,
        "updatedAt": when,
    }
    return doc | extra


def test_exporter_measures_first_replies_and_leaves_out_regenerations():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    docs = []
    for i, wait in enumerate((2.5, 4.0, 9.0, 30.0)):
        asked = now - timedelta(seconds=200 - 30 * i)
        question = message(asked, f"c{i}", True)
        reply = message(asked + timedelta(seconds=wait), f"c{i}", False, question["messageId"])
        docs += [question, reply]
    # A regeneration one minute later in c0, and a reply whose first sibling is older than the window.
    docs.append(message(now - timedelta(seconds=100), "c0", False, docs[0]["messageId"]))
    old_question = message(now - timedelta(minutes=20), "c9", True)
    old_reply = message(now - timedelta(minutes=19), "c9", False, old_question["messageId"])
    regenerated = message(now - timedelta(seconds=60), "c9", False, old_question["messageId"], model="o3")
    docs += [old_question, old_reply, regenerated]
    collections = {"messages": docs}
    server = start_mongoeco(collections)
    try:
        page, _ = scrape_once(server.uri)
    finally:
        server.stop()
    got = {name: page.samples.get(name, {}) for name in FAMILIES}
    assert got["librechat_responses_5m"] == {(("model", "gpt-4o"),): 4.0}  # no o3: it was a regeneration
    assert_samples_equal(got, expected(collections, page, "UTC", families=FAMILIES))
    # waits 2.5, 4, 9, 30: p50 = rank 2 -> 4 s, p90 = rank ceil(3.6) = 4 -> 30 s.
    assert got["librechat_response_time_seconds_5m"][(("model", "gpt-4o"), ("percentile", "50"))] == 4.0
    assert got["librechat_response_time_seconds_5m"][(("model", "gpt-4o"), ("percentile", "90"))] == 30.0


def test_a_day_read_matches_questions_across_midnight_and_its_lookback():
    """span_reply_times of one UTC day, worked by hand at the edges of its read (the day and the
    QUESTION_LOOKBACK hour before it): a question at 23:30 the day before is read with the day; one at
    22:00 is not, so that conversation is read whole, which also finds the first reply of 22:05 that
    makes 00:20's a regeneration; a reply at 23:59 the day before is not the day's; a reply at 00:00
    the next day neither."""
    assert timedelta(hours=1) == QUESTION_LOOKBACK
    day = datetime(2025, 3, 10, tzinfo=timezone.utc)
    at = lambda h, m, s=0, d=0: day + timedelta(days=d, hours=h, minutes=m, seconds=s)  # noqa: E731
    q1 = message(at(23, 30, d=-1), "c1", True)  # in the lookback: answered 40 min later, at 00:10
    r1 = message(at(0, 10), "c1", False, q1["messageId"])
    q2 = message(at(22, 0, d=-1), "c2", True)  # before the lookback: first reply 22:05, 00:20 regenerates
    r2a = message(at(22, 5, d=-1), "c2", False, q2["messageId"])
    r2b = message(at(0, 20), "c2", False, q2["messageId"], model="o3")
    q3 = message(at(20, 0, d=-1), "c3", True)  # before the lookback, first reply inside the day: 5 h
    r3 = message(at(1, 0), "c3", False, q3["messageId"], model="o1")
    q4 = message(at(23, 59, d=-1), "c4", True)  # answered before the day: not the day's
    r4 = message(at(23, 59, 30, d=-1), "c4", False, q4["messageId"])
    q5 = message(at(23, 59, 50), "c5", True)  # answered at the next day's midnight: not the day's
    r5 = message(at(0, 0, d=1), "c5", False, q5["messageId"])
    q6 = message(at(12, 0), "c6", True)
    r6 = message(at(12, 0, 3), "c6", False, q6["messageId"])
    server = start_mongoeco({"messages": [q1, r1, q2, r2a, r2b, q3, r3, q4, r4, q5, r5, q6, r6]})
    try:
        with server.client() as client:
            reader = Reader(client["LibreChat"], 60_000)
            waits = sorted((m, s) for m, s, _ in span_reply_times(reader, Span(day, day + timedelta(days=1))))
    finally:
        server.stop()
    assert waits == [("gpt-4o", 3.0), ("gpt-4o", 2400.0), ("o1", 18000.0)]
