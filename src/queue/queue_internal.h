/* SPDX-License-Identifier: MIT */
/*
 * queue/queue_internal.h - the MPMC queue as laid out in shared memory (header, participant table, slots),
 * the slot word encoding, the handle, and the internal test hook. See "Queue layer" in ARCHITECTURE.md
 * for the protocol these structures carry.
 */
#ifndef SHMIPC_QUEUE_INTERNAL_H
#define SHMIPC_QUEUE_INTERNAL_H

#include "common/internal.h"
#include "segment/segment_internal.h"
#include "service/service_internal.h"
#include <shmipc/queue.h>

#define SHMIPC_QUEUE_MAGIC UINT64_C(0x3151434950494d53) /* "SMIPICQ1" little-endian */
/* 2: participant idents are the common packed owner id; 3: the participant table is the service core's
 * (shmipc__participant: owner, reclaimer, state, role, ...; pushes and pops in count[0] and count[1]),
 * joined, left and reclaimed by the core's code. */
#define SHMIPC_QUEUE_VERSION 3u

/*
 * The slot word: the one word per slot that claims, publishes and releases it.
 *   bits 63..16  turn: the queue position this slot serves now, modulo 2^48
 *   bits 15..14  state: FREE (a producer at position turn may claim it), WRITING (claimed by a producer),
 *                FULL (holds the message of position turn), READING (claimed by a consumer)
 *   bits 13..0   owner: participant index + 1 of the claimer while WRITING or READING, else 0
 * Life of a slot at position p: FREE(p) -> WRITING(p) -> FULL(p) -> READING(p) -> FREE(p + slot_count).
 */
#define QW_TURN_SHIFT 16
#define QW_TURN_BITS 48
#define QW_TURN_MASK ((UINT64_C(1) << QW_TURN_BITS) - 1)
#define QW_STATE_SHIFT 14
#define QW_OWNER_MASK 0x3fffu
enum { QS_FREE = 0, QS_WRITING = 1, QS_FULL = 2, QS_READING = 3 };

SHMIPC_STATIC_ASSERT(SHMIPC_QUEUE_MAX_PARTICIPANTS < QW_OWNER_MASK, "owner field holds index + 1");

static inline uint64_t qw_make(uint64_t turn, unsigned state, unsigned owner)
{
    return ((turn & QW_TURN_MASK) << QW_TURN_SHIFT) | ((uint64_t)state << QW_STATE_SHIFT) | owner;
}
static inline uint64_t qw_turn(uint64_t w) { return w >> QW_TURN_SHIFT; }
static inline unsigned qw_state(uint64_t w) { return (unsigned)(w >> QW_STATE_SHIFT) & 3u; }
static inline unsigned qw_owner(uint64_t w) { return (unsigned)w & QW_OWNER_MASK; }
/* Signed distance from position pos to the word's turn, in the 48-bit modular space of turns. */
static inline int64_t qw_dist(uint64_t w, uint64_t pos)
{
    uint64_t d = (qw_turn(w) - pos) & QW_TURN_MASK;
    return (int64_t)(d << (64 - QW_TURN_BITS)) >> (64 - QW_TURN_BITS);
}

/*
 * Queue header at offset 0 of the queue area, six cache lines. Line 0 is written once by the creator
 * before the segment is published (except broken); each other line holds words written by a different
 * set of processes, so that producers and consumers do not share lines.
 */
typedef struct shmipc__queue_hdr {
    /* line 0: geometry, written once at format; validated at open */
    uint64_t magic;            /*  0: SHMIPC_QUEUE_MAGIC */
    uint32_t version;          /*  8: SHMIPC_QUEUE_VERSION */
    uint32_t header_size;      /* 12: sizeof(shmipc__queue_hdr) */
    uint32_t slot_count;       /* 16: power of two, 2..SHMIPC_QUEUE_MAX_SLOT_COUNT */
    uint32_t slot_size;        /* 20: largest payload */
    uint32_t slot_stride;      /* 24: bytes per slot, align_up(16 + slot_size, 64) */
    uint32_t max_participants; /* 28: entries in the participant table */
    uint64_t table_offset;     /* 32: from the queue area start */
    uint64_t slots_offset;     /* 40 */
    uint64_t total_size;       /* 48: bytes of the queue area */
    _Atomic uint32_t broken;   /* 56: 1 once any process found corruption (relaxed: a hint, no data) */
    uint32_t reserved0;        /* 60 */
    /* line 1: producers */
    _Atomic uint64_t enqueue_pos; /* 64: next position to push; a hint, relaxed (see ARCHITECTURE.md) */
    uint8_t pad1[56];
    /* line 2: consumers */
    _Atomic uint64_t dequeue_pos; /* 128: next position to pop; a hint, relaxed */
    uint8_t pad2[56];
    /* line 3: consumers sleep here, producers wake */
    shmipc__notify not_empty;  /* 192 */
    uint8_t pad3[56];
    /* line 4: producers sleep here, consumers wake */
    shmipc__notify not_full;   /* 256 */
    uint8_t pad4[56];
    /* line 5: rare counters (repairs, closes); relaxed: statistics only */
    _Atomic uint64_t lost;           /* 320: slots repaired after a dead claimer */
    _Atomic uint64_t retired_pushes; /* 328: pushes of handles since closed or reclaimed */
    _Atomic uint64_t retired_pops;   /* 336 */
    uint8_t pad5[40];
} shmipc__queue_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__queue_hdr) == 6 * SHMIPC_CACHELINE, "queue header is six lines");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_hdr, broken) == 56, "broken offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_hdr, enqueue_pos) == 64, "enqueue_pos on line 1");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_hdr, dequeue_pos) == 128, "dequeue_pos on line 2");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_hdr, not_empty) == 192, "not_empty on line 3");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_hdr, not_full) == 256, "not_full on line 4");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_hdr, lost) == 320, "counters on line 5");

