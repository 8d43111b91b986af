"""The HTTP(S) side: the WSGI app for /, /metrics, /healthz and /readyz, and the threaded server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, ThreadingWSGIServer

from .pagecache import PageCache
from .scheduler import Scheduler
from .webconfig import WebConfig


class _QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingWSGIServer):
    request_queue_size = 128  # socketserver's default of 5 drops connections when many scrapers come at once


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_app(
    cache: PageCache,
    full: CollectorRegistry,
    scheduler: Scheduler,
    web: WebConfig,
) -> Callable:
    """The WSGI app: / and /metrics (auth if configured), /healthz, /readyz."""
    fallback = make_wsgi_app(full)

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            waiting = scheduler.not_ready()
            if not waiting:
                return _plain(start_response, "200 OK", b"ready\n")
            head = f"not ready (reading {scheduler.where})" if scheduler.where else "not ready"
            body = head + "\n" + "".join(f"{line}\n" for line in waiting)
            return _plain(start_response, "503 Service Unavailable", body.encode())
        if path not in ("/", "/metrics"):
            return _plain(start_response, "404 Not Found", b"not found: try /metrics\n")
        if not web.authorized(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="librechat-metrics"')],
            )
            return [b"unauthorized\n"]
        fmt = cache.format(environ.get("HTTP_ACCEPT", ""))
        if environ.get("QUERY_STRING"):  # name[] filters: rare, rendered per request
            if fmt.content_type == CONTENT_TYPE_PLAIN_0_0_4:  # also when the Accept header is unparseable
                environ = {**environ, "HTTP_ACCEPT": ""}
            return fallback(environ, start_response)
        headers = [("Content-Type", fmt.content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = cache.page_gzip(fmt)
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = cache.page(fmt)
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def _plain(start_response: Callable, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def serve(
    app: Callable, address: str, port: int, web: WebConfig
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Start the HTTP(S) server in a daemon thread."""
    server_class = _Server6 if ":" in address else _Server
    httpd = make_server(address, port, app, server_class, handler_class=_QuietHandler)
    context = web.ssl_context()
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
    thread.start()
    return httpd, thread
