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
    """The groups and the membership key of every user, in two reads (`groups`, `users` projected).

    A group's label is its `name` (the model-label rules: null/missing/"" become `unknown`), sanitised;
    groups with the same label are one group (the union of their members). Only string `memberIds`
    elements count; a member key that names no user is no member."""
    keys: dict[str, set[str]] = {}
    users: set[str] = set()
    for doc in reader.find("users", {}, {"_id": 1, "idOnTheSource": 1}):
        user = str(doc["_id"])
        keys.setdefault(text(doc.get("idOnTheSource")) or user, set()).add(user)
        users.add(user)
    groups: dict[str, set[str]] = {}
    for doc in reader.find("groups", {}, {"_id": 0, "name": 1, "memberIds": 1}):
        members = groups.setdefault(sanitise(name_label(doc.get("name"))), set())
        ids = doc.get("memberIds")
        for member in ids if isinstance(ids, list) else ():
            key = text(member)
            if key is not None:
                members |= keys.get(key, set())
    return Membership({name: frozenset(m) for name, m in groups.items()}, frozenset(users))
