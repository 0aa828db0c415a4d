/* SPDX-License-Identifier: MIT */
/*
 * channel/channel_internal.h - the channel's layout in shared memory (header, index lines, notify words,
 * records) and the process-local handle, shared by the files of the channel layer. ARCHITECTURE.md
 * ("Channel layer") documents the same layout with who writes each field and in which memory order.
 */
#ifndef SHMIPC_CHANNEL_INTERNAL_H
#define SHMIPC_CHANNEL_INTERNAL_H

#include "common/internal.h"
#include "segment/segment_internal.h"
#include "service/service_internal.h"
#include <shmipc/channel.h>

#define CHAN_MAGIC   UINT64_C(0x314e414843504853) /* "SHPCHAN1" little-endian */
/* 2: owner words are the common packed id (shmipc__owner_*); 3: the endpoints are a two-entry table of
 * the service core's participant records (shmipc__participant), claimed and reclaimed by its code. */
#define CHAN_VERSION 3u
#define CHAN_HDR_SIZE 512u
#define CHAN_REC_HDR 16u   /* record header bytes; records start and end on 16-byte boundaries */
#define CHAN_REC_ALIGN 16u
#define CHAN_REC_PAD 1u    /* record flag: padding up to the end of the ring, no message */

/* The endpoints: entries 0 (producer) and 1 (consumer) of a two-entry participant table, the service
 * core's records (service_internal.h), joined with shmipc__svc_join_slot and left with shmipc__svc_leave.
 * owner 0 and state FREE = never opened; owner 0 and state VACATED = closed or reclaimed (the peer is
 * gone); a live owner = open; a dead owner = gone, reclaimed by the next opener or gc. */
#define CHAN_SLOT_PRODUCER 0u
#define CHAN_SLOT_CONSUMER 1u
#define CHAN_NSLOTS 2u

/* The producer's line: the write index and the producer's counters. */
typedef struct shmipc__chan_prod {
    _Atomic uint64_t head;        /* next byte to write; release store publishes records */
    _Atomic uint64_t msgs_sent;   /* relaxed; also the next message's sequence number */
    _Atomic uint64_t bytes_sent;  /* relaxed */
    _Atomic uint64_t overwritten; /* relaxed: records dropped by the producer (overwrite policy) */
    uint8_t pad[32];
} shmipc__chan_prod;

/* The consumer's line: the read index and the consumer's counters. */
typedef struct shmipc__chan_cons {
    _Atomic uint64_t tail;        /* next byte to read; release store (or CAS in overwrite mode) */
    _Atomic uint64_t msgs_recv;   /* relaxed */
    _Atomic uint64_t bytes_recv;  /* relaxed */
    _Atomic uint64_t dropped;     /* relaxed: messages the consumer missed (overwrite policy) */
    uint8_t pad[32];
} shmipc__chan_cons;

typedef struct shmipc__chan_notify_line {
    shmipc__notify n;
    uint8_t pad[56];
} shmipc__chan_notify_line;

/* The channel header at the start of the segment's data area (512 bytes, eight cache lines). */
typedef struct shmipc__chan_hdr {
    /* line 0: written once by the creator before the segment (or the handle) is published */
    uint64_t magic;              /*   0 */
    uint32_t version;            /*   8 */
    uint32_t header_size;        /*  12: CHAN_HDR_SIZE */
    uint64_t capacity;           /*  16: ring bytes, power of two */
    uint64_t ring_offset;        /*  24: from the data area start, CHAN_HDR_SIZE */
    uint32_t max_msg;            /*  32: capacity / 2 - CHAN_REC_HDR */
    uint32_t policy;             /*  36: shmipc_channel_full_policy */
    _Atomic uint32_t broken;     /*  40: 1 once any side found the ring corrupt (relaxed) */
    uint32_t reserved0;          /*  44 */
    uint8_t reserved1[16];       /*  48 */
    shmipc__participant ends[CHAN_NSLOTS]; /*  64: producer, 128: consumer */
    shmipc__chan_prod prod;      /* 192 */
    shmipc__chan_cons cons;      /* 256 */
    shmipc__chan_notify_line data;  /* 320: the consumer sleeps here waiting for messages */
    shmipc__chan_notify_line space; /* 384: the producer sleeps here waiting for room */
    uint8_t reserved2[64];       /* 448 */
} shmipc__chan_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__chan_hdr) == CHAN_HDR_SIZE, "channel header is 512 bytes");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__chan_hdr, broken) == 40, "broken offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__chan_hdr, ends) == 64, "endpoint table offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__chan_hdr, prod) == 192, "producer line offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__chan_hdr, cons) == 256, "consumer line offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__chan_hdr, data) == 320, "data notify offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__chan_hdr, space) == 384, "space notify offset");
SHMIPC_STATIC_ASSERT(sizeof(shmipc__chan_prod) == 64 &&
                         sizeof(shmipc__chan_cons) == 64 && sizeof(shmipc__chan_notify_line) == 64,
                     "one cache line each");

