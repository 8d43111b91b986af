"""What one exported day costs MongoDB: commands, reply bytes and stand-in CPU per day, and peak RSS.

Generates `--messages` messages over `--history-days` days (profile v0.8.7, with their conversations,
transactions, users, ...), serves them with mongoeco (a separate process) and measures three things,
each export run as its own child process into a fresh MariaDB database (root@127.0.0.1:3306, dropped
afterwards):

1. export_metrics.py over every complete day of the data (all 20 tables);
2. the same days exported the original's way (bench/original_export.py: one find of the range, folded
   in memory, the original's 8 tables), the reference;
3. one day (yesterday) exported alone, from data of the same daily traffic with 20 and with 80 days of
   history behind it: the cost of a day should not depend on the history. Twice: into an empty
   database (its windows read up to 56 days of activity from MongoDB), and after the days before it
   were exported (the cron case: they are read from the store; that earlier export is not counted).

Commands and reply bytes are counted in the child by pymongo command monitoring (every command and
getMore, and the BSON size of every reply), also per read shape (`by_shape`: command, collection and
the filter's or pipeline's keys, values left out), which shows what a byte count is made of; peak RSS
is the child's own (VmHWM); "stand-in CPU" is the CPU time the mongoeco process spent during the
run. mongoeco scans where MongoDB would use an index (bench/mongoeco_index_cost.py), so its CPU grows
with the collection even for a bounded read: compare commands and reply bytes across history sizes,
CPU only between runs on the same data.

    .venv/bin/python bench/export_throughput.py                    # 10,000 messages over 60 days
    .venv/bin/python bench/export_throughput.py --messages 50000   # the large case (slow)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import bson
import psutil
import pymysql
from pymongo import monitoring

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.synthetic import generate  # noqa: E402
from tests.support.mongo import MongoServer, start_mongoeco  # noqa: E402

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)
SQL = {"host": "127.0.0.1", "port": 3306, "user": "root"}


def skeleton(value: object, depth: int = 3) -> object:
    """A query's structure without its values: the keys of its documents, `depth` levels deep."""
    if isinstance(value, dict):
        return {k: skeleton(v, depth - 1) for k, v in value.items()} if depth > 0 else "{}"
    if isinstance(value, list):
        return [skeleton(v, depth) for v in value[:4]] if depth > 0 else "[]"
    return "."


def shape(command: dict) -> str:
    """A read's shape: command, collection and filter or pipeline skeleton (values left out)."""
    name = next(iter(command))
    what = command.get("filter", command.get("pipeline", command.get("query", "")))
    return f"{name} {command.get(name)} {json.dumps(skeleton(what), separators=(',', ':'))}"


class Counting(monitoring.CommandListener):
    """Counts the commands sent and the BSON bytes of their replies, per command name and per read shape
    (a getMore counts for the find or aggregate whose cursor it continues)."""

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.reply_bytes = 0
        self.shapes: dict[str, list[int]] = {}  # shape -> [commands, reply bytes]
        self.pending: dict[int, str] = {}  # request id -> shape
        self.cursors: dict[int, str] = {}  # cursor id -> shape

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands[event.command_name] += 1
        if event.command_name == "getMore":
            key = self.cursors.get(event.command["getMore"], "getMore ?")
        else:
            key = shape(event.command)
        self.pending[event.request_id] = key
        self.shapes.setdefault(key, [0, 0])[0] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        size = len(bson.encode(event.reply))
        self.reply_bytes += size
        key = self.pending.pop(event.request_id, "?")
        self.shapes.setdefault(key, [0, 0])[1] += size
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if isinstance(cursor, dict) and cursor.get("id"):
            self.cursors[cursor["id"]] = key

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def child(way: str, uri: str, database: str, start: date, end: date, zone: str, out: str) -> None:
    """Run one export in this process, counting its MongoDB commands; write the counts to `out`."""
    listener = Counting()
    monitoring.register(listener)
    if way == "ours":
        os.environ.update(
            MONGODB_URI=uri,
            HISTORY_DATABASE_URL=f"mysql://root@127.0.0.1:3306/{database}",
            TIMEZONE=zone,
            LOGGING_LEVEL="warning",
        )
        from librechat_metrics.history.cli import main as export_main

        code = export_main([str(start), str(end)])
        if code != 0:
            raise SystemExit(f"export failed with exit status {code}")
    else:
        from pymongo import MongoClient

        sys.path.insert(0, str(ROOT / "bench"))
        from original_export import export as original

        with MongoClient(uri, tz_aware=True) as client:
            client.admin.command("ping")
            original(client["LibreChat"], {**SQL, "database": database}, start, end)
    counts = {"commands": sum(listener.commands.values()), "reply_bytes": listener.reply_bytes}
    shapes = sorted(listener.shapes.items(), key=lambda item: -item[1][1])
    by_shape = [{"shape": k, "commands": n, "reply_kb": round(b / 1024, 1)} for k, (n, b) in shapes]
    out_counts = {**counts, "by_command": dict(listener.commands), "by_shape": by_shape}
    Path(out).write_text(json.dumps({**out_counts, "peak_rss_kb": peak_rss_kb()}))


