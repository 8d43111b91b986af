"""The HTTP(S) server under hostile or odd clients (issue #13 items 5, 8 and 10): idle and slow
connections, TLS handshakes, constant-time authentication, over-long and non-ASCII credentials,
malformed bcrypt hashes, Accept-Encoding, methods, query strings and the container healthcheck in
every web-config mode. The server runs in this process, on loopback, with a stub page."""

from __future__ import annotations

import base64
import gzip
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import bcrypt
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from librechat_metrics.pagecache import Format
from librechat_metrics.server import make_app, serve
from librechat_metrics.webconfig import WebConfig, WebConfigError, load_web_config
from tests.support.certs import Certificates, make_certificates
from tests.support.exporter import ROOT, free_port, run_cli

PAGE = b"# HELP stub_page a stub\n# TYPE stub_page gauge\nstub_page 1.0\n"


class StubCache:
    """A page cache that counts the pages it serves."""

    def __init__(self) -> None:
        self.pages = 0

    def format(self, accept: str) -> Format:
        return Format(CONTENT_TYPE_PLAIN_0_0_4, generate_latest)

    def page(self, fmt: Format) -> bytes:
        self.pages += 1
        return PAGE

    def page_gzip(self, fmt: Format) -> bytes:
        self.pages += 1
        return gzip.compress(PAGE)


class CountingCollector:
    """The registry behind name[] filters: counts how often it is rendered."""

    def __init__(self) -> None:
        self.renders = 0

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("stub_value", "a stub")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.renders += 1
        yield GaugeMetricFamily("stub_value", "a stub", value=1)


class StubScheduler:
    def ready(self) -> bool:
        return True


class Stubs:
    def __init__(self, web: WebConfig | None = None) -> None:
        self.cache, self.collector, self.web = StubCache(), CountingCollector(), web or WebConfig()
        registry = CollectorRegistry()
        registry.register(self.collector)
        self.app = make_app(self.cache, registry, StubScheduler(), self.web)  # type: ignore[arg-type]


