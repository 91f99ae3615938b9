# Sourced by the shell-driven suites (tests/openapi, tests/browser): their npm dependencies and
# the server they run against. The caller defines die MESSAGE (prints the suite's last line and
# exits) and sets WORK (a scratch folder it removes).

# npm_deps DIR FILE…: `npm ci` in DIR when one of the FILEs (under DIR/node_modules) is missing
# or node_modules was installed from another lock file.
npm_deps() {
  local dir=$1 sum stamp f need=""
  shift
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  stamp="$dir/node_modules/.installed-lock-sha256"
  for f in "$@"; do [ -f "$dir/node_modules/$f" ] || need=1; done
  [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] || need=1
  [ -z "$need" ] && return 0
  echo "npm ci in $dir"
  (cd "$dir" && nice npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  echo "$sum" > "$stamp"
}

# start_server BINARY CONFIG DB_FILE: `malipo serve` on a free loopback port with a SQLite
# database, its log in $WORK/server.log; sets PID and BASE (http://127.0.0.1:PORT).
start_server() {
  MALIPO_LISTEN=127.0.0.1:0 MALIPO_DATABASE_URL="sqlite:$3" \
    "$1" serve --config "$2" --port-file "$WORK/port" > "$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do
    [ -s "$WORK/port" ] && break
    kill -0 "$PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; PID=""; die "the server exited during start-up"; }
    sleep 0.1
  done
  [ -s "$WORK/port" ] || { tail -20 "$WORK/server.log" >&2; die "the server did not listen within 30 s"; }
  BASE="http://127.0.0.1:$(cat "$WORK/port")"
}

# kill_server: the server, if still running: SIGTERM, then SIGKILL after 5 s (for traps).
kill_server() {
  if [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
}
