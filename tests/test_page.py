"""The page for people at `/`: Accept negotiation, content equal to the oracle, escaping, the calendar
messages and spend gauges at window edges, basic auth and TLS, and headless Chromium screenshots."""

from __future__ import annotations

import html
import re
import shutil
import ssl
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import bcrypt
import pymongo
import pytest
from bson import ObjectId

from librechat_metrics.families import FAMILIES
from librechat_metrics.groups import UsageGroup
from librechat_metrics.mongo import Reader
from librechat_metrics.page import Page, wants_html
from librechat_metrics.scheduler import Job, Scheduler
from librechat_metrics.settings import load
from librechat_metrics.synthetic import generate
from tests.oracle import exporter_samples, page_numbers
from tests.support.certs import make_certificates
from tests.support.compare import as_of
from tests.support.demo import Demo
from tests.support.exporter import ExporterProcess, Exposition, start_exporter
from tests.support.mongo import start_mongoeco

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

CURL = "*/*"
PROMETHEUS = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(
    ("accept", "page"),
    [
        (CURL, False),
        ("", False),
        (PROMETHEUS, False),
        ("text/plain", False),
        ("application/openmetrics-text; version=1.0.0", False),
        (BROWSER, True),
        ("text/html", True),
        ("TEXT/HTML", True),
        ("text/html;q=0", False),
        ("text/html;q=nonsense", False),
        ("text/plain, text/html;q=0.5", False),
        ("text/plain;q=0.5, text/html;q=0.5", True),  # equal q: the page
        ("application/openmetrics-text;q=0.9, text/html;q=0.8", False),
        ("text/*", False),  # not named explicitly
    ],
)
def test_accept_negotiation(accept, page):
    assert wants_html(accept) is page


# --- calendar messages and spend at window edges (UTC and Europe/Berlin) --------------------------------

NOW = datetime(2025, 6, 1, 22, 30, tzinfo=timezone.utc)  # Sunday in UTC; Monday 00:30 in Berlin (CEST)
EDGES = [  # (UTC time, model): A..H
    datetime(2025, 5, 25, 23, 59, 59, tzinfo=timezone.utc),  # A: Sunday, before the UTC week
    datetime(2025, 5, 26, 0, 0, 0, tzinfo=timezone.utc),  # B: the UTC week's Monday 00:00
    datetime(2025, 5, 31, 21, 59, 59, tzinfo=timezone.utc),  # C: Berlin 23:59:59 on May 31st
    datetime(2025, 5, 31, 22, 0, 0, tzinfo=timezone.utc),  # D: Berlin June 1st 00:00 (its month)
    datetime(2025, 5, 31, 23, 59, 59, tzinfo=timezone.utc),  # E
    datetime(2025, 6, 1, 0, 0, 0, tzinfo=timezone.utc),  # F: the UTC day and month start
    datetime(2025, 6, 1, 21, 59, 59, tzinfo=timezone.utc),  # G: Berlin Sunday 23:59:59
    datetime(2025, 6, 1, 22, 0, 0, tzinfo=timezone.utc),  # H: Berlin Monday 00:00 (its day and week)
]
# Transaction i costs 2**i thousandths of a dollar; even ones are gpt-4o, odd ones the agent (claude).
HAND_WORKED = {
    "UTC": {
        "daily": (3, {"gpt-4o": 0.064, "claude": 0.032 + 0.128}),  # F G H
        "weekly": (7, {"gpt-4o": 0.004 + 0.016 + 0.064, "claude": 0.002 + 0.008 + 0.032 + 0.128}),  # B..H
        "monthly": (3, {"gpt-4o": 0.064, "claude": 0.032 + 0.128}),  # F G H
    },
    "Europe/Berlin": {
        "daily": (1, {"claude": 0.128}),  # H
        "weekly": (1, {"claude": 0.128}),  # H
        "monthly": (5, {"gpt-4o": 0.016 + 0.064, "claude": 0.008 + 0.032 + 0.128}),  # D..H
    },
}


