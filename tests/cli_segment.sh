#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cli_segment.sh - drives `shmipc segment ...` through every command and every error it reports:
# exit codes (0 ok, 1 runtime error, 2 usage error), messages, table and JSON output, byte-exact
# write/read round trips, the xxd-style dump, range checks before any access, attached pids found in
# /proc/PID/maps, and a segment truncated under a reader. Usage: bash cli_segment.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_segment.sh BUILD_DIR}
CLI=$BUILD/tools/shmipc/shmipc
[ -x "$CLI" ] || { echo "SKIP: $CLI is not built"; exit 77; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm is not writable"; exit 77; }

P=shmipc-clitest-$$
TMP=$(mktemp -d)
HOLDER=
. "$(dirname "$0")/cli_fixtures/lib.sh"

cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
    exec 3<&- 2>/dev/null
    rm -f /dev/shm/"$P"-*
    rm -rf "$TMP"
}
trap cleanup EXIT

# json_file_ok FILE: FILE holds valid JSON (skipped without python3).
json_file_ok() {
    $have_python || return 0
    python3 -m json.tool "$1" >/dev/null
}

# ls_row NAME: the row of `segment ls` (text) for /NAME, from $TMP/out.
ls_row() {
    awk -v n="/$1" '$1 == n' "$TMP/out"
}

me=$(id -un)

# --- help and dispatch ----------------------------------------------------------------------------------
expect 0 "segment" -- "$CLI" --help
expect 0 "^shmipc [0-9]+\.[0-9]+\.[0-9]+" -- "$CLI" --version
expect 2 "usage" -- "$CLI"
expect 2 "unknown command 'frob'" -- "$CLI" frob
expect 0 "usage: shmipc segment COMMAND" -- "$CLI" segment --help
expect 0 "usage: shmipc segment COMMAND" -- "$CLI" help segment
expect 2 "usage" -- "$CLI" segment
expect 2 "unknown command 'frob'" -- "$CLI" segment frob
for sub in create ls info read write grow rm; do
    expect 0 "^usage: shmipc segment $sub" -- "$CLI" segment "$sub" --help
    expect 0 "^usage: shmipc segment $sub" -- "$CLI" segment "$sub" -h
    expect 0 "^usage: shmipc segment $sub" -- "$CLI" segment help "$sub"
done
expect 2 "unknown option '--bogus'" -- "$CLI" segment ls --bogus
expect 2 "unknown option '-q'" -- "$CLI" segment ls -q
expect 2 "needs a value" -- "$CLI" segment read "$P-x" --offset
expect 2 "too many arguments" -- "$CLI" segment ls extra
expect 2 "missing argument" -- "$CLI" segment create "$P-x"
expect 2 "missing argument" -- "$CLI" segment info

# --- create and its errors ------------------------------------------------------------------------------
expect 0 -- "$CLI" segment create "$P-a" 4K --mode 0640 --type channel
expect 1 "File exists .-EEXIST." -- "$CLI" segment create "$P-a" 4K
expect 1 "File exists" -- "$CLI" segment create "/$P-a" 1
expect 2 "'-1' looks like a negative number" -- "$CLI" segment create "$P-x" -1
for bad in 4X ""  1.5K 4KK " 4" 0x K; do
    expect 2 "bad size" -- "$CLI" segment create "$P-x" "$bad"
done
expect 2 "too large" -- "$CLI" segment create "$P-x" 99999999999999999999
expect 2 "too large" -- "$CLI" segment create "$P-x" 17179869184G
expect 2 "at least 1 byte" -- "$CLI" segment create "$P-x" 0
expect 2 "bad mode '9'" -- "$CLI" segment create "$P-x" 4K --mode 9
expect 2 "bad mode" -- "$CLI" segment create "$P-x" 4K --mode 17777
expect 2 "bad type 'nope'" -- "$CLI" segment create "$P-x" 4K --type nope
long=$(printf 'n%.0s' $(seq 1 250))
for bad in "a/b" "/a/b" "." ".." "/" "with space" "$(printf 'ctl\001x')" "$long"; do
    expect 2 "bad segment name" -- "$CLI" segment create "$bad" 4K
    expect 2 "bad segment name" -- "$CLI" segment info "$bad"
done
check "rejected creates leave no $P-x behind" test ! -e "/dev/shm/$P-x"
expect 0 -- "$CLI" segment create "/$P-b" 64K --type 7
expect 0 -- "$CLI" segment create "$P-u" 100 --type 70000

