"""Run `python metrics.py` as a real process and read what it serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.process import terminate

ROOT = Path(__file__).resolve().parents[2]

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Exposition:
    """A parsed /metrics page: samples keyed like the oracle's, plus TYPE and HELP per family."""

    text: str
    samples: Samples = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Exposition:
        page = cls(text)
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                name, kind = line[7:].rsplit(" ", 1)
                page.types[name] = kind
            elif line.startswith("# HELP "):
                name, _, help_text = line[7:].partition(" ")
                page.helps[name] = help_text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = tuple(sorted(sample.labels.items()))
                page.samples.setdefault(sample.name, {})[key] = sample.value
        return page

    def librechat(self) -> Samples:
        """Only the LibreChat families (not the exporter's own or the process metrics)."""
        return {
            k: v
            for k, v in self.samples.items()
            if k.startswith("librechat_") and not k.startswith(("librechat_exporter_", "librechat_mongodb_"))
        }


@dataclass
class ExporterProcess:
    port: int
    proc: subprocess.Popen
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def get(
        self, path: str = "/metrics", headers: dict[str, str] | None = None, context: object = None
    ) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def scrape(self) -> Exposition:
        status, body = self.get("/metrics")
        assert status == 200, body
        return Exposition.parse(body)

    def wait_ready(self, timeout: float = 180) -> None:
        """Until /readyz answers 200 (generous: the wire server shares two cores with the whole suite)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exporter exited with {self.proc.returncode}: {self.output()}")
            try:
                status, body = self.get("/readyz")
                if status == 200:
                    return
                last = f"{status} {body.strip()[:300]}"
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"exporter not ready after {timeout} s (/readyz: {last}): {self.output()}")

    def wait_for(self, predicate, timeout: float = 60, interval: float = 0.3) -> Exposition:
        """Scrape until predicate(exposition) is true."""
        deadline = time.monotonic() + timeout
        page = None
        while time.monotonic() < deadline:
            try:
                page = self.scrape()
                if predicate(page):
                    return page
            except (OSError, AssertionError):
                pass
            time.sleep(interval)
        raise AssertionError(f"condition not met in {timeout} s; last page:\n{page.text if page else None}")

    def stop(self) -> str:
        terminate(self.proc)
        return self.output()

    def output(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return (self.proc.stdout.read() if self.proc.stdout else "") or ""


def start_exporter(
    mongo_uri: str, env: dict[str, str] | None = None, port: int | None = None, scheme: str = "http"
) -> ExporterProcess:
    """Start metrics.py on a free loopback port with the given settings (no .env is read)."""
    port = port or free_port()
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "MONGODB_URI": mongo_uri,
        "METRICS_PORT": str(port),
        "METRICS_LISTEN_ADDRESS": "127.0.0.1",
        # Generous: a heartbeat missed while the wire server is busy on a loaded machine pauses the pool
        # (tests of an unreachable MongoDB set their own short timeout).
        "MONGODB_TIMEOUT": "15",
        "LOGGING_LEVEL": "info",
        # The test servers have LibreChat's stock indexes: the 5-minute rating gauges need the scan.
        "RATINGS_5M_SCAN": "true",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "metrics.py")],
        cwd=str(ROOT / "tests"),  # no stray .env from the repo root
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return ExporterProcess(port, proc, scheme)


def scrape_once(mongo_uri: str, env: dict[str, str] | None = None) -> tuple[Exposition, str]:
    """Start metrics.py, wait until every job has collected, scrape once, stop: (page, its log)."""
    exporter = start_exporter(mongo_uri, env)
    try:
        exporter.wait_ready()
        page = exporter.scrape()
    finally:
        log = exporter.stop()
    return page, log


def run_cli(
    args: list[str], env: dict[str, str] | None = None, script: str = "metrics.py", timeout: float = 30
) -> subprocess.CompletedProcess:
    """Run an entry point to completion (for --help and bad-setting checks)."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=str(ROOT / "tests"),
        env={"PATH": os.environ.get("PATH", ""), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
