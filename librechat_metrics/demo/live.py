"""Live activity: new conversations, replies, tool calls, errors, transactions, ratings and sign-ups.

Conversations start at random (a Poisson process) at about `pace` messages a minute; the generator
dates every document of a conversation (replies seconds later, follow-ups minutes or days later) and
each is written when the wall clock reaches its createdAt, as LibreChat writes it. Some replies get
a thumbs up or down a little later (an update of the message, as LibreChat's feedback button does).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

from ..mongo import describe
from ..synthetic.profiles import THUMBS_DOWN_TAGS, THUMBS_UP_TAGS
from .activity import Activity

log = logging.getLogger("librechat_metrics.demo")

RATED_SHARE = 0.25  # of successful replies get a thumbs up or down (more than most teams: the demo shows it)
THUMBS_UP_SHARE = 0.7
SIGNUP_SHARE = 0.03  # of new conversations come with a new user signing up
DUPLICATE_KEY = 11000


class LiveWriter:
    """Writes the activity of about `pace` messages a minute into `db`, from `start` on."""

    def __init__(self, db: Database, activity: Activity, pace: float, start: datetime) -> None:
        self.db, self.activity, self.pace = db, activity, pace
        self.events: list[tuple[datetime, int, str, Any]] = []  # (due, tie-breaker, kind, payload)
        self.seq = itertools.count()
        self.next_start = start
        self.written: Counter[str] = Counter()
        self.failing = False

    def push(self, due: datetime, kind: str, payload: Any) -> None:
        heapq.heappush(self.events, (due, next(self.seq), kind, payload))

    def plan(self, now: datetime) -> None:
        """Schedule every conversation (with its ratings and sign-ups) that starts by `now`."""
        rng = self.activity.rng
        per_second = self.pace / 60 / self.activity.messages_per_conversation
        while self.next_start <= now:
            if rng.random() < SIGNUP_SHARE:
                self.push(self.next_start - timedelta(minutes=1), "signup", None)
            for name, docs in self.activity.conversation(self.next_start).items():
                for doc in docs:
                    self.push(doc["createdAt"], name, doc)
                    reply = name == "messages" and not doc["isCreatedByUser"] and not doc["error"]
                    if reply and rng.random() < RATED_SHARE:
                        self.push(doc["createdAt"] + timedelta(seconds=rng.uniform(5, 30)), "rating", doc)
            self.next_start += timedelta(seconds=rng.expovariate(per_second))

    def step(self, now: datetime) -> int:
        """Write everything due by `now`; returns how many documents were inserted or updated."""
        self.plan(now)
        due: list[tuple[datetime, int, str, Any]] = []
        while self.events and self.events[0][0] <= now:
            due.append(heapq.heappop(self.events))
        inserts: dict[str, list[dict]] = {}
        ratings = []
        for when, _, kind, payload in due:
            if kind == "rating":
                ratings.append((when, payload))
            elif kind == "signup":
                for name, docs in self.activity.register(when).items():
                    inserts.setdefault(name, []).extend(docs)
            else:
                if kind == "conversations":  # LibreChat bumps updatedAt per turn; it starts at createdAt
                    payload = {**payload, "updatedAt": payload["createdAt"]}
                inserts.setdefault(kind, []).append(payload)
        try:
            for name, docs in inserts.items():
                insert(self.db, name, docs)
                self.written[name] += len(docs)
            for when, message in ratings:
                self.db.messages.update_one(
                    {"_id": message["_id"]}, {"$set": {"feedback": self.feedback(), "updatedAt": when}}
                )
                self.written["ratings"] += 1
        except PyMongoError:
            for event in due:  # written again next time; inserts already done are skipped as duplicates
                heapq.heappush(self.events, event)
            raise
        return sum(map(len, inserts.values())) + len(ratings)

    def feedback(self) -> dict:
        """A rating as LibreChat stores it: thumbs up/down, a tag of that direction, sometimes a text."""
        rng = self.activity.rng
        up = rng.random() < THUMBS_UP_SHARE
        tag = rng.choice(THUMBS_UP_TAGS if up else THUMBS_DOWN_TAGS)
        fb = {"rating": "thumbsUp" if up else "thumbsDown", "tag": tag}
        if tag == "other" or rng.random() < 0.15:
            fb["text"] = "demo feedback"
        return fb

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Write until `stop` is set; a failing database is logged once per outage, then retried."""
        while not stop.wait(interval):
            try:
                self.step(datetime.now(timezone.utc))
            except PyMongoError as err:
                if not self.failing:
                    log.warning("demo writer: cannot write (%s); retrying", describe(err))
                self.failing = True
            else:
                if self.failing:
                    log.info("demo writer: writing again")
                self.failing = False


def insert(db: Database, name: str, docs: list[dict]) -> None:
    """insert_many that skips documents already there (a retry, or a re-run over the same history)."""
    try:
        db[name].insert_many(docs, ordered=False)
    except BulkWriteError as err:
        if any(e.get("code") != DUPLICATE_KEY for e in err.details.get("writeErrors", ())):
            raise


def start_writer(db: Database, activity: Activity, pace: float) -> threading.Event:
    """Run a LiveWriter in a daemon thread from now on; set the returned event to stop it."""
    stop = threading.Event()
    writer = LiveWriter(db, activity, pace, datetime.now(timezone.utc))
    threading.Thread(target=writer.run, args=(stop,), name="demo-writer", daemon=True).start()
    return stop
