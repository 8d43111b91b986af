"""A real Prometheus server (Debian's package) scraping an exporter every second, for end-to-end tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.exporter import free_port
from tests.support.process import terminate

AVAILABLE = shutil.which("prometheus") is not None


@dataclass
class PrometheusServer:
    port: int
    proc: subprocess.Popen

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict]:
        return self.api("query", query=promql)["result"]

    def wait_until_scraped(self, job: str, timeout: float = 60) -> None:
        """Until the target is up and its LibreChat series are stored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if [r["value"][1] for r in self.query(f'up{{job="{job}"}}')] == ["1"] and self.query(
                    f'librechat_messages_total{{job="{job}"}}'
                ):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"Prometheus did not scrape {job} within {timeout} s")

    def stop(self) -> None:
        terminate(self.proc)


def start_prometheus(
    folder: Path, job: str, target: str, rule_files: tuple[Path, ...] = ()
) -> PrometheusServer:
    """Prometheus with its data in `folder`, scraping `target` as `job` every second."""
    port = free_port()
    config = folder / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(path) for path in rule_files],
                "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}],
            }
        )
    )
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return PrometheusServer(port, proc)
