"""Queries as values: a read is its collection, the stages that follow a shared `$match`, and how its
rows become a result. The same value runs alone, or beside other reads of the same documents in one
`$facet` command (one round trip, one pass over the matched documents)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .mongo import Reader

T = TypeVar("T")
Rows = list[dict[str, Any]]
Stages = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Query(Generic[T]):
    """One read of `collection`: named parts (each a pipeline after the shared `$match`; several parts
    are facets of the same documents) and `parse`, which turns the parts' rows into the result."""

    collection: str
    parts: Mapping[str, Stages]
    parse: Callable[[Mapping[str, Rows]], T]

    def run(self, reader: Reader, match: dict[str, Any]) -> T:
        """The result of this query alone over the documents `match` selects."""
        if len(self.parts) == 1:
            ((name, stages),) = self.parts.items()
            return self.parse({name: reader.aggregate(self.collection, [{"$match": match}, *stages])})
        return together(reader, match, {"q": self})["q"]

    def apart(self, reader: Reader, match: dict[str, Any]) -> T:
        """The same result with a streamed command per part: no part's rows limited by the 16 MB
        document that one `$facet` answers in."""
        found = {
            name: list(reader.each(self.collection, [{"$match": match}, *stages]))
            for name, stages in self.parts.items()
        }
        return self.parse(found)

    def within(self, match: dict[str, Any]) -> Query[T]:
        """The same query with every part first narrowed by `match` (a facet's own bounds)."""
        parts = {name: [{"$match": match}, *stages] for name, stages in self.parts.items()}
        return Query(self.collection, parts, self.parse)


def single(collection: str, stages: Stages, parse: Callable[[Rows], T]) -> Query[T]:
    """A query of one pipeline whose rows `parse` reads."""
    return Query(collection, {"rows": stages}, lambda parts: parse(parts["rows"]))


def rows(collection: str, stages: Stages) -> Query[Rows]:
    """A query whose result is its rows as MongoDB returns them."""
    return single(collection, stages, lambda found: found)


def together(reader: Reader, match: dict[str, Any], queries: Mapping[str, Query[Any]]) -> dict[str, Any]:
    """Every query over the documents `match` selects, in one `$facet` command: name -> its result.
    A query keeps bounds of its own with `within`."""
    collections = {query.collection for query in queries.values()}
    if len(collections) != 1:
        raise ValueError(f"one $facet reads one collection, not {sorted(collections)}")
    facet = {
        _facet(name, part): list(stages) for name, q in queries.items() for part, stages in q.parts.items()
    }
    found = reader.aggregate(collections.pop(), [{"$match": match}, {"$facet": facet}])
    got = found[0] if found else {}
    return {
        name: q.parse({part: got.get(_facet(name, part), []) for part in q.parts})
        for name, q in queries.items()
    }


def _facet(name: str, part: str) -> str:
    """A facet's field name (no dots or `$`: they are not allowed there)."""
    return f"{name}-{part}"
