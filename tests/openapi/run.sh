#!/usr/bin/env bash
# The server's API description and sandbox index, with every shipped plugin loaded: starts
# the server with the default config (temporary SQLite database, free port, sandbox on),
# validates GET /openapi.json with @apidevtools/swagger-parser (OpenAPI 3.1), checks that
# GET / links every flow and that its demo checkout starts, then stops the server with
# SIGTERM. Last line: "N passed, M failed".
#   tests/openapi/run.sh BUILD_DIR        (from anywhere; e.g. tests/openapi/run.sh build)
set -euo pipefail

BUILD_ARG=${1:?usage: tests/openapi/run.sh BUILD_DIR}
BUILD=$(cd "$BUILD_ARG" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

die() { echo "openapi tests: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -x "$BUILD/bin/malipo" ] || die "$BUILD/bin/malipo not found (build first)"
command -v node >/dev/null || die "node not found (scripts/setup.sh --test installs it)"
command -v curl >/dev/null || die "curl not found (scripts/setup.sh --test installs it)"

. "$ROOT/tests/support/suite.sh"
npm_deps "$HERE" @apidevtools/swagger-parser/package.json

WORK=$(mktemp -d "${TMPDIR:-/tmp}/malipo-openapi.XXXXXX")
PID=""
cleanup() {
  kill_server
  rm -rf "$WORK"
}
trap cleanup EXIT

# The default config with absolute paths: this build's plugins, a scratch storage folder.
CONFIG="$WORK/malipo.yaml"
sed -e "s#library: \(\.\./\)\?build/plugins/#library: $BUILD/plugins/#" \
  -e "s#storage_dir: \(\.\./\)\?var/#storage_dir: $WORK/var/#" config/malipo.yaml > "$CONFIG"
start_server "$BUILD/bin/malipo" "$CONFIG" "$WORK/o.db"

PASSED=0
FAILED=0
check() {  # check NAME COMMAND…: one case
  local name=$1
  shift
  if "$@"; then echo "ok $name"; PASSED=$((PASSED + 1)); else echo "FAILED $name"; FAILED=$((FAILED + 1)); fi
}

curl -fsS --max-time 10 "$BASE/openapi.json" -o "$WORK/openapi.json" || die "GET /openapi.json failed"
check "openapi.json is valid OpenAPI 3.1" node "$HERE/validate.mjs" "$WORK/openapi.json"

curl -fsS --max-time 10 "$BASE/" -o "$WORK/index.html" || die "GET / failed"
has() { grep -q -- "$1" "$WORK/index.html"; }
check "GET / links CV Chap Chap" has 'id="start-cvpdf"'
check "GET / links the credits checkout" has 'id="start-credits"'
check "GET / links the USSD phone" has 'id="phone" href="&#x2F;sandbox&#x2F;hubtel&#x2F;phone"'
check "GET / links the API description" has 'href="/openapi.json"'
# The page's demo checkout, as its button does it: the token it carries buys credits.
TOKEN=$(sed -n 's/.*data-token="\(eyJ[A-Za-z0-9._-]*\)".*/\1/p' "$WORK/index.html" | head -1)
topup() {
  curl -fsS --max-time 10 -X POST "$BASE/api/v1/verification-credits/topup" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"packageId": "pkg_10_credits"}' | grep -q '"paymentUrl":"http'
}
check "the demo credits checkout starts" topup
cvpdf() {
  curl -fsS --max-time 20 -X POST "$BASE/api/cv-pdf/sandbox-index-test/initiate-ussd" -H 'Content-Type: application/json' \
    -d '{"template_id": "modern", "cv_data": {"name": "Asha Demo", "title": "Engineer", "email": "asha@example.com", "phone": "0754 000 000", "summary": "A sandbox CV.", "experience": [], "education": [], "skills": ["C++"], "languages": ["Kiswahili"]}}' \
    | grep -q '"payment_page_url":"http'
}
check "the CV Chap Chap payment starts as the page starts it" cvpdf

kill -TERM "$PID"
rc=0
for _ in $(seq 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID" || rc=$?
PID=""
check "the server stopped cleanly" test "$rc" -eq 0
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
