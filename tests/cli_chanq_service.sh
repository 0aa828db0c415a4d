#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_chanq_service.sh - channels and queues are patterns of the service core: `shmipc ls`, `info`,
# `top --json` and `gc` show and reclaim them like any service. A channel with a live producer and a
# live consumer, and a queue with a live receiver, are listed with their options object, endpoints and
# counters; after kill -9 of the consumer and of the queue's receiver their entries show as dead, gc
# reclaims them (keeping the channel its producer still uses), then removes each once no process uses it,
# and removes a channel nobody ever opened. Processes wait for each other through what the CLI shows
# (participant counts, a received line), polled under a deadline, never fixed sleeps. Only named gc
# runs here: a plain `shmipc gc` would touch the services of other tests running beside us.
# Usage: bash cli_chanq_service.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_chanq_service.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

N=clicq-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
BG=()

cleanup() {
    local p
    exec 3>&-
    for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -f /dev/shm/"$N"*
    rm -rf "$TMP"
}
trap cleanup EXIT

# parts SERVICE ALIVE DEAD: info lists that many live and dead participants.
parts() {
    "$CLI" info "$1" | grep -Eq "^participants: +[0-9]+ of at most [0-9]+: $2 alive, $3 dead"
}

# await WHAT CMD...: poll CMD under until_ok's deadline; a failure if it never holds (the script goes on).
await() {
    local what=$1
    shift
    checks=$((checks + 1))
    until_ok "$@" || fail "$what never happened"
}

# exited PID: the process has ended (gone, or a zombie waiting for us to reap it).
exited() {
    [ ! -e "/proc/$1" ] || grep -q ') Z ' "/proc/$1/stat" 2>/dev/null
}

ME=$(id -un)
C=$N-c   # a channel: producer and consumer
Q=$N-q   # a queue: one receiver
U=$N-u   # a channel nobody opens
expect 0 -- "$CLI" channel create "$C" --capacity 4096
expect 0 -- "$CLI" queue create "$Q" --size 32 --depth 8 --participants 4
expect 0 -- "$CLI" channel create "$U" --capacity 1024 --policy overwrite

# --- live endpoints ----------------------------------------------------------------------------------------
# The producer reads lines from a FIFO this script holds open (read-write: the open does not block).
mkfifo "$TMP/fifo"
exec 3<>"$TMP/fifo"
"$CLI" channel send "$C" <"$TMP/fifo" >"$TMP/send.out" 2>&1 3>&- &
PROD=$!
BG+=("$PROD")
"$CLI" channel recv "$C" --timeout 60000 >"$TMP/recv.out" 2>&1 3>&- &
CONS=$!
BG+=("$CONS")
"$CLI" queue recv "$Q" --timeout 60000 >"$TMP/qrecv.out" 2>&1 3>&- &
QR=$!
BG+=("$QR")
echo hello >&3
await "the consumer receiving 'hello'" grep -qx hello "$TMP/recv.out"
await "both channel ends registered" parts "channel/$C" 2 0
await "the queue receiver registered" parts "queue/$Q" 1 0

expect 0 "^channel/$C +untyped +$ME +2 +0$" -- "$CLI" ls
check "ls: channel options" grep -Eq "^ +options: +capacity=4096 max_msg=2032 policy=block broken=0$" "$TMP/out"
check "ls: channel ends" grep -Eq "participants: ($PROD producer, $CONS consumer|$CONS consumer, $PROD producer)$" "$TMP/out"
check "ls: channel counters" grep -Eq "stats: +sent=1 received=1 sent_bytes=5 received_bytes=5 " "$TMP/out"
check "ls: the queue" grep -Eq "^queue/$Q +untyped +$ME +1 +0$" "$TMP/out"
check "ls: queue options" grep -Eq "^ +options: +slots=8 slot_size=32 participants=4 broken=0$" "$TMP/out"
check "ls: the unused channel" grep -Eq "^channel/$U +untyped +$ME +0 +0$" "$TMP/out"

expect 0 -- "$CLI" ls --json
json_ok "ls --json"
pycheck "[s for s in d if s['service'] == 'channel/$C' and s['pattern'] == 'channel' and s['segment'] == '/$C'
          and s['options'] == {'capacity': 4096, 'max_msg': 2032, 'policy': 'block', 'broken': 0}
          and s['alive'] == 2 and s['dead'] == 0 and s['stats']['sent'] == 1 and s['stats']['received'] == 1
          and sorted((p['pid'], p['role'], p['alive']) for p in s['participant_list'])
              == sorted([($PROD, 'producer', True), ($CONS, 'consumer', True)])]"
pycheck "[s for s in d if s['service'] == 'queue/$Q' and s['pattern'] == 'queue'
          and s['options'] == {'slots': 8, 'slot_size': 32, 'participants': 4, 'broken': 0}
          and s['max_participants'] == 4 and s['alive'] == 1
          and [(p['pid'], p['alive']) for p in s['participant_list']] == [($QR, True)]]"
pycheck "[s for s in d if s['service'] == 'channel/$U' and s['participants'] == 0
          and s['options'] == {'capacity': 1024, 'max_msg': 496, 'policy': 'overwrite', 'broken': 0}]"

