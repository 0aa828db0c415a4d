#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_channel.sh - `shmipc channel` end to end: create with capacity, policy and mode; a receiver
# started before the sender gets every line (text, hex, JSON in and out); messages outlive their sender
# and `recv --eof` ends when the producer closed; --wait for a channel created later; a consumer killed by
# SIGKILL is taken over by the next recv; full rings under the block, fail and overwrite policies; the
# timeout status (3), -EBUSY, -EMSGSIZE, -EPROTOTYPE and usage errors, each message with its symbolic name.
# Processes wait for each other through the channel's endpoint state (`channel stat`), never fixed sleeps.
# Usage: bash cli_channel.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_channel.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

N=clich-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
BG=()

cleanup() {
    local p
    exec 3>&- 2>/dev/null
    for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -f /dev/shm/"$N"*
    rm -rf "$TMP"
}
trap cleanup EXIT

# same WHAT FILE EXPECTED: FILE must hold exactly EXPECTED.
same() {
    checks=$((checks + 1))
    [ "$(cat "$2")" = "$3" ] || fail "$1: got '$(head -c 500 "$2")', expected '$3'"
}

# end_is NAME ROLE STATE: the channel's producer or consumer end is STATE (a pid: "pid", or vacant/closed).
end_is() {
    local line
    line=$("$CLI" channel stat "$1" | grep "^$2:") || return 1
    case $3 in
    pid) echo "$line" | grep -Eq "^$2: +[0-9]+$" ;;
    *) echo "$line" | grep -Eq "^$2: +$3$" ;;
    esac
}

# waitpid_is PID STATUS WHAT: the background command PID exits with STATUS.
waitpid_is() {
    wait "$1"
    local st=$?
    checks=$((checks + 1))
    [ "$st" = "$2" ] || fail "$3 exited $st, expected $2"
}

C=$N-a
# --- create --------------------------------------------------------------------------------------------------
expect 0 -- "$CLI" channel create "$C" --capacity 1000 --mode 0640
expect 0 "type: +channel" -- "$CLI" segment info "/$C"
check "mode 0640" grep -Eq "mode: +0640" "$TMP/out"
expect 0 "capacity: +1024 bytes \(largest message 496\)" -- "$CLI" channel stat "$C"
check "both ends vacant" grep -Eq "^producer: +vacant" "$TMP/out"
check "consumer vacant" grep -Eq "^consumer: +vacant" "$TMP/out"
expect 1 "File exists \(-EEXIST\)" -- "$CLI" channel create "/$C"

# --- a receiver started first gets every line ----------------------------------------------------------------
"$CLI" channel recv "$C" --count 3 --format json --timeout 20000 >"$TMP/recv.json" 2>&1 &
R=$!
BG+=("$R")
until_ok end_is "$C" consumer pid || fail "recv did not claim the consumer end"
printf 'hello world\n\ntab\there\n' | "$CLI" channel send "$C"
checks=$((checks + 1))
waitpid_is "$R" 0 "recv --count 3"
if $have_python; then
    python3 - "$TMP/recv.json" <<'PY' || fail "recv json: $(head -c 600 "$TMP/recv.json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["text"] for r in rows] == ["hello world", "", "tab\there"], rows
assert [r["size"] for r in rows] == [11, 0, 8], rows
assert rows[0]["hex"] == "68656c6c6f20776f726c64" and rows[0]["dropped"] == 0
PY
fi
expect 0 -- end_is "$C" producer closed
expect 0 -- end_is "$C" consumer closed

# --- messages outlive the sender; --eof; hex and JSON input; an argument sent --count times --------------------
expect 0 -- "$CLI" channel send "$C" ping --count 3
expect 0 -- sh -c "printf '68 69\n00ff\n' | '$CLI' channel send '$C' --format hex"
cat >"$TMP/json.in" <<'JSON'
"caf\u00e9 \"q\""
JSON
expect 0 -- sh -c "'$CLI' channel send '$C' --format json <'$TMP/json.in'"
expect 0 -- "$CLI" channel recv "$C" --eof --format hex
same "recv --eof after the sender left" "$TMP/out" "$(printf '70696e67\n70696e67\n70696e67\n6869\n00ff\n636166c3a920227122')"
expect 0 "in use: +0 bytes, 0 messages" -- "$CLI" channel stat "$C"
expect 0 -- "$CLI" channel recv "$C" --eof           # nothing left, producer closed: the end at once
check "no output from an empty --eof" test ! -s "$TMP/out"

# --- a sender and a receiver running together through a FIFO -----------------------------------------------------
mkfifo "$TMP/fifo"
"$CLI" channel send "$C" <"$TMP/fifo" >"$TMP/send.out" 2>&1 &
S=$!
BG+=("$S")
exec 3>"$TMP/fifo"
until_ok end_is "$C" producer pid || fail "send did not claim the producer end"
"$CLI" channel recv "$C" --eof >"$TMP/recv.eof" 2>&1 3>&- &
R=$!
BG+=("$R")
until_ok end_is "$C" consumer pid || fail "recv --eof did not claim the consumer end"
seq 1 200 >&3
exec 3>&-
waitpid_is "$S" 0 "send from a FIFO"
waitpid_is "$R" 0 "recv --eof while the sender ran"
same "200 lines in order" "$TMP/recv.eof" "$(seq 1 200)"

# --- timeouts: status 3 ---------------------------------------------------------------------------------------
expect 3 "timed out: no messages in 100 ms" -- "$CLI" channel recv "$C" --timeout 100
expect 0 -- "$CLI" channel send "$C" one
expect 3 "timed out after 1 of 2 messages" -- "$CLI" channel recv "$C" --count 2 --timeout 100
check "the one message was printed" grep -qx one "$TMP/out"

