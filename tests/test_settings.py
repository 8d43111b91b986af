"""Settings: every bad value exits 2 with one line naming the variable; --help lists them all."""

from __future__ import annotations

import pytest

from librechat_metrics.settings import SETTINGS, SettingError, load
from tests.support.exporter import run_cli

BAD = [
    ("METRICS_PORT", "abc", "port number"),
    ("METRICS_PORT", "70000", "port number"),
    ("METRICS_CACHE_TTL", "0", "number"),
    ("METRICS_CACHE_TTL", "soon", "number"),
    ("METRICS_RESYNC_INTERVAL", "-5", "number"),
    ("METRICS_LABEL_LIMIT", "0", "number"),
    ("MONGODB_QUERY_TIMEOUT", "nan", "number"),
    ("ENABLE_TOKEN_METRICS", "maybe", "true/false"),
    ("ENABLE_RATING_METRICS", "", "true/false"),
    ("TIMEZONE", "Mars/Base", "time zone"),
    ("LOGGING_LEVEL", "loud", "debug, info"),
    ("MONGODB_URI", "http://mongodb:27017/", "mongodb://"),
    ("MONGODB_READ_PREFERENCE", "fastest", "one of"),
    ("TOKEN_SOURCE", "billing", "one of"),
    ("WEB_CONFIG_FILE", "/nonexistent/web.yml", "readable file"),
]


@pytest.mark.parametrize(("name", "value", "expect"), BAD)
def test_bad_setting_exits_2_with_one_line(name: str, value: str, expect: str) -> None:
    result = run_cli([], {name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and expect in lines[0]


def test_defaults_match_the_seed() -> None:
    settings = load({})
    assert settings.mongodb_uri == "mongodb://mongodb:27017/"
    assert settings.mongodb_database == "LibreChat"
    assert settings.metrics_port == 8000 and settings.metrics_listen_address == "0.0.0.0"
    assert settings.logging_level == "INFO" and settings.metrics_cache_ttl == 60
    assert settings.timezone == "UTC" and settings.token_source == "auto"
    assert all(
        settings.enabled(g)
        for g in ("basic", "token", "user", "model", "time_window", "rating", "tool", "file")
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("yes", True), ("TRUE", True), ("off", False), ("0", False), ("No", False)],
)
def test_booleans_accept_the_usual_spellings(raw: str, expected: bool) -> None:
    assert load({"ENABLE_TOOL_METRICS": raw}).enabled("tool") is expected


def test_error_message_names_variable_and_value() -> None:
    with pytest.raises(SettingError, match=r"^METRICS_PORT='x': expected a port number from 1 to 65535$"):
        load({"METRICS_PORT": "x"})


def test_help_lists_every_setting() -> None:
    result = run_cli(["--help"])
    assert result.returncode == 0
    for setting in SETTINGS:
        assert setting.env in result.stdout


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice"),
        ("basic_auth_users: [alice]\n", "basic_auth_users: expected a mapping"),
        ("bearer_auth_tokens: $2b$12$abc\n", "bearer_auth_tokens: expected a list"),
        ("tls_server_config: yes\n", "tls_server_config: expected a mapping"),
        ("basic_auth_user:\n  alice: $2b$12$abc\n", "unknown key 'basic_auth_user'"),  # a typo: not open
    ],
)
def test_bad_web_config_exits_2(tmp_path, text, named) -> None:
    path = tmp_path / "web.yml"
    path.write_text(text)
    result = run_cli([], {"WEB_CONFIG_FILE": str(path)})
    assert result.returncode == 2
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_rejected_uri_is_shown_without_its_password() -> None:
    result = run_cli([], {"MONGODB_URI": "http://admin:topsecret@mongodb:27017/"})
    assert result.returncode == 2
    assert "topsecret" not in result.stderr and "admin:***@" in result.stderr


def test_check_config_prints_the_effective_settings_without_connecting(tmp_path) -> None:
    # Nothing listens on port 9; --check-config must not try.
    env = {"MONGODB_URI": "mongodb://admin:topsecret@127.0.0.1:9/", "METRICS_LABEL_LIMIT": "50"}
    result = run_cli(["--check-config"], env, timeout=10)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [s.env for s in SETTINGS]
    assert "MONGODB_URI='mongodb://admin:***@127.0.0.1:9/'" in lines
    assert "METRICS_LABEL_LIMIT='50'" in lines
    assert "topsecret" not in result.stdout + result.stderr


def test_check_config_fails_on_a_broken_web_config(tmp_path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users: [not, a, mapping]\n")
    result = run_cli(["--check-config"], {"WEB_CONFIG_FILE": str(path)}, timeout=10)
    assert result.returncode == 2
    assert result.stderr.startswith("metrics.py: error: WEB_CONFIG_FILE") and result.stdout == ""
