"""Container HEALTHCHECK: exit 0 when the exporter's /healthz answers, 1 otherwise.

It works in every web-config mode: /healthz needs no credentials, and under mutual TLS the server
lets a client without a certificate reach /healthz (only /healthz), so the probe needs no client key.
"""

from __future__ import annotations

import ssl
import sys
import urllib.request

from .settings import SettingError, load
from .webconfig import WebConfigError, load_web_config


def probe_host(listen_address: str) -> str:
    """Where to reach the server from inside its container: loopback when it listens on every
    interface, else the address it is bound to (IPv6 in brackets)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(listen_address, listen_address)
    return f"[{host}]" if ":" in host else host


def main() -> int:
    try:
        settings = load()
        web = load_web_config(settings.web_config_file)
    except (SettingError, WebConfigError) as err:
        print(f"healthcheck: {err}", file=sys.stderr)
        return 1
    scheme = "https" if web.cert_file else "http"
    context = ssl._create_unverified_context() if web.cert_file else None  # our own endpoint
    url = f"{scheme}://{probe_host(settings.metrics_listen_address)}:{settings.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return 0 if response.status == 200 else 1
    except OSError as err:
        print(f"healthcheck: {url}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