def edge_collections() -> dict[str, list[dict]]:
    messages, transactions = [], []
    for i, when in enumerate(EDGES):
        model = "gpt-4o" if i % 2 == 0 else "agent_edge"
        messages.append(
            {
                "_id": ObjectId(),
                "messageId": f"m{i}",
                "isCreatedByUser": True,
                "user": f"u{i}",
                "createdAt": when,
            }
        )
        transactions.append(
            {
                "_id": ObjectId.from_datetime(when),
                "tokenType": "prompt",
                "rawAmount": -10,
                "tokenValue": -(2**i) * 1000,
                "model": model,
                "createdAt": when,
            }
        )
    agents = [{"id": "agent_edge", "model": "claude", "name": "Edge"}]
    return {
        "messages": messages,
        "transactions": transactions,
        "agents": agents,
        "conversations": [],
        "users": [],
    }


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_calendar_messages_and_spend_at_window_edges(zone):
    assert NOW.astimezone(ZoneInfo("Europe/Berlin")).weekday() == 0 and NOW.weekday() == 6
    collections = edge_collections()
    server = start_mongoeco(collections)
    try:
        settings = load({"MONGODB_URI": server.uri, "TIMEZONE": zone})
        client = pymongo.MongoClient(server.uri, tz_aware=True)
        reader = Reader.from_settings(client, settings)
        results = {"usage": UsageGroup(reader, settings)(NOW)}
        client.close()
    finally:
        server.stop()
    oracle = exporter_samples(collections, NOW, zone)
    for period, (messages, spend) in HAND_WORKED[zone].items():
        got = {f.name: f.value(results[f.job]) for f in FAMILIES if f.name.startswith(f"librechat_{period}_")}
        assert got[f"librechat_{period}_messages"] == {(): messages}
        assert oracle[f"librechat_{period}_messages"] == {(): messages}
        got_spend = {labels[0]: v for labels, v in got[f"librechat_{period}_spend_usd"].items()}
        want_spend = {dict(k)["model"]: v for k, v in oracle[f"librechat_{period}_spend_usd"].items()}
        assert got_spend.keys() == want_spend.keys() == spend.keys(), (period, got_spend, want_spend)
        for model, usd in spend.items():
            assert got_spend[model] == pytest.approx(usd, abs=1e-12) == want_spend[model], (period, model)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_calendar_spend_adds_the_cycles_part_and_rereads_a_window_that_began_since_the_recount(zone):
    """A recount at 21:50 UTC (cut-off 21:45), then a cycle at NOW: G and H were inserted after the
    cut-off (the cycle's part), and in Berlin a new day and week began at 22:00 UTC in between."""
    collections = edge_collections()
    server = start_mongoeco(collections)
    try:
        settings = load({"MONGODB_URI": server.uri, "TIMEZONE": zone})
        client = pymongo.MongoClient(server.uri, tz_aware=True)
        group = UsageGroup(
            Reader.from_settings(client, settings), settings, clock=lambda: 0.0
        )  # no new recount
        group(datetime(2025, 6, 1, 21, 50, tzinfo=timezone.utc))
        usage = group(NOW)
        client.close()
    finally:
        server.stop()
    for period, (_, spend) in HAND_WORKED[zone].items():
        family = next(f for f in FAMILIES if f.name == f"librechat_{period}_spend_usd")
        got = {labels[0]: v for labels, v in family.value(usage).items()}
        assert got.keys() == spend.keys(), (period, got)
        for model, usd in spend.items():
            assert got[model] == pytest.approx(usd, abs=1e-12), (period, model)


# --- the page of a running exporter -----------------------------------------------------------------


def xss_documents(now: datetime) -> dict[str, list[dict]]:
    """A reply and a transaction of a model whose name is markup, inside every window."""
    reply = {
        "_id": ObjectId(),
        "messageId": "xss-reply",
        "conversationId": "xss-conversation",
        "isCreatedByUser": False,
        "sender": "x",
        "model": XSS,
        "user": "xss-user",
        "createdAt": now,
        "error": True,
    }
    spend = {
        "_id": ObjectId(),
        "tokenType": "completion",
        "rawAmount": -5,
        "tokenValue": -25_000,
        "model": XSS,
        "createdAt": now,
    }
    return {"messages": [reply], "transactions": [spend]}


@pytest.fixture(scope="module")
def seeded():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    collections = generate(
        profile="v0.8.7", seed=11, n_messages=900, now=now, zones=("UTC", "Europe/Berlin")
    ).collections
    for name, docs in xss_documents(now).items():
        collections.setdefault(name, []).extend(docs)
    server = start_mongoeco(collections)
    yield collections, server
    server.stop()