# --- ls -------------------------------------------------------------------------------------------------
expect 0 "^NAME +SIZE +MODE +OWNER +TYPE +CPID +ALIVE +PIDS" -- "$CLI" segment ls
row=$(ls_row "$P-a")
read -r r_name r_size r_mode r_owner r_type r_cpid r_alive r_pids <<<"$row"
check "ls row for $P-a: '$row'" test "$r_size" = 4096 -a "$r_mode" = 0640 -a "$r_owner" = "$me" \
    -a "$r_type" = channel -a "$r_alive" = no -a "$r_pids" = -
check "ls creator pid of $P-a is a number: '$r_cpid'" test "$r_cpid" -gt 0
read -r _ r_size _ _ r_type _ <<<"$(ls_row "$P-b")"
check "ls row for $P-b: size $r_size type $r_type" test "$r_size" = 65536 -a "$r_type" = blackboard
read -r _ r_size _ _ r_type _ <<<"$(ls_row "$P-u")"
check "ls row for $P-u: size $r_size type $r_type (size rounded up to 64, type as a number)" \
    test "$r_size" = 128 -a "$r_type" = 70000

# A foreign file with a hostile name: listed only with --all, escaped in text, valid in JSON.
weird="$P-we\"ird \\ $(printf '\001\033[31m\377')"
printf 'not a segment' >"/dev/shm/$weird"
printf 'short' >"/dev/shm/$P-foreign"
expect 0 -- "$CLI" segment ls
check "ls without --all hides foreign files" test -z "$(ls_row "$P-foreign")"
expect 0 -- "$CLI" segment ls --all
check "ls --all marks $P-foreign as foreign" grep -Eq "^/$P-foreign +5 +[0-7]{4} +$me +foreign +- +- +-$" "$TMP/out"
check "ls --all prints no raw control characters" bash -c "! grep -q \$'\\x01\\|\\x1b' '$TMP/out'"
check "ls --all shows the weird name escaped" grep -Fq '\x01\x1b[31m\xff' "$TMP/out"
expect 0 -- "$CLI" segment ls --json
check "ls --json is valid JSON" json_file_ok "$TMP/out"
expect 0 -- "$CLI" segment ls --all --json
check "ls --all --json is valid JSON (hostile name)" json_file_ok "$TMP/out"
if $have_python; then
    check "ls --all --json fields" python3 - "$TMP/out" "$P" "$me" <<'EOF'
import json, sys
data = {e["name"]: e for e in json.load(open(sys.argv[1]))}
p, me = sys.argv[2], sys.argv[3]
a = data["/" + p + "-a"]
assert (a["kind"], a["data_size"], a["total_size"], a["mode"], a["owner"], a["type"], a["type_id"], a["pids"],
        a["ready"]) == ("shmipc", 4096, 4224, "0640", me, "channel", 1, [], True), a
assert "size" not in a, a
assert a["creator_pid"] > 0 and a["creator_alive"] is False, a
f = data["/" + p + "-foreign"]
assert (f["kind"], f["data_size"], f["file_size"], f["type"], f["creator_pid"]) == ("foreign", None, 5, None, None), f
w = [e for n, e in data.items() if n.startswith("/" + p + "-we")]
assert len(w) == 1 and w[0]["kind"] == "foreign" and '"ird \\ \x01\x1b[31m\ufffd' in w[0]["name"], w
EOF
fi

# --- info -----------------------------------------------------------------------------------------------
expect 0 "^name: +/$P-a$" -- "$CLI" segment info "$P-a"
for pat in "^type: +channel \(1\)$" "^data size: +4096 bytes$" "^mode: +0640$" "^owner: +$me " \
    "^ready: +yes$" "^created: +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}" "^pids: +-$" \
    "^creator: +pid [0-9]+, start time [0-9]+, gone$" "^generation: +0 "; do
    check "info shows /$pat/" grep -Eq "$pat" "$TMP/out"
done
expect 0 -- "$CLI" segment info "$P-a" --json
check "info --json is valid JSON" json_file_ok "$TMP/out"
if $have_python; then
    check "info --json fields" python3 - "$TMP/out" "$P" <<'EOF'
import json, sys
i = json.load(open(sys.argv[1]))
for k in ("name", "backing", "version", "type", "type_id", "ready", "total_size", "data_size", "file_size", "mode",
          "uid", "owner", "gid", "group", "creator_pid", "creator_start_time", "creator_alive", "generation",
          "created_ns", "created", "pids"):
    assert k in i, k
