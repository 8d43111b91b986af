"""History export without databases: arguments, settings, URLs, ranges, and the compose/Grafana files."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml

from librechat_metrics.history import cli, sql
from tests.support.grafana import importable

ROOT = Path(__file__).resolve().parents[1]
HA = ROOT / "historic-analysis"
OWN_SETTINGS = re.compile(r"^(MONGODB_|MYSQL_|HISTORY_|TIMEZONE$|TOKEN_SOURCE$|LOGGING_)")


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without any setting the export reads, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not OWN_SETTINGS.match(k)}
    return {**env, **extra}


def run_cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "export_metrics.py"), *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("2024-13-01", "2024-12-31"),
        ("2024-02-30", "2024-03-01"),
        ("2024-1-1", "2024-01-31"),
        ("20240101", "20240131"),
        ("yesterday", "today"),
        ("2024-03-02", "2024-03-01"),
        ("2024-03-01",),
        (),
        ("--days", "0"),
        ("--days", "x"),
        ("--days", "3", "2024-03-01", "2024-03-02"),
        ("--days", "99999"),
        ("1969-12-31", "1970-01-05"),
        ("--timezone", "Mars/Olympus", "--days", "1"),
        ("2024-01-01", "2024-01-02", "--bogus"),
    ],
)
def test_bad_arguments_exit_2_with_an_error_line(args, tmp_path):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "error:" in line], done.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MYSQL_PORT", "abc"),
        ("MYSQL_PORT", "70000"),
        ("HISTORY_DATABASE_URL", "ftp://user:hunter22@host/db"),
        ("HISTORY_DATABASE_URL", "mysql://user:hunter22@host:99999/db"),
        ("HISTORY_DATABASE_URL", "mysql://user:hunter22@host:3306/"),
        ("TIMEZONE", "Mars/Olympus"),
        ("TOKEN_SOURCE", "guess"),
        ("MONGODB_URI", "http://localhost"),
        ("MONGODB_DATABASE", "a.b"),
        ("MONGODB_DATABASE", "$x"),
        ("MONGODB_DATABASE", ""),
    ],
)
def test_bad_settings_exit_2_with_one_line_naming_the_variable(name, value, tmp_path):
    done = run_cli("2024-01-01", "2024-01-02", cwd=tmp_path, **{name: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], done.stderr
    assert "hunter22" not in done.stderr


def test_help_lists_the_arguments_and_settings(tmp_path):
    done = run_cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for word in ("--days", "--force", "--timezone", "START", "END"):
        assert word.lower() in done.stdout.lower()
    for setting in (
        "MONGODB_URI",
        "MONGODB_DATABASE",
        "TIMEZONE",
        "TOKEN_SOURCE",
        "HISTORY_DATABASE_URL",
        "MYSQL_HOST",
        "MYSQL_PORT",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "MYSQL_DATABASE",
    ):
        assert setting in done.stdout
    assert "'LibreChat'" in done.stdout  # the exporter's default database, not "librechat"


def test_runs_from_historic_analysis_and_reads_its_env_file(tmp_path):
    """`cd historic-analysis && python export_metrics.py` works, and .env in the working directory counts."""
    command = [sys.executable, "export_metrics.py", "--help"]
    done = subprocess.run(command, cwd=HA, env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 0 and "MYSQL_HOST" in done.stdout
    (tmp_path / ".env").write_text("MYSQL_PORT=not-a-port\n")
    done = run_cli("2024-01-01", "2024-01-02", cwd=tmp_path)
    assert done.returncode == 2 and "MYSQL_PORT" in done.stderr


def test_unreachable_databases_are_one_line_and_exit_1(tmp_path):
    """The SQL database is opened first (before any MongoDB work), so its line comes first."""
    done = run_cli(
        "2024-01-01",
        "2024-01-02",
        cwd=tmp_path,
        MONGODB_URI="mongodb://127.0.0.1:9/",
        MONGODB_TIMEOUT="0.5",
        HISTORY_DATABASE_URL="mysql://root:hunter22@127.0.0.1:9/nothing",
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SQL database" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert "repeat the run" in lines[0]  # unreachable: a later run may succeed
    assert "hunter22" not in done.stderr


def test_database_urls():
    my = sql.Target.from_url("mysql://me:p%40ss@db.local:3307/stats")
    assert (my.dialect, my.host, my.port, my.user, my.password, my.database) == (
        "mysql",
        "db.local",
        3307,
        "me",
        "p@ss",
        "stats",
    )
    assert "p@ss" not in my.describe() and "p%40ss" not in my.describe()
    assert sql.Target.from_url("mariadb://me@h/x").port == 3306
    pg = sql.Target.from_url("postgresql://me:secret@h:5433/x")
    assert pg.dialect == "postgresql" and pg.describe() == "postgresql://me@h:5433/x"
    assert pg.hide("connection to postgresql://me:secret@h:5433/x failed") == (
        "connection to postgresql://me:***@h:5433/x failed"
    )
    for bad in ("sqlite:///x.db", "mysql://h", "postgresql://h:5432", "mysql://me@h:0x/db"):
        with pytest.raises(ValueError):
            sql.Target.from_url(bad)


def test_the_password_is_hidden_only_where_it_stands_as_the_password():
    """Issue #13: user `adv_rw_user` with password `rw` was shown as `adv_***_user`."""
    target = sql.Target.from_url("mysql://adv_rw_user:rw@db.local:3306/rw_stats")
    denied = "Access denied for user 'adv_rw_user'@'10.0.0.5' (using password: YES) (error 1045)"
    assert target.hide(denied) == denied
    assert target.hide("rw_stats: mysql://adv_rw_user:rw@db.local:3306/rw_stats") == (
        "rw_stats: mysql://adv_rw_user:***@db.local:3306/rw_stats"
    )
    assert target.hide("host=db user=adv_rw_user password=rw dbname=rw_stats") == (
        "host=db user=adv_rw_user password=*** dbname=rw_stats"
    )
    assert target.hide("password='rw', user=adv_rw_user") == "password='***', user=adv_rw_user"
    odd = sql.Target.from_url("mysql://me:p%40ss%20w@h/x")
    assert odd.hide("mysql://me:p%40ss%20w@h/x password=p%40ss%20w") == "mysql://me:***@h/x password=***"


