#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_queue.sh - `shmipc queue` end to end: create with slot size, depth (rounded up) and a
# participant limit; two receivers started before the sender share its lines (each line reaches exactly
# one); messages wait in the queue for a later receiver; hex and JSON; a full queue and an empty one give
# the timeout status (3); --wait for a queue created later; -EMSGSIZE, -EUSERS, -EPROTOTYPE, -ENOENT and
# usage errors, each message with its symbolic name. Processes wait for each other through the queue's
# participant count (`queue stat`), never fixed sleeps.
# Usage: bash cli_queue.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_queue.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

N=cliq-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
BG=()

cleanup() {
    local p
    for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -f /dev/shm/"$N"*
    rm -rf "$TMP"
}
trap cleanup EXIT

same() {
    checks=$((checks + 1))
    [ "$(cat "$2")" = "$3" ] || fail "$1: got '$(head -c 500 "$2")', expected '$3'"
}

# parts_is NAME N: N handles are registered in the queue.
parts_is() {
    "$CLI" queue stat "$1" | grep -Eq "^participants: +$2 of"
}

waitpid_is() {
    wait "$1"
    local st=$?
    checks=$((checks + 1))
    [ "$st" = "$2" ] || fail "$3 exited $st, expected $2"
}

Q=$N-a
# --- create --------------------------------------------------------------------------------------------------
expect 0 -- "$CLI" queue create "$Q" --size 32 --depth 5 --participants 3 --mode 0640
expect 0 "type: +queue" -- "$CLI" segment info "/$Q"
check "mode 0640" grep -Eq "mode: +0640" "$TMP/out"
expect 0 "slots: +8 of 32 bytes" -- "$CLI" queue stat "$Q"
check "no participant" grep -Eq "^participants: +0 of 3$" "$TMP/out"
expect 1 "File exists \(-EEXIST\)" -- "$CLI" queue create "$Q"

# --- two receivers share the lines of one sender --------------------------------------------------------------
for i in 1 2; do
    "$CLI" queue recv "$Q" --count 5 --timeout 20000 >"$TMP/recv.$i" 2>&1 &
    eval "R$i=$!"
    BG+=("$!")
done
until_ok parts_is "$Q" 2 || fail "the two receivers did not register: $("$CLI" queue stat "$Q")"
seq 1 10 | "$CLI" queue send "$Q"
waitpid_is "$R1" 0 "receiver 1"
waitpid_is "$R2" 0 "receiver 2"
same "each line reached exactly one receiver" <(sort -n "$TMP/recv.1" "$TMP/recv.2") "$(seq 1 10)"
expect 0 "^participants: +0 of 3$" -- "$CLI" queue stat "$Q"

# --- messages wait for a later receiver; hex and JSON ------------------------------------------------------------
expect 0 -- "$CLI" queue send "$Q" ping --count 2
expect 0 -- sh -c "printf '00 ff\n' | '$CLI' queue send '$Q' --format hex"
expect 0 -- sh -c "echo '\"caf\\u00e9\"' | '$CLI' queue send '$Q' --format json"
expect 0 "queued: +4" -- "$CLI" queue stat "$Q"
expect 0 -- "$CLI" queue recv "$Q" --count 4 --format json
checks=$((checks + 1))
if $have_python; then
    python3 - "$TMP/out" <<'PY' || fail "recv json: $(head -c 600 "$TMP/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["text"] for r in rows] == ["ping", "ping", "", "café"], rows
assert [r["hex"] for r in rows] == ["70696e67", "70696e67", "00ff", "636166c3a9"], rows
assert [r["size"] for r in rows] == [4, 4, 2, 5], rows
PY
fi

