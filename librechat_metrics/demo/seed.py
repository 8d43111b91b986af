"""Seed a real MongoDB database with the demo's history, never one that holds someone else's data.

The seeder leaves a marker document (collection `librechat_metrics_demo`) holding its plan before it
writes anything. A database with LibreChat documents but no marker is refused; a database with the
marker gets the same plan's documents again (same ids), so an interrupted seed is completed and a
finished one is left as it is: history is never duplicated.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.database import Database

from ..synthetic.generator import COLLECTIONS
from .activity import Activity, Plan
from .live import insert
from .options import DEMO_INDEXES

MARKER = "librechat_metrics_demo"
GUARDED = ("messages", "conversations", "users", "transactions")
BATCH = 200  # mongoeco serves one command at a time: a small batch never stalls its heartbeats


class Refused(Exception):
    """The database holds data the demo did not write; the message says so in one line."""


def seed(db: Database, weeks: int, now: datetime | None = None) -> tuple[Activity, str]:
    """Seed `db` unless its history is there already; returns the activity to go on with, and what it did."""
    marker = db[MARKER].find_one({"_id": "seed"})
    if marker is None:
        for name in GUARDED:
            if db[name].find_one({}, {"_id": 1}) is not None:
                raise Refused(
                    f"database {db.name!r} already holds {name} that the demo did not write; refusing to "
                    "write into it (give the URI of a new, empty database)"
                )
        plan = Plan.ending_now(7 * weeks, now=now)
        db[MARKER].insert_one({"_id": "seed", **plan.as_doc(), "complete": False})
    else:
        plan = Plan.from_doc(marker)
    activity = Activity(plan)
    history = activity.history()
    if marker is not None and marker.get("complete"):
        return (
            activity,
            f"already seeded on {plan.anchor:%Y-%m-%d %H:%M} UTC ({plan.days} days); left as it is",
        )
    existing = set(db.list_collection_names())
    for name in COLLECTIONS:
        if name not in existing:
            db.create_collection(name)
        for field in DEMO_INDEXES.get(name, ()):
            db[name].create_index(field)
    for name, docs in history.items():
        for i in range(0, len(docs), BATCH):
            insert(db, name, docs[i : i + BATCH])
    db[MARKER].update_one({"_id": "seed"}, {"$set": {"complete": True}})
    total = sum(map(len, history.values()))
    return (
        activity,
        f"seeded {total} documents ({plan.days} days of history, {len(history['messages'])} messages)",
    )
