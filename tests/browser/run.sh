#!/usr/bin/env bash
# Browser tests: starts the server with the default config (temporary SQLite database, free
# port, sandbox simulators), runs the Chromium tests of tests/browser/*.test.mjs against it,
# stops it with SIGTERM and checks it exits 0. Last line: "N passed, M failed" (test cases).
#   tests/browser/run.sh BUILD_DIR        (from anywhere; e.g. tests/browser/run.sh build)
# Env: ARTIFACT_DIR (screenshots, PDF, server log; default test-artifacts/browser under the
# repo root), MALIPO_CHROMIUM (default /usr/bin/chromium), BROWSER_TESTS_STRICT=1 (layout
# warnings fail the run), BROWSER_TEST_TIMEOUT_MS (per test file, default 120000).
set -euo pipefail
[ -n "${BROWSER_TESTS_DEBUG:-}" ] && set -x

BUILD_ARG=${1:?usage: tests/browser/run.sh BUILD_DIR}
BUILD=$(cd "$BUILD_ARG" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

export ARTIFACT_DIR=${ARTIFACT_DIR:-$ROOT/test-artifacts/browser}
mkdir -p "$ARTIFACT_DIR"
ARTIFACT_DIR=$(cd "$ARTIFACT_DIR" && pwd)
export MALIPO_CHROMIUM=${MALIPO_CHROMIUM:-/usr/bin/chromium}
export BROWSER_TEST_TIMEOUT_MS=${BROWSER_TEST_TIMEOUT_MS:-120000}
export MALIPO_BUILD_DIR="$BUILD"  # console.test.mjs runs its own server (it needs admin tokens)
TESTS=(cvpdf credits hubtel pages console)

die() { echo "browser tests: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -x "$BUILD/bin/malipo" ] || die "$BUILD/bin/malipo not found (build first)"
[ -x "$MALIPO_CHROMIUM" ] || die "no Chromium at $MALIPO_CHROMIUM (apt-get install chromium)"
command -v node >/dev/null || die "node not found"

. "$ROOT/tests/support/suite.sh"
npm_deps "$HERE" playwright-core/package.json axe-core/axe.min.js

WORK=$(mktemp -d "${TMPDIR:-/tmp}/malipo-browser.XXXXXX")
PID=""
cleanup() {
  kill_server
  [ -f "$WORK/server.log" ] && cp "$WORK/server.log" "$ARTIFACT_DIR/server.log" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The default config names its plugins as ../build/plugins/… (relative to config/): for
# another build directory, a copy of it that points at that directory's plugins.
CONFIG=config/malipo.yaml
if [ "$BUILD" != "$ROOT/build" ]; then
  CONFIG="$WORK/malipo.yaml"
  sed -e "s#library: \.\./build/plugins/#library: $BUILD/plugins/#" -e "s#storage_dir: \.\./var/#storage_dir: $WORK/var/#" -e "s#messages_dir: \.\./plugins#messages_dir: $ROOT/plugins#" \
    config/malipo.yaml > "$CONFIG"
fi

# Old results and screenshots of these tests go, so nothing stale is looked at.
for t in "${TESTS[@]}"; do rm -f "$ARTIFACT_DIR/$t".results.json "$ARTIFACT_DIR/$t"-*.png "$ARTIFACT_DIR/$t"-*.pdf; done
rm -f "$ARTIFACT_DIR/server.log"

# Two free loopback ports for the framing tests: the integrator's origin, which the server's
# pages.frame_ancestors names (MALIPO_FRAME_ORIGIN in the default config), and a foreign one.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
export MALIPO_FRAME_PORT=$(free_port)
export MALIPO_FOREIGN_PORT=$(free_port)
while [ "$MALIPO_FOREIGN_PORT" = "$MALIPO_FRAME_PORT" ]; do MALIPO_FOREIGN_PORT=$(free_port); done
export MALIPO_FRAME_ORIGIN="http://127.0.0.1:$MALIPO_FRAME_PORT"

export MALIPO_DB="$WORK/b.db"
start_server "$BUILD/bin/malipo" "$CONFIG" "$MALIPO_DB"
export MALIPO_BASE_URL="$BASE"
echo "browser tests: server $MALIPO_BASE_URL (pid $PID), artifacts in $ARTIFACT_DIR"

PASSED=0
FAILED=0
# Counts a file's cases from the results JSON it wrote; a file that wrote none, or exited
# non-zero while reporting no failure, counts one failure more.
count() {
  local name=$1 rc=$2 file="$ARTIFACT_DIR/$1.results.json" p f
  if [ -f "$file" ]; then
    read -r p f < <(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(r.passed,r.failed)' "$file") || { p=0 f=1; }
  else
    p=0 f=0
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "browser tests: $name exited with $rc without a recorded failure" >&2
    f=1
  fi
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
}

for t in "${TESTS[@]}"; do
  rc=0
  # The file's own watchdog stops it after BROWSER_TEST_TIMEOUT_MS; timeout(1) is the backstop.
  nice -n 10 timeout -k 10 $(( BROWSER_TEST_TIMEOUT_MS / 1000 + 30 )) node "$HERE/$t.test.mjs" || rc=$?
  count "$t" "$rc"
done

# The server must still be up, then stop cleanly on SIGTERM.
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"
  rc=0
  for _ in $(seq 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PID" 2>/dev/null; then
    echo "browser tests: the server did not stop within 15 s of SIGTERM" >&2
    FAILED=$((FAILED + 1))
  else
    wait "$PID" || rc=$?
    PID=""
    if [ "$rc" -eq 0 ]; then
      PASSED=$((PASSED + 1))
    else
      echo "browser tests: the server exited with $rc after SIGTERM" >&2
      tail -20 "$WORK/server.log" >&2
      FAILED=$((FAILED + 1))
    fi
  fi
else
  echo "browser tests: the server died during the tests" >&2
  tail -30 "$WORK/server.log" >&2
  PID=""
  FAILED=$((FAILED + 1))
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
