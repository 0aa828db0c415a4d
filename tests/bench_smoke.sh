#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench_smoke.sh - smoke test of `shmipc bench`: every mechanism (pub/sub and request/response
# included) runs with tiny sizes and counts, --targets prints one line per target of issue 9, the tables are printed, the fan-out table runs (pub/sub and
# pipes to 1, 2, 4 and 8 receivers), --json parses, --csv has its header and one row per cell, --plot
# draws a well-formed SVG by itself, and bad options are refused. Usage: bash tests/bench_smoke.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: bench_smoke.sh BUILD_DIR}
cli=$build/tools/shmipc/shmipc
[ -x "$cli" ] || { echo "SKIP: $cli not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! "$cli" bench --help >"$tmp/help"; then fail "bench --help"; fi
grep -q -- '--mechanisms' "$tmp/help" || fail "--help does not list --mechanisms"
# The default mechanisms (the fan-out ones, NAME-xN, are tested with --fanout below).
mechs=$("$cli" bench --list | awk '{print $1}' | grep -v -- '-x[0-9]*$' | paste -sd, -)
[ -n "$mechs" ] || fail "bench --list is empty"
echo "mechanisms: $mechs"
for m in pubsub pubsub-spin pubsub-notouch reqresp; do
    echo ",$mechs," | grep -q ",$m," || fail "mechanism $m not listed"
done
"$cli" bench --list | grep -q '^pubsub-x8 ' || fail "--list does not show the fan-out mechanisms"
nmech=$(echo "$mechs" | tr ',' '\n' | wc -l)

# Tiny run of every mechanism in every mode: the table.
small=(--mechanisms "$mechs" --sizes 8,4K --iterations 300 --warmup 20 --duration 0.05 --rate 2000 --rate-count 20)
"$cli" bench --mechanisms pipe --sizes 64 --iterations 100 --duration 0.05 --mode latency --repeat 3 --quiet >"$tmp/rep" || fail "--repeat run"
grep -q "run 3 times" "$tmp/rep" || fail "--repeat not reported"
"$cli" bench "${small[@]}" >"$tmp/table" 2>"$tmp/progress" || { cat "$tmp/table" "$tmp/progress"; fail "bench run"; }
cat "$tmp/table"
grep -q '^Latency' "$tmp/table" || fail "no latency table"
grep -q '^Throughput' "$tmp/table" || fail "no throughput table"
grep -q '^Low rate' "$tmp/table" || fail "no low-rate table"
grep -q 'p99.9' "$tmp/table" || fail "no p99.9 column"
grep -q 'error' "$tmp/table" && fail "a mechanism failed"
for m in $(echo "$mechs" | tr ',' ' '); do
    grep -qE "^[0-9A-Za-z ]{9}$m " "$tmp/table" || fail "mechanism $m missing from the table"
done
grep -q '\[1/' "$tmp/progress" || fail "no progress on stderr"

# Fan-out: the table with every receiver count asked for, both families, no failure.
"$cli" bench --fanout 1,2,4,8 --sizes 64 --iterations 200 --warmup 20 --duration 0.05 --quiet >"$tmp/fan" ||
    { cat "$tmp/fan"; fail "--fanout run"; }
cat "$tmp/fan"
grep -q '^Fan-out 1 -> N' "$tmp/fan" || fail "no fan-out table"
for n in 1 2 4 8; do
    grep -qE "^(64 B)? +$n +[0-9.]+ [nmu]?s " "$tmp/fan" || fail "fan-out row N=$n missing"
    grep -q "pubsub-x$n " "$tmp/fan" || fail "pubsub-x$n missing"
    grep -q "pipe-x$n " "$tmp/fan" || fail "pipe-x$n missing"
done
grep -q 'error' "$tmp/fan" && fail "a fan-out cell failed"
"$cli" bench --fanout 2 --sizes 64 --iterations 50 --duration 0.05 --quiet --json --mode latency >"$tmp/fanjson" ||
    fail "--fanout --json run"
grep -q '"receivers": 2' "$tmp/fanjson" || fail "JSON has no receiver count"

# reqresp cannot carry more than SHMIPC_RR_MAX_MESSAGE: n/a, not an error.
"$cli" bench --mechanisms reqresp --sizes 4M --iterations 10 --quiet --mode latency >"$tmp/rr" || fail "reqresp 4M run"
grep -q 'n/a (limit' "$tmp/rr" || fail "reqresp 4M is not n/a"

# CSV: header plus one row per cell.
"$cli" bench "${small[@]}" --quiet --mode latency --csv >"$tmp/csv" || fail "--csv run"
head -1 "$tmp/csv" | grep -q '^mode,mechanism,size,status,' || fail "CSV header"
rows=$(($(wc -l <"$tmp/csv") - 1))
[ "$rows" -eq $((nmech * 2)) ] || fail "CSV has $rows rows, expected $((nmech * 2))"
grep -q '^latency,cacheline,8,ok,' "$tmp/csv" || fail "CSV cacheline row"

# JSON parses (when python3 is there) and has the results.
"$cli" bench --mechanisms pipe,ring --sizes 64 --iterations 200 --duration 0.05 --quiet --mode latency,throughput \
    --json >"$tmp/json" || fail "--json run"
grep -q '"results"' "$tmp/json" || fail "JSON has no results"
if command -v python3 >/dev/null; then
    python3 -m json.tool "$tmp/json" >/dev/null || fail "JSON does not parse"
else
    echo "SKIP part: python3 not found, JSON not parsed"
fi

# A size a mechanism cannot carry is reported as n/a, not as an error.
if [ -r /proc/sys/fs/mqueue/msgsize_max ] && [ "$(cat /proc/sys/fs/mqueue/msgsize_max)" -lt 4194304 ] &&
    [ "$(id -u)" -ne 0 ]; then
    "$cli" bench --mechanisms mq --sizes 4M --iterations 10 --quiet --mode latency >"$tmp/na" || fail "mq 4M run"
    grep -q 'n/a (limit' "$tmp/na" || fail "mq 4M is not n/a"
fi

# Plot: drawn by shmipc itself (no gnuplot), a well-formed SVG with one line and one legend entry per
# mechanism that ran.
"$cli" bench --mechanisms cacheline,pipe,channel-spin --sizes 8,512,4K --iterations 200 --duration 0.05 --quiet \
    --mode latency --plot "$tmp/p.svg" >/dev/null || fail "--plot run"
[ -s "$tmp/p.svg" ] || fail "--plot did not write an SVG"
if command -v xmllint >/dev/null; then
    xmllint --noout "$tmp/p.svg" || fail "--plot: SVG is not well-formed XML"
elif command -v python3 >/dev/null; then
    python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$tmp/p.svg" ||
        fail "--plot: SVG is not well-formed XML"
else
    echo "SKIP part: neither xmllint nor python3: SVG not parsed"
fi
grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$tmp/p.svg" || fail "--plot: no svg root"
[ "$(grep -c '<polyline' "$tmp/p.svg")" -eq 3 ] || fail "--plot: expected 3 lines"
for m in cacheline pipe channel-spin; do
    grep -q "class=\"legend\"[^>]*>$m</text>" "$tmp/p.svg" || fail "--plot: no legend entry for $m"
done
[ "$(grep -c '<circle' "$tmp/p.svg")" -eq 9 ] || fail "--plot: expected 9 points"
if "$cli" bench --mechanisms pipe --sizes 64 --iterations 10 --duration 0.05 --quiet --mode latency \
    --plot "$tmp/no/such/dir/p.svg" >/dev/null 2>"$tmp/err"; then fail "--plot into a missing directory succeeded"; fi
grep -q 'p.svg' "$tmp/err" || fail "--plot failure does not name the file"

# --targets: one line per target of issue 9 (ratio, bound, met / not met), whatever the numbers are.
"$cli" bench --targets --quick --quiet >"$tmp/targets" || { cat "$tmp/targets"; fail "--targets --quick run"; }
cat "$tmp/targets"
line_re='[0-9]+\.[0-9]{2} +(>=|<=) [0-9]+\.[0-9]{2}  (met|not met) '
for t in pubsub-stream pubsub-latency fanout-1to8 reqresp-rtt reqresp-stream hybrid-channel@64 hybrid-channel@4K \
    hybrid-channel@1M hybrid-pubsub@64 hybrid-pubsub@4K hybrid-pubsub@1M blocking-channel blocking-pubsub \
    lowrate-channel lowrate-pubsub; do
    grep -qE "^$t +$line_re" "$tmp/targets" || fail "--targets: no line for $t"
done
ntargets=$(grep -cE "^[a-zA-Z0-9@-]+ +$line_re" "$tmp/targets")
[ "$ntargets" -eq 15 ] || fail "--targets printed $ntargets target lines, expected 15"
grep -qE "^[0-9]+ of 15 targets met$" "$tmp/targets" || fail "--targets: no summary line"
ref_re='[0-9]+\.[0-9]{2} +-  ref '
for t in fanout-pipes; do
    grep -qE "^$t +$ref_re" "$tmp/targets" || fail "--targets: no reference line for $t"
done
grep -q 'error' "$tmp/targets" && fail "--targets: a cell failed"
"$cli" bench --targets --quick --sizes 64 --duration 0.05 --rate-count 20 --repeat 2 --json --quiet >"$tmp/tjson" \
    2>"$tmp/tjson.err" || {
    grep '"status"' "$tmp/tjson" | grep -v '"status": "ok"' || true # the cells that could not be measured
    cat "$tmp/tjson.err"
    fail "--targets --json run"
}
grep -q '"statistic": "median"' "$tmp/tjson" || fail "--targets --json: no statistic"
if command -v python3 >/dev/null; then
    python3 - "$tmp/tjson" <<'PY' || fail "--targets --json: bad shape"
import json, sys
d = json.load(open(sys.argv[1]))
t = d["targets"]
assert len(t) == 12, len(t)  # hybrid targets at the one size given, and a reference
for x in t:
    assert x["op"] in (">=", "<=") and isinstance(x["bound"], float), x
    assert isinstance(x["ratio"], float), x
    if x["reference"]:
        assert x["met"] is None and x["result"] == "ref", x
    else:
        assert isinstance(x["met"], bool) and x["result"] == ("met" if x["met"] else "not met"), x
assert {x["target"] for x in t if x["reference"]} == {"fanout-pipes"}
assert {x["target"] for x in t} >= {"fanout-1to8", "hybrid-channel@64", "lowrate-pubsub"}
assert d["results"] and d["config"]["repeat"] == 2
PY
fi

# Bad options are usage errors (exit 2).
for bad in "--fanout 3" "--fanout 0" "--fanout x" "--repeat 16" "--mode sideways" "--sizes 4" "--mechanisms nosuch" "--iterations 0" "--duration -1" "--json --csv" \
    "--targets --mode latency" "--targets --mechanisms pipe" "--targets --csv"; do
    set +e
    # shellcheck disable=SC2086
    "$cli" bench $bad --quiet >/dev/null 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "'bench $bad' exited $rc, expected 2"
done
echo "PASS"
