"""`python -m librechat_metrics.demo --into URI [--weeks N] [--live]`: seed a MongoDB with demo data.

The database is the exporter's: MONGODB_DATABASE (default LibreChat, also read from .env), never the
URI's path, which the exporter does not read either (a path naming another database is refused).

exit status: 0 done (or stopped), 1 MongoDB failed, 2 bad arguments, a database name that is invalid
  or MongoDB's own (admin, local, config), or a database that is not the demo's
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Mapping

from dotenv import find_dotenv, load_dotenv
from pymongo import MongoClient
from pymongo.errors import ConfigurationError, PyMongoError

from ..mongo import describe
from ..settings import parse_database
from ..uri import parse as parse_uri
from ..uri import redact
from .live import start_writer
from .options import DEFAULT_DB, MAX_PACE_REAL, pace_setting
from .seed import Refused, seed

PROG = "python -m librechat_metrics.demo"
RESERVED = ("admin", "local", "config")  # MongoDB's own databases


def database_name(uri: str, environ: Mapping[str, str]) -> str:
    """The database the exporter would read: MONGODB_DATABASE, default LibreChat. ValueError (one line)
    for an invalid name, one of MongoDB's own, or a URI path naming another database."""
    raw = environ.get("MONGODB_DATABASE", DEFAULT_DB)
    try:
        name = parse_database(raw)
    except ValueError as err:
        raise ValueError(f"MONGODB_DATABASE={raw!r}: {err}") from None
    if name.lower() in RESERVED:
        raise ValueError(f"MONGODB_DATABASE={raw!r} is MongoDB's own database; give the demo its own")
    parsed = parse_uri(uri)
    path = ".".join(part for part in (parsed["database"], parsed["collection"]) if part)
    if path and path != name:
        raise ValueError(
            f"the URI names database {path!r}, but the exporter reads MONGODB_DATABASE ({name!r}), not the "
            f"URI's path; set MONGODB_DATABASE to the demo's database for both and leave the path out "
            "(for an authentication database use ?authSource=...)"
        )
    return name


def exporter_environment(uri: str, name: str) -> str:
    """The lines of environment the exporter needs to read this database, secrets masked."""
    return f"  MONGODB_URI={shlex.quote(redact(uri))}\n  MONGODB_DATABASE={shlex.quote(name)}"


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
        "--into",
        required=True,
        metavar="URI",
        help=f"mongodb://host:27017/ (the database: MONGODB_DATABASE, default {DEFAULT_DB}, as the exporter)",
    )
    parser.add_argument("--weeks", type=weeks, default=4, metavar="N", help="weeks of history (default 4)")
    parser.add_argument("--live", action="store_true", help="then keep writing live activity until stopped")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")
    load_dotenv(find_dotenv(usecwd=True), override=False)  # as the exporter does
    try:
        pace = pace_setting(limit=MAX_PACE_REAL)
        name = database_name(args.into, os.environ)
        client: MongoClient = MongoClient(
            args.into, serverSelectionTimeoutMS=10_000, connectTimeoutMS=60_000, tz_aware=True
        )
        db = client[name]
    except (ValueError, ConfigurationError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    try:
        activity, done = seed(db, args.weeks)
        print(f"{PROG}: database {db.name!r}: {done}", flush=True)
        print(f"{PROG}: the exporter reads it with:\n{exporter_environment(args.into, name)}", flush=True)
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