@pytest.fixture(scope="module")
def exporter(seeded):
    _, server = seeded
    # Long intervals: every job collects once, so the page and the scrapes around it share one snapshot.
    env = {"TIMEZONE": "Europe/Berlin", "METRICS_CACHE_TTL": "3600", "METRICS_SLOW_INTERVAL": "3600"}
    process = start_exporter(server.uri, env)
    process.wait_ready()
    yield process
    process.stop()


def fetch(process: ExporterProcess, path: str, accept: str | None, **extra: str) -> tuple[int, dict, str]:
    import urllib.error
    import urllib.request

    headers = {"Accept": accept} if accept is not None else {}
    request = urllib.request.Request(process.url + path, headers={**headers, **extra})
    try:
        with urllib.request.urlopen(request, timeout=10, context=extra_context(process)) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


CONTEXTS: dict[int, ssl.SSLContext] = {}


def extra_context(process: ExporterProcess) -> ssl.SSLContext | None:
    return CONTEXTS.get(process.port)


def cards(page: str) -> dict[str, tuple[float, str] | None]:
    """Headline card id -> (exact value, shown text), or None where the card shows a dash."""
    out: dict[str, tuple[float, str] | None] = {}
    for ident, body in re.findall(r'<div class="card" id="([\w-]+)"><div class="n">(.*?)</div>', page):
        found = re.fullmatch(r'<data value="([^"]+)">([^<]*)</data>', body)
        out[ident] = (float(found.group(1)), html.unescape(found.group(2))) if found else None
    return out


def model_rows(page: str) -> dict[str, list[float | None]]:
    """Per-model table: model name -> the exact values of its cells (None where empty)."""
    table = re.search(r'<table id="models">(.*?)</table>', page, re.S)
    assert table, page
    rows = {}
    for name, cells in re.findall(r"<tr><td>([^<]*)</td>(.*?)</tr>", table.group(1)):
        values = [
            re.search(r'<data value="([^"]+)">', c) for c in re.findall(r'<td class="r">(.*?)</td>', cells)
        ]
        rows[html.unescape(name)] = [float(v.group(1)) if v else None for v in values]
    return rows


def labelled(samples: dict, **fixed: str) -> dict[str, float]:
    """Oracle samples of a model family as {model: value} (rows with the `fixed` labels)."""
    out = {}
    for key, value in samples.items():
        labels = dict(key)
        if all(labels.get(k) == v for k, v in fixed.items()):
            out[labels["model"]] = value
    return out