def call(app: Any, method: str = "GET", path: str = "/metrics", query: str = "", **headers: str):
    """One WSGI request: (status code, headers, body)."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(REQUEST_METHOD=method, PATH_INFO=path, QUERY_STRING=query)
    for name, value in headers.items():
        environ["HTTP_" + name.upper()] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list, exc_info: Any = None) -> Any:
        seen.update(status=int(status[:3]), headers=dict(response_headers))
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def basic(user: str, password: str | bytes) -> str:
    secret = password if isinstance(password, bytes) else password.encode()
    return "Basic " + base64.b64encode(user.encode() + b":" + secret).decode()


def hashed(secret: bytes, rounds: int) -> str:
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds)).decode()


def web_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def bcrypt_costs(monkeypatch) -> list[int]:
    """The cost of every bcrypt check made while the test runs: the work, independent of load."""
    costs: list[int] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed_password: bytes) -> bool:
        costs.append(int(hashed_password[4:6]))
        return real(password, hashed_password)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return costs


# --- authentication ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> str:
    tmp_path = tmp_path_factory.mktemp("users")
    return web_file(
        tmp_path,
        f"basic_auth_users:\n  alice: '{hashed(b'wonderland', 6)}'\n  bob: '{hashed(b'builder', 5)}'\n"
        f"  jürgen: '{hashed('straße'.encode(), 5)}'\n"
        f"bearer_auth_tokens:\n  - '{hashed(b's3cret-token', 5)}'\n",
    )


def test_unknown_user_costs_the_same_bcrypt_work_as_a_known_user(users_file, bcrypt_costs):
    web = load_web_config(users_file)
    assert not web.authorized(basic("mallory", "wonderland"))
    unknown = list(bcrypt_costs)
    bcrypt_costs.clear()
    assert not web.authorized(basic("alice", "wrong"))
    known = list(bcrypt_costs)
    assert unknown == known == [6]  # alice's cost 6 is the highest configured: the dummy hash has it too


@pytest.mark.parametrize(
    "header",
    [
        "Bearer " + "t" * 200,
        basic("alice", "p" * 73),
        basic("mallory", "p" * 200),
    ],
)
def test_over_long_secret_is_401_without_bcrypt(users_file, bcrypt_costs, header):
    app = Stubs(load_web_config(users_file)).app
    status, headers, _ = call(app, AUTHORIZATION=header)
    assert status == 401 and "WWW-Authenticate" in headers
    assert bcrypt_costs == []  # refused before any lookup: the same (nothing) for every user name


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (basic("alice", "wonderland"), 200),
        (basic("jürgen", "straße"), 200),  # a non-ASCII configured user with the right password
        (basic("jürgen", "wrong"), 401),
        (basic("jürgen-unknown", "straße"), 401),
        (basic("ünknown", "wonderland"), 401),
        ("Basic j\xfcrgen", 401),  # raw Latin-1 bytes, as WSGI hands them on
        ("Bearer t\xf6k\xe9n", 401),
        ("B\xe4sic abc", 401),
        ("Bearer s3cret-token", 200),
        (basic("alice", b"wonder\xffland"), 401),  # not UTF-8
        (basic("alice", "wonder\x00land"), 401),
    ],
)
def test_non_ascii_credentials_are_answered_never_500(users_file, header, status):
    app = Stubs(load_web_config(users_file)).app
    assert call(app, AUTHORIZATION=header)[0] == status


@pytest.mark.parametrize(
    "value",
    [
        "$2b$12$short",
        "$2b$99$" + "a" * 53,  # no such cost
        "$2b$03$" + "a" * 53,
        "$2b$04$" + "!" * 53,  # not bcrypt's base64
        "$2b$04$" + "z" * 21 + "z" + "a" * 31,  # salt whose last character has bits bcrypt rejects
        "$2x$04$" + "a" * 53,
        "$2b$04$" + "a" * 54,
        "plain-password",
        12,
    ],
)
def test_malformed_bcrypt_hash_is_refused_at_load(tmp_path, value):
    path = web_file(tmp_path, f"basic_auth_users:\n  alice: {value!r}\n")
    with pytest.raises(WebConfigError, match=r"basic_auth_users\.alice: expected a bcrypt hash"):
        load_web_config(path)


def test_malformed_bcrypt_hash_fails_check_config_and_start_with_exit_2(tmp_path):
    path = web_file(tmp_path, "bearer_auth_tokens:\n  - '$2b$12$short'\n")
    for args in (["--check-config"], []):
        result = run_cli(args, {"WEB_CONFIG_FILE": path, "MONGODB_URI": "mongodb://127.0.0.1:9/"}, timeout=20)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("metrics.py: error: WEB_CONFIG_FILE"), result.stderr


def test_well_formed_hash_variants_load(tmp_path):
    good = hashed(b"x", 4)
    path = web_file(tmp_path, f"basic_auth_users:\n  a: '{good}'\n  b: '{good.replace('$2b$', '$2y$')}'\n")
    web = load_web_config(path)
    assert web.authorized(basic("a", "x")) and web.authorized(basic("b", "x"))


@pytest.mark.parametrize("mode", ["RequireAndVerifyClientCert", "VerifyClientCertIfGiven"])
def test_client_certificate_modes_need_a_client_ca(tmp_path, certificates, mode):
    path = web_file(
        tmp_path,
        tls_text(certificates) + f"  client_auth_type: {mode}\n",
    )
    with pytest.raises(WebConfigError, match="needs client_ca_file"):
        load_web_config(path)


def test_a_client_ca_without_a_client_auth_type_is_refused(tmp_path, certificates):
    """Meant as mutual TLS, but it would leave the endpoint open to any client: say so at load."""
    path = web_file(tmp_path, tls_text(certificates) + f"  client_ca_file: {certificates.ca}\n")
    with pytest.raises(WebConfigError, match="client_auth_type is NoClientCert"):
        load_web_config(path)


# --- what /metrics answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("gzip;q=0.5", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("x-notgzip", False),
        ("notgzip, gzipx", False),
        ("gzip;q=0, *", False),  # gzip named and refused: * does not bring it back
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
        ("", False),
    ],
)
@pytest.mark.parametrize("query", ["", "name[]=stub_value"])
def test_accept_encoding_is_negotiated_with_vary(accept_encoding, gzipped, query):
    stubs = Stubs()
    status, headers, body = call(stubs.app, query=query, ACCEPT_ENCODING=accept_encoding)
    assert status == 200
    assert headers.get("Vary") == "Accept-Encoding"
    assert (headers.get("Content-Encoding") == "gzip") is gzipped
    text = gzip.decompress(body) if gzipped else body
    assert text.startswith(b"# HELP stub_")


def test_any_query_string_but_name_filters_is_served_from_the_page_cache():
    stubs = Stubs()
    for query in ["x=1"] * 8 + ["name=stub_value", "name%5B%5D", "", "&&", "name[]="]:
        status, _, body = call(stubs.app, query=query)
        assert status == 200 and body == PAGE
    assert stubs.collector.renders == 0 and stubs.cache.pages == 13
    status, _, body = call(stubs.app, query="name[]=stub_value")
    assert status == 200 and b"stub_value 1.0" in body and stubs.collector.renders == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH", "PROPFIND"])
@pytest.mark.parametrize("path", ["/metrics", "/", "/healthz"])
def test_other_methods_are_405_with_allow(method, path):
    stubs = Stubs()
    status, headers, body = call(stubs.app, method=method, path=path)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert b"stub" not in body and stubs.cache.pages == 0


# --- the server -----------------------------------------------------------------------------------


MUTUAL = "  client_ca_file: {ca}\n  client_auth_type: RequireAndVerifyClientCert\n"


def tls_text(certificates: Certificates) -> str:
    server = certificates.server
    return f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


class Running:
    def __init__(self, app: Any, web: WebConfig, address: str = "127.0.0.1") -> None:
        self.address, self.port = address, free_port()
        self.httpd, self.thread = serve(app, address, self.port, web)
        self.scheme = "https" if web.cert_file else "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.address}:{self.port}{path}"

    def get(self, path: str, context: Any = None, timeout: float = 5, **headers: str) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url(path), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def raw(self, request: bytes) -> bytes:
        """Send bytes on plain TCP, return everything the server sends until it closes."""
        with socket.create_connection((self.address, self.port), timeout=10) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def running() -> Iterator[tuple[Running, Stubs]]:
    stubs = Stubs()
    server = Running(stubs.app, stubs.web)
    yield server, stubs
    server.stop()


def idle_connections(server: Running, count: int) -> list[socket.socket]:
    return [socket.create_connection((server.address, server.port), timeout=10) for _ in range(count)]


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def closed_now(sock: socket.socket) -> bool:
    """Without waiting: has the server closed this connection?"""
    timeout = sock.gettimeout()
    sock.setblocking(False)  # a socket with a timeout would wait for data despite MSG_DONTWAIT
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


def test_head_has_the_get_headers_and_no_body(running):
    server, _ = running
    get = server.raw(b"GET /metrics HTTP/1.0\r\n\r\n")
    head = server.raw(b"HEAD /metrics HTTP/1.0\r\n\r\n")
    get_headers, _, get_body = get.partition(b"\r\n\r\n")
    head_headers, _, head_body = head.partition(b"\r\n\r\n")
    assert get_body == PAGE and head_body == b""
    assert head_headers.startswith(b"HTTP/1.0 200")
    assert f"Content-Length: {len(PAGE)}".encode() in head_headers.split(b"\r\n")
    assert b"Vary: Accept-Encoding" in head_headers.split(b"\r\n")
    assert head.count(b"stub_page") == 0 and get_headers.count(b"Content-Length") == 1


def test_post_and_trace_over_the_wire_are_405(running):
    server, _ = running
    for request in (
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        answer = server.raw(request)
        assert answer.startswith(b"HTTP/1.0 405"), answer
        assert b"Allow: GET, HEAD" in answer.split(b"\r\n") and b"stub_page" not in answer


def test_non_ascii_authorization_over_the_wire_is_401(tmp_path):
    web = load_web_config(web_file(tmp_path, f"basic_auth_users:\n  alice: '{hashed(b'w', 4)}'\n"))
    stubs = Stubs(web)
    server = Running(stubs.app, web)
    try:
        for value in (b"Basic j\xc3\xbcrgen", b"Bearer " + b"\xff" * 200, basic("jürgen", "x").encode()):
            answer = server.raw(b"GET /metrics HTTP/1.0\r\nAuthorization: " + value + b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.0 401"), answer
        status, _ = server.get("/metrics", Authorization="Bearer " + "t" * 200)
        assert status == 401
    finally:
        server.stop()


def test_idle_connections_hold_no_thread_and_scrapes_still_answer(running):
    server, _ = running
    before = threading.active_count()
    idle = idle_connections(server, 300)
    try:
        assert server.get("/healthz") == (200, b"ok\n")
        assert server.get("/metrics") == (200, PAGE)
        assert threading.active_count() - before < 40  # a bounded pool, not one thread per connection
    finally:
        for sock in idle:
            sock.close()


def test_past_the_connection_bound_the_longest_idle_are_closed(running):
    server, _ = running
    idle = idle_connections(server, 600)
    try:
        assert server.get("/healthz") == (200, b"ok\n")
        deadline = time.monotonic() + 20
        closed: list[int] = []
        while len(closed) < 600 - 512 and time.monotonic() < deadline:
            time.sleep(0.2)
            closed = [i for i, sock in enumerate(idle) if closed_now(sock)]
        assert len(closed) >= 600 - 512
        assert min(closed) == 0  # the oldest went first
    finally:
        for sock in idle:
            sock.close()


def test_clients_trickling_their_requests_hold_no_worker(running):
    server, _ = running
    trickling = idle_connections(server, 100)  # more than a bounded pool could give a thread each
    try:
        for sock in trickling:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never the blank line that ends it
        time.sleep(0.3)
        before = threading.active_count()
        for sock in trickling:
            sock.sendall(b"X-Slow: 1\r\n")
        assert server.get("/healthz") == (200, b"ok\n")
        assert server.get("/metrics") == (200, PAGE)
        assert threading.active_count() - before < 5
        assert not any(closed_now(sock) for sock in trickling)  # still within their deadline
    finally:
        for sock in trickling:
            sock.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n", b"414"),
        (b"GET / HTTP/1.0\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n", b"431"),
        (b"GET / HTTP/1.0\r\nX-Huge: " + b"a" * 100000, b"431"),  # never ends: cut off at the limit
    ],
)
def test_oversized_request_heads_are_refused_at_once(running, request_bytes, status):
    server, _ = running
    try:
        answer = server.raw(request_bytes)  # returns when the server closes, long before any deadline
    except (ConnectionResetError, BrokenPipeError):  # closed on our unread bytes: the 431 may be lost
        assert status == b"431"
    else:
        assert answer.split(b" ")[1] == status


def test_an_idle_connection_is_closed_after_the_idle_timeout(running):
    server, _ = running
    server.httpd.IDLE_TIMEOUT = 0.3
    (sock,) = idle_connections(server, 1)
    with sock:
        sock.settimeout(15)
        assert closed_by_server(sock)


def test_a_trickling_request_is_cut_off_at_the_request_deadline(running):
    server, _ = running
    server.httpd.REQUEST_TIMEOUT = 0.5
    with socket.create_connection((server.address, server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n")
        deadline = time.monotonic() + 15
        cut = False
        while time.monotonic() < deadline and not cut:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                cut = True
                break
            readable, _, _ = select.select([sock], [], [], 0.2)
            cut = bool(readable) and closed_by_server(sock)
        assert cut


@pytest.fixture
def tls_web(tmp_path, certificates) -> WebConfig:
    return load_web_config(
        web_file(
            tmp_path,
            f"tls_server_config:\n  cert_file: {certificates.server.cert}\n"
            f"  key_file: {certificates.server.key}\n",
        )
    )


HALF_A_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc"


@pytest.mark.parametrize("sent", [b"", HALF_A_CLIENT_HELLO])
def test_a_stalled_tls_handshake_does_not_stall_other_clients(tls_web, certificates, sent):
    stubs = Stubs(tls_web)
    server = Running(stubs.app, tls_web)
    context = ssl.create_default_context(cafile=certificates.ca)
    try:
        stalled = idle_connections(server, 3)
        for sock in stalled:
            sock.sendall(sent)
        time.sleep(0.2)  # let the server accept them first
        assert server.get("/healthz", context=context) == (200, b"ok\n")
        assert server.get("/metrics", context=context) == (200, PAGE)
        server.httpd.REQUEST_TIMEOUT = server.httpd.IDLE_TIMEOUT = 0.3
        extra = idle_connections(server, 1)[0]  # sees the short timeouts
        extra.sendall(sent)
        extra.settimeout(15)
        assert closed_by_server(extra)
        for sock in [*stalled, extra]:
            sock.close()
    finally:
        server.stop()


@pytest.fixture
def mtls(tmp_path, certificates) -> Iterator[Running]:
    path = web_file(
        tmp_path,
        tls_text(certificates) + MUTUAL.format(ca=certificates.ca),
    )
    web = load_web_config(path)
    server = Running(Stubs(web).app, web)
    server.web_path = path  # type: ignore[attr-defined]
    yield server
    server.stop()


def client_context(certificates: Certificates, pair: Any = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certificates.ca)
    if pair is not None:
        context.load_cert_chain(pair.cert, pair.key)
    return context


def test_mutual_tls_lets_only_healthz_through_without_a_certificate(mtls, certificates):
    anonymous = client_context(certificates)
    assert mtls.get("/healthz", context=anonymous) == (200, b"ok\n")
    for path in ("/metrics", "/", "/readyz", "/healthz/../metrics", "/healthz/", "/metrics?/healthz"):
        status, body = mtls.get(path, context=anonymous)
        assert status == 403 and b"stub" not in body, path
    for path in ("/%68ealthz", "//healthz", "/healthz?x=/metrics"):  # what the app sees is /healthz
        assert mtls.get(path, context=anonymous) == (200, b"ok\n"), path
    assert mtls.get("/metrics", context=client_context(certificates, certificates.client)) == (200, PAGE)


def test_mutual_tls_refuses_a_certificate_no_ca_vouches_for(mtls, certificates):
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        mtls.get("/healthz", context=client_context(certificates, certificates.rogue))


def run_healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "librechat_metrics.healthcheck"],
        cwd=str(ROOT),
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("mode", ["plain", "tls", "mtls", "basic", "bound-to-127.0.0.2"])
def test_container_healthcheck_works_in_every_web_config_mode(tmp_path, certificates, mode):
    tls = tls_text(certificates)
    text = {
        "plain": "",
        "tls": tls,
        "mtls": tls + MUTUAL.format(ca=certificates.ca),
        "basic": f"basic_auth_users:\n  alice: '{hashed(b'w', 4)}'\n",
        "bound-to-127.0.0.2": "",
    }[mode]
    path = web_file(tmp_path, text)
    address = "127.0.0.2" if mode.startswith("bound") else "127.0.0.1"
    web = load_web_config(path)
    server = Running(Stubs(web).app, web, address)
    env = {"METRICS_PORT": str(server.port), "WEB_CONFIG_FILE": path, "METRICS_LISTEN_ADDRESS": address}
    try:
        result = run_healthcheck(env)
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    result = run_healthcheck(env)  # nothing listens any more: unhealthy
    assert result.returncode == 1 and result.stderr.startswith("healthcheck: ")
