#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_pubsub.sh - `shmipc pub` and `shmipc sub` end to end: lines published from standard input
# arrive at three subscribers printing text, hex and JSON; hex and JSON input; a history for a late
# subscriber; --count, --timeout and SIGINT end a subscriber cleanly (no dead participant left); errors and
# their exit codes; top sees the pool fill; gc removes the service and its pool afterwards; a fixed-size
# service (made by svc_fixture) gets short lines padded, and gc reclaims its dead subscribers.
# Usage: bash cli_pubsub.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_pubsub.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
FIX=$BUILD/tests/cli_fixtures/svc_fixture
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -x "$FIX" ] || { echo "SKIP: $FIX is not built"; exit 77; }
"$CLI" pub --help >/dev/null 2>&1 || { echo "SKIP: this shmipc has no pub command (no pubsub.h)"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

N=clips-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
BG=()

cleanup() {
    local p
    exec 3>&- 4>&- 2>/dev/null
    for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -f /dev/shm/shmipc.pubsub."$N"*
    rm -rf "$TMP"
}
trap cleanup EXIT

# same WHAT FILE EXPECTED: FILE must hold exactly EXPECTED.
same() {
    checks=$((checks + 1))
    [ "$(cat "$2")" = "$3" ] || fail "$1: got '$(head -c 500 "$2")', expected '$3'"
}

# alive_dead SVC A D: the service has A live participants and D dead ones.
alive_dead() {
    "$CLI" ls | grep -Eq "^$1 .* $2 +$3$"
}

# alive_is SVC N: the service has N live participants and no dead one.
alive_is() {
    alive_dead "$1" "$2" 0
}

S=pubsub/$N-a
# --- a publisher fed from a FIFO, three subscribers --------------------------------------------------------
mkfifo "$TMP/fifo"
"$CLI" pub "$N-a" --size 64 <"$TMP/fifo" >"$TMP/pub.out" 2>&1 &
PUB=$!
BG+=("$PUB")
exec 3>"$TMP/fifo"
check_started() { "$CLI" info "$S"; }
until_ok check_started || fail "pub did not create $S"
expect 0 "options: +payload=64\(dynamic\)" -- "$CLI" info "$S"
for f in text hex json; do
    "$CLI" sub "$S" --format $f --count 3 --timeout 20000 >"$TMP/sub.$f" 2>&1 &
    BG+=("$!")
    eval "SUB_$f=$!"
done
until_ok alive_is "$S" 4 || fail "the three subscribers did not connect: $("$CLI" ls)"
printf 'hello world\ntab\there\n%s\n' "$(printf 'x%.0s' $(seq 64))" >&3
for f in text hex json; do
    eval "p=\$SUB_$f"
    wait "$p"
    st=$?
    checks=$((checks + 1))
    [ "$st" = 0 ] || fail "sub --format $f exited $st: $(cat "$TMP/sub.$f")"
done
same "sub text" "$TMP/sub.text" "$(printf 'hello world\ntab\there\n%s' "$(printf 'x%.0s' $(seq 64))")"
same "sub hex" "$TMP/sub.hex" "$(printf '68656c6c6f20776f726c64\n7461620968657265\n%s' "$(printf '78%.0s' $(seq 64))")"
checks=$((checks + 1))
if $have_python; then
    python3 - "$TMP/sub.json" <<'PY' || fail "sub json: $(head -c 600 "$TMP/sub.json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["text"] for r in rows] == ["hello world", "tab\there", "x" * 64], rows
assert [r["size"] for r in rows] == [11, 8, 64], rows
assert rows[0]["hex"] == "68656c6c6f20776f726c64"
assert rows[0]["sequence"] < rows[1]["sequence"] < rows[2]["sequence"]
PY
fi

# top sees the pool (pubsub gives its capacity as "chunks=N").
expect 0 -- "$CLI" top --json --interval 50
checks=$((checks + 1))
if $have_python; then
    python3 -c "
import json,sys
d = json.load(open('$TMP/out'))
s = [s for s in d['services'] if s['service'] == '$S'][0]
sys.exit(0 if s['fill'] and s['fill']['size_from'] == 'chunks' and s['fill']['size'] > 0 and s['main_stat'] == 'published'
         and s['stats']['published'] == 3 else 1)" || fail "top --json for $S: $(head -c 1500 "$TMP/out")"
fi

# --- errors while the publisher runs -------------------------------------------------------------------------
# A timeout is status 3: before --count samples, or (without --count) before any sample.
expect 3 "timed out after 0 of 1 samples" -- "$CLI" sub "$S" --count 1 --timeout 200
expect 3 "timed out: no samples in 100 ms" -- "$CLI" sub "$S" --timeout 100
expect 3 "timed out after 0 of 1 samples" -- "$CLI" sub "$S" --count 1 --timeout 0
expect 1 "at most 64" -- sh -c "printf '%s\n' $(printf 'y%.0s' $(seq 65)) | '$CLI' pub '$S'"
expect 1 "line 2: not pairs of hex digits" -- sh -c "printf '00ff\nzz\n' | '$CLI' pub '$S' --format hex"
expect 1 "line 1: not one JSON string" -- sh -c "echo '{\"a\": 1}' | '$CLI' pub '$S' --format json"
expect 1 "line 1: not one JSON string" -- sh -c "echo '\"unterminated' | '$CLI' pub '$S' --format json"

