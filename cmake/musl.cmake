# Toolchain file: build with musl libc through Debian's musl-gcc (package musl-tools).
#   cmake -S . -B build-musl -DCMAKE_TOOLCHAIN_FILE=cmake/musl.cmake    (or: make musl)
# musl-gcc searches only musl's headers; the kernel's UAPI headers (<linux/futex.h>, <linux/seccomp.h>,
# from linux-libc-dev) are libc-neutral, so a directory of links to them is added after musl's own.
# pkg-config is pointed at nothing: the host's libraries are glibc's, so the tests use tests/compat/.
set(CMAKE_SYSTEM_NAME Linux)
find_program(SHMIPC_MUSL_GCC musl-gcc REQUIRED)
set(CMAKE_C_COMPILER ${SHMIPC_MUSL_GCC})

execute_process(COMMAND gcc -print-multiarch OUTPUT_VARIABLE _shmipc_multiarch OUTPUT_STRIP_TRAILING_WHITESPACE)
set(_shmipc_kh ${CMAKE_BINARY_DIR}/musl-kernel-headers)
file(MAKE_DIRECTORY ${_shmipc_kh})
foreach(_d linux asm-generic)
  if(NOT EXISTS ${_shmipc_kh}/${_d})
    file(CREATE_LINK /usr/include/${_d} ${_shmipc_kh}/${_d} SYMBOLIC)
  endif()
endforeach()
if(NOT EXISTS ${_shmipc_kh}/asm)
  file(CREATE_LINK /usr/include/${_shmipc_multiarch}/asm ${_shmipc_kh}/asm SYMBOLIC)
endif()
set(CMAKE_C_FLAGS_INIT "-idirafter ${_shmipc_kh}")
set(ENV{PKG_CONFIG_LIBDIR} ${_shmipc_kh}/no-pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
