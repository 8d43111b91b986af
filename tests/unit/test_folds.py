"""Folds over rows as MongoDB returns them: marks, labels, odd sums and tallies that add up."""

from __future__ import annotations

from decimal import Decimal

from bson import Decimal128

from librechat_metrics.tally import (
    TX_SUMS,
    MessageKey,
    ToolKey,
    TxKey,
    fold_messages,
    fold_tools,
    fold_transactions,
)


def message_row(n: int, tokens: object, model: object = "gpt-4o", **flags: object) -> dict:
    key = {"a": True, "m": model, "e": False, "t": False, "r": None, "g": None, "p": "openAI", "f": False}
    return {"_id": {**key, **flags}, "n": n, "k": tokens}


def test_messages_fold_to_their_keys_and_a_mark_keeps_only_its_rows() -> None:
    rows = [
        message_row(2, 30, at_open=True),
        message_row(1, 10, at_open=False),
        message_row(4, 0, model=None, a=False, at_open=True),  # a user's message: no model is "unknown"
    ]
    every = fold_messages(rows)
    reply = MessageKey(True, "gpt-4o", False, False, None, None, "openAI", False)
    question = reply._replace(assistant=False, model="unknown")
    assert every.count == {reply: 3, question: 4}
    assert every.tokens == {reply: 40, question: 0}  # a key with 0 tokens still counts its messages
    opened = fold_messages(rows, "open")
    assert opened.count == {reply: 2, question: 4} and opened.tokens[reply] == 30


def test_odd_token_sums_are_numbers_and_tallies_add() -> None:
    rows = [message_row(1, Decimal128(Decimal("2.5"))), message_row(1, 1e308), message_row(1, "7")]
    tally = fold_messages(rows)
    (key,) = tally.count
    assert tally.count[key] == 3
    assert tally.tokens[key] == 2.5  # a Decimal128 is a number; beyond LIMIT or a string is none
    big = fold_messages([message_row(1, 9e299), message_row(1, 9e299)])
    assert big.tokens[next(iter(big.count))] == 1e300  # a sum is clamped at LIMIT, never +Inf
    twice = tally + tally
    assert twice.count[key] == 6 and twice.tokens[key] == 5.0


def test_transactions_fold_every_ledger_sum_per_kind_and_model() -> None:
    rows = [
        {"_id": {"k": "prompt", "m": "o3", "at_day": True}, "s": 100, "n": 2,
         "value": 1500, "cache_read": 40, "cache_write": 10},
        {"_id": {"k": "completion", "m": "o3", "at_day": False}, "s": 50, "n": 1,
         "value": 500, "cache_read": 0, "cache_write": 0},
    ]  # fmt: skip
    tally = fold_transactions(rows)
    prompt, completion = TxKey("prompt", "o3", None), TxKey("completion", "o3", None)
    assert tally.tokens == {prompt: 100, completion: 50} and tally.count == {prompt: 2, completion: 1}
    assert tally.value == {prompt: 1500, completion: 500}
    assert tally.cache_read[prompt] == 40 and tally.cache_write[prompt] == 10
    day = fold_transactions(rows, "day")
    assert set(day.tokens) == {prompt}
    total = tally + day
    assert all(getattr(total, column)[prompt] == 2 * getattr(day, column)[prompt] for column in TX_SUMS)


def test_a_ledger_column_missing_from_a_row_adds_nothing() -> None:
    rows = [{"_id": {"k": "prompt", "m": "o3"}, "s": 7, "n": 1, "value": 3}]  # an older row shape
    tally = fold_transactions(rows)
    assert tally.value[TxKey("prompt", "o3", None)] == 3
    assert tally.cache_read[TxKey("prompt", "o3", None)] == 0


def test_tool_failures_are_counted_apart_and_users_come_from_the_calls() -> None:
    call = {"n": "web_search", "m": "gpt-4o", "p": "openAI", "f": False, "u": "u1"}
    rows = [{"_id": call, "n": 3}, {"_id": {**call, "f": True, "u": "u2"}, "n": 1}]
    tally = fold_tools(rows)
    assert tally.calls == {
        ToolKey("web_search", "gpt-4o", "openAI", False): 3,
        ToolKey("web_search", "gpt-4o", "openAI", True): 1,
    }
    assert tally.users == {"u1"}  # users of the all-calls rows only (a failure is also a call)