# --- the consumer end is exclusive; one killed by SIGKILL is taken over --------------------------------------------
"$CLI" channel recv "$C" >"$TMP/recv.kill" 2>&1 &
R=$!
BG+=("$R")
until_ok end_is "$C" consumer pid || fail "recv did not claim the consumer end"
expect 1 "the consumer end is taken by a running process: .*\(-EBUSY\)" -- "$CLI" channel recv "$C" --timeout 100
kill -9 "$R"
wait "$R" 2>/dev/null
expect 0 "consumer: +[0-9]+ \(dead\)" -- "$CLI" channel stat "$C"
expect 0 -- "$CLI" channel send "$C" after-kill
expect 0 -- "$CLI" channel recv "$C" --eof
same "a new recv takes over a dead consumer" "$TMP/out" "after-kill"
# A receiver stopped by SIGINT leaves its end closed, not dead.
"$CLI" channel recv "$C" >"$TMP/recv.int" 2>&1 &
R=$!
BG+=("$R")
until_ok end_is "$C" consumer pid || fail "recv did not claim the consumer end"
kill -INT "$R"
waitpid_is "$R" 0 "recv after SIGINT"
expect 0 -- end_is "$C" consumer closed

# --- --wait: a receiver and a sender started before the channel exists --------------------------------------------
W=$N-w
"$CLI" channel recv "$W" --wait --count 1 --timeout 20000 >"$TMP/recv.wait" 2>&1 &
R=$!
BG+=("$R")
"$CLI" channel send "$W" waited --wait --timeout 20000 >"$TMP/send.wait" 2>&1 &
S=$!
BG+=("$S")
expect 0 -- "$CLI" channel create "$W"
waitpid_is "$S" 0 "send --wait"
waitpid_is "$R" 0 "recv --wait"
same "recv --wait" "$TMP/recv.wait" "waited"
expect 1 "no such channel: No such file or directory \(-ENOENT\)" -- "$CLI" channel recv "$N-none"
expect 3 "timed out: no such channel after 100 ms" -- "$CLI" channel recv "$N-none" --wait --timeout 100
expect 3 "timed out: no such channel after 100 ms" -- "$CLI" channel send "$N-none" x --wait --timeout 100

# --- a full ring under each policy; a message too large ------------------------------------------------------------
B=$N-b
expect 0 -- "$CLI" channel create "$B" --capacity 64     # messages of up to 16 bytes, 2 of them fit
expect 3 "timed out after 2 messages: no room for 100 ms" -- "$CLI" channel send "$B" 0123456789abcdef --count 3 --timeout 100
expect 1 "message 1: 17 bytes, but the channel takes at most 16: .*\(-EMSGSIZE\)" -- "$CLI" channel send "$B" 0123456789abcdefg
F=$N-f
expect 0 -- "$CLI" channel create "$F" --capacity 64 --policy fail
expect 1 "message 3: the channel is full \(policy fail\): .*\(-EAGAIN\)" -- "$CLI" channel send "$F" 0123456789abcdef --count 3
O=$N-o
expect 0 -- "$CLI" channel create "$O" --capacity 64 --policy overwrite
expect 0 -- sh -c "seq 10 | '$CLI' channel send '$O'"
expect 0 "policy: +overwrite" -- "$CLI" channel stat "$O"
expect 0 -- "$CLI" channel recv "$O" --eof --format json
checks=$((checks + 1))
if $have_python; then
    python3 - "$TMP/out" <<'PY' || fail "overwrite recv: $(head -c 600 "$TMP/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
texts = [r["text"] for r in rows]
assert texts and texts[-1] == "10" and texts == [str(i) for i in range(11 - len(texts), 11)], texts
assert rows[0]["dropped"] == 10 - len(texts), rows
PY
fi

# --- stat --json, unlink, usage errors ----------------------------------------------------------------------------
expect 0 -- "$CLI" channel stat "$C" --json
json_ok "channel stat --json"
pycheck "d['name'] == '/$C' and d['capacity'] == 1024 and d['policy'] == 'block' and d['consumer']['state'] == 'closed' and d['msgs_sent'] == d['msgs_recv']"
expect 0 -- "$CLI" segment create "$N-raw" 1K
expect 1 "not a channel .*\(-EPROTOTYPE\)" -- "$CLI" channel unlink "$N-raw"
expect 0 -- "$CLI" segment rm "$N-raw"
for c in "$C" "$W" "$B" "$F" "$O"; do expect 0 -- "$CLI" channel unlink "$c"; done
expect 1 "No such file or directory \(-ENOENT\)" -- "$CLI" channel unlink "$C"
expect 1 "\(-ENOENT\)" -- "$CLI" channel stat "$C"
checks=$((checks + 1))
ls /dev/shm | grep -q "^$N" && fail "left behind: $(ls /dev/shm | grep "^$N")"

expect 2 "bad capacity '32'" -- "$CLI" channel create "$C" --capacity 32
expect 2 "bad policy 'drop'" -- "$CLI" channel create "$C" --policy drop
expect 2 "bad mode" -- "$CLI" channel create "$C" --mode 9
expect 2 "bad segment name" -- "$CLI" channel create "a/b"
expect 2 "bad count" -- "$CLI" channel recv "$C" --count 0
expect 2 "bad timeout" -- "$CLI" channel send "$C" x --timeout -1
expect 2 "bad format 'xml'" -- "$CLI" channel recv "$C" --format xml
expect 2 "the message is not pairs of hex digits" -- "$CLI" channel send "$C" zz --format hex
expect 2 "missing argument" -- "$CLI" channel send
expect 2 "too many arguments" -- "$CLI" channel send "$C" a b
expect 2 "unknown command 'push'" -- "$CLI" channel push "$C"
expect 0 "recv +print the messages" -- "$CLI" channel --help

finish
