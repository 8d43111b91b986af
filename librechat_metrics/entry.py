"""The entry points' first step, stdlib only: a missing requirement is one line, not a traceback."""

from __future__ import annotations

import importlib
import sys

INSTALL = "pip install -r requirements.txt"


def run(prog: str, module: str) -> int:
    """`module.main()`, or exit status 2 with one line naming what to install when a third-party
    package it needs (pymongo, prometheus_client, python-dotenv...) cannot be imported."""
    try:
        main = importlib.import_module(module).main
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] in ("", "librechat_metrics"):
            raise  # the project itself is broken: that is a bug, keep its traceback
        why = f"the requirements are not installed (no module named {err.name!r})"
        print(f"{prog}: error: {why}: {INSTALL}", file=sys.stderr)
        return 2
    return int(main() or 0)
