"""LIBRECHAT_TENANT_ID: the exporter and the history export count one tenant's documents only.

Expected values come from the oracle over that tenant's documents (`only_tenant`), never from the
code under test; one hand-worked dataset pins the filter itself.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId

from librechat_metrics.mongo import Reader
from librechat_metrics.synthetic import generate, malformed_corpus
from tests.oracle import history_rows, only_tenant
from tests.support.compare import assert_samples_equal, expected
from tests.support.exporter import run_cli, scrape_once, start_exporter
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import SqlDb, assert_rows_equal, export

ZONES = ("UTC", "Europe/Berlin")
MAIN, OTHER = "tenant-main", "tenant-other"
# tenantId values that are not MAIN: a tenant must match exactly, and an odd value never breaks a read
ODD_TENANTS = (None, "TENANT-MAIN", " tenant-main", 5, {"id": MAIN})


def two_tenants(now: datetime, profile: str = "v0.8.7", n_messages: int = 1200) -> dict[str, list[dict]]:
    """A dataset of two tenants, plus the malformed corpus inside MAIN and under odd tenantIds."""
    collections = generate(profile=profile, seed=5, n_messages=n_messages, now=now, zones=ZONES, tenants=2)
    data = collections.collections
    for i, (name, docs) in enumerate(malformed_corpus(now, seed=4).items()):
        for j, doc in enumerate(docs):
            odd = copy.deepcopy(doc)
            if (i + j) % 3:
                odd["tenantId"] = MAIN
            else:
                odd["tenantId"] = ODD_TENANTS[(i + j) % len(ODD_TENANTS)]
                if odd["tenantId"] is None:
                    del odd["tenantId"]
            data.setdefault(name, []).append(odd)
    return data


@pytest.fixture(scope="module")
def served():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    data = two_tenants(now)
    server = start_mongoeco(data)
    yield data, server
    server.stop()


# --- the filter itself, by hand ------------------------------------------------------------------------


def test_hand_worked_tenant_filter():
    """Two users of tenant a, one of b; a's reads see 2 users, 3 messages, 1 conversation."""
    t = datetime(2025, 5, 1, 12, tzinfo=timezone.utc)
    users = [
        {"_id": ObjectId(), "email": "1@x", "tenantId": "a"},
        {"_id": ObjectId(), "email": "2@x", "tenantId": "a"},
        {"_id": ObjectId(), "email": "3@x", "tenantId": "b"},
    ]
    messages = [
        {"_id": ObjectId(), "user": "u1", "tenantId": "a", "createdAt": t, "isCreatedByUser": True},
        {"_id": ObjectId(), "user": "u1", "tenantId": "a", "createdAt": t, "isCreatedByUser": False},
        {"_id": ObjectId(), "user": "u2", "tenantId": "a", "createdAt": t, "isCreatedByUser": True},
        {"_id": ObjectId(), "user": "u3", "tenantId": "b", "createdAt": t, "isCreatedByUser": True},
        {"_id": ObjectId(), "user": "u4", "createdAt": t, "isCreatedByUser": True},
    ]
    conversations = [{"_id": ObjectId(), "tenantId": "a"}, {"_id": ObjectId(), "tenantId": "b"}]
    data = {"users": users, "messages": messages, "conversations": conversations}
    assert {name: len(docs) for name, docs in only_tenant(data, "a").items()} == {
        "users": 2,
        "messages": 3,
        "conversations": 1,
    }
    server = start_mongoeco(data)
    try:
        from pymongo import MongoClient

        with MongoClient(server.uri, tz_aware=True) as client:
            reader = Reader(client["LibreChat"], 10_000, "a")
            assert reader.count("users") == 2
            assert reader.count("conversations") == 1
            assert len(reader.find("messages", {}, {"_id": 1})) == 3
            assert len(reader.find("messages", {"isCreatedByUser": True}, {"_id": 1})) == 2
            users = reader.aggregate("messages", [{"$group": {"_id": "$user"}}])
            assert sorted(row["_id"] for row in users) == ["u1", "u2"]
            matched = reader.aggregate("messages", [{"$match": {"user": "u1"}}, {"$count": "n"}])
            assert matched == [{"n": 2}]
            whole = Reader(client["LibreChat"], 10_000)
            assert whole.count("users") == 3 and len(whole.find("messages", {}, {"_id": 1})) == 5
    finally:
        server.stop()


