#!/usr/bin/env bash
# The exported symbols of libshmipc.so, with their versions, must equal abi/shmipc.symbols: a public
# function added, removed or moved to another version node without updating the list is an ABI change
# nobody decided, and fails here. Usage: abi_symbols.sh BUILD_DIR
set -euo pipefail
build=${1:?build dir}
root=$(cd "$(dirname "$0")/.." && pwd)
lib=$build/src/libshmipc.so
[ -e "$lib" ] || { echo "abi_symbols: $lib not built"; exit 1; }
command -v nm >/dev/null || { echo "abi_symbols: nm missing (binutils): skipped"; exit 77; }
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
"$root/scripts/abi-symbols.sh" "$lib" > "$actual"
if ! diff -u "$root/abi/shmipc.symbols" "$actual"; then
    echo "abi_symbols: the exported symbols differ from abi/shmipc.symbols (- expected, + built)."
    echo "If the change is intended, update the list: scripts/abi-symbols.sh $lib > abi/shmipc.symbols"
    exit 1
fi
# Every exported symbol carries a version from src/shmipc.map (the node itself is the one absolute entry).
stray=$(nm -D --defined-only "$lib" | awk '$2 != "A" && $3 !~ /@@SHMIPC_[0-9.]+$/ { print $3 }')
if [ -n "$stray" ]; then
    echo "abi_symbols: exported without a version node: $stray"
    exit 1
fi
echo "abi_symbols: $(wc -l < "$actual") symbols, all in abi/shmipc.symbols"
# The NATS bridge library, where this build has it: its own list and version node (SHMIPC_NATS_1.0).
nlib=$build/src/bridge/libshmipc-nats.so
if [ -e "$nlib" ]; then
    "$root/scripts/abi-symbols.sh" "$nlib" > "$actual"
    if ! diff -u "$root/abi/shmipc-nats.symbols" "$actual"; then
        echo "abi_symbols: libshmipc-nats exports differ from abi/shmipc-nats.symbols (- expected, + built)."
        echo "If intended: scripts/abi-symbols.sh $nlib > abi/shmipc-nats.symbols"
        exit 1
    fi
    stray=$(nm -D --defined-only "$nlib" | awk '$2 != "A" && $3 !~ /@@SHMIPC_NATS_[0-9.]+$/ { print $3 }')
    if [ -n "$stray" ]; then
        echo "abi_symbols: libshmipc-nats exports without a version node: $stray"
        exit 1
    fi
    echo "abi_symbols: libshmipc-nats: $(wc -l < "$actual") symbols, all in abi/shmipc-nats.symbols"
fi
