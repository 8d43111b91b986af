"""The MongoDB URI: parsed without DNS, its options, its hosts for log lines, and redacted for display."""

from __future__ import annotations

import re
import warnings
from typing import Any
from urllib.parse import unquote_plus

from pymongo.errors import ConfigurationError, InvalidURI
from pymongo.uri_parser_shared import _validate_uri

# Query options whose value is a secret (compared in lower case); authMechanismProperties is handled
# per property below.
SECRET_OPTION = re.compile(r"password|passphrase|secret|token", re.I)
# authMechanismProperties keys whose values are not secrets (everything else, e.g. AWS_SESSION_TOKEN, is).
PUBLIC_PROPERTIES = frozenset(
    (
        "SERVICE_NAME",
        "SERVICE_REALM",
        "SERVICE_HOST",
        "CANONICALIZE_HOST_NAME",
        "ENVIRONMENT",
        "TOKEN_RESOURCE",
    )
)
MASK = "***"


def parse(uri: str) -> dict[str, Any]:
    """pymongo's own parse of `uri` (nodelist, database, options...) without resolving mongodb+srv in
    DNS. Options pymongo does not know are left out (MongoClient ignores them too) and listed under
    "unknown"; a known option with a bad value, which MongoClient would drop with a warning, is an
    error. Raises ValueError with pymongo's reason, never showing a secret."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parsed = _validate_uri(uri, validate=True, warn=True, normalize=True)
    except (InvalidURI, ConfigurationError, ValueError, TypeError, OSError) as err:  # OSError: tlsCAFile...
        raise ValueError(f"not a valid MongoDB URI: {_without_secrets(str(err), uri)}") from None
    messages = [_without_secrets(str(w.message), uri) for w in caught]
    invalid = [message for message in messages if not message.startswith("Unknown option")]
    if invalid:  # pymongo would warn and drop the option: an operator's setting silently ignored
        raise ValueError(f"not a valid MongoDB URI: {invalid[0]}")
    parsed["unknown"] = [message for message in messages if message.startswith("Unknown option")]
    return parsed


def options(uri: str) -> set[str]:
    """The lower-cased names of the options written in `uri` (those win over the settings)."""
    return {name.lower() for name in parse(uri)["options"]}


def hosts(uri: str) -> str:
    """The servers a URI names, for log lines: `host:port[,host:port]`, or the SRV name."""
    try:
        parsed = parse(uri)
    except ValueError:
        return "?"
    if parsed["fqdn"]:
        return f"{parsed['fqdn']} (SRV)"
    return ",".join(f"{host}:{port}" for host, port in parsed["nodelist"])


def redact(uri: str) -> str:
    """`uri` with every secret value replaced by ***: the password, secret query options
    (tlsCertificateKeyFilePassword, proxyPassword...) and authMechanismProperties values such as
    AWS_SESSION_TOKEN. Only those values are replaced, not the same text elsewhere."""
    return _redacted(uri)[0]


def redact_in(text: str) -> str:
    """`text` with every MongoDB URI in it redacted."""
    return re.sub(r"mongodb(\+srv)?://\S+", lambda m: redact(m.group(0)), text)


def _redacted(uri: str) -> tuple[str, list[str]]:
    """(the redacted URI, the secret values it hid)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri, []
    secrets: list[str] = []
    at = _userinfo_end(rest)
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        secrets += [password] if colon else []
        rest = f"{user}{colon}{MASK if colon else ''}{rest[at:]}"
    head, question, query = rest.partition("?")
    parts = []
    for part in re.split(r"([&;])", query):
        shown, hidden = _redact_option(part)
        parts.append(shown)
        secrets += hidden
    return f"{scheme}{sep}{head}{question}{''.join(parts)}", [s for s in secrets if s]


def _userinfo_end(rest: str) -> int:
    """Where the user info ends (its @), or -1. Errs towards masking: a password with an unescaped
    `/`, `?` or `@` (which pymongo rejects, so it shows in the error line) is still masked whole."""
    at = rest.rfind("@", 0, len(rest.split("?", 1)[0]))
    if at < 0:
        at = rest.rfind("@")
        if at >= 0 and "=" in rest[:at]:  # an @ in a query value, not user info
            at = -1
    return at


def _redact_option(part: str) -> tuple[str, list[str]]:
    name, eq, value = part.partition("=")
    if not eq:
        return part, []
    if name.lower() == "authmechanismproperties":
        props, hidden = [], []
        for prop in value.split(","):
            key, colon, secret = prop.partition(":")
            if colon and key.upper() not in PUBLIC_PROPERTIES:
                props.append(f"{key}:{MASK}")
                hidden.append(secret)
            else:
                props.append(prop)
        return f"{name}={','.join(props)}", hidden
    if SECRET_OPTION.search(name):
        return f"{name}={MASK}", [value]
    return part, []


def _without_secrets(message: str, uri: str) -> str:
    """pymongo's reason for rejecting `uri`, never quoting a secret of it (nor a piece of one: a
    password with an unescaped `/` reads as a database name "ss@h/")."""
    secrets = _redacted(uri)[1]
    if not secrets:
        return message
    if any(secret in message or unquote_plus(secret) in message for secret in secrets):
        return "it does not parse (details hidden: they quote a secret)"
    return re.sub(r'"[^"]*"|\'[^\']*\'', f'"{MASK}"', message)
