# Toolchain file: cross build for aarch64 with Debian's gcc-aarch64-linux-gnu (package gcc-aarch64-linux-gnu), the
# tests run under qemu-user (package qemu-user or qemu-user-static) with the target's libraries from
# /usr/aarch64-linux-gnu (the cross compiler's libc6-*-cross).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake    (or: make cross-aarch64)
# cmocka: the target's libcmocka-dev (dpkg --add-architecture) if pkg-config finds it, else tests/compat/.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SHMIPC_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${SHMIPC_CROSS_TRIPLE}-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${SHMIPC_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(SHMIPC_QEMU NAMES qemu-aarch64 qemu-aarch64-static)
if(SHMIPC_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SHMIPC_QEMU} -L /usr/${SHMIPC_CROSS_TRIPLE})
endif()
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SHMIPC_CROSS_TRIPLE}/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
