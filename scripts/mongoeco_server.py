"""Serve an in-memory mongoeco engine over the MongoDB wire protocol on 127.0.0.1.

  .venv/bin/python scripts/mongoeco_server.py --port 0 --load dump.bson --ready-file port.txt

--load seeds a write_dump() file in-process (fast) before serving; --ready-file receives the port once
the data is loaded and the server accepts connections. SIGTERM/SIGINT close the server and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mongoeco import AsyncMongoClient
from mongoeco.engines.memory import MemoryEngine
from mongoeco.wire import AsyncMongoEcoProxyServer

from librechat_metrics.demo.embedded import seed_engine
from librechat_metrics.demo.options import INDEXES
from librechat_metrics.synthetic.dump import read_dump


def log(msg: str) -> None:
    print(f"mongoeco_server: {msg}", file=sys.stderr, flush=True)


async def load(client: AsyncMongoClient, engine: MemoryEngine, path: str, indexes: bool) -> None:
    """Seed a dump; indexes are created first (maintaining them while inserting is ~4x cheaper)."""
    started = time.monotonic()
    dump = read_dump(path, tz_aware=False)
    await seed_engine(client, engine, dump.db, dump.collections, INDEXES if indexes else {})
    total = sum(map(len, dump.collections.values()))
    log(f"loaded {total} documents into {dump.db} in {time.monotonic() - started:.1f}s")


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # MongoDB with allowDiskUse has no cap on documents a $group or $sort holds; the memory engine
    # refuses pipelines over 50,000 documents unless the limit is lifted.
    engine = MemoryEngine(aggregation_materialization_limit=None)
    await engine.connect()
    client = AsyncMongoClient(engine)
    if args.load:
        await load(client, engine, args.load, args.indexes)
    if stop.is_set():
        return
    server = AsyncMongoEcoProxyServer(client=client, host="127.0.0.1", port=args.port)
    address = await server.start()
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp{os.getpid()}"
        Path(tmp).write_text(f"{address.port}\n")
        os.replace(tmp, args.ready_file)
    log(f"serving {address.uri} (pid {os.getpid()})")
    await stop.wait()
    await server.close()
    await engine.disconnect()
    log("stopped")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--load", help="dump file written by librechat_metrics.synthetic.dump.write_dump()")
    ap.add_argument("--ready-file", help="write the port here once serving")
    ap.add_argument("--no-indexes", dest="indexes", action="store_false", help="skip LibreChat's indexes")
    asyncio.run(serve(ap.parse_args()))


if __name__ == "__main__":
    main()
