#!/usr/bin/env bash
# tests/package_deb.sh - the Debian packages CPack makes from the build: three packages with the right
# names and dependencies, every installed file in exactly one of them, and a program built against
# the unpacked runtime + -dev packages runs. Usage: package_deb.sh BUILD_DIR. Skipped (77) in sanitizer
# or fuzzing builds and where cpack or dpkg-deb is missing.
set -u
build=$1
if grep -qE '^SHMIPC_(SANITIZE:STRING=.+|FUZZ:BOOL=ON)' "$build/CMakeCache.txt"; then
    echo "skip: sanitizer or fuzzing build"; exit 77
fi
# A cross or musl build (toolchain file) makes programs for another libc or machine: the snippets and
# the packages are checked in the native build.
if grep -qE '^CMAKE_TOOLCHAIN_FILE:[A-Z]+=.+' "$build/CMakeCache.txt"; then
    echo "skip: built with a toolchain file (cross or musl)"; exit 77
fi
for t in cpack dpkg-deb; do
    command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass=0
ok() { pass=$((pass + 1)); }

(cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
major=${version%%.*}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
lib="$tmp/out/libshmipc${major}_${version}_${arch}.deb"
dev="$tmp/out/libshmipc-dev_${version}_${arch}.deb"
cli="$tmp/out/shmipc_${version}_${arch}.deb"
for p in "$lib" "$dev" "$cli"; do [ -f "$p" ] || fail "$(basename "$p") not made (have: $(ls "$tmp/out"))"; done
ok

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$dev" Depends)" = "libshmipc${major} (= ${version})" ] || fail "dev Depends: $(field "$dev" Depends)"
[[ "$(field "$lib" Depends)" == *libc6* ]] || fail "lib Depends lacks libc6: $(field "$lib" Depends)"
[ "$(field "$dev" Section)" = libdevel ] || fail "dev Section: $(field "$dev" Section)"
ok

files() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||' | sort; }
files "$lib" >"$tmp/lib.list"; files "$dev" >"$tmp/dev.list"; files "$cli" >"$tmp/cli.list"
dup=$(sort "$tmp/lib.list" "$tmp/dev.list" "$tmp/cli.list" | uniq -d)
[ -z "$dup" ] || fail "files in two packages: $dup"
grep -qE "/libshmipc\.so\.${major}$" "$tmp/lib.list" || fail "runtime package lacks libshmipc.so.${major}"
! grep -qE '\.(h|a|pc)$|/libshmipc\.so$' "$tmp/lib.list" || fail "runtime package holds development files"
for f in include/shmipc/shmipc.h include/shmipc/version.h /libshmipc.a /libshmipc.so shmipc.pc shmipcConfig.cmake \
         man3/shmipc_channel.3; do
    grep -qF "$f" "$tmp/dev.list" || fail "dev package lacks $f"
done
grep -qx 'usr/bin/shmipc' "$tmp/cli.list" || fail "tool package lacks usr/bin/shmipc"
grep -q 'man1/shmipc.1' "$tmp/cli.list" || fail "tool package lacks shmipc(1)"
ok

# Unpack runtime + dev into a private root, build and run a consumer there; the CLI runs on its own.
root="$tmp/root"
for p in "$lib" "$dev" "$cli"; do dpkg-deb -x "$p" "$root" || fail "dpkg-deb -x $(basename "$p")"; done
libdir=$(dirname "$(find "$root" -name "libshmipc.so.${major}" | head -1)")
cat >"$tmp/main.c" <<'C'
#include <shmipc/shmipc.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    shmipc_segment *s;
    if (shmipc_segment_memfd_create("deb", 64, NULL, &s))
        return 1;
    strcpy(shmipc_segment_data(s), "ok");
    printf("%s %s\n", shmipc_version(), (char *)shmipc_segment_data(s));
    return shmipc_segment_close(s);
}
C
cc "$tmp/main.c" -I"$root/usr/include" -L"$libdir" -lshmipc -o "$tmp/consumer" || fail "build against the packages"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer") || fail "consumer failed"
[ "$out" = "$version ok" ] || fail "consumer printed '$out', expected '$version ok'"
"$root/usr/bin/shmipc" --version >"$tmp/v" 2>&1 || fail "packaged shmipc --version: $(cat "$tmp/v")"
grep -qF "$version" "$tmp/v" || fail "packaged shmipc --version printed '$(cat "$tmp/v")'"
ok
echo "package_deb: $pass passed, 0 failed"
