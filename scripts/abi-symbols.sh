#!/usr/bin/env bash
# Prints the symbols libshmipc.so exports, one "name@VERSION" a line, sorted: the form abi/shmipc.symbols
# keeps. Usage: scripts/abi-symbols.sh path/to/libshmipc.so
# To accept an intended change of the public API: scripts/abi-symbols.sh build/src/libshmipc.so > abi/shmipc.symbols
set -euo pipefail
nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVW]$/ && $3 ~ /^shmipc_/ { print $3 }' | sed 's/@@/@/' | LC_ALL=C sort
