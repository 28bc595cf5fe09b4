#!/usr/bin/env bash
# Throwaway PostgreSQL for tests and benchmarks: `source tools/pg.sh; pg_start; …; pg_stop`.
# Uses the installed PostgreSQL 15 server binaries (installs the Debian `postgresql` package
# only if they are missing), runs as user `postgres` when invoked as root, listens on a free
# loopback port with fsync off (PG_FSYNC=on for durable benchmarks), and exports
# RIALTO_TEST_PG_URL.

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

pg_install_if_missing() {
  if pg_bindir >/dev/null; then return 0; fi
  echo "PostgreSQL server binaries not found; installing the postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  pg_bindir >/dev/null
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  pg_install_if_missing
  local bindir port
  bindir=$(pg_bindir)
  port=$(pg_free_port)
  PG_DATA_DIR=$(mktemp -d /tmp/rialto-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DATA_DIR"; fi
  pg_as_owner "$bindir/initdb" -D "$PG_DATA_DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$PG_DATA_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DATA_DIR/initdb.log" >&2; return 1; }
  pg_as_owner "$bindir/pg_ctl" -D "$PG_DATA_DIR/data" -l "$PG_DATA_DIR/data/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $PG_DATA_DIR/data -c fsync=${PG_FSYNC:-off} -c synchronous_commit=${PG_FSYNC:-off} -c full_page_writes=${PG_FSYNC:-off} -c max_connections=400" \
    start >/dev/null || { cat "$PG_DATA_DIR/data/server.log" >&2; return 1; }
  PG_BINDIR=$bindir
  export RIALTO_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "throwaway PostgreSQL on 127.0.0.1:$port (data in $PG_DATA_DIR)" >&2
}

pg_stop() {
  if [ -n "${PG_DATA_DIR:-}" ] && [ -d "$PG_DATA_DIR/data" ]; then
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DATA_DIR"
  fi
}
