#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_dir.sh - the CLI follows the directory named objects live in: SHMIPC_DIR and `shmipc --dir`
# make `segment create/ls/info/rm`, `ls`, `info` and `gc` work there and nowhere else; a directory others
# can write is refused with a clear error.
# Usage: bash cli_dir.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_dir.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
FIX=$BUILD/tests/cli_fixtures/svc_fixture
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -x "$FIX" ] || { echo "SKIP: $FIX is not built"; exit 77; }

N=clidir-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
D=$(mktemp -d /dev/shm/shmipc-clidir-XXXXXX)
chmod 700 "$D"
FIX_PID=

cleanup() {
    [ -n "$FIX_PID" ] && { kill -9 "$FIX_PID" 2>/dev/null; wait "$FIX_PID" 2>/dev/null; }
    rm -rf "$TMP" "$D"
}
trap cleanup EXIT

# --- segments, by environment and by option ----------------------------------------------------------------
SHMIPC_DIR=$D expect 0 -- "$CLI" segment create "/$N-a" 4K
check "segment file in the directory" test -f "$D/$N-a"
check "segment not in /dev/shm" test ! -e "/dev/shm/$N-a"
expect 0 "$N-a" -- env SHMIPC_DIR="$D" "$CLI" segment ls
expect 0 "$N-a" -- "$CLI" --dir "$D" segment ls
expect 0 "$N-a" -- "$CLI" --dir="$D" segment info "/$N-a"
run "$CLI" segment ls
checks=$((checks + 1))
grep -q "$N-a" "$TMP/out" && fail "a segment of the directory listed in /dev/shm"
expect 1 "No such file" -- "$CLI" segment info "/$N-a"
expect 0 -- "$CLI" --dir "$D" segment rm "/$N-a"
check "segment removed" test ! -e "$D/$N-a"

# --- services: ls, info and gc follow the directory ------------------------------------------------------------
out=$TMP/fix
SHMIPC_DIR=$D "$FIX" "$N-s" --dead 1 >"$out" 2>&1 &
FIX_PID=$!
for i in $(seq 100); do grep -q '/' "$out" 2>/dev/null && break; kill -0 "$FIX_PID" 2>/dev/null || break; sleep 0.1; done
grep -q '/' "$out" || { echo "FAIL: fixture did not start: $(cat "$out")"; exit 1; }
SVC=$(head -n1 "$out")
expect 0 "$N-s" -- "$CLI" --dir "$D" ls
expect 0 "dead" -- "$CLI" --dir "$D" info "$SVC"
run "$CLI" ls
checks=$((checks + 1))
grep -q "$N-s" "$TMP/out" && fail "a service of the directory listed from /dev/shm"
kill -9 "$FIX_PID"; wait "$FIX_PID" 2>/dev/null; FIX_PID=
expect 0 -- "$CLI" --dir "$D" gc "$SVC"
check "gc removed the service in the directory" test -z "$(ls "$D")"

# --- unsafe or wrong directories -------------------------------------------------------------------------------
mkdir "$D/open"; chmod 1777 "$D/open"
expect 1 "Operation not permitted .-EPERM." -- "$CLI" --dir "$D/open" segment ls
expect 1 "Operation not permitted .-EPERM." -- env SHMIPC_DIR="$D/open" "$CLI" segment create "/$N-b" 4K
expect 1 "-ENOENT" -- "$CLI" --dir "$D/missing" ls
expect 2 "needs a value" -- "$CLI" --dir

finish
