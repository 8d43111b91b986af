#!/usr/bin/env bash
# Create .venv with Python 3.13 (mongoeco needs it) and install the dev requirements. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
find_python() {
  for cand in python3.13 "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/3.13"*/bin/python3.13)"; do
    for p in $cand; do
      if [ -x "$(command -v "$p" 2>/dev/null || echo "$p")" ] && "$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
        echo "$p"; return 0
      fi
    done
  done
  return 1
}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
  PY=$(find_python) || { echo "bootstrap: Python 3.13 not found (install it, or pyenv install 3.13)" >&2; exit 1; }
  rm -rf .venv
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-demo.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
