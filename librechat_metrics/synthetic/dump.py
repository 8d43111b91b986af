"""A BSON dump of collections: a header document, then one {"c": collection, "d": document} per document.

BSON keeps datetimes (milliseconds), ObjectIds, NaN and +-inf exactly.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Any, NamedTuple

import bson
from bson.codec_options import CodecOptions

FORMAT = "librechat-metrics-dump/1"
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=timezone.utc)


class Dump(NamedTuple):
    db: str
    collections: dict[str, list[dict]]


def write_dump(path: str | Path, collections: dict[str, list[dict]], db: str = "LibreChat") -> None:
    """Write `collections` (name -> documents) of database `db` to `path`."""
    with open(path, "wb") as fh:
        fh.write(bson.encode({"format": FORMAT, "db": db, "collections": list(collections)}))
        for name, docs in collections.items():
            for doc in docs:
                fh.write(bson.encode({"c": name, "d": doc}, codec_options=CODEC))


def read_dump(path: str | Path, tz_aware: bool = True) -> Dump:
    """Read a file written by write_dump(): (db, collections), collections in their written order.

    Datetimes come back as aware UTC datetimes, or naive UTC ones with tz_aware=False.
    """
    docs = bson.decode_all(Path(path).read_bytes(), CODEC if tz_aware else CodecOptions())
    if not docs or docs[0].get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    collections: dict[str, list[dict]] = {name: [] for name in docs[0]["collections"]}
    for item in docs[1:]:
        collections[item["c"]].append(item["d"])
    return Dump(docs[0]["db"], collections)