def test_days_after_today_are_refused_today_is_allowed():
    now = datetime(2025, 3, 30, 22, 30, tzinfo=timezone.utc)  # 31 March, 00:30, in Berlin
    for zone, today in (("UTC", date(2025, 3, 30)), ("Europe/Berlin", date(2025, 3, 31))):
        ok = argparse.Namespace(start=date(2025, 3, 1), end=today, days=None)
        assert cli.day_range(ok, zone, now) == (date(2025, 3, 1), today)
        tomorrow = date.fromordinal(today.toordinal() + 1)
        for start in (date(2025, 3, 1), tomorrow):
            bad = argparse.Namespace(start=start, end=tomorrow, days=None)
            with pytest.raises(ValueError, match="after today"):
                cli.day_range(bad, zone, now)


def test_a_future_day_exits_2_with_one_line_before_connecting(tmp_path):
    future = date.fromordinal(datetime.now(timezone.utc).date().toordinal() + 2).isoformat()
    done = run_cli("2024-01-01", future, cwd=tmp_path, MONGODB_URI="mongodb://127.0.0.1:9/")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "after today" in lines[0] and future in lines[0], done.stderr


def test_days_end_with_the_last_complete_local_day():
    # 22:30 UTC on 30 March 2025 is already 31 March, 00:30, in Berlin (summer time).
    now = datetime(2025, 3, 30, 22, 30, tzinfo=timezone.utc)
    args = argparse.Namespace(start=None, end=None, days=7)
    assert cli.day_range(args, "UTC", now) == (date(2025, 3, 23), date(2025, 3, 29))
    assert cli.day_range(args, "Europe/Berlin", now) == (date(2025, 3, 24), date(2025, 3, 30))
    explicit = argparse.Namespace(start=date(2024, 2, 28), end=date(2024, 3, 1), days=None)
    assert cli.day_range(explicit, "UTC", now) == (date(2024, 2, 28), date(2024, 3, 1))