def test_page_shows_the_oracle_numbers_and_escapes_label_values(seeded, exporter):
    collections, _ = seeded
    before = exporter.scrape()
    status, headers, page = fetch(exporter, "/", BROWSER)
    after = exporter.scrape()
    stamps = "librechat_exporter_last_success_timestamp_seconds"
    assert before.samples[stamps] == after.samples[stamps], "a job ran between the scrapes: same snapshot?"
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Vary"] == "Accept" and "default-src 'none'" in headers["Content-Security-Policy"]
    assert int(headers["Content-Length"]) == len(page.encode())
    assert page.startswith("<!DOCTYPE html>") and "DEMO MODE" not in page
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert html.escape(XSS) in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "an external asset"

    zone = "Europe/Berlin"
    usage_at = as_of(before, "usage")
    usage = activity = exporter_samples(collections, usage_at, zone)
    numbers = page_numbers(collections, usage_at)
    shown = cards(page)
    want = {
        "messages-today": activity["librechat_daily_messages"][()],
        "active-users-5m": activity["librechat_active_users"][()],
        "active-users-today": activity["librechat_daily_unique_users"][()],
        "spend-today": sum(usage["librechat_daily_spend_usd"].values()),
        "spend-month": sum(usage["librechat_monthly_spend_usd"].values()),
        "error-share-5m": numbers["error_share_5m"],
        "p90-5m": numbers["p90_5m"],
    }
    assert set(shown) == set(want)
    for ident, value in want.items():
        assert value is not None and shown[ident] is not None, ident  # the seed has activity in every window
        assert shown[ident][0] == pytest.approx(value, rel=1e-9, abs=1e-12), ident
    assert shown["messages-today"][1] == f"{round(want['messages-today']):,}"
    assert shown["spend-month"][1] == f"${want['spend-month']:,.2f}"
    assert shown["error-share-5m"][1] == f"{100 * want['error-share-5m']:.1f} %"

    rows = model_rows(page)
    columns = [
        labelled(usage["librechat_daily_spend_usd"]),
        labelled(usage["librechat_monthly_spend_usd"]),
        labelled(usage["librechat_messages_per_model_5m"]),
        labelled(usage["librechat_response_time_seconds_5m"], percentile="90"),
    ]
    assert set(rows) == {model for column in columns for model in column}
    assert rows[XSS][1] == pytest.approx(0.025) and rows[XSS][2] == 1  # its spend and its reply
    for model, cells in rows.items():
        for column, got in zip(columns, cells, strict=True):
            if model in column:
                assert got == pytest.approx(column[model], rel=1e-9, abs=1e-12), model
            else:
                assert got is None, model
    month = [columns[1].get(model, 0.0) for model in rows]
    assert month == sorted(month, reverse=True)  # the costliest first

    assert re.search(r'<td id="mongodb"><span class="ok">answering</span>', page)
    assert re.search(r"<td id=\"target\"><span class=\"ok\">is LibreChat's</span>", page)
    assert re.search(r'<td id="ready"><span class="ok">ready</span>', page)
    for job in ("target", "usage", "engagement", "inventory", "balances", "indexes"):
        row = re.search(
            rf'<tr id="job-{job}"><td>{job}</td><td><span class="ok">ok</span></td><td>(.*?)</td>', page
        )
        assert row and re.search(r">\d+ (s|min) ago<", row.group(1)), job
    assert '<a href="metrics">/metrics</a>' in page and '<a href="readyz">/readyz</a>' in page


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/plain; version=0.0.4; charset=utf-8"),
        (CURL, "text/plain; version=0.0.4; charset=utf-8"),
        (PROMETHEUS, "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"),
    ],
)
def test_curl_and_prometheus_keep_getting_the_exposition_at_root(exporter, accept, content_type):
    status, headers, body = fetch(exporter, "/", accept)
    assert status == 200 and headers["Content-Type"] == content_type
    assert headers["Vary"] == "Accept, Accept-Encoding"
    assert "<html" not in body and Exposition.parse(body).samples["librechat_messages_total"]
    assert body.endswith("# EOF\n") == content_type.startswith("application/openmetrics-text")
    _, _, metrics = fetch(exporter, "/metrics", BROWSER)  # /metrics is the exposition, whoever asks
    assert metrics.startswith("# HELP")


def test_seed_curl_command_still_works(exporter):
    result = subprocess.run(["curl", "-sf", exporter.url], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and "# TYPE librechat_messages_total counter" in result.stdout


def test_head_of_the_page_has_its_headers_and_no_body(exporter):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=10)
    connection.request("HEAD", "/", headers={"Accept": BROWSER})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert int(response.getheader("Content-Length")) > 1000 and response.read() == b""
    connection.close()


# --- basic auth and TLS, as for /metrics ----------------------------------------------------------------

USER, PASSWORD = "ops", "page-secret"


@pytest.fixture(scope="module")
def secured(seeded, tmp_path_factory):
    _, server = seeded
    directory = tmp_path_factory.mktemp("web")
    certificates = make_certificates(directory)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    config = directory / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {certificates.server.cert}\n"
        f"  key_file: {certificates.server.key}\n"
        f"basic_auth_users:\n  {USER}: '{hashed}'\n"
    )
    process = start_exporter(server.uri, {"WEB_CONFIG_FILE": str(config)}, scheme="https")
    CONTEXTS[process.port] = ssl.create_default_context(cafile=certificates.ca)
    deadline = time.monotonic() + 60
    while not ready(process):
        assert time.monotonic() < deadline and process.proc.poll() is None, process.output()
        time.sleep(0.3)
    yield process
    process.stop()


def ready(process: ExporterProcess) -> bool:
    try:
        return fetch(process, "/readyz", None)[0] == 200  # /readyz is open, as /healthz
    except OSError:
        return False


