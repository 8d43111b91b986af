"""`metrics.py --demo` as a process, for the tests that need a live demo exporter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.support.exporter import ROOT, ExporterProcess, Exposition, free_port
from tests.support.process import terminate

VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
# A deadline, not a measurement: the demo serves its families in seconds on an idle machine, and the
# suite's two workers share two cores with their wire servers.
FAMILIES_DEADLINE = 180
SEEDER = [PYTHON, "-m", "librechat_metrics.demo"]
READY = re.compile(r"demo database ready: (mongodb://\S+)")


def clean_env(**extra: str) -> dict[str, str]:
    """No settings of the developer's shell: only PATH and what the test gives."""
    return {"PATH": os.environ.get("PATH", ""), **extra}


class Demo:
    """`metrics.py --demo` as a process, its output in a file (read while it runs)."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.log = tmp / "demo.log"
        settings = {
            "METRICS_PORT": str(self.port),
            "METRICS_LISTEN_ADDRESS": "127.0.0.1",
            "MONGODB_TIMEOUT": "15",
        }
        settings |= env
        with open(self.log, "wb") as out:
            proc = subprocess.Popen(
                [PYTHON, str(ROOT / "metrics.py"), "--demo"],
                cwd=ROOT / "tests",
                env=clean_env(**settings),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.exporter = ExporterProcess(self.port, proc)
        self.started = time.monotonic()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def mongo_uri(self) -> str:
        found = READY.search(self.output())
        assert found, self.output()
        return found.group(1)

    def wait_families(self) -> Exposition:
        """Scrape until the usage, activity and inventory families are all served."""

        def complete(page: Exposition) -> bool:
            served = page.librechat()
            return all(
                served.get(name)
                for name in (
                    "librechat_messages_total",
                    "librechat_active_users",
                    "librechat_registered_users_total",
                    "librechat_thumbs_up_5m",
                )
            )

        deadline = self.started + FAMILIES_DEADLINE
        while time.monotonic() < deadline:
            assert self.exporter.proc.poll() is None, self.output()
            try:
                page = self.exporter.scrape()
                if complete(page):
                    return page
            except (OSError, AssertionError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"no LibreChat families within {FAMILIES_DEADLINE} s:\n{self.output()}")

    def stop(self) -> int:
        terminate(self.exporter.proc)
        return self.exporter.proc.returncode
