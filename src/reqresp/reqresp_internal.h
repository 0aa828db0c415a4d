/* SPDX-License-Identifier: MIT */
/*
 * reqresp/reqresp_internal.h - shared-memory layout of the request/response service (see ARCHITECTURE.md,
 * "Request/response"): the pattern header and one area per participant slot holding that client's
 * request ring and response ring.
 */
#ifndef SHMIPC_REQRESP_INTERNAL_H
#define SHMIPC_REQRESP_INTERNAL_H

#include "service/service_internal.h"
#include <shmipc/reqresp.h>

#define SHMIPC_RR_MAGIC 0x31515252u /* "RRQ1" */

/* Pattern header, at the pattern area's start. Line 0 is written once by the creator. */
typedef struct shmipc__rr_hdr {
    uint32_t magic;          /*   0 */
    uint32_t depth;          /*   4: power of two */
    uint32_t max_request;    /*   8 */
    uint32_t max_response;   /*  12 */
    uint32_t nareas;         /*  16: == the service's max_participants */
    uint32_t area_off;       /*  20: first area, from the pattern area start */
    uint32_t area_size;      /*  24: stride between areas */
    uint32_t req_slot;       /*  28: bytes per request slot (header + payload, 8-aligned) */
    uint32_t resp_slot;      /*  32 */
    uint32_t max_clients;    /*  36: the creator's option (for describe and compatibility) */
    uint8_t pad0[24];        /*  40 */
    /* line 1: written by servers. */
    _Atomic uint64_t server; /*  64: packed owner id of the live server, 0 = none */
    _Atomic uint32_t epoch;  /*  72: bumped by every server that takes the service */
    uint8_t pad1[52];        /*  76 */
    /* line 2: bumped by clients after sending; the server sleeps here. */
    shmipc__notify srv_notify; /* 128 */
    uint8_t pad2[56];
} shmipc__rr_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__rr_hdr) == 192, "rr header is three cache lines");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__rr_hdr, server) == 64, "server word on its own line");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__rr_hdr, srv_notify) == 128, "server notify on its own line");

/* One area per participant slot; the rings follow the four lines. */
typedef struct shmipc__rr_area {
    /* line 0: written by the client (and gen by a reclaimer of a dead client). */
    _Atomic uint32_t req_head;  /*   0: requests published */
    _Atomic uint32_t resp_tail; /*   4: responses consumed */
    _Atomic uint32_t gen;       /*   8: connection generation: bumped at connect, close and reclaim */
    uint8_t pad0[52];
    /* line 1: written by the server. */
    _Atomic uint32_t req_tail;  /*  64: requests consumed */
    _Atomic uint32_t resp_head; /*  68: responses published */
    uint8_t pad1[56];
    /* line 2: the client sleeps here, the server wakes. */
    shmipc__notify resp_notify;     /* 128: a response arrived (or the server went away) */
    shmipc__notify reqspace_notify; /* 136: a request slot was freed */
    uint8_t pad2[48];
    /* line 3: the server sleeps here (response ring full), the client wakes. */
    shmipc__notify space_notify; /* 192 */
    uint8_t pad3[56];
} shmipc__rr_area;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__rr_area) == 256, "rr area head is four cache lines");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__rr_area, req_tail) == 64, "server indices on their own line");

/* Header of every message slot; the payload follows. Written by the producer before it publishes the
 * head index (release); read by the consumer after loading it (acquire). */
typedef struct shmipc__rr_msg {
    uint64_t id;    /* correlation id */
    uint32_t len;   /* payload bytes */
    uint32_t gen;   /* client connection generation */
    uint32_t epoch; /* server epoch the request was sent to */
    uint32_t flags; /* SHMIPC_RR_MORE */
} shmipc__rr_msg;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__rr_msg) == 24, "message header");

/* Layout derived from the options; the same computation validates an opened service. */
typedef struct shmipc__rr_geom {
    uint32_t depth, max_request, max_response, nareas, max_clients;
    uint32_t req_slot, resp_slot, area_off, area_size;
    size_t total; /* pattern area bytes */
} shmipc__rr_geom;

static inline shmipc__rr_area *shmipc__rr_area_at(void *pattern_area, const shmipc__rr_geom *g, uint32_t i)
{
    return (shmipc__rr_area *)((char *)pattern_area + g->area_off + (size_t)i * g->area_size);
}

SHMIPC_INTERNAL int shmipc__rr_geom_make(shmipc__rr_geom *g, uint32_t depth, uint32_t max_request,
                                         uint32_t max_response, uint32_t max_clients);

#endif
