/* SPDX-License-Identifier: MIT */
/*
 * examples/seed/seed.h - what the seed writer and reader agree on: the default segment name and the
 * layout of the bytes they share. Both programs include it, so they cannot disagree on offsets.
 */
#ifndef SHMIPC_EXAMPLE_SEED_H
#define SHMIPC_EXAMPLE_SEED_H

#include <stdatomic.h>
#include <stdint.h>

/* The name from the seed text: shm_open("/my_shm", ...). A name is one '/' followed by characters
 * without another '/'; it lives under /dev/shm while the segment exists. */
#define SEED_DEFAULT_NAME "/my_shm"

/* The user data of the segment. Fixed-size types only: the two programs could be built by different
 * compilers, and nothing that means something only in one address space (a pointer) may be stored. */
struct seed_msg {
    uint32_t counter;     /* written by the writer before it publishes the segment */
    _Atomic uint32_t ack; /* 0, then 1 when the reader has read the message (the only word it writes) */
    char text[120];       /* NUL-terminated message */
};

#endif
