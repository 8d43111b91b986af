"""Scrape path under load: 50 concurrent scrapers for 60 s against a collected snapshot.

The snapshot holds 200 models x 11 feedback tags of label sets (the cardinality cap is raised so that
all of them are rendered). Reports latency p50/p99, errors and the exporter's peak RSS.

    .venv/bin/python bench/scrape_load.py [--scrapers 50] [--seconds 60] [--interval 0]

`--interval 0` makes each scraper ask again as soon as it got an answer (closed loop, the hardest case);
`--interval 1` is 50 Prometheus servers scraping every second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
from bson import ObjectId

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.exporter import start_exporter  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402

UP_TAGS = ["accurate_reliable", "creative_solution", "clear_well_written", "attention_to_detail"]
DOWN_TAGS = [
    "not_matched",
    "inaccurate",
    "bad_style",
    "missing_image",
    "unjustified_refusal",
    "not_helpful",
    "other",
]


def dataset(models: int = 200) -> dict[str, list[dict]]:
    """One rated assistant message per (model, tag), plus a tool call each: 200 x 11 label sets."""
    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    messages = []
    for m in range(models):
        for t, tag in enumerate(UP_TAGS + DOWN_TAGS):
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
                    "feedback": {"rating": "thumbsUp" if tag in UP_TAGS else "thumbsDown", "tag": tag},
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


async def scraper(
    port: int, stop_at: float, interval: float, latencies: list[float], errors: list[str]
) -> None:
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            body = await reader.read()
            writer.close()
            if not body.startswith(b"HTTP/1.") or b" 200 " not in body[:16]:
                errors.append(body[:40].decode(errors="replace"))
            else:
                latencies.append(time.perf_counter() - started)
        except OSError as err:
            errors.append(str(err))
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))


async def load(port: int, scrapers: int, seconds: float, interval: float, pid: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    proc, peak = psutil.Process(pid), 0

    async def watch() -> None:
        nonlocal peak
        while time.monotonic() < stop_at:
            peak = max(peak, proc.memory_info().rss)
            await asyncio.sleep(0.5)

    await asyncio.gather(
        watch(), *(scraper(port, stop_at, interval, latencies, errors) for _ in range(scrapers))
    )
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
        "exporter_peak_rss_mb": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=0.0)
    args = parser.parse_args()
    server = start_mongoeco(dataset())
    exporter = start_exporter(server.uri, {"METRICS_LABEL_LIMIT": "5000", "LOGGING_LEVEL": "warning"})
    try:
        exporter.wait_ready(120)
        page = exporter.scrape()
        series = sum(len(v) for v in page.samples.values())
        result = asyncio.run(
            load(exporter.port, args.scrapers, args.seconds, args.interval, exporter.proc.pid)
        )
        result |= {"series_on_page": series, "page_bytes": len(page.text), **vars(args)}
        print(json.dumps(result, indent=2))
    finally:
        exporter.stop()
        server.stop()


if __name__ == "__main__":
    main()
