#!/usr/bin/env bash
# The default config from the repo root, as `make run` starts it: every plugin loads, the
# server becomes ready, the CV Chap Chap flow runs against the Selcom simulator, and
# SIGTERM stops it with exit 0. Uses a temporary database and a free port.
set -euo pipefail
[ -n "${SMOKE_DEBUG:-}" ] && set -x
BUILD=${1:?build dir}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/malipo-smoke.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

export MALIPO_LISTEN=127.0.0.1:0 MALIPO_DATABASE_URL="sqlite:$WORK/smoke.db"
"$BUILD/bin/malipo" check-config --config config/malipo.yaml > "$WORK/check.txt"
grep -q "selcom" "$WORK/check.txt"
"$BUILD/bin/malipo" serve --config config/malipo.yaml --port-file "$WORK/port" 2> "$WORK/log" &
PID=$!
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/port")
BASE="http://127.0.0.1:$PORT"
fail() { echo "smoke: $*" >&2; tail -20 "$WORK/log" >&2; exit 1; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

curl -sf "$BASE/readyz" | grep -q '"ready"' || fail "not ready"
RID=$(curl -sf -X POST "$BASE/api/cv-pdf/anonymous/initiate-ussd" -H 'Content-Type: application/json' \
  -d '{"template_id":"modern","cv_data":{"name":"Smoke Test","skills":["C++"]}}' | json "['request_id']")
curl -sf "$BASE/api/cv-pdf/$RID/payment-page" | grep -q '\*150\*00#' || fail "payment page has no USSD code"
PAY=$(python3 - "$WORK/smoke.db" "$RID" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT payment_id FROM cv_requests WHERE id = ?", (sys.argv[2],)).fetchone()[0])
PY
)
SMS=$(curl -sf -X POST "$BASE/sandbox/selcom/pay/$PAY" -H 'Content-Type: application/json' -d '{"webhooks":0}' | json "['sms']")
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/api/cv-pdf/$RID/verify" --data-urlencode "payment_message=$SMS")
[ "$CODE" = 303 ] || fail "verify answered $CODE"
for _ in $(seq 300); do
  STATUS=$(curl -sf "$BASE/api/cv-pdf/$RID/status" | json "['status']")
  [ "$STATUS" = completed ] && break
  sleep 0.05
done
[ "$STATUS" = completed ] || fail "request is $STATUS"
curl -sf "$BASE/api/cv-pdf/$RID/download" -o "$WORK/cv.pdf"
head -c 5 "$WORK/cv.pdf" | grep -q '%PDF-' || fail "download is not a PDF"
curl -sf "$BASE/api/v1/verification-credits/packages" | grep -q pkg_10_credits || fail "credits packages missing"
kill -TERM "$PID"
wait "$PID" || fail "exit code $? after SIGTERM"
PID=""
echo "smoke: default config OK (plugins loaded, CV flow completed, clean stop)"
