#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_service.sh - drives `shmipc ls`, `shmipc info` and `shmipc gc` against services made by the
# svc_fixture helper (tests/cli_fixtures: a blackboard, or an event service, with dead participants): table and JSON output, a dead participant shown as dead, name
# lookup across patterns (ambiguity is an error listing the candidates), usage and runtime errors with their
# exit codes (0 ok, 1 runtime error, 2 usage error), gc reclaiming dead participants and removing the service
# once its last process is gone, and (as root) another user's service left alone by gc.
# Only named gc runs here: a plain `shmipc gc` would touch the services of other tests running beside us.
# Usage: bash cli_service.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_service.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
FIX=$BUILD/tests/cli_fixtures/svc_fixture
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -x "$FIX" ] || { echo "SKIP: $FIX is not built"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

N=clisvc-$$
TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -f /dev/shm/shmipc.*."$N"*
    rm -rf "$TMP"
}
trap cleanup EXIT

# start_fixture VAR ARGS...: start svc_fixture ARGS in the background (with any prefix command given in
# $PREFIX), wait until it prints its "pattern/name", store that in VAR and its pid in VAR_PID.
start_fixture() {
    local var=$1 out i
    shift
    out=$TMP/fix.$RANDOM
    ${PREFIX:-} "$FIX" "$@" >"$out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for i in $(seq 100); do
        [ -s "$out" ] && grep -q '/' "$out" && break
        grep -q SKIP "$out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q SKIP "$out"; then
        echo "$(cat "$out")"
        exit 77
    fi
    grep -q '/' "$out" || { echo "FAIL: fixture $* did not start: $(cat "$out")"; exit 1; }
    printf -v "$var" '%s' "$(head -n1 "$out")"
    printf -v "${var}_PID" '%s' "$pid"
}

