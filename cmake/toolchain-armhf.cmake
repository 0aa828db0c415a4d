# Toolchain file: cross build for armhf with Debian's gcc-arm-linux-gnueabihf (package gcc-arm-linux-gnueabihf), the
# tests run under qemu-user (package qemu-user or qemu-user-static) with the target's libraries from
# /usr/arm-linux-gnueabihf (the cross compiler's libc6-*-cross).
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-armhf.cmake    (or: make cross-armhf)
# cmocka: the target's libcmocka-dev (dpkg --add-architecture) if pkg-config finds it, else tests/compat/.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(SHMIPC_CROSS_TRIPLE arm-linux-gnueabihf)
set(CMAKE_C_COMPILER ${SHMIPC_CROSS_TRIPLE}-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${SHMIPC_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(SHMIPC_QEMU NAMES qemu-arm qemu-arm-static)
if(SHMIPC_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SHMIPC_QEMU} -L /usr/${SHMIPC_CROSS_TRIPLE})
endif()
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SHMIPC_CROSS_TRIPLE}/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
