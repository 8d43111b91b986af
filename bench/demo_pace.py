"""What live pace the demo's embedded database (mongoeco) sustains while the exporter reads it.

For each DEMO_PACE (messages a minute) the demo's own parts run in this process, as `metrics.py --demo`
runs them: the 4-week demo history seeded into an embedded mongoeco, the live writer at that pace, and
the exporter's jobs (create_app's scheduler, fast interval METRICS_CACHE_TTL, 10 s here: more reads
than the default 60 s, so the bound is on the safe side). Every second it samples how far the writer
is behind (the oldest document due but not written yet). A pace is sustained when the writer is
never more than 5 s behind and every exporter job succeeded in its last run. (The messages written in
a short run are fewer than the pace: a conversation's follow-ups are due minutes or days later.)

    .venv/bin/python bench/demo_pace.py [--paces 120,300,600,1200] [--seconds 60]

Results: bench/results/demo_pace.json (the bound MAX_PACE in librechat_metrics/demo/options.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymongo import MongoClient  # noqa: E402

from librechat_metrics.app import create_app  # noqa: E402
from librechat_metrics.demo.activity import Activity, Plan  # noqa: E402
from librechat_metrics.demo.embedded import EmbeddedMongo  # noqa: E402
from librechat_metrics.demo.hooks import WEEKS  # noqa: E402
from librechat_metrics.demo.live import LiveWriter  # noqa: E402
from librechat_metrics.demo.options import DEFAULT_DB  # noqa: E402
from librechat_metrics.settings import load  # noqa: E402

MAX_LAG = 5.0  # seconds the writer may be behind


def run_pace(pace: float, seconds: float) -> dict:
    server = EmbeddedMongo()
    activity = Activity(Plan.ending_now(7 * WEEKS))
    uri = server.start(DEFAULT_DB, activity.history())
    client: MongoClient = MongoClient(uri, tz_aware=True)
    env = {"MONGODB_URI": uri, "MONGODB_DATABASE": DEFAULT_DB, "METRICS_CACHE_TTL": "10"}
    exporter = create_app(load(env))
    exporter.scheduler.start()
    writer = LiveWriter(client[DEFAULT_DB], activity, pace, datetime.now(timezone.utc))
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, args=(stop,), daemon=True)
    began = time.monotonic()
    thread.start()
    worst_lag = 0.0
    while time.monotonic() - began < seconds:
        time.sleep(1)
        now = datetime.now(timezone.utc)
        if writer.events and writer.events[0][0] <= now:
            worst_lag = max(worst_lag, (now - writer.events[0][0]).total_seconds())
    elapsed = time.monotonic() - began
    stop.set()
    thread.join(30)
    states = exporter.scheduler.states
    exporter.scheduler.stop()
    client.close()
    server.stop()
    per_minute = writer.written["messages"] / elapsed * 60
    jobs_ok = all(state.ok for state in states.values())
    durations = {name: round(state.duration or 0.0, 3) for name, state in states.items()}
    return {
        "pace": pace,
        "seconds": round(elapsed, 1),
        "messages_per_minute": round(per_minute, 1),
        "worst_writer_lag_s": round(worst_lag, 1),
        "exporter_jobs_ok": jobs_ok,
        "job_seconds": durations,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "sustained": worst_lag <= MAX_LAG and jobs_ok,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paces", default="120,300,600,1200")
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for pace in (float(p) for p in args.paces.split(",")):
        print(json.dumps(run_pace(pace, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
