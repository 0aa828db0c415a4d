/* SPDX-License-Identifier: MIT */
/*
 * conn/conn.h - the connection: a lock-free single-producer single-consumer ring of 16-byte entries in
 * shared memory, the one ring that publish/subscribe and request/response are built from. The producer
 * alone writes the head line and the entries, the consumer alone the tail line (except under overwrite,
 * where a full producer advances tail with a CAS), so on the fast path no cache line is written by both
 * sides. Outside overwrite mode the consumer learns that an entry is published from the stamp in bit 63
 * of its a (SHMIPC__CONN_STAMP), never from head.
 * Entries mean what the pattern says (a chunk index, a length, a sequence number); every entry and both
 * indices read from shared memory are validated before use, because the peer may be hostile.
 *
 * Layout (offsets from the start of the connection; 64-byte aligned):
 *    0  head     u64  next entry the producer writes, as of its last  producer; release store after the
 *                    publish (monotonic; what successors,            stamps (seq_cst under overwrite where
 *                    recoverers and tools start from)                the consumer may sleep: it reads head)
 *    8  dropped  u64  entries the producer overwrote (overwrite mode) producer; relaxed
 *   64  tail     u64  next entry the consumer reads (monotonic)      consumer; release / seq_cst store
 *                                                                    (overwrite: CAS by either side)
 *  128  data     notify  the consumer sleeps here for entries         consumer announces, producer wakes
 *  192  space    notify  the producer sleeps here for room            producer announces, consumer wakes
 *  256  entries  cap x 16 bytes (cap a power of two, kept by the     producer; push: b, then a, relaxed;
 *                pattern, never read back); bit 63 of a: the stamp   publish: a's stamp, release (seq_cst
 *                                                                    where the consumer may sleep)
 * Invariant checked wherever an index pair is read: tail <= head and head - tail <= cap, else -EBADMSG
 * (head as scanned, shmipc__conn_head_scan: at both attaches and skip_to).
 */
#ifndef SHMIPC_CONN_H
#define SHMIPC_CONN_H

#include "common/internal.h"

typedef struct shmipc__conn_entry {
    _Atomic uint64_t a; /* bit 63: the stamp (publish's release / seq_cst store, peek's acquire load) */
    _Atomic uint64_t b; /* relaxed, ordered by the stamp (overwrite: by head; torn reads: the tail CAS) */
} shmipc__conn_entry;

typedef struct shmipc__conn {
    _Atomic uint64_t head;     /*   0 */
    _Atomic uint64_t dropped;  /*   8 */
    uint8_t pad0[48];
    _Atomic uint64_t tail;     /*  64 */
    uint8_t pad1[56];
    shmipc__notify data;       /* 128 */
    uint8_t pad2[56];
    shmipc__notify space;      /* 192 */
    uint8_t pad3[56];
    shmipc__conn_entry ring[]; /* 256 */
} shmipc__conn;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__conn_entry) == 16, "entry size");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__conn, tail) == 64 && offsetof(shmipc__conn, data) == 128 &&
                         offsetof(shmipc__conn, space) == 192 && offsetof(shmipc__conn, ring) == 256,
                     "connection layout");

#define SHMIPC__CONN_HDR_SIZE 256u
/* Bit 63 of an entry's a: the stamp (see shmipc__conn_head_scan); a pattern's a values stay below it. */
#define SHMIPC__CONN_STAMP (UINT64_C(1) << 63)
/* The stamp an entry at position pos carries once published: set on even laps, clear on odd ones, so the
 * entry a slot held one lap earlier (and the zeroes of a fresh ring, lap 0) never looks published. */
static inline uint64_t shmipc__conn_stamp(uint64_t pos, uint32_t cap) { return (pos & cap) ? 0 : SHMIPC__CONN_STAMP; }
#define SHMIPC__CONN_MAX_CAP (1u << 24)

/* Bytes of a connection of cap entries (cap: power of two, 1 .. SHMIPC__CONN_MAX_CAP). */
static inline size_t shmipc__conn_size(uint32_t cap) { return SHMIPC__CONN_HDR_SIZE + (size_t)cap * 16u; }

/* Flags of an end (local, agreed by the pattern for both ends from validated options). */
#define SHMIPC__CONN_OVERWRITE (1u << 0)  /* a full producer drops the oldest entry (CAS on tail) */
#define SHMIPC__CONN_PRODUCER_SLEEPS (1u << 1) /* the producer may sleep on space: the consumer wakes it */
#define SHMIPC__CONN_CONSUMER_POLLS (1u << 2)  /* the consumer never sleeps: publish skips the handshake */
/* With PRODUCER_SLEEPS: pop stores tail with release (no stall on the line the producer reads) and makes
 * the handshake with a producer sleeping for room (a seq_cst RMW of its waiters) only every
 * rx->batch pops and at shmipc__conn_rx_settle, which the pattern calls before it waits or returns
 * without an entry. A waiter already visible is woken at once; see shmipc__conn_rx_settle. */
#define SHMIPC__CONN_BATCH_WAKE (1u << 3)

/* The producer's end (private memory). */
typedef struct shmipc__conn_tx {
    shmipc__conn *c;
    uint64_t head;        /* our next position (the shared head lags it until publish) */
    uint64_t tail_cache;  /* the consumer's tail as last seen */
    uint64_t published;   /* the head value last stored */
    shmipc__notify *wake; /* woken at publish: &c->data, or a word the consumer sleeps on for several
                           * connections (set after attach) */
    uint32_t cap, flags;
    uint32_t depth;       /* entries at which the ring counts as full (1..cap; cap after attach): a pattern
                           * whose queue depth is not a power of two sets it after attach */
} shmipc__conn_tx;