# --- a full queue, an empty one: status 3 --------------------------------------------------------------------------
expect 3 "timed out after 8 messages: no room for 100 ms" -- "$CLI" queue send "$Q" x --count 9 --timeout 100
expect 0 "queued: +8" -- "$CLI" queue stat "$Q"
expect 3 "timed out after 8 of 9 messages" -- "$CLI" queue recv "$Q" --count 9 --timeout 100
expect 3 "timed out: no messages in 100 ms" -- "$CLI" queue recv "$Q" --timeout 100
expect 0 -- "$CLI" queue send "$Q" late
expect 0 -- "$CLI" queue recv "$Q" --timeout 100     # got one, then idle: a normal end
same "recv --timeout after a message" "$TMP/out" "late"
expect 1 "message 1: 33 bytes, but the queue takes at most 32: .*\(-EMSGSIZE\)" -- "$CLI" queue send "$Q" "$(printf 'y%.0s' $(seq 33))"

# --- the participant table is bounded -----------------------------------------------------------------------------
P=$N-p
expect 0 -- "$CLI" queue create "$P" --participants 1
"$CLI" queue recv "$P" >"$TMP/recv.p" 2>&1 &
RP=$!
BG+=("$RP")
until_ok parts_is "$P" 1 || fail "receiver of $P did not register"
expect 1 "participant table is full of running processes: .*\(-EUSERS\)" -- "$CLI" queue send "$P" x
kill -INT "$RP"
waitpid_is "$RP" 0 "recv after SIGINT"
expect 0 "^participants: +0 of 1$" -- "$CLI" queue stat "$P"

# --- --wait: a receiver and a sender started before the queue exists -----------------------------------------------
W=$N-w
"$CLI" queue recv "$W" --wait --count 1 --timeout 20000 >"$TMP/recv.wait" 2>&1 &
R=$!
BG+=("$R")
"$CLI" queue send "$W" waited --wait --timeout 20000 >"$TMP/send.wait" 2>&1 &
S=$!
BG+=("$S")
expect 0 -- "$CLI" queue create "$W"
waitpid_is "$S" 0 "send --wait"
waitpid_is "$R" 0 "recv --wait"
same "recv --wait" "$TMP/recv.wait" "waited"
expect 1 "no such queue: No such file or directory \(-ENOENT\)" -- "$CLI" queue recv "$N-none"
expect 3 "timed out: no such queue after 100 ms" -- "$CLI" queue recv "$N-none" --wait --timeout 100

# --- stat --json, unlink, usage errors ----------------------------------------------------------------------------
expect 0 -- "$CLI" queue stat "$Q" --json
json_ok "queue stat --json"
pycheck "d['name'] == '/$Q' and d['slot_count'] == 8 and d['slot_size'] == 32 and d['depth'] == 0 and d['pushes'] == d['pops'] and d['max_participants'] == 3 and not d['broken']"
expect 0 -- "$CLI" channel create "$N-ch"
expect 1 "not a queue .*\(-EPROTOTYPE\)" -- "$CLI" queue unlink "$N-ch"
expect 1 "\(-EPROTOTYPE\)" -- "$CLI" queue stat "$N-ch"
expect 0 -- "$CLI" channel unlink "$N-ch"
for q in "$Q" "$P" "$W"; do expect 0 -- "$CLI" queue unlink "$q"; done
expect 1 "\(-ENOENT\)" -- "$CLI" queue unlink "$Q"
checks=$((checks + 1))
ls /dev/shm | grep -q "^$N" && fail "left behind: $(ls /dev/shm | grep "^$N")"

expect 2 "bad size '0'" -- "$CLI" queue create "$Q" --size 0
expect 2 "bad depth 'x'" -- "$CLI" queue create "$Q" --depth x
expect 2 "bad participants '0'" -- "$CLI" queue create "$Q" --participants 0
expect 2 "bad segment name" -- "$CLI" queue recv "a b"
expect 2 "bad count" -- "$CLI" queue send "$Q" x --count 0
expect 2 "bad format" -- "$CLI" queue send "$Q" x --format yaml
expect 2 "missing argument" -- "$CLI" queue recv
expect 0 "recv +pop and print" -- "$CLI" queue --help

finish
