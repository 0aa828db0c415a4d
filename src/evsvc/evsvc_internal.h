/* SPDX-License-Identifier: MIT */
/*
 * evsvc/evsvc_internal.h - shared-memory layout of the event service (see ARCHITECTURE.md, "Event
 * service"): a header, one 64-bit counter per event id, and one futex line per participant slot.
 */
#ifndef SHMIPC_EVSVC_INTERNAL_H
#define SHMIPC_EVSVC_INTERNAL_H

#include "service/service_internal.h"
#include <shmipc/evsvc.h>

#define SHMIPC_EV_MAGIC 0x31545645u /* "EVT1" */

typedef struct shmipc__ev_hdr {
    /* line 0: written once by the creator. */
    uint32_t magic;        /*  0 */
    uint32_t max_events;   /*  4 */
    uint32_t nparts;       /*  8: == the service's max_participants */
    uint32_t counters_off; /* 12: from the pattern area start */
    uint32_t areas_off;    /* 16 */
    uint8_t pad0[44];
    /* line 1: bumped (release) by notifiers after the event's counter: a listener compares it with the
     * total it last saw to skip scanning the counters when nothing happened. */
    _Atomic uint64_t total; /* 64 */
    uint8_t pad1[56];
} shmipc__ev_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__ev_hdr) == 128, "event header is two cache lines");

/* One per participant slot: a listener sleeps on its own word; notifiers wake it. */
typedef struct shmipc__ev_area {
    shmipc__notify notify;      /* 0 */
    _Atomic uint32_t listening; /* 8: 1 while a listener holds the slot (set before its seq_cst fence,
                                 * cleared at close and reclaim): notifiers skip the words of others */
    uint8_t pad[52];
} shmipc__ev_area;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__ev_area) == 64, "listener line");


#endif
