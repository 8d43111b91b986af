"""An embedded MongoDB for the demo: mongoeco's memory engine served over the wire on 127.0.0.1.

The engine and its wire server run on an asyncio loop in a daemon thread of this process; documents
are seeded straight into the engine (wire inserts are slow), then anything that speaks MongoDB
(pymongo, mongosh, the exporter) reads and writes it at the printed URI. Needs mongoeco (Python 3.13).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any

import bson
from bson import ObjectId
from mongoeco import AsyncMongoClient
from mongoeco.core.codec import DocumentCodec
from mongoeco.engines.memory import MemoryEngine
from mongoeco.wire import AsyncMongoEcoProxyServer

from .options import DEMO_INDEXES

PLAIN = frozenset((str, int, float, bool, type(None), datetime, ObjectId))
START_TIMEOUT = 60.0  # seconds to seed and start serving


def plain(value: object) -> bool:
    """True when `value` holds only types whose stored form needs no BSON normalisation (no Int64 etc.)."""
    kind = type(value)
    if isinstance(value, dict) and kind is dict:
        keys_ok = all(type(k) is str and k[:1] != "$" and "." not in k and "\0" not in k for k in value)
        return keys_ok and all(plain(v) for v in value.values())
    if isinstance(value, list) and kind is list:
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


async def seed_engine(
    client: AsyncMongoClient,
    engine: MemoryEngine,
    db: str,
    collections: dict[str, list[dict]],
    indexes: Mapping[str, tuple[str, ...]],
) -> None:
    """Create every collection (its `indexes` first: maintaining them while inserting is ~4x cheaper),
    insert."""
    for name, docs in collections.items():
        if name not in indexes:
            await client[db].create_collection(name)
        for field in indexes.get(name, ()):
            await client[db][name].create_index(field)
        if docs:
            await insert(engine, db, name, docs)


def naive(docs: list[dict]) -> list[dict]:
    """The documents as MongoDB stores them: naive UTC datetimes cut to milliseconds (a BSON round trip)."""
    return bson.decode_all(b"".join(bson.encode(doc) for doc in docs))


class EmbeddedMongo:
    """A mongoeco server on a loopback port, seeded before it serves; stop() closes it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="embedded-mongo", daemon=True)
        self.engine: MemoryEngine | None = None
        self.server: AsyncMongoEcoProxyServer | None = None
        self.port = 0

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def start(self, db: str, collections: dict[str, list[dict]]) -> str:
        """Seed `collections` into database `db`, serve them, and return the URI (with the database)."""
        self.thread.start()
        self.port = self._run(self._start(db, collections))
        return f"mongodb://127.0.0.1:{self.port}/{db}?directConnection=true"

    async def _start(self, db: str, collections: dict[str, list[dict]]) -> int:
        # MongoDB with allowDiskUse has no cap on documents a $group or $sort holds; the memory engine
        # refuses pipelines over 50,000 documents unless the limit is lifted.
        self.engine = MemoryEngine(aggregation_materialization_limit=None)
        await self.engine.connect()
        client = AsyncMongoClient(self.engine)
        await seed_engine(
            client, self.engine, db, {k: naive(v) for k, v in collections.items()}, DEMO_INDEXES
        )
        self.server = AsyncMongoEcoProxyServer(client=client, host="127.0.0.1", port=0)
        address = await self.server.start()
        return address.port

    def stop(self) -> None:
        """Close the server and the engine, then the loop; safe to call twice."""
        if not self.thread.is_alive():
            return
        try:
            self._run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _stop(self) -> None:
        if self.server is not None:
            await self.server.close()
        if self.engine is not None:
            await self.engine.disconnect()
