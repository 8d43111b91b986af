"""Deterministic synthetic LibreChat collections (users, conversations, messages, transactions, ...)."""

from __future__ import annotations

import json
import math
import random
import string
import struct
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId

from .automation import add_automation
from .profiles import (
    ERROR_GENERIC_TEXT,
    ERROR_JSON_TEXTS,
    ERROR_PART_TEXTS,
    FILE_TYPES,
    NO_PARENT,
    PROFILE_SPECS,
    THUMBS_DOWN_TAGS,
    THUMBS_UP_TAGS,
    TOOLS,
    Chat,
    Profile,
    rates,
)
from .timeplan import DAY, HOUR, MINUTE, SECOND, Clock, Seasonality, boundaries, to_dt, to_ms

COLLECTIONS = ("users", "conversations", "messages", "transactions", "files", "agents", "balances")
SCHEDULE_COLLECTIONS = ("schedules", "scheduleruns")  # v0.8.8 profile only
V088_COLLECTIONS = (*SCHEDULE_COLLECTIONS, "groups")  # every collection only the v0.8.8 profile writes
RETENTION = 30 * DAY  # interface.generalChatRetention of the v0.8.8 profile's retained chats
NANOID = string.ascii_letters + string.digits + "_-"
WORDS = (
    "the", "report", "budget", "summary", "meeting", "python", "error", "deploy", "customer", "quarterly",
    "draft", "translate", "email", "table", "chart", "policy", "contract", "review", "explain", "function",
    "query", "database", "invoice", "schedule", "plan",
)  # fmt: skip
AGENT_NAMES = (
    "Research Assistant", "Code Helper", "HR Policy Bot", "Data Analyst", "Writing Coach",
    "Support Agent", "Legal Reviewer", "Travel Planner", "SQL Expert", "Docs Navigator", "Tutor", "Ops Buddy",
)  # fmt: skip
PROVIDERS = (("local", 6), ("openid", 3), ("google", 1), ("github", 1))
VARIANTS = ("error_true_json", "error_true_generic", "error_content_part", "unfinished", "incomplete")


@dataclass
class Dataset:
    """A generated dataset: the documents per collection and the generator's own shape counts."""

    profile: str
    now: datetime
    seed: int
    zones: tuple[str, ...]
    collections: dict[str, list[dict]]
    shapes: Counter = field(default_factory=Counter)
    boundaries: dict[tuple[str, str], datetime] = field(default_factory=dict)


TENANTS = ("tenant-main", "tenant-other")


@dataclass
class _User:
    oid: ObjectId
    hex: str
    created: int
    weight: float
    name: str = ""


@dataclass
class _Conv:
    """Per-conversation state while its documents are being built."""

    cid: str
    user: _User
    chat: Chat
    agent: dict | None
    temporary: bool
    shapes: Counter = field(default_factory=Counter)
    messages: list[dict] = field(default_factory=list)
    txs: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    turn: int = 0


