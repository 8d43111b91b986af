"""What a scrape gets (server.py, pagecache.py): gzip, OpenMetrics negotiation, odd Accept headers, filters,
and a real Prometheus server."""

from __future__ import annotations

import gzip
import time
import urllib.request
import zlib
from datetime import datetime, timezone

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from librechat_metrics.synthetic import generate, malformed_corpus
from tests.support.compare import assert_samples_equal, expected
from tests.support.exporter import Exposition, start_exporter
from tests.support.mongo import start_mongoeco
from tests.support.prometheus import AVAILABLE as prometheus_available
from tests.support.prometheus import start_prometheus

# What Prometheus 2.42 (Debian's package) and 3.x send when they scrape.
PROMETHEUS_2_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)


@pytest.fixture(scope="module")
def running():
    """One exporter over v0.8.7 data plus the malformed corpus, kept running for the module."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    collections = generate(profile="v0.8.7", seed=11, n_messages=400, now=now, zones=("UTC",)).collections
    for name, docs in malformed_corpus(now, seed=5).items():
        collections.setdefault(name, []).extend(docs)
    server = start_mongoeco(collections)
    # Long intervals: the snapshot does not change while the tests compare pages.
    exporter = start_exporter(server.uri, {"METRICS_CACHE_TTL": "3600", "METRICS_SLOW_INTERVAL": "3600"})
    try:
        exporter.wait_ready()
        yield collections, exporter
    finally:
        exporter.stop()
        server.stop()


def fetch(exporter, headers: dict[str, str], query: str = "") -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(exporter.url + "/metrics" + query, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return dict(response.headers), response.read()


def librechat_only(samples: dict) -> dict:
    return {k: v for k, v in samples.items() if k.startswith("librechat_")}


def openmetrics_samples(text: str) -> dict:
    samples: dict = {}
    for family in parse_openmetrics(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_plain_page_equals_the_oracle(running):
    collections, exporter = running
    page = exporter.scrape()
    assert_samples_equal(page.librechat(), expected(collections, page, "UTC"))


def test_gzip_page_is_one_member_with_the_same_samples(running):
    _, exporter = running
    plain = exporter.scrape()
    for _ in range(2):  # the second answer comes from the cached compressor
        headers, body = fetch(exporter, {"Accept-Encoding": "gzip"})
        assert headers["Content-Encoding"] == "gzip"
        assert int(headers["Content-Length"]) == len(body)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = inflater.decompress(body).decode()
        assert inflater.eof and not inflater.unused_data  # exactly one gzip member, CRC checked
        assert librechat_only(Exposition.parse(text).samples) == librechat_only(plain.samples)
        assert "process_cpu_seconds_total" in text
        time.sleep(1.1)  # let the process part be rendered anew


@pytest.mark.parametrize("accept", [PROMETHEUS_2_ACCEPT, PROMETHEUS_3_ACCEPT])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_openmetrics_is_negotiated_as_prometheus_asks(running, accept, encoding):
    _, exporter = running
    plain = exporter.scrape()
    headers, body = fetch(exporter, {"Accept": accept, "Accept-Encoding": encoding})
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = (gzip.decompress(body) if encoding == "gzip" else body).decode()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    assert librechat_only(openmetrics_samples(text)) == librechat_only(plain.samples)


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text;version=abc",  # prometheus_client's own negotiation raises here
        "text/html",
        "",
    ],
)
def test_odd_accept_headers_get_the_text_format(running, accept):
    _, exporter = running
    headers, body = fetch(exporter, {"Accept": accept})
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "librechat_messages_total" in body.decode()


def test_endless_format_versions_are_answered_but_not_all_cached(running):
    _, exporter = running
    plain = exporter.scrape()
    for minor in range(20):
        headers, body = fetch(exporter, {"Accept": f"application/openmetrics-text;version=1.{minor}.0"})
        assert headers["Content-Type"].startswith(f"application/openmetrics-text; version=1.{minor}.0")
        assert librechat_only(openmetrics_samples(body.decode())) == librechat_only(plain.samples)


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text;version=abc", PROMETHEUS_3_ACCEPT])
def test_name_filter_returns_only_the_named_families(running, accept):
    _, exporter = running
    plain = exporter.scrape()
    query = "?name[]=librechat_messages_total&name[]=librechat_registered_users_total"
    text = fetch(exporter, {"Accept": accept}, query)[1].decode()
    parsed = openmetrics_samples(text) if accept == PROMETHEUS_3_ACCEPT else Exposition.parse(text).samples
    want = ("librechat_messages_total", "librechat_registered_users_total")
    assert parsed == {name: plain.samples[name] for name in want}


@pytest.mark.skipif(not prometheus_available, reason="scripts/services.sh installs prometheus")
def test_a_real_prometheus_server_scrapes_every_series(running, tmp_path):
    _, exporter = running
    prometheus = start_prometheus(tmp_path, "librechat", f"127.0.0.1:{exporter.port}")
    try:
        prometheus.wait_until_scraped("librechat")
        page = exporter.scrape()
        want = {
            (name, key): value for name, series in page.librechat().items() for key, value in series.items()
        }
        stored = prometheus.query('{__name__=~"librechat_.+",__name__!~"librechat_(exporter|mongodb)_.+"}')
        got = {
            (
                r["metric"]["__name__"],
                tuple(
                    sorted((k, v) for k, v in r["metric"].items() if k not in ("__name__", "job", "instance"))
                ),
            ): float(r["value"][1])
            for r in stored
        }
        assert got == want
    finally:
        prometheus.stop()
