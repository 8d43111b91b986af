"""Scrapes while hostile clients hold connections open: idle TCP connections that never send a byte
(on a TLS port: never send a ClientHello), or a few clients trickling their request headers.

    .venv/bin/python bench/hostile_clients.py [--idle 3000] [--trickle 0] [--tls] [--scrapes 200]

Starts mongoeco and the exporter, measures sequential /metrics scrapes (Prometheus 3 headers) before
and while the connections are held, and reports latency p50/p99/max, failed scrapes (5 s timeout),
and the exporter's threads and RSS. Timing belongs here, not in the tests.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.synthetic import generate  # noqa: E402
from tests.support.certs import make_certificates  # noqa: E402
from tests.support.exporter import start_exporter  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402

HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


def scrapes(url: str, count: int, context: ssl.SSLContext | None) -> dict:
    latencies, failed = [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            request = urllib.request.Request(url, headers=HEADERS)
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                response.read()
            latencies.append(1000 * (time.perf_counter() - started))
        except OSError:
            failed += 1
    latencies.sort()
    if not latencies:
        return {"failed": failed}
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
        "max_ms": round(latencies[-1], 2),
        "failed": failed,
    }


def trickle(port: int, stop: threading.Event) -> None:
    """A slowloris client: a header line every second, reconnecting when the server cuts it off."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                while not stop.wait(1):
                    sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            stop.wait(0.1)


def ready(exporter: object, context: ssl.SSLContext | None) -> bool:
    try:
        return exporter.get("/readyz", context=context)[0] == 200  # type: ignore[attr-defined]
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=3000, help="idle connections to hold")
    parser.add_argument("--trickle", type=int, default=0, help="slowloris clients")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    server = start_mongoeco(generate(profile="v0.8.7", seed=11, n_messages=2000, now=now).collections)
    env, context = {"LOGGING_LEVEL": "warning"}, None
    with tempfile.TemporaryDirectory() as tmp:
        if args.tls:
            certs = make_certificates(Path(tmp))
            web = Path(tmp) / "web.yml"
            web.write_text(
                f"tls_server_config:\n  cert_file: {certs.server.cert}\n  key_file: {certs.server.key}\n"
            )
            env["WEB_CONFIG_FILE"] = str(web)
            context = ssl.create_default_context(cafile=certs.ca)
        exporter = start_exporter(server.uri, env, scheme="https" if args.tls else "http")
        held: list[socket.socket] = []
        stop = threading.Event()
        try:
            deadline = time.monotonic() + 300
            while not ready(exporter, context):
                assert time.monotonic() < deadline, exporter.output()
                time.sleep(0.5)
            process = psutil.Process(exporter.proc.pid)
            url = exporter.url + "/metrics"
            result: dict = {**vars(args), "before": scrapes(url, args.scrapes, context)}
            result["before"] |= {
                "threads": process.num_threads(),
                "rss_mb": round(process.memory_info().rss / 2**20, 1),
            }
            for _ in range(args.idle):
                held.append(socket.create_connection(("127.0.0.1", exporter.port), timeout=5))
            for _ in range(args.trickle):
                threading.Thread(target=trickle, args=(exporter.port, stop), daemon=True).start()
            time.sleep(1)
            result["while_held"] = scrapes(url, args.scrapes, context)
            result["while_held"] |= {
                "threads": process.num_threads(),
                "rss_mb": round(process.memory_info().rss / 2**20, 1),
            }
            print(json.dumps(result, indent=2))
        finally:
            stop.set()
            for sock in held:
                sock.close()
            exporter.stop()
            server.stop()


if __name__ == "__main__":
    main()
