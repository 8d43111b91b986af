"""The page cache over a real collector and scheduler state, without any database: what a scrape
gets after a job's run, when its data goes stale, and that every cached form is the same page."""

from __future__ import annotations

import gzip

from prometheus_client import CollectorRegistry

from librechat_metrics.balances import Balances
from librechat_metrics.collector import SnapshotCollector
from librechat_metrics.jobs import BALANCES
from librechat_metrics.pagecache import PageCache
from librechat_metrics.scheduler import JobState, Scheduler
from librechat_metrics.settings import load

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def cache(clock: Clock, **env: str) -> PageCache:
    settings = load({"METRICS_MAX_STALENESS": "600", **env})
    scheduler = Scheduler(jobs=[], wall=clock)
    return PageCache(SnapshotCollector(scheduler, settings), scheduler, settings, CollectorRegistry())


def ran(result: object, at: float) -> JobState:
    return JobState(result=result, success_time=at, ok=True, runs=1)


def lines(page: bytes, prefix: str = "librechat_balance") -> list[str]:
    return [line for line in page.decode().splitlines() if line.startswith(prefix)]


BALANCE = Balances(credits=2_750_000, reserved=250_000, at_or_below_zero=2, auto_refill=1)


def test_a_run_puts_its_families_on_the_page_in_dollars() -> None:
    clock = Clock(1_000.0)
    pages = cache(clock)
    fmt = pages.format("text/plain")
    assert lines(pages.page(fmt)) == []
    pages.changed(BALANCES, ran(BALANCE, at=1_000.0))
    assert lines(pages.page(fmt)) == [
        "librechat_balance_credits_usd 2.75",
        "librechat_balance_reserved_usd 0.25",
        "librechat_balance_users_at_or_below_zero 2.0",
        "librechat_balance_auto_refill_users 1.0",
    ]


def test_stale_data_leaves_the_page_and_a_new_run_brings_it_back() -> None:
    clock = Clock(1_000.0)
    pages = cache(clock)
    fmt = pages.format("text/plain")
    pages.changed(BALANCES, ran(BALANCE, at=1_000.0))
    clock.now = 1_600.0  # exactly the allowed age: still served
    assert len(lines(pages.page(fmt))) == 4
    clock.now = 1_600.5
    assert lines(pages.page(fmt)) == []
    pages.changed(BALANCES, ran(Balances(1_000_000, 0, 0, 0), at=1_590.0))
    assert lines(pages.page(fmt))[0] == "librechat_balance_credits_usd 1.0"


def test_a_dropped_result_counts_as_none() -> None:
    clock = Clock(1_000.0)
    pages = cache(clock)
    fmt = pages.format("text/plain")
    pages.changed(BALANCES, ran(BALANCE, at=1_000.0))
    pages.changed(BALANCES, JobState(result=None, success_time=1_000.0, ok=False, errors=1))
    assert lines(pages.page(fmt)) == []


def test_a_disabled_toggle_keeps_its_families_off_the_page() -> None:
    clock = Clock(1_000.0)
    pages = cache(clock, ENABLE_USER_METRICS="false")
    fmt = pages.format("text/plain")
    pages.changed(BALANCES, ran(BALANCE, at=1_000.0))
    assert lines(pages.page(fmt)) == []


def test_gzip_and_uncached_forms_are_the_same_page() -> None:
    clock = Clock(1_000.0)
    pages = cache(clock)
    fmt = pages.format(OPENMETRICS)
    pages.changed(BALANCES, ran(BALANCE, at=1_000.0))
    plain = pages.page(fmt)
    assert plain.endswith(b"# EOF\n") and plain.count(b"# EOF") == 1
    assert gzip.decompress(pages.page_gzip(fmt)) == plain
    other = pages.format("text/plain; version=0.0.4")
    assert lines(pages.page(other)) == lines(pages._uncached(other))


def test_an_unparseable_accept_header_gets_the_classic_text_format() -> None:
    pages = cache(Clock(0.0))
    assert pages.format("application/openmetrics-text; version=abc").content_type.startswith("text/plain")
