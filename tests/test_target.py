"""The target check: a database that is not LibreChat's is never served as zeros (issue #13, item 1)."""

from __future__ import annotations

import datetime as dt

import pytest

from librechat_metrics.synthetic import generate
from tests.support.compare import expected
from tests.support.exporter import run_cli, start_exporter
from tests.support.mongo import start_mongoeco

MESSAGES = "librechat_messages_total"
TARGET_OK = "librechat_exporter_target_ok"
FAST = {"METRICS_CACHE_TTL": "1", "METRICS_MAX_STALENESS": "900"}


@pytest.fixture(scope="module")
def dataset():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return generate(profile="v0.8.7", seed=13, n_messages=200, now=now, zones=("UTC",)).collections


@pytest.fixture(scope="module")
def server(dataset):
    with start_mongoeco(dataset) as served:  # database "LibreChat"
        yield served


def target_ok(page) -> float | None:
    return page.samples.get(TARGET_OK, {}).get(())


def test_wrong_database_name_serves_nothing_and_says_why(server, dataset):
    exporter = start_exporter(server.uri, {**FAST, "MONGODB_DATABASE": "librechat"})
    try:
        page = exporter.wait_for(lambda p: target_ok(p) == 0.0, timeout=30)
        # Several fast cycles later: still nothing of LibreChat's, no zeros, and the check was repeated.
        page = exporter.wait_for(
            lambda p: p.samples["librechat_exporter_collection_errors_total"][(("group", "target"),)] >= 3,
            timeout=30,
        )
        assert page.librechat() == {}, "a database that is not LibreChat's must not be served as zeros"
        assert MESSAGES not in page.samples and target_ok(page) == 0.0
        assert page.samples["librechat_mongodb_up"][()] == 1.0  # MongoDB itself is fine
        assert "librechat_exporter_missing_index" not in page.samples
        status, body = exporter.get("/readyz")
        assert status == 503
        assert "target: failing since" in body
        assert "database 'librechat' does not look like LibreChat's" in body
        assert "'LibreChat' (differs only in case)" in body
        assert "usage: waiting: the target database fails its check" in body
    finally:
        log = exporter.stop()
    lines = [line for line in log.splitlines() if "collection target failing" in line]
    assert len(lines) == 1, log  # once per state change, not once per run
    assert f"against 127.0.0.1:{server.port} database 'librechat'" in lines[0]
    assert "'LibreChat' (differs only in case)" in lines[0]

    # The right name works, and every value is the oracle's.
    exporter = start_exporter(server.uri, {**FAST, "MONGODB_DATABASE": "LibreChat"})
    try:
        exporter.wait_ready()
        page = exporter.wait_for(lambda p: MESSAGES in p.samples and target_ok(p) == 1.0)
        assert page.samples[MESSAGES][()] == len(dataset["messages"])
        families = {MESSAGES, "librechat_registered_users_total", "librechat_conversations_total"}
        want = expected(dataset, page, "UTC", families=families)
        for family in families:
            assert page.samples[family] == want[family], family
        assert exporter.get("/readyz") == (200, "ready\n")
    finally:
        exporter.stop()


def test_database_that_becomes_librechat_is_served_without_restart():
    with start_mongoeco({"unrelated": [{"_id": 1}]}, core=False) as empty:
        exporter = start_exporter(empty.uri, FAST)
        try:
            page = exporter.wait_for(lambda p: target_ok(p) == 0.0, timeout=30)
            assert page.librechat() == {}
            assert "no database on this server does" in exporter.get("/readyz")[1]
            with empty.client() as client:  # LibreChat starts for the first time: a fresh install
                for name in ("conversations", "messages", "users"):
                    client["LibreChat"].create_collection(name)
            page = exporter.wait_for(lambda p: target_ok(p) == 1.0 and MESSAGES in p.samples, timeout=30)
            # An empty but real LibreChat database: real zeros.
            assert page.samples[MESSAGES][()] == 0.0
            assert page.samples["librechat_registered_users_total"][()] == 0.0
            exporter.wait_ready(timeout=30)
        finally:
            exporter.stop()


def test_database_that_stops_looking_like_librechat_is_dropped_at_once(dataset):
    with start_mongoeco(dataset) as served:
        exporter = start_exporter(served.uri, FAST)  # staleness 900 s: only the check can drop values
        try:
            exporter.wait_ready()
            exporter.wait_for(lambda p: p.samples.get(MESSAGES, {}).get(()) == len(dataset["messages"]))
            with served.client() as client:
                client.drop_database("LibreChat")
            page = exporter.wait_for(lambda p: target_ok(p) == 0.0, timeout=30)
            assert page.librechat() == {}, "last values of a database that is now wrong must not be served"
            assert exporter.get("/readyz")[0] == 503
        finally:
            exporter.stop()


def test_check_indexes_refuses_a_wrong_database(server):
    result = run_cli(["--check-indexes"], {"MONGODB_URI": server.uri, "MONGODB_DATABASE": "librechat"})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'LibreChat' (differs only in case)" in lines[0], result.stderr
