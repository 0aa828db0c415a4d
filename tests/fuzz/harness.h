/* SPDX-License-Identifier: MIT */
/* tests/fuzz/harness.h - turning fuzzer input into a segment: a sealed memfd or a named POSIX object
 * holding exactly the input bytes, as a hostile peer could have written them. */
#ifndef SHMIPC_FUZZ_COMMON_H
#define SHMIPC_FUZZ_COMMON_H

#include <shmipc/segment.h>
#include <shmipc/service.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Inputs larger than this are ignored: a segment's shape, not its bulk, is what the fuzzer explores. */
#define FUZZ_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A sealed memfd whose contents are data[0..size). Returns the fd or -1. */
int fuzz_memfd(const uint8_t *data, size_t size);

/* Write data into the named POSIX shm object name (created or replaced). Returns 0 or -1. */
int fuzz_named(const char *name, const uint8_t *data, size_t size);

/* Map data as a segment of type type (any type if SHMIPC_SEG_ANY_TYPE is in flags) through a sealed
 * memfd, never waiting for readiness. Returns 0 and *out, or a negative error. */
int fuzz_segment(const uint8_t *data, size_t size, uint32_t type, unsigned flags, shmipc_segment **out);

/* Does the input's segment header say "ready"? Opening a named segment that is not waits up to the
 * default ready timeout (a second), which would only slow the fuzzer down: harnesses skip those opens
 * (the unready paths are tested by the segment layer's tests and reached here through memfd opens). */
bool fuzz_ready(const uint8_t *data, size_t size);

/* A name unique to this process: "/shmipc-fuzz-<tag>-<pid>" (cap >= 64). */
const char *fuzz_name(char *buf, size_t cap, const char *tag);

/* The service name make_corpus gives its seeds; fuzz_service_named replaces it with a per-process one. */
#define FUZZ_SEED_SERVICE "fuzzsvc"

/*
 * Write data as the main segment of service "fz<pid>" of pattern ("/shmipc.<pattern>.fz<pid>"), since
 * services are found by name. If the service header in data names FUZZ_SEED_SERVICE, that name is
 * replaced by the per-process one so that the seeds open. Fills name (cap >= 32) with the service name.
 * Returns 0, or -1 if the object could not be written.
 */
int fuzz_service_named(shmipc_pattern pattern, const uint8_t *data, size_t size, char *name, size_t cap);

/* After a harness used the service: gc it (keeping it, then removing it if unused) and unlink it. */
void fuzz_service_drop(shmipc_pattern pattern, const char *name);

#endif
