#!/usr/bin/env bash
# The unit tests in a plain environment: only requirements.txt and pytest (no mongoeco, no test
# services), to show the core logic needs no database server. Idempotent; reuses .venv-unit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${UNIT_PYTHON:-.venv/bin/python}
if [ ! -x .venv-unit/bin/python ]; then
  "$PY" -m venv .venv-unit
fi
want=$( (cat requirements.txt; grep -E '^(pytest|pytest-timeout)==' requirements-dev.txt) | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv-unit/.requirements.sha 2>/dev/null)" != "$want" ]; then
  .venv-unit/bin/pip install -q --disable-pip-version-check -r requirements.txt \
    $(grep -E '^(pytest|pytest-timeout)==' requirements-dev.txt)
  echo "$want" > .venv-unit/.requirements.sha
fi
exec .venv-unit/bin/python -m pytest -q -p no:cacheprovider -o addopts="" tests/unit "$@"