/*
 * Participant table entry: the service core's record (shmipc__participant, one cache line, see
 * service/service_internal.h): owner = the common packed owner id (0 = free), claimed by
 * shmipc__svc_join and reclaimed after a dead owner by the core's crash-safe reclaim, which calls the
 * queue's (queue_reclaim in queue.c). The owner's counters: pushes in count[0], pops in count[1]
 * (written by the owner only, relaxed).
 */
#define QP_PUSHES 0
#define QP_POPS 1

/* A slot: the word, the length, then the payload; slot_stride bytes, cache-line aligned. */
typedef struct shmipc__queue_slot {
    _Atomic uint64_t word;   /* 0: see QW_*; acquire loads, release/seq_cst stores, acq_rel CAS */
    _Atomic uint32_t len;    /* 8: payload bytes; written by the producer while WRITING (release) */
    uint32_t reserved;       /* 12 */
    unsigned char data[];    /* 16: slot_size bytes */
} shmipc__queue_slot;

#define QUEUE_SLOT_HDR 16u
SHMIPC_STATIC_ASSERT(offsetof(shmipc__queue_slot, data) == QUEUE_SLOT_HDR, "slot header size");

/* Geometry derived from options (and, at open, from the header), checked for overflow. */
typedef struct shmipc__queue_geom {
    uint32_t slot_count, slot_size, slot_stride, max_participants;
    uint64_t table_offset, slots_offset, total_size;
} shmipc__queue_geom;

SHMIPC_INTERNAL int shmipc__queue_geom_compute(uint32_t slot_count, uint32_t slot_size, uint32_t max_participants,
                                       shmipc__queue_geom *g);

struct shmipc_queue {
    shmipc__queue_hdr *hdr;
    shmipc__participant *table;
    shmipc__svc svc;      /* the core's view: seg, the table, pattern QUEUE, pattern_area = hdr */
    unsigned char *slots;
    shmipc_segment *seg;  /* the segment the queue lives in */
    bool owns_seg;        /* opened by create/open: close it with the queue */
    uint32_t mask;        /* slot_count - 1 */
    uint32_t slot_count, slot_size, slot_stride, max_participants;
    int part;             /* own participant index, -1 for an observer */
    uint64_t ident;       /* own identity word */
    _Atomic int wait_mode;
    /* Stall tracking for dead-claimer detection (relaxed: a hint shared by threads using the handle). */
    _Atomic uint64_t stall_word;
    _Atomic uint64_t stall_since;
    _Atomic uint64_t stall_checked;
    _Atomic int held; /* zero-copy claims not yet committed or released (relaxed: this handle's count) */
    _Atomic uint64_t adapt_ns; /* shmipc__wait_adapt of this handle (relaxed: threads may share it) */
};

static inline shmipc__queue_slot *queue_slot(const shmipc_queue *q, uint64_t pos)
{
    return (shmipc__queue_slot *)(q->slots + (size_t)(pos & q->mask) * q->slot_stride);
}

/* Mark the queue broken (shared flag) and return -EBADMSG. */
SHMIPC_INTERNAL int shmipc__queue_broken(shmipc_queue *q);

/*
 * Repair a slot whose word is w (WRITING or READING by a dead owner): CAS it to FREE(turn + slot_count)
 * so that the position is skipped (producer hole) or released (consumer), count it as lost and wake
 * sleepers. Returns 1 if this call repaired it, 0 if the word had changed (someone else acted).
 */
SHMIPC_INTERNAL int shmipc__queue_repair(shmipc_queue *q, shmipc__queue_slot *s, uint64_t w);

/*
 * Test hook: when set, called at the points below (never set outside tests). A test child sets it to a
 * function that raises SIGKILL to die at an exact point of the protocol.
 */
enum {
    SHMIPC__QUEUE_HOOK_PUSH_CLAIMED = 1, /* producer claimed a slot, position not yet advanced */
    SHMIPC__QUEUE_HOOK_PUSH_WRITTEN = 2, /* payload written, not yet published */
    SHMIPC__QUEUE_HOOK_POP_CLAIMED = 3,  /* consumer claimed a slot, position not yet advanced */
    SHMIPC__QUEUE_HOOK_POP_COPIED = 4,   /* payload copied out, slot not yet released */
};
SHMIPC_INTERNAL extern void (*shmipc__queue_test_hook)(int point);

#endif
