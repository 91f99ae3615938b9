#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: the layout (server, shipped plugins and never
# the test plugins, config, docs, SDK), then the installed server started from another
# working directory with the installed config, whose relative paths resolve against its
# folder: /readyz, and the CV Chap Chap flow through the Selcom simulator (sandbox), with the
# database and the PDFs landing in PREFIX/var/lib/malipo.
set -euo pipefail
[ -n "${SDK_TEST_DEBUG:-}" ] && set -x
BUILD=$(cd "${1:?build dir}" && pwd)
WORK=$(mktemp -d /tmp/malipo-install.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# Running and not a zombie (kill -0 succeeds on an exited child not yet waited for).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
fail() { echo "install_layout: $*" >&2; [ -f "$WORK/log" ] && tail -20 "$WORK/log" >&2; exit 1; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

P="$WORK/prefix"
cmake --install "$BUILD" --prefix "$P" > "$WORK/install.log" || { cat "$WORK/install.log" >&2; fail "install failed"; }
for f in bin/malipo etc/malipo/malipo.yaml share/malipo/malipo.yaml share/doc/malipo/README.md \
         share/doc/malipo/plugin-guide.md share/doc/malipo/plugins/selcom.md include/malipo/provider.hpp \
         lib/cmake/MalipoSDK/MalipoSDKConfig.cmake lib/cmake/MalipoSDK/MalipoSDKConfigVersion.cmake \
         lib/cmake/MalipoSDK/MalipoSDKPlugin.cmake lib/pkgconfig/malipo-sdk.pc; do
  [ -f "$P/$f" ] || fail "missing $f"
done
for p in selcom flutterwave cvpdf credits hubtel; do
  [ -f "$P/lib/malipo/plugins/libmalipo_$p.so" ] || fail "missing plugin $p"
done
# The plugins' page texts beside them (issue 20).
for p in cvpdf flutterwave; do
  [ -f "$P/lib/malipo/plugins/$p/messages/sw.json" ] || fail "missing the page texts of $p"
done
# The test plugins are never installed.
if ls "$P/lib/malipo/plugins" | grep -Eq 'fakepay|shop|testplugin|broken'; then fail "a test plugin was installed"; fi
# Nothing in the installed config names the build or source tree.
if grep -q "$BUILD" "$P/etc/malipo/malipo.yaml"; then fail "the installed config names the build tree"; fi
grep -q 'library: ../../lib/malipo/plugins/libmalipo_selcom.so' "$P/etc/malipo/malipo.yaml" || fail "config: unexpected plugin path"

# A second install keeps an edited config and writes the new one next to it.
echo "# edited" >> "$P/etc/malipo/malipo.yaml"
cmake --install "$BUILD" --prefix "$P" > "$WORK/install2.log"
tail -1 "$P/etc/malipo/malipo.yaml" | grep -q '# edited' || fail "an edited config was overwritten"
[ -f "$P/etc/malipo/malipo.yaml.new" ] || fail "no malipo.yaml.new next to the edited config"
sed -i '$d' "$P/etc/malipo/malipo.yaml"

# Started from / with the installed config: every relative path resolves against etc/malipo.
export MALIPO_LISTEN=127.0.0.1:0 MALIPO_SANDBOX=true MALIPO_JWT_SECRET=install-test-jwt-secret-0123456789abcdef
unset MALIPO_DATABASE_URL
(cd / && exec "$P/bin/malipo" serve --config "$P/etc/malipo/malipo.yaml" --port-file "$WORK/port") 2> "$WORK/log" &
PID=$!
for _ in $(seq 300); do [ -s "$WORK/port" ] && break; alive "$PID" || fail "the server exited"; sleep 0.05; done
[ -s "$WORK/port" ] || fail "the server did not listen"
BASE="http://127.0.0.1:$(cat "$WORK/port")"
curl -sf "$BASE/readyz" | grep -q '"ready"' || fail "not ready"
DB="$P/var/lib/malipo/malipo.db"
[ -f "$DB" ] || fail "the database is not at PREFIX/var/lib/malipo/malipo.db"

RID=$(curl -sf -X POST "$BASE/api/cv-pdf/anonymous/initiate-ussd" -H 'Content-Type: application/json' \
  -d '{"template_id":"modern","cv_data":{"name":"Install Test","skills":["C++"]}}' | json "['request_id']")
PAY=$(python3 - "$DB" "$RID" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT payment_id FROM cv_requests WHERE id = ?", (sys.argv[2],)).fetchone()[0])
PY
)
SMS=$(curl -sf -X POST "$BASE/sandbox/selcom/pay/$PAY" -H 'Content-Type: application/json' -d '{"webhooks":0}' | json "['sms']")
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/api/cv-pdf/$RID/verify" --data-urlencode "payment_message=$SMS")
[ "$CODE" = 303 ] || fail "verify answered $CODE"
STATUS=""
for _ in $(seq 300); do
  STATUS=$(curl -sf "$BASE/api/cv-pdf/$RID/status" | json "['status']")
  [ "$STATUS" = completed ] && break
  sleep 0.05
done
[ "$STATUS" = completed ] || fail "request is $STATUS"
curl -sf "$BASE/api/cv-pdf/$RID/download" -o "$WORK/cv.pdf"
head -c 5 "$WORK/cv.pdf" | grep -q '%PDF-' || fail "download is not a PDF"
ls "$P/var/lib/malipo/cvpdf" | grep -q . || fail "no PDF stored in PREFIX/var/lib/malipo/cvpdf"
kill -TERM "$PID"
wait "$PID" || fail "exit code $? after SIGTERM"
PID=""
echo "install_layout: OK (layout, config kept on reinstall, installed server from /, CV flow, state in PREFIX/var/lib/malipo)"
