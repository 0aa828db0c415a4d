#!/usr/bin/env bash
# The main job (`make demo`): runs the multi-process demo system (examples/demo: sensor, filter, logger
# and configuration service under a supervising launcher, then `shmipc bench --quick`) when it is built,
# else the seed example (writer and reader processes sharing /my_shm).
set -euo pipefail
build=${1:-build}
if [ -x "$build/examples/demo/shmipc-demo" ]; then
    exec "$build/examples/demo/shmipc-demo" --bin "$build"
fi
echo "(the demo system is not built: showing the seed example)"
name="/shmipc-seed-demo-$$"
"$build/examples/seed/seed_writer" "$name" &
writer=$!
sleep 0.2
"$build/examples/seed/seed_reader" "$name"
wait "$writer"
