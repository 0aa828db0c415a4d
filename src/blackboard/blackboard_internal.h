/* SPDX-License-Identifier: MIT */
/*
 * blackboard/blackboard_internal.h - shared-memory layout of the blackboard service (see ARCHITECTURE.md,
 * "Blackboard"): a header, then per entry an index line and two sequence-guarded value buffers.
 */
#ifndef SHMIPC_BLACKBOARD_INTERNAL_H
#define SHMIPC_BLACKBOARD_INTERNAL_H

#include "service/service_internal.h"
#include <shmipc/blackboard.h>

#define SHMIPC_BB_MAGIC 0x31424242u /* "BBB1" */

typedef struct shmipc__bb_hdr {
    /* line 0: written once by the creator. */
    uint32_t magic;       /*  0 */
    uint32_t value_size;  /*  4 */
    uint32_t entries;     /*  8 */
    uint32_t max_readers; /* 12 */
    uint32_t entry_off;   /* 16: first entry, from the pattern area start */
    uint32_t entry_size;  /* 20 */
    uint32_t buf_size;    /* 24: one value buffer (header + words), 64-aligned */
    uint8_t pad0[36];
    /* line 1: the writer's claim. */
    _Atomic uint64_t writer; /* 64: packed owner id of the live writer, 0 = none */
    uint8_t pad1[56];
    /* line 2: bumped after every write; readers in shmipc_blackboard_wait sleep here. */
    shmipc__notify notify; /* 128 */
    uint8_t pad2[56];
} shmipc__bb_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__bb_hdr) == 192, "bb header is three cache lines");

/* A value buffer. seq is odd while the writer fills it. version and data are written with relaxed
 * atomics between the two seq stores, so a reader racing a write reads stale words, never a data race. */
typedef struct shmipc__bb_buf {
    _Atomic uint32_t seq;     /* 0 */
    uint32_t pad;             /* 4 */
    _Atomic uint64_t version; /* 8: 0 = never written */
    _Atomic uint64_t data[];  /* 16: value_size bytes rounded up to words */
} shmipc__bb_buf;

/* An entry: one line holding the index of the buffer readers should read, then the two buffers. */
typedef struct shmipc__bb_entry {
    _Atomic uint32_t active; /* 0 or 1; written by the writer (release) after filling that buffer */
    uint8_t pad[60];
} shmipc__bb_entry;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__bb_entry) == 64, "entry index line");

/* Test hook: called by shmipc_blackboard_write half-way through copying a value, with the buffer's
 * sequence odd. NULL (the default) in every real program; tests set it to kill the writer there. */
SHMIPC_INTERNAL extern void (*shmipc__bb_kill_point)(void);

#endif
