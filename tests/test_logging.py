"""What LOGGING_LEVEL=debug writes: the project's own decisions (timings, counts, which query ran),
never what a document holds (e-mail addresses, names, user and conversation ids), also with the
driver's own logging turned on (LOGGING_DRIVER=true)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from librechat_metrics.synthetic import generate
from tests.support.exporter import ROOT, ExporterProcess, free_port
from tests.support.mongo import start_mongoeco
from tests.test_history_e2e import export

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def served():
    data = generate(profile="v0.8.7", seed=5, n_messages=200, now=NOW, zones=("UTC",)).collections
    server = start_mongoeco(data)
    yield server, data
    server.stop()


def private(data: dict) -> set[str]:
    """Every value a log line must never show: e-mails, names, user names, user and conversation ids."""
    values = set()
    for user in data["users"]:
        values |= {str(user["_id"]), *(str(user[k]) for k in ("email", "name", "username") if user.get(k))}
    values |= {str(m["conversationId"]) for m in data["messages"] if m.get("conversationId")}
    values |= {str(m["messageId"]) for m in data["messages"] if m.get("messageId")}
    return {value for value in values if len(value) >= 6}


def leaks(text: str, data: dict) -> list[str]:
    return sorted(value for value in private(data) if value in text)[:5]


def assert_driver_lines(text: str, driver: bool) -> None:
    """pymongo's lines appear only with LOGGING_DRIVER=true, and then without their documents."""
    if driver:
        assert '"commandName": "aggregate"' in text, "LOGGING_DRIVER=true logs the driver's commands"
        assert '"reply"' not in text and '"command"' not in text
    else:
        assert '"commandName"' not in text and "Connection checked" not in text


@pytest.mark.parametrize("driver", [False, True], ids=["own", "driver"])
def test_the_export_at_debug_logs_no_email_name_or_id(served, driver):
    server, data = served
    first = (NOW - dt.timedelta(days=6)).date()
    done = export(
        server,
        None,
        first,
        NOW.date(),
        "--csv",
        "daily_user_messages",
        LOGGING_LEVEL="debug",
        LOGGING_DRIVER=str(driver).lower(),
        EXPORT_USER_DETAILS="true",
    )
    emails = {user["email"] for user in data["users"]}
    assert any(email in done.stdout for email in emails), "the export read the users' e-mails"
    assert not leaks(done.stderr, data), done.stderr[-3000:]
    assert "aggregate on users $match $project: " in done.stderr, "debug says which query ran"
    assert_driver_lines(done.stderr, driver)


@pytest.mark.parametrize("driver", [False, True], ids=["own", "driver"])
def test_the_exporter_at_debug_logs_no_email_name_or_id(served, driver, tmp_path):
    server, data = served
    port, log = free_port(), tmp_path / "exporter.log"
    env = {
        "MONGODB_URI": server.uri,
        "METRICS_PORT": str(port),
        "METRICS_LISTEN_ADDRESS": "127.0.0.1",
        "METRICS_CACHE_TTL": "1",
        "LOGGING_LEVEL": "debug",
        "LOGGING_DRIVER": str(driver).lower(),
    }
    with open(log, "wb") as out:  # a file, not a pipe: nothing reads a pipe while it runs
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "metrics.py")], cwd=ROOT / "tests", env=env, stdout=out, stderr=out
        )
    exporter = ExporterProcess(port, proc)
    try:
        exporter.wait_ready()
        exporter.wait_for(lambda page: "librechat_active_users_30d" in page.samples)
    finally:
        exporter.stop()
    output = log.read_text()
    assert not leaks(output, data), output[-3000:]
    assert "collection usage took" in output and "aggregate on messages $match" in output
    assert_driver_lines(output, driver)