/* The consumer's end (private memory). */
typedef struct shmipc__conn_rx {
    shmipc__conn *c;
    uint64_t tail;        /* our next position */
    uint64_t head_cache;  /* the producer's head as last seen */
    shmipc__notify *wake; /* woken at pop under PRODUCER_SLEEPS: &c->space, or the producer's own word */
    uint32_t cap, flags;
    uint32_t batch;       /* BATCH_WAKE: pops between handshakes (1 after attach; the pattern sets it) */
    uint32_t since;       /* BATCH_WAKE: pops since the last handshake */
} shmipc__conn_rx;

/* Initialise a connection of cap entries (nobody attached): indices, counters, entries, notify words 0. */
SHMIPC_INTERNAL void shmipc__conn_init(shmipc__conn *c, uint32_t cap);
/*
 * Attach an end, continuing from the shared indices (a successor of a dead end goes on where it stopped).
 * Returns 0 or -EBADMSG (indices violate the invariant).
 */
SHMIPC_INTERNAL int shmipc__conn_tx_attach(shmipc__conn_tx *tx, shmipc__conn *c, uint32_t cap, uint32_t flags);
SHMIPC_INTERNAL int shmipc__conn_rx_attach(shmipc__conn_rx *rx, shmipc__conn *c, uint32_t cap, uint32_t flags);

/*
 * Producer: write one entry at our position, unpublished. Returns 0, -EAGAIN (full; in overwrite mode
 * never: the oldest entry is dropped and, if dropped is not NULL, copied there with *ndropped += 1),
 * -EBADMSG (the consumer's tail is impossible). Entries become visible to the consumer at publish.
 */
SHMIPC_INTERNAL int shmipc__conn_push(shmipc__conn_tx *tx, uint64_t a, uint64_t b, shmipc__conn_entry *dropped,
                                      uint32_t *ndropped);
/* Producer: make every pushed entry visible and wake the consumer if it sleeps. Returns 1 if a system
 * call was made, else 0. */
SHMIPC_INTERNAL int shmipc__conn_publish(shmipc__conn_tx *tx);
/*
 * The head as the entries say: head advanced over the entries after it whose stamp says published (at
 * most cap, never a lap past tail). A producer that dies between its stamps and its head store leaves
 * such entries; consumers may have taken them already (tail past the stored head).
 */
SHMIPC_INTERNAL uint64_t shmipc__conn_head_scan(const shmipc__conn *c, uint32_t cap, uint64_t tail, uint64_t head);
/* Producer: free entries as far as it knows (re-reading tail only when the cache says full). */
SHMIPC_INTERNAL uint32_t shmipc__conn_space(shmipc__conn_tx *tx);
/* Producer (or anyone, for tools): entries queued, from the shared indices, clamped to [0, cap]. */
SHMIPC_INTERNAL uint32_t shmipc__conn_depth(const shmipc__conn *c, uint32_t cap);

/*
 * Consumer: look at the oldest entry without consuming it (outside overwrite mode: if its stamp says
 * published; head is not read). Returns 0 (*a, *b filled, the stamp masked off), -EAGAIN (empty), in
 * overwrite mode -EBADMSG (head and tail impossible). In overwrite mode the entry is only valid if the
 * following shmipc__conn_pop returns 0.
 */
SHMIPC_INTERNAL int shmipc__conn_peek(shmipc__conn_rx *rx, uint64_t *a, uint64_t *b);
/*
 * Consumer: consume the entry peek returned. Returns 0, or -EAGAIN in overwrite mode when the producer
 * dropped it meanwhile (peek again: the entry read is not to be used).
 */
SHMIPC_INTERNAL int shmipc__conn_pop(shmipc__conn_rx *rx);
/*
 * Consumer: consume every entry before position pos (not in overwrite mode), as if each were popped: a
 * successor that knows where its own entries begin drops what a predecessor left. pos outside
 * [our position, head] is clamped to it (head as shmipc__conn_head_scan gives it). Returns the number of
 * entries dropped, or -EBADMSG (head impossible).
 */
SHMIPC_INTERNAL int64_t shmipc__conn_skip_to(shmipc__conn_rx *rx, uint64_t pos);
/*
 * Consumer under BATCH_WAKE: make the handshake that the pops since the last one skipped, so that a
 * producer sleeping for room is woken. Called before the consumer waits, returns without an entry, or
 * closes. Between settles, a producer that announced its sleep while our last tail store was still
 * unseen may sleep until its next slice (SHMIPC__WAIT_SLICE_NS), or until our next pop or settle: the
 * price of no per-pop fence, paid only by a producer waiting for room while the consumer stops taking.
 */
SHMIPC_INTERNAL void shmipc__conn_rx_settle(shmipc__conn_rx *rx);
/* Consumer: entries available, as their stamps say (overwrite mode: as head says); 0 on a corrupt head. */
SHMIPC_INTERNAL uint32_t shmipc__conn_avail(shmipc__conn_rx *rx);

/* Did the producer publish entries the consumer has not taken? (for wait conditions; a seq_cst load of
 * the stamp at our tail, of head in overwrite mode: the consumer's half of the sleep handshake) */
SHMIPC_INTERNAL bool shmipc__conn_rx_ready(shmipc__conn_rx *rx);
/* Is there room for the producer? (seq_cst reload of tail, the producer's half of the handshake) */
SHMIPC_INTERNAL bool shmipc__conn_tx_room(shmipc__conn_tx *tx);

#endif
