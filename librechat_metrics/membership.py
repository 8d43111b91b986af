"""Group membership as LibreChat resolves it (docs/semantics.md, "Groups").

A `groups` document lists its members in `memberIds`: strings holding the member's `idOnTheSource`
(Entra-synced users), else the hex of the user's `_id`. A user's membership key is therefore its
`idOnTheSource` when that is a non-empty string, else `str(_id)`. A user can be in several groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from .labels import name_label, sanitise
from .mongo import Reader
from .values import text


@dataclass(frozen=True)
class Membership:
    """Group name -> member user ids (str of the users' `_id`), and every user id read."""

    groups: dict[str, frozenset[str]]
    users: frozenset[str]

    def of(self, user: str) -> list[str]:
        """The groups (names, sorted) user id `user` is a member of."""
        return sorted(name for name, members in self.groups.items() if user in members)


def read_membership(reader: Reader) -> Membership:
    """The groups and the membership key of every user, in two reads (`groups`, `users` projected);
    without a group, one (no user is read: every caller has nothing to compute then).

    A group's label is its `name` (the model-label rules: null/missing/"" become `unknown`), sanitised;
    groups with the same label are one group (the union of their members). Only string `memberIds`
    elements count; a member key that names no user is no member."""
    found = reader.find("groups", {}, {"_id": 0, "name": 1, "memberIds": 1})
    if not found:
        return Membership({}, frozenset())
    keys: dict[str, set[str]] = {}
    users: set[str] = set()
    for doc in reader.find("users", {}, {"_id": 1, "idOnTheSource": 1}):
        user = str(doc["_id"])
        keys.setdefault(text(doc.get("idOnTheSource")) or user, set()).add(user)
        users.add(user)
    groups: dict[str, set[str]] = {}
    for doc in found:
        members = groups.setdefault(sanitise(name_label(doc.get("name"))), set())
        ids = doc.get("memberIds")
        for member in ids if isinstance(ids, list) else ():
            key = text(member)
            if key is not None:
                members |= keys.get(key, set())
    return Membership({name: frozenset(m) for name, m in groups.items()}, frozenset(users))


NO_GROUP = "(no group)"


@dataclass
class GroupSums:
    """One group's numbers over a span: active members, tokens in and out, spend (the caller's unit)."""

    active_users: int = 0
    input_tokens: float = 0
    output_tokens: float = 0
    spend: float = 0.0


def per_group(
    membership: Membership,
    active: int,
    active_ids: set[str],
    spend: dict[str | None, float],
    tokens: dict[str, list[float]] | None = None,
) -> dict[str, GroupSums]:
    """Each group's sums, and NO_GROUP's for everything no group member accounts for (docs/semantics.md,
    "Groups"). `active` is the span's distinct users, `active_ids` the string ones; `spend` and
    `tokens` ([input, output]) are keyed by str(user) (None: no user). A user in several groups counts in
    each. No groups at all: no rows."""
    if not membership.groups:
        return {}
    sums = {name: GroupSums() for name in [*sorted(membership.groups), NO_GROUP]}

    def targets(user: str | None) -> list[GroupSums]:
        names = membership.of(user) if user is not None else []
        return [sums[name] for name in names] or [sums[NO_GROUP]]

    in_groups = 0
    for user in active_ids:
        names = membership.of(user)
        for name in names:
            sums[name].active_users += 1
        in_groups += bool(names)
    sums[NO_GROUP].active_users = active - in_groups
    for payer, value in spend.items():
        for row in targets(payer):
            row.spend += value
    for key, (inp, out) in (tokens or {}).items():
        for row in targets(key):
            row.input_tokens += inp
            row.output_tokens += out
    return sums


def no_group_members(membership: Membership) -> int:
    """Users that are members of no group."""
    return len(membership.users - set().union(*membership.groups.values()))
