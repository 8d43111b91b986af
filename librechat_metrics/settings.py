"""Every setting in one table: name, default, parser and the help text that --help shows."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import find_dotenv, load_dotenv

from . import logs, uri
from .uri import redact

T = TypeVar("T")


class SettingError(ValueError):
    """A setting has a value we cannot use; the message names the variable and what it expects."""


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _number(kind: type, low: float, high: float | None = None) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise ValueError(f"expected {'an integer' if kind is int else 'a number'}") from None
        if value != value or value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"expected a number {bounds}")
        return value

    return parse


def parse_port(raw: str) -> int:
    try:
        return _number(int, 1, 65535)(raw)
    except ValueError:
        raise ValueError("expected a port number from 1 to 65535") from None


def parse_zone(raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or Europe/Berlin") from None
    return raw.strip()


def parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("expected debug, info, warning, error or critical")
    return level


def parse_mongo_uri(raw: str) -> str:
    """A URI pymongo accepts, checked without connecting and without resolving mongodb+srv in DNS."""
    if not raw.startswith(("mongodb://", "mongodb+srv://")) or not urlsplit(raw).netloc:
        raise ValueError("expected a URI such as mongodb://host:27017/")
    uri.parse(raw)
    return raw


BAD_DATABASE_CHARS = '/\\. "$*<>:|?\0'


def parse_database(raw: str) -> str:
    """A database name MongoDB accepts: 1 to 63 bytes, none of /\\. "$*<>:|? or NUL."""
    if not raw or len(raw.encode()) > 63 or any(char in BAD_DATABASE_CHARS for char in raw):
        raise ValueError('expected a MongoDB database name: 1 to 63 bytes, none of /\\. "$*<>:|? or NUL')
    return raw


def parse_log_format(raw: str) -> str:
    """A %-style logging format that formats a record (e.g. not '%(' or '{message}')."""
    try:
        formatter = logging.Formatter(raw, validate=True)
        formatter.format(logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None))
    except (ValueError, TypeError, KeyError):
        raise ValueError("expected a Python %-style log format such as '%(levelname)s %(message)s'") from None
    return raw


LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(\.{LABEL})*")


def parse_listen_address(raw: str) -> str:
    """An IPv4/IPv6 address or a host name to bind (no port, no scheme)."""
    value = raw.strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not HOST_NAME.fullmatch(value) or re.fullmatch(r"[0-9.]+", value):
        raise ValueError("expected an IP address such as 0.0.0.0, :: or 127.0.0.1, or a host name (no port)")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if value not in options:
            raise ValueError("expected one of " + ", ".join(options))
        return value

    return parse


def parse_text(raw: str) -> str:
    return raw


def parse_path(raw: str) -> str:
    if raw and not os.path.isfile(raw):
        raise ValueError("expected the path of a readable file")
    return raw


def parse_tenant(raw: str) -> str:
    """A LibreChat tenantId (surrounding blanks dropped), or "" for the whole database."""
    value = raw.strip()
    if any(ord(char) < 32 for char in value):
        raise ValueError("expected a tenantId without control characters, or empty for all tenants")
    return value


@dataclass(frozen=True)
class Setting:
    """One environment variable: the attribute it fills, its default and how it is read."""

    env: str
    default: str
    parse: Callable[[str], Any]
    help: str

    @property
    def attr(self) -> str:
        return self.env.lower()


def setting(env: str, default: str, parse: Callable[[str], Any], help: str) -> Any:
    """A typed settings field declared by its environment variable (the field name is `env` lower-cased)."""
    return field(default=parse(default), metadata={"setting": Setting(env, default, parse, help)})


def toggle(group: str) -> Any:
    return setting(f"ENABLE_{group.upper()}_METRICS", "true", parse_bool, f"serve the {group} metric group")


