#!/usr/bin/env bash
# tests/install_consumer.sh - install into a temporary prefix, then build and run a program against it
# both ways a user would: CMake's find_package(shmipc) with shmipc::shmipc, and pkg-config.
# Usage: install_consumer.sh BUILD_DIR. Skipped (77) in sanitizer builds, whose library needs the
# sanitizer runtime in every consumer.
set -u
build=$1
if grep -qE '^SHMIPC_(SANITIZE:STRING=.+|FUZZ:BOOL=ON)' "$build/CMakeCache.txt"; then
    echo "skip: sanitizer or fuzzing build"; exit 77
fi
# The consumer is built the way the library was: same toolchain file (musl, cross) and C compiler.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -1; }
toolchain=$(cache CMAKE_TOOLCHAIN_FILE)
[ -n "$toolchain" ] && [ "${toolchain#/}" = "$toolchain" ] && toolchain=$(cache CMAKE_HOME_DIRECTORY)/$toolchain
cc=$(sed -n 's/^set(CMAKE_C_COMPILER "\(.*\)")$/\1/p' "$build"/CMakeFiles/*/CMakeCCompiler.cmake 2>/dev/null | head -1)
[ -n "$cc" ] || cc=cc
emulator=$(cache CMAKE_CROSSCOMPILING_EMULATOR)
tc_args=()
[ -n "$toolchain" ] && tc_args=(-DCMAKE_TOOLCHAIN_FILE="$toolchain")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; }
for f in include/shmipc/shmipc.h bin/shmipc share/man/man1/shmipc.1 share/man/man3/shmipc_channel.3; do
    [ -e "$tmp/prefix/$f" ] || fail "$f not installed"
done
mkdir "$tmp/src"
cat >"$tmp/src/main.c" <<'C'
#include <shmipc/shmipc.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    shmipc_segment *s;
    if (shmipc_segment_memfd_create("consumer", 64, NULL, &s))
        return 1;
    strcpy(shmipc_segment_data(s), "ok");
    printf("%s %s\n", shmipc_version(), (char *)shmipc_segment_data(s));
    return shmipc_segment_close(s);
}
C
cat >"$tmp/src/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(shmipc REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE shmipc::shmipc)
C
cmake -S "$tmp/src" -B "$tmp/b" "${tc_args[@]}" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_FIND_ROOT_PATH="$tmp/prefix" >"$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; fail "find_package(shmipc)"; }
cmake --build "$tmp/b" >"$tmp/bld.log" 2>&1 || { cat "$tmp/bld.log"; fail "build with shmipc::shmipc"; }
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" $emulator "$tmp/b/consumer") || fail "consumer (CMake) failed"
[[ "$out" == *" ok" ]] || fail "consumer (CMake) printed '$out'"
pcdir=$(dirname "$(find "$tmp/prefix" -name shmipc.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs shmipc) || fail "pkg-config shmipc"
"$cc" "$tmp/src/main.c" $flags -o "$tmp/pc" || fail "build with pkg-config flags: $flags"
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" $emulator "$tmp/pc") || fail "consumer (pkg-config) failed"
[[ "$out" == *" ok" ]] || fail "consumer (pkg-config) printed '$out'"
echo "install_consumer: 2 passed, 0 failed"
