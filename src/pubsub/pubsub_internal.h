/* SPDX-License-Identifier: MIT */
/*
 * pubsub/pubsub_internal.h - the publish/subscribe service as laid out in shared memory (pattern area of
 * the main segment, and the pool segment), the handles, and what the pubsub files share: queue locks
 * that a live process can take over from a dead holder (with repair), queue push/pop, history, chunk
 * holder masks. Invariants are in ARCHITECTURE.md ("Publish/subscribe").
 */
#ifndef SHMIPC_PUBSUB_INTERNAL_H
#define SHMIPC_PUBSUB_INTERNAL_H

#include "service/service_internal.h"
#include <shmipc/pubsub.h>

#define SHMIPC_PS_MAGIC 0x31425350u      /* "PSB1" */
#define SHMIPC_PS_POOL_MAGIC 0x31505350u /* "PSP1" */
#define SHMIPC_PS_MAX_DEPTH 65536u
#define SHMIPC_PS_MAX_CHUNKS (1u << 20)
#define SHMIPC_PS_MAX_ALIGN 4096u

/*
 * Chunk holder mask (64 bits, 0 = free): bits 0..47 subscriber slots holding a reference (queued or
 * received), bits 48..58 the loaning publisher's participant slot + 1 (0 = not loaned), bit 63 held by
 * the history ring.
 */
#define PS_SUB_MASK ((UINT64_C(1) << SHMIPC_PUBSUB_MAX_SUBSCRIBERS) - 1)
#define PS_LOANER_SHIFT 48
#define PS_LOANER_MASK (UINT64_C(0x7ff) << PS_LOANER_SHIFT)
#define PS_HIST_BIT (UINT64_C(1) << 63)
#define PS_LOANER(slot) ((uint64_t)((slot) + 1) << PS_LOANER_SHIFT)
SHMIPC_STATIC_ASSERT(SHMIPC_SVC_MAX_PARTICIPANTS + 1 <= 0x7ff, "loaner field holds any participant slot");

/* Pattern header, at the start of the pattern area. Written once by the creator before publication. */
typedef struct shmipc__ps_hdr {
    uint32_t magic;          /*   0: SHMIPC_PS_MAGIC */
    uint32_t flags;          /*   4: SHMIPC_PUBSUB_DYNAMIC */
    uint32_t max_pubs;       /*   8 */
    uint32_t max_subs;       /*  12: <= 48 */
    uint32_t depth;          /*  16 */
    uint32_t history;        /*  20: <= depth */
    uint32_t policy;         /*  24: shmipc_pubsub_policy (1 or 2) */
    uint32_t nchunks;        /*  28 */
    uint64_t payload_max;    /*  32 */
    uint32_t align;          /*  40 */
    uint32_t max_loans;      /*  44 */
    uint32_t max_held;       /*  48 */
    uint32_t reserved0;      /*  52 */
    uint64_t stride;         /*  56: bytes per chunk in the pool */
    uint64_t pool_off;       /*  64: offset of chunk 0 in the pool segment's data area */
    uint64_t instance;       /*  72: nonce also stored in the pool header (pairs pool and main) */
    uint8_t reserved[48];    /*  80..127 */
    _Atomic uint64_t next_seq; /* 128: sample sequence counter (fetch_add, relaxed: only uniqueness) */
    uint8_t pad[56];         /* 136..191 */
} shmipc__ps_hdr;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_hdr) == 192, "pubsub header size");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__ps_hdr, next_seq) == 128, "sequence counter on its own line");

/* What a queue lock holder is doing (so that a process taking the lock over from a dead holder can tell
 * whether the step completed). */
#define PS_PEND_NONE 0u
#define PS_PEND_PUSH 1u /* pushing (chunk, seq) at tail == pos; committed iff tail > pos */
#define PS_PEND_DROP 2u /* dropping the entry at head == pos; done iff head > pos */

/*
 * Per-subscriber slot: 192 bytes. Line 0 is written only under the queue lock. Line 1: the data notify
 * (bumped by publishers, slept on by the subscriber). Line 2: the space notify (bumped by the subscriber,
 * slept on by publishers under SHMIPC_PUBSUB_WAIT).
 */