@dataclass(frozen=True)
class Settings:
    """The exporter's configuration: one typed field per environment variable, read once per process.

    The fields are the one settings table: `--help`, `--check-config`, `.env.example` and the README's
    table are derived from them (`table()`)."""

    mongodb_uri: str = setting(
        "MONGODB_URI",
        "mongodb://mongodb:27017/",
        parse_mongo_uri,
        "MongoDB connection URI (options written in it win over the MONGODB_* settings)",
    )
    mongodb_database: str = setting(
        "MONGODB_DATABASE", "LibreChat", parse_database, "LibreChat's database name (case-sensitive)"
    )
    mongodb_read_preference: str = setting(
        "MONGODB_READ_PREFERENCE",
        "secondaryPreferred",
        _choice("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"),
        "where reads go in a replica set",
    )
    mongodb_timeout: float = setting(
        "MONGODB_TIMEOUT", "5", _number(float, 0.1, 600), "seconds to find a MongoDB server"
    )
    mongodb_query_timeout: float = setting(
        "MONGODB_QUERY_TIMEOUT", "60", _number(float, 0.1, 3600), "server-side time limit per query (s)"
    )
    logging_level: str = setting(
        "LOGGING_LEVEL", "info", parse_log_level, "debug, info, warning, error or critical"
    )
    logging_format: str = setting(
        "LOGGING_FORMAT", "%(asctime)s - %(levelname)s - %(message)s", parse_log_format, "Python log format"
    )
    logging_driver: bool = setting(
        "LOGGING_DRIVER",
        "false",
        parse_bool,
        "true: also log the MongoDB driver's events (commands, timings, connections; never documents)",
    )
    metrics_port: int = setting("METRICS_PORT", "8000", parse_port, "HTTP port for / and /metrics")
    metrics_listen_address: str = setting(
        "METRICS_LISTEN_ADDRESS",
        "0.0.0.0",
        parse_listen_address,
        "address to bind (0.0.0.0 = all interfaces)",
    )
    metrics_cache_ttl: float = setting(
        "METRICS_CACHE_TTL", "60", _number(float, 1, 86400), "seconds between fast collections"
    )
    metrics_slow_interval: float = setting(
        "METRICS_SLOW_INTERVAL", "300", _number(float, 1, 86400), "seconds between slow collections"
    )
    metrics_resync_interval: float = setting(
        "METRICS_RESYNC_INTERVAL",
        "3600",
        _number(float, 10, 7 * 86400),
        "seconds between full recounts of all-time numbers",
    )
    metrics_max_staleness: float = setting(
        "METRICS_MAX_STALENESS",
        "900",
        _number(float, 1, 7 * 86400),
        "seconds a failing group keeps serving its last good values",
    )
    metrics_label_limit: int = setting(
        "METRICS_LABEL_LIMIT", "200", _number(int, 1, 100000), "distinct label sets per family"
    )
    timezone: str = setting("TIMEZONE", "UTC", parse_zone, "time zone of the day/week/month windows")
    librechat_tenant_id: str = setting(
        "LIBRECHAT_TENANT_ID",
        "",
        parse_tenant,
        "count only this tenant's documents (tenantId); empty = the whole database",
    )
    token_source: str = setting(
        "TOKEN_SOURCE",
        "auto",
        _choice("auto", "transactions", "messages"),
        "where token numbers come from: auto, transactions or messages",
    )
    ratings_5m_scan: bool = setting(
        "RATINGS_5M_SCAN",
        "false",
        parse_bool,
        "true: serve the 5-minute rating gauges without a messages.updatedAt index (a scan of messages)",
    )
    web_config_file: str = setting(
        "WEB_CONFIG_FILE", "", parse_path, "exporter-toolkit style web config (TLS, basic/bearer auth)"
    )
    enable_basic_metrics: bool = toggle("basic")
    enable_token_metrics: bool = toggle("token")
    enable_user_metrics: bool = toggle("user")
    enable_model_metrics: bool = toggle("model")
    enable_time_window_metrics: bool = toggle("time_window")
    enable_rating_metrics: bool = toggle("rating")
    enable_tool_metrics: bool = toggle("tool")
    enable_file_metrics: bool = toggle("file")
    enable_schedule_metrics: bool = toggle("schedule")

    def enabled(self, group: str) -> bool:
        """Whether the ENABLE_<GROUP>_METRICS toggle is on."""
        return bool(getattr(self, f"enable_{group}_metrics"))

    @property
    def tenant(self) -> str | None:
        """The tenant every read is scoped to, or None for the whole database."""
        return self.librechat_tenant_id or None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def table(cls: type) -> tuple[Setting, ...]:
    """The settings table of a settings dataclass, in declaration order."""
    return tuple(f.metadata["setting"] for f in dataclasses.fields(cls))


SETTINGS: tuple[Setting, ...] = table(Settings)
GROUP_TOGGLES = tuple(
    s.attr[len("enable_") : -len("_metrics")] for s in SETTINGS if s.attr.startswith("enable_")
)


def _shown(setting: Setting, raw: str, limit: int | None = 80) -> str:
    """How a value appears in an error line (cut to `limit`) or in --check-config: never a secret."""
    if "PASSWORD" in setting.env:
        return "'***'"
    shown = redact(raw) if setting.env.endswith(("_URI", "_URL")) else raw
    return repr(shown if limit is None or len(shown) <= limit else shown[: limit - 3] + "...")


def effective(settings: Any) -> list[str]:
    """`NAME=value` per setting of a settings dataclass as parsed, passwords hidden, for `--check-config`."""
    lines = []
    for setting in table(type(settings)):
        value = getattr(settings, setting.attr)
        raw = value if isinstance(value, str) else setting.default if value is None else str(value)
        lines.append(f"{setting.env}={_shown(setting, raw, limit=None)}")
    return lines


@overload
def load(environ: Mapping[str, str] | None = None) -> Settings: ...
@overload
def load(environ: Mapping[str, str] | None, cls: type[T]) -> T: ...
def load(environ: Mapping[str, str] | None = None, cls: type[Any] = Settings) -> Any:
    """Parse every setting of the dataclass `cls` from `environ` (default: os.environ); raise SettingError."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in table(cls):
        raw = env.get(setting.env, setting.default)
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError as err:
            raise SettingError(f"{setting.env}={_shown(setting, raw)}: {err}") from None
    return cls(**values)


def help_epilog() -> str:
    lines = ["environment variables (also read from ./.env):"]
    lines += [f"  {s.env:<28} {s.help} (default: {s.default!r})" for s in SETTINGS]
    return "\n".join(lines)


def parse_cli(
    argv: list[str] | None, description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> tuple[argparse.Namespace, Settings]:
    """Read .env, the environment and argv; on any bad value print one line and exit 2."""
    parser = argparse.ArgumentParser(
        description=description, epilog=help_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if extra:
        extra(parser)
    args = parser.parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True), override=False)  # ./.env of the working directory
    try:
        settings = load()
    except SettingError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(settings.logging_level, settings.logging_format, settings.logging_driver)
    return args, settings
