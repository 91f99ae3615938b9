#!/usr/bin/env bash
# Issue #15's out-of-tree test: install Malipo into a temporary prefix, write a provider with
# `malipo sdk new-provider`, build it (and run its own tests) against the *installed* SDK
# only, load it by YAML into the installed kernel next to the shipped credits product
# (sandbox, SQLite in the temporary folder, a free loopback port) and run a payment through
# it over HTTP: top-up → the provider's simulator pays → signed webhook → query → succeeded
# and credited.
set -euo pipefail
[ -n "${SDK_TEST_DEBUG:-}" ] && set -x
BUILD=$(cd "${1:?build dir}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/malipo-oot.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# Running and not a zombie (kill -0 succeeds on an exited child not yet waited for).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
fail() { echo "out_of_tree: $*" >&2; [ -f "$WORK/log" ] && tail -20 "$WORK/log" >&2; exit 1; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

P="$WORK/prefix"
cmake --install "$BUILD" --prefix "$P" > "$WORK/install.log" || { cat "$WORK/install.log" >&2; fail "install failed"; }
MALIPO="$P/bin/malipo"

# The scaffold refuses a bad name and a folder with something in it, changing nothing.
OUT=$("$MALIPO" sdk new-provider Acme-Pay "$WORK/bad" 2>&1) && fail "a bad name was accepted"
echo "$OUT" | grep -q "not a lowercase identifier" || fail "bad name message: $OUT"
[ ! -e "$WORK/bad" ] || fail "a refused scaffold wrote files"
mkdir "$WORK/full" && touch "$WORK/full/keep"
OUT=$("$MALIPO" sdk new-provider acmepay "$WORK/full" 2>&1) && fail "a non-empty folder was accepted"
echo "$OUT" | grep -q "is not empty" || fail "non-empty message: $OUT"
[ "$(ls -A "$WORK/full")" = keep ] || fail "a refused scaffold wrote into the folder"

"$MALIPO" sdk new-provider acmepay "$WORK/acmepay" > "$WORK/scaffold.log" || fail "scaffold failed"

# Built against the installed SDK only: CMAKE_PREFIX_PATH is the prefix, nothing else.
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
(cd "$WORK" && timeout 300 cmake -S acmepay -B acmepay/build -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$P" \
  "${LAUNCHER[@]}" > "$WORK/configure.log" 2>&1) || { cat "$WORK/configure.log" >&2; fail "configure failed"; }
(cd "$WORK" && timeout 600 nice cmake --build acmepay/build -j2 > "$WORK/build.log" 2>&1) || {
  tail -40 "$WORK/build.log" >&2; fail "build failed"; }
if grep -rqs -e "$SRC" -e "$BUILD" "$WORK/acmepay/build/CMakeCache.txt" "$WORK/acmepay/build/CMakeFiles"; then
  grep -rls -e "$SRC" -e "$BUILD" "$WORK/acmepay/build/CMakeCache.txt" "$WORK/acmepay/build/CMakeFiles" | head >&2
  fail "the out-of-tree build names the source or build tree"
fi
SO="$WORK/acmepay/build/libmalipo_acmepay.so"
[ -f "$SO" ] || fail "no libmalipo_acmepay.so"
# Hidden visibility: the entry point is exported, none of the plugin's own code (library
# headers' inline templates keep theirs).
nm -D --defined-only "$SO" | grep -q ' malipo_plugin_' || fail "no malipo_plugin_* entry point exported"
if nm -D --defined-only "$SO" | grep -q acmepay; then fail "the plugin's own symbols are exported"; fi
(cd "$WORK/acmepay/build" && timeout 120 ctest --output-on-failure > "$WORK/ctest.log" 2>&1) || {
  cat "$WORK/ctest.log" >&2; fail "the scaffold's own tests failed"; }
# The installed conformance kit passes the scaffold's provider.
timeout 180 "$P/bin/malipo-conformance" --plugin "$SO" > "$WORK/conformance.log" 2>&1 || {
  cat "$WORK/conformance.log" >&2; fail "the scaffold's provider fails the conformance kit"; }
grep -q "every check passed" "$WORK/conformance.log" || { cat "$WORK/conformance.log" >&2; fail "no conformance verdict"; }

# Loaded by YAML into the installed kernel, the library path relative to the config's folder.
mkdir -p "$WORK/etc"
cat > "$WORK/etc/malipo.yaml" <<YAML
server: {listen: "127.0.0.1:0"}
database: {url: "sqlite:../var/oot.db"}
auth: {jwt_secret: "out-of-tree-test-jwt-secret-0123456789"}
admin: {token: "out-of-tree-test-admin-token-0123456789"}
log: {level: warning}
sandbox: true
plugins:
  - name: acmepay
    library: ../acmepay/build/libmalipo_acmepay.so
    settings: {currencies: [NGN]}
  - name: credits
    library: $P/lib/malipo/plugins/libmalipo_credits.so
    settings: {providers: [acmepay]}
YAML
(cd / && exec "$MALIPO" serve --config "$WORK/etc/malipo.yaml" --port-file "$WORK/port") 2> "$WORK/log" &
PID=$!
for _ in $(seq 300); do [ -s "$WORK/port" ] && break; alive "$PID" || fail "the server exited"; sleep 0.05; done
[ -s "$WORK/port" ] || fail "the server did not listen"
BASE="http://127.0.0.1:$(cat "$WORK/port")"
curl -sf "$BASE/readyz" | grep -q '"ready"' || fail "not ready"
[ -f "$WORK/var/oot.db" ] || fail "the database is not next to the config's folder"

TOKEN=$(python3 - <<'PY'
import base64, hashlib, hmac, json, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b64(json.dumps({"sub": "oot-1", "exp": int(time.time()) + 600}).encode())
s = b64(hmac.new(b"out-of-tree-test-jwt-secret-0123456789", f"{h}.{p}".encode(), hashlib.sha256).digest())
print(f"{h}.{p}.{s}")
PY
)
TOPUP=$(curl -sf -X POST "$BASE/api/v1/verification-credits/topup" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"packageId": "pkg_10_credits"}') || fail "top-up refused"
URL=$(echo "$TOPUP" | json "['data']['paymentUrl']")
PAYMENT=$(echo "$TOPUP" | json "['data']['reference']")
REF=$(echo "$URL" | sed -n 's#.*/sandbox/acmepay/orders/\([^/]*\)/checkout.*#\1#p')
[ -n "$REF" ] || fail "paymentUrl is not the simulator's checkout: $URL"
curl -sf "$URL" | grep -q "acmepay simulator" || fail "no checkout page"
# A webhook with a wrong signature is refused and settles nothing.
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/webhooks/acmepay" -H 'X-acmepay-Signature: 00' \
  -d "{\"event_id\":\"forged\",\"order_id\":\"$PAYMENT\",\"status\":\"paid\"}")
[ "$CODE" = 401 ] || fail "a forged webhook answered $CODE"
PAID=$(curl -sf -X POST "$BASE/sandbox/acmepay/orders/$REF/pay" -H 'Content-Type: application/json' -d '{"outcome":"paid"}')
echo "$PAID" | grep -q '"status":"paid"' || fail "simulator: $PAID"
STATUS=""
for _ in $(seq 200); do
  STATUS=$(curl -sf "$BASE/admin/payments/$PAYMENT" -H "Authorization: Bearer out-of-tree-test-admin-token-0123456789" \
    | json ".get('status', '')" 2>/dev/null || true)
  [ "$STATUS" = succeeded ] && break
  sleep 0.05
done
[ "$STATUS" = succeeded ] || fail "payment $PAYMENT is '$STATUS'"
BALANCE=$(curl -sf "$BASE/api/v1/verification-credits/balance" -H "Authorization: Bearer $TOKEN" | json "['data']['balance']")
[ "$BALANCE" = 10 ] || fail "balance is $BALANCE"
kill -TERM "$PID"
wait "$PID" || fail "exit code $? after SIGTERM"
PID=""
echo "out_of_tree: OK (scaffold built against the installed SDK, passes malipo-conformance, loaded by YAML, payment succeeded, 10 credits)"
