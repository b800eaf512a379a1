#!/usr/bin/env bash
# Start a throwaway PostgreSQL on loopback for the store tests; prints its SQLAlchemy URL.
# Installs Debian's postgresql when missing. Usage: export STORYTHREADS_TEST_POSTGRES_URL=$(scripts/start-postgres.sh)
set -euo pipefail
PORT="${PGPORT_TEST:-54329}"
DATA="${PGDATA_TEST:-/tmp/storythreads-pg}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq postgresql >/dev/null; else sudo apt-get install -y -qq postgresql >/dev/null; fi
fi
BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
# PostgreSQL refuses to run as root: run it as the postgres user when we are root
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U storythreads --auth=trust >/dev/null
fi
if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
        -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
fi
as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U storythreads -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='storythreads_test'" | grep -q 1 \
    || as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U storythreads storythreads_test
echo "postgresql+psycopg://storythreads@127.0.0.1:$PORT/storythreads_test"
