"""The HTTP(S) side: the WSGI app for /, /metrics, /healthz and /readyz, and the server.

The server never lets a client hold it up: one thread accepts and waits (with a selector) until a
connection has sent something, so idle connections hold no thread; a bounded pool of worker threads
then does the TLS handshake and reads the request under one deadline, and writes under a timeout.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from .pagecache import PageCache
from .scheduler import Scheduler
from .webconfig import WebConfig

log = logging.getLogger("librechat_metrics.http")

ALLOWED_METHODS = "GET, HEAD"


def make_app(
    cache: PageCache,
    full: CollectorRegistry,
    scheduler: Scheduler,
    web: WebConfig,
) -> Callable:
    """The WSGI app: / and /metrics (auth if configured), /healthz, /readyz; GET and HEAD only."""
    fallback = make_wsgi_app(full)

    def route(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            ready = scheduler.ready()
            return _plain(
                start_response,
                "200 OK" if ready else "503 Service Unavailable",
                b"ready\n" if ready else b"not ready: a group has not collected yet\n",
            )
        if path not in ("/", "/metrics"):
            return _plain(start_response, "404 Not Found", b"not found: try /metrics\n")
        if not web.authorized(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="librechat-metrics"')],
            )
            return [b"unauthorized\n"]
        fmt = cache.format(environ.get("HTTP_ACCEPT", ""))
        gzipped = wants_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if "name[]" in parse_qs(environ.get("QUERY_STRING", "")):  # filters: rare, rendered per request
            environ = {**environ, "HTTP_ACCEPT_ENCODING": "gzip" if gzipped else ""}
            if fmt.content_type == CONTENT_TYPE_PLAIN_0_0_4:  # also when the Accept header is unparseable
                environ["HTTP_ACCEPT"] = ""

            def vary(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                return start_response(status, [*headers, ("Vary", "Accept-Encoding")], *exc)

            return fallback(environ, vary)
        headers = [("Content-Type", fmt.content_type), ("Vary", "Accept-Encoding")]
        if gzipped:
            body = cache.page_gzip(fmt)
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = cache.page(fmt)
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "HEAD":
            return _head(route, environ, start_response)
        if method != "GET":
            body = b"method not allowed: use GET or HEAD\n"
            return _plain(start_response, "405 Method Not Allowed", body, ("Allow", ALLOWED_METHODS))
        return route(environ, start_response)

    return app


def wants_gzip(accept_encoding: str) -> bool:
    """Whether the Accept-Encoding header accepts gzip (RFC 9110 12.5.3): gzip (or x-gzip) with q > 0,
    or, when gzip is not named, `*` with q > 0. A q that does not parse counts as 0."""
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding.lower() in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    chosen = named if named is not None else star
    return chosen is not None and chosen > 0


def _head(route: Callable, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """HEAD: the headers a GET would get, with its Content-Length, and no body."""
    seen: list[Any] = []

    def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Callable:
        seen[:] = [status, headers]
        return lambda data: None

    body = b"".join(route({**environ, "REQUEST_METHOD": "GET"}, capture))
    status, headers = seen
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers = [*headers, ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return []


def _plain(start_response: Callable, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _plain(start_response: Callable, status: str, body: bytes, *extra: tuple[str, str]) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra],
    )
    return [body]


class _DeadlineReader(io.RawIOBase):
    """Socket reads that all end by one deadline, so a client trickling bytes cannot hold a worker."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request not received in time")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class _Handler(WSGIRequestHandler):
    """One request per connection: request line and headers by the deadline, then the app's answer
    under the send timeout. Under mutual TLS, a client without a certificate gets only /healthz."""

    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls
    server: Server

    def __init__(self, request: Any, client_address: Any, server: Server, deadline: float):
        self.deadline = deadline
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self.deadline))

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        self.connection.settimeout(self.server.SEND_TIMEOUT)
        exempt = unquote(self.path.partition("?")[0], "iso-8859-1") == "/healthz"  # PATH_INFO, as WSGI has it
        if self.server.client_cert_required and not exempt and not _has_client_cert(self.connection):
            self._refuse(403, b"client certificate required\n")
            return False
        return True

    def handle(self) -> None:
        """WSGIRequestHandler.handle, with an app handler that logs failures in one line."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # an error has been sent
            return
        handler = _AppHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())

    def _refuse(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _AppHandler(ServerHandler):
    def log_exception(self, exc_info: Any) -> None:
        _, err, _ = exc_info
        level = logging.DEBUG if isinstance(err, OSError) else logging.ERROR  # OSError: a slow or gone client
        log.log(level, "request failed: %s: %s", type(err).__name__, err)


def _has_client_cert(connection: Any) -> bool:
    """A (verified: the context checks every certificate sent) client certificate came with TLS."""
    return isinstance(connection, ssl.SSLSocket) and connection.getpeercert(binary_form=True) is not None


class Server(WSGIServer):
    """A WSGI server that idle or slow clients cannot stall (see the module docstring).

    Bounds, fixed because an operator has no reason to change them: a connection may wait
    IDLE_TIMEOUT for its first byte; the TLS handshake, request line and headers must then arrive
    within REQUEST_TIMEOUT; each write may block for SEND_TIMEOUT. At most MAX_WORKERS threads serve
    connections and at most MAX_CONNECTIONS are open: past that, the longest-idle one is closed (or,
    if none is idle, the new one)."""

    request_queue_size = 128  # socketserver's default of 5 drops connections when many scrapers come at once
    IDLE_TIMEOUT = 10.0
    REQUEST_TIMEOUT = 10.0
    SEND_TIMEOUT = 30.0
    MAX_WORKERS = 32
    MAX_CONNECTIONS = 512

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None, client_cert_required: bool):
        super().__init__(address, _Handler)
        self.context, self.client_cert_required = context, client_cert_required
        self._idle: dict[socket.socket, tuple[float, Any]] = {}  # accept order: oldest first
        self._ready: queue.SimpleQueue[tuple[socket.socket, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._open = 0  # connections accepted and not yet closed (idle, queued or being served)
        self._workers = 0
        self._waiting_workers = 0
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._wake_r, self._wake_w = socket.socketpair()

    @property
    def workers(self) -> int:
        """Worker threads started so far (never more than MAX_WORKERS)."""
        return self._workers

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        selector = selectors.DefaultSelector()
        self.socket.setblocking(False)
        selector.register(self.socket, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                soonest = next(iter(self._idle.values()), (time.monotonic() + poll_interval,))[0]
                timeout = min(max(soonest - time.monotonic(), 0.0), poll_interval)
                for key, _ in selector.select(timeout):
                    if key.fileobj is self.socket:
                        self._accept(selector)
                    elif key.fileobj is self._wake_r:
                        self._wake_r.recv(64)
                    else:
                        conn = key.fileobj
                        selector.unregister(conn)
                        _, address = self._idle.pop(conn)
                        self._dispatch(conn, address)
                self._expire(selector)
        finally:
            for conn in list(self._idle):
                self._drop(selector, conn)
            selector.close()
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake_w.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                conn, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError:  # e.g. out of file descriptors: make room, try again on the next round
                if self._idle:
                    self._drop(selector, next(iter(self._idle)))
                else:
                    time.sleep(0.05)
                return
            with self._lock:
                self._open += 1
                full = self._open > self.MAX_CONNECTIONS
            if full and self._idle:
                self._drop(selector, next(iter(self._idle)))
            elif full:
                self._close(conn)
                continue
            conn.setblocking(False)
            self._idle[conn] = (time.monotonic() + self.IDLE_TIMEOUT, address)
            selector.register(conn, selectors.EVENT_READ)

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for conn, (deadline, _) in list(self._idle.items()):
            if deadline > now:
                break  # the same timeout for all: later ones expire later
            self._drop(selector, conn)

    def _drop(self, selector: selectors.BaseSelector, conn: socket.socket) -> None:
        selector.unregister(conn)
        del self._idle[conn]
        self._close(conn)

    def _close(self, conn: socket.socket) -> None:
        try:
            conn.close()
        finally:
            with self._lock:
                self._open -= 1

    def _dispatch(self, conn: socket.socket, address: Any) -> None:
        self._ready.put((conn, address))
        with self._lock:
            if self._waiting_workers > 0 or self._workers >= self.MAX_WORKERS:
                return
            self._workers += 1
        threading.Thread(target=self._work, name=f"http-{self._workers}", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting_workers += 1
            conn, address = self._ready.get()
            with self._lock:
                self._waiting_workers -= 1
            self._serve_one(conn, address)

    def _serve_one(self, conn: socket.socket, address: Any) -> None:
        deadline = time.monotonic() + self.REQUEST_TIMEOUT
        request: socket.socket = conn
        try:
            conn.settimeout(self.REQUEST_TIMEOUT)
            if self.context is not None:  # the handshake's timeout covers all of it (CPython)
                request = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
                request.do_handshake()
            _Handler(request, address, self, deadline)
        except OSError as err:  # resets, timeouts, failed handshakes: the client's problem, not logged
            log.debug("connection from %s closed: %s", address, err)
        except Exception as err:  # a bug: one line, never a traceback per request
            log.error("request from %s failed: %s: %s", address, type(err).__name__, err)
        finally:
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_WR)  # FIN before close: the client reads the whole answer
            try:
                if request is not conn:
                    request.close()
            finally:
                self._close(conn)


class _Server6(Server):
    address_family = socket.AF_INET6


def serve(app: Callable, address: str, port: int, web: WebConfig) -> tuple[Server, threading.Thread]:
    """Start the HTTP(S) server in a daemon thread."""
    server_class = _Server6 if ":" in address else Server
    httpd = server_class((address, port), web.ssl_context(), web.client_cert_required)
    httpd.set_app(app)
    thread = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
    thread.start()
    return httpd, thread
