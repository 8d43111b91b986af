"""Job failures: one log line per state change, every failure counted, /readyz says which and why
(issue #13, item 7)."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pymongo
import pytest
from pymongo.errors import OperationFailure
from pymongo.read_preferences import SecondaryPreferred

from librechat_metrics.app import describe
from librechat_metrics.indexes import missing
from librechat_metrics.mongo import Reader
from librechat_metrics.scheduler import Blocked, Job, Scheduler
from librechat_metrics.synthetic import generate
from tests.support.exporter import start_exporter
from tests.support.mongo import start_mongoeco


class Flaky:
    """A job whose outcome the test sets: an exception to raise, or None to succeed."""

    def __init__(self) -> None:
        self.error: Exception | None = None

    def __call__(self, now):
        if self.error is not None:
            raise self.error
        return {"ok": 1}


def lines(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_a_failing_job_logs_once_per_state_change_and_counts_every_failure(caplog):
    job = Flaky()
    scheduler = Scheduler([Job("usage", 60, job)], describe=describe, where="db:27017 database 'LibreChat'")
    caplog.set_level(logging.INFO, logger="librechat_metrics")
    scheduler.run_once(scheduler.jobs[0])
    job.error = ConnectionError("refused")
    for _ in range(5):
        scheduler.run_once(scheduler.jobs[0])
    assert scheduler.states["usage"].errors == 5
    failing = lines(caplog, "collection usage failing")
    assert failing == [
        "collection usage failing against db:27017 database 'LibreChat': ConnectionError: refused"
    ]
    job.error = ConnectionError("reset")  # the same kind of failure: no new line
    scheduler.run_once(scheduler.jobs[0])
    assert len(lines(caplog, "collection usage failing")) == 1
    job.error = TimeoutError("slow")  # another kind: one more line
    scheduler.run_once(scheduler.jobs[0])
    assert len(lines(caplog, "collection usage failing")) == 2
    job.error = None
    scheduler.run_once(scheduler.jobs[0])
    recovered = lines(caplog, "collection usage recovered")
    assert len(recovered) == 1 and "after 7 failed runs since" in recovered[0]
    assert scheduler.states["usage"].errors == 7  # the counter keeps every failure


def test_server_selection_errors_are_summarised_in_one_short_line():
    client = pymongo.MongoClient("mongodb://127.0.0.1:9/?directConnection=true", serverSelectionTimeoutMS=200)
    with client, pytest.raises(pymongo.errors.ServerSelectionTimeoutError) as caught:
        client.admin.command("ping")
    assert len(str(caught.value)) > 300  # pymongo's own text: a topology dump
    line = describe(caught.value)
    assert line.startswith("MongoDB unreachable: no server answered in time: 127.0.0.1:9:")
    assert "Topology Description" not in line and "configured timeouts" not in line
    assert len(line) <= 200


def test_an_unauthorized_collection_is_named_in_one_line():
    err = OperationFailure(
        "not authorized",
        13,
        {"ok": 0, "errmsg": 'not authorized on LibreChat to execute command { aggregate: "transactions" }'},
    )
    err.details["codeName"] = "Unauthorized"
    assert (
        describe(err)
        == 'Unauthorized: not authorized on LibreChat to execute command { aggregate: "transactions" }'
    )


def test_readyz_lines_name_each_group_that_holds_readiness_back():
    ok, down, blocked = Flaky(), Flaky(), Flaky()
    down.error = ConnectionError("refused")
    blocked.error = Blocked("the target database fails its check (see target)")
    scheduler = Scheduler(
        [Job("ping", 60, ok), Job("usage", 60, down), Job("activity", 60, blocked), Job("inventory", 60, ok)],
        describe=describe,
        wall=lambda: 1_700_000_000.0,
    )
    for job in scheduler.jobs[:3]:
        scheduler.run_once(job)
    assert scheduler.not_ready() == [
        "usage: failing since 2023-11-14T22:13:20Z: ConnectionError: refused",
        "activity: waiting: the target database fails its check (see target)",
        "inventory: not collected yet",
    ]
    assert scheduler.states["activity"].errors == 0  # blocked is not a failure of the job
    scheduler.invalidate(["ping"])
    assert scheduler.fresh_result("ping", 900) is None
    assert "ping: not collected since its data was dropped" in scheduler.not_ready()


def test_ping_uses_the_clients_read_preference():
    """readPreference=secondaryPreferred in a replica set without a primary: reads work, so the ping
    must not ask for a primary (pymongo's default for commands)."""
    seen = {}

    class Admin:
        def command(self, name, **kwargs):
            seen.update(kwargs, name=name)

    class Client:
        admin = Admin()

    class Db:
        client = Client()
        read_preference = SecondaryPreferred()

    Reader(Db(), 1000).ping()  # type: ignore[arg-type]
    assert seen == {"name": "ping", "read_preference": SecondaryPreferred()}


def test_an_outage_logs_one_line_per_group_and_one_recovery():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    dataset = generate(profile="v0.8.7", seed=7, n_messages=100, now=now, zones=("UTC",)).collections
    server = start_mongoeco(dataset)
    exporter = start_exporter(server.uri, {"METRICS_CACHE_TTL": "1", "MONGODB_TIMEOUT": "1"})
    groups = ("target", "usage")  # the fast jobs; the target check is the ping (no separate ping job)
    try:
        exporter.wait_ready()
        server.stop()
        errors = "librechat_exporter_collection_errors_total"
        exporter.wait_for(lambda p: min(p.samples[errors][(("group", g),)] for g in groups) >= 3, 90)
        server.restart()
        back = time.time()
        success = "librechat_exporter_last_success_timestamp_seconds"
        exporter.wait_for(lambda p: min(p.samples[success][(("group", g),)] for g in groups) > back, 90)
    finally:
        log = exporter.stop()
        server.stop()
    for group in groups:
        failing = [line for line in log.splitlines() if f"collection {group} failing" in line]
        assert len(failing) == 1, log
        assert f"against 127.0.0.1:{server.port} database 'LibreChat'" in failing[0]
        assert "MongoDB unreachable: " in failing[0] and "Topology" not in failing[0]
        assert "configured timeouts" not in failing[0]
        assert len(failing[0]) < 400
    for group in groups:
        recovered = [line for line in log.splitlines() if f"collection {group} recovered" in line]
        assert len(recovered) == 1, log


def test_the_index_check_uses_the_clients_read_preference():
    """pymongo's index_information() asks a primary; without one the indexes job never succeeded and
    /readyz stayed 503 although every read worked."""
    seen = []

    class Db:
        read_preference = SecondaryPreferred()

        def command(self, command, read_preference=None):
            seen.append(read_preference)
            keys = {"messages": [{"_id": 1}, {"createdAt": 1}], "conversations": [{"_id": 1}]}
            return {"cursor": {"firstBatch": [{"key": key} for key in keys[command["listIndexes"]]]}}

    found = missing(Reader(Db(), 1000))  # type: ignore[arg-type]
    assert {(c, k) for c, k, _ in found} == {("conversations", "createdAt"), ("messages", "updatedAt")}
    assert seen and all(p == SecondaryPreferred() for p in seen)