expect 0 "^service: +channel/$C$" -- "$CLI" info "$C"
check "info: channel pattern" grep -Eq "^pattern: +channel$" "$TMP/out"
check "info: channel options" grep -Eq "^options: +capacity=4096 max_msg=2032 policy=block broken=0$" "$TMP/out"
check "info: channel participants" grep -Eq "^participants: +2 of at most 2: 2 alive, 0 dead" "$TMP/out"
check "info: consumer row" grep -Eq "^ +[0-9]+ +$CONS consumer +alive$" "$TMP/out"
check "info: producer row" grep -Eq "^ +[0-9]+ +$PROD producer +alive$" "$TMP/out"
expect 0 -- "$CLI" info "queue/$Q" --json
json_ok "info --json (queue)"
pycheck "d['service'] == 'queue/$Q' and d['options']['slot_size'] == 32 and d['alive'] == 1 and d['dead'] == 0
         and d['participant_list'][0]['pid'] == $QR"

expect 0 -- "$CLI" top --json --interval 50
json_ok "top --json"
pycheck "[s for s in d['services'] if s['service'] == 'channel/$C' and s['main_stat'] == 'sent'
          and s['options'] == {'capacity': 4096, 'max_msg': 2032, 'policy': 'block', 'broken': 0}
          and s['alive'] == 2 and set(s['rates']) == set(s['stats']) and s['fill']['used_stat'] == 'ring_used'
          and s['fill']['size'] == 4096]"
pycheck "[s for s in d['services'] if s['service'] == 'queue/$Q' and s['main_stat'] == 'pushed'
          and s['options'] == {'slots': 8, 'slot_size': 32, 'participants': 4, 'broken': 0}
          and s['alive'] == 1 and s['fill']['used_stat'] == 'slots_used' and s['fill']['size'] == 8]"

# --- kill -9: the consumer and the queue receiver ----------------------------------------------------------
{
    kill -9 "$CONS" "$QR"
    wait "$CONS" "$QR"
} 2>/dev/null # no "Killed" job notice
expect 0 "^channel/$C +untyped +$ME +1 +1$" -- "$CLI" ls
check "ls: the dead consumer" grep -Eq "participants: .*$CONS consumer \(dead\)" "$TMP/out"
check "ls: the dead queue receiver" grep -Eq "^queue/$Q +untyped +$ME +0 +1$" "$TMP/out"
expect 0 -- "$CLI" top --json --interval 50
pycheck "[s for s in d['services'] if s['service'] == 'channel/$C' and s['alive'] == 1 and s['dead'] == 1]"
pycheck "[s for s in d['services'] if s['service'] == 'queue/$Q' and s['alive'] == 0 and s['dead'] == 1]"

# The channel's producer still runs: gc reclaims the dead consumer and keeps the channel.
expect 0 "channel/$C: would reclaim 1 dead participant$" -- "$CLI" gc --dry-run "channel/$C"
expect 0 -- "$CLI" gc "channel/$C" --json
json_ok "gc --json (channel)"
pycheck "d['participants_reclaimed'] == 1 and d['services_removed'] == 0"
expect 0 -- "$CLI" info "$C" --json
pycheck "d['alive'] == 1 and d['dead'] == 0 and [p['role'] for p in d['participant_list']] == ['producer']"
# The consumer's end is free again: a new consumer takes it and gets what the producer sends.
"$CLI" channel recv "$C" --count 1 --timeout 60000 >"$TMP/recv2.out" 2>&1 3>&- &
CONS2=$!
BG+=("$CONS2")
await "the new consumer registered" parts "channel/$C" 2 0
echo again >&3
await "the new consumer's exit" exited "$CONS2"
wait "$CONS2"
st=$?
checks=$((checks + 1))
[ "$st" = 0 ] && [ "$(cat "$TMP/recv2.out")" = again ] || fail "new consumer: status $st, got '$(cat "$TMP/recv2.out")'"

# The queue: --keep-unused reclaims the dead receiver only; the next gc removes the unused queue.
expect 0 -- "$CLI" gc "queue/$Q" --keep-unused --json
pycheck "d == {'dry_run': False, 'services_seen': 1, 'participants_reclaimed': 1, 'services_removed': 0, 'skipped': 0}"
expect 0 -- "$CLI" info "queue/$Q" --json
pycheck "d['participants'] == 0 and d['dead'] == 0"
expect 0 "services removed: +1" -- "$CLI" gc "queue/$Q"
expect 1 "no such service" -- "$CLI" info "queue/$Q"
check "the queue's segment is gone" test ! -e "/dev/shm/$Q"

# The producer ends (end of its input): nobody uses the channel, gc removes it.
exec 3>&-
await "the producer's exit" exited "$PROD"
wait "$PROD"
st=$?
checks=$((checks + 1))
[ "$st" = 0 ] || fail "producer exited $st at the end of its input: $(cat "$TMP/send.out")"
expect 0 "channel/$C: would reclaim 0 dead participants and remove the service" -- "$CLI" gc --dry-run "$C"
expect 0 -- "$CLI" gc "channel/$C" --json
pycheck "d['participants_reclaimed'] == 0 and d['services_removed'] == 1"
expect 1 "no such service" -- "$CLI" info "channel/$C"
check "the channel's segment is gone" test ! -e "/dev/shm/$C"

# A channel created and never opened (its creator, the CLI, is gone): unused, removed by name.
expect 0 "services removed: +1" -- "$CLI" gc "channel/$U"
check "participants reclaimed: 0" grep -Eq "participants reclaimed: +0$" "$TMP/out"
check "the unused channel's segment is gone" test ! -e "/dev/shm/$U"

finish
