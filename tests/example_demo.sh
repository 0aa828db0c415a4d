#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/example_demo.sh - runs the demo system (examples/demo, what `make demo` shows) for 6 seconds
# without the benchmark, and checks its output: every component started, the filter was killed and
# restarted, the sensor stream lost nothing and no checksum failed, the filtered stream reported its gap,
# the services were removed, and nothing of the run is left in /dev/shm.
# Usage: bash tests/example_demo.sh BUILD_DIR
set -u
build=${1:?usage: example_demo.sh BUILD_DIR}
demo=$build/examples/demo/shmipc-demo
if [ ! -x "$demo" ]; then
    echo "skip: demo not built (SHMIPC_BUILD_EXAMPLES=OFF?)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$tmp/out" "$tmp/err"; exit 1; }

"$demo" --bin "$build" --duration 6 --no-bench >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "shmipc-demo exited $rc"
tag=$(sed -n 's/.*launcher (pid \([0-9]*\)).*/demo\1/p' "$tmp/out")
[ -n "$tag" ] || fail "no launcher pid in the output"
for c in config sensor filter logger; do
    grep -Eq "^  $c +pid [0-9]+ " "$tmp/out" || fail "$c not started"
done
grep -Eq "^ +[0-9.]+s filter \(pid [0-9]+\) killed by SIGKILL$" "$tmp/out" || fail "filter not killed"
grep -Eq "supervisor: filter restarted as pid [0-9]+$" "$tmp/out" || fail "filter not restarted"
grep -Eq "supervisor: shmipc_service_gc reclaimed [1-9][0-9]* dead participant" "$tmp/out" || fail "no reclaim"
# The summary table: stream, published, logged, lost, gaps, queue drops, bad checksums, latencies.
# The sensor stream loses nothing (samples the logger's own queue dropped because the machine starved it
# are counted apart and not asserted on); no sample of either stream fails its checksum; the filtered
# stream has at least the gap of the restart (more if the filter's queue overflowed on a busy machine).
grep -Eq "^  sensor +[1-9][0-9]* +[1-9][0-9]* +0 +0 +[0-9]+ +0 " "$tmp/out" || fail "sensor stream summary"
grep -Eq "^  filtered +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +[0-9]+ +0 " "$tmp/out" ||
    fail "filtered stream summary (a gap while the filter was down)"
grep -Eq "^  filter: 2 process\(es\), window 8," "$tmp/out" || fail "filter summary"
grep -Eq "^  config: [1-9][0-9]* requests answered" "$tmp/out" || fail "config summary"
grep -Eq "logger: filtered stream back after a gap of [1-9][0-9]* samples; sensor stream: 0 lost" "$tmp/out" ||
    fail "gap not reported live"
grep -q "cleanup: 4 report channels unlinked, 3 services removed by shmipc_service_gc" "$tmp/out" || fail "cleanup"
grep -q "nothing named \*$tag\* left in /dev/shm" "$tmp/out" || fail "final check"
if ls /dev/shm | grep -q "$tag\."; then fail "left in /dev/shm: $(ls /dev/shm | grep "$tag\.")"; fi
[ ! -s "$tmp/err" ] || fail "unexpected messages on stderr"

# Another victim: with the config service killed, both streams go on without a gap (the sensor and the
# filter keep their last settings) and the restarted service is reconnected to.
"$demo" --bin "$build" --duration 6 --kill config --no-bench >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "shmipc-demo --kill config exited $rc"
tag=$(sed -n 's/.*launcher (pid \([0-9]*\)).*/demo\1/p' "$tmp/out")
grep -Eq "^ +[0-9.]+s config \(pid [0-9]+\) killed by SIGKILL$" "$tmp/out" || fail "config not killed"
grep -Eq "supervisor: config restarted as pid [0-9]+$" "$tmp/out" || fail "config not restarted"
grep -Eq "^  sensor +[1-9][0-9]* +[1-9][0-9]* +0 +0 +[0-9]+ +0 " "$tmp/out" || fail "sensor stream (config killed)"
# The filtered stream has no gap either, except samples the filter's own queue dropped if the machine
# starved it (the logger reports those as lost; the filter counts them): lost <= what the filter dropped.
grep -Eq "^  filtered +[1-9][0-9]* +[1-9][0-9]* +[0-9]+ +[0-9]+ +[0-9]+ +0 " "$tmp/out" ||
    fail "filtered stream (config killed)"
lost=$(awk '$1 == "filtered" { print $4 }' "$tmp/out")
dropped=$(sed -n 's/^  filter: .*its queue dropped \([0-9]*\);.*/\1/p' "$tmp/out")
[ -n "$lost" ] && [ -n "$dropped" ] && [ "$lost" -le "$dropped" ] ||
    fail "filtered stream lost $lost, filter dropped $dropped"
grep -q "nothing named \*$tag\* left in /dev/shm" "$tmp/out" || fail "final check (config killed)"
[ ! -s "$tmp/err" ] || fail "unexpected messages on stderr (config killed)"
echo "PASS: demo system"
