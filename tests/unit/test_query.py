"""Queries as values: one query alone is one pipeline; several are facets of one command, each parsed
from its own parts. A reader that records pipelines and answers with given rows stands in for MongoDB
(what MongoDB itself answers is tested end to end against the wire server)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from librechat_metrics import tally
from librechat_metrics.query import Query, rows, single, together

MATCH = {"createdAt": {"$gte": datetime(2025, 3, 20, tzinfo=timezone.utc)}}


class Recorder:
    """Records each aggregate call and answers with the rows it was given."""

    def __init__(self, answer: list[dict[str, Any]]):
        self.answer = answer
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def aggregate(self, collection: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls.append((collection, pipeline))
        return self.answer


def test_a_query_alone_is_its_match_then_its_stages() -> None:
    reader = Recorder([{"_id": None, "all": 3}])
    query = single("messages", [{"$group": {"_id": None, "all": {"$sum": 1}}}], lambda found: found[0]["all"])
    assert query.run(reader, MATCH) == 3  # type: ignore[arg-type]
    assert reader.calls == [("messages", [{"$match": MATCH}, {"$group": {"_id": None, "all": {"$sum": 1}}}])]


def test_queries_together_are_one_facet_command_parsed_apart() -> None:
    reader = Recorder([{"a-rows": [{"n": 1}], "b-rows": [{"n": 2}, {"n": 5}]}])
    reads = {
        "a": rows("messages", [{"$limit": 1}]),
        "b": single("messages", [{"$limit": 2}], lambda found: sum(r["n"] for r in found)),
    }
    got = together(reader, MATCH, reads)  # type: ignore[arg-type]
    assert got == {"a": [{"n": 1}], "b": 7}
    ((collection, pipeline),) = reader.calls
    assert collection == "messages"
    assert pipeline == [{"$match": MATCH}, {"$facet": {"a-rows": [{"$limit": 1}], "b-rows": [{"$limit": 2}]}}]


def test_within_narrows_every_part_and_keeps_the_parse() -> None:
    narrowed = tally.tools_query({}).within({"user": "u1"})
    assert set(narrowed.parts) == {"calls", "failures"}
    assert all(stages[0] == {"$match": {"user": "u1"}} for stages in narrowed.parts.values())
    row = {"_id": {"n": "web_search", "m": "gpt-4o", "p": "openAI"}, "n": 2}
    failed = {"_id": {"n": "web_search", "m": "gpt-4o", "p": "openAI"}, "n": 1}
    parsed = narrowed.parse({"calls": [row], "failures": [failed]})
    assert [(r["_id"]["f"], r["n"]) for r in parsed] == [(False, 2), (True, 1)]


def test_a_query_of_several_parts_alone_is_a_facet_too() -> None:
    reader = Recorder([{"q-calls": [], "q-failures": []}])
    assert tally.tools_query({}).run(reader, MATCH) == []  # type: ignore[arg-type]
    assert list(reader.calls[0][1][1]["$facet"]) == ["q-calls", "q-failures"]


def test_an_empty_answer_parses_as_no_rows() -> None:
    assert together(Recorder([]), MATCH, {"users": tally.distinct_query("messages", "user", {})}) == {  # type: ignore[arg-type]
        "users": {"all": 0}
    }


def test_one_facet_reads_one_collection() -> None:
    mixed: dict[str, Query[Any]] = {"a": rows("messages", []), "b": rows("transactions", [])}
    with pytest.raises(ValueError, match="one collection"):
        together(Recorder([]), MATCH, mixed)  # type: ignore[arg-type]
