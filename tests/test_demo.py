"""The demo (issue #11): metrics.py --demo and export_metrics.py --demo as processes, and the seeder.

A frozen demo (DEMO_PACE=0) is compared with tests.oracle over its database read back with pymongo; a
live one must show the LibreChat families, then grow between two scrapes a minute apart.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pymongo
import pytest

from librechat_metrics.demo.options import MAX_PACE
from librechat_metrics.synthetic.generator import COLLECTIONS, V088_COLLECTIONS
from tests.support.compare import assert_samples_equal, expected
from tests.support.demo import PYTHON, SEEDER, Demo, clean_env
from tests.support.exporter import ROOT, Exposition
from tests.support.mongo import start_mongoeco
from tests.support.process import terminate
from tests.test_history_e2e import SqlDb


@pytest.fixture
def demo_factory(tmp_path) -> Iterator:
    started: list[Demo] = []

    def start(**env: str) -> Demo:
        demo = Demo(tmp_path, **env)
        started.append(demo)
        return demo

    yield start
    for demo in started:
        demo.stop()


def value(page: Exposition, name: str) -> float:
    return sum(page.samples.get(name, {}).values())


def read_back(uri: str) -> dict[str, list[dict]]:
    with pymongo.MongoClient(uri, tz_aware=True) as client:
        db = client.get_default_database()
        return {name: list(db[name].find()) for name in (*COLLECTIONS, *V088_COLLECTIONS)}


# --- metrics.py --demo ---------------------------------------------------------------------------------


def test_demo_says_what_it_is_then_serves_families_that_grow(demo_factory):
    demo = demo_factory(METRICS_CACHE_TTL="5", DEMO_PACE="240")
    first = demo.wait_families()
    head = demo.output().splitlines()[:3]
    assert "DEMO" in head[0] and "not a real LibreChat" in head[0]
    assert f"http://127.0.0.1:{demo.port}/metrics" in head[1]
    assert "MONGODB_URI=" in head[2] and "without --demo" in head[2]
    assert first.samples["librechat_mongodb_up"][()] == 1
    grow = ("librechat_messages_total", "librechat_input_tokens_total", "librechat_output_tokens_total")
    second = demo.exporter.wait_for(
        lambda page: all(value(page, n) > value(first, n) for n in grow), timeout=90
    )
    # rarer events: tool calls and ratings move too (a reply's rating comes up to 30 s after it)
    rarer = ("librechat_tool_calls_total", "librechat_rated_messages_total")
    demo.exporter.wait_for(lambda page: all(value(page, n) > value(first, n) for n in rarer), timeout=120)
    for name in ("librechat_error_messages_total", "librechat_tool_call_errors_total"):
        assert value(second, name) >= value(first, name) > 0, name
    # structure: the numbers agree with each other
    assert value(second, "librechat_error_messages_total") < value(second, "librechat_messages_total")
    assert value(second, "librechat_messages_5m") > 0
    up, down = value(second, "librechat_thumbs_up_total"), value(second, "librechat_thumbs_down_total")
    assert up + down == value(second, "librechat_rated_messages_total")
    ratio = second.samples["librechat_overall_rating_ratio"][()]  # a percentage (the original's contract)
    assert abs(ratio - 100 * up / (up + down)) < 1e-9
    assert demo.stop() == 0


def test_frozen_demo_serves_what_the_oracle_counts_in_its_database(demo_factory):
    demo = demo_factory(DEMO_PACE="0", TIMEZONE="Europe/Berlin")
    demo.wait_families()
    demo.exporter.wait_ready()
    page = demo.exporter.scrape()
    collections = read_back(demo.mongo_uri())
    assert len(collections["messages"]) > 1000  # four weeks of a small team
    assert_samples_equal(page.librechat(), expected(collections, page, "Europe/Berlin"))


def test_bad_pace_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run(
        [PYTHON, str(ROOT / "metrics.py"), "--demo"],
        cwd=ROOT / "tests",
        env=clean_env(DEMO_PACE="fast"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("metrics.py: error: DEMO_PACE='fast'")
    assert "Traceback" not in done.stderr


def test_pace_is_bounded_by_what_the_embedded_database_sustains():
    measured = json.loads((ROOT / "bench" / "results" / "demo_pace.json").read_text())["runs"]
    sustained = [run["pace"] for run in measured if run["sustained"]]
    failed = [run["pace"] for run in measured if not run["sustained"]]
    assert MAX_PACE in sustained and min(failed) > MAX_PACE, measured  # the bound was measured to hold
    for pace in (f"{MAX_PACE + 1:g}", "6000"):
        done = subprocess.run(
            [PYTHON, str(ROOT / "metrics.py"), "--demo"],
            cwd=ROOT / "tests",
            env=clean_env(DEMO_PACE=pace),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"metrics.py: error: DEMO_PACE='{pace}': expected messages per minute from 0 to {MAX_PACE:g} "
            "(the most the embedded database keeps up with)"
        ]
    shown = subprocess.run(
        [PYTHON, str(ROOT / "metrics.py"), "--help"], env=clean_env(), capture_output=True, text=True
    )
    assert f"0 to {MAX_PACE:g}" in " ".join(shown.stdout.split())


# --- without mongoeco -----------------------------------------------------------------------------------


@pytest.fixture
def no_mongoeco(tmp_path) -> dict[str, str]:
    """An environment in which `import mongoeco` fails, as in a plain requirements.txt install."""
    fake = tmp_path / "shadow" / "mongoeco"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'mongoeco' (simulated)\")\n")
    return clean_env(PYTHONPATH=str(fake.parent))


@pytest.mark.parametrize(
    "command", [["metrics.py", "--demo"], ["export_metrics.py", "--demo", "2025-01-01", "2025-01-02"]]
)
def test_demo_without_mongoeco_says_what_to_install(no_mongoeco, command):
    done = _run_in_tests([str(ROOT / command[0]), *command[1:]], no_mongoeco)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "requirements-demo.txt" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "DEMO MODE" not in done.stdout + done.stderr


def test_the_exporter_and_the_seeder_run_without_mongoeco(no_mongoeco):
    check = _run_in_tests([str(ROOT / "metrics.py"), "--check-config"], no_mongoeco)
    assert check.returncode == 0, check.stderr
    seeder = subprocess.run(
        [*SEEDER, "--help"], cwd=ROOT, env=no_mongoeco, capture_output=True, text=True, timeout=60
    )
    assert seeder.returncode == 0 and "--into" in seeder.stdout, seeder.stderr


def _run_in_tests(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run PYTHON with `args` in tests/, capturing its output."""
    return subprocess.run(
        [PYTHON, *args], cwd=ROOT / "tests", env=env, capture_output=True, text=True, timeout=60
    )


