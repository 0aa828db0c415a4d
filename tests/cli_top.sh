#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_top.sh - drives `shmipc top` against a blackboard whose stats the svc_fixture helper bumps
# continuously: --once and --json must show a message rate above zero and its dead participant (the pool
# fill is checked by cli_pubsub.sh); --count N prints N frames when stdout is not a terminal; SIGINT ends the live view cleanly;
# bad options are usage errors. Rates are only checked to be positive (no timing bounds).
# Usage: bash cli_top.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_top.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
FIX=$BUILD/tests/cli_fixtures/svc_fixture
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -x "$FIX" ] || { echo "SKIP: $FIX is not built"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

N=clitop-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
FPID=
TPID=

cleanup() {
    [ -n "$TPID" ] && kill -9 "$TPID" 2>/dev/null
    [ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
    rm -f /dev/shm/shmipc.*."$N"
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- a blackboard with a busy writer and one dead reader ----------------------------------------------
"$FIX" "$N" --dead 1 --bump >"$TMP/fix" 2>&1 &
FPID=$!
for i in $(seq 100); do
    grep -q '/' "$TMP/fix" 2>/dev/null && break
    grep -q SKIP "$TMP/fix" 2>/dev/null && { cat "$TMP/fix"; exit 77; }
    kill -0 "$FPID" 2>/dev/null || break
    sleep 0.1
done
SVC=$(head -n1 "$TMP/fix")
PAT=${SVC%%/*}
[ "$SVC" = "$PAT/$N" ] || { echo "FAIL: fixture did not start: $(cat "$TMP/fix")"; exit 1; }

expect 0 "^shmipc top - .* every 200 ms$" -- "$CLI" top --once --interval 200
# PATTERN NAME ALIVE DEAD RATE/s STAT TOTAL FILL: rate above zero, no fill (a blackboard has no pool).
row=$(awk -v n="$N" '$2 == n' "$TMP/out")
checks=$((checks + 1))
echo "$row" | grep -Eq "^$PAT +$N +1 +1 +[0-9]+\.[0-9] +updates +[0-9]+ +-$" ||
    fail "top --once row: '$row'"
rate=$(echo "$row" | awk '{print $5}')
checks=$((checks + 1))
awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || fail "top --once rate is not above zero: '$row'"
checks=$((checks + 1))
grep -q $'\033' "$TMP/out" && fail "top --once printed escape sequences into a file"

expect 0 -- "$CLI" top --json --interval 200
pycheck "d['interval_ms'] == 200 and d['sampled_over_s'] > 0"
pycheck "[s for s in d['services'] if s['service'] == '$SVC' and s['main_stat'] == 'updates' and s['rate'] > 0
          and set(s['rates']) == {'updates'} and s['rates']['updates'] == s['rate'] and s['fill'] is None
          and s['dead'] == 1 and s['alive'] == 1]"

expect 0 -- "$CLI" top --count 3 --interval 50
checks=$((checks + 1))
[ "$(grep -c '^shmipc top - ' "$TMP/out")" = 3 ] || fail "top --count 3 did not print 3 frames: $(cat "$TMP/out")"

# On a terminal (script(1) provides one) every frame clears the screen first.
if command -v script >/dev/null; then
    tty_top() { script -qec "'$CLI' top --count 2 --interval 50 </dev/null" /dev/null </dev/null; }
    expect 0 -- tty_top
    checks=$((checks + 1))
    [ "$(grep -c $'\033\[H\033\[2J' "$TMP/out")" = 2 ] || fail "top on a tty did not clear the screen twice"
else
    echo "SKIP part: no script(1) to give top a terminal"
fi

# Ctrl-C ends the live view with status 0.
"$CLI" top --interval 100 >"$TMP/live" 2>&1 </dev/null &
TPID=$!
for i in $(seq 50); do grep -qs "^shmipc top" "$TMP/live" && break; sleep 0.1; done
kill -INT "$TPID"
for i in $(seq 50); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
checks=$((checks + 1))
if kill -0 "$TPID" 2>/dev/null; then
    fail "top did not stop on SIGINT"
else
    wait "$TPID"
    st=$?
    [ "$st" = 0 ] || fail "top exited $st after SIGINT"
fi
TPID=

# The fixture gone: its participant shows as dead, no rate for a service that stopped counting.
kill -9 "$FPID"; wait "$FPID" 2>/dev/null; FPID=
expect 0 -- "$CLI" top --json --interval 50
pycheck "[s for s in d['services'] if s['service'] == '$SVC' and s['dead'] == 2 and s['alive'] == 0
          and s['rate'] == 0]"

# --- usage errors ----------------------------------------------------------------------------------------
expect 2 "bad interval" -- "$CLI" top --interval 0
expect 2 "bad interval" -- "$CLI" top --interval x
expect 2 "bad count" -- "$CLI" top --count 0
expect 2 "one too many" -- "$CLI" top extra
expect 0 "usage: shmipc top" -- "$CLI" top --help

"$CLI" gc "$SVC" >/dev/null || fail "gc of the fixture's service failed"

finish