typedef struct shmipc__ps_sub {
    _Atomic uint64_t lock;     /*   0: packed owner id of the holder, 0 = free (CAS acquire / store release) */
    _Atomic uint64_t head;     /*   8: next entry to pop (monotonic) */
    _Atomic uint64_t tail;     /*  16: next entry to push (monotonic); the store of tail+1 commits a push */
    uint32_t pend_kind;        /*  24: PS_PEND_* (lock holder only) */
    uint32_t pend_chunk;       /*  28 */
    uint64_t pend_seq;         /*  32 */
    uint64_t pend_pos;         /*  40 */
    _Atomic uint64_t missed;   /*  48: samples dropped for this subscriber (relaxed counter) */
    uint64_t join_epoch;       /*  56: history "joins" value when it became active (under hist lock) */
    shmipc__notify data;       /*  64 */
    _Atomic uint32_t part;     /*  72: participant slot + 1 of the owner, 0 = free (CAS acq_rel) */
    _Atomic uint32_t state;    /*  76: PS_SUB_* (stored under the queue lock, release) */
    uint8_t pad1[48];          /*  80 */
    shmipc__notify space;      /* 128 */
    uint8_t pad2[56];          /* 136..191 */
} shmipc__ps_sub;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_sub) == 192, "subscriber slot is three lines");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__ps_sub, data) == 64 && offsetof(shmipc__ps_sub, space) == 128,
                     "notify words on their own lines");

#define PS_SUB_FREE 0u
#define PS_SUB_ACTIVE 1u

/* Chunk descriptor, one cache line (masks of neighbouring chunks are CASed by different processes). */
typedef struct shmipc__ps_chunk {
    _Atomic uint64_t mask;   /*  0: holders (see above); loan = CAS 0 -> loaner (acquire), drops release */
    _Atomic uint64_t seq;    /*  8: sequence of the sample it holds (written by the loaner before delivery) */
    _Atomic uint64_t len;    /* 16: payload bytes (idem) */
    _Atomic uint32_t publisher; /* 24: publisher id (idem) */
    uint8_t pad[36];         /* 28..63 */
} shmipc__ps_chunk;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_chunk) == 64, "chunk descriptor is one line");

/* Queue or history entry. */
typedef struct shmipc__ps_entry {
    uint32_t chunk;
    uint32_t reserved;
    uint64_t seq;
} shmipc__ps_entry;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_entry) == 16, "entry size");

/* History ring header (one line), followed by `history` entries. Everything under its lock. */
typedef struct shmipc__ps_hist {
    _Atomic uint64_t lock;   /*  0 */
    _Atomic uint64_t head;   /*  8 */
    _Atomic uint64_t tail;   /* 16 */
    _Atomic uint64_t joins;  /* 24: bumped (release) by each subscriber becoming active, under the lock */
    uint8_t pad[32];
} shmipc__ps_hist;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_hist) == 64, "history header is one line");

/* Pool segment data area header; chunks start at pool_off. */
typedef struct shmipc__ps_pool_hdr {
    uint32_t magic;
    uint32_t nchunks;
    uint64_t stride;
    uint64_t instance;
    uint8_t pad[40];
} shmipc__ps_pool_hdr;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_pool_hdr) == 64, "pool header is one line");

/* Layout of the pattern area derived from validated options (never from offsets read back). */
typedef struct shmipc__ps_layout {
    size_t subs_off, pubs_off, chunks_off, entries_off, hist_off, hist_entries_off, size;
} shmipc__ps_layout;

/* A validated view of a service (the core's svc plus local copies of every option). */
typedef struct shmipc__ps {
    shmipc__svc svc;
    shmipc_segment *pool_seg;
    shmipc__ps_hdr *hdr;
    shmipc__ps_sub *subs;
    _Atomic uint32_t *pubs;       /* max_pubs words: participant slot + 1 of each publisher, 0 = free */
    shmipc__ps_chunk *chunks;
    shmipc__ps_entry *entries;    /* max_subs * depth */
    shmipc__ps_hist *hist;
    shmipc__ps_entry *hist_entries;
    unsigned char *pool;          /* chunk 0; NULL for reclaim-only views */
    uint32_t flags, max_pubs, max_subs, depth, history, policy, nchunks, max_loans, max_held, align;
    uint64_t payload_max, stride, pool_off;
    uint64_t me;                  /* our packed process id (lock words), cached: no getpid on the fast path */
    int slot;                     /* our participant slot, -1 if none */
    bool borrowed;                /* the mappings belong to another handle (tests sharing one mapping) */
} shmipc__ps;

/* Kill points for tests: a child sets the hook to raise(SIGKILL) at one of them. */
#define PS_HOOK_AFTER_LOAN 1
#define PS_HOOK_MID_DELIVERY 2  /* bit set and pending recorded, entry not committed (queue lock held) */
#define PS_HOOK_AFTER_FIRST 3   /* delivered to the first subscriber only */
#define PS_HOOK_AFTER_PUBLISH 4 /* delivered everywhere, loan not yet ended */
#define PS_HOOK_MID_RECLAIM 5   /* subscriber slot reset, chunks not yet swept */
#define PS_HOOK_MID_DROP 6      /* oldest entry removed, its bit not yet cleared (queue lock held) */
extern SHMIPC_INTERNAL void (*shmipc__pubsub_test_hook)(int point);
static inline void ps_hook(int point)
{
    if (SHMIPC_UNLIKELY(shmipc__pubsub_test_hook != NULL))
        shmipc__pubsub_test_hook(point);
}

