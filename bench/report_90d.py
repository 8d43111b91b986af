"""Wall time and peak memory of `export_metrics.py --report` over 90 days of a synthetic LibreChat.

Generates `--messages` messages spread over `--days` days (with their conversations, transactions and
agents; v0.8.7 profile), serves them with mongoeco, runs the report as a child process in json and
reports its wall time, CPU time and peak RSS (the kernel's maximum for that child). mongoeco is a
pure-Python server whose queries scan whole collections, so most of the wall time is mongoeco's:
compare runs with each other, not with production MongoDB.

    .venv/bin/python bench/report_90d.py                      # 100,000 messages, 90 days
    .venv/bin/python bench/report_90d.py --messages 10000 --format text
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.synthetic import generate  # noqa: E402
from tests.support.mongo import start_mongoeco  # noqa: E402

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)


def run_report(uri: str, start: date, end: date, fmt: str, zone: str) -> dict:
    """The report as a child process: wall time, CPU seconds, peak RSS, output size."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "HISTORY_", "MONGODB_"))}
    # a loaded mongoeco answers heartbeats late: an hour of patience (URI options win over the settings)
    joiner = "&" if "?" in uri else "?"
    patient = f"{uri}{joiner}connectTimeoutMS=3600000&serverSelectionTimeoutMS=3600000"
    env.update(MONGODB_URI=patient, TIMEZONE=zone, LOGGING_LEVEL="warning")
    env.update(MONGODB_TIMEOUT="600", MONGODB_QUERY_TIMEOUT="3600")
    python = ROOT / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), str(ROOT / "export_metrics.py")]
    cmd += ["--report", str(start), str(end), "--format", fmt]
    began = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT / "bench", stdout=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - began
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"report exited {code}")
    return {
        "wall_seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output_bytes": len(out),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--format", default="json")
    ap.add_argument("--zone", default="Europe/Berlin")
    ap.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = ap.parse_args()
    began = time.monotonic()
    zones = (args.zone,)
    data = generate("v0.8.7", 3, args.messages, NOW, zones, history_days=args.days).collections
    generated = time.monotonic() - began
    server = start_mongoeco(data)
    seeded = time.monotonic() - began - generated
    try:
        end = NOW.date() - timedelta(days=1)
        start = end - timedelta(days=args.days - 1)
        result = {
            "messages": len(data["messages"]),
            "transactions": len(data.get("transactions", [])),
            "range": f"{start} to {end} ({args.days} days, {args.zone})",
            "format": args.format,
            "generate_seconds": round(generated, 1),
            "seed_seconds": round(seeded, 1),
            **run_report(server.uri, start, end, args.format, args.zone),
        }
    finally:
        server.stop()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
