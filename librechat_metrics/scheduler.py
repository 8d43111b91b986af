"""Background jobs, one thread each, and the last good result of every job.

A job that fails keeps its last good result (and its age is visible) until that result is older than
the configured staleness limit; then its families disappear. Nothing is ever replaced by a zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("librechat_metrics")


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: Callable[[datetime], Any]
    retry: float | None = None  # wait after a failed run (default: the interval)


@dataclass
class JobState:
    """What a job last produced, and how its runs went."""

    result: Any = None
    success_time: float | None = None  # wall-clock start of the last successful run: "data as of"
    duration: float | None = None  # seconds the last run took, successful or not
    errors: int = 0
    runs: int = 0
    ok: bool = False  # whether the last run succeeded
    served: bool = False  # a successful result has been handed to on_change (and so is on the page)
    last_error: str = ""


@dataclass
class Scheduler:
    jobs: list[Job]
    on_change: Callable[[str], None] = lambda name: None
    wall: Callable[[], float] = time.time
    states: dict[str, JobState] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.states = {job.name: JobState() for job in self.jobs}

    def run_once(self, job: Job) -> None:
        """Run a job now and record its outcome; never raises."""
        state = self.states[job.name]
        started, as_of = time.monotonic(), self.wall()
        try:
            result = job.run(datetime.fromtimestamp(as_of, timezone.utc))
        except Exception as err:  # a failed collection is a state, not a crash
            state.errors += 1
            state.last_error = f"{type(err).__name__}: {err}"
            state.ok = False
            log.warning("collection %s failed: %s", job.name, state.last_error)
        else:
            state.ok = True
            state.result = result
            state.success_time = as_of
            log.debug("collection %s took %.3f s", job.name, time.monotonic() - started)
        state.duration = time.monotonic() - started
        state.runs += 1
        self.on_change(job.name)
        state.served = state.served or state.ok

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.run_once(job)
            wait = job.interval if self.states[job.name].ok else min(job.interval, job.retry or job.interval)
            self._stop.wait(max(0.0, wait - (time.monotonic() - started)))

    def start(self) -> None:
        for job in self.jobs:
            thread = threading.Thread(target=self._loop, args=(job,), name=f"collect-{job.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def fresh_result(self, name: str, max_age: float) -> Any:
        """The last good result of a job, or None when there is none or it is too old."""
        state = self.states[name]
        if state.success_time is None or self.wall() - state.success_time > max_age:
            return None
        return state.result

    def ready(self) -> bool:
        return all(state.served for state in self.states.values())
