"""History rows before they reach SQL: keys, change counts, storable keys and numbers, table DDL."""

from __future__ import annotations

from collections import Counter
from datetime import date

from librechat_metrics.history import compute, sql

DAY = date(2025, 3, 20)
BY_MODEL = next(t for t in sql.DAILY if t.name == "daily_tokens_by_model")


def test_rows_are_keyed_by_their_primary_key_columns() -> None:
    rows = [(DAY, "gpt-4o", 10.0, 20.0), (DAY, "o3", 1.0, 2.0)]
    assert BY_MODEL.keyed(rows) == {(DAY, "gpt-4o"): (10.0, 20.0), (DAY, "o3"): (1.0, 2.0)}


def test_changes_count_new_changed_removed_and_equal_rows() -> None:
    changes = sql.Changes()
    before = {("a",): (1,), ("b",): (2,), ("c",): (3,)}
    after = {("a",): (1,), ("b",): (5,), ("d",): (4,)}
    changes.add(before, after)
    assert (changes.new, changes.changed, changes.removed, changes.unchanged) == (1, 1, 1, 1)
    changes += changes
    assert (changes.new, changes.changed, changes.removed, changes.unchanged) == (2, 2, 2, 2)


def test_keys_fit_the_text_columns() -> None:
    assert compute.storable("a\x00b") == "a b"  # PostgreSQL rejects NUL in text
    assert compute.storable("x" * 300) == "x" * 255


def test_token_rows_skip_empty_pairs_and_clamp_what_sql_cannot_store() -> None:
    pairs = {"b": [0.0, 0.0], "a": [float("inf"), 3.0], "c": [-float("inf"), 0.0]}
    assert compute._token_rows(DAY, pairs) == [
        (DAY, "a", 1.7976931348623157e308, 3.0),
        (DAY, "c", -1.7976931348623157e308, 0.0),
    ]


def test_agent_spend_rows_are_dollars_per_sanitised_agent_id() -> None:
    credits = Counter({"agent_a\n": 1_500_000, "agent_a\t": 500_000, "agent_b": 0, "agent_c": 250_000})
    assert compute._agent_spend_rows(DAY, credits) == [(DAY, "agent_a ", 2.0), (DAY, "agent_c", 0.25)]


def test_create_table_sql_per_dialect() -> None:
    mysql = sql.Store(None, "mysql").create_table_sql(BY_MODEL, "utf8mb4_bin")
    assert mysql.startswith("CREATE TABLE IF NOT EXISTS `daily_tokens_by_model` (")
    assert "`model` VARCHAR(255) COLLATE utf8mb4_bin NOT NULL" in mysql
    assert "`input_tokens` DOUBLE NOT NULL" in mysql
    assert "PRIMARY KEY (`date`, `model`)" in mysql and mysql.endswith("COLLATE=utf8mb4_bin")
    pg = sql.Store(None, "postgresql").create_table_sql(BY_MODEL)
    assert '"input_tokens" DOUBLE PRECISION NOT NULL' in pg and '"model" VARCHAR(255) NOT NULL' in pg
    assert pg.endswith(")") and "ENGINE" not in pg
