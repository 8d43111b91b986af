"""Throughput and peak memory of export_metrics.py over a whole synthetic dataset.

Generates `--messages` messages (with their conversations and transactions), serves them with mongoeco,
exports every day that has data into a fresh MariaDB database (root@127.0.0.1:3306, dropped afterwards)
and reports documents per second (messages + conversations + transactions dated in the range, divided
by the export's wall time), the export process's CPU time and its peak RSS. A second, one-week export
shows whether memory grows with the range. mongoeco is a pure-Python server whose queries scan whole
collections, so the wall time is mostly mongoeco's; compare runs with each other, not with production.

    .venv/bin/python bench/export_throughput.py                       # 20,000 messages, v0.8.7
    .venv/bin/python bench/export_throughput.py --token-source messages --zone Europe/Berlin
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pymysql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.synthetic import generate  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)


def documents_in(collections: dict, lo: datetime, hi: datetime) -> int:
    """Messages and conversations by createdAt, transactions by their ObjectId time, in [lo, hi)."""
    n = 0
    for name in ("messages", "conversations"):
        n += sum(1 for d in collections.get(name, []) if isinstance(d.get("createdAt"), datetime)
                 and lo <= d["createdAt"] < hi)  # fmt: skip
    n += sum(1 for d in collections.get("transactions", []) if lo <= d["_id"].generation_time < hi)
    return n


def run_export(uri: str, db: str, start: date, end: date, zone: str, token_source: str) -> dict:
    """Run the export as a child process; wall time and peak RSS (polled, and the kernel's maximum)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "HISTORY_", "MONGODB_"))}
    env.update(
        MONGODB_URI=uri,
        HISTORY_DATABASE_URL=f"mysql://root@127.0.0.1:3306/{db}",
        TIMEZONE=zone,
        TOKEN_SOURCE=token_source,
        LOGGING_LEVEL="warning",
    )
    python = ROOT / ".venv" / "bin" / "python"
    cmd = [
        str(python if python.exists() else sys.executable),
        str(ROOT / "export_metrics.py"),
        str(start),
        str(end),
    ]
    began = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT / "bench")
    child = psutil.Process(proc.pid)
    polled = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # this child's own rusage once it has ended
        if pid:
            break
        with contextlib.suppress(psutil.NoSuchProcess):
            polled = max(polled, child.memory_info().rss)
        time.sleep(0.02)
    seconds = time.monotonic() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"export failed with exit status {proc.returncode}")
    peak = max(polled, usage.ru_maxrss * 1024)  # ru_maxrss is in KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": round(peak / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--profile", default="v0.8.7")
    ap.add_argument("--history-days", type=int, default=120, help="days the generated data spans")
    ap.add_argument("--zone", default="UTC")
    ap.add_argument("--token-source", default="auto", choices=["auto", "transactions", "messages"])
    args = ap.parse_args()

    t0 = time.monotonic()
    data = generate(args.profile, 1, args.messages, NOW, ("UTC", args.zone), args.history_days).collections
    generated = time.monotonic() - t0
    zone = ZoneInfo(args.zone)
    days = sorted(
        {
            m["createdAt"].astimezone(zone).date()
            for m in data["messages"]
            if isinstance(m.get("createdAt"), datetime)
        }
    )
    start, end = days[0], days[-1]
    lo = datetime(start.year, start.month, start.day, tzinfo=zone).astimezone(timezone.utc)
    hi = datetime(end.year, end.month, end.day, tzinfo=zone).astimezone(timezone.utc) + timedelta(days=1)
    in_range = documents_in(data, lo, hi)

    t0 = time.monotonic()
    server = start_mongoeco(data)
    served = time.monotonic() - t0
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    names = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        for name in names:
            admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        whole = run_export(server.uri, names[0], start, end, args.zone, args.token_source)
        week = run_export(server.uri, names[1], end - timedelta(days=6), end, args.zone, args.token_source)
    finally:
        for name in names:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
        server.stop()

    report = {
        "messages": len(data["messages"]),
        "profile": args.profile,
        "token_source": args.token_source,
        "zone": args.zone,
        "range": f"{start}..{end}",
        "days": (end - start).days + 1,
        "documents_in_range": in_range,
        "generate_s": round(generated, 1),
        "serve_s": round(served, 1),
        "export_s": round(whole["seconds"], 1),
        "export_cpu_s": round(whole["cpu_seconds"], 1),  # the rest is waiting for mongoeco and MariaDB
        "documents_per_s": round(in_range / whole["seconds"]),
        "documents_per_cpu_s": round(in_range / max(whole["cpu_seconds"], 1e-3)),  # the export's own cost
        "days_per_s": round(((end - start).days + 1) / whole["seconds"], 2),
        "peak_rss_mb": whole["peak_rss_mb"],
        "one_week_export_s": round(week["seconds"], 1),
        "one_week_peak_rss_mb": week["peak_rss_mb"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
