/* SPDX-License-Identifier: MIT */
/*
 * pubsub/pubsub_internal.h - the publish/subscribe service as laid out in shared memory (pattern area of
 * the main segment, and the pool segment), the handles, and what the pubsub files share.
 *
 * Built on connections (conn/conn.h): per (publisher slot k, subscriber slot j) one deliver connection
 * (publisher -> subscriber, entries = chunk, length, sequence, subscriber generation) and one return
 * connection (subscriber -> publisher, entries = released chunk, sequence, generation). Each publisher slot
 * owns a partition of the chunk pool; the reference state of its chunks (which subscribers hold one, its
 * loan, the history pin) is written by that publisher alone. No lock anywhere: the only words written by
 * more than one process are join-time words (claims, the membership epoch, history pins).
 * Byte-exact layout and invariants: ARCHITECTURE.md ("Publish/subscribe").
 */
#ifndef SHMIPC_PUBSUB_INTERNAL_H
#define SHMIPC_PUBSUB_INTERNAL_H

#include "conn/conn.h"
#include "service/service_internal.h"
#include <shmipc/pubsub.h>

#define SHMIPC_PS_MAGIC 0x33425350u      /* "PSB3" */
#define SHMIPC_PS_POOL_MAGIC 0x33505350u /* "PSP3" */
#define SHMIPC_PS_MAX_DEPTH 65536u
#define SHMIPC_PS_MAX_CHUNKS (1u << 20)  /* whole pool; also bounds one partition (20-bit local index) */
#define SHMIPC_PS_MAX_ALIGN 4096u
#define SHMIPC_PS_MAX_AREA (UINT32_MAX - 4096u) /* pattern area bytes (the core stores the size in 32 bits) */

/* Chunk reference word (written by the owning publisher only; by a reclaimer once that publisher is dead):
 * bits 0..47 subscriber slots holding it (queued, received, or released and not yet drained), bit 62 loaned,
 * bit 63 pinned by the history. 0 = free (unless a joiner pins it, see pins). */
#define PS_SUB_MASK ((UINT64_C(1) << SHMIPC_PUBSUB_MAX_SUBSCRIBERS) - 1)
#define PS_LOANED (UINT64_C(1) << 62)
#define PS_HIST_BIT (UINT64_C(1) << 63)

/* Entries. Deliver: a = local chunk | len << 20, b = seq | gen << 48. Return: a = local chunk, b = seq |
 * gen << 48. History: a = local chunk, b = seq. Held record: a = (k + 1) << 32 | local chunk, b = seq. */
#define PS_LOCAL_BITS 20
#define PS_LOCAL_MASK ((UINT64_C(1) << PS_LOCAL_BITS) - 1)
#define PS_SEQ_BITS 48
#define PS_SEQ_MASK ((UINT64_C(1) << PS_SEQ_BITS) - 1)
#define PS_GEN_MASK 0xffffu

/* Pattern header, at the start of the pattern area. Written once by the creator before publication,
 * except epoch. */
typedef struct shmipc__ps_hdr {
    uint32_t magic;          /*   0: SHMIPC_PS_MAGIC */
    uint32_t flags;          /*   4: SHMIPC_PUBSUB_DYNAMIC */
    uint32_t max_pubs;       /*   8 */
    uint32_t max_subs;       /*  12: <= 48 */
    uint32_t depth;          /*  16: deliver connection depth */
    uint32_t history;        /*  20: <= depth, per publisher */
    uint32_t policy;         /*  24: shmipc_pubsub_policy (1 or 2) */
    uint32_t nchunks;        /*  28: max_pubs * part_chunks */
    uint64_t payload_max;    /*  32 */
    uint32_t align;          /*  40 */
    uint32_t max_loans;      /*  44 */
    uint32_t max_held;       /*  48 */
    uint32_t part_chunks;    /*  52: chunks per publisher partition */
    uint64_t stride;         /*  56: bytes per chunk in the pool */
    uint64_t pool_off;       /*  64: offset of chunk 0 in the pool segment's data area */
    uint64_t instance;       /*  72: nonce also stored in the pool header (pairs pool and main) */
    uint32_t dcap;           /*  80: deliver connection capacity (power of two >= depth) */
    uint32_t rcap;           /*  84: return connection capacity (power of two >= part_chunks) */
    uint8_t reserved[40];    /*  88..127 */
    _Atomic uint64_t epoch;  /* 128: membership epoch, bumped (seq_cst RMW) by every join and leave */
    uint8_t pad[56];         /* 136..191 */
} shmipc__ps_hdr;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_hdr) == 192, "pubsub header size");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__ps_hdr, epoch) == 128, "epoch on its own line");

