#!/usr/bin/env bash
# Runs every test: starts a throwaway PostgreSQL 15 cluster on a free loopback port (as the
# postgres user when run as root: initdb refuses root), runs ctest, removes the cluster.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "test.sh: PostgreSQL server binaries not found (package postgresql-15)" >&2; exit 1; }

PGDIR=$(mktemp -d /tmp/malipo-pg.XXXXXX)
AS=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$PGDIR"
  AS=(runuser -u postgres --)
fi
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT

PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U malipo >"$PGDIR/initdb.log" 2>&1 \
  || { cat "$PGDIR/initdb.log" >&2; exit 1; }
# One role must give a real password (the store test connects as it with a password that
# holds a space and a quote); everyone else is trusted on loopback.
sed -i '1i host all malipo_pw 127.0.0.1/32 scram-sha-256' "$PGDIR/data/pg_hba.conf"
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/pg.log" -w \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null \
  || { cat "$PGDIR/pg.log" >&2; exit 1; }

export MALIPO_TEST_PG_URL="postgresql://malipo@127.0.0.1:$PGPORT/postgres"
export MALIPO_REQUIRE_PG=1
echo "test.sh: PostgreSQL on 127.0.0.1:$PGPORT"

cd "$BUILD"
ctest --output-on-failure --timeout 900 ${CTEST_ARGS:-}
