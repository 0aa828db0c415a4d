/* SPDX-License-Identifier: MIT */
/*
 * reqresp/reqresp_internal.h - shared-memory layout of the request/response service (see ARCHITECTURE.md,
 * "Request/response"): the pattern header and one area per participant slot holding that client's two
 * connections (src/conn: requests client -> server, responses server -> client) and its payload slots.
 */
#ifndef SHMIPC_REQRESP_INTERNAL_H
#define SHMIPC_REQRESP_INTERNAL_H

#include "conn/conn.h"
#include "service/service_internal.h"
#include <shmipc/reqresp.h>

#define SHMIPC_RR_MAGIC 0x33515252u /* "RRQ3" */

/* Pattern header, at the pattern area's start. Line 0 is written once by the creator. */
typedef struct shmipc__rr_hdr {
    uint32_t magic;          /*   0 */
    uint32_t depth;          /*   4: power of two: entries per connection, payload slots per direction */
    uint32_t max_request;    /*   8 */
    uint32_t max_response;   /*  12 */
    uint32_t nareas;         /*  16: == the service's max_participants */
    uint32_t area_off;       /*  20: first area, from the pattern area start */
    uint32_t area_size;      /*  24: stride between areas */
    uint32_t req_slot;       /*  28: bytes per request payload slot (64-aligned) */
    uint32_t resp_slot;      /*  32: bytes per response payload slot (64-aligned) */
    uint32_t max_clients;    /*  36: the creator's option (for describe and compatibility) */
    uint8_t pad0[24];        /*  40 */
    /* line 1: written by servers. */
    _Atomic uint64_t server; /*  64: packed owner id of the live server, 0 = none */
    _Atomic uint32_t epoch;  /*  72: bumped by every server that takes the service */
    uint8_t pad1[52];        /*  76 */
    /* line 2: the server sleeps here for requests of any client (every client's request connection
     * points its wake at this word), clients wake it. */
    shmipc__notify srv_notify; /* 128 */
    uint8_t pad2[56];
} shmipc__rr_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__rr_hdr) == 192, "rr header is three cache lines");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__rr_hdr, server) == 64, "server word on its own line");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__rr_hdr, srv_notify) == 128, "server notify on its own line");

/*
 * The client side's line at the start of every area: written by the client at connect and close, and by
 * the reclaimer of a dead client; read by the server.
 */
typedef struct shmipc__rr_ctl {
    _Atomic uint32_t gen;      /*  0: connection generation: bumped at connect, close and reclaim */
    uint32_t pad0;             /*  4 */
    _Atomic uint64_t req_base; /*  8: request connection position where generation gen's requests begin */
    uint8_t pad1[48];          /* 16 */
} shmipc__rr_ctl;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__rr_ctl) == 64, "rr control is one cache line");

/*
 * Entries of the two connections (16 bytes, conn.h). The payload of the entry at connection position p
 * is in payload slot p & (depth - 1) of the producer's slots: a slot is free again exactly when its
 * entry has been consumed, so it needs no index of its own (one field fewer for a peer to forge).
 *   request:  a = correlation id; b = len (bits 0..31) | server epoch it was sent under (bits 32..63)
 *   response: a = correlation id; b = len (bits 0..23) | flags (bits 24..31, SHMIPC_RR_MORE) |
 *             client connection generation (bits 32..63)
 */
#define SHMIPC__RR_REQ_ENTRY(len, epoch) ((uint64_t)(uint32_t)(len) | (uint64_t)(epoch) << 32)
#define SHMIPC__RR_RESP_ENTRY(len, flags, gen) \
    ((uint64_t)(len) | (uint64_t)(flags) << 24 | (uint64_t)(gen) << 32)
#define SHMIPC__RR_RESP_LEN(b) ((uint32_t)(b) & 0xffffffu)
#define SHMIPC__RR_RESP_FLAGS(b) (((uint32_t)(b) >> 24) & 0xffu)

/* Layout derived from the options; the same computation validates an opened service. */
typedef struct shmipc__rr_geom {
    uint32_t depth, max_request, max_response, nareas, max_clients;
    uint32_t req_slot, resp_slot, area_off, area_size;
    uint32_t req_conn_off, resp_conn_off, req_slots_off, resp_slots_off; /* inside an area */
    size_t total; /* pattern area bytes */
} shmipc__rr_geom;

static inline char *shmipc__rr_area_at(void *pattern_area, const shmipc__rr_geom *g, uint32_t i)
{
    return (char *)pattern_area + g->area_off + (size_t)i * g->area_size;
}

static inline shmipc__rr_ctl *shmipc__rr_ctl_at(void *pattern_area, const shmipc__rr_geom *g, uint32_t i)
{
    return (shmipc__rr_ctl *)shmipc__rr_area_at(pattern_area, g, i);
}

static inline shmipc__conn *shmipc__rr_req_conn(void *pattern_area, const shmipc__rr_geom *g, uint32_t i)
{
    return (shmipc__conn *)(shmipc__rr_area_at(pattern_area, g, i) + g->req_conn_off);
}

static inline shmipc__conn *shmipc__rr_resp_conn(void *pattern_area, const shmipc__rr_geom *g, uint32_t i)
{
    return (shmipc__conn *)(shmipc__rr_area_at(pattern_area, g, i) + g->resp_conn_off);
}

/* Payload slot of the request (response) entry at connection position pos. */
static inline uint8_t *shmipc__rr_req_payload(void *pattern_area, const shmipc__rr_geom *g, uint32_t i, uint64_t pos)
{
    return (uint8_t *)shmipc__rr_area_at(pattern_area, g, i) + g->req_slots_off +
           (size_t)(pos & (g->depth - 1)) * g->req_slot;
}

static inline uint8_t *shmipc__rr_resp_payload(void *pattern_area, const shmipc__rr_geom *g, uint32_t i, uint64_t pos)
{
    return (uint8_t *)shmipc__rr_area_at(pattern_area, g, i) + g->resp_slots_off +
           (size_t)(pos & (g->depth - 1)) * g->resp_slot;
}

/* Both connections of a pair: the producer may sleep for room (client send, server respond). */
#define SHMIPC__RR_CONN_FLAGS SHMIPC__CONN_PRODUCER_SLEEPS
/* The server's end of the request connections: pops batch their wake handshake (conn.h), settled before
 * the server waits or returns without a request. */
#define SHMIPC__RR_REQ_RX_FLAGS (SHMIPC__CONN_PRODUCER_SLEEPS | SHMIPC__CONN_BATCH_WAKE)

SHMIPC_INTERNAL int shmipc__rr_geom_make(shmipc__rr_geom *g, uint32_t depth, uint32_t max_request,
                                         uint32_t max_response, uint32_t max_clients);

/* Build a server or client handle on an already opened service view (shmipc__svc_open of an existing
 * request/response service): the handle borrows the view's mapping and does not close it, so threads of
 * one process share one mapping and ThreadSanitizer sees both sides of every connection (the thread
 * tests). Close the handles before the view. Errors: those of create/open after the mapping. */
SHMIPC_INTERNAL int shmipc__rr_server_attach(const shmipc__svc *view, shmipc_wait_mode mode,
                                             shmipc_reqresp_server **out);
SHMIPC_INTERNAL int shmipc__rr_client_attach(const shmipc__svc *view, shmipc_wait_mode mode,
                                             shmipc_reqresp_client **out);

#endif