assert (i["name"], i["backing"], i["data_size"], i["total_size"], i["type"]) == ("/" + sys.argv[2] + "-a", "posix", 4096, 4224, "channel"), i
assert i["created"].endswith("Z") and i["created_ns"] > 1600000000 * 10**9, i
EOF
fi
expect 1 "Not a valid shmipc object" -- "$CLI" segment info "$P-foreign"
expect 1 "No such file or directory .-ENOENT." -- "$CLI" segment info "$P-missing"
# A FIFO in /dev/shm would block shm_open forever: refused as not a segment, without hanging.
mkfifo "/dev/shm/$P-fifo"
expect 1 "Not a valid shmipc object" -- timeout 20 "$CLI" segment info "$P-fifo"
expect 1 "Not a valid shmipc object" -- timeout 20 "$CLI" segment read "$P-fifo"
expect 1 "not a shmipc segment" -- timeout 20 "$CLI" segment rm "$P-fifo"
expect 0 -- timeout 20 "$CLI" segment ls --all
check "ls --all skips a FIFO" test -z "$(ls_row "$P-fifo")"
expect 0 -- timeout 20 "$CLI" segment rm --force "$P-fifo"
check "rm --force removed the FIFO" test ! -e "/dev/shm/$P-fifo"

# --- write and read -------------------------------------------------------------------------------------
head -c 5000 /dev/urandom >"$TMP/rand"
check "write binary data" "$CLI" segment write "$P-b" --offset 100 <"$TMP/rand"
expect 0 -- "$CLI" segment read "$P-b" --offset 100 --length 5000
check "read returns the bytes written" cmp "$TMP/out" "$TMP/rand"
expect 0 -- "$CLI" segment read "$P-b"
check "read of the whole data area is 65536 bytes" test "$(stat -c %s "$TMP/out")" = 65536
cp "$TMP/out" "$TMP/full"
check "the bytes before the write are still zero" cmp -n 100 "$TMP/full" /dev/zero
check "the whole area is zeros, the data, zeros" bash -c "head -c 100 /dev/zero | cat - '$TMP/rand' | \
    cat - <(head -c $((65536 - 5100)) /dev/zero) | cmp - '$TMP/full'"
expect 0 -- "$CLI" segment read "$P-b" -o 1K -l 1K
check "offsets take K suffixes" cmp "$TMP/out" <(tail -c +1025 "$TMP/full" | head -c 1024)
printf 'hello\n' | "$CLI" segment write "$P-a" -o 10
expect 0 -- "$CLI" segment read "$P-a" -l 32 --hex
printf '%s\n' "00000000: 0000 0000 0000 0000 0000 6865 6c6c 6f0a  ..........hello." \
    "00000010: 0000 0000 0000 0000 0000 0000 0000 0000  ................" >"$TMP/hex"
check "--hex output is xxd's format" cmp "$TMP/out" "$TMP/hex"
if command -v xxd >/dev/null; then
    for range in "0 4096" "100 77" "4095 1" "65520 16" "65000 536"; do
        read -r o l <<<"$range"
        expect 0 -- "$CLI" segment read "$P-b" --offset "$o" --length "$l" --hex
        check "--hex at offset $o length $l matches xxd -s $o -l $l" cmp "$TMP/out" <(xxd -s "$o" -l "$l" "$TMP/full")
    done
fi

# Out of range: refused, and nothing written.
expect 1 "out of range" -- "$CLI" segment read "$P-b" --offset 65537
expect 1 "out of range" -- "$CLI" segment read "$P-b" --offset 65000 --length 1000
expect 1 "out of range" -- "$CLI" segment read "$P-b" --offset 18446744073709551615 --length 2
expect 1 "out of range" -- "$CLI" segment read "$P-b" --offset 2 --length 18446744073709551615
expect 1 "out of range" -- "$CLI" segment read "$P-b" --offset 17179869183G
expect 0 -- "$CLI" segment read "$P-b" --offset 65536
check "read at the very end prints nothing" test ! -s "$TMP/out"
expect 0 -- "$CLI" segment read "$P-b" --offset 64K --length 0 --hex
check "hex read of nothing prints nothing" test ! -s "$TMP/out"
expect 2 "bad offset 'abc'" -- "$CLI" segment read "$P-b" --offset abc
expect 2 "bad length '-5'" -- "$CLI" segment read "$P-b" --length -5
expect 2 "bad offset" -- "$CLI" segment write "$P-b" --offset 1Q </dev/null
head -c 65537 /dev/zero >"$TMP/big"
expect 1 "out of range" -- "$CLI" segment write "$P-b" <"$TMP/big"
expect 1 "out of range" -- "$CLI" segment write "$P-b" --offset 65530 < <(printf '1234567')
expect 1 "out of range" -- "$CLI" segment write "$P-b" --offset 65537 </dev/null
expect 0 -- "$CLI" segment write "$P-b" --offset 65536 </dev/null
expect 0 -- "$CLI" segment write "$P-b" --offset 65530 < <(printf '123456')
expect 0 -- "$CLI" segment read "$P-b"
check "refused writes changed nothing" cmp -n 65530 "$TMP/out" "$TMP/full"
check "a write that fits ends exactly at the end" test "$(tail -c 6 "$TMP/out")" = 123456
cp "$TMP/out" "$TMP/full"

