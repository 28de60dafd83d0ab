#!/usr/bin/env bash
# Runs the whole suite on SQLite, then on a throw-away PostgreSQL started here (Debian's postgresql).
# Usage: scripts/test.sh [sqlite|postgres|all] [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
which_db=${1:-all}; [ $# -gt 0 ] && shift

export SHOAL_FAST_HASHER=1
export SHOAL_DATA_DIR=${SHOAL_TEST_DATA_DIR:-$(mktemp -d /tmp/shoal-test-XXXXXX)}
export SHOAL_CHROMIUM=${SHOAL_CHROMIUM:-/usr/bin/chromium}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_updated=0
apt_install() {
  [ $apt_updated = 1 ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian's Chromium for the browser tests.
if [ ! -x "$SHOAL_CHROMIUM" ]; then
  echo "== installing Debian's chromium for the browser tests"
  apt_install chromium
fi

# GNU gettext for the translation completeness test (makemessages, msgattrib, msgfmt).
if ! command -v xgettext >/dev/null || ! command -v msgattrib >/dev/null; then
  echo "== installing Debian's gettext for the translation tests"
  apt_install gettext
fi

status=0
if [ "$which_db" = all ] || [ "$which_db" = sqlite ]; then
  echo "== test suite on SQLite"
  env -u DATABASE_URL $BIN/python -m pytest -p no:cacheprovider "$@" || status=$?
fi

if [ "$which_db" = all ] || [ "$which_db" = postgres ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "== installing Debian's postgresql"
    apt_install postgresql
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  pg_dir=$(mktemp -d /tmp/shoal-pg-XXXXXX)
  pg_user=$(id -un)
  run_pg() { "$@"; }
  if [ "$(id -u)" = 0 ]; then   # initdb refuses to run as root: use the postgres system user
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$pg_dir"
    pg_user=postgres
    run_pg() { runuser -u postgres -- "$@"; }
  fi
  port=$($BIN/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "== starting a throw-away PostgreSQL ($pg_bin) on port $port"
  run_pg "$pg_bin/initdb" -D "$pg_dir/data" -U shoal --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  stop_pg() { run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
  trap stop_pg EXIT
  run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start \
    -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" >/dev/null
  run_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U shoal shoal
  echo "== test suite on PostgreSQL"
  DATABASE_URL="postgres://shoal@127.0.0.1:$port/shoal" $BIN/python -m pytest -p no:cacheprovider "$@" || status=$?
fi
exit $status
