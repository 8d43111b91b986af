#!/usr/bin/env bash
# The demo in one command: create .venv with Python 3.13 (as scripts/test.sh does), then serve synthetic
# LibreChat metrics from an embedded, live database on http://127.0.0.1:8000/metrics until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python metrics.py --demo "$@"
