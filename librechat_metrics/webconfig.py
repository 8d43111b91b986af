"""Endpoint security from a web-config file in the format of Prometheus' exporter-toolkit.

Supported keys: `tls_server_config` (`cert_file`, `key_file`, `client_ca_file`, `client_auth_type`),
`basic_auth_users` (user: bcrypt hash) and, as an extension, `bearer_auth_tokens` (list of bcrypt
hashes of accepted bearer tokens). Verified credentials are cached by their SHA-256 so that bcrypt
runs once per credential, not once per scrape.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import yaml

_DUMMY_HASH = bcrypt.hashpw(b"dummy", bcrypt.gensalt(rounds=4))
CLIENT_AUTH = {
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
}


SECTIONS: dict[str, type] = {"tls_server_config": dict, "basic_auth_users": dict, "bearer_auth_tokens": list}


class WebConfigError(ValueError):
    """The web config cannot be used; the message says which key and why."""


@dataclass
class WebConfig:
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    client_auth_type: str = "NoClientCert"
    basic_users: dict[str, bytes] = field(default_factory=dict)
    bearer_hashes: list[bytes] = field(default_factory=list)
    _verified: set[bytes] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def auth_required(self) -> bool:
        return bool(self.basic_users or self.bearer_hashes)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.cert_file:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file:
            context.load_verify_locations(self.client_ca_file)
        if self.client_auth_type in {"RequireAnyClientCert", "RequireAndVerifyClientCert"}:
            context.verify_mode = ssl.CERT_REQUIRED
        elif self.client_auth_type != "NoClientCert":
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def authorized(self, header: str | None) -> bool:
        """Check an Authorization header against the basic users and bearer tokens."""
        if not self.auth_required:
            return True
        if not header:
            return False
        scheme, _, credential = header.partition(" ")
        digest = hashlib.sha256(header.encode("utf-8", "replace")).digest()
        with self._lock:
            if digest in self._verified:
                return True
        ok = False
        if scheme.lower() == "basic" and self.basic_users:
            ok = self._check_basic(credential.strip())
        elif scheme.lower() == "bearer" and self.bearer_hashes:
            token = credential.strip().encode()
            ok = any(bcrypt.checkpw(token, hashed) for hashed in self.bearer_hashes)
        if ok:
            with self._lock:
                self._verified.add(digest)
        return ok

    def _check_basic(self, credential: str) -> bool:
        try:
            user, _, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = next((h for name, h in self.basic_users.items() if hmac.compare_digest(name, user)), None)
        # Spend the same bcrypt time for unknown users, so timing does not reveal valid names.
        return bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None


def load_web_config(path: str) -> WebConfig:
    """Read and check a web-config file; raise WebConfigError with the offending key."""
    if not path:
        return WebConfig()
    try:
        with open(path, encoding="utf-8") as handle:
            raw: Any = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as err:
        raise WebConfigError(f"cannot read {path}: {err}") from None
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: expected a mapping at the top level")
    unknown = sorted(set(map(str, raw)) - set(SECTIONS))
    if unknown:  # a misspelt basic_auth_users must not silently leave the endpoint open
        raise WebConfigError(f"{path}: unknown key {unknown[0]!r}; supported: {', '.join(SECTIONS)}")
    for key, kind in SECTIONS.items():
        if raw.get(key) is not None and not isinstance(raw[key], kind):
            raise WebConfigError(f"{key}: expected a {'mapping' if kind is dict else 'list'}")
    tls = raw.get("tls_server_config") or {}
    config = WebConfig(
        cert_file=str(tls.get("cert_file", "")),
        key_file=str(tls.get("key_file", "")),
        client_ca_file=str(tls.get("client_ca_file", "")),
        client_auth_type=str(tls.get("client_auth_type", "NoClientCert")),
    )
    if bool(config.cert_file) != bool(config.key_file):
        raise WebConfigError("tls_server_config: cert_file and key_file go together")
    if config.client_auth_type not in CLIENT_AUTH:
        raise WebConfigError(f"tls_server_config.client_auth_type: expected one of {sorted(CLIENT_AUTH)}")
    for name, hashed in (raw.get("basic_auth_users") or {}).items():
        config.basic_users[str(name)] = _bcrypt_hash(f"basic_auth_users.{name}", hashed)
    config.bearer_hashes = [
        _bcrypt_hash("bearer_auth_tokens", h) for h in raw.get("bearer_auth_tokens") or []
    ]
    try:
        config.ssl_context()
    except (OSError, ssl.SSLError) as err:
        raise WebConfigError(f"tls_server_config: {err}") from None
    return config


def _bcrypt_hash(where: str, value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith(("$2a$", "$2b$", "$2y$")):
        raise WebConfigError(f"{where}: expected a bcrypt hash ($2b$...)")
    return value.encode()
