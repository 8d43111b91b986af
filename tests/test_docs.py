"""The README documents every metric and setting exactly as the code declares them."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from librechat_metrics.settings import SETTINGS
from librechat_metrics.synthetic import generate
from scripts.metrics_table import table
from tests.support.exporter import start_exporter
from tests.support.mongo import start_mongoeco

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_metric_table_is_generated_from_the_declarations():
    block = re.search(r"<!-- metrics-table:start -->\n(.*?)\n<!-- metrics-table:end -->", README, re.S)
    assert block and block.group(1).strip() == table().strip(), "run scripts/metrics_table.py into README.md"


def test_readme_and_env_example_list_every_setting():
    example = (ROOT / ".env.example").read_text()
    for setting in SETTINGS:
        assert f"`{setting.env}`" in README
        assert f"# {setting.env}=" in example


# --- the README's four questions, each one command, run as written ---------------------------------

QUESTIONS = re.search(r"<!-- questions:start -->\n(.*?)<!-- questions:end -->", README, re.S)


def question_commands() -> dict[str, str]:
    """The README's questions -> the one shell command that answers each."""
    assert QUESTIONS, "README: the questions section"
    found = re.findall(r"\*\*(.+?)\*\*.*?```sh\n(.+?)\n```", QUESTIONS.group(1), re.S)
    return {question: command for question, command in found}


def test_the_questions_come_right_after_the_demo_and_each_is_one_command():
    commands = question_commands()
    assert list(commands) == [
        "What did LibreChat cost this week, per model?",
        "Which agents are used most, and by how many users?",
        "Is it healthy?",
        "What does each department cost?",
    ]
    assert all("\n" not in command for command in commands.values())
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[headings.index("Quick start") + 1] == "Four questions, one command each"


@pytest.fixture(scope="module")
def librechat():
    """A LibreChat MongoDB with this week's and this month's activity (agents, groups), and an exporter
    on it: what the commands meet on a real installation."""
    now = datetime.now(timezone.utc)
    data = generate(profile="v0.8.8", seed=8, n_messages=500, now=now, zones=("UTC",), history_days=40)
    server = start_mongoeco(data.collections)
    exporter = start_exporter(server.uri, {"TIMEZONE": "UTC"})
    try:
        exporter.wait_ready()
        yield server, exporter
    finally:
        exporter.stop()
        server.stop()


def shell(command: str, server, exporter) -> str:
    """Run a README command: `python` is this checkout's interpreter, localhost:8000 the exporter."""
    command = re.sub(r"^python ", f"{sys.executable} ", command)
    command = command.replace("localhost:8000", f"127.0.0.1:{exporter.port}")
    env = {"PATH": os.environ["PATH"], "MONGODB_URI": server.uri, "TIMEZONE": "UTC"}
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="the README's commands use jq")
def test_each_question_is_answered_by_its_command(librechat):
    server, exporter = librechat
    commands = question_commands()
    answers = {q: shell(c, server, exporter).splitlines() for q, c in commands.items()}
    reports = {}
    for span in ("week", "month"):
        command = f"python export_metrics.py --report --this {span} --format json"
        reports[span] = json.loads(shell(command, server, exporter))
    week, month = reports["week"], reports["month"]

    def rows(report_rows: list[dict], *fields: str) -> list[tuple]:
        return [tuple(row[f] for f in fields) for row in report_rows]

    def read(lines: list[str]) -> list[tuple]:
        """jq's tab-separated lines, numbers as numbers (jq writes floats its own way)."""
        return [tuple(json.loads(v) if re.fullmatch(r"-?[\d.e+-]+", v) else v for v in line.split("\t"))
                for line in lines]  # fmt: skip

    def same(got: list[tuple], want: list[tuple]) -> bool:
        return len(got) == len(want) and all(
            len(g) == len(w)
            and all(a == b or math.isclose(a, b, rel_tol=1e-12) for a, b in zip(g, w, strict=True))
            for g, w in zip(got, want, strict=True)
        )

    q1 = read(answers["What did LibreChat cost this week, per model?"])
    assert same(q1, rows(week["models"], "model", "spend_usd"))
    agents = sorted(month["agents"], key=lambda a: -a["replies"])
    q2 = read(answers["Which agents are used most, and by how many users?"])
    assert same(q2, rows(agents, "name", "model", "replies", "users"))
    assert answers["Is it healthy?"] == ["ready"]
    q4 = read(answers["What does each department cost?"])
    assert same(q4, rows(month["groups"], "group", "members", "active_users", "spend_usd"))
    assert q1 and q2 and any(g[3] for g in q4)  # the data has this week's spend, agents, groups
