"""The label cap, the missing-index report, and secrets kept out of logs and pages."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pymongo
import pytest

from librechat_metrics.groups import collect_recent_ratings
from librechat_metrics.labels import cap
from librechat_metrics.mongo import Reader
from librechat_metrics.settings import load
from librechat_metrics.synthetic import generate
from tests.oracle import exporter_samples
from tests.support.compare import as_of
from tests.support.exporter import free_port, run_cli, scrape_once, start_exporter
from tests.support.mongo import start_mongoeco


def test_cap_keeps_the_largest_and_sums_the_rest_into_other():
    samples = {("a",): 5.0, ("b",): 1.0, ("c",): 3.0, ("d",): 2.0}
    # limit 3: the two largest stay, b and d (1 + 2) become one "other" series.
    assert cap(samples, 3) == {("a",): 5.0, ("c",): 3.0, ("other",): 3.0}
    assert cap(samples, 4) == samples


@pytest.fixture(scope="module")
def served():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    collections = generate(profile="v0.8.7", seed=21, n_messages=500, now=now, zones=("UTC",)).collections
    server = start_mongoeco(collections)
    yield collections, server
    server.stop()


def test_label_limit_caps_series_and_keeps_totals(served):
    collections, server = served
    page, _ = scrape_once(server.uri, {"METRICS_LABEL_LIMIT": "3"})
    want = exporter_samples(collections, as_of(page, "usage"), "UTC")
    family = "librechat_messages_per_model_total"
    got = page.samples[family]
    assert len(want[family]) > 3 and len(got) == 3
    assert (("model", "other"),) in got
    assert math.isclose(sum(got.values()), sum(want[family].values()))
    kept = sorted(want[family].values(), reverse=True)[:2]
    assert sorted((v for k, v in got.items() if k != (("model", "other"),)), reverse=True) == kept


def test_check_indexes_lists_the_optional_updated_at_index(served):
    _, server = served
    result = run_cli(["--check-indexes"], {"MONGODB_URI": server.uri})
    assert result.returncode == 0, result.stderr
    # The test server has LibreChat's stock createdAt indexes but not the optional updatedAt one.
    assert "missing messages.updatedAt" in result.stdout
    assert "db.messages.createIndex({updatedAt: 1})" in result.stdout
    assert "messages.createdAt" not in result.stdout


def test_missing_index_metric(served):
    _, server = served
    page, _ = scrape_once(server.uri)
    assert page.samples["librechat_exporter_missing_index"] == {
        (("collection", "messages"), ("key", "updatedAt")): 1.0
    }


def test_mongodb_password_never_appears_in_logs_or_metrics():
    uri = f"mongodb://exporter:hunter2secret@127.0.0.1:{free_port()}/?directConnection=true"
    exporter = start_exporter(uri, {"LOGGING_LEVEL": "debug"})
    try:
        page = exporter.wait_for(
            lambda p: p.samples.get("librechat_mongodb_up", {}).get(()) == 0.0, timeout=20
        )
    finally:
        log = exporter.stop()
    assert "hunter2secret" not in page.text
    assert "hunter2secret" not in log
    assert "exporter:***@" in log


def test_the_5m_rating_gauges_are_not_served_without_the_updated_at_index(served):
    _, server = served
    page, _ = scrape_once(server.uri, {"RATINGS_5M_SCAN": "false"})
    assert "librechat_thumbs_up_5m" not in page.samples and "librechat_thumbs_down_5m" not in page.samples
    assert page.samples["librechat_exporter_last_success_timestamp_seconds"][(("group", "recent_ratings"),)]


def test_the_5m_ratings_are_read_with_the_updated_at_index_or_by_the_allowed_scan():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    collections = generate(profile="v0.8.7", seed=22, n_messages=300, now=now, zones=("UTC",)).collections
    rated = [m for m in collections["messages"] if m.get("feedback")][:3]
    for message in rated:  # rated just now: LibreChat's update stamps updatedAt
        message["updatedAt"] = now - timedelta(seconds=30)
    server = start_mongoeco(collections)
    client = pymongo.MongoClient(server.uri, tz_aware=True)
    want = exporter_samples(collections, now, "UTC")
    want = {rating: want[f"librechat_thumbs_{rating}_5m"][()] for rating in ("up", "down")}
    assert sum(want.values()) >= len(rated)

    def read(scan: str) -> dict[str, float] | None:
        settings = load({"MONGODB_URI": server.uri, "RATINGS_5M_SCAN": scan})
        got = collect_recent_ratings(Reader.from_settings(client, settings), settings, now)
        return None if got is None else {"up": got["thumbsUp"], "down": got["thumbsDown"]}

    try:
        assert read("false") is None  # stock indexes: no scan
        assert read("true") == want
        client["LibreChat"]["messages"].create_index("updatedAt")
        assert read("false") == want
    finally:
        client.close()
        server.stop()
