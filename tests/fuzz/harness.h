/* SPDX-License-Identifier: MIT */
/* tests/fuzz/harness.h - turning fuzzer input into a segment: a sealed memfd or a named POSIX object
 * holding exactly the input bytes, as a hostile peer could have written them. */
#ifndef SHMIPC_FUZZ_COMMON_H
#define SHMIPC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* A sealed memfd whose contents are data[0..size). Returns the fd or -1. */
int fuzz_memfd(const uint8_t *data, size_t size);

/* Write data into the named POSIX shm object name (created or replaced). Returns 0 or -1. */
int fuzz_named(const char *name, const uint8_t *data, size_t size);

#endif
