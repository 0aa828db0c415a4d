# SPDX-License-Identifier: MIT
# tests/cli_fixtures/lib.sh - what the CLI shell tests (cli_service.sh, cli_top.sh, cli_pubsub.sh,
# cli_chanq_service.sh, ...) share: checks that count and report failures, running a command with its
# output in $TMP, JSON checks with python3 (skipped without it), and waiting for a condition. Source it
# after setting TMP.

fails=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run CMD...: run it with stdout in $TMP/out and stderr in $TMP/err; its exit code in $rc.
run() {
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

# expect RC [PATTERN] -- CMD...: the command must exit with RC and (if given) print PATTERN (extended
# regex) on stdout or stderr.
expect() {
    local want=$1 pat=
    shift
    if [ "$1" != "--" ]; then pat=$1; shift; fi
    shift
    run "$@"
    checks=$((checks + 1))
    if [ "$rc" != "$want" ]; then
        fail "'$*' exited $rc, expected $want; stderr: $(head -c 500 "$TMP/err")"
    elif [ -n "$pat" ] && ! cat "$TMP/out" "$TMP/err" | grep -Eq -- "$pat"; then
        fail "'$*' did not print /$pat/; stdout: $(head -c 800 "$TMP/out") stderr: $(head -c 300 "$TMP/err")"
    fi
}

# check DESCRIPTION CMD...: CMD must succeed.
check() {
    local what=$1
    shift
    checks=$((checks + 1))
    "$@" || fail "$what"
}

have_python=false
command -v python3 >/dev/null && python3 -c 'import json' 2>/dev/null && have_python=true

# pycheck EXPR: with the JSON of $TMP/out as d, the Python expression must be true.
pycheck() {
    checks=$((checks + 1))
    $have_python || return 0
    python3 -c "import json,sys; d=json.load(open('$TMP/out')); sys.exit(0 if ($1) else 1)" ||
        fail "JSON check failed: $1; JSON: $(head -c 1500 "$TMP/out")"
}

# json_ok WHAT: $TMP/out holds valid JSON.
json_ok() {
    checks=$((checks + 1))
    $have_python || return 0
    python3 -m json.tool "$TMP/out" >/dev/null || fail "invalid JSON from $1: $(head -c 500 "$TMP/out")"
}

# until_ok CMD...: retry CMD (output discarded) every 0.1 s for up to 10 s; its last status.
until_ok() {
    local i
    for i in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

# finish: the summary line and the script's status.
finish() {
    echo "$checks checks, $fails failures"
    [ "$fails" = 0 ]
}