/*
 * Subscriber slot: line 0 claim and state (written by its owner at join and leave only), line 1 the data
 * notify (the subscriber sleeps there for all its deliver connections; publishers read waiters), then
 * max_held held records (written by the owner; read by a reclaimer of a dead publisher).
 */
typedef struct shmipc__ps_sub {
    _Atomic uint32_t part;     /*   0: participant slot + 1 of the owner, 0 = free (CAS acq_rel / release) */
    _Atomic uint32_t gen;      /*   4: generation of this slot's current owner (1..65535), set at claim */
    _Atomic uint32_t state;    /*   8: PS_SUB_* (release) */
    uint8_t pad0[52];          /*  12..63 */
    shmipc__notify data;       /*  64 */
    uint8_t pad1[56];          /*  72..127 */
    shmipc__conn_entry held[]; /* 128: max_held records, a == 0: empty */
} shmipc__ps_sub;
SHMIPC_STATIC_ASSERT(offsetof(shmipc__ps_sub, data) == 64 && offsetof(shmipc__ps_sub, held) == 128,
                     "subscriber slot layout");

#define PS_SUB_FREE 0u
#define PS_SUB_ACTIVE 1u

/* Publisher slot: line 0 claim, line 1 the publisher's own figures (written by it alone), lines 2-3 the
 * generation it serves for each subscriber slot, then history entries and the partition's descriptors. */
typedef struct shmipc__ps_pub {
    _Atomic uint32_t part;       /*   0: participant slot + 1 of the owner, 0 = free (CAS acq_rel / release) */
    uint8_t pad0[60];            /*   4..63 */
    _Atomic uint64_t next_seq;   /*  64: last sequence number used (a successor continues from it) */
    _Atomic uint64_t published;  /*  72 */
    _Atomic uint64_t delivered;  /*  80 */
    _Atomic uint64_t dropped;    /*  88 */
    _Atomic uint64_t hist_tail;  /*  96: history inserts so far (seq_cst store) */
    uint8_t pad1[24];            /* 104..127 */
    _Atomic uint16_t served[64]; /* 128: generation served per subscriber slot (0 = none); 48 used */
} shmipc__ps_pub;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_pub) == 256 && offsetof(shmipc__ps_pub, next_seq) == 64 &&
                         offsetof(shmipc__ps_pub, served) == 128,
                     "publisher slot layout");

/* Chunk descriptor, one line, in its publisher's partition. */
typedef struct shmipc__ps_chunk {
    _Atomic uint64_t refs;   /*  0: PS_* reference bits (the owning publisher only) */
    _Atomic uint64_t seq;    /*  8: sequence of the sample it holds (publisher, before delivery) */
    _Atomic uint64_t len;    /* 16: payload bytes (idem) */
    _Atomic uint64_t pins;   /* 24: subscriber slots holding it from the history (their fetch_or/and) */
    uint8_t pad[32];         /* 32..63 */
} shmipc__ps_chunk;
SHMIPC_STATIC_ASSERT(sizeof(shmipc__ps_chunk) == 64, "chunk descriptor is one line");

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
    size_t subs_off, sub_size, pubs_off, pub_size, hist_off, desc_off, dconn_off, dconn_size, rconn_off,
        rconn_size, size;
} shmipc__ps_layout;

/* A validated view of a service (the core's svc plus local copies of every option). */
typedef struct shmipc__ps {
    shmipc__svc svc;
    shmipc_segment *pool_seg;
    shmipc__ps_hdr *hdr;
    unsigned char *area;          /* pattern area */
    shmipc__ps_layout l;
    unsigned char *pool;          /* chunk 0; NULL for reclaim-only views */
    uint32_t flags, max_pubs, max_subs, depth, history, policy, nchunks, part_chunks, max_loans, max_held,
        align, dcap, rcap;
    uint64_t payload_max, stride, pool_off;
    int slot;                     /* our participant slot, -1 if none */
    bool borrowed;                /* the mappings belong to another handle (tests sharing one mapping) */
} shmipc__ps;

