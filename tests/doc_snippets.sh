#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/doc_snippets.sh - every code snippet of README.md and of the man pages docs/man/*.3 is a complete
# program: this test extracts each one, compiles it against the built library (-Wall -Wextra -Werror) and
# runs it, in a private object directory (SHMIPC_DIR) that must be empty afterwards (the snippet unlinked
# what it made). Only snippets marked on the line before them are treated otherwise:
#   README.md:     <!-- snippet: compile (why) -->   or   <!-- snippet: skip (why) -->   before the ``` fence
#   man pages:     .\" snippet: compile (why)        or   .\" snippet: skip (why)        before the .nf line
# "compile" builds it without running it (hardware it needs), "skip" leaves it (shell, a synopsis of
# declarations). A README fence that is not ```c and not marked is an error, as is a man page .nf block
# that is not marked and does not compile: nothing is skipped silently.
# Usage: bash doc_snippets.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: doc_snippets.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
LIB=$BUILD/src/libshmipc.so
[ -e "$LIB" ] || { echo "SKIP: $LIB is not built"; exit 77; }
# A sanitizer build's library needs the sanitizer runtime in every program linked to it: the snippets
# are a user's programs, checked against the plain build.
if grep -qE '^SHMIPC_(SANITIZE:STRING=.+|FUZZ:BOOL=ON)' "$BUILD/CMakeCache.txt"; then
    echo "SKIP: sanitizer or fuzzing build"; exit 77
fi
# A cross or musl build (toolchain file) makes programs for another libc or machine: the snippets and
# the packages are checked in the native build.
if grep -qE '^CMAKE_TOOLCHAIN_FILE:[A-Z]+=.+' "$BUILD/CMakeCache.txt"; then
    echo "skip: built with a toolchain file (cross or musl)"; exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: no python3 to extract the snippets"; exit 77; }
CC=${CC:-cc}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
checks=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# Extract: one file per snippet, $TMP/snip/NNN.c, and a list "NNN ACTION WHERE" in $TMP/list.
python3 - "$SRC" "$TMP" <<'PY' || { echo "FAIL: extraction"; exit 1; }
import glob, os, re, sys
src, tmp = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(tmp, "snip"))
out = []
bad = []

def mark(line, md):
    m = re.match(r'\s*<!--\s*snippet:\s*(compile|skip)\b.*-->\s*$' if md else r'\.\\"\s*snippet:\s*(compile|skip)\b', line)
    return m.group(1) if m else None

def unroff(line):
    line = line.replace('\\e', '\x00')
    for a, b in (('\\-', '-'), ('\\(aq', "'"), ('\\(dq', '"'), ('\\(ti', '~'), ('\\(ha', '^'), ('\\&', ''),
                 ('\\fB', ''), ('\\fI', ''), ('\\fR', ''), ('\\fP', ''), ('\\fC', ''), ('\\ ', ' ')):
        line = line.replace(a, b)
    return line.replace('\x00', '\\')

def add(where, action, body):
    n = len(out)
    with open(os.path.join(tmp, "snip", "%03d.c" % n), "w") as f:
        f.write(body)
    out.append("%03d %s %s" % (n, action, where))

readme = os.path.join(src, "README.md")
lines = open(readme).read().split("\n")
i = 0
while i < len(lines):
    m = re.match(r'^```(\w*)\s*$', lines[i])
    if not m:
        i += 1
        continue
    lang, start = m.group(1), i
    j = i + 1
    while j < len(lines) and not lines[j].startswith("```"):
        j += 1
    action = mark(lines[start - 1], True) if start else None
    where = "README.md:%d" % (start + 1)
    if action is None and lang != "c":
        bad.append(where + ": a ```%s block that is not marked (<!-- snippet: skip (why) -->)" % lang)
    add(where, action or "run", "\n".join(lines[start + 1:j]) + "\n")
    i = j + 1

for page in sorted(glob.glob(os.path.join(src, "docs", "man", "*.3"))):
    lines = open(page).read().split("\n")
    for i, l in enumerate(lines):
        if l.strip() != ".nf":
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != ".fi":
            j += 1
        action = mark(lines[i - 1], False) if i else None
        where = "%s:%d" % (os.path.relpath(page, src), i + 1)
        add(where, action or "run", "\n".join(unroff(x) for x in lines[i + 1:j]) + "\n")

open(os.path.join(tmp, "list"), "w").write("\n".join(out) + "\n")
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY

# A snippet of the NATS bridge (it includes <shmipc/bridge.h>) links libshmipc-nats and libnats as well;
# without the bridge in this build it is not checked (said below).
BRIDGE_LIB=$BUILD/src/bridge/libshmipc-nats.so
bridge_skipped=0
while read -r n action where; do
    [ "$action" = skip ] && continue
    extra=()
    if grep -q '#include <shmipc/bridge.h>' "$TMP/snip/$n.c"; then
        if [ ! -e "$BRIDGE_LIB" ]; then
            bridge_skipped=$((bridge_skipped + 1))
            continue
        fi
        extra=(-L"$BUILD/src/bridge" -lshmipc-nats -Wl,-rpath,"$BUILD/src/bridge" $(pkg-config --libs libnats))
    fi
    checks=$((checks + 1))
    if ! $CC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$SRC/include" -I"$BUILD/include" \
        -o "$TMP/snip/$n" "$TMP/snip/$n.c" "${extra[@]}" -L"$BUILD/src" -lshmipc -Wl,-rpath,"$BUILD/src" -lpthread \
        >"$TMP/cc.out" 2>&1; then
        fail "$where: the snippet does not compile as a program:
$(head -c 1500 "$TMP/cc.out")"
        continue
    fi
    [ "$action" = compile ] && continue
    dir=$TMP/dir.$n
    mkdir -m 700 "$dir"
    checks=$((checks + 1))
    if ! (cd "$TMP" && SHMIPC_DIR=$dir timeout 60 "$TMP/snip/$n") >"$TMP/run.out" 2>&1; then
        fail "$where: the snippet failed when run: $(head -c 800 "$TMP/run.out")"
    elif [ -n "$(ls -A "$dir")" ]; then
        fail "$where: the snippet left $(ls -A "$dir" | tr '\n' ' ')behind (no unlink at the end)"
    fi
done <"$TMP/list"
[ "$bridge_skipped" = 0 ] || echo "$bridge_skipped snippets of the NATS bridge not checked: this build has no libshmipc-nats"
echo "$checks checks, $fails failures ($(grep -c ' skip ' "$TMP/list") snippets marked skip)"
[ "$fails" = 0 ]