# stop PID: kill -9 (a crash: its participant stays registered, dead) and reap it.
stop() {
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# --- help and dispatch ----------------------------------------------------------------------------------
for c in ls info gc top; do expect 0 "^  $c +[a-z]" -- "$CLI" --help; done
expect 0 "usage: shmipc ls" -- "$CLI" ls --help
expect 0 "usage: shmipc info SERVICE" -- "$CLI" help info
expect 0 "keep-unused" -- "$CLI" gc --help

# --- a service with one live and two dead participants ----------------------------------------------------
start_fixture A "$N-a" --dead 2
PAT=${A%%/*}
echo "fixture service: $A (pid $A_PID)"

expect 0 "^SERVICE +TYPE +OWNER +ALIVE +DEAD" -- "$CLI" ls
check "ls shows $A with 1 alive, 2 dead" \
    grep -Eq "^$A +fixture_sample_v1 \(64 bytes\) +$(id -un) +1 +2$" "$TMP/out"
check "ls lists the participants, dead ones marked" \
    grep -Eq "participants: $A_PID writer, [0-9]+ reader \(dead\), [0-9]+ reader \(dead\)" "$TMP/out"
check "ls shows the options" grep -Eq "options: +value_size=64 entries=1 readers=16 writer=alive" "$TMP/out"
check "ls shows the stats" grep -Eq "stats: +updates=0$" "$TMP/out"

expect 0 -- "$CLI" ls --json
json_ok "ls --json"
pycheck "[s for s in d if s['service'] == '$A' and s['alive'] == 1 and s['dead'] == 2 and s['pattern'] == '$PAT'
          and s['type'] == {'name': 'fixture_sample_v1', 'size': 64, 'align': 8} and s['stats'] == {'updates': 0}
          and s['options'] == {'value_size': 64, 'entries': 1, 'readers': 16, 'writer': 'alive'}
          and [p['alive'] for p in s['participant_list']] == [True, False, False]
          and s['participant_list'][0] == {'pid': $A_PID, 'slot': 0, 'role': 'writer', 'alive': True}]"

expect 0 "^service: +$A$" -- "$CLI" info "$N-a"
check "info: segment name" grep -Eq "^segment: +/shmipc\.$PAT\.$N-a$" "$TMP/out"
check "info: participants summary" grep -Eq "^participants: +3 of at most 17: 1 alive, 2 dead" "$TMP/out"
check "info: participant table" grep -Eq "^ +0 +$A_PID writer +alive$" "$TMP/out"
check "info: dead rows" test "$(grep -Ec ' reader +dead$' "$TMP/out")" = 2
check "info: options" grep -Eq "^options: +value_size=64 entries=1 readers=16 writer=alive$" "$TMP/out"
check "info: stats" grep -Eq "^  updates +0$" "$TMP/out"
expect 0 "^service: +$A$" -- "$CLI" info "$A"
expect 0 "^service: +$A$" -- "$CLI" info --pattern "$PAT" "$N-a"
expect 0 -- "$CLI" info "$A" --json
json_ok "info --json"
pycheck "d['service'] == '$A' and d['creator_pid'] == $A_PID and d['participants'] == 3 and d['dead'] == 2
         and d['max_participants'] == 17 and d['created'].endswith('Z')"

# --- errors ---------------------------------------------------------------------------------------------
expect 1 "$N-none: no such service \(in any pattern\)" -- "$CLI" info "$N-none"
expect 1 "$PAT/$N-none: no such service" -- "$CLI" info "$PAT/$N-none"
expect 2 "'bogus' is not a pattern" -- "$CLI" info "bogus/$N-a"
expect 2 "bad service name" -- "$CLI" info "a b"
expect 2 "bad service name" -- "$CLI" info "$PAT/"
expect 2 "longer than 127" -- "$CLI" info "$(printf 'x%.0s' $(seq 200))"
expect 2 "bad pattern 'bogus'" -- "$CLI" info --pattern bogus "$N-a"
expect 2 "disagree" -- "$CLI" info --pattern "$([ "$PAT" = pubsub ] && echo event || echo pubsub)" "$A"
expect 2 "missing argument" -- "$CLI" info
expect 2 "one too many" -- "$CLI" info "$A" extra
expect 2 "unknown option '--frob'" -- "$CLI" ls --frob
expect 2 "one too many" -- "$CLI" ls extra
expect 2 "needs a SERVICE" -- "$CLI" gc --pattern "$PAT"
expect 1 "no such service" -- "$CLI" gc "$N-none"

# --- the same name under two patterns --------------------------------------------------------------------
OTHER=event
PREFIX= start_fixture B "$N-a" --pattern "$OTHER"
expect 1 "ambiguous.*($A $OTHER/$N-a|$OTHER/$N-a $A)" -- "$CLI" info "$N-a"
expect 1 "ambiguous" -- "$CLI" gc "$N-a"
expect 0 "^service: +$OTHER/$N-a$" -- "$CLI" info "$OTHER/$N-a"
stop "$B_PID"
expect 0 "services removed: +1" -- "$CLI" gc "$OTHER/$N-a"
expect 1 "no such service" -- "$CLI" info "$OTHER/$N-a"

# --- gc ---------------------------------------------------------------------------------------------------
expect 0 "$A: would reclaim 2 dead participants$" -- "$CLI" gc --dry-run
expect 0 -- "$CLI" gc -n --json
json_ok "gc --dry-run --json"
pycheck "d['dry_run'] and {'service': '$A', 'dead': 2, 'remove': False} in d['services']"
expect 0 "dead participants to reclaim, 0 services to remove" -- "$CLI" gc --dry-run "$A"
expect 0 -- "$CLI" info "$A" --json
pycheck "d['dead'] == 2"  # dry run changed nothing

expect 0 "participants reclaimed: 2" -- "$CLI" gc "$A"
check "gc of a service in use removes nothing" grep -Eq "services removed: +0" "$TMP/out"
expect 0 -- "$CLI" info "$A" --json
pycheck "d['dead'] == 0 and d['alive'] == 1 and len(d['participant_list']) == 1"

stop "$A_PID"
expect 0 -- "$CLI" info "$A" --json
pycheck "d['dead'] == 1 and d['alive'] == 0 and d['participant_list'][0]['alive'] == False"
expect 0 "^$A .* 0 +1$" -- "$CLI" ls
expect 0 "$A: would reclaim 1 dead participant and remove the service" -- "$CLI" gc --dry-run "$A"
expect 0 -- "$CLI" gc "$A" --keep-unused --json
json_ok "gc --json"
pycheck "d == {'dry_run': False, 'services_seen': 1, 'participants_reclaimed': 1, 'services_removed': 0, 'skipped': 0}"
expect 0 -- "$CLI" gc "$N-a" --json
pycheck "d['participants_reclaimed'] == 0 and d['services_removed'] == 1"
expect 1 "no such service" -- "$CLI" info "$A"
check "the segment is gone" test ! -e "/dev/shm/shmipc.$PAT.$N-a"

# --- another user's service -------------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "SKIP part: another user's service (needs root)"
elif ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
    echo "SKIP part: another user's service (needs setpriv and user nobody)"
elif ! setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups test -x "$FIX"; then
    echo "SKIP part: another user's service (nobody cannot run $FIX)"
else
    PREFIX="setpriv --reuid nobody --regid $(id -g nobody) --clear-groups" start_fixture F "$N-f" --dead 1
    expect 0 "^$F .* nobody +1 +1$" -- "$CLI" ls
    expect 1 "$F: .*another user" -- "$CLI" gc "$F"
    expect 1 "$F: .*another user" -- "$CLI" gc --dry-run "$F"
    expect 0 -- "$CLI" gc --dry-run --json
    pycheck "d['skipped'] >= 1 and not [s for s in d['services'] if s['service'] == '$F']"
    stop "$F_PID"
    expect 1 "another user" -- "$CLI" gc "$F"
    expect 0 -- "$CLI" info "$F" --json
    pycheck "d['owner'] == 'nobody' and d['dead'] == 2"  # untouched: both its participants still await gc
    rm -f "/dev/shm/shmipc.${F%%/*}.$N-f"
fi

finish
