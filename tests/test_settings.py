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
    # MongoDB's rules for database names (issue #13, item 10): these used to end in a traceback.
    ("MONGODB_DATABASE", "a.b", "database name"),
    ("MONGODB_DATABASE", "$x", "database name"),
    ("MONGODB_DATABASE", "", "database name"),
    ("MONGODB_DATABASE", "x" * 64, "database name"),
    *(("MONGODB_DATABASE", f"Libre{char}Chat", "database name") for char in '/\\ "*<>:|?'),
    ("MONGODB_URI", "mongodb://u:p:x@mongodb/", "not a valid MongoDB URI"),
    ("MONGODB_URI", "mongodb://mongodb:99999/", "not a valid MongoDB URI"),
    ("MONGODB_URI", "mongodb+srv://cluster0.example.invalid:27017/", "not a valid MongoDB URI"),
    ("MONGODB_URI", "mongodb://mongodb/?readPreference=fastest", "not a valid MongoDB URI"),
    ("LOGGING_FORMAT", "%(", "log format"),
    ("LOGGING_FORMAT", "{message}", "log format"),
    ("LOGGING_FORMAT", "%(nosuchfield)s", "log format"),
    ("METRICS_LISTEN_ADDRESS", "0.0.0.0:8000", "IP address"),
    ("METRICS_LISTEN_ADDRESS", "http://localhost", "IP address"),
    ("METRICS_LISTEN_ADDRESS", "300.1.1.1", "IP address"),
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


def test_a_nul_in_the_database_name_is_refused() -> None:  # cannot be passed through the environment
    with pytest.raises(SettingError, match="database name"):
        load({"MONGODB_DATABASE": "Libre\0Chat"})


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


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGODB_URI", "mongodb://u:p:x@127.0.0.1:9/"),
        ("MONGODB_URI", "mongodb+srv://app:pw@cluster0.example.invalid:27017/"),
        ("MONGODB_URI", "mongodb://127.0.0.1:9/?tls=true&tlsCAFile=/nonexistent/ca.pem"),
        ("METRICS_LISTEN_ADDRESS", "0.0.0.0:8000"),
        ("MONGODB_DATABASE", "a.b"),
        ("LOGGING_FORMAT", "%("),
    ],
)
def test_check_config_catches_bad_values_with_one_line(name, value) -> None:
    result = run_cli(["--check-config"], {name: value}, timeout=20)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert name in result.stderr and result.stdout == ""
    assert "pw" not in result.stderr.replace(":***@", "")


def test_check_config_never_resolves_a_srv_name() -> None:
    # cluster0.example.invalid cannot resolve: any DNS lookup would fail the check.
    env = {"MONGODB_URI": "mongodb+srv://app:secret-pw@cluster0.example.invalid/?appName=x"}
    result = run_cli(["--check-config"], env, timeout=20)
    assert result.returncode == 0, result.stderr
    assert "MONGODB_URI='mongodb+srv://app:***@cluster0.example.invalid/?appName=x'" in result.stdout
    assert "secret-pw" not in result.stdout + result.stderr


def test_check_indexes_with_mongodb_unreachable_prints_one_line() -> None:
    env = {
        "MONGODB_URI": "mongodb://app:secret-pw@127.0.0.1:9/?directConnection=true",
        "MONGODB_TIMEOUT": "1",
    }
    result = run_cli(["--check-indexes"], env, timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("metrics.py: error: MongoDB at 127.0.0.1:9 database 'LibreChat': ")
    assert "Topology Description" not in lines[0] and "secret-pw" not in result.stderr
    assert len(lines[0]) < 300


def test_exporter_with_an_unresolvable_srv_name_exits_1_with_one_line() -> None:
    result = run_cli([], {"MONGODB_URI": "mongodb+srv://app:secret-pw@cluster0.example.invalid/"}, timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cluster0.example.invalid (SRV)" in lines[0], result.stderr
    assert "secret-pw" not in result.stderr


def test_check_config_loads_the_tls_key_of_the_uri(tmp_path) -> None:
    key = tmp_path / "client.pem"
    key.write_text("not a certificate\n")
    env = {
        "MONGODB_URI": f"mongodb://127.0.0.1:9/?tls=true&tlsCertificateKeyFile={key}&tlsCertificateKeyFilePassword=pw-x"
    }
    result = run_cli(["--check-config"], env, timeout=20)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("metrics.py: error: MONGODB_URI: "), result.stderr
    assert "pw-x" not in result.stderr and result.stdout == ""
