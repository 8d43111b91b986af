"""The HTTP(S) side: the WSGI app for /, /metrics, /healthz and /readyz, and the server.

The server never lets a client hold it up: one thread accepts connections, does their TLS handshakes
and reads their request heads, all non-blocking and under deadlines, so idle or trickling clients hold
no thread; a bounded pool of worker threads answers complete requests and writes under a timeout.
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

from .page import HEADERS as PAGE_HEADERS
from .page import wants_html
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
    page: Callable[[], bytes] | None = None,
) -> Callable:
    """The WSGI app: / and /metrics (auth if configured), /healthz, /readyz; GET and HEAD only.
    With `page`, a browser asking for / (wants_html) gets that HTML page instead of the exposition."""
    fallback = make_wsgi_app(full)

    def route(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            waiting = scheduler.not_ready()
            if not waiting:
                return _plain(start_response, "200 OK", b"ready\n")
            head = f"not ready (reading {scheduler.where})" if scheduler.where else "not ready"
            text = head + "\n" + "".join(f"{line}\n" for line in waiting)
            return _plain(start_response, "503 Service Unavailable", text.encode())
        if path not in ("/", "/metrics"):
            return _plain(start_response, "404 Not Found", b"not found: try /metrics\n")
        if not web.authorized(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="librechat-metrics"')],
            )
            return [b"unauthorized\n"]
        accept = environ.get("HTTP_ACCEPT", "")
        if path == "/" and page is not None and wants_html(accept):
            html = page()
            headers = [*PAGE_HEADERS, ("Vary", "Accept"), ("Content-Length", str(len(html)))]
            start_response("200 OK", headers)
            return [html]
        fmt = cache.format(accept)
        gzipped = wants_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if "name[]" in parse_qs(environ.get("QUERY_STRING", "")):  # filters: rare, rendered per request
            environ = {**environ, "HTTP_ACCEPT_ENCODING": "gzip" if gzipped else ""}
            if fmt.content_type == CONTENT_TYPE_PLAIN_0_0_4:  # also when the Accept header is unparseable
                environ["HTTP_ACCEPT"] = ""

            def vary(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                return start_response(status, [*headers, ("Vary", "Accept-Encoding")], *exc)

            return fallback(environ, vary)
        varies = "Accept, Accept-Encoding" if path == "/" and page is not None else "Accept-Encoding"
        headers = [("Content-Type", fmt.content_type), ("Vary", varies)]
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


def _plain(start_response: Callable, status: str, body: bytes, *extra: tuple[str, str]) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra],
    )
    return [body]


class _Handler(WSGIRequestHandler):
    """One request per connection, its head already read by the server (a body is never read: only
    GET and HEAD are answered); the answer is written under the send timeout. Under mutual TLS, a
    client without a certificate gets only /healthz."""

    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls
    server: Server

    def __init__(self, request: Any, client_address: Any, server: Server, head: bytes):
        self.head = head
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = io.BytesIO(self.head)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
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
        stdin: Any = self.rfile  # a buffered socket reader: the IO[bytes] ServerHandler reads
        stdout: Any = self.wfile
        handler = _AppHandler(stdin, stdout, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's own handler does this too
        app = self.server.get_app()
        assert app is not None  # set by serve() before the first request
        handler.run(app)

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


class _Pending:
    """A connection whose request head is still coming in (on the serving thread, non-blocking)."""

    __slots__ = ("address", "deadline", "handshaking", "head", "sock", "started")

    def __init__(self, sock: socket.socket, address: Any, deadline: float, handshaking: bool):
        self.sock, self.address, self.deadline, self.handshaking = sock, address, deadline, handshaking
        self.head = bytearray()
        self.started = False


def _head_complete(head: bytearray, new: int) -> bool:
    """The blank line that ends the headers has arrived (looking only at the new bytes)."""
    start = max(0, len(head) - new - 2)
    return head.find(b"\n\r\n", start) >= 0 or head.find(b"\n\n", start) >= 0


class Server(WSGIServer):
    """A WSGI server that idle or slow clients cannot stall (see the module docstring).

    The serving thread accepts, does TLS handshakes and reads request heads, all non-blocking, so
    neither an idle client nor one trickling bytes holds a thread; a worker gets a connection only
    once its whole head is in. Bounds, fixed because an operator has no reason to change them: a
    connection may wait IDLE_TIMEOUT for its first byte, then the TLS handshake, request line and
    headers must be in within REQUEST_TIMEOUT; each write may block for SEND_TIMEOUT. At most
    MAX_WORKERS threads answer requests, and at most MAX_CONNECTIONS connections are open: past that,
    the oldest one still sending its head is closed."""

    request_queue_size = 128  # socketserver's default of 5 drops connections when many scrapers come at once
    IDLE_TIMEOUT = 10.0
    REQUEST_TIMEOUT = 10.0
    SEND_TIMEOUT = 10.0
    MAX_WORKERS = 32
    MAX_CONNECTIONS = 512
    MAX_HEAD = 65536 + 16384  # request line and headers; a longer head gets 431 and is closed
    SCAN_INTERVAL = 0.25  # how often the deadlines are checked

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None, client_cert_required: bool):
        # Before binding: a failed bind calls server_close(), which closes these, and the caller then
        # sees the bind's own OSError (e.g. the port is in use).
        self._wake_r, self._wake_w = socket.socketpair()
        super().__init__(address, _Handler)  # type: ignore[arg-type]  # socketserver's stub is too narrow
        self.context, self.client_cert_required = context, client_cert_required
        self._pending: dict[socket.socket, _Pending] = {}  # accept order: oldest first
        self._ready: queue.SimpleQueue[tuple[socket.socket, Any, bytes]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._open = 0  # connections accepted and not yet closed (pending, queued or being answered)
        self._workers = 0
        self._waiting_workers = 0
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        selector = selectors.DefaultSelector()
        self.socket.setblocking(False)
        selector.register(self.socket, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        scanned = time.monotonic()
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(min(poll_interval, self.SCAN_INTERVAL)):
                    if key.fileobj is self.socket:
                        self._accept(selector)
                    elif key.fileobj is self._wake_r:
                        self._wake_r.recv(64)
                    else:
                        self._advance(selector, key.data)
                now = time.monotonic()
                if now - scanned >= self.SCAN_INTERVAL:
                    scanned = now
                    for pending in [p for p in self._pending.values() if p.deadline <= now]:
                        self._drop(selector, pending)
        finally:
            for pending in list(self._pending.values()):
                self._drop(selector, pending)
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
                if self._pending:
                    self._drop(selector, next(iter(self._pending.values())))
                else:
                    time.sleep(0.05)
                return
            with self._lock:
                self._open += 1
                full = self._open > self.MAX_CONNECTIONS
            if full and self._pending:
                self._drop(selector, next(iter(self._pending.values())))
            elif full:
                self._close(conn)
                continue
            conn.setblocking(False)
            sock: socket.socket = conn
            if self.context is not None:
                try:
                    sock = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
                except OSError:
                    self._close(conn)
                    continue
            pending = _Pending(sock, address, time.monotonic() + self.IDLE_TIMEOUT, self.context is not None)
            self._pending[sock] = pending
            selector.register(sock, selectors.EVENT_READ, pending)

    def _advance(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        """Move a connection on as far as its data allows: handshake, then read until the head is in."""
        if not pending.started:  # the first byte: from now on the request deadline counts
            pending.started = True
            pending.deadline = time.monotonic() + self.REQUEST_TIMEOUT
        events = selectors.EVENT_READ
        try:
            if pending.handshaking:
                pending.sock.do_handshake()  # type: ignore[attr-defined]  # an SSLSocket while handshaking
                pending.handshaking = False
            while True:
                chunk = pending.sock.recv(16384)
                if not chunk:  # the client closed before its request was complete
                    self._drop(selector, pending)
                    return
                pending.head += chunk
                if _head_complete(pending.head, len(chunk)):
                    selector.unregister(pending.sock)
                    del self._pending[pending.sock]
                    self._dispatch(pending.sock, pending.address, bytes(pending.head))
                    return
                if len(pending.head) > self.MAX_HEAD:
                    with contextlib.suppress(OSError):  # best effort: the socket does not block
                        pending.sock.send(b"HTTP/1.0 431 Request Header Fields Too Large\r\n\r\n")
                    self._drop(selector, pending)
                    return
        except ssl.SSLWantWriteError:
            events = selectors.EVENT_WRITE
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            pass
        except OSError as err:  # resets, failed handshakes: the client's problem, not logged above debug
            log.debug("connection from %s closed: %s", pending.address, err)
            self._drop(selector, pending)
            return
        if selector.get_key(pending.sock).events != events:
            selector.modify(pending.sock, events, pending)

    def _drop(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        selector.unregister(pending.sock)
        del self._pending[pending.sock]
        self._close(pending.sock)

    def _close(self, conn: socket.socket) -> None:
        try:
            conn.close()
        finally:
            with self._lock:
                self._open -= 1

    def _dispatch(self, conn: socket.socket, address: Any, head: bytes) -> None:
        self._ready.put((conn, address, head))
        with self._lock:
            if self._ready.qsize() <= self._waiting_workers or self._workers >= self.MAX_WORKERS:
                return  # a free worker will take it, or the pool is full and it waits its turn
            self._workers += 1
        threading.Thread(target=self._work, name=f"http-{self._workers}", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting_workers += 1
            conn, address, head = self._ready.get()
            with self._lock:
                self._waiting_workers -= 1
            self._serve_one(conn, address, head)

    def _serve_one(self, conn: socket.socket, address: Any, head: bytes) -> None:
        try:
            conn.settimeout(self.SEND_TIMEOUT)
            _Handler(conn, address, self, head)
        except OSError as err:  # resets and timeouts: the client's problem, not logged above debug
            log.debug("connection from %s closed: %s", address, err)
        except Exception as err:  # a bug: one line, never a traceback per request
            log.error("request from %s failed: %s: %s", address, type(err).__name__, err)
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)  # FIN before close: the client reads the whole answer
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