static inline shmipc__ps_sub *ps_sub(const shmipc__ps *ps, uint32_t j)
{
    return (shmipc__ps_sub *)(ps->area + ps->l.subs_off + (size_t)j * ps->l.sub_size);
}
static inline shmipc__ps_pub *ps_pub(const shmipc__ps *ps, uint32_t k)
{
    return (shmipc__ps_pub *)(ps->area + ps->l.pubs_off + (size_t)k * ps->l.pub_size);
}
static inline shmipc__conn_entry *ps_hist(const shmipc__ps *ps, uint32_t k)
{
    return (shmipc__conn_entry *)((unsigned char *)ps_pub(ps, k) + ps->l.hist_off);
}
static inline shmipc__ps_chunk *ps_desc(const shmipc__ps *ps, uint32_t k, uint32_t c)
{
    return (shmipc__ps_chunk *)((unsigned char *)ps_pub(ps, k) + ps->l.desc_off) + c;
}
static inline shmipc__conn *ps_dconn(const shmipc__ps *ps, uint32_t k, uint32_t j)
{
    return (shmipc__conn *)(ps->area + ps->l.dconn_off + ((size_t)k * ps->max_subs + j) * ps->l.dconn_size);
}
static inline shmipc__conn *ps_rconn(const shmipc__ps *ps, uint32_t k, uint32_t j)
{
    return (shmipc__conn *)(ps->area + ps->l.rconn_off + ((size_t)k * ps->max_subs + j) * ps->l.rconn_size);
}
/* The generation a subscriber slot's owner may use: 1..65535 (0 is "none"). */
static inline uint16_t ps_gen_next(uint32_t g)
{
    g = (g + 1) & PS_GEN_MASK;
    return (uint16_t)(g ? g : 1);
}

/* Kill points for tests: a child sets the hook to raise(SIGKILL) at one of them. */
#define PS_HOOK_AFTER_LOAN 1
#define PS_HOOK_MID_DELIVERY 2  /* reference bits of every target set, nothing pushed yet */
#define PS_HOOK_AFTER_FIRST 3   /* delivered to the first subscriber only */
#define PS_HOOK_AFTER_PUBLISH 4 /* delivered everywhere, loan not yet ended */
#define PS_HOOK_MID_RECLAIM 5   /* subscriber slot freed, its history pins not yet swept */
#define PS_HOOK_MID_DROP 6      /* oldest entry taken back by the publisher, its bit not yet cleared */
extern SHMIPC_INTERNAL void (*shmipc__pubsub_test_hook)(int point);
static inline void ps_hook(int point)
{
    if (SHMIPC_UNLIKELY(shmipc__pubsub_test_hook != NULL))
        shmipc__pubsub_test_hook(point);
}

SHMIPC_INTERNAL int shmipc__ps_layout_of(uint32_t max_pubs, uint32_t max_subs, uint32_t depth, uint32_t history,
                                         uint32_t max_held, uint32_t part_chunks, shmipc__ps_layout *l);
/* Validate the pattern area and fill ps's local copies and pointers (pool not mapped). */
SHMIPC_INTERNAL int shmipc__ps_view(shmipc__ps *ps);
/* Open the service (core + view + pool, rdonly for subscribers) and check opts compatibility. */
/* The service's settings as this view validated them (shmipc_pubsub_*_options); local fields default. */
SHMIPC_INTERNAL void shmipc__ps_options(const shmipc__ps *ps, shmipc_pubsub_opts *o);
SHMIPC_INTERNAL int shmipc__ps_open(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts,
                                    bool rdonly_pool);
SHMIPC_INTERNAL void shmipc__ps_close(shmipc__ps *ps);
/* Create the service (or, if a live one exists or !create, open it) for a publisher. */
SHMIPC_INTERNAL int shmipc__ps_create_or_open(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts,
                                              bool create);
extern const shmipc__pattern_ops shmipc__pubsub_ops;

/* Bump the membership epoch (after a join or leave is visible). */
static inline void ps_epoch_bump(shmipc__ps *ps)
{
    /* seq_cst: a joiner's bump and its later load of a publisher's history tail, against the publisher's
     * seq_cst history store and its later epoch load (see ARCHITECTURE.md, late joiners). */
    atomic_fetch_add_explicit(&ps->hdr->epoch, 1, memory_order_seq_cst);
}

/* Recover partition k whose publisher is gone (dead, or closed): drain its return connections, end its
 * loans and clear reference bits that no subscriber holds. Only with slot k's claim held by the caller
 * (its successor) or its dead owner's participant reclaim running. */
SHMIPC_INTERNAL void shmipc__ps_part_recover(shmipc__ps *ps, uint32_t k);
/* Apply return entry (a, b) from subscriber slot j of generation gen to partition k (its owner only).
 * Returns true if the chunk became unreferenced. */
