"""MONGODB_URI: its options win over the settings (issue #13, item 3) and its secrets never show (item 8)."""

from __future__ import annotations

import pytest
from pymongo.read_preferences import Primary, SecondaryPreferred

from librechat_metrics import uri
from librechat_metrics.mongo import connect
from librechat_metrics.settings import load
from tests.support.exporter import run_cli


def client_for(mongo_uri: str, **settings: str):
    return connect(load({"MONGODB_URI": mongo_uri, **settings}))


def test_settings_are_the_defaults_when_the_uri_says_nothing():
    with client_for("mongodb://127.0.0.1:9/", MONGODB_TIMEOUT="3") as client:
        options = client.options
        assert options.server_selection_timeout == 3.0
        assert options.pool_options.connect_timeout == 3.0
        assert options.read_preference == SecondaryPreferred()
        assert options.pool_options.metadata["application"] == {"name": "librechat-metrics"}
        assert options.retry_reads is False


@pytest.mark.parametrize(
    ("query", "effective", "value"),
    [
        ("serverSelectionTimeoutMS=1000", lambda o: o.server_selection_timeout, 1.0),
        ("connectTimeoutMS=1500", lambda o: o.pool_options.connect_timeout, 1.5),
        ("socketTimeoutMS=7000", lambda o: o.pool_options.socket_timeout, 7.0),
        ("readPreference=primary", lambda o: o.read_preference, Primary()),
        ("appName=ops-dashboard", lambda o: o.pool_options.metadata["application"]["name"], "ops-dashboard"),
        ("retryReads=true", lambda o: o.retry_reads, True),
        ("SERVERSELECTIONTIMEOUTMS=1000", lambda o: o.server_selection_timeout, 1.0),  # any case
    ],
)
def test_an_option_written_in_the_uri_wins_over_the_setting(query, effective, value):
    with client_for(f"mongodb://127.0.0.1:9/?{query}", MONGODB_TIMEOUT="5") as client:
        assert effective(client.options) == value


def test_tls_options_of_the_uri_are_used():
    mongo_uri = "mongodb://127.0.0.1:9/?tls=true&tlsAllowInvalidHostnames=true"
    with client_for(mongo_uri) as client:
        context = client.options.pool_options._ssl_context
        assert context is not None and context.check_hostname is False
    with client_for("mongodb://127.0.0.1:9/") as client:
        assert client.options.pool_options._ssl_context is None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("mongodb://app:hunter2@h:27017/?authSource=admin", "mongodb://app:***@h:27017/?authSource=admin"),
        # Only the secret is masked, not the same text elsewhere (user adv_rw_user, password rw).
        ("mongodb://adv_rw_user:rw@h/", "mongodb://adv_rw_user:***@h/"),
        (
            "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=pem-pass&appName=x",
            "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***&appName=x",
        ),
        (
            "mongodb://k:s@h/?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:FwoGZXIvYXdz",
            "mongodb://k:***@h/?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:***",
        ),
        (
            "mongodb://h/?proxyHost=p&proxyUsername=u&proxyPassword=pp",
            "mongodb://h/?proxyHost=p&proxyUsername=u&proxyPassword=***",
        ),
        ("mongodb+srv://u:p%40ss@cluster.example.com/db", "mongodb+srv://u:***@cluster.example.com/db"),
        ("mongodb://user@h/", "mongodb://user@h/"),
        # Unescaped /, ? or @ in a password: pymongo rejects the URI, and the error line shows it masked.
        ("mongodb://u:pa/ss@h/", "mongodb://u:***@h/"),
        ("mongodb://u:pa?ss@h/", "mongodb://u:***@h/"),
        ("mongodb://u:p@ss@h/?w=1", "mongodb://u:***@h/?w=1"),
        (
            "mongodb://h/?authMechanismProperties=SERVICE_NAME:a@b",
            "mongodb://h/?authMechanismProperties=SERVICE_NAME:a@b",
        ),
        ("mongodb://h1:1,h2:2/?replicaSet=rs", "mongodb://h1:1,h2:2/?replicaSet=rs"),
    ],
)
def test_redact_masks_each_secret_value_only(raw, shown):
    assert uri.redact(raw) == shown


def test_check_config_hides_secret_query_options():
    mongo_uri = (
        "mongodb://app:pw-one@127.0.0.1:9/?tls=true&tlsCertificateKeyFilePassword=pem-two"
        "&authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:token-three"
    )
    result = run_cli(["--check-config"], {"MONGODB_URI": mongo_uri}, timeout=20)
    assert result.returncode == 0, result.stderr
    for secret in ("pw-one", "pem-two", "token-three"):
        assert secret not in result.stdout + result.stderr
    assert "tlsCertificateKeyFilePassword=***" in result.stdout
    assert "authMechanismProperties=AWS_SESSION_TOKEN:***'" in result.stdout  # whole, not cut at 80


def test_hosts_names_the_servers_without_dns():
    assert uri.hosts("mongodb://u:p@a:1,b/?replicaSet=rs") == "a:1,b:27017"
    assert uri.hosts("mongodb+srv://u:p@cluster0.example.invalid/") == "cluster0.example.invalid (SRV)"


@pytest.mark.parametrize(
    "raw",
    [
        "mongodb://h:99999/",
        "mongodb://u:p:x@h/",
        "mongodb://h/a b",
        "mongodb+srv://cluster.example.invalid:27017/",
        "mongodb://h/?readPreference=fastest",
        "mongodb://h/?serverSelectionTimeoutMS=soon",
    ],
)
def test_malformed_uris_are_rejected_without_connecting(raw):
    with pytest.raises(ValueError, match="not a valid MongoDB URI"):
        uri.parse(raw)


@pytest.mark.parametrize("raw", ["mongodb://u:pa/qz9@h/", "mongodb://u:pa?qz9@h/", "mongodb://u:p@qz9@h/"])
def test_a_rejected_uri_shows_no_piece_of_its_password(raw):
    with pytest.raises(ValueError) as caught:
        uri.parse(raw)
    assert "qz9" not in str(caught.value)
