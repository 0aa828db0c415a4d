#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/example_eventloop.sh - runs the event-loop examples (examples/eventloop): a channel served from
# epoll and from libuv through a waitset's descriptor, its producer a child process. Each must receive
# every message in order and leave no name behind. Usage: bash tests/example_eventloop.sh BUILD_DIR
set -u
build=${1:?usage: example_eventloop.sh BUILD_DIR}
dir=$build/examples/eventloop
[ -x "$dir/eventloop_epoll" ] || { echo "skip: event-loop examples not built (SHMIPC_BUILD_EXAMPLES=OFF?)"; exit 77; }
progs=(eventloop_epoll)
if [ -x "$dir/eventloop_uv" ]; then
    progs+=(eventloop_uv)
else
    echo "note: eventloop_uv not built (libuv1-dev missing): only epoll is checked"
fi
pass=0
for p in "${progs[@]}"; do
    out=$(timeout 120 "$dir/$p" 20000 2>&1); rc=$?
    [ $rc -eq 0 ] || { echo "FAIL: $p exited $rc"; echo "$out"; exit 1; }
    grep -q '^received 20000 of 20000 messages in order: ok$' <<<"$out" || { echo "FAIL: $p printed:"; echo "$out"; exit 1; }
    leftover=$(ls /dev/shm 2>/dev/null | grep -c "^shmipc-example-${p#eventloop_}-" || true)
    [ "$leftover" -eq 0 ] || { echo "FAIL: $p left its channel in /dev/shm"; exit 1; }
    pass=$((pass + 1))
done
echo "example_eventloop: $pass passed, 0 failed"