class _Generator:
    def __init__(
        self,
        profile: str,
        seed: int,
        n_messages: int,
        now: datetime,
        zones: tuple[str, ...],
        history_days: int,
        tenants: int = 1,
    ):
        if profile not in PROFILE_SPECS:
            raise ValueError(f"unknown profile {profile!r}; expected one of {tuple(PROFILE_SPECS)}")
        self.p: Profile = PROFILE_SPECS[profile]
        self.rng = random.Random(f"librechat-synthetic/{profile}/{seed}")
        self.now_ms = to_ms(now)
        self.clock = Clock(self.now_ms)
        self.zones = tuple(zones) or ("UTC",)
        self.history_days = max(1, history_days)
        self.n = max(0, n_messages)
        self.season = Seasonality(self.now_ms, self.zones[0], self.history_days)
        self.proc = bytes([self.rng.randrange(0x80)]) + self.rng.randbytes(4)
        self.counter = self.rng.randrange(1 << 23)
        self.out: dict[str, list[dict]] = {name: [] for name in COLLECTIONS}
        self.tenants = max(1, tenants)
        self.tenant_of: dict[str, str] = {}  # str(user ObjectId) -> tenantId, with several tenants
        self.shapes: Counter = Counter()
        self.recent = 10 if self.n >= 500 else max(2, self.n // 50)
        # Everything that exists before the oldest generated activity (boundary docs reach ~62 days back).
        self.epoch_ms = self.now_ms - (self.history_days + 63) * DAY

    # ---- identifiers -------------------------------------------------------------------------
    def oid(self, ms: int) -> ObjectId:
        """ObjectId whose time is `ms` (floored to the second), unique within the dataset."""
        self.counter = (self.counter + 1) & 0xFFFFFF
        return ObjectId(struct.pack(">I", ms // 1000) + self.proc + self.counter.to_bytes(3, "big"))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def nanoid(self, k: int = 21) -> str:
        return "".join(self.rng.choices(NANOID, k=k))

    def words(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(lo, hi)))

    def lognorm(self, median: float, sigma: float) -> int:
        return max(1, int(median * math.exp(self.rng.gauss(0, sigma))))

    def stamp(self, doc: dict, created: int, updated: int | None = None) -> dict:
        doc["createdAt"] = to_dt(created)
        doc["updatedAt"] = to_dt(created if updated is None else updated)
        return doc

    def tenant(self, doc: dict) -> dict:
        """Stamp tenantId (profiles that have it): the tenant of the document's user (its author, or
        the user itself); "tenant-main" unless the dataset has several tenants."""
        if self.p.tenant:
            owner = doc.get("user", doc.get("author", doc.get("_id")))
            doc["tenantId"] = self.tenant_of.get(str(owner), TENANTS[0])
        return doc

    # ---- users and agents --------------------------------------------------------------------
    def make_users(self) -> None:
        n_users = max(5, self.n // 40)
        self.users: list[_User] = []
        for i in range(n_users):
            if i == 0 or self.rng.random() < 0.7:  # registered before the history window
                created = self.epoch_ms - self.rng.randint(100 * DAY, 400 * DAY)
            else:
                created = self.season.sample(self.rng, self.clock.ceiling - HOUR)
            created = self.clock.before(created)
            oid = self.oid(created)
            self.users.append(_User(oid, str(oid), created, 1 / (i + 1) ** 1.1))
        self.rng.shuffle(self.users)
        self.users.sort(key=lambda u: u.created)  # the first (earliest) user is the admin
        for i, u in enumerate(self.users):  # no random draw: one tenant leaves the dataset unchanged
            self.tenant_of[str(u.oid)] = TENANTS[1] if self.tenants > 1 and i % 3 == 2 else TENANTS[0]
        for i, u in enumerate(self.users):
            provider = self.rng.choices([p for p, _ in PROVIDERS], [w for _, w in PROVIDERS])[0]
            u.name = f"User {i:04d}"
            doc = {
                "_id": u.oid,
                "name": u.name,
                "username": f"user{i:04d}",
                "email": f"user{i:04d}@example.org",
            }
            doc.update({"emailVerified": True, "provider": provider, "role": "ADMIN" if i == 0 else "USER"})
            doc.update({"avatar": None, "plugins": [], "__v": 0})
            if provider == "openid":
                doc["openidId"] = self.nanoid(24)
            if self.p.content:
                doc.update({"termsAccepted": True, "personalization": {"memories": True}})
            updated = self.clock.before(u.created + self.rng.randint(0, 30 * DAY))
            self.out["users"].append(self.tenant(self.stamp(doc, u.created, max(updated, u.created))))
            self.shapes["user"] += 1

    def make_agents(self) -> None:
        self.agents: list[dict] = []
        if not self.p.agents:
            return
        chats = [c for c in self.p.chats if not c.custom]
        tool_names = [t for t, _ in TOOLS if t]
        for i in range(min(12, 3 + len(self.users) // 20)):
            created = self.epoch_ms - self.rng.randint(DAY, 27 * DAY)
            author = self.rng.choice([u for u in self.users if u.created < created])
            chat = chats[i % len(chats)]
            doc = {"_id": self.oid(created), "id": "agent_" + self.nanoid(), "name": AGENT_NAMES[i]}
            doc.update({"description": f"{AGENT_NAMES[i]} for the team", "instructions": self.words(8, 20)})
            doc.update({"provider": chat.endpoint, "model": chat.model, "model_parameters": {}})
            doc.update({"tools": self.rng.sample(tool_names, 3), "author": author.oid})
            doc.update({"authorName": author.name, "versions": [], "__v": 0})
            if self.p.tenant:
                doc["category"] = "general"
            self.stamp(doc, created, created + self.rng.randint(0, DAY))
            doc["versions"] = [{k: v for k, v in doc.items() if k not in ("_id", "versions", "__v")}]
            if i % 3 == 1:  # the agent's model was changed during the history: a second version
                self.change_model(doc, [c for c in chats if c.model != chat.model])
            self.out["agents"].append(self.tenant(doc))
            self.agents.append(doc)
            self.shapes["agent"] += 1

    def change_model(self, doc: dict, others: list[Chat]) -> None:
        """A later version of agent `doc` on another model (LibreChat snapshots each update in versions[])."""
        new = self.rng.choice(others)
        half = self.history_days * DAY // 2  # the change lies 3 days to half the history ago (less if short)
        changed = self.clock.before(
            self.now_ms - self.rng.randint(3 * DAY if half >= 3 * DAY else half // 2, half)
        )
        doc.update({"provider": new.endpoint, "model": new.model, "updatedAt": to_dt(changed)})
        doc["versions"].append({k: v for k, v in doc.items() if k not in ("_id", "versions", "__v")})
        self.shapes["agent_model_changed"] += 1

    @staticmethod
    def agent_model(agent: dict, t: int) -> str:
        """The model agent `agent` had at time `t` (its latest version updated at or before `t`)."""
        model = agent["versions"][0]["model"]
        for version in agent["versions"]:
            if to_ms(version["updatedAt"]) <= t:
                model = version["model"]
        return model

    def pick_user(self, start: int) -> _User:
        eligible = [u for u in self.users if u.created + MINUTE <= start]
        return self.rng.choices(eligible, [u.weight for u in eligible])[0]

    # ---- conversations -----------------------------------------------------------------------
    def conversation(self, start: int, turns: int, *, tools: bool = False, tag: str = "") -> int:
        """Build one conversation starting at `start`; returns the number of messages kept (0 = none)."""
        t = self.clock.legal(start)
        if t is None:
            return 0
        p, rng = self.p, self.rng
        agent = None
        if p.agents and (tools or rng.random() < p.agent_share):
            agent = rng.choice(self.agents)
            chat = Chat("agents", agent["id"], agent["name"], 1)
        else:
            chat = rng.choices(p.chats, [c.weight for c in p.chats])[0]
        temporary = bool(p.temporary) and start > self.now_ms - 29 * DAY and not tag
        temporary = temporary and (rng.random() < 0.07 or self.shapes["temporary_conversation"] == 0)
        c = _Conv(self.uuid(), self.pick_user(start), chat, agent, temporary)
        parent = NO_PARENT
        for turn in range(turns):
            c.turn = turn
            if tools:
                latency = rng.randint(2 * SECOND, 8 * SECOND)
            elif agent:
                latency = rng.randint(8 * SECOND, 45 * SECOND)
            else:
                latency = rng.randint(1500, 20 * SECOND)
            reply_t = self.clock.legal(t + latency)
            if reply_t is None:
                break
            user_msg = self.user_message(c, t, parent)
            reply = self.assistant(c, user_msg, t, reply_t, tools=tools)
            last_t = reply_t
            if not tools and (
                rng.random() < 0.04 or self.shapes["regeneration"] + c.shapes["regeneration"] == 0
            ):
                regen_t = self.clock.legal(reply_t + rng.randint(5 * SECOND, 60 * SECOND))
                if regen_t is not None:
                    reply = self.assistant(c, user_msg, t, regen_t, tools=False)
                    c.shapes["regeneration"] += 1
                    last_t = regen_t
            parent = reply["messageId"]
            r = rng.random()
            gap = (
                self.lognorm(60 * SECOND, 0.8)
                if r < 0.85
                else rng.randint(10 * MINUTE, 3 * HOUR)
                if r < 0.97
                else rng.randint(DAY, 5 * DAY)
            )
            nxt = self.clock.legal(last_t + gap)
            if nxt is None:
                break
            t = nxt
        if not c.messages:
            return 0
        self.commit(c, tag)
        return len(c.messages)

    def commit(self, c: _Conv, tag: str) -> None:
        p, rng = self.p, self.rng
        first, last = c.messages[0], c.messages[-1]
        created, updated = to_ms(first["createdAt"]), to_ms(last["createdAt"])
        first_reply = to_ms(c.messages[1]["createdAt"])
        title_t = self.clock.legal(first_reply + rng.randint(SECOND, 3 * SECOND)) or first_reply
        real_model = c.agent["model"] if c.agent else c.chat.model
        self.transaction_pair(
            c, title_t, p.title_model, rng.randint(100, 400), rng.randint(5, 20), "title", None
        )
        c.shapes["tx_title"] += 2
        doc = {"_id": self.oid(created), "conversationId": c.cid, "user": c.user.hex, "__v": 0}
        doc.update({"endpoint": c.chat.endpoint, "model": real_model, "title": self.words(2, 6).title()})
        if c.chat.custom:
            doc["endpointType"] = "custom"
        if c.agent:
            doc["agent_id"] = c.agent["id"]
            if p.retention:  # v0.8.8: the agent the chat started with; agent_id may change later
                doc["initial_agent_id"] = c.agent["id"]
                c.shapes["initial_agent_conversation"] += 1
                if self.shapes["initial_agent_conversation"] % 4 == 1 and len(self.agents) > 1:
                    doc["agent_id"] = next(a["id"] for a in self.agents if a is not c.agent)
                    c.shapes["agent_switched_conversation"] += 1
        elif p.agent_id_style == "ephemeral":
            doc["agent_id"] = "ephemeral"
        elif p.agent_id_style == "encoded":
            doc["agent_id"] = f"{c.chat.endpoint}__{c.chat.model.replace(':', '__')}___{c.chat.sender}"
        doc["messages"] = [m["_id"] for m in c.messages]
        doc["files"] = [f["file_id"] for f in c.files]
        if p.content:
            doc.update({"isArchived": False, "tags": []})
        self.temporal(doc, c, created)
        self.out["conversations"].append(self.tenant(self.stamp(doc, created, updated)))
        if p.retention and not c.temporary and not tag and self.shapes["conversation"] % 9 == 4:
            self.retained(doc, c)
        self.out["messages"].extend(c.messages)
        self.out["transactions"].extend(c.txs)
        self.out["files"].extend(c.files)
        c.shapes["conversation"] += 1
        if tag:
            c.shapes[f"{tag}_conversation"] += 1
            c.shapes[f"{tag}_message"] += len(c.messages)
        self.shapes.update(c.shapes)

    def temporal(self, doc: dict, c: _Conv, created: int) -> None:
        """expiredAt (v0.7.7+) and isTemporary (v0.8.6+) of a message or conversation."""
        if not self.p.temporary:
            return
        doc["expiredAt"] = to_dt(created + 720 * HOUR) if c.temporary else None
        if c.temporary:
            c.shapes["temporary_message" if "messageId" in doc else "temporary_conversation"] += 1
            if self.p.temporary == "isTemporary":
                doc["isTemporary"] = True

    def retained(self, doc: dict, c: _Conv) -> None:
        """A chat under `retentionMode: all`: the conversation and each message expire RETENTION after
        their createdAt, non-temporary (LibreChat hides them from then on, then its TTL deletes them).
        A chat with a document expiring within an hour of now is left alone: a test that reads at a
        slightly later instant must see the same documents."""
        items = (doc, *c.messages)
        if any(abs(to_ms(item["createdAt"]) + RETENTION - self.now_ms) < HOUR for item in items):
            return
        for item in items:
            expires = to_ms(item["createdAt"]) + RETENTION
            item.update({"expiredAt": to_dt(expires), "isTemporary": False})
            if expires <= self.now_ms:
                c.shapes["expired_message" if "messageId" in item else "expired_conversation"] += 1
        c.shapes["retention_conversation"] += 1

    def base_message(self, c: _Conv, t: int, parent: str) -> dict:
        return {"_id": self.oid(t), "messageId": self.uuid(), "user": c.user.hex, "__v": 0,
                "conversationId": c.cid, "parentMessageId": parent}  # fmt: skip

    def user_message(self, c: _Conv, t: int, parent: str) -> dict:
        m = self.base_message(c, t, parent)
        m.update({"sender": "User", "isCreatedByUser": True, "model": None, "text": self.words(3, 40)})
        if self.p.message_endpoint:
            m["endpoint"] = c.chat.endpoint
        m.update({"error": False, "unfinished": False, "tokenCount": self.lognorm(60, 1.0)})
        if self.rng.random() < 0.08 or self.missing_file_type(c):
            m["files"] = [self.file(c, t, m["messageId"])]
            c.shapes["message_with_file"] += 1
        self.temporal(m, c, t)
        self.tenant(self.stamp(m, t))
        c.messages.append(m)
        c.shapes["user_message"] += 1
        return m

    def missing_file_type(self, c: _Conv) -> str | None:
        for mime in ("image/png", "application/pdf", "text/plain"):
            if self.shapes[f"file_type:{mime}"] + c.shapes[f"file_type:{mime}"] == 0:
                return mime
        return None

    def file(self, c: _Conv, t: int, message_id: str) -> dict:
        """A files document uploaded just before the user message; returns the message's copy."""
        rng = self.rng
        forced = self.missing_file_type(c)
        options = [f for f in FILE_TYPES if f[0] == forced] or FILE_TYPES
        mime, ext, _ = rng.choices(options, [w for *_, w in options])[0]
        created = self.clock.before(t - rng.randint(300, 20 * SECOND))
        file_id = self.uuid()
        name = f"{rng.choice(WORDS)}_{rng.randrange(100)}.{ext}"
        doc = {"_id": self.oid(created), "user": c.user.oid, "conversationId": c.cid, "file_id": file_id}
        if self.p.tx_message_id:
            doc["messageId"] = message_id
        doc.update({"temp_file_id": self.uuid(), "bytes": rng.randint(2_000, 8_000_000), "filename": name})
        doc.update({"filepath": f"/uploads/{c.user.hex}/{file_id}__{name}", "object": "file", "type": mime})
        doc.update({"embedded": mime.startswith(("application/", "text/")), "context": "message_attachment"})
        doc.update({"usage": rng.randint(1, 3), "source": rng.choice(("local", "local", "s3")), "__v": 0})
        if mime.startswith("image/"):
            doc.update({"width": rng.choice((640, 1024, 1920)), "height": rng.choice((480, 768, 1080))})
        c.files.append(self.tenant(self.stamp(doc, created)))
        c.shapes["file"] += 1
        c.shapes[f"file_type:{mime}"] += 1
        keep = ("file_id", "filename", "filepath", "type", "bytes", "width", "height", "source")
        return {k: doc[k] for k in keep if k in doc}

    def pick_variant(self, c: _Conv, tools: bool) -> str:
        if tools:  # one agent run in the 5-minute window ends in an error part (after its tool calls)
            if (
                self.p.content
                and c.agent
                and self.shapes["recent_agent_error"] + c.shapes["recent_agent_error"] == 0
            ):
                c.shapes["recent_agent_error"] += 1
                return "error_content_part"
            return "normal"
        for name in VARIANTS:
            if (name != "error_content_part" or self.p.content) and self.shapes[name] + c.shapes[name] == 0:
                return name
        r = self.rng.random()
        if r < 0.009:
            return "error_true_json"
        if r < 0.015:
            return "error_true_generic"
        if self.p.content and r < 0.035:
            return "error_content_part"
        if r < 0.055:
            return "unfinished"
        if r < 0.065:
            return "incomplete"
        return "normal"

    def assistant(self, c: _Conv, user_msg: dict, user_t: int, t: int, tools: bool) -> dict:
        """An assistant reply to `user_msg` at time `t`, with its transactions."""
        p, rng = self.p, self.rng
        variant = self.pick_variant(c, tools)
        real_model = self.agent_model(c.agent, t) if c.agent else c.chat.model
        m = self.base_message(c, t, user_msg["messageId"])
        m.update({"sender": c.chat.sender, "isCreatedByUser": False, "model": c.chat.model})
        error_true = variant.startswith("error_true")
        if p.message_endpoint and not error_true:
            m["endpoint"] = c.chat.endpoint
        m.update({"error": error_true, "unfinished": variant == "unfinished"})
        if variant == "incomplete":  # abortMiddleware's shape: finish_reason set, unfinished stays false
            m["finish_reason"] = "incomplete"
        c.shapes["assistant_message"] += 1
        if c.agent:
            c.shapes["agent_message"] += 1
            if p.retention and real_model != c.agent["model"]:  # v0.8.8: old replies of a changed agent
                c.shapes["agent_reply_before_change"] += 1
        if variant != "normal":
            c.shapes[variant] += 1
        if error_true:
            m["text"] = rng.choice(ERROR_JSON_TEXTS) if variant == "error_true_json" else ERROR_GENERIC_TEXT
            self.temporal(m, c, t)
            c.messages.append(self.tenant(self.stamp(m, t)))
            return m
        n_tools = 0
        if p.content and c.agent and (tools or rng.random() < 0.5):
            n_tools = rng.choice((1, 1, 1, 2, 2, 3))
        reasoning = c.chat.reasoning or (c.agent is not None and rng.random() < 0.3)
        stopped = variant in ("unfinished", "incomplete")
        steps = self.spend(c, m, user_t, t, n_tools + 1, reasoning, stopped, real_model)
        m["tokenCount"] = sum(s["output"] for s in steps)
        answer = self.words(10, 60)
        if stopped:
            answer = answer[: len(answer) // 2]
        if not p.content:
            m["text"] = answer
        else:
            m["text"] = ""
            m["content"] = self.content(c, reasoning, n_tools, answer, variant)
        if p.usage_metadata:
            usage = {k: sum(s[k] for s in steps) for k in ("input", "output", "cacheWrite", "cacheRead")}
            if rng.random() < 0.5:
                usage["cost"] = round(sum(s["cost"] for s in steps), 6)
            m["metadata"] = {"usage": usage}
            c.shapes["metadata_usage"] += 1
        self.temporal(m, c, t)
        c.messages.append(self.tenant(self.stamp(m, t)))
        return m

    def content(self, c: _Conv, reasoning: bool, n_tools: int, answer: str, variant: str) -> list[dict]:
        parts: list[dict] = []
        if reasoning or self.shapes["think_part"] + c.shapes["think_part"] == 0:
            parts.append({"type": "think", "think": self.words(10, 40)})
            c.shapes["think_part"] += 1
        for _ in range(n_tools):
            parts.append({"type": "tool_call", "tool_call": self.tool_call(c)})
        if n_tools:
            c.shapes["message_with_tools"] += 1
        if variant == "error_content_part":
            if self.rng.random() < 0.5:
                parts.append({"type": "text", "text": answer[:40]})
            parts.append({"type": "error", "error": self.rng.choice(ERROR_PART_TEXTS)})
            return parts
        parts.append({"type": "text", "text": answer})
        c.shapes["text_part"] += 1
        return parts

    def tool_call(self, c: _Conv) -> dict:
        rng, seen = self.rng, self.shapes + c.shapes
        if seen["tool_call_mcp"] == 0:
            name, fail = "get_issue_mcp_github", False
        elif seen["tool_call_no_name"] == 0:
            name, fail = None, False
        else:
            name = rng.choices([t for t, _ in TOOLS], [w for _, w in TOOLS])[0]
            fail = name is not None and (rng.random() < 0.15 or seen["tool_call_failed"] == 0)
        call: dict[str, Any] = {"id": "call_" + self.nanoid(24)}
        if name is not None:
            call["name"] = name
        call["args"] = json.dumps({"query": self.words(2, 6)})
        call["type"] = "tool_call"
        if fail:
            reason = rng.choice(("Request timed out", "HTTP 500", "Invalid arguments", "Connection refused"))
            call["output"] = f"Error processing tool {name}: {reason}"
            if self.p.schedules:  # v0.8.8: the shapes @librechat/agents writes besides Graph's
                call["output"] = self.failed_output(c, str(name), reason)
            c.shapes["tool_call_failed"] += 1
        else:
            call["output"] = self.words(5, 30)
        call["progress"] = 1
        c.shapes["tool_call"] += 1
        if name is None:
            c.shapes["tool_call_no_name"] += 1
        elif "_mcp_" in name:
            c.shapes["tool_call_mcp"] += 1
        return call

    def failed_output(self, c: _Conv, name: str, reason: str) -> str | list[dict]:
        """A failed call's output: Graph's string, ToolNode's "Error: …\\n Please fix your mistakes."
        (a tool that threw, or an MCP tool that reported an error), or an array of content parts."""
        seen = self.shapes + c.shapes
        kind = (
            1 if seen["tool_call_failed_threw"] == 0 else 2 if seen["tool_call_failed_parts"] == 0 else None
        )
        kind = self.rng.randrange(3) if kind is None else kind
        if kind == 1:
            c.shapes["tool_call_failed_threw"] += 1
            return f"Error: {reason}\n Please fix your mistakes."
        if kind == 2:
            c.shapes["tool_call_failed_parts"] += 1
            return [{"type": "text", "text": f"Error processing tool {name}: {reason}"}]
        return f"Error processing tool {name}: {reason}"

    # ---- transactions ------------------------------------------------------------------------
    def transaction(self, c: _Conv, t: int, token_type: str, model: str, context: str, **fields: Any) -> dict:
        doc: dict[str, Any] = {
            "_id": self.oid(t),
            "user": c.user.oid,
            "conversationId": c.cid,
            "tokenType": token_type,
        }
        doc.update({"model": model, "context": context, **fields, "__v": 0})
        c.txs.append(self.tenant(self.stamp(doc, t)))
        c.shapes[f"tx_{token_type}"] += 1
        if "messageId" in doc:
            c.shapes["tx_with_message_id"] += 1
        return doc

    def transaction_pair(
        self, c: _Conv, t: int, model: str, prompt: int, completion: int, context: str, message_id: str | None
    ) -> dict:
        """A prompt and a completion transaction; returns the per-call usage record."""
        rin, rout, rwrite, rread = rates(model)
        extra = {"messageId": message_id} if message_id and self.p.tx_message_id else {}
        write = read = 0
        structured = (
            self.p.structured_tx and context == "message" and not model.startswith(("llama", "mistral"))
        )
        first = self.shapes["tx_structured_prompt"] + c.shapes["tx_structured_prompt"] == 0
        if structured and (first or (c.turn > 0 and self.rng.random() < 0.6)):
            read = int(prompt * self.rng.uniform(0.3, 0.8))
            write = int(prompt * self.rng.uniform(0, 0.1)) if self.rng.random() < 0.5 else 0
            inp = prompt - read - write
            value = -(inp * rin + write * rwrite + read * rread)
            fields = {"rawAmount": -prompt, "rate": -value / prompt, "tokenValue": value}
            fields.update({"inputTokens": -inp, "writeTokens": -write, "readTokens": -read})
            self.transaction(c, t, "prompt", model, context, **fields, **extra)
            c.shapes["tx_structured_prompt"] += 1
        else:
            self.transaction(c, t, "prompt", model, context, rawAmount=-prompt, rate=rin,
                             tokenValue=-prompt * rin, **extra)  # fmt: skip
            value = -prompt * rin
        self.transaction(c, t, "completion", model, context, rawAmount=-completion, rate=rout,
                         tokenValue=-completion * rout, **extra)  # fmt: skip
        cost = -(value - completion * rout) / 1e6
        return {"input": prompt - read - write, "output": completion, "cacheWrite": write, "cacheRead": read,
                "cost": cost}  # fmt: skip

    def spend(
        self,
        c: _Conv,
        m: dict,
        user_t: int,
        t: int,
        steps: int,
        reasoning: bool,
        unfinished: bool,
        model: str,
    ) -> list[dict]:
        """One transaction pair per LLM call of an assistant turn (agent tool steps make several)."""
        context = "message"
        if unfinished:
            context = "abort" if self.p.tx_message_id else "incomplete"
        out = []
        for i in range(steps):
            at = (
                t
                if i == steps - 1
                else min(self.clock.legal(user_t + (t - user_t) * (i + 1) // steps) or t, t)
            )
            prompt = self.lognorm(3000 * (1 + 0.3 * c.turn + 0.5 * i), 0.7)
            completion = self.lognorm(400 * (2.5 if reasoning else 1), 0.6)
            out.append(self.transaction_pair(c, at, model, prompt, completion, context, m["messageId"]))
        if steps > 1:
            c.shapes["agent_multi_step_turn"] += 1
        return out

    def credits(self) -> None:
        count = max(2, len(self.users) // 3)
        for i in range(count):
            t = self.clock.legal(self.season.sample(self.rng, self.clock.ceiling - MINUTE))
            t = t or self.clock.ceiling - MINUTE
            ctx = "admin" if not self.p.auto_refill or i % 2 == 0 else "autoRefill"
            user = self.pick_user(t)
            amount = self.rng.choice((100_000, 500_000, 1_000_000, 2_000_000))
            doc = {"_id": self.oid(t), "user": user.oid, "tokenType": "credits", "context": ctx}
            doc.update({"rawAmount": amount, "rate": 1, "tokenValue": amount, "__v": 0})
            self.out["transactions"].append(self.tenant(self.stamp(doc, t)))
            self.shapes["tx_credits"] += 1
            self.shapes[f"tx_credits_{ctx}"] += 1

    def balances(self) -> None:
        spent: Counter = Counter()
        for tx in self.out["transactions"]:
            spent[tx["user"]] += tx["tokenValue"]
        for i, u in enumerate(self.users):
            credits = int(20_000 + spent[u.oid])
            if credits > 0 and i % 4 != 1:  # LibreChat stops at 0, but a reply in flight can overdraw
                credits = max(0, credits)
            doc: dict[str, Any] = {"_id": self.oid(u.created), "user": u.oid, "tokenCredits": credits}
            if credits <= 0:
                self.shapes["balance_overdrawn" if credits < 0 else "balance_zero"] += 1
            if self.p.auto_refill:
                doc.update(
                    {"autoRefillEnabled": self.rng.random() < 0.3 or i == 0, "refillIntervalValue": 30}
                )
                self.shapes["balance_auto_refill"] += doc["autoRefillEnabled"]
                doc.update({"refillIntervalUnit": "days", "lastRefill": to_dt(u.created), "refillAmount": 0})
            doc["__v"] = 0
            self.out["balances"].append(self.tenant(doc))
            self.shapes["balance"] += 1

    # ---- feedback ------------------------------------------------------------------------------
    def feedback(self) -> None:
        """Rate some assistant replies (all 11 tags, a few object tags, a few null), bumping updatedAt."""
        if not self.p.feedback:
            return
        rng, clock = self.rng, self.clock
        old = [m for m in self.out["messages"] if not m["isCreatedByUser"] and not m["error"]]
        old = [m for m in old if to_ms(m["createdAt"]) < clock.now - HOUR]
        rng.shuffle(old)
        n_rated = min(len(old), max(20 + self.recent, round(0.03 * len(old))))
        n_null = min(len(old) - n_rated, max(3, n_rated // 10))
        tags = [t for pair in zip(THUMBS_UP_TAGS, THUMBS_DOWN_TAGS, strict=False) for t in pair]
        tags += THUMBS_DOWN_TAGS[len(THUMBS_UP_TAGS) :]
        for i, m in enumerate(old[:n_rated]):
            if i < len(tags):
                tag = tags[i]
            else:
                tag = rng.choice(THUMBS_UP_TAGS if rng.random() < 0.7 else THUMBS_DOWN_TAGS)
            rating = "thumbsUp" if tag in THUMBS_UP_TAGS else "thumbsDown"
            fb: dict = {"rating": rating, "tag": tag}
            if i in (11, 12) or (i > 12 and rng.random() < 0.04):
                fb["tag"] = {"key": tag}
                self.shapes["feedback_tag_object"] += 1
            if tag == "other" or rng.random() < 0.15:
                fb["text"] = self.words(3, 25)
                self.shapes["feedback_with_text"] += 1
            m["feedback"] = fb
            self.shapes[f"feedback_{rating}"] += 1
            self.shapes[f"feedback_tag:{tag}"] += 1
            recent = i >= n_rated - self.recent
            m["updatedAt"] = to_dt(self.rated_at(to_ms(m["createdAt"]), recent))
        for m in old[n_rated : n_rated + n_null]:
            m["feedback"] = None
            m["updatedAt"] = to_dt(self.rated_at(to_ms(m["createdAt"]), False))
            self.shapes["feedback_null"] += 1

    def rated_at(self, created: int, recent: bool) -> int:
        clock = self.clock
        if recent:
            return self.rng.randint(clock.band_hi + SECOND, clock.ceiling - SECOND)
        t = created + self.lognorm(10 * MINUTE, 2.0)
        if t > clock.ceiling:
            t = self.rng.randint(created, clock.ceiling)
        return clock.legal(t) or created

    # ---- the plan ------------------------------------------------------------------------------
    def turns(self) -> int:
        return min(100, max(1, int(self.rng.lognormvariate(0.75, 0.95))))

    def run(self) -> dict[tuple[str, str], datetime]:
        self.make_users()
        self.make_agents()
        rng, clock, now = self.rng, self.clock, self.now_ms
        marks = {(z, name): b for z in self.zones for name, b in boundaries(to_dt(now), z).items()}
        plan = []  # (start, turns, tools, tag)
        for b in marks.values():
            for sign in (-1, 1):
                for lo, hi in ((MINUTE, 10 * MINUTE), (10 * MINUTE, HOUR)):
                    plan.append((to_ms(b) + sign * rng.randint(lo, hi), 1, False, "boundary"))
        slot = (clock.ceiling - 12 * SECOND - clock.band_hi) // self.recent
        for i in range(self.recent):  # inside the 5-minute window, with tool calls where the era has them
            plan.append((clock.band_hi + SECOND + i * slot + rng.randrange(slot // 2), 1, True, "recent"))
        for _ in range(max(1, self.recent // 2)):  # just before the forbidden band
            plan.append((now - rng.randint(340 * SECOND, 15 * MINUTE), 1, False, "prewindow"))
        budget = self.n - 2 * len(plan)
        made = 0
        while made < budget:
            made += self.conversation(self.season.sample(rng, clock.ceiling - 10 * MINUTE), self.turns())
        for start, turns, tools, tag in plan:
            self.conversation(start, turns, tools=tools and self.p.content, tag=tag)
        if self.p.automation:
            add_automation(self)
        self.credits()
        self.feedback()
        self.balances()
        self.subagent_threads()
        if self.p.schedules:
            self.more_balances()
            self.schedules()
            self.groups()
        return marks

    # ---- v0.8.8: several balances per user, reservations, scheduled chats -----------------------
    def more_balances(self) -> None:
        """Balances as LibreChat v0.8.8 leaves them: some users with a second, newer document (only
        the oldest is read) and reservations held by requests in flight, some expired."""
        for i, doc in enumerate(list(self.out["balances"])):
            user = next(u for u in self.users if u.oid == doc["user"])
            if i % 4 == 0:  # a newer duplicate (a racing create before records were keyed by user id)
                later = self.clock.before(user.created + self.rng.randint(DAY, 30 * DAY))
                extra = {
                    "_id": self.oid(later),
                    "user": user.oid,
                    "tokenCredits": self.rng.randint(1, 9) * 100_000,
                }
                self.out["balances"].append(self.tenant({**extra, "__v": 0}))
                self.shapes["balance"] += 1
                self.shapes["balance_duplicate"] += 1
            credits = doc["tokenCredits"]
            if i % 3 == 1 and credits > 0:
                held = credits if i % 2 else self.rng.randint(1, max(1, credits // 2))  # all, or part
                ahead = to_dt(self.now_ms + self.rng.randint(MINUTE, 10 * MINUTE))
                gone = to_dt(self.now_ms - self.rng.randint(HOUR, DAY))
                doc["reservations"] = [
                    {"id": self.uuid(), "amount": held, "expiresAt": ahead},
                    {"id": self.uuid(), "amount": 5_000, "expiresAt": gone},  # crashed request: expired
                ]
                doc["reservedCredits"] = held + 5_000
                self.shapes["balance_reservation"] += 1
                self.shapes["balance_all_reserved" if held == credits else "balance_part_reserved"] += 1

    def groups(self) -> None:
        """`groups` as LibreChat v0.8.8 keeps them (no random draw: nothing else changes): the `openid`
        users are Entra-synced (an `idOnTheSource`, which `memberIds` holds), the others are listed by
        their id; some users are in two groups, some in none, one member key names no user."""
        self.out.setdefault("groups", [])
        entra = {}
        for i, doc in enumerate(self.out["users"]):
            if doc.get("provider") == "openid":
                doc["idOnTheSource"] = entra[str(doc["_id"])] = f"{i:08x}-entra-{str(doc['_id'])[-12:]}"
        keys = [entra.get(str(u["_id"]), str(u["_id"])) for u in self.out["users"]]
        layout = (
            ("Engineering", "local", [k for i, k in enumerate(keys) if i % 3 == 0]),
            ("Research", "local", [k for i, k in enumerate(keys) if i % 5 == 0]),  # overlaps Engineering
            ("Sales", "entra", [*[k for k in keys if "-entra-" in k][::2], "ffffffff-entra-left-company"]),
        )
        for n, (name, source, members) in enumerate(layout):
            created = self.epoch_ms + n * HOUR
            doc = {"_id": self.oid(created), "name": name, "source": source, "memberIds": members}
            if source == "entra":
                doc["idOnTheSource"] = f"group-{n:04d}-entra"
            doc["__v"] = 0
            self.out["groups"].append(self.tenant(self.stamp(doc, created)))
            self.shapes["group"] += 1

    SCHEDULE_STATES = (
        "enabled", "too_many_failures", "enabled", "insufficient_balance", "mcp_reauth_required", "disabled",
        "deleting",
    )  # fmt: skip

    def schedules(self) -> None:
        """`schedules` and `scheduleruns` as @librechat/data-schemas 0.0.71 declares them: daily
        schedules of a few users' agents and one run per day, of every status."""
        for name in SCHEDULE_COLLECTIONS:  # add_automation may have written runs already
            self.out.setdefault(name, [])
        owners = self.users[: min(len(self.users), len(self.SCHEDULE_STATES))]
        slots: Counter = Counter()
        for i, (user, state) in enumerate(zip(owners, self.SCHEDULE_STATES, strict=False)):
            created = self.clock.before(max(user.created, self.now_ms - 40 * DAY) + HOUR)
            agent = self.agents[i % len(self.agents)]["id"] if self.agents else "agent_" + self.nanoid()
            hour, minute = 6 + i, 5 * i
            doc: dict[str, Any] = {"_id": self.oid(created), "id": self.uuid(), "user": user.oid}
            doc["name"] = f"Daily {WORDS[i]}"
            doc.update({"prompt": self.words(6, 14), "agent_id": agent})
            doc.update({"cadence": {"frequency": "daily", "hour": hour, "minute": minute}, "timezone": "UTC"})
            doc.update({"target": "new", "enabled": state == "enabled", "configRevision": 0})
            doc.update({"deleting": state == "deleting", "slot": slots[user.oid]})
            slots[user.oid] += 1
            if state not in ("enabled", "disabled", "deleting"):
                doc["disabledReason"] = state
            runs = self.schedule_runs(doc, i, state, created, hour, minute)
            doc.update(
                {"runCount": sum(r["status"] not in ("skipped_overlap", "skipped_balance") for r in runs)}
            )
            doc["failureCount"] = 3 if state == "too_many_failures" else 0
            doc["balanceSkipCount"] = sum(r["status"] == "skipped_balance" for r in runs)
            updated = created
            if runs:
                last = max(runs, key=lambda r: r["scheduledFor"])
                doc["lastRun"] = {key: last[key] for key in ("conversationId", "status") if key in last}
                doc["lastRun"].update({"firedAt": last["firedAt"], "scheduledFor": last["scheduledFor"]})
                updated = self.clock.before(to_ms(last["firedAt"]) + SECOND)
                if state == "enabled":
                    doc["nextRunAt"] = to_dt(to_ms(last["scheduledFor"]) + DAY)
            doc["__v"] = 0
            self.out["schedules"].append(self.tenant(self.stamp(doc, created, max(created, updated))))
            self.shapes["schedule"] += 1
            self.shapes[f"schedule_{state}"] += 1

    def schedule_runs(
        self, schedule: dict, i: int, state: str, created: int, hour: int, minute: int
    ) -> list[dict]:
        """One run a day from the day after `created`; statuses follow the schedule's state."""
        midnight = self.now_ms - self.now_ms % DAY
        first = (created - created % DAY) + DAY
        runs = []
        days = [d for d in range(first, midnight, DAY)][-12:]
        for k, day in enumerate(days):
            due = day + hour * HOUR + minute * MINUTE
            newest = k == len(days) - 1
            status = self.run_status(i, state, k, newest)
            fired = due + self.rng.randint(0, 20) * SECOND
            run = {"_id": self.oid(fired), "scheduleId": schedule["id"], "user": schedule["user"]}
            run.update({"scheduledFor": to_dt(due), "firedAt": to_dt(fired), "status": status})
            if status not in ("skipped_overlap", "skipped_balance"):
                run["conversationId"] = self.uuid()
            duration = None
            if status in ("success", "error", "interrupted"):
                duration = 60_000 if k == 2 else self.lognorm(25_000, 1.0)  # one exactly on a bucket bound
                run["durationMs"] = duration
            if status == "error":
                run["error"] = (
                    "MCP server requires re-authentication"
                    if state == "mcp_reauth_required"
                    else "Run failed"
                )
                if state == "mcp_reauth_required" or k % 2:
                    mcp = [
                        {
                            "server": "github",
                            "status": "mcp_reauth_required" if state == "mcp_reauth_required" else "ready",
                        }
                    ]
                    if k % 3 == 0:
                        mcp.append({"server": "jira", "status": "mcp_unavailable"})
                    run["mcp"] = mcp
                    self.shapes["schedule_run_mcp"] += 1
            settled = fired + (duration or 0) + SECOND
            if status not in ("started", "requires_action"):
                run.update({"bookkept": True, "settledAt": to_dt(settled)})
            run.update({"configRevision": 0, "__v": 0})
            self.out["scheduleruns"].append(self.tenant(self.stamp(run, fired, settled)))
            self.shapes["schedule_run"] += 1
            self.shapes[f"schedule_run_{status}"] += 1
            runs.append(run)
        return runs

    def run_status(self, i: int, state: str, k: int, newest: bool) -> str:
        if state == "too_many_failures":
            return "error" if k % 4 else "success"
        if state == "insufficient_balance":
            return "skipped_balance" if k % 3 == 0 else "success"
        if state == "mcp_reauth_required":
            return "error" if newest or k % 5 == 0 else "success"
        if newest and i == 0:
            return "started"
        if newest and i == 2:
            return "requires_action"
        return ("success", "success", "success", "interrupted", "success", "skipped_overlap", "error")[k % 7]

    def subagent_threads(self) -> None:
        """Profiles with isTemporary (v0.8.6+, like sub-agents): every 8th agent conversation becomes a
        sub-agent thread (`conversations.subagentThread`, as `@librechat/data-schemas` declares it) of
        the same user's previous conversation. No random draw: the rest of the dataset stays as it is."""
        if self.p.temporary != "isTemporary":
            return
        first_message: dict[str, str] = {}
        for m in self.out["messages"]:
            first_message.setdefault(m["conversationId"], m["messageId"])
        previous: dict[str, dict] = {}
        agent_chats = 0
        for conv in sorted(self.out["conversations"], key=lambda d: (d["createdAt"], d["_id"])):
            parent = previous.get(conv["user"])
            previous[conv["user"]] = conv
            if not str(conv.get("agent_id", "")).startswith("agent_"):
                continue
            agent_chats += 1
            if agent_chats % 8 != 3 or parent is None or parent["conversationId"] not in first_message:
                continue
            conv["subagentThread"] = {
                "rootConversationId": parent.get("subagentThread", {}).get(
                    "rootConversationId", parent["conversationId"]
                ),
                "parentConversationId": parent["conversationId"],
                "parentMessageId": first_message[parent["conversationId"]],
                "parentToolCallId": f"call_{conv['conversationId'][:8]}",
                "parentAgentId": conv["agent_id"],
                "subagentType": "general",
                "subagentKind": "agent",
                "depth": parent.get("subagentThread", {}).get("depth", 0) + 1,
            }
            self.shapes["subagent_conversation"] += 1
            self.shapes["subagent_message"] += len(conv["messages"])

    def finish(self) -> None:
        """Sort every collection by time and count the shapes that depend on the 5-minute window."""
        for docs in self.out.values():
            docs.sort(key=lambda d: (d.get("createdAt") or to_dt(0), d["_id"]))
        cut = to_dt(self.now_ms - 300 * SECOND)
        for m in self.out["messages"]:
            if m["createdAt"] >= cut:
                self.shapes["window_message"] += 1
                if any(part["type"] == "tool_call" for part in m.get("content", ())):
                    self.shapes["window_tool_message"] += 1
            if m.get("feedback") and m["updatedAt"] >= cut:
                self.shapes["window_rating_update"] += 1
        self.shapes = Counter({k: v for k, v in sorted(self.shapes.items()) if v})


def generate(
    profile: str = "v0.8.7",
    seed: int = 1,
    n_messages: int = 2000,
    now: datetime | None = None,
    zones: tuple[str, ...] = ("UTC", "Europe/Berlin"),
    history_days: int = 60,
    tenants: int = 1,
) -> Dataset:
    """Generate a deterministic LibreChat dataset of about `n_messages` messages, anchored at `now`.

    With `tenants=2` (profiles with tenantId) every third user and everything it owns belongs to
    "tenant-other" instead of "tenant-main"."""
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    now = to_dt(to_ms(now))
    g = _Generator(profile, seed, n_messages, now, zones, history_days, tenants)
    marks = g.run()
    g.finish()
    return Dataset(profile, now, seed, g.zones, g.out, g.shapes, marks)
