"""The demo's data: the synthetic generator's history, then the same generator's live conversations.

One generator instance makes the history (anchored at the demo's start) and keeps going: its users,
agents, id counter and shape memory carry on, so live documents have exactly the history's shapes.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from ..synthetic.generator import COLLECTIONS, _Generator, _User
from ..synthetic.timeplan import DAY, Clock, to_dt, to_ms

PROFILE = (
    "v0.8.8"  # the newest LibreChat shapes: agents, tool calls, feedback, structured transactions, schedules
)
SEED = 11
MESSAGES_PER_DAY = 50  # a small team; mongoeco seeds ~1000 documents a second, the exporter reads them once


@dataclass(frozen=True)
class Plan:
    """What a seeded history is made of; the same plan makes the same documents (same ids)."""

    anchor: datetime  # the history's "now": its newest documents are a few seconds older
    days: int
    profile: str = PROFILE
    seed: int = SEED
    messages_per_day: int = MESSAGES_PER_DAY
    zone: str = "UTC"

    @classmethod
    def ending_now(cls, days: int, zone: str = "UTC", now: datetime | None = None) -> Plan:
        """`days` of history up to `now` (default: the wall clock), day windows in `zone`."""
        anchor = to_dt(to_ms(now or datetime.now(timezone.utc)))
        return cls(anchor, days, zone=zone)

    def as_doc(self) -> dict:
        return {
            "anchor": self.anchor,
            "days": self.days,
            "profile": self.profile,
            "seed": self.seed,
            "messages_per_day": self.messages_per_day,
            "zone": self.zone,
        }

    @classmethod
    def from_doc(cls, doc: dict) -> Plan:
        anchor = doc["anchor"] if doc["anchor"].tzinfo else doc["anchor"].replace(tzinfo=timezone.utc)
        fields = ("days", "profile", "seed", "messages_per_day", "zone")
        return cls(anchor, **{k: doc[k] for k in fields})


class Activity:
    """The generator behind a demo database: history() once, then conversation(start) as often as wanted."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        n = plan.messages_per_day * plan.days
        self.gen = _Generator(plan.profile, plan.seed, n, plan.anchor, (plan.zone,), plan.days)
        self.history_made = False
        self.templates: dict[str, dict] = {}
        self.per_conversation = 6.0

    def history(self) -> dict[str, list[dict]]:
        """The seeded history (deterministic for the plan), collection by collection."""
        assert not self.history_made, "history() runs once"
        self.gen.run()
        self.gen.finish()
        self.history_made = True
        out, self.gen.out = self.gen.out, {name: [] for name in COLLECTIONS}
        # From here on documents are dated by the wall clock: lift the generator's "nothing after now" cap
        # and vary the live part between runs (ids stay unique when a seeded database is written again).
        self.gen.clock = Clock(to_ms(self.plan.anchor) + 3650 * DAY)
        self.gen.rng = random.Random(f"librechat-metrics-demo/live/{time.time_ns()}")
        self.per_conversation = max(1.0, len(out["messages"]) / max(1, len(out["conversations"])))
        self.templates = {name: out[name][-1] for name in ("users", "balances") if out[name]}
        return out

    def conversation(self, start: datetime) -> dict[str, list[dict]]:
        """A new conversation whose first message is at `start`: its documents, some dated later."""
        if not self.history_made:
            self.history()
        self.gen.conversation(to_ms(start), self.gen.turns())
        out, self.gen.out = self.gen.out, {name: [] for name in COLLECTIONS}
        return {name: docs for name, docs in out.items() if docs}

    def register(self, at: datetime) -> dict[str, list[dict]]:
        """A user signing up at `at` and their balance, shaped like the history's last ones."""
        if not self.history_made:
            self.history()
        ms = to_ms(at)
        oid = self.gen.oid(ms)
        name = f"Demo User {str(oid)[-6:]}"
        self.gen.users.append(_User(oid, str(oid), ms, 1 / (len(self.gen.users) + 1) ** 1.1, name))
        user = {**self.templates["users"], "_id": oid, "name": name, "username": f"demo{str(oid)[-6:]}"}
        user.update({"email": f"demo{str(oid)[-6:]}@example.org", "role": "USER", "provider": "local"})
        user.pop("openidId", None)
        user.update({"createdAt": at, "updatedAt": at})
        out = {"users": [user]}
        if "balances" in self.templates:
            balance = {
                **self.templates["balances"],
                "_id": self.gen.oid(ms),
                "user": oid,
                "tokenCredits": 20_000,
            }
            if "lastRefill" in balance:
                balance["lastRefill"] = at
            balance.pop("reservations", None)  # a new user has no request in flight
            balance.pop("reservedCredits", None)
            out["balances"] = [balance]
        return out

    @property
    def messages_per_conversation(self) -> float:
        """The history's average, which sets how often live conversations start for a given pace."""
        return self.per_conversation

    @property
    def rng(self) -> random.Random:
        return self.gen.rng