SHMIPC_INTERNAL bool shmipc__ps_ret_apply(shmipc__ps *ps, uint32_t k, uint32_t j, uint16_t gen, uint64_t a,
                                          uint64_t b);
/* Clear reference bits from every chunk of partition k (its owner, or a recoverer). */
SHMIPC_INTERNAL void shmipc__ps_sweep(shmipc__ps *ps, uint32_t k, uint64_t bits);
/* Free subscriber slot j (clean close or reclaim of its dead owner): inactive, its pins swept. */
SHMIPC_INTERNAL void shmipc__ps_sub_free(shmipc__ps *ps, uint32_t j);
/* Chunks in use (loaned, in a history, held or queued for a subscriber that is still served, pinned),
 * derived from the reference words less the returns not yet drained (for tests and tools). */
SHMIPC_INTERNAL uint32_t shmipc__ps_pool_used(const shmipc__ps *ps);

#define PS_STAT_PUBLISHED 0
#define PS_STAT_DELIVERED 1
#define PS_STAT_DROPPED 2
#define PS_STAT_POOL_USED 3
#define PS_NSTATS 4 /* every figure is derived at describe time from the publishers' own lines */

/* A publisher's private view of one subscriber slot. */
typedef struct ps_pub_peer {
    shmipc__conn_tx tx; /* deliver */
    shmipc__conn_rx rx; /* return */
    uint16_t gen;       /* generation served, 0 = none */
    bool broken;        /* a connection's indices were corrupt at attach */
} ps_pub_peer;

struct shmipc_pubsub_publisher {
    shmipc__ps ps;
    uint32_t k;           /* publisher slot */
    uint32_t nloans;
    int publish_timeout_ms;
    shmipc_wait_mode wait_mode; /* how a publish waits for room (SHMIPC_PUBSUB_WAIT) */
    uint64_t epoch;       /* membership epoch last applied */
    uint64_t targets;     /* subscriber slots served */
    uint64_t seq;         /* last sequence used */
    uint64_t published, delivered, dropped; /* mirrors of our figures */
    shmipc__ps_chunk *desc; /* our partition's descriptors */
    uint32_t *free;       /* FIFO of free local chunk indices (part_chunks entries) */
    uint32_t nfree, free_head;
    shmipc__wait_adapt adapt;
    shmipc__conn_entry *scratch; /* dcap entries: what an overwrite push takes back */
    ps_pub_peer *peers;   /* max_subs */
    uint32_t loans[];     /* max_loans local chunk indices */
};

/* A subscriber's private view of one publisher slot. */
typedef struct ps_sub_peer {
    shmipc__conn_rx rx; /* deliver */
    shmipc__conn_tx tx; /* return */
    uint64_t base;      /* deliver connection's dropped count at join */
    uint64_t hist_max;  /* highest sequence taken from this publisher's history at join */
    uint32_t guess;     /* the chunk this publisher most likely delivers next (last one + 1) */
    bool broken;
} ps_sub_peer;

typedef struct ps_held {
    uint32_t k, c;       /* publisher slot, local chunk */
    uint64_t seq, len;
    uint32_t rec;        /* index of its held record in the subscriber slot (delivered ones) */
    bool pinned;         /* from the history (a pin) rather than delivered (a reference) */
} ps_held;

struct shmipc_pubsub_subscriber {
    shmipc__ps ps;
    uint32_t j;          /* subscriber slot */
    uint16_t gen;
    uint32_t nheld, next; /* held samples; next publisher slot to look at */
    uint32_t nhist, hist_pos; /* history samples pinned at join, not yet received */
    shmipc_wait_mode wait_mode;
    shmipc__wait_adapt adapt;
    ps_sub_peer *peers;  /* max_pubs */
    ps_held *hist;       /* max_pubs * history */
    ps_held held[];      /* max_held */
};

/* Build a handle on an already opened view (its mappings are borrowed, not closed): how the thread tests
 * put several handles on one mapping so that ThreadSanitizer sees every access. */
SHMIPC_INTERNAL int shmipc__publisher_attach(const shmipc__ps *view, int publish_timeout_ms, shmipc_wait_mode mode,
                                             shmipc_pubsub_publisher **out);
SHMIPC_INTERNAL int shmipc__subscriber_attach(const shmipc__ps *view, shmipc_wait_mode mode,
                                              shmipc_pubsub_subscriber **out);

#endif
