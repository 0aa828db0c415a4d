#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/example_seed.sh - runs the seed example (examples/seed): the writer in the background, the
# reader in the foreground; checks what both print and that the name is gone from /dev/shm afterwards.
# Usage: bash tests/example_seed.sh BUILD_DIR
set -u
build=${1:?usage: example_seed.sh BUILD_DIR}
writer=$build/examples/seed/seed_writer
reader=$build/examples/seed/seed_reader
if [ ! -x "$writer" ] || [ ! -x "$reader" ]; then
    echo "skip: seed example not built (SHMIPC_BUILD_EXAMPLES=OFF?)"
    exit 77
fi
name=/shmipc-test-seed-$$
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f "/dev/shm$name"' EXIT
fail() { echo "FAIL: $*"; echo "--- writer:"; cat "$tmp/w.out" "$tmp/w.err"; echo "--- reader:"; cat "$tmp/r.out" "$tmp/r.err"; exit 1; }

# Reader started first: it must wait for the writer rather than fail.
"$reader" "$name" >"$tmp/r.out" 2>"$tmp/r.err" &
rpid=$!
# Start the writer once the reader runs and sleeps in its retry loop (no segment yet): poll its /proc
# entry with a 10 s deadline, rather than sleeping and hoping it got there.
reader_exe=$(readlink -f "$reader")
for _ in $(seq 200); do
    if [ "$(readlink /proc/$rpid/exe 2>/dev/null)" = "$reader_exe" ] &&
        [ "$(sed 's/.*) //' /proc/$rpid/stat 2>/dev/null | cut -d' ' -f1)" = S ]; then
        break
    fi
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.05 # poll interval
done
"$writer" "$name" 20000 >"$tmp/w.out" 2>"$tmp/w.err" &
wpid=$!
wait "$rpid"; rrc=$?
wait "$wpid"; wrc=$?
[ "$rrc" -eq 0 ] || fail "reader exited $rrc"
[ "$wrc" -eq 0 ] || fail "writer exited $wrc"
grep -q "^reader: message #42: Xin chao from the writer (pid $wpid)\$" "$tmp/r.out" || fail "reader output"
grep -q "^writer: reader acknowledged message #42\$" "$tmp/w.out" || fail "writer did not see the ack"
grep -q "^writer: closed and unlinked $name\$" "$tmp/w.out" || fail "writer did not unlink"
[ ! -e "/dev/shm$name" ] || fail "$name still in /dev/shm"

# Writer first this time, the usual order; and with no reader at all the writer gives up in time and
# still removes its name.
"$writer" "$name" 20000 >"$tmp/w.out" 2>"$tmp/w.err" &
wpid=$!
"$reader" "$name" >"$tmp/r.out" 2>"$tmp/r.err" || fail "reader (second run) failed"
wait "$wpid" || fail "writer (second run) failed"
[ ! -e "/dev/shm$name" ] || fail "$name still in /dev/shm after the second run"
"$writer" "$name" 100 >"$tmp/w.out" 2>"$tmp/w.err" && fail "writer succeeded without a reader"
grep -q "no reader acknowledged" "$tmp/w.err" || fail "writer timeout message"
[ ! -e "/dev/shm$name" ] || fail "$name left behind after a timeout"
# A reader with nothing to read reports it (after its bounded wait) instead of hanging.
"$reader" "$name" >"$tmp/r.out" 2>"$tmp/r.err" && fail "reader succeeded without a writer"
grep -q "cannot open" "$tmp/r.err" || fail "reader error message"
echo "PASS: seed example"
