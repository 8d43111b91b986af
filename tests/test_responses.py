"""Response time (responses.py): first replies only, nearest-rank percentiles, through the real exporter."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from bson import ObjectId

from librechat_metrics.responses import percentiles
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
