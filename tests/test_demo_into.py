"""The seeder's database is the exporter's: MONGODB_DATABASE (default LibreChat), never MongoDB's own,
and it prints the environment the exporter needs to read what it seeded."""

from __future__ import annotations

import csv
import io
import shlex
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from librechat_metrics.demo.__main__ import exporter_environment
from tests.support.demo import PYTHON, SEEDER, clean_env
from tests.support.exporter import ROOT
from tests.support.mongo import start_mongoeco


def seeder(uri: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SEEDER, "--into", uri, "--weeks", "1"],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def server():
    with start_mongoeco({}, core=False) as served:
        yield served


def databases(server) -> set[str]:
    with server.client() as client:
        return set(client.list_database_names())


@pytest.mark.parametrize(
    ("path", "name", "why"),
    [
        ("admin", None, "the URI names database 'admin'"),
        ("ad.v", None, "the URI names database 'ad.v'"),
        ("LibreChatDemo", None, "the exporter reads MONGODB_DATABASE ('LibreChat')"),
        ("", "admin", "MongoDB's own database"),
        ("", "local", "MongoDB's own database"),
        ("", "Config", "MongoDB's own database"),
        ("", "ad.v", "MONGODB_DATABASE='ad.v'"),
        ("", "", "MONGODB_DATABASE=''"),
    ],
)
def test_the_seeder_refuses_mongodb_databases_and_names_the_exporter_would_not_read(server, path, name, why):
    before = databases(server)
    uri = server.uri.replace("/?", f"/{path}?")
    done = seeder(uri, **({} if name is None else {"MONGODB_DATABASE": name}))
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("python -m librechat_metrics.demo: error: ") and why in line, line
    assert databases(server) == before and done.stdout == ""


def test_the_seeder_follows_mongodb_database_and_prints_what_the_exporter_needs(server):
    done = seeder(server.uri, MONGODB_DATABASE="DemoChat")
    assert done.returncode == 0, done.stderr
    assert "DemoChat" in databases(server)
    printed = [line.strip() for line in done.stdout.splitlines() if line.startswith("  MONGODB_")]
    env = dict(shlex.split(line)[0].split("=", 1) for line in printed)
    assert env == {"MONGODB_URI": server.uri, "MONGODB_DATABASE": "DemoChat"}, done.stdout

    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    export = subprocess.run(  # the exporter, given exactly that, reads the seeded data
        [PYTHON, str(ROOT / "export_metrics.py"), "--csv", "daily_users", str(yesterday), str(yesterday)],
        cwd=ROOT / "tests",
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert export.returncode == 0, export.stderr
    (_, (day, users)) = list(csv.reader(io.StringIO(export.stdout)))
    assert day == str(yesterday) and int(users) > 0


def test_the_printed_environment_masks_secrets():
    uri = "mongodb://demo:s3cret@db.example:27017/?authSource=admin&tlsCertificateKeyFilePassword=k3y"
    text = exporter_environment(uri, "LibreChat")
    assert "s3cret" not in text and "k3y" not in text and "demo:***@db.example:27017" in text
    assert text.splitlines()[1].strip() == "MONGODB_DATABASE=LibreChat"