def test_scoped_pipeline_joins_the_leading_match():
    reader = Reader(None, 1, "t")  # type: ignore[arg-type]
    assert reader.scoped_pipeline([{"$match": {"a": 1}}, {"$limit": 1}]) == [
        {"$match": {"$and": [{"tenantId": "t"}, {"a": 1}]}},
        {"$limit": 1},
    ]
    assert reader.scoped_pipeline([{"$match": {}}]) == [{"$match": {"tenantId": "t"}}]
    assert reader.scoped_pipeline([{"$group": {"_id": 1}}])[0] == {"$match": {"tenantId": "t"}}
    assert Reader(None, 1).scoped_pipeline([{"$group": {"_id": 1}}]) == [{"$group": {"_id": 1}}]  # type: ignore[arg-type]


# --- the exporter ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tenant", "zone"), [(MAIN, "UTC"), (MAIN, "Europe/Berlin"), (OTHER, "UTC")])
def test_exporter_counts_one_tenant(served, tenant, zone):
    data, server = served
    page, log = scrape_once(server.uri, {"TIMEZONE": zone, "LIBRECHAT_TENANT_ID": tenant})
    want = expected(only_tenant(data, tenant), page, zone)
    assert_samples_equal(page.librechat(), want)
    everything = expected(data, page, zone)
    assert want["librechat_messages_total"] != everything["librechat_messages_total"]  # the test can fail
    assert "Traceback" not in log


@pytest.mark.parametrize("profile", ["v0.6", "v0.7.9"])
def test_tenant_of_a_database_without_tenants_is_refused_not_zero(profile):
    """Profiles before v0.8.5 have no tenantId: a tenant set there reads nothing, so nothing is served."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    data = generate(profile=profile, seed=2, n_messages=200, now=now, zones=ZONES).collections
    server = start_mongoeco(data)
    exporter = start_exporter(server.uri, {"LIBRECHAT_TENANT_ID": MAIN})
    try:
        exporter.wait_for(lambda page: "librechat_exporter_target_ok 0.0" in page.text)
        status, body = exporter.get("/readyz")
        assert status == 503 and f"tenantId {MAIN!r}" in body and "LIBRECHAT_TENANT_ID" in body
        assert not exporter.scrape().librechat()  # no zeros that look real
    finally:
        exporter.stop()
        server.stop()


def test_bad_tenant_setting_is_one_line_exit_2():
    done = run_cli(["--check-config"], {"LIBRECHAT_TENANT_ID": "a\nb"})
    assert done.returncode == 2 and "LIBRECHAT_TENANT_ID" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


# --- the history export ------------------------------------------------------------------------------


def finished(rows: dict[str, set[tuple]], zone: str) -> dict[str, set[tuple]]:
    """The rows the export writes: weeks and months that are over (in `zone`) by now."""
    today = datetime.now(ZoneInfo(zone)).date()
    week = today - timedelta(days=today.weekday())
    return {
        **rows,
        "weekly_users": {r for r in rows["weekly_users"] if r[0] < week},
        "monthly_users": {r for r in rows["monthly_users"] if r[0] < today.replace(day=1)},
    }


def test_history_export_counts_one_tenant(served):
    """One zone, Berlin's: the tenant filter does not depend on the zone, and every history table is
    compared with the oracle at UTC and Berlin in the history tests."""
    data, server = served
    zone = "Europe/Berlin"
    today = datetime.now(timezone.utc).date()
    start, end = today - timedelta(days=40), today - timedelta(days=1)
    db = SqlDb("mysql")
    try:
        export(server, db, start, end, zone=zone, LIBRECHAT_TENANT_ID=MAIN)
        want = finished(history_rows(only_tenant(data, MAIN), start, end, zone, "auto"), zone)
        assert_rows_equal(db.snapshot(), want)
        assert want != finished(history_rows(data, start, end, zone, "auto"), zone)
    finally:
        db.drop()


def test_history_export_refuses_an_unknown_tenant(served):
    _, server = served
    db = SqlDb("mysql")
    try:
        done = export(server, db, date(2025, 1, 1), date(2025, 1, 2), expect=2, LIBRECHAT_TENANT_ID="nobody")
        assert "tenantId 'nobody'" in done.stderr and "nothing exported" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    finally:
        db.drop()