# --- hex and JSON input, a late subscriber with SIGINT --------------------------------------------------------
"$CLI" sub "$S" >"$TMP/sub.late" 2>&1 &
LATE=$!
BG+=("$LATE")
until_ok alive_is "$S" 2 || fail "late subscriber did not connect"
expect 0 -- sh -c "printf '68 69\n' | '$CLI' pub '$S' --format hex"
cat >"$TMP/json.in" <<'JSON'
"caf\u00e9 \ud83d\ude00 \"q\" \\ \/"
JSON
expect 0 -- sh -c "'$CLI' pub '$S' --format json --rate 100 <'$TMP/json.in'"
until_ok grep -q caf "$TMP/sub.late"
kill -INT "$LATE"
wait "$LATE"
st=$?
checks=$((checks + 1))
[ "$st" = 0 ] || fail "sub after SIGINT exited $st"
same "hex and json input" "$TMP/sub.late" "$(printf 'hi\ncafé 😀 "q" \\ /')"
expect 0 "^$S .* 1 +0$" -- "$CLI" ls   # the subscriber left cleanly: no dead participant

# --- usage errors -------------------------------------------------------------------------------------------
expect 2 "bad format 'xml'" -- "$CLI" pub "$S" --format xml
expect 2 "not a publish/subscribe service" -- "$CLI" sub "event/$N-a"
expect 2 "bad service name" -- "$CLI" sub "a b"
expect 2 "bad rate" -- "$CLI" pub "$S" --rate x
expect 2 "bad size" -- "$CLI" pub "$S" --size 0
expect 2 "bad count" -- "$CLI" sub "$S" --count 0
expect 2 "bad timeout" -- "$CLI" sub "$S" --timeout -1
expect 2 "missing argument" -- "$CLI" sub
expect 1 "no such service: .*\(-ENOENT\)" -- "$CLI" sub "$N-none" --timeout 100
expect 3 "timed out: no such service after 100 ms" -- "$CLI" sub "$N-none" --wait --timeout 100

# --- sub --wait started before the publisher exists -------------------------------------------------------------
W=pubsub/$N-w
"$CLI" sub "$N-w" --wait --count 2 --timeout 20000 >"$TMP/sub.wait" 2>&1 &
WAITER=$!
BG+=("$WAITER")
# pub creates the service; its first line goes out once the waiting subscriber has connected (the
# subscriber is then the service's second participant), so nothing is published before it listens.
mkfifo "$TMP/wfifo"
"$CLI" pub "$N-w" <"$TMP/wfifo" >"$TMP/pub.w" 2>&1 &
WPUB=$!
BG+=("$WPUB")
exec 4>"$TMP/wfifo"
until_ok alive_is "$W" 2 || fail "sub --wait did not connect once $W appeared: $("$CLI" ls) $(cat "$TMP/sub.wait")"
printf 'first\nsecond\n' >&4
exec 4>&-
wait "$WAITER"
st=$?
checks=$((checks + 1))
[ "$st" = 0 ] || fail "sub --wait exited $st: $(cat "$TMP/sub.wait")"
same "sub --wait got the samples" "$TMP/sub.wait" "$(printf 'first\nsecond')"
wait "$WPUB"
expect 0 "services removed: +1" -- "$CLI" gc "$W"

# --- end: the publisher leaves at end of input, gc removes the service and its pool ------------------------------
exec 3>&-
wait "$PUB"
st=$?
checks=$((checks + 1))
[ "$st" = 0 ] || fail "pub exited $st: $(cat "$TMP/pub.out")"
expect 0 "^$S .* 0 +0$" -- "$CLI" ls
expect 0 "services removed: +1" -- "$CLI" gc "$S"
checks=$((checks + 1))
ls /dev/shm | grep -q "shmipc.pubsub.$N-a" && fail "gc left $(ls /dev/shm | grep "shmipc.pubsub.$N-a")"

# --- a fixed-size service with two dead subscribers ------------------------------------------------------------
F=pubsub/$N-f
"$FIX" "$N-f" --pattern pubsub --dead 2 >"$TMP/fix" 2>&1 &
FPID=$!
BG+=("$FPID")
until_ok grep -q "^$F$" "$TMP/fix" || fail "svc_fixture did not start: $(cat "$TMP/fix")"
"$CLI" sub "$F" --format hex --count 1 --timeout 20000 >"$TMP/sub.fixed" 2>&1 &
SUBF=$!
BG+=("$SUBF")
until_ok alive_dead "$F" 2 2 || fail "subscriber of $F did not connect: $("$CLI" ls)"
expect 0 -- sh -c "echo ab | '$CLI' pub '$F'"
wait "$SUBF"
same "fixed-size sample padded with zeros" "$TMP/sub.fixed" "6162$(printf '0%.0s' $(seq 124))"
expect 1 "at most 64" -- sh -c "printf '%s\n' $(printf 'z%.0s' $(seq 65)) | '$CLI' pub '$F'"
expect 0 "participants reclaimed: 2" -- "$CLI" gc "$F"
expect 0 "^$F .* 1 +0$" -- "$CLI" ls
kill -9 "$FPID"
wait "$FPID" 2>/dev/null
expect 0 "participants reclaimed: 1" -- "$CLI" gc "$F"
check "gc removed $F" grep -Eq "services removed: +1" "$TMP/out"
checks=$((checks + 1))
ls /dev/shm | grep -q "shmipc.pubsub.$N-f" && fail "gc left $(ls /dev/shm | grep "shmipc.pubsub.$N-f")"

finish
