"""The --demo switches of metrics.py and export_metrics.py: an embedded, seeded database to read."""

from __future__ import annotations

import atexit
import socket
import sys
from datetime import date, datetime, timezone

from pymongo import MongoClient

from ..settings import Settings
from .activity import Activity, Plan
from .options import DEFAULT_DB, pace_setting, unavailable

WEEKS = 4
MAX_DAYS = 400


def check(prog: str, live: bool) -> float:
    """The live pace (0 without `live`); exit 2 with one line when mongoeco is missing or DEMO_PACE is bad."""
    why = unavailable()
    try:
        pace = pace_setting() if live else 0.0
    except ValueError as err:
        why = why or str(err)
    if why:
        print(f"{prog}: error: {why}", file=sys.stderr)
        raise SystemExit(2)
    return pace


def start(settings: Settings, prog: str, days: int, pace: float) -> Settings:
    """Seed and serve an embedded database (live writes when `pace` > 0); the settings that read it.

    Everything stops at process exit. A failure to start is one line and exit 1 (Ctrl-C: 130).
    """
    from .embedded import EmbeddedMongo  # needs mongoeco
    from .live import start_writer

    server = EmbeddedMongo()
    try:
        activity = Activity(Plan.ending_now(days, zone=settings.timezone))
        uri = server.start(DEFAULT_DB, activity.history())
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as err:  # mongoeco's own failure: one line, not a traceback
        print(f"{prog}: error: the demo database did not start: {type(err).__name__}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    atexit.register(server.stop)
    if pace > 0:
        client: MongoClient = MongoClient(uri, tz_aware=True)
        atexit.register(start_writer(client[DEFAULT_DB], activity, pace).set)
    print(
        f"{prog}: demo database ready: {uri} ({days} days of history, {pace:g} live messages a minute)",
        file=sys.stderr,
        flush=True,
    )
    return settings.replace(mongodb_uri=uri, mongodb_database=DEFAULT_DB)


def port_in_use(address: str, port: int) -> str | None:
    """Why the exporter could not listen on address:port (the bind's own reason), or None when it can;
    the test binds and lets go at once, as the HTTP server binds (address reuse on)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as err:
            return err.strerror or str(err)
    return None


def exporter(settings: Settings) -> Settings:
    """metrics.py --demo: say what this is, then serve the exporter on a live embedded database.
    A port that cannot be bound is one line and exit 1 before anything is seeded."""
    pace = check("metrics.py", live=True)
    address, port = settings.metrics_listen_address, settings.metrics_port
    busy = port_in_use(address, port)
    if busy:
        print(f"metrics.py: error: cannot listen on {address}:{port}: {busy}", file=sys.stderr)
        raise SystemExit(1)
    host = settings.metrics_listen_address
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    print(
        "DEMO MODE: synthetic LibreChat data in an embedded MongoDB (mongoeco), not a real LibreChat.\n"
        f"Scrape it: http://{host}:{settings.metrics_port}/metrics\n"
        "For a real LibreChat run without --demo: MONGODB_URI=mongodb://HOST:27017/ python metrics.py\n"
        f"Live activity: about {pace:g} messages a minute (DEMO_PACE). Ctrl-C stops.",
        flush=True,
    )
    return start(settings, "metrics.py", 7 * WEEKS, pace)


def history_days(first: date, today: date) -> int:
    """Days of history that reach back to `first`: 4 weeks at least, MAX_DAYS at most."""
    return min(MAX_DAYS, max(7 * WEEKS, (today - first).days + 1))


def export(settings: Settings, first: date) -> Settings:
    """export_metrics.py --demo: an embedded database with history back to `first` (4 weeks at least)."""
    check("export_metrics.py", live=False)
    days = history_days(first, datetime.now(timezone.utc).date())
    print(
        f"export_metrics.py: DEMO MODE: exporting synthetic LibreChat data ({days} days up to now) from an "
        "embedded MongoDB; without --demo it reads MONGODB_URI",
        file=sys.stderr,
        flush=True,
    )
    return start(settings, "export_metrics.py", days, 0.0)
