/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_event.c - the sync layer's event against hostile bytes, in its three forms: in caller
 * memory (the raw input bytes), in the data area of a segment (a sealed memfd of the input), and named
 * (the input written as a /dev/shm object and opened with shmipc_event_open). Every call must return a
 * value or an error (-EBADMSG, -EPROTO, ...), never crash, read outside the event, or wait: all waits
 * use timeout 0.
 */
#include "harness.h"

#include <shmipc/event.h>

#include <stdlib.h>
#include <string.h>

static void exercise(shmipc_event *ev)
{
    uint32_t count;
    shmipc_event_count(ev, &count);
    shmipc_event_wait(ev, 0);
    shmipc_event_post(ev);
    shmipc_event_wait(ev, 0);
    shmipc_event_wait(ev, 0);
    shmipc_event_count(ev, &count);
}

static void in_memory(void *mem, size_t size)
{
    shmipc_event *ev;
    shmipc_event_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_SPIN, .spin_us = 1};
    if (shmipc_event_open_in(mem, size, &o, &ev) == 0) {
        exercise(ev);
        shmipc_event_close(ev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    /* Caller memory: a private, exactly sized, aligned copy (ASan sees any read past its end). */
    void *mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
    if (mem) {
        memcpy(mem, data, size);
        in_memory(mem, size);
        free(mem);
    }
    /* In a segment's data area, as a layer embedding an event would find it. */
    shmipc_segment *seg;
    if (fuzz_segment(data, size, SHMIPC_TYPE_EVENT, SHMIPC_SEG_ANY_TYPE, &seg) == 0) {
        in_memory(shmipc_segment_data(seg), shmipc_segment_data_size(seg));
        shmipc_segment_close(seg);
    }
    /* Named. */
    char name[64];
    fuzz_name(name, sizeof name, "ev");
    if (fuzz_ready(data, size) && fuzz_named(name, data, size) == 0) {
        shmipc_event *ev;
        if (shmipc_event_open(name, NULL, &ev) == 0) {
            exercise(ev);
            shmipc_event_close(ev);
        }
        shmipc_event_unlink(name);
    }
    return 0;
}
