"""Failure behaviour and endpoint security, with real processes on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import time
import urllib.request

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from librechat_metrics.synthetic import generate
from tests.support.compare import GROUP_OF, as_of, assert_samples_equal, expected
from tests.support.exporter import free_port, start_exporter
from tests.support.mongo import start_mongoeco

MESSAGES = "librechat_messages_total"
LIBRECHAT_GROUPS = {
    group
    for family, group in GROUP_OF.items()
    if not family.startswith(("librechat_exporter_", "librechat_mongodb_"))
}


@pytest.fixture(scope="module")
def dataset():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return generate(profile="v0.8.7", seed=11, n_messages=300, now=now, zones=("UTC",)).collections


def up(page) -> float | None:
    return page.samples.get("librechat_mongodb_up", {}).get(())


def test_starts_without_mongodb_and_recovers_without_restart(dataset):
    port = free_port()
    exporter = start_exporter(
        f"mongodb://127.0.0.1:{port}/?directConnection=true", {"METRICS_CACHE_TTL": "1"}
    )
    server = None
    try:
        started = time.monotonic()
        deadline = started + 30
        while True:
            try:
                if exporter.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the port did not answer within 30 s"
            time.sleep(0.05)
        # The first ping needs MONGODB_TIMEOUT (5 s) to fail: the server answered before it, not after.
        assert up(exporter.scrape()) is None, "the HTTP server waited for MongoDB"
        page = exporter.wait_for(lambda p: up(p) == 0.0, timeout=20)
        assert page.librechat() == {}, "no LibreChat value may be served before MongoDB answered"
        assert exporter.get("/readyz")[0] == 503
        server = start_mongoeco(dataset, port=port)
        page = exporter.wait_for(lambda p: MESSAGES in p.samples and up(p) == 1.0, timeout=60)
        assert page.samples[MESSAGES][()] == len(dataset["messages"])
        assert exporter.get("/readyz")[0] == 200
    finally:
        exporter.stop()
        if server:
            server.stop()


def succeeded(page) -> set[str]:
    """The groups that have collected at least once."""
    stamps = page.samples.get("librechat_exporter_last_success_timestamp_seconds", {})
    return {dict(key)["group"] for key in stamps}


def test_outage_keeps_last_values_then_drops_them_and_recovers(dataset):
    server = start_mongoeco(dataset)
    # A short server-selection timeout, so that the outage shows well within the staleness limit.
    env = {"METRICS_CACHE_TTL": "1", "METRICS_MAX_STALENESS": "20", "MONGODB_TIMEOUT": "1"}
    exporter = start_exporter(server.uri, env)
    try:
        exporter.wait_ready()
        before = exporter.wait_for(
            lambda p: MESSAGES in p.samples and up(p) == 1.0 and succeeded(p) >= LIBRECHAT_GROUPS
        ).librechat()
        server.stop()
        stopped_at = dt.datetime.now(dt.timezone.utc)
        during = exporter.wait_for(lambda p: up(p) == 0.0, timeout=20)
        # Still within the staleness limit: each group's last good values, exactly as the oracle has them
        # at the time that group last collected (before the outage), never zeros.
        last_good = during.librechat()
        assert last_good.get(MESSAGES) == before[MESSAGES], "the outage showed only after values expired"
        present = {GROUP_OF[family] for family in last_good}
        assert all(as_of(during, group) < stopped_at for group in present)
        want = expected(dataset, during, "UTC", families={f for f, g in GROUP_OF.items() if g in present})
        assert_samples_equal(last_good, want)
        # Groups go stale one by one (each at its own last success + METRICS_MAX_STALENESS): until the last
        # one has gone, whatever is still served is that group's last good value, never a zero.
        pages = []

        def all_gone(page) -> bool:
            pages.append(page)
            return page.librechat() == {}

        gone = exporter.wait_for(all_gone, timeout=90)
        for page in pages:
            for family, samples in page.librechat().items():
                assert samples == last_good.get(family), f"{family} changed during the outage: {samples}"
        assert any(v > 0 for v in gone.samples["librechat_exporter_collection_errors_total"].values())
        server.restart()
        after = exporter.wait_for(lambda p: MESSAGES in p.samples and up(p) == 1.0, timeout=60)
        assert after.samples[MESSAGES] == before[MESSAGES]
    finally:
        exporter.stop()
        server.stop()


# --- TLS and authentication -----------------------------------------------------------------------


def self_signed(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def secured(tmp_path_factory, dataset):
    tmp_path = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(tmp_path)
    alice = bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=6)).decode()
    token = bcrypt.hashpw(b"s3cret-token", bcrypt.gensalt(rounds=6)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  alice: '{alice}'\nbearer_auth_tokens:\n  - '{token}'\n"
    )
    server = start_mongoeco(dataset)
    exporter = start_exporter(server.uri, {"WEB_CONFIG_FILE": str(web)}, scheme="https")
    context = ssl.create_default_context(cafile=cert)
    deadline = time.monotonic() + 60
    while True:  # /readyz needs no credentials, but TLS
        try:
            if exporter.get("/readyz", context=context)[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, exporter.output()
        time.sleep(0.2)
    yield exporter, context
    exporter.stop()
    server.stop()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (basic("alice", "wonderland"), 200),
        (basic("alice", "wrong"), 401),
        (basic("mallory", "wonderland"), 401),
        ({"Authorization": "Bearer s3cret-token"}, 200),
        ({"Authorization": "Bearer guessed"}, 401),
        ({"Authorization": "Digest abc"}, 401),
    ],
)
def test_tls_scrape_with_basic_and_bearer_auth(secured, headers, status):
    exporter, context = secured
    got, body = exporter.get("/metrics", headers, context=context)
    assert got == status
    if status == 200:
        assert "librechat_exporter_build_info" in body


def test_plain_http_is_refused_on_a_tls_port(secured):
    exporter, context = secured
    exporter.get("/healthz", context=context)  # wait until it listens
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5).read()
