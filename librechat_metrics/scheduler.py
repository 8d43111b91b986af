"""Background jobs, one thread each, and the last good result of every job.

A job that fails keeps its last good result (and its age is visible) until that result is older than
the configured staleness limit; then its families disappear. Nothing is ever replaced by a zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import values

log = logging.getLogger("librechat_metrics")


class Blocked(Exception):
    """Raised by a job that must not run now (e.g. the target database fails its check): not an
    error of the job itself, so neither logged nor counted; the reason shows in /readyz."""


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: Callable[[datetime], Any]
    retry: float | None = None  # wait after a failed run (default: the interval)


def _short(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


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
    failing_since: float | None = None  # wall-clock time of the first failed run of the current streak
    failed_runs: int = 0  # failed runs in the current streak


@dataclass
class Scheduler:
    """Runs each job in its own thread. A failing job logs one line when it starts failing (or fails
    for another kind of reason) and one when it recovers, not one per run; every failed run is
    counted."""

    jobs: list[Job]
    on_change: Callable[[str, JobState], None] = lambda name, state: None  # after every run
    wall: Callable[[], float] = time.time
    states: dict[str, JobState] = field(default_factory=dict)
    describe: Callable[[BaseException], str] = _short  # one short line per error, for logs and /readyz
    where: str = ""  # what the jobs read (host and database), named in the log lines
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: dict[str, threading.Event] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.states = {job.name: JobState() for job in self.jobs}
        self._wake = {job.name: threading.Event() for job in self.jobs}

    def run_once(self, job: Job) -> None:
        """Run a job now and record its outcome; never raises."""
        state = self.states[job.name]
        started, as_of = time.monotonic(), self.wall()
        try:
            with values.running(job.name):  # values it cannot read are counted for this job
                result = job.run(datetime.fromtimestamp(as_of, timezone.utc))
        except Blocked as err:  # nothing was collected: no duration, no error
            state.ok, state.last_error = False, str(err)
            state.failing_since, state.failed_runs = None, 0
            state.runs += 1
            return
        except Exception as err:  # a failed collection is a state, not a crash
            self._failed(job.name, state, self.describe(err), as_of)
        else:
            if state.failing_since is not None:
                log.info(
                    "collection %s recovered%s after %d failed runs since %s",
                    job.name,
                    self._against(),
                    state.failed_runs,
                    _utc(state.failing_since),
                )
            state.ok = True
            state.result = result
            state.success_time = as_of
            state.last_error, state.failing_since, state.failed_runs = "", None, 0
            log.debug("collection %s took %.3f s", job.name, time.monotonic() - started)
        state.duration = time.monotonic() - started
        state.runs += 1
        self.on_change(job.name, state)
        state.served = state.served or state.ok

    def _failed(self, name: str, state: JobState, reason: str, as_of: float) -> None:
        state.errors += 1
        state.failed_runs += 1
        if state.failing_since is None or _kind(reason) != _kind(state.last_error):
            log.warning("collection %s failing%s: %s", name, self._against(), reason)
        if state.failing_since is None:
            state.failing_since = as_of
        state.last_error = reason
        state.ok = False

    def _against(self) -> str:
        return f" against {self.where}" if self.where else ""

    def _loop(self, job: Job) -> None:
        wake = self._wake[job.name]
        while not self._stop.is_set():
            started = time.monotonic()
            wake.clear()
            self.run_once(job)
            wait = job.interval if self.states[job.name].ok else min(job.interval, job.retry or job.interval)
            wake.wait(max(0.0, wait - (time.monotonic() - started)))

    def wake(self, names: Iterable[str]) -> None:
        """Run these jobs now instead of at their next interval."""
        for name in names:
            self._wake[name].set()

    def invalidate(self, names: Iterable[str]) -> None:
        """Forget the results of these jobs (their data can no longer be trusted): their families
        leave the page at once, and /readyz waits until they collect again."""
        for name in names:
            state = self.states[name]
            state.result, state.served = None, False
            self.on_change(name, state)

    def start(self) -> None:
        for job in self.jobs:
            thread = threading.Thread(target=self._loop, args=(job,), name=f"collect-{job.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake(self._wake)
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

    def not_ready(self) -> list[str]:
        """One line per job that keeps /readyz at 503: which, and why."""
        lines = []
        for name, state in self.states.items():
            if state.served:
                continue
            if state.failing_since is not None:
                why = f"failing since {_utc(state.failing_since)}: {state.last_error}"
            elif state.last_error:  # blocked
                why = f"waiting: {state.last_error}"
            else:
                why = "not collected yet" if not state.runs else "not collected since its data was dropped"
            lines.append(f"{name}: {why}")
        return lines


def _kind(reason: str) -> str:
    """What kind of failure a reason describes (the part before its first ': ')."""
    return reason.split(": ", 1)[0]


def _utc(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
