"""`python -m librechat_metrics.demo --into URI [--weeks N] [--live]`: seed a MongoDB with demo data.

exit status: 0 done (or stopped), 1 MongoDB failed, 2 bad arguments or a database that is not the demo's
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from pymongo import MongoClient
from pymongo.errors import ConfigurationError, PyMongoError

from ..mongo import describe
from .live import start_writer
from .options import DEFAULT_DB, MAX_PACE_REAL, pace_setting
from .seed import Refused, seed

PROG = "python -m librechat_metrics.demo"


def weeks(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 52:
        raise argparse.ArgumentTypeError(f"invalid week count {raw!r}: expected 1 to 52")
    return int(raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fill a MongoDB database with synthetic LibreChat data (a few weeks of history) and,\n"
        "with --live, keep writing live activity until stopped. Refuses a database that holds data it\n"
        "did not write; running it again does not duplicate the history.",
        epilog=__doc__.split("\n\n", 1)[1] + "\nenvironment: DEMO_PACE  messages per minute with --live, "
        f"0 to {MAX_PACE_REAL:g} (default 20)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--into", required=True, metavar="URI", help=f"mongodb://host/DB (default DB {DEFAULT_DB})"
    )
    parser.add_argument("--weeks", type=weeks, default=4, metavar="N", help="weeks of history (default 4)")
    parser.add_argument("--live", action="store_true", help="then keep writing live activity until stopped")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")
    try:
        pace = pace_setting(limit=MAX_PACE_REAL)
        options = {"serverSelectionTimeoutMS": 10_000, "connectTimeoutMS": 60_000, "tz_aware": True}
        client: MongoClient = MongoClient(args.into, **options)
        db = client.get_default_database(DEFAULT_DB)
    except (ValueError, ConfigurationError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    try:
        activity, done = seed(db, args.weeks)
        print(f"{PROG}: database {db.name!r}: {done}", flush=True)
        if not args.live:
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        print(f"{PROG}: writing live activity (about {pace:g} messages a minute) until stopped", flush=True)
        writer = start_writer(db, activity, pace)
        stop.wait()
        writer.set()
        return 0
    except Refused as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except PyMongoError as err:
        print(f"{PROG}: error: {describe(err, 500)}", file=sys.stderr)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())