def test_requirements_keep_mongoeco_optional():
    plain = (ROOT / "requirements.txt").read_text()
    demo = (ROOT / "requirements-demo.txt").read_text().splitlines()
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "mongoeco" not in plain
    assert "-r requirements.txt" in demo and any(re.fullmatch(r"mongoeco==[\d.]+", line) for line in demo)
    assert "-r requirements-demo.txt" in dev  # the tests' mongoeco is the demo's, one pin


# --- python -m librechat_metrics.demo --into ---------------------------------------------------------


def seeder(uri: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SEEDER, "--into", uri, *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def counts(client: pymongo.MongoClient, db: str) -> dict[str, int]:
    return {name: client[db][name].count_documents({}) for name in client[db].list_collection_names()}


def test_seeder_fills_an_empty_database_once_then_goes_live():
    with start_mongoeco() as server, server.client() as client:
        uri = server.uri.replace("/?", "/DemoChat?")  # a path naming MONGODB_DATABASE's database
        done = seeder(uri, "--weeks", "1", MONGODB_DATABASE="DemoChat")
        assert done.returncode == 0, done.stderr
        seeded = counts(client, "DemoChat")
        assert seeded["messages"] > 200 and seeded["transactions"] > seeded["messages"] / 2
        assert all(seeded[name] > 0 for name in COLLECTIONS), seeded
        newest = client.DemoChat.messages.find_one(sort=[("createdAt", -1)])["createdAt"]
        assert datetime.now(timezone.utc) - newest < timedelta(minutes=10)  # history reaches up to now
        oldest = client.DemoChat.messages.find_one(sort=[("createdAt", 1)])["createdAt"]
        assert datetime.now(timezone.utc) - oldest > timedelta(days=6)

        again = seeder(uri, "--weeks", "1", MONGODB_DATABASE="DemoChat")
        assert again.returncode == 0 and "already seeded" in again.stdout, again.stderr
        assert counts(client, "DemoChat") == seeded

        live = subprocess.Popen(
            [*SEEDER, "--into", uri, "--live"],
            cwd=ROOT,
            env=clean_env(DEMO_PACE="600", MONGODB_DATABASE="DemoChat"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while client.DemoChat.transactions.count_documents({}) <= seeded["transactions"]:
                assert live.poll() is None and time.monotonic() < deadline, live.stdout.read()
                time.sleep(1)
            live.send_signal(signal.SIGTERM)
            assert live.wait(30) == 0
        finally:
            terminate(live)
        after = counts(client, "DemoChat")
        assert after["messages"] > seeded["messages"] and after["transactions"] > seeded["transactions"]
        ids = client.DemoChat.messages.distinct("messageId")
        assert len(ids) == after["messages"]  # nothing written twice
        # LibreChat's own database on the same server was not touched
        assert client.LibreChat.messages.count_documents({}) == 0


def test_seeder_refuses_a_database_it_did_not_write():
    foreign = {"messages": [{"messageId": "m1", "text": "a real user's message", "isCreatedByUser": True}]}
    with start_mongoeco(foreign) as server, server.client() as client:
        before = counts(client, "LibreChat")
        done = seeder(server.uri, "--weeks", "1")
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert "refusing" in line and "'LibreChat'" in line
        assert counts(client, "LibreChat") == before


def test_seeder_bad_arguments_exit_2():
    done = seeder("mongodb://127.0.0.1:1/x", "--weeks", "0")
    assert done.returncode == 2 and "--weeks" in done.stderr


# --- export_metrics.py --demo --------------------------------------------------------------------------


@pytest.fixture
def mariadb() -> Iterator[SqlDb]:
    db = SqlDb("mysql")
    yield db
    db.drop()


def test_export_demo_fills_mariadb(mariadb):
    end = datetime.now(timezone.utc).date() - timedelta(days=1)
    start = end - timedelta(days=6)
    done = subprocess.run(
        [PYTHON, str(ROOT / "export_metrics.py"), "--demo", str(start), str(end)],
        cwd=ROOT / "tests",
        env=clean_env(HISTORY_DATABASE_URL=mariadb.url, MONGODB_URI="mongodb://127.0.0.1:1/"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "DEMO MODE" in done.stderr.splitlines()[0] and "Traceback" not in done.stderr
    daily = mariadb.query("SELECT date, total_messages FROM daily_messages")
    days = {row[0] for row in daily}
    assert days <= {start + timedelta(days=i) for i in range(7)} and len(days) >= 5, daily
    assert sum(row[1] for row in daily) > 100
    assert mariadb.query("SELECT COUNT(*) FROM daily_tokens_by_model")[0][0] > 0
    assert {row[0] for row in mariadb.query("SELECT week_start FROM weekly_users")} >= {
        start - timedelta(days=start.weekday())
    }


def test_export_demo_history_reaches_back_to_start():
    """An older START gets a longer history (so its days are not empty), capped at 400 days."""
    from librechat_metrics.demo.hooks import MAX_DAYS, WEEKS, history_days

    today = date(2026, 3, 10)
    assert history_days(today - timedelta(days=3), today) == 7 * WEEKS
    assert history_days(date(2025, 12, 1), today) == (today - date(2025, 12, 1)).days + 1
    assert history_days(date(2020, 1, 1), today) == MAX_DAYS
