#!/usr/bin/env bash
# The project's test command (README and .ci/run): set up the venv and the test services, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/services.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
bash scripts/unit.sh
exec .venv/bin/python -m pytest "$@"
