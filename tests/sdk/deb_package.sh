#!/usr/bin/env bash
# Issue #21's package test: `cpack` builds the .deb, `dpkg -i` installs it (user, state
# folder, secrets file, unit), the unit's ExecStart runs by hand as the unit's user with its
# EnvironmentFile (systemd does not run in the test machine; with systemd, systemctl), in
# sandbox on a free loopback port; /readyz; then the package is purged.
# Skipped (exit 77) when not root, without dpkg, or when a malipo package is installed.
set -euo pipefail
[ -n "${SDK_TEST_DEBUG:-}" ] && set -x
BUILD=$(cd "${1:?build dir}" && pwd)
skip() { echo "deb_package: SKIPPED: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
command -v dpkg >/dev/null && command -v dpkg-shlibdeps >/dev/null || skip "dpkg or dpkg-shlibdeps (dpkg-dev) missing"
if dpkg-query -W -f='${Status}' malipo 2>/dev/null | grep -q "ok installed"; then skip "a malipo package is installed already"; fi

WORK=$(mktemp -d /tmp/malipo-deb.XXXXXX)
PID=""
HAD_USER=0 HAD_STATE=0
getent passwd malipo >/dev/null && HAD_USER=1
[ -e /var/lib/malipo ] && HAD_STATE=1
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  dpkg --purge malipo >/dev/null 2>&1 || true
  [ "$HAD_STATE" = 0 ] && rm -rf /var/lib/malipo
  [ "$HAD_USER" = 0 ] && userdel malipo 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Running and not a zombie (kill -0 succeeds on an exited child not yet waited for).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
fail() { echo "deb_package: $*" >&2; [ -f "$WORK/log" ] && tail -20 "$WORK/log" >&2; exit 1; }

(cd "$WORK" && timeout 300 cpack -G DEB -B "$WORK/out" --config "$BUILD/CPackConfig.cmake" > "$WORK/cpack.log" 2>&1) \
  || { tail -30 "$WORK/cpack.log" >&2; fail "cpack failed"; }
DEB=$(ls "$WORK"/out/malipo_*.deb)
dpkg-deb -f "$DEB" Depends | grep -q libpoco || fail "no Poco runtime in Depends: $(dpkg-deb -f "$DEB" Depends)"
dpkg-deb -c "$DEB" > "$WORK/contents"
for f in ./usr/bin/malipo ./etc/malipo/malipo.yaml ./usr/lib/systemd/system/malipo.service \
         ./usr/lib/malipo/plugins/libmalipo_credits.so ./usr/lib/cmake/MalipoSDK/MalipoSDKConfig.cmake \
         ./usr/include/malipo/provider.hpp ./usr/share/doc/malipo/packaging.md; do
  grep -q " $f\$" "$WORK/contents" || fail "the package has no $f"
done
dpkg -i "$DEB" > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i failed"; }

getent passwd malipo >/dev/null || fail "postinst made no malipo user"
[ "$(stat -c %U /var/lib/malipo)" = malipo ] || fail "/var/lib/malipo is not the malipo user's"
[ "$(stat -c '%a %G' /etc/malipo/malipo.env)" = "640 malipo" ] || fail "malipo.env: $(stat -c '%a %G' /etc/malipo/malipo.env)"
grep -q '^MALIPO_JWT_SECRET=[0-9a-f]\{64\}$' /etc/malipo/malipo.env || fail "no random JWT secret in malipo.env"

UNIT=/usr/lib/systemd/system/malipo.service
for opt in User=malipo StateDirectory=malipo NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes; do
  grep -qx "$opt" "$UNIT" || fail "the unit lacks $opt"
done
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# As systemd would: the unit's user, working directory and EnvironmentFile (sandbox for the
# test: no provider accounts here).
ENVS=()
while IFS= read -r line; do ENVS+=("$line"); done < <(grep -E '^[A-Z_][A-Z0-9_]*=' /etc/malipo/malipo.env)
# setpriv execs (no wrapper process between the signal and the server).
(cd /var/lib/malipo && exec setpriv --reuid=malipo --regid=malipo --init-groups --no-new-privs \
  env -i PATH=/usr/bin:/bin "${ENVS[@]}" MALIPO_SANDBOX=true MALIPO_LISTEN="127.0.0.1:$PORT" $EXEC) \
  > "$WORK/log" 2>&1 &
PID=$!
READY=""
for _ in $(seq 200); do
  READY=$(curl -s "http://127.0.0.1:$PORT/readyz" || true)
  echo "$READY" | grep -q '"ready"' && break
  alive "$PID" || fail "the server exited"
  sleep 0.05
done
echo "$READY" | grep -q '"ready"' || fail "not ready: $READY"
[ -f /var/lib/malipo/malipo.db ] || fail "no database in /var/lib/malipo"
kill -TERM "$PID"
wait "$PID" || fail "exit code $? after SIGTERM"
PID=""
dpkg --purge malipo > "$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "purge failed"; }
[ ! -e /usr/bin/malipo ] || fail "/usr/bin/malipo is still there after purge"
[ ! -e /etc/malipo/malipo.env ] || fail "malipo.env is still there after purge"
echo "deb_package: OK ($(basename "$DEB"): installed, ExecStart ready as malipo, purged)"