/* A record header in the ring, at an index that is a multiple of 16. Written by the producer with
 * relaxed atomic stores before it publishes head (release); read with relaxed atomic loads after an
 * acquire load of head, so each field is fetched exactly once. */
typedef struct shmipc__chan_rec {
    uint32_t len;   /* payload bytes (a message), or bytes after this header to the ring's end (padding) */
    uint32_t flags; /* 0 or CHAN_REC_PAD */
    uint64_t seq;   /* message sequence number (msgs_sent when it was written); 0 for padding */
} shmipc__chan_rec;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__chan_rec) == CHAN_REC_HDR, "record header is 16 bytes");

/* The process-local handle. The hot fields come first. */
struct shmipc_channel {
    uint8_t *ring;
    uint64_t cap, mask;
    shmipc__chan_hdr *hdr;
    uint64_t pos;      /* producer: next write index (>= published head); consumer: next read index */
    uint64_t cached;   /* producer: last tail seen; consumer: last head seen */
    uint64_t pub;      /* producer: head as last published */
    uint64_t seq;      /* producer: next sequence number; consumer: next expected */
    uint64_t msgs, bytes; /* this side's counters (stored to its line after each operation) */
    uint64_t dropped;  /* consumer: messages missed (overwrite policy), as in the shared counter */
    uint64_t dropped_base; /* consumer: the shared counter when the handle was opened */
    uint32_t max_msg;
    shmipc_channel_role role;
    shmipc_channel_full_policy policy;
    shmipc_wait_mode wait_mode, wait_default;
    uint64_t spin_ns;
    shmipc__wait_adapt adapt; /* hybrid spin learnt from this handle's recent waits */
    bool broken;
    /* zero-copy state */
    bool reserved;     /* producer: a reservation is pending at res_pos */
    uint64_t res_pos;  /* index of the reserved record's header */
    uint32_t res_len;
    bool peeked;       /* consumer: a peek is pending; release moves pos to peek_end */
    uint64_t peek_end;
    int peek_len;
    uint8_t *copybuf;  /* overwrite mode: the consumer's private copy for peek */
    /* peer watch */
    shmipc__svc svc;   /* the core's view: seg, the two-entry table, pattern CHANNEL, pattern_area = hdr */
    uint64_t next_proc_check; /* monotonic ns before which the peer's /proc entry is not read again */
    uint64_t dead_owner;      /* the peer owner word last found dead (0: none) */
    shmipc_segment *seg;
    bool owns_seg;
};

/* The endpoint slot of the other side. */
static inline shmipc__participant *shmipc__chan_peer_slot(const shmipc_channel *ch)
{
    return &ch->hdr->ends[ch->role == SHMIPC_CHANNEL_PRODUCER ? CHAN_SLOT_CONSUMER : CHAN_SLOT_PRODUCER];
}

/* Has the peer end closed (or been reclaimed after dying): owner 0 and state VACATED? */
static inline bool shmipc__chan_peer_closed(const shmipc_channel *ch)
{
    const shmipc__participant *pt = shmipc__chan_peer_slot(ch);
    /* acquire: pairs with the release store of VACATED in the core's leave (or reclaim), which follows the
     * gone end's last index and counter stores: a receive then delivers everything committed before. */
    if (atomic_load_explicit(&((shmipc__participant *)pt)->state, memory_order_acquire) != SHMIPC__PART_VACATED)
        return false;
    /* relaxed: a newcomer's claim (owner != 0) is enough to say "not closed"; its writes are not read. */
    return atomic_load_explicit(&((shmipc__participant *)pt)->owner, memory_order_relaxed) == 0;
}

/* Mark the channel broken in the handle and in shared memory; returns -EBADMSG. */
SHMIPC_INTERNAL int shmipc__chan_broken(shmipc_channel *ch);
/* Is the peer endpoint gone (closed, or its process dead)? The /proc check is rate-limited. */
SHMIPC_INTERNAL bool shmipc__chan_peer_gone(shmipc_channel *ch);

#endif