SHMIPC_INTERNAL int shmipc__ps_layout_of(uint32_t max_pubs, uint32_t max_subs, uint32_t depth, uint32_t history, uint32_t nchunks,
                                         shmipc__ps_layout *l);
/* Validate the pattern area and fill ps's local copies and pointers (pool not mapped). */
SHMIPC_INTERNAL int shmipc__ps_view(shmipc__ps *ps);
/* Open the service (core + view + pool, rdonly for subscribers) and check opts compatibility. */
SHMIPC_INTERNAL int shmipc__ps_open(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts,
                                    bool rdonly_pool);
SHMIPC_INTERNAL void shmipc__ps_close(shmipc__ps *ps);
/* Create the service (or, if a live one exists or !create, open it) for a publisher. */
SHMIPC_INTERNAL int shmipc__ps_create_or_open(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts,
                                              bool create);
extern const shmipc__pattern_ops shmipc__pubsub_ops;

/* Queue locks: spin (yielding), and take over from a dead holder, repairing its half-done step. */
SHMIPC_INTERNAL void shmipc__ps_sub_lock(shmipc__ps *ps, uint32_t j);
SHMIPC_INTERNAL void shmipc__ps_hist_lock(shmipc__ps *ps);
/* Drop bits from chunk c only if it still holds sample seq. */
SHMIPC_INTERNAL void shmipc__ps_chunk_drop_seq(shmipc__ps *ps, uint32_t c, uint64_t seq, uint64_t bits);
static inline void ps_unlock(_Atomic uint64_t *lock)
{
    /* release: every write made under the lock is visible to the next holder (acquire CAS). */
    atomic_store_explicit(lock, 0, memory_order_release);
}
/* Take and release every lock whose holder is dead (repairs them). */
SHMIPC_INTERNAL void shmipc__ps_repair_dead_locks(shmipc__ps *ps);

/* Drop bits from a chunk's mask (the chunk is free once its mask is 0). */
SHMIPC_INTERNAL void shmipc__ps_chunk_drop(shmipc__ps *ps, uint32_t c, uint64_t bits);
/* Push (c, seq) to subscriber j's queue; caller holds its lock and checked the slot is active.
 * Returns 0, -EAGAIN (full under the wait policy, or wait forced), -EBADMSG. */
SHMIPC_INTERNAL int shmipc__ps_push(shmipc__ps *ps, uint32_t j, uint32_t c, uint64_t seq, bool may_drop);
/* Free subscriber slot j (clean close or reclaim): reset its queue, sweep its bit from every chunk. */
SHMIPC_INTERNAL void shmipc__ps_sub_release(shmipc__ps *ps, uint32_t j);
/* Insert c into history (caller holds the history lock). */
SHMIPC_INTERNAL int shmipc__ps_hist_insert(shmipc__ps *ps, uint32_t c, uint64_t seq);
/* Chunks whose mask is not 0 (for tests and tools). */
SHMIPC_INTERNAL uint32_t shmipc__ps_pool_used(const shmipc__ps *ps);

#define PS_STAT_PUBLISHED 0
#define PS_STAT_DELIVERED 1
#define PS_STAT_DROPPED 2
#define PS_STAT_POOL_USED 3 /* never counted: describe derives it from the masks (ps_derived_stats) */
#define PS_NSTATS 4

struct shmipc_publisher {
    shmipc__ps ps;
    uint32_t nloans;
    int publish_timeout_ms;
    uint32_t hint;
    uint32_t loans[]; /* max_loans chunk indices */
};

struct shmipc_subscriber {
    shmipc__ps ps;
    uint32_t j;          /* subscriber slot */
    uint32_t nheld;
    shmipc_wait_mode wait_mode;
    uint32_t held[];     /* max_held chunk indices */
};


/* Build a handle on an already opened view (its mappings are borrowed, not closed): how the thread tests
 * put several handles on one mapping so that ThreadSanitizer sees every access. */
SHMIPC_INTERNAL int shmipc__publisher_attach(const shmipc__ps *view, int publish_timeout_ms,
                                             shmipc_publisher **out);
SHMIPC_INTERNAL int shmipc__subscriber_attach(const shmipc__ps *view, shmipc_wait_mode mode,
                                              shmipc_subscriber **out);

#endif
