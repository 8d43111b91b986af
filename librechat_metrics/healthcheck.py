"""Container HEALTHCHECK: exit 0 when the exporter's /healthz answers, 1 otherwise."""

from __future__ import annotations

import ssl
import sys
import urllib.request

from .settings import SettingError, load
from .webconfig import WebConfigError, load_web_config


def main() -> int:
    try:
        settings = load()
        web = load_web_config(settings.web_config_file)
    except (SettingError, WebConfigError) as err:
        print(f"healthcheck: {err}", file=sys.stderr)
        return 1
    scheme = "https" if web.cert_file else "http"
    context = ssl._create_unverified_context() if web.cert_file else None  # our own loopback endpoint
    try:
        with urllib.request.urlopen(
            f"{scheme}://127.0.0.1:{settings.metrics_port}/healthz", timeout=3, context=context
        ) as response:
            return 0 if response.status == 200 else 1
    except OSError as err:
        print(f"healthcheck: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
