"""Activity no person typed, written as LibreChat v0.8.8 writes it: scheduled runs and agent events.

A fired run gets a `scheduleruns` row naming a new conversation, whose root user message (the
schedule's prompt, `parentMessageId` NO_PARENT, `isCreatedByUser: true`) and agent reply look like a
typed chat; now and then the owner later types into it. Skipped runs write a row and no chat. An
agent event writes, in a bound child conversation (`agentEventBinding`), a user-role message with
`subagentTriggerProjection` and the agent's reply. The profile calls `add_automation(generator)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .profiles import NO_PARENT, Chat
from .timeplan import DAY, HOUR, MINUTE, SECOND, to_dt

SKIPPED = ("skipped_overlap", "skipped_balance")
EVENT_TYPES = (
    ("github.issue.opened", "github"),
    ("chess.turn.ready", "speed-chess"),
    ("ticket.created", "jira"),
)


def add_automation(g: Any) -> None:
    """Schedules of three users (one firing daily just before UTC midnight, one daily in the morning,
    one every 3 hours over the last two days) and a run inside the 5-minute window; agent events of
    two users, into generator `g`."""
    if not g.agents:
        return
    g.out.setdefault("scheduleruns", [])
    owners = [u for u in g.users if u.created < g.now_ms - 21 * DAY][:3] or g.users[:3]
    now = g.now_ms
    start = now - min(g.history_days, 20) * DAY
    midnight = start - start % DAY  # UTC midnight
    plans = [
        (owners[0], midnight + DAY - 10 * SECOND, DAY),  # 23:59:50 UTC: prompt and reply cross midnight
        (owners[1 % len(owners)], midnight + 9 * HOUR, DAY),
        (owners[2 % len(owners)], now - 2 * DAY, 3 * HOUR),
    ]
    for number, (owner, first, every) in enumerate(plans):
        schedule_id = g.nanoid(24)
        agent = g.agents[number % len(g.agents)]
        t = first
        while t < now - 3 * MINUTE:
            _run(g, schedule_id, owner, agent, t)
            t += every
    recent = g.clock.band_hi + 20 * SECOND
    _run(g, g.nanoid(24), owners[0], g.agents[0], recent)  # a run inside the 5-minute window
    for number, owner in enumerate(owners[:2]):
        _events(g, owner, g.agents[(number + 1) % len(g.agents)], start + number * 7 * HOUR)


def _run(g: Any, schedule_id: str, owner: Any, agent: dict, fired: int) -> None:
    """One occurrence: a run row, and (unless skipped) its conversation."""
    rng = g.rng
    fired_t = g.clock.legal(fired)
    if fired_t is None:
        return
    status = rng.choices(["success", "error", "interrupted", *SKIPPED], [80, 6, 3, 5, 6])[0]
    row: dict[str, Any] = {"_id": g.oid(fired_t), "scheduleId": schedule_id, "user": owner.oid}
    row.update({"scheduledFor": to_dt(fired - fired % MINUTE), "firedAt": to_dt(fired_t), "status": status})
    settled = fired_t
    if status not in SKIPPED:
        conversation, settled = _chat(g, owner, agent, fired_t, status)
        if conversation is None:
            return
        row["conversationId"] = conversation
        row["durationMs"] = settled - fired_t
    if status == "error":
        row["error"] = "Generation failed"
    if settled < g.clock.ceiling:
        row["settledAt"] = to_dt(settled)
    else:
        row["status"] = "started"  # still running at `now`: no settledAt, never expires
    row["bookkept"] = True
    row["__v"] = 0
    g.out["scheduleruns"].append(g.tenant(g.stamp(row, fired_t, settled)))
    g.shapes[f"schedule_run_{row['status']}"] += 1


def _chat(g: Any, owner: Any, agent: dict, fired: int, status: str) -> tuple[str | None, int]:
    """The run's conversation: prompt, agent reply, and sometimes the owner's own later turn."""
    from .generator import _Conv  # the generator's per-conversation state

    rng, clock = g.rng, g.clock
    c = _Conv(g.uuid(), owner, Chat("agents", agent["id"], agent["name"], 1), agent, False)
    prompt_t = clock.legal(fired + rng.randint(200, 2 * SECOND))
    reply_t = prompt_t and clock.legal(prompt_t + rng.randint(5 * SECOND, 40 * SECOND))
    if prompt_t is None or reply_t is None:
        return None, fired
    prompt = g.user_message(c, prompt_t, NO_PARENT)
    reply = g.assistant(c, prompt, prompt_t, reply_t, tools=False)
    settled = reply_t + 300
    later = clock.legal(reply_t + rng.randint(20 * MINUTE, 6 * HOUR))
    if status == "success" and later is not None and rng.random() < 0.25:
        answer_t = clock.legal(later + rng.randint(3 * SECOND, 30 * SECOND))
        if answer_t is not None:
            typed = g.user_message(c, later, reply["messageId"])
            g.assistant(c, typed, later, answer_t, tools=False)
            c.shapes["schedule_person_turn"] += 1
    g.commit(c, "schedule")
    return c.cid, settled


def _events(g: Any, owner: Any, agent: dict, first: int) -> None:
    """A bound child conversation of `owner` with agent-event turns every 61 hours, the last one
    inside the 5-minute window."""
    from .generator import _Conv

    rng, clock = g.rng, g.clock
    c = _Conv(g.uuid(), owner, Chat("agents", agent["id"], agent["name"], 1), agent, False)
    times = [*range(first, clock.band_lo - HOUR, 61 * HOUR), clock.band_hi + 40 * SECOND]
    parent = NO_PARENT
    for t in times:
        event, source = rng.choice(EVENT_TYPES)
        trigger_t, reply_t = clock.legal(t), clock.legal(t + rng.randint(3 * SECOND, 30 * SECOND))
        if trigger_t is None or reply_t is None:
            continue
        trigger = g.user_message(c, trigger_t, parent)
        occurred: datetime = to_dt(trigger_t - rng.randint(SECOND, 20 * SECOND))
        trigger["subagentTriggerProjection"] = {"version": 1, "eventType": event, "sourceType": source}
        trigger["subagentTriggerProjection"]["occurredAt"] = occurred
        reply = g.assistant(c, trigger, trigger_t, reply_t, tools=False)
        parent = reply["messageId"]
        c.shapes["agent_event_turn"] += 1
    if len(c.messages) < 2:
        return
    g.commit(c, "agent_event")
    binding = {"bindingId": g.uuid(), "sourceKeyId": g.nanoid(), "actorId": g.uuid()}
    g.out["conversations"][-1]["agentEventBinding"] = binding
