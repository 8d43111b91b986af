"""Starting fails in one line: a port in use (exporter and demo), requirements not installed."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.support.demo import PYTHON, clean_env
from tests.support.exporter import ROOT


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(args: list[str], env: dict[str, str], python: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(python or [PYTHON]), *args],
        cwd=ROOT / "tests",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("demo", [False, True], ids=["exporter", "demo"])
def test_a_port_in_use_is_one_line_and_exit_1(taken, demo):
    env = clean_env(
        METRICS_PORT=str(taken), METRICS_LISTEN_ADDRESS="127.0.0.1", MONGODB_URI="mongodb://127.0.0.1:9/"
    )
    started = time.monotonic()
    done = run([str(ROOT / "metrics.py"), *(["--demo"] if demo else [])], env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"metrics.py: error: cannot listen on 127.0.0.1:{taken}: Address already in use"
    ], done.stderr
    if demo:  # said before the database is seeded, not after
        assert "demo database ready" not in done.stdout + done.stderr
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("script", ["metrics.py", "export_metrics.py"])
def test_help_without_the_requirements_names_what_to_install(script):
    # -S: no site-packages, as a python without pymongo, prometheus_client or python-dotenv
    done = run([str(ROOT / script), "--help"], clean_env(), python=[PYTHON, "-S"])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{script}: error: "), done.stderr
    assert "pip install -r requirements.txt" in lines[0]


@pytest.mark.parametrize("script", ["metrics.py", "export_metrics.py"])
def test_help_with_the_requirements_lists_the_settings(script):
    done = run([str(ROOT / script), "--help"], clean_env())
    assert done.returncode == 0, done.stderr
    assert "MONGODB_URI" in done.stdout and "LOGGING_LEVEL" in done.stdout