# Missing segment: every command says so and exits 1.
for sub in info read rm; do
    expect 1 "No such file" -- "$CLI" segment "$sub" "$P-missing"
done
expect 1 "No such file" -- "$CLI" segment write "$P-missing" </dev/null
expect 1 "No such file" -- "$CLI" segment grow "$P-missing" 1M

# --- grow -----------------------------------------------------------------------------------------------
expect 0 -- "$CLI" segment grow "$P-b" 1M
expect 0 "^data size: +1048576 bytes$" -- "$CLI" segment info "$P-b"
check "info shows generation 1 after a grow" grep -Eq "^generation: +1 " "$TMP/out"
expect 1 "cannot shrink" -- "$CLI" segment grow "$P-b" 4K
expect 2 "bad size" -- "$CLI" segment grow "$P-b" lots
expect 0 -- "$CLI" segment grow "$P-b" 1M
expect 0 -- "$CLI" segment read "$P-b" --length 64K
check "grow keeps the data" cmp "$TMP/out" "$TMP/full"

# --- attached pids: a reader blocked on a full FIFO keeps the segment mapped ------------------------------
mkfifo "$TMP/fifo"
"$CLI" segment read "$P-b" >"$TMP/fifo" 2>"$TMP/holder.err" &
HOLDER=$!
exec 3<"$TMP/fifo"
seen=false
for _ in $(seq 1 100); do
    run "$CLI" segment ls
    read -r _ _ _ _ _ _ _ r_pids <<<"$(ls_row "$P-b")"
    if [[ ",$r_pids," == *",$HOLDER,"* ]]; then seen=true; break; fi
    sleep 0.1
done
check "ls shows the pid $HOLDER that maps $P-b (pids: '$r_pids')" $seen
check "ls does not show this shell as mapping $P-b" test "${r_pids/$$/}" = "$r_pids"
expect 0 "^pids: +([0-9]+,)*$HOLDER(,[0-9]+)*$" -- "$CLI" segment info "$P-b"
if $have_python; then
    expect 0 -- "$CLI" segment ls --json
    check "ls --json lists pid $HOLDER for $P-b" python3 -c "
import json, sys
d = {e['name']: e for e in json.load(open('$TMP/out'))}
assert $HOLDER in d['/$P-b']['pids'] and d['/$P-a']['pids'] == []"
    expect 0 -- "$CLI" segment info "$P-b" --json
    check "info --json lists pid $HOLDER" python3 -c "import json; assert $HOLDER in json.load(open('$TMP/out'))['pids']"
fi

# A peer truncates the object under the blocked reader: its next copy faults; it must report, not crash.
truncate -s 4096 "/dev/shm/$P-b"
cat <&3 >/dev/null
exec 3<&-
wait "$HOLDER"
hrc=$?
HOLDER=
check "a reader of a truncated segment exits 1 (got $hrc)" test "$hrc" = 1
check "it says the segment was truncated: $(cat "$TMP/holder.err")" grep -q "truncated" "$TMP/holder.err"
expect 1 "Not a valid shmipc object" -- "$CLI" segment info "$P-b"
expect 1 "Not a valid shmipc object" -- "$CLI" segment read "$P-b"
expect 0 -- "$CLI" segment ls --all
check "ls --all shows the truncated segment as foreign" grep -Eq "^/$P-b +4096 +[0-7]+ +$me +foreign " "$TMP/out"