def peak_rss_kb() -> int:
    """This process's peak RSS since its exec (VmHWM): unlike ru_maxrss, no page of the bench that forked
    it counts (exec gives the child a new address space, whose high-water mark this is)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(way: str, server: MongoServer, start: date, end: date, zone: str, stored: date | None = None) -> dict:
    """One export (`way`: ours or original) as a child process into a fresh database; its figures.
    With `stored`, the days stored..start-1 are exported into that database first (not counted)."""
    database = f"bench_{uuid.uuid4().hex[:10]}"
    admin = pymysql.connect(**SQL, autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    stand_in = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        python = ROOT / ".venv" / "bin" / "python"
        # mongoeco answers one command at a time: a long read must not fail the monitor's heartbeat
        uri = f"{server.uri}&connectTimeoutMS=300000&socketTimeoutMS=600000"
        cmd = [str(python if python.exists() else sys.executable), __file__, "--child", way, uri, database]
        try:
            if stored is not None:
                before = [str(stored), str(start - timedelta(days=1)), zone, out.name]
                subprocess.run([*cmd, *before], cwd=ROOT / "bench", check=True)
            cmd += [str(start), str(end), zone, out.name]
            cpu0 = sum(stand_in.cpu_times()[:2])
            began = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT / "bench")
            watched, polled = psutil.Process(proc.pid), 0
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                with contextlib.suppress(psutil.NoSuchProcess):
                    polled = max(polled, watched.memory_info().rss)
                time.sleep(0.05)
            seconds = time.monotonic() - began
            cpu = sum(stand_in.cpu_times()[:2]) - cpu0
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{way} export failed")
            counts = json.loads(Path(out.name).read_text())
        finally:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
            admin.close()
    days = (end - start).days + 1
    return {
        "days": days,
        "wall_s": round(seconds, 1),
        "stand_in_cpu_s": round(cpu, 1),
        "export_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        # the child's own VmHWM at its end; its ru_maxrss would count the bench's pages (Linux keeps the
        # high-water mark of a forked child across exec); the 50 ms samples of its RSS beside it
        "peak_rss_mb": round(counts["peak_rss_kb"] / 1024, 1),
        "sampled_rss_mb": round(polled / 2**20, 1),
        "commands": counts["commands"],
        "reply_kb": round(counts["reply_bytes"] / 1024),
        "per_day": {
            "commands": round(counts["commands"] / days, 2),
            "reply_kb": round(counts["reply_bytes"] / 1024 / days, 1),
            "stand_in_cpu_s": round(cpu / days, 2),
        },
        "by_command": counts["by_command"],
        "by_shape": counts["by_shape"],
    }


def served(messages: int, history_days: int, profile: str, zone: str) -> tuple[MongoServer, int, date, date]:
    """A mongoeco server with the generated data; (server, messages, first and last complete day)."""
    data = generate(profile, 1, messages, NOW, ("UTC", zone), history_days).collections
    first = min(m["createdAt"] for m in data["messages"] if isinstance(m.get("createdAt"), datetime))
    return start_mongoeco(data), len(data["messages"]), first.date(), NOW.date() - timedelta(days=1)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        way, uri, database, start, end, zone, out = sys.argv[2:9]
        child(way, uri, database, date.fromisoformat(start), date.fromisoformat(end), zone, out)
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--history-days", type=int, default=60, help="days the generated data spans")
    ap.add_argument("--profile", default="v0.8.7")
    ap.add_argument("--zone", default="UTC")
    ap.add_argument("--skip", choices=("range", "one-day"), action="append", default=[])
    args = ap.parse_args()
    report: dict = {"profile": args.profile, "zone": args.zone, "messages_asked": args.messages}
    if "range" not in args.skip:
        server, n, start, end = served(args.messages, args.history_days, args.profile, args.zone)
        try:
            report["range"] = {"messages": n, "first": str(start), "last": str(end)}
            report["ours"] = run("ours", server, start, end, args.zone)
            report["original_way"] = run("original", server, start, end, "UTC")
        finally:
            server.stop()
    if "one-day" not in args.skip:
        per_day = args.messages / args.history_days
        for history in (20, 80):
            server, n, first, end = served(round(per_day * history), history, args.profile, args.zone)
            try:
                report[f"one_day_{history}d_history"] = {
                    "messages": n,
                    **run("ours", server, end, end, args.zone),
                }
                report[f"one_day_{history}d_history_stored"] = {
                    "messages": n,
                    **run("ours", server, end, end, args.zone, stored=first),
                }
            finally:
                server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
