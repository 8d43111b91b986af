"""Stopping the helper processes the tests start."""

from __future__ import annotations

import subprocess


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s; only this process, by its PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
