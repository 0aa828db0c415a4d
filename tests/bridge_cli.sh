#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bridge_cli.sh - the `shmipc bridge` command itself: --check prints each route with its subject
# (from a file and from options, the options after the file), a bad directive or option is a usage error
# (status 2) naming the file and line, a running bridge writes its figures to --stats-file as JSON and
# ends cleanly on SIGTERM (status 0, --json figures on stdout, no dead participant left in the services
# it used), and `shmipc bridge bench` runs (a few rounds) and prints valid JSON. Skips without the bridge
# or without nats-server (the bench and the running bridge need one). Usage: bash bridge_cli.sh BUILD_DIR
set -u

BUILD=${1:?usage: bridge_cli.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
"$CLI" bridge --help >/dev/null 2>&1 || { echo "SKIP: this shmipc has no bridge command (built without libnats)"; exit 77; }

TMP=$(mktemp -d)
. "$(dirname "$0")/cli_fixtures/lib.sh"
mkdir -m 700 "$TMP/shm"
export SHMIPC_DIR=$TMP/shm
BG=()
cleanup() {
    local p
    for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- configuration ---------------------------------------------------------------------------------------
cat >"$TMP/bridge.conf" <<'EOF'
# host A
name hostA
prefix plant
export pubsub camera.front
import reqresp config subject site.config
import event alarms events 16
EOF
expect 0 "^export pubsub/camera.front -> plant.pubsub.camera.front$" -- "$CLI" bridge -c "$TMP/bridge.conf" --check
same_out() { checks=$((checks + 1)); [ "$(cat "$TMP/out")" = "$1" ] || fail "--check printed '$(cat "$TMP/out")'"; }
same_out "$(printf '%s\n' 'export pubsub/camera.front -> plant.pubsub.camera.front' \
    'import reqresp/config <- site.config' 'import event/alarms <- plant.event.alarms')"
# options after the file: another prefix, one more route
expect 0 "^import pubsub/x <- other.pubsub.x$" -- "$CLI" bridge -c "$TMP/bridge.conf" -p other -i pubsub/x --check
expect 0 "^export pubsub/y -> t.y$" -- "$CLI" bridge -e pubsub/y=t.y -o "buffer 10" --check
expect 2 "bad.conf:3: prefix 'a..b'" -- bash -c "sed 's/^prefix plant/prefix a..b/' '$TMP/bridge.conf' >'$TMP/bad.conf' &&
    '$CLI' bridge -c '$TMP/bad.conf' --check"
expect 2 "want PATTERN/NAME" -- "$CLI" bridge -e camera --check
expect 2 "pubsub, reqresp or event" -- "$CLI" bridge -e mailbox/x --check
expect 2 "would loop" -- "$CLI" bridge -e reqresp/x -i reqresp/x --check
expect 2 "nothing to bridge" -- "$CLI" bridge --check
expect 2 "unknown directive 'colour'" -- "$CLI" bridge -e pubsub/x -o "colour blue" --check
expect 1 "No such file" -- "$CLI" bridge -c "$TMP/none.conf" --check

command -v nats-server >/dev/null || { echo "SKIP (the rest): no nats-server"; finish; exit $?; }

# --- a running bridge -------------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo 14999)
nats-server -a 127.0.0.1 -p "$port" >"$TMP/ns.log" 2>&1 &
NS=$!
BG+=("$NS")
"$CLI" bridge -n clitest -s "nats://127.0.0.1:$port" -e pubsub/cli-out -i pubsub/cli-in --stats-file "$TMP/stats.json" \
    --stats-interval 50 --json >"$TMP/final.json" 2>"$TMP/bridge.log" &
BR=$!
BG+=("$BR")
connected() { grep -q '"connected": true' "$TMP/stats.json" 2>/dev/null && grep -q '"active": true' "$TMP/stats.json"; }
check "the bridge connects and imports (stats file): $(cat "$TMP/bridge.log")" until_ok connected
cp "$TMP/stats.json" "$TMP/out" 2>/dev/null
json_ok "--stats-file"
pycheck 'd["name"] == "clitest" and d["qos"] == "core" and [r["direction"] for r in d["routes"]] == ["export", "import"]'
kill -TERM "$BR"
wait "$BR"
st=$?
checks=$((checks + 1))
[ "$st" = 0 ] || fail "bridge exited $st on SIGTERM: $(cat "$TMP/bridge.log")"
cp "$TMP/final.json" "$TMP/out"
json_ok "--json"
pycheck 'd["routes"][1]["service"] == "cli-in" and d["routes"][1]["subject"] == "shmipc.pubsub.cli-in"'
# the service it imported stays, with no dead participant (it left cleanly)
expect 0 "^pubsub/cli-in " -- "$CLI" ls
checks=$((checks + 1))
grep "^pubsub/cli-in " "$TMP/out" | grep -Eq " 0 +0$" || fail "participants left behind: $(cat "$TMP/out")"

# --- bench ------------------------------------------------------------------------------------------------
expect 0 -- "$CLI" bridge bench -s "nats://127.0.0.1:$port" -n 20 -m 2000 --json
json_ok "bridge bench --json"
pycheck 'd["round_trip"]["bridge_pubsub"]["rounds"] == 20 and d["round_trip"]["nats_request_reply"]["p50_us"] > 0 and d["throughput"]["bridge_pubsub"]["received"] > 0'
expect 2 "bad --size" -- "$CLI" bridge bench --size 3
finish
