#!/usr/bin/env bash
# Make sure the local test services are there, loopback only. Idempotent: running ones are used as they are.
#   MariaDB    127.0.0.1:3306  (installs mariadb-server and starts mariadbd when it does not answer)
#   PostgreSQL 127.0.0.1:5432  (installs postgresql and starts the cluster when it does not answer)
#   Prometheus binaries        (Debian's prometheus package for promtool/prometheus; the service is not run)
#   Chromium                   (Debian's chromium package, headless, for the screenshot test of the page at /)
# Prints one line per service; exits non-zero when one cannot be made available.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

updated=0
apt_install() {
  # Keep package scripts from starting services (policy-rc.d 101); we start what we need ourselves.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  if [ "$updated" = 0 ]; then apt-get update -qq >/dev/null && updated=1; fi
  local rc=0
  apt-get install -y -qq "$@" >/dev/null || rc=$?
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
  return "$rc"
}

wait_for() {  # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

mariadb_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 --connect-timeout=2 ping; }
postgres_up() { pg_isready -q -h 127.0.0.1 -p 5432 -t 2; }

ensure_mariadb() {
  if command -v mariadb-admin >/dev/null && mariadb_up >/dev/null 2>&1; then
    echo "mariadb: up on 127.0.0.1:3306 (already running)"; return
  fi
  if [ ! -x /usr/sbin/mariadbd ]; then
    apt_install mariadb-server
    mkdir -p /etc/mysql/mariadb.conf.d
    printf '[mysqld]\nbind-address = 127.0.0.1\n' >/etc/mysql/mariadb.conf.d/99-loopback.cnf
  fi
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  if wait_for 60 mariadb_up; then
    echo "mariadb: up on 127.0.0.1:3306 (started)"
  else
    echo "mariadb: NOT answering on 127.0.0.1:3306" >&2; return 1
  fi
}

ensure_postgresql() {
  if command -v pg_isready >/dev/null && postgres_up; then
    echo "postgresql: up on 127.0.0.1:5432 (already running)"; return
  fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  if wait_for 60 postgres_up; then
    echo "postgresql: up on 127.0.0.1:5432 (started cluster $version/main)"
  else
    echo "postgresql: NOT answering on 127.0.0.1:5432" >&2; return 1
  fi
}

ensure_prometheus() {
  local how="already installed"
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    local before
    before=$(pgrep -x prometheus || true)
    apt_install prometheus
    how="installed"
    # Should the package have started its service anyway, stop exactly the processes it started.
    local pid
    for pid in $(pgrep -x prometheus || true); do
      if ! grep -qx "$pid" <<<"$before"; then kill "$pid" 2>/dev/null || true; fi
    done
  fi
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
    echo "prometheus: $(command prometheus --version 2>&1 | head -n 1 | cut -d' ' -f1-3), promtool at $(command -v promtool) ($how; this script never starts it)"
  else
    echo "prometheus: binaries NOT available" >&2; return 1
  fi
}

ensure_chromium() {
  local how="already installed"
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
    how="installed"
  fi
  if [ -x /usr/bin/chromium ]; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) ($how; headless, for tests/test_page.py)"
  else
    echo "chromium: NOT available" >&2; return 1
  fi
}

status=0
ensure_mariadb || status=1
ensure_postgresql || status=1
ensure_prometheus || status=1
ensure_chromium || status=1
exit "$status"
