"""Endpoint security from a web-config file in the format of Prometheus' exporter-toolkit.

Supported keys: `tls_server_config` (`cert_file`, `key_file`, `client_ca_file`, `client_auth_type`),
`basic_auth_users` (user: bcrypt hash) and, as an extension, `bearer_auth_tokens` (list of bcrypt
hashes of accepted bearer tokens). Verified credentials are cached by their SHA-256 so that bcrypt
runs once per credential, not once per scrape. The file is read once, at start.

Authentication works on bytes (user names may be any UTF-8), refuses secrets bcrypt cannot check
(over 72 bytes) before any lookup, and spends the same bcrypt cost on an unknown user as on the
costliest configured one, so neither the answer nor its timing tells which user names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import yaml

MAX_SECRET_BYTES = 72  # bcrypt's limit: longer secrets cannot have been hashed, so they never match
_HASH = re.compile(r"\$2[aby]\$(?P<cost>0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
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
    basic_users: dict[bytes, bytes] = field(default_factory=dict)  # UTF-8 user name -> bcrypt hash
    bearer_hashes: list[bytes] = field(default_factory=list)
    dummy_hash: bytes = b""  # checked for unknown users: the cost of the costliest configured hash
    _verified: set[bytes] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def auth_required(self) -> bool:
        return bool(self.basic_users or self.bearer_hashes)

    @property
    def client_cert_required(self) -> bool:
        """The server must refuse requests without a client certificate (all but /healthz)."""
        return self.client_auth_type in {"RequireAnyClientCert", "RequireAndVerifyClientCert"}

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context. A client certificate is verified whenever one is sent; where one is
        required, the handshake still lets a client without one through so that it can reach /healthz
        (container and Kubernetes probes), and the server refuses every other path (server.py)."""
        if not self.cert_file:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file:
            context.load_verify_locations(self.client_ca_file)
        if self.client_auth_type != "NoClientCert":
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def authorized(self, header: str | None) -> bool:
        """Check an Authorization header (as WSGI gives it: Latin-1) against the basic users and bearer
        tokens. Never raises: odd bytes, non-ASCII names and over-long secrets are simply refused."""
        if not self.auth_required:
            return True
        if not header:
            return False
        raw = _header_bytes(header)
        scheme, _, credential = raw.partition(b" ")
        digest = hashlib.sha256(raw).digest()
        with self._lock:
            if digest in self._verified:
                return True
        ok = False
        if scheme.lower() == b"basic" and self.basic_users:
            ok = self._check_basic(credential.strip())
        elif scheme.lower() == b"bearer" and self.bearer_hashes:
            token = credential.strip()
            ok = len(token) <= MAX_SECRET_BYTES and any(bcrypt.checkpw(token, h) for h in self.bearer_hashes)
        if ok:
            with self._lock:
                self._verified.add(digest)
        return ok

    def _check_basic(self, credential: bytes) -> bool:
        try:
            user, _, password = base64.b64decode(credential, validate=True).partition(b":")
        except ValueError:
            return False
        if len(password) > MAX_SECRET_BYTES:  # refused before the lookup: costs nothing for any user
            return False
        hashed = None
        for name, candidate in self.basic_users.items():  # every name is compared, in constant time
            if hmac.compare_digest(name, user):
                hashed = candidate
        # An unknown user costs the same bcrypt work as a known one, so timing does not reveal names.
        dummy = self.dummy_hash or dummy_hash(list(self.basic_users.values()))
        return bcrypt.checkpw(password, hashed or dummy) and hashed is not None


def _header_bytes(header: str) -> bytes:
    """The header's bytes: WSGI decodes them as Latin-1, which encodes back losslessly."""
    try:
        return header.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server; still a well-defined byte string
        return header.encode("utf-8", "surrogateescape")


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
    if config.client_auth_type != "NoClientCert" and not config.client_ca_file:
        raise WebConfigError(  # Python verifies every client certificate: without a CA none would pass
            f"tls_server_config.client_auth_type {config.client_auth_type} needs client_ca_file"
        )
    if config.client_ca_file and config.client_auth_type == "NoClientCert":
        raise WebConfigError("tls_server_config: client_ca_file is set but client_auth_type is NoClientCert")
    for name, hashed in (raw.get("basic_auth_users") or {}).items():
        config.basic_users[str(name).encode()] = _bcrypt_hash(f"basic_auth_users.{name}", hashed)
    config.bearer_hashes = [
        _bcrypt_hash("bearer_auth_tokens", h) for h in raw.get("bearer_auth_tokens") or []
    ]
    config.dummy_hash = dummy_hash(list(config.basic_users.values()))
    try:
        config.ssl_context()
    except (OSError, ssl.SSLError) as err:
        raise WebConfigError(f"tls_server_config: {err}") from None
    return config


def _bcrypt_hash(where: str, value: Any) -> bytes:
    """A well-formed bcrypt hash as bytes; anything bcrypt would choke on later is refused now."""
    shape = "expected a bcrypt hash: $2b$, a cost from 04 to 31, $ and 53 characters of [./A-Za-z0-9]"
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise WebConfigError(f"{where}: {shape}")
    try:  # the salt part must decode; checked at the cheapest cost instead of the hash's own
        bcrypt.hashpw(b"", f"{value[:4]}04${value[7:29]}".encode())
    except ValueError:
        raise WebConfigError(f"{where}: {shape} (its salt does not decode)") from None
    return value.encode()


def cost(hashed: bytes) -> int:
    """The cost (log2 of the rounds) of a bcrypt hash."""
    return int(hashed[4:6])


def dummy_hash(hashes: list[bytes]) -> bytes:
    """A hash no password matches, as costly as the costliest of `hashes`."""
    rounds = max((cost(h) for h in hashes), default=4)
    return bcrypt.gensalt(rounds=rounds) + b"." * 31