def credentials(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_page_needs_the_same_auth_and_tls_as_metrics(secured):
    for path in ("/", "/metrics"):
        status, headers, body = fetch(secured, path, BROWSER)
        assert status == 401 and "librechat-metrics" in headers["WWW-Authenticate"] and "<html" not in body
        status, _, _ = fetch(secured, path, BROWSER, Authorization=credentials(USER, "wrong"))
        assert status == 401
    status, headers, page = fetch(secured, "/", BROWSER, Authorization=credentials(USER, PASSWORD))
    assert (
        status == 200
        and headers["Content-Type"].startswith("text/html")
        and "<h1>LibreChat metrics</h1>" in page
    )
    status, headers, body = fetch(secured, "/", CURL, Authorization=credentials(USER, PASSWORD))
    assert status == 200 and body.startswith("# HELP")
    plain = ExporterProcess(secured.port, secured.proc)  # http:// to a TLS port: no page
    with pytest.raises(OSError):
        plain.get("/")


# --- headless Chromium ------------------------------------------------------------------------------------


def chromium(url: str, profile: Path, screenshot: Path, *extra: str) -> str:
    """Load `url` in headless Chromium: save a screenshot, return the DOM it rendered."""
    assert Path(CHROMIUM).exists(), "chromium is missing: bash scripts/services.sh installs it"
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        *extra,
    ]
    subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    return dom.stdout


def keep(screenshot: Path, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / name
    shutil.copyfile(screenshot, kept)
    assert kept.stat().st_size > 20_000, "a blank screenshot"
    print(f"screenshot kept: {kept}")
    return kept


def test_chromium_renders_the_page_over_http(exporter, tmp_path):
    shot = tmp_path / "page.png"
    dom = chromium(exporter.url + "/", tmp_path / "profile", shot)
    keep(shot, "page-http.png")
    assert "<h1>LibreChat metrics</h1>" in dom and 'id="messages-today"' in dom
    assert html.escape(XSS, quote=False) in dom and "<script" not in dom  # rendered as text, never run


def test_chromium_renders_the_page_behind_basic_auth_and_tls(secured, tmp_path):
    shot = tmp_path / "page.png"
    url = f"https://{USER}:{PASSWORD}@127.0.0.1:{secured.port}/"
    dom = chromium(url, tmp_path / "profile", shot, "--ignore-certificate-errors")
    keep(shot, "page-tls-auth.png")
    assert "<h1>LibreChat metrics</h1>" in dom and 'id="spend-month"' in dom
    wrong = url.replace(f"{PASSWORD}@", "wrong@")
    unauthorized = chromium(wrong, tmp_path / "p2", tmp_path / "no.png", "--ignore-certificate-errors")
    assert "LibreChat metrics" not in unauthorized


# --- the demo -------------------------------------------------------------------------------------------


def test_demo_page_has_the_demo_banner(tmp_path):
    demo = Demo(tmp_path)
    try:
        demo.wait_families()
        status, _, page = fetch(demo.exporter, "/", BROWSER)
    finally:
        demo.stop()
    assert status == 200
    assert '<p class="demo" id="demo">DEMO MODE: synthetic LibreChat data in an embedded MongoDB' in page


# --- a failing job, nothing collected ---------------------------------------------------------------


def test_page_of_a_failing_job_shows_dashes_and_its_escaped_reason():
    def fail(now: datetime) -> None:
        raise RuntimeError("<b>bad</b> & worse")

    job = Job("usage", 60, fail)
    scheduler = Scheduler([job], wall=lambda: 1_700_000_000.0)
    scheduler.run_once(job)
    settings = load({"MONGODB_URI": "mongodb://127.0.0.1:9/"})
    page = Page(lambda: [], scheduler, settings, wall=lambda: 1_700_000_030.0).render().decode()
    assert set(cards(page).values()) == {None}  # every headline number is a dash, never a zero
    assert '<span class="wait">not checked yet</span>' in page
    row = re.search(r'<tr id="job-usage">(.*?)</tr>', page)
    assert row and '<span class="bad">failing since 2023-11-14T22:13:20Z</span>' in row.group(1)
    assert "<td>never</td>" in row.group(
        1
    ) and "RuntimeError: &lt;b&gt;bad&lt;/b&gt; &amp; worse" in row.group(1)
    assert "<b>bad" not in page and "usage: failing since 2023-11-14T22:13:20Z" in page  # readiness says why
    assert "no spend this month and no replies in the last 5 minutes" in page