def test_weeks_and_months_that_overlap_a_range():
    start, end = date(2025, 1, 15), date(2025, 3, 5)  # a Wednesday to a Wednesday
    weeks = cli.covering(start, end, cli.week_start, lambda d: d + (date(2025, 1, 8) - date(2025, 1, 1)))
    assert weeks[0] == date(2025, 1, 13) and weeks[-1] == date(2025, 3, 3) and len(weeks) == 8
    months = cli.covering(start, end, cli.month_start, cli.next_month)
    assert months == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]


# --- compose, init.sql and Grafana files -------------------------------------------------------------


def test_init_sql_creates_only_and_never_drops():
    text = (HA / "mariadb-init" / "init.sql").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    assert not re.search(r"\b(DROP|TRUNCATE|DELETE)\b", code, re.I)
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS `(\w+)`", code)
    assert tables == [t.name for t in (*sql.TABLES, sql.SCOPE, sql.PENDING, sql.ACTIVITY)]
    assert "BIGINT" in code and " INT " not in code


def test_compose_binds_loopback_and_takes_credentials_from_variables():
    compose = yaml.safe_load((HA / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["mariadb"]["image"].startswith("mariadb:")
    assert services["grafana"]["image"].startswith("grafana/grafana-oss")
    for service in services.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert str(value).startswith("${") and ":?" in str(value), (key, value)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (HA / source).exists(), source
    mounts = services["mariadb"]["volumes"]
    assert "./mariadb-init:/docker-entrypoint-initdb.d:ro" in mounts
    env_example = (HA / ".env.example").read_text()
    for variable in re.findall(r"\$\{(\w+):\?", (HA / "docker-compose.yml").read_text()):
        assert re.search(rf"^{variable}=", env_example, re.M), variable


def compose_value(text: str, env: dict[str, str]) -> str:
    """Docker Compose's interpolation of ${VAR}, ${VAR:-default} and ${VAR:?error} with `env`."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if env.get(name):
            return env[name]
        assert op != ":?", f"{name} is required"
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, text)


def test_the_export_container_does_not_get_the_hosts_loopback_uri():
    """Issue #13: .env.example's MONGODB_URI=mongodb://127.0.0.1:27017/ (right for the export on the host)
    reached the export container through compose's ${MONGODB_URI:-…}, where 127.0.0.1 is the container."""
    env = dict(re.findall(r"^(\w+)=(.*)$", (HA / ".env.example").read_text(), re.M))
    assert "127.0.0.1" in env["MONGODB_URI"]  # the host-side setting stays as it is
    compose = yaml.safe_load((HA / "docker-compose.yml").read_text())
    environment = compose["services"]["export"]["environment"]
    for name, value in environment.items():
        resolved = compose_value(str(value), env)
        assert "127.0.0.1" not in resolved and "localhost" not in resolved, (name, resolved)
    assert compose_value(environment["MONGODB_URI"], env) == "mongodb://mongodb:27017/"


def test_grafana_provisioning_points_at_the_dashboard_and_a_fixed_datasource_uid():
    prov = HA / "grafana" / "provisioning"
    datasources = yaml.safe_load((prov / "datasources" / "librechat-history.yml").read_text())
    datasource = datasources["datasources"][0]
    assert datasource["type"] == "mysql" and datasource["uid"] == "librechat-history"
    assert datasource["secureJsonData"]["password"].startswith("$")
    provider = yaml.safe_load((prov / "dashboards" / "librechat-history.yml").read_text())["providers"][0]
    compose = yaml.safe_load((HA / "docker-compose.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    target = mounts["./Grafana-Dashboard-template.json"]
    assert os.path.dirname(target) == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def dashboard() -> dict:
    return json.loads((HA / "Grafana-Dashboard-template.json").read_text())


def test_the_history_dashboard_is_importable():
    importable(dashboard(), "mysql")


def test_dashboard_uses_the_provisioned_datasource_and_time_macros_everywhere():
    dash = dashboard()
    (variable,) = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "mysql" and variable["current"]["value"] == "librechat-history"
    ref = {"type": "mysql", "uid": "${" + variable["name"] + "}"}
    shown = set()
    for panel in dash["panels"]:
        assert panel["datasource"] == ref, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ref, panel["title"]
            query = target["rawSql"]
            assert re.search(r"\$__time(Filter|From|To)\(", query), panel["title"]
            shown |= {t.name for t in sql.TABLES if re.search(rf"\b{t.name}\b", query)}
    assert shown == {t.name for t in sql.TABLES}
