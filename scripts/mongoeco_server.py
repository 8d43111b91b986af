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
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bson import ObjectId
from mongoeco import AsyncMongoClient
from mongoeco.core.codec import DocumentCodec
from mongoeco.engines.memory import MemoryEngine
from mongoeco.wire import AsyncMongoEcoProxyServer

from librechat_metrics.synthetic.dump import read_dump

# LibreChat's stock single-field indexes (messages.createdAt, messageId, conversationId, user; conversations)
INDEXES = {"messages": ("createdAt", "messageId", "conversationId", "user"), "conversations": ("createdAt",)}


def log(msg: str) -> None:
    print(f"mongoeco_server: {msg}", file=sys.stderr, flush=True)


PLAIN = frozenset((str, int, float, bool, type(None), datetime, ObjectId))


def plain(value: object) -> bool:
    """True when `value` holds only types whose stored form needs no BSON normalisation (no Int64 etc.)."""
    kind = type(value)
    if kind is dict:
        keys_ok = all(type(k) is str and k[:1] != "$" and "." not in k and "\0" not in k for k in value)
        return keys_ok and all(plain(v) for v in value.values())
    if kind is list:
        return all(plain(v) for v in value)
    return kind in PLAIN


async def insert(engine: MemoryEngine, db: str, name: str, docs: list[dict]) -> None:
    """Insert into the engine without the public API's per-document deep copies and change records.

    insert_many() deep-copies each document three times and normalises it (DocumentCodec.to_internal)
    before storing it. Documents decoded with naive UTC datetimes and only plain types are stored
    byte-for-byte the same without that normalisation (checked against insert_many), so only the others
    go through it. Falls back to the public batch-insert SPI when the private method is missing.
    """
    fast = getattr(engine, "_insert_documents_impl", None)
    if fast is None:
        outcomes = await engine.insert_documents(db, name, [DocumentCodec.to_internal(d) for d in docs])
    else:
        outcomes = await fast(db, name, [d if plain(d) else DocumentCodec.to_internal(d) for d in docs])
    if len(outcomes) != len(docs) or not all(outcomes):
        rejected = len(docs) - sum(map(bool, outcomes))
        raise RuntimeError(f"{name}: {rejected} documents rejected (duplicate _id?)")


async def load(client: AsyncMongoClient, engine: MemoryEngine, path: str, indexes: bool) -> None:
    """Seed a dump; indexes are created first (maintaining them while inserting is ~4x cheaper)."""
    started = time.monotonic()
    dump = read_dump(path, tz_aware=False)
    db = client[dump.db]
    for name, docs in dump.collections.items():
        if name not in INDEXES or not indexes:
            await db.create_collection(name)
        for field in INDEXES.get(name, ()) if indexes else ():
            await db[name].create_index(field)
        if docs:
            await insert(engine, dump.db, name, docs)
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
