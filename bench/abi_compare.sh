#!/usr/bin/env bash
# What the plugin ABI costs: the same measurements on two builds, alternating, in one run.
#   bench/abi_compare.sh BUILD_BEFORE BUILD_AFTER [ROUNDS]
# Each build folder needs bin/malipo, bin/payments_bench and tests/plugins (fakepay, shop,
# testplugin). Measured per round and build:
#   - settled payments/s (payments_bench, SQLite, 2,000 payments through fakepay + shop:
#     every provider and product call crosses the plugin boundary);
#   - a plugin route (testplugin GET /test/hello/{name}: request in, response out through the
#     boundary) and /healthz (kernel only) with wrk -t2 -c64, and their ratio.
# Prints the best of the rounds for each and the after/before ratios.
set -euo pipefail
BEFORE=$(cd "$1" && pwd)
AFTER=$(cd "$2" && pwd)
ROUNDS=${3:-3}
DUR=${BENCH_DURATION:-5}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

rps() { wrk -t2 -c64 -d"${DUR}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN {print (b > a ? b : a)}'; }

start_kernel() { # build tag → port
  local b=$1 tag=$2
  cat > "$WORK/$tag.yaml" <<YAML
server: {listen: "127.0.0.1:0", threads: 32, idle_timeout_ms: 600000, access_log: false, rate_limits: {default: {requests_per_minute: 10000000, burst: 1000000}}}
database: {url: "sqlite:$WORK/$tag.db"}
auth: {jwt_secret: "bench-only-secret-0123456789abcdefghijklmnop"}
log: {level: warning}
plugins:
  - name: testplugin
    library: $b/tests/plugins/libmalipo_testplugin.so
YAML
  "$b/bin/malipo" serve --config "$WORK/$tag.yaml" --port-file "$WORK/$tag.port" 2> "$WORK/$tag.log" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/$tag.port" ] && break; sleep 0.1; done
  cat "$WORK/$tag.port"
}

declare -A PAY ROUTE HEALTH
for tag in before after; do PAY[$tag]=0; ROUTE[$tag]=0; HEALTH[$tag]=0; done
PB=$(start_kernel "$BEFORE" before)
PA=$(start_kernel "$AFTER" after)
for p in $PB $PA; do wrk -t2 -c64 -d2s "http://127.0.0.1:$p/test/hello/x" > /dev/null; done  # warm-up

for round in $(seq "$ROUNDS"); do
  for tag in before after; do
    b=$BEFORE; port=$PB
    [ $tag = after ] && b=$AFTER && port=$PA
    rm -f "$WORK/pay-$tag.db"*
    P=$("$b/bin/payments_bench" "sqlite:$WORK/pay-$tag.db" "$b/tests/plugins" 2000 2>/dev/null | awk '{for (i = 2; i < NF; i++) if ($i == "settled" && $(i + 1) == "payments/s") {print $(i - 1); exit}}')
    R=$(rps "http://127.0.0.1:$port/test/hello/x")
    H=$(rps "http://127.0.0.1:$port/healthz")
    echo "round $round $tag: settled ${P:-?}/s, plugin route $R req/s, /healthz $H req/s"
    PAY[$tag]=$(best "${PAY[$tag]}" "${P:-0}")
    ROUTE[$tag]=$(best "${ROUTE[$tag]}" "$R")
    HEALTH[$tag]=$(best "${HEALTH[$tag]}" "$H")
  done
done
for tag in before after; do
  awk -v t=$tag -v p="${PAY[$tag]}" -v r="${ROUTE[$tag]}" -v h="${HEALTH[$tag]}" \
    'BEGIN {printf "%-6s best of rounds: settled %.0f/s, plugin route %.0f req/s, /healthz %.0f req/s, route/healthz %.2f\n", t, p, r, h, r / h}'
done
awk -v a="${PAY[after]}" -v b="${PAY[before]}" 'BEGIN {printf "settled payments/s after/before: %.3f (target >= 0.95)\n", a / b}'
awk -v a="${ROUTE[after]}" -v b="${ROUTE[before]}" 'BEGIN {printf "plugin route req/s after/before:  %.3f (target >= 0.95)\n", a / b}'
awk -v ra="${ROUTE[after]}" -v ha="${HEALTH[after]}" -v rb="${ROUTE[before]}" -v hb="${HEALTH[before]}" \
  'BEGIN {printf "route/healthz ratio after/before: %.3f (target >= 0.95)\n", (ra / ha) / (rb / hb)}'