# --- hand-made headers: a segment still being initialised, one whose creator died doing so --------------
if $have_python; then
    mkhdr() { # mkhdr NAME PID START_TIME: a header with everything but the ready word, and 4 KiB of data
        python3 - "/dev/shm/$1" "$2" "$3" <<'EOF2'
import struct, sys, time
hdr = struct.pack("<QIIQIIiIQQII64x", 0x31434950494d4853, 1, 128, 128 + 4096, 0, 1, int(sys.argv[2]), 0,
                  int(sys.argv[3]), time.time_ns(), 0, 0)
open(sys.argv[1], "wb").write(hdr + bytes(4096))
EOF2
    }
    start=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20) # field 22, counted after "pid (comm)"
    mkhdr "$P-init" $$ "$start"
    expect 1 "still being initialised" -- "$CLI" segment read "$P-init"
    expect 0 "^ready: +no " -- "$CLI" segment info "$P-init"
    check "info shows the creator (this shell) alive" grep -Eq "^creator: +pid $$, start time $start, alive$" "$TMP/out"
    mkhdr "$P-dead" $$ 1
    expect 1 "died" -- "$CLI" segment read "$P-dead"
    expect 0 -- "$CLI" segment ls --json
    check "ls --json: ready false, creator_alive false for $P-dead" python3 -c "
import json
d = {e['name']: e for e in json.load(open('$TMP/out'))}
assert d['/$P-dead']['ready'] is False and d['/$P-dead']['creator_alive'] is False
assert d['/$P-init']['ready'] is False and d['/$P-init']['creator_alive'] is True"
fi

# --- permissions ----------------------------------------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" --version >/dev/null 2>&1; then
    nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    expect 1 "Permission denied" -- nobody "$CLI" segment read "$P-a"
    expect 1 "Permission denied" -- nobody "$CLI" segment write "$P-a" </dev/null
    expect 1 "Permission denied|Operation not permitted" -- nobody "$CLI" segment rm "$P-a"
    expect 0 -- nobody "$CLI" segment ls
    check "ls hides a segment its user may not read" test -z "$(ls_row "$P-a")"
    expect 0 -- nobody "$CLI" segment ls --all
    check "ls --all shows a segment its user may not read with type '?'" \
        grep -Eq "^/$P-a +[0-9]+ +0640 +[^ ]+ +\? +- +- +-$" "$TMP/out"
    expect 1 "Permission denied" -- nobody "$CLI" segment info "$P-a"
    expect 0 -- nobody "$CLI" segment create "$P-n" 4K --mode 0666
    expect 1 "belongs to another user" -- "$CLI" segment write "$P-n" </dev/null
    expect 0 -- "$CLI" segment read "$P-n" --length 16
    check "root reads another user's segment" cmp "$TMP/out" <(head -c 16 /dev/zero)
    expect 0 -- "$CLI" segment ls
    read -r _ _ r_mode r_owner _ <<<"$(ls_row "$P-n")"
    check "ls shows the owner of $P-n as nobody's name, mode 0666" test "$r_mode" = 0666 -a "$r_owner" = "$(id -un 65534)"
elif [ "$(id -u)" != 0 ]; then
    expect 0 -- "$CLI" segment create "$P-ro" 4K --mode 0400
    expect 1 "Permission denied" -- "$CLI" segment write "$P-ro" </dev/null
    expect 0 -- "$CLI" segment read "$P-ro" --length 1
else
    echo "note: permission checks skipped (setpriv cannot run the CLI as nobody)"
fi

# --- rm -------------------------------------------------------------------------------------------------
expect 1 "not a shmipc segment.*--force" -- "$CLI" segment rm "$P-foreign"
check "rm without --force keeps the foreign file" test -e "/dev/shm/$P-foreign"
expect 0 -- "$CLI" segment rm "$P-foreign" --force
check "rm --force removed the foreign file" test ! -e "/dev/shm/$P-foreign"
expect 0 -- "$CLI" segment rm "$P-a"
expect 1 "No such file" -- "$CLI" segment info "$P-a"
expect 1 "No such file" -- "$CLI" segment rm "$P-a"
expect 2 "bad segment name" -- "$CLI" segment rm "a/b"
expect 0 -- "$CLI" segment rm "/$P-u"
check "rm removed /dev/shm/$P-u" test ! -e "/dev/shm/$P-u"

echo "cli_segment: $checks checks, $fails failed$($have_python || echo ' (JSON checks skipped: no python3)')"
[ "$fails" = 0 ]
