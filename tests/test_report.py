"""export_metrics.py --report: the json numbers equal the oracle's range definitions on every generator
profile, in UTC and Europe/Berlin; hand-worked range edges; every format's promises; the CLI."""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import math
import os
import pty
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient

from librechat_metrics import tally
from librechat_metrics.history import cli, compute
from librechat_metrics.mongo import Reader
from librechat_metrics.report import build, render
from librechat_metrics.settings import load
from librechat_metrics.synthetic import PROFILES, generate, malformed_corpus
from tests.oracle import only_tenant, report_numbers
from tests.support.mongo import start_mongoeco
from tests.test_history_cli import clean_env

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)
START, END = date(2025, 3, 2), date(2025, 3, 11)  # ten days around Berlin's month edge, and a Monday
ZONES = ("UTC", "Europe/Berlin")
IDS = {"models": "model", "agents": "agent_id", "endpoints": "endpoint", "tools": "tool", "groups": "group"}


def with_groups(collections: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """A copy with LibreChat groups: every 4th user Entra-synced (memberIds hold its idOnTheSource),
    two overlapping groups, a group without a name, and member ids that name no user or are no string."""
    out = copy.deepcopy(collections)
    users = out["users"]
    tenant = next((u["tenantId"] for u in users if isinstance(u.get("tenantId"), str)), None)
    for i, user in enumerate(users):
        if i % 4 == 0:
            user["idOnTheSource"] = f"entra-{i}"
    keys = [u.get("idOnTheSource") or str(u["_id"]) for u in users]
    scope = {"tenantId": tenant} if tenant else {}
    out["groups"] = [
        {"_id": ObjectId(), "name": "Engineering", "source": "entra", "memberIds": keys[0::3], **scope},
        {"_id": ObjectId(), "name": "Sales", "source": "local", "memberIds": [*keys[1::5], keys[0]], **scope},
        {"_id": ObjectId(), "memberIds": [*keys[2::7], "nobody", 5, None], **scope},
        {"_id": ObjectId(), "name": "Empty", "memberIds": "not a list", **scope},
    ]
    return out


def reader_for(server: Any, tenant: str | None = None) -> tuple[MongoClient, Reader]:
    client = MongoClient(server.uri, tz_aware=True)
    env = {"MONGODB_URI": server.uri}
    if tenant:
        env["LIBRECHAT_TENANT_ID"] = tenant
    return client, Reader.from_settings(client, load(env)).at(NOW)  # what has expired at NOW is hidden


def report_of(reader: Reader, zone: str, start: date, end: date, **kwargs: Any) -> dict[str, Any]:
    source = compute.resolve_token_source(reader, kwargs.pop("token_source", "auto"))
    src = compute.Source(reader, zone, source, tally.agent_models(reader), **kwargs)
    return build.build(src, start, end, now=NOW, tenant=reader.tenant)


@pytest.fixture(scope="module", params=PROFILES)
def served(request):
    collections = with_groups(
        generate(
            profile=request.param, seed=21, n_messages=900, now=NOW, zones=ZONES, history_days=45
        ).collections
    )
    server = start_mongoeco(collections)
    client, reader = reader_for(server)
    yield collections, reader, server
    client.close()
    server.stop()


# --- comparing -------------------------------------------------------------------------------------


def same(got: Any, want: Any) -> bool:
    if isinstance(want, Fraction):
        want = float(want)
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want


def assert_report_equals(report: dict[str, Any], want: dict[str, Any]) -> None:
    """Every oracle number equals the report's (floats to 1e-9), and the rows are the same."""
    for field, value in want["totals"].items():
        assert same(report["totals"][field], value), f"totals.{field}: {report['totals'][field]} != {value}"
    for section, ident in IDS.items():
        got = {row[ident]: row for row in report[section]}
        assert set(got) == set(want[section]), f"{section}: {sorted(got)} != {sorted(want[section])}"
        for key, fields in want[section].items():
            for field, value in fields.items():
                assert same(got[key][field], value), f"{section}[{key}].{field}: {got[key][field]} != {value}"


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_report_equals_the_oracle_on_every_profile(served, zone):
    collections, reader, _ = served
    report = report_of(reader, zone, START, END)
    assert_report_equals(report, report_numbers(collections, START, END, zone, "auto", now=NOW))
    totals = report["totals"]
    assert totals["messages"] > 100 and totals["replies"] > 0 and totals["active_users"] > 0  # not empty
    assert report["groups"] and report["groups"][-1]["group"] == "(no group)"
    assert math.isclose(totals["spend_usd"], sum(m["spend_usd"] for m in report["models"]), abs_tol=1e-9)
    assert 0 <= totals["error_share"] <= 1
    assert not report["range"]["partial"]


@pytest.mark.parametrize("chunk", [1, 3])
def test_reading_a_day_or_three_per_query_changes_nothing(served, monkeypatch, chunk):
    """Week spans are sums of day spans: read day by day (as the history) or 3 days at a time (chunk
    edges inside Berlin's month edge), the report still equals the oracle's."""
    collections, reader, _ = served
    monkeypatch.setattr(build, "CHUNK_DAYS", chunk)
    assert len(build.chunks(START, END)) == -(-10 // chunk)
    report = report_of(reader, "Europe/Berlin", START, END)
    assert_report_equals(report, report_numbers(collections, START, END, "Europe/Berlin", "auto", now=NOW))


def test_messages_token_source_equals_the_oracle(served):
    collections, reader, _ = served
    report = report_of(reader, "Europe/Berlin", START, END, token_source="messages")
    assert report["range"]["token_source"] == "messages"
    assert_report_equals(
        report, report_numbers(collections, START, END, "Europe/Berlin", "messages", now=NOW)
    )


def test_a_range_of_one_day_equals_the_history_row_of_that_day(served):
    """The report folds the history's day rows: over one day, its per-model spend is that day's
    daily_cost_by_model and its replies that day's daily_messages_by_model."""
    _, reader, _ = served
    day = date(2025, 3, 10)
    src = compute.Source(
        reader, "UTC", compute.resolve_token_source(reader, "auto"), tally.agent_models(reader)
    )
    rows = compute.day_rows(src, day)
    report = build.build(src, day, day, now=NOW)
    models = {m["model"]: m for m in report["models"]}
    for _, model, usd, read, write in rows["daily_cost_by_model"]:
        assert same(models[model]["spend_usd"], usd) and models[model]["cache_read_tokens"] == read
        assert models[model]["cache_write_tokens"] == write
    for _, model, n in rows["daily_messages_by_model"]:
        assert models[model]["replies"] == n
    assert report["totals"]["active_users"] == rows["daily_users"][0][1]


def test_tenant_scope_equals_the_oracle_over_that_tenant_alone():
    collections = with_groups(
        generate(
            profile="v0.8.7", seed=5, n_messages=600, now=NOW, zones=ZONES, history_days=30, tenants=2
        ).collections
    )
    server = start_mongoeco(collections)
    try:
        client, reader = reader_for(server, "tenant-main")
        try:
            report = report_of(reader, "UTC", START, END)
        finally:
            client.close()
    finally:
        server.stop()
    assert report["range"]["tenant"] == "tenant-main"
    assert_report_equals(
        report, report_numbers(only_tenant(collections, "tenant-main"), START, END, "UTC", now=NOW)
    )
    everyone = report_numbers(collections, START, END, "UTC", now=NOW)
    assert report["totals"]["messages"] < everyone["totals"]["messages"]  # the other tenant is left out


@pytest.mark.parametrize("token_source", ["transactions", "messages"])
def test_malformed_values_never_break_the_report_and_still_equal_the_oracle(token_source):
    """Every odd BSON value of the malformed corpus (strings for numbers, NaN, arrays, documents...),
    and groups whose names and memberIds are odd too."""
    now = datetime(2025, 3, 20, 12, tzinfo=timezone.utc)
    data = generate(
        profile="v0.8.7", seed=5, n_messages=300, now=now, zones=ZONES, history_days=10
    ).collections
    for name, docs in malformed_corpus(now, seed=3).items():
        data.setdefault(name, []).extend(docs)
    data = with_groups(data)
    data["groups"] += [
        {"_id": ObjectId(), "name": {"a": 1}, "memberIds": [[1], {"x": 2}]},
        {"_id": ObjectId()},
    ]
    server = start_mongoeco(data)
    try:
        client, reader = reader_for(server)
        try:
            report = report_of(
                reader, "Europe/Berlin", date(2025, 3, 10), date(2025, 3, 20), token_source=token_source
            )
            for fmt in render.FORMATS:
                render.render(report, fmt)
        finally:
            client.close()
    finally:
        server.stop()
    assert_report_equals(
        report,
        report_numbers(data, date(2025, 3, 10), date(2025, 3, 20), "Europe/Berlin", token_source, now=NOW),
    )


# --- hand-worked range edges -------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def edge_collections() -> dict[str, list[dict]]:
    """Four question/reply pairs around 2025-04-01 (Berlin is UTC+2 since 2025-03-30): a reply of
    model gpt-a at 2025-03-31 21:59:59Z (Berlin 23:59:59 on the 31st), 22:00:00Z (Berlin 00:00 on the
    1st), 23:59:59Z and 2025-04-01 00:00:00Z; each reply's transaction costs 1, 2, 4, 8 USD. Users u0
    (registered 2025-03-01), u1 (registered 2025-04-01 00:30Z) and u2 (registered 2025-03-31 22:30Z)."""
    users = [
        {"_id": ObjectId.from_datetime(at("2025-03-01 10:00:00")), "email": "u0@x"},
        {"_id": ObjectId.from_datetime(at("2025-04-01 00:30:00")), "email": "u1@x", "idOnTheSource": "e1"},
        {"_id": ObjectId.from_datetime(at("2025-03-31 22:30:00")), "email": "u2@x"},
    ]
    hexes = [str(u["_id"]) for u in users]
    stamps = ["2025-03-31 21:59:59", "2025-03-31 22:00:00", "2025-03-31 23:59:59", "2025-04-01 00:00:00"]
    who = [0, 2, 1, 0]
    messages, transactions, conversations = [], [], []
    for i, stamp in enumerate(stamps):
        when = at(stamp)
        asked = when - timedelta(seconds=4 * (i + 1))
        conv = f"c{i}"
        conversations.append(
            {"_id": ObjectId(), "conversationId": conv, "user": hexes[who[i]], "createdAt": asked}
        )
        messages.append(
            {"_id": ObjectId(), "messageId": f"q{i}", "conversationId": conv, "parentMessageId": None,
             "isCreatedByUser": True, "sender": "User", "user": hexes[who[i]], "createdAt": asked,
             "tokenCount": 10, "endpoint": "openAI"}
        )  # fmt: skip
        messages.append(
            {"_id": ObjectId(), "messageId": f"r{i}", "conversationId": conv, "parentMessageId": f"q{i}",
             "isCreatedByUser": False, "sender": "GPT", "model": "gpt-a", "user": hexes[who[i]],
             "createdAt": when, "tokenCount": 5, "endpoint": "openAI", "error": i == 1}
        )  # fmt: skip
        transactions.append(
            {"_id": ObjectId.from_datetime(when), "user": users[who[i]]["_id"], "model": "gpt-a",
             "tokenType": "completion", "rawAmount": -100 * (i + 1), "tokenValue": -1_000_000 * 2**i,
             "conversationId": conv, "messageId": f"r{i}"}
        )  # fmt: skip
    groups = [{"_id": ObjectId(), "name": "Ops", "memberIds": ["e1", hexes[2]]}]
    return {
        "users": users, "messages": messages, "transactions": transactions, "conversations": conversations,
        "agents": [], "groups": groups,
    }  # fmt: skip


@pytest.fixture(scope="module")
def edges():
    collections = edge_collections()
    server = start_mongoeco(collections)
    client, reader = reader_for(server)
    yield collections, reader
    client.close()
    server.stop()


@pytest.mark.parametrize(
    ("zone", "messages", "replies", "errors", "spend", "active", "new", "returning", "ops_spend", "p50"),
    [
        # UTC 2025-04-01: only the reply at 00:00:00Z (its question, 16 s before, is on the 31st; the
        # wait counts on the reply's day), 8 USD, u0; u1 registered that day but sent nothing
        ("UTC", 1, 1, 0, 8.0, 1, 1, 1, 0.0, 16.0),
        # Berlin 2025-04-01 = 22:00Z on the 31st to 22:00Z on the 1st: replies 2, 3, 4 and the questions
        # of 3 and 4 (reply 2's question is at 21:59:52Z); 2 + 4 + 8 USD; u2, u1, u0 active; u2 and u1
        # registered in it, so only u0 returns; Ops = u1 (by its idOnTheSource e1) and u2 (by its id);
        # waits 8, 12, 16 s: p50 is the 2nd
        ("Europe/Berlin", 5, 3, 1, 14.0, 3, 2, 1, 6.0, 12.0),
    ],
)
def test_range_edges_by_hand(
    edges, zone, messages, replies, errors, spend, active, new, returning, ops_spend, p50
):
    collections, reader = edges
    day = date(2025, 4, 1)
    report = report_of(reader, zone, day, day)
    totals = report["totals"]
    assert (totals["replies"], totals["error_replies"], totals["active_users"]) == (replies, errors, active)
    assert (totals["new_users"], totals["returning_users"]) == (new, returning)
    assert totals["spend_usd"] == spend and totals["messages"] == messages
    assert totals["error_share"] == errors / replies
    (model,) = report["models"]
    assert (model["model"], model["replies"], model["spend_usd"], model["p50_seconds"]) == (
        "gpt-a",
        replies,
        spend,
        p50,
    )
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["Ops"]["members"] == 2 and groups["Ops"]["spend_usd"] == ops_spend
    assert groups["(no group)"]["members"] == 1 and groups["(no group)"]["spend_usd"] == spend - ops_spend
    assert_report_equals(report, report_numbers(collections, day, day, zone))


def test_today_is_partial_and_says_so(edges):
    _, reader = edges
    src = compute.Source(reader, "UTC", "transactions", {})
    now = at("2025-04-01 12:00:00")
    report = build.build(src, date(2025, 4, 1), date(2025, 4, 1), now=now)
    assert report["range"]["partial"] is True and report["range"]["to_utc"] == "2025-04-01T12:00:00+00:00"
    assert "PARTIAL" in render.render(report, "text")


def test_top_users_only_with_user_details(edges):
    _, reader = edges
    day = date(2025, 4, 1)
    assert "top_users" not in report_of(reader, "Europe/Berlin", day, day)
    top = report_of(reader, "Europe/Berlin", day, day, user_details=True)["top_users"]
    assert [(u["email"], u["spend_usd"]) for u in top] == [("u0@x", 8.0), ("u1@x", 4.0), ("u2@x", 2.0)]


# --- formats ---------------------------------------------------------------------------------------


def hostile(report: dict[str, Any]) -> dict[str, Any]:
    """The report with names that are long, or carry markup, pipes, quotes and commas."""
    out = copy.deepcopy(report)
    out["models"][0]["model"] = "m" * 200
    agent = {"agent_id": "agent_<script>", "name": 'A|"b",c' + "x" * 150, "model": None, "replies": 10**9}
    out["agents"].append({**agent, "errors": 0, "users": 1, "spend_usd": 12345.678})
    out["groups"][0]["group"] = "<b>Dept</b> & co" + "y" * 190
    return out


@pytest.mark.parametrize("fmt", render.FORMATS)
def test_every_format_renders(served, fmt):
    _, reader, _ = served
    report = hostile(report_of(reader, "UTC", START, END, user_details=True))
    out = render.render(report, fmt)
    assert out.endswith("\n") and report["models"][1]["model"] in out
    if fmt == "text":
        assert all(len(line) <= 100 for line in out.splitlines()), max(out.splitlines(), key=len)
        assert "Per model" in out and "Per group" in out and "Top users" in out
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and "<svg" in out and "<rect" in out
        assert "src=" not in out and "href=http" not in out.replace(" ", "") and "url(" not in out
        assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;b&gt;Dept" in out
    elif fmt == "json":
        data = json.loads(out)
        assert data == json.loads(json.dumps(report))
        assert isinstance(data["totals"]["spend_usd"], float)
        for section, fields in {
            "models": ("model", "replies", "errors", "input_tokens", "output_tokens", "spend_usd"),
            "agents": ("agent_id", "name", "model", "replies", "users", "spend_usd"),
            "groups": ("group", "members", "active_users", "spend_usd"),
        }.items():
            assert data[section] and all(set(fields) <= set(row) for row in data[section])
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["section", "key", "field", "value"] and all(len(r) == 4 for r in rows)
        spend = [r for r in rows if r[0] == "totals" and r[2] == "spend_usd"]
        assert float(spend[0][3]) == report["totals"]["spend_usd"]
        models = {r[1] for r in rows if r[0] == "models"}
        assert models == {m["model"] for m in report["models"]}
    else:  # markdown: one table per section, pipes in names escaped
        assert "## Per model" in out and "| Model | Replies |" in out and 'A\\|"b",c' in out
        tables = [line for line in out.splitlines() if line.startswith("|")]
        header = next(line for line in tables if line.startswith("| Agent |"))
        agent_rows = [line for line in tables if line.startswith("| agent_")]
        assert all(line.replace("\\|", "").count("|") == header.count("|") for line in agent_rows)


# --- the command -----------------------------------------------------------------------------------


def run_report(server: Any, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "export_metrics.py"), "--report", *args],
        cwd=ROOT,
        env=clean_env(MONGODB_URI=server.uri, LOGGING_LEVEL="warning", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_command_prints_json_without_a_sql_database(served):
    collections, _, server = served
    # an unreachable SQL database: the report never opens it
    done = run_report(
        server, "--format", "json", str(START), str(END), TIMEZONE="Europe/Berlin",
        HISTORY_DATABASE_URL="mysql://nobody@127.0.0.1:1/none",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "\r[" not in done.stderr  # no bar when stderr is no terminal
    report = json.loads(done.stdout)
    assert report["range"]["timezone"] == "Europe/Berlin"
    want = report_numbers(collections, START, END, "Europe/Berlin")
    assert same(report["totals"]["spend_usd"], want["totals"]["spend_usd"])


def test_progress_bar_on_a_terminal(served):
    _, _, server = served
    main, child = pty.openpty()
    command = [sys.executable, str(ROOT / "export_metrics.py"), "--report", str(START), str(END)]
    env = clean_env(MONGODB_URI=server.uri, LOGGING_LEVEL="warning")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=child)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.wait(timeout=300) == 0
    bar = b"".join(chunks).decode(errors="replace")
    # 10 days = 2 reads (7 + 3 days), then users, models and agents, groups
    assert "\r[" in bar and "5/5" in bar and "Traceback" not in bar, bar
    assert out.startswith("LibreChat report 2025-03-02 to 2025-03-11") and "\r" not in out


@pytest.mark.parametrize(
    "args",
    [("--csv", "daily_users", "2025-03-01", "2025-03-02"), ("--force", "2025-03-01", "2025-03-02"),
     ("--format", "pdf", "2025-03-01", "2025-03-02"), ("2099-01-01", "2099-01-02")],
)  # fmt: skip
def test_bad_report_arguments_exit_2_with_one_line(served, args):
    _, _, server = served
    done = run_report(server, *args)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_this_week_and_month_end_today_in_the_zone():
    # Sunday 2025-03-30 23:30 UTC is Monday 01:30 in Berlin (summer time since that night)
    now = at("2025-03-30 23:30:00")
    week = argparse.Namespace(start=None, end=None, days=None, this="week")
    month = argparse.Namespace(start=None, end=None, days=None, this="month")
    assert cli.day_range(week, "UTC", now) == (date(2025, 3, 24), date(2025, 3, 30))
    assert cli.day_range(week, "Europe/Berlin", now) == (date(2025, 3, 31), date(2025, 3, 31))
    assert cli.day_range(month, "Europe/Berlin", now) == (date(2025, 3, 1), date(2025, 3, 31))
    with pytest.raises(ValueError, match="one of"):
        both = argparse.Namespace(start=date(2025, 3, 1), end=None, days=None, this="week")
        cli.day_range(both, "UTC", now)
