"""The target check: a database that is not LibreChat's is never served as zeros (issue #13, item 1)."""

from __future__ import annotations

import datetime as dt

import pytest
from pymongo.errors import OperationFailure
from pymongo.read_preferences import SecondaryPreferred

from librechat_metrics.synthetic import generate
from librechat_metrics.target import REQUIRED, UNAUTHORIZED, check_target
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
        assert body.startswith(f"not ready (reading 127.0.0.1:{server.port} database 'librechat')\n")
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
            # Another LibreChat database appears under the name: its own numbers, nothing kept from before.
            kept = dataset["messages"][:5]
            with served.client() as client:
                client["LibreChat"]["messages"].insert_many([dict(doc) for doc in kept])
                for name in ("conversations", "users"):
                    client["LibreChat"].create_collection(name)
            page = exporter.wait_for(lambda p: target_ok(p) == 1.0 and MESSAGES in p.samples, timeout=30)
            assert page.samples[MESSAGES][()] == len(kept)
            assert page.samples["librechat_registered_users_total"][()] == 0.0
        finally:
            exporter.stop()


def test_check_indexes_refuses_a_wrong_database(server):
    result = run_cli(["--check-indexes"], {"MONGODB_URI": server.uri, "MONGODB_DATABASE": "librechat"})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'LibreChat' (differs only in case)" in lines[0], result.stderr


class FakeDatabase:
    """What check_target sees of one database: listCollections answers, optionally only with
    authorizedCollections (a user without the listCollections right)."""

    def __init__(self, server: FakeServer, name: str) -> None:
        self.server, self.name = server, name
        self.read_preference = server.read_preference

    def command(self, command, read_preference=None):
        self.server.preferences.append(read_preference)
        if "listDatabases" in command:
            return {"databases": [{"name": name} for name in self.server.collections]}
        if self.server.limited and not command.get("authorizedCollections"):
            raise OperationFailure("not authorized", UNAUTHORIZED)
        wanted = command["filter"]["name"]["$in"]
        names = self.server.readable if self.server.limited else self.server.collections.get(self.name, [])
        return {"cursor": {"firstBatch": [{"name": n} for n in names if n in wanted]}}


class FakeServer:
    def __init__(self, collections, limited=False, readable=()):
        self.collections, self.limited, self.readable = collections, limited, list(readable)
        self.read_preference = SecondaryPreferred()
        self.preferences: list = []
        self.admin = FakeDatabase(self, "admin")

    def __getitem__(self, name):
        return FakeDatabase(self, name)


def test_the_check_reads_with_the_clients_read_preference():
    """Not pymongo's primary default: a replica set without a primary still passes when reads work."""
    server = FakeServer({"LibreChat": ["messages", "users", "conversations"]})
    assert check_target(server, "LibreChat").ok
    assert server.preferences and all(p == SecondaryPreferred() for p in server.preferences)


def test_a_user_without_list_rights_passes_when_it_may_read_the_collections():
    readable = ("messages", "users", "conversations")
    assert check_target(FakeServer({}, limited=True, readable=readable), "LibreChat").ok
    check = check_target(FakeServer({}, limited=True, readable=("messages",)), "LibreChat")
    assert not check.ok and "read role" in check.reason()


def test_reason_names_candidates_and_case_differences():
    server = FakeServer({"librechat": [], "LibreChat": list(REQUIRED), "chat_copy": list(REQUIRED)})
    reason = check_target(server, "librechat").reason()
    assert "'LibreChat' (differs only in case)" in reason and "'chat_copy'," not in reason
    assert "'chat_copy'" in reason and "'chat_copy' (differs" not in reason
