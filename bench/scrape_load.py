"""Scrape path under load: 50 concurrent scrapers for 60 s against a collected snapshot.

The snapshot holds 200 models x 11 feedback tags of label sets (the cardinality cap is raised so that
all of them are rendered). Reports latency p50/p99, errors and the exporter's peak RSS.

    .venv/bin/python bench/scrape_load.py [--scrapers 50] [--seconds 60] [--rate 1]

`--rate 1` is 50 Prometheus servers each scraping once a second; `--rate 0` makes each scraper ask
again as soon as it got an answer (a closed loop: latency is then mostly queueing). The load comes from
`hey` (apt-get install hey), a compiled client, so the client's own cost does not skew the figures.
Each request carries the Accept and Accept-Encoding headers Prometheus 3 sends (OpenMetrics, gzip);
`--accept text/plain` measures the classic text format instead.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
from bson import ObjectId

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.synthetic.profiles import THUMBS_DOWN_TAGS, THUMBS_UP_TAGS  # noqa: E402
from tests.support.exporter import start_exporter  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402


def dataset(models: int = 200) -> dict[str, list[dict]]:
    """One rated assistant message per (model, tag), plus a tool call each: 200 x 11 label sets."""
    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    messages = []
    for m in range(models):
        for t, tag in enumerate(THUMBS_UP_TAGS + THUMBS_DOWN_TAGS):
            when = now - timedelta(seconds=m * 11 + t)
            messages.append(
                {
                    "_id": ObjectId.from_datetime(when),
                    "messageId": f"m{m}-{t}",
                    "conversationId": f"c{m}",
                    "user": f"{m:024x}",
                    "isCreatedByUser": False,
                    "sender": "AI",
                    "model": f"model-{m:03d}",
                    "endpoint": "openAI",
                    "tokenCount": 10 + t,
                    "createdAt": when,
                    "updatedAt": when,
                    "feedback": {"rating": "thumbsUp" if tag in THUMBS_UP_TAGS else "thumbsDown", "tag": tag},
                    "content": [{"type": "tool_call", "tool_call": {"name": f"tool_{t}", "output": "ok"}}],
                }
            )
    return {
        "messages": messages,
        "users": [],
        "conversations": [],
        "files": [],
        "transactions": [],
        "agents": [],
    }


# What Prometheus 3 sends; its Go client also adds "Accept-Encoding: gzip", as hey does.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)


def run_hey(port: int, scrapers: int, seconds: float, rate: float, pid: int, accept: str) -> dict:
    """One `hey` process per scraper (Debian package: apt-get install hey), started at staggered times as
    independent Prometheus servers are; every request's latency is collected from hey's CSV output."""
    url = f"http://127.0.0.1:{port}/metrics"
    procs, latencies, codes = [], [], Counter()
    # Files, not pipes: a closed loop writes more rows than a pipe holds while we wait.
    with contextlib.ExitStack() as files:
        outputs = [files.enter_context(tempfile.TemporaryFile("w+")) for _ in range(scrapers)]
        for output in outputs:
            command = ["hey", "-z", f"{seconds}s", "-c", "1", "-o", "csv", "-H", f"Accept: {accept}", url]
            if rate:
                command[1:1] = ["-q", str(rate)]
                time.sleep(1 / rate / scrapers)  # spread the scrapers over one interval
            procs.append(subprocess.Popen(command, stdout=output, text=True))
        watched, peak = psutil.Process(pid), 0
        while any(p.poll() is None for p in procs):
            peak = max(peak, watched.memory_info().rss)
            time.sleep(0.5)
        for output in outputs:
            output.seek(0)
            for row in csv.DictReader(output):
                codes[row["status-code"]] += 1
                latencies.append(1000 * float(row["response-time"]))
    latencies.sort()
    return {
        "requests": len(latencies),
        "status_codes": dict(codes),
        "errors": sum(n for c, n in codes.items() if c != "200"),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
        "exporter_peak_rss_mb": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument(
        "--label-limit", type=int, default=5000, help="METRICS_LABEL_LIMIT (5000: all 2200 sets)"
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--rate", type=float, default=1.0, help="scrapes per second per scraper (0 = no pause)"
    )
    parser.add_argument("--accept", default=PROMETHEUS_ACCEPT, help="Accept header (default: Prometheus 3's)")
    args = parser.parse_args()
    server = start_mongoeco(dataset())
    exporter = start_exporter(
        server.uri, {"METRICS_LABEL_LIMIT": str(args.label_limit), "LOGGING_LEVEL": "warning"}
    )
    try:
        exporter.wait_ready(120)
        page = exporter.scrape()
        series = sum(len(v) for v in page.samples.values())
        result = run_hey(
            exporter.port, args.scrapers, args.seconds, args.rate, exporter.proc.pid, args.accept
        )
        result |= {"series_on_page": series, "page_bytes": len(page.text), **vars(args)}
        print(json.dumps(result, indent=2))
    finally:
        exporter.stop()
        server.stop()


if __name__ == "__main__":
    main()
