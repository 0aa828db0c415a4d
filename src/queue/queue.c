/* SPDX-License-Identifier: MIT */
/*
 * queue/queue.c - the life of an MPMC queue: geometry, formatting the shared area, validating it at open,
 * registering in (and reclaiming entries of dead processes from) the participant table, close, stats.
 * Pushing and popping live in queue_ops.c.
 */
#include "queue/queue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_FLAGS (SHMIPC_QUEUE_ALLOW_FOREIGN | SHMIPC_QUEUE_OBSERVE | SHMIPC_QUEUE_PRODUCER | SHMIPC_QUEUE_CONSUMER)

void shmipc_queue_opts_init(shmipc_queue_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

int shmipc__queue_geom_compute(uint32_t slot_count, uint32_t slot_size, uint32_t max_participants,
                       shmipc__queue_geom *g)
{
    if (slot_count < 2 || slot_count > SHMIPC_QUEUE_MAX_SLOT_COUNT || (slot_count & (slot_count - 1)))
        return -EINVAL;
    if (slot_size > SHMIPC_QUEUE_MAX_SLOT_SIZE || max_participants < 1 ||
        max_participants > SHMIPC_QUEUE_MAX_PARTICIPANTS)
        return -EINVAL;
    g->slot_count = slot_count;
    g->slot_size = slot_size;
    g->slot_stride = (uint32_t)shmipc__align_up(QUEUE_SLOT_HDR + (size_t)slot_size, SHMIPC_CACHELINE);
    g->max_participants = max_participants;
    g->table_offset = sizeof(shmipc__queue_hdr);
    g->slots_offset = g->table_offset + (uint64_t)max_participants * sizeof(shmipc__participant);
    /* At most 2^24 slots of 16 MiB + 64: fits 64 bits with room to spare. */
    g->total_size = g->slots_offset + (uint64_t)slot_count * g->slot_stride;
    if (g->total_size > (uint64_t)SIZE_MAX / 2)
        return -EINVAL;
    return 0;
}

static int opts_geom(const shmipc_queue_opts *o, shmipc__queue_geom *g)
{
    return shmipc__queue_geom_compute(o->slot_count ? o->slot_count : SHMIPC_QUEUE_DEFAULT_SLOT_COUNT,
                              o->slot_size ? o->slot_size : SHMIPC_QUEUE_DEFAULT_SLOT_SIZE,
                              o->max_participants ? o->max_participants : SHMIPC_QUEUE_DEFAULT_PARTICIPANTS, g);
}

static int opts_check(const shmipc_queue_opts *o)
{
    if (o->flags & ~QUEUE_FLAGS)
        return -EINVAL;
    if ((unsigned)o->wait_mode > SHMIPC_WAIT_HYBRID)
        return -EINVAL;
    return 0;
}

int shmipc_queue_memory_size(const shmipc_queue_opts *opts, size_t *size)
{
    shmipc_queue_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_queue_opts, shmipc_queue_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    shmipc__queue_geom g;
    if (!size)
        return -EINVAL;
    int err = opts_geom(opts, &g);
    if (err)
        return err;
    *size = (size_t)g.total_size;
    return 0;
}

int shmipc__queue_broken(shmipc_queue *q)
{
    atomic_store_explicit(&q->hdr->broken, 1, memory_order_relaxed);
    return -EBADMSG;
}

int shmipc_queue_create_in(shmipc_segment *seg, const shmipc_queue_opts *opts)
{
    shmipc_queue_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_queue_opts, shmipc_queue_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    shmipc__queue_geom g;
    if (!seg)
        return -EINVAL;
    if (seg->flags & SHMIPC_SEG_RDONLY)
        return -EPERM; /* the first store would fault */
    int err = opts_geom(opts, &g);
    if (err)
        return err;
    if (shmipc_segment_data_size(seg) < g.total_size)
        return -ENOSPC;
    unsigned char *base = shmipc_segment_data(seg);
    /* The segment is not shared yet (or the caller has promised so): plain stores suffice, and the
     * segment's release store of ready (or the caller's fork/descriptor passing) publishes them. */
    memset(base, 0, (size_t)g.slots_offset);
    shmipc__queue_hdr *h = (shmipc__queue_hdr *)base;
    h->magic = SHMIPC_QUEUE_MAGIC;
    h->version = SHMIPC_QUEUE_VERSION;
    h->header_size = sizeof *h;
    h->slot_count = g.slot_count;
    h->slot_size = g.slot_size;
    h->slot_stride = g.slot_stride;
    h->max_participants = g.max_participants;
    h->table_offset = g.table_offset;
    h->slots_offset = g.slots_offset;
    h->total_size = g.total_size;
    shmipc__notify_init(&h->not_empty);
    shmipc__notify_init(&h->not_full);
    for (uint32_t i = 0; i < g.slot_count; i++) {
        shmipc__queue_slot *s = (shmipc__queue_slot *)(base + g.slots_offset + (uint64_t)i * g.slot_stride);
        atomic_store_explicit(&s->word, qw_make(i, QS_FREE, 0), memory_order_relaxed);
        atomic_store_explicit(&s->len, 0, memory_order_relaxed);
        s->reserved = 0;
    }
    return 0;
}

/* Read line 0 of the header once (a peer may be changing it) and check it against the segment. */
static int queue_check(const shmipc__queue_hdr *h, size_t data_size, bool allow_broken, shmipc__queue_geom *g)
{
    if (data_size < sizeof *h)
        return -EBADMSG;
    if (__atomic_load_n(&h->magic, __ATOMIC_RELAXED) != SHMIPC_QUEUE_MAGIC)
        return -EBADMSG;
    if (__atomic_load_n(&h->version, __ATOMIC_RELAXED) != SHMIPC_QUEUE_VERSION)
        return -EPROTO;
    if (__atomic_load_n(&h->header_size, __ATOMIC_RELAXED) != sizeof *h)
        return -EBADMSG;
    uint32_t count = __atomic_load_n(&h->slot_count, __ATOMIC_RELAXED);
    uint32_t size = __atomic_load_n(&h->slot_size, __ATOMIC_RELAXED);
    uint32_t parts = __atomic_load_n(&h->max_participants, __ATOMIC_RELAXED);
    if (shmipc__queue_geom_compute(count, size, parts, g))
        return -EBADMSG;
    /* Every derived value must be exactly what the geometry implies: a peer cannot point the table or
     * the slots anywhere else. */
    if (__atomic_load_n(&h->slot_stride, __ATOMIC_RELAXED) != g->slot_stride ||
        __atomic_load_n(&h->table_offset, __ATOMIC_RELAXED) != g->table_offset ||
        __atomic_load_n(&h->slots_offset, __ATOMIC_RELAXED) != g->slots_offset ||
        __atomic_load_n(&h->total_size, __ATOMIC_RELAXED) != g->total_size || g->total_size > data_size)
        return -EBADMSG;
    if (!allow_broken && atomic_load_explicit(&((shmipc__queue_hdr *)h)->broken, memory_order_relaxed))
        return -EBADMSG;
    return 0;
}

static int queue_validate(const shmipc__queue_hdr *h, size_t data_size, shmipc__queue_geom *g)
{
    return queue_check(h, data_size, false, g);
}

/* Move a participant entry's counters into the header's retired totals (close and reclaim). */
static void queue_retire_counts(shmipc_queue *q, shmipc__participant *e)
{
    /* relaxed: statistics; exchange so that each count is retired once even if two processes race. */
    uint64_t pu = atomic_exchange_explicit(&e->count[QP_PUSHES], 0, memory_order_relaxed);
    uint64_t po = atomic_exchange_explicit(&e->count[QP_POPS], 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->hdr->retired_pushes, pu, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->hdr->retired_pops, po, memory_order_relaxed);
}

/*
 * Repair every slot still WRITING or READING under index i. Used by the reclaim of entry i after a dead
 * owner (before the entry is freed, so before anyone can claim it again), and when a handle closes with
 * zero-copy claims still held: no slot is ever owned by index i on behalf of a gone handle while entry i
 * names a live process (the waiters' liveness check relies on that).
 */
static void queue_repair_owned(shmipc_queue *q, uint32_t i)
{
    for (uint32_t k = 0; k < q->slot_count; k++) {
        shmipc__queue_slot *s = queue_slot(q, k);
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        unsigned st = qw_state(w);
        if ((st == QS_WRITING || st == QS_READING) && qw_owner(w) == i + 1)
            shmipc__queue_repair(q, s, w);
    }
}

/* Point a (stack or heap) handle at a validated queue area. */
static void queue_bind(shmipc_queue *q, shmipc_segment *seg, unsigned char *base, const shmipc__queue_geom *g)
{
    q->hdr = (shmipc__queue_hdr *)base;
    q->table = (shmipc__participant *)(base + g->table_offset);
    q->slots = base + g->slots_offset;
    q->seg = seg;
    q->slot_count = g->slot_count;
    q->mask = g->slot_count - 1;
    q->slot_size = g->slot_size;
    q->slot_stride = g->slot_stride;
    q->max_participants = g->max_participants;
    q->part = -1;
    memset(&q->svc, 0, sizeof q->svc);
    q->svc.seg = seg;
    q->svc.parts = q->table;
    q->svc.nparts = g->max_participants;
    q->svc.pattern = SHMIPC_PATTERN_QUEUE;
    q->svc.pattern_area = base;
    q->svc.pattern_size = (size_t)g->total_size;
}

/* The queue's pattern reclaim, run by the core (with the entry's reclaimer word held) for a dead owner,
 * from a joining handle or from gc: its counts are retired and the slots it held repaired. The geometry
 * is read again from the header and checked against the area validated at open, so a peer rewriting it
 * since cannot send the repair out of bounds. Idempotent (exchange and CAS). */
static int queue_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)role, (void)user;
    shmipc__queue_geom g;
    int err = queue_check(svc->pattern_area, svc->pattern_size, true, &g);
    if (err || slot >= g.max_participants)
        return err ? err : -EBADMSG;
    shmipc_queue q;
    memset(&q, 0, sizeof q);
    queue_bind(&q, svc->seg, svc->pattern_area, &g);
    queue_retire_counts(&q, &q.table[slot]);
    queue_repair_owned(&q, slot);
    return 0;
}

static int queue_register(shmipc_queue *q, unsigned flags)
{
    unsigned rf = flags & (SHMIPC_QUEUE_PRODUCER | SHMIPC_QUEUE_CONSUMER);
    uint32_t role = rf == SHMIPC_QUEUE_PRODUCER ? SHMIPC_ROLE_PRODUCER
                    : rf == SHMIPC_QUEUE_CONSUMER ? SHMIPC_ROLE_CONSUMER : SHMIPC_ROLE_PEER;
    q->ident = shmipc__owner_self();
    /* The core's join: a free entry, else the dead ones are reclaimed (queue_reclaim) and one is claimed.
     * acq_rel on the claim inside: acquire so that we see the state a reclaim left, release so that the
     * next reclaimer sees our identity first. */
    int slot = shmipc__svc_join(&q->svc, role, 0);
    if (slot < 0)
        return slot;
    queue_retire_counts(q, &q->table[slot]); /* leftovers, if a peer scribbled here */
    q->part = slot;
    return 0;
}

int shmipc_queue_open_in(shmipc_segment *seg, const shmipc_queue_opts *opts, shmipc_queue **out)
{
    shmipc_queue_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_queue_opts, shmipc_queue_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    shmipc__queue_geom g;
    if (!seg || !out)
        return -EINVAL;
    int err = opts_check(opts);
    if (err)
        return err;
    /* Registering, pushing and popping write to the area: a read-only mapping would fault. */
    if ((seg->flags & SHMIPC_SEG_RDONLY) && !(opts->flags & SHMIPC_QUEUE_OBSERVE))
        return -EPERM;
    unsigned char *base = shmipc_segment_data(seg);
    err = queue_validate((const shmipc__queue_hdr *)base, shmipc_segment_data_size(seg), &g);
    if (err)
        return err;
    shmipc_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    queue_bind(q, seg, base, &g);
    atomic_init(&q->wait_mode, opts->wait_mode ? (int)opts->wait_mode : SHMIPC_WAIT_HYBRID);
    atomic_init(&q->stall_word, 0);
    atomic_init(&q->stall_since, 0);
    atomic_init(&q->stall_checked, 0);
    atomic_init(&q->held, 0);
    atomic_init(&q->adapt_ns, 0);
    if (!(opts->flags & SHMIPC_QUEUE_OBSERVE)) {
        err = queue_register(q, opts->flags);
        if (err) {
            free(q);
            return err;
        }
    }
    *out = q;
    return 0;
}

int shmipc_queue_create(const char *name, const shmipc_queue_opts *opts, shmipc_queue **out)
{
    shmipc_queue_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_queue_opts, shmipc_queue_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    shmipc__queue_geom g;
    if (!out)
        return -EINVAL;
    int err = opts_check(opts);
    if (!err)
        err = opts_geom(opts, &g);
    if (err)
        return err;
    shmipc_segment_opts so = {.size = sizeof so, .mode = opts->mode, .type = SHMIPC_TYPE_QUEUE, .flags = SHMIPC_SEG_DEFER_READY};
    shmipc_segment *seg;
    err = shmipc_segment_create(name, (size_t)g.total_size, &so, &seg);
    if (err)
        return err;
    shmipc_queue *q = NULL;
    err = shmipc_queue_create_in(seg, opts);
    if (!err)
        err = shmipc_queue_open_in(seg, opts, &q);
    if (!err)
        err = shmipc_segment_publish(seg);
    if (err) {
        shmipc_queue_close(q);
        shmipc_segment_close(seg);
        shmipc_segment_unlink(name);
        return err;
    }
    q->owns_seg = true;
    *out = q;
    return 0;
}

int shmipc_queue_open(const char *name, const shmipc_queue_opts *opts, shmipc_queue **out)
{
    shmipc_queue_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_queue_opts, shmipc_queue_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    if (!out)
        return -EINVAL;
    int err = opts_check(opts);
    if (err)
        return err;
    shmipc_segment_opts so = {.size = sizeof so,
        .type = SHMIPC_TYPE_QUEUE,
        .flags = (opts->flags & SHMIPC_QUEUE_ALLOW_FOREIGN) ? SHMIPC_SEG_ALLOW_FOREIGN : 0,
        .ready_timeout_ms = opts->ready_timeout_ms,
    };
    shmipc_segment *seg;
    err = shmipc_segment_open(name, &so, &seg);
    if (err)
        return err;
    err = shmipc_queue_open_in(seg, opts, out);
    if (err) {
        shmipc_segment_close(seg);
        return err;
    }
    (*out)->owns_seg = true;
    return 0;
}

int shmipc_queue_close(shmipc_queue *q)
{
    if (!q)
        return 0;
    if (q->part >= 0) {
        shmipc__participant *e = &q->table[q->part];
        /* Claims never committed or released are abandoned: free their slots before the entry. */
        if (atomic_load_explicit(&q->held, memory_order_relaxed) != 0)
            queue_repair_owned(q, (uint32_t)q->part);
        queue_retire_counts(q, e);
        /* release inside: our last slot stores are ordered before the entry is seen free. An entry a peer
         * overwrote is theirs now: the core leaves it alone. */
        shmipc__svc_leave(&q->svc, (uint32_t)q->part);
    }
    if (q->owns_seg)
        shmipc_segment_close(q->seg);
    free(q);
    return 0;
}

int shmipc_queue_unlink(const char *name) { return shmipc_segment_unlink(name); }

int shmipc_queue_set_wait(shmipc_queue *q, shmipc_wait_mode mode)
{
    if (!q || (unsigned)mode > SHMIPC_WAIT_HYBRID)
        return -EINVAL;
    atomic_store_explicit(&q->wait_mode, mode ? (int)mode : SHMIPC_WAIT_HYBRID, memory_order_relaxed);
    return 0;
}

size_t shmipc_queue_slot_size(const shmipc_queue *q) { return q ? q->slot_size : 0; }

int shmipc_queue_stats_get(const shmipc_queue *q, shmipc_queue_stats *st)
{
    if (!q || !st)
        return -EINVAL;
    shmipc__queue_hdr *h = q->hdr;
    memset(st, 0, sizeof *st);
    /* relaxed throughout: counters, not data; the result is a snapshot. */
    st->pushes = atomic_load_explicit(&h->retired_pushes, memory_order_relaxed);
    st->pops = atomic_load_explicit(&h->retired_pops, memory_order_relaxed);
    for (uint32_t i = 0; i < q->max_participants; i++) {
        if (atomic_load_explicit(&q->table[i].owner, memory_order_relaxed))
            st->participants++;
        st->pushes += atomic_load_explicit(&q->table[i].count[QP_PUSHES], memory_order_relaxed);
        st->pops += atomic_load_explicit(&q->table[i].count[QP_POPS], memory_order_relaxed);
    }
    st->lost = atomic_load_explicit(&h->lost, memory_order_relaxed);
    uint64_t deq = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed);
    uint64_t enq = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
    st->depth = enq - deq > q->slot_count ? (enq >= deq ? q->slot_count : 0) : enq - deq;
    st->slot_count = q->slot_count;
    st->slot_size = q->slot_size;
    st->max_participants = q->max_participants;
    st->broken = atomic_load_explicit(&h->broken, memory_order_relaxed) != 0;
    return 0;
}

/* ---- the queue as a pattern of the core (discovery, gc, the one reclaim path) ------------------------ */

static int queue_open_object(shmipc__svc *svc)
{
    shmipc__queue_geom g;
    unsigned char *base = shmipc_segment_data(svc->seg);
    int err = queue_check((const shmipc__queue_hdr *)base, shmipc_segment_data_size(svc->seg), true, &g);
    if (err)
        return err;
    svc->parts = (shmipc__participant *)(base + g.table_offset);
    svc->nparts = g.max_participants;
    svc->pattern_area = base;
    svc->pattern_size = (size_t)g.total_size;
    return 0;
}

static void queue_describe(const shmipc__svc *svc, char *buf, size_t cap)
{
    shmipc__queue_geom g;
    shmipc__queue_hdr *h = svc->pattern_area;
    if (queue_check(h, svc->pattern_size, true, &g)) {
        snprintf(buf, cap, "corrupt");
        return;
    }
    snprintf(buf, cap, "slots=%u slot_size=%u participants=%u broken=%u", g.slot_count, g.slot_size,
             g.max_participants, atomic_load_explicit(&h->broken, memory_order_relaxed) ? 1u : 0u);
}

static uint32_t queue_object_stats(const shmipc__svc *svc, char names[][24], uint64_t *v)
{
    shmipc__queue_geom g;
    shmipc__queue_hdr *h = svc->pattern_area;
    if (queue_check(h, svc->pattern_size, true, &g))
        return 0;
    shmipc_queue q;
    memset(&q, 0, sizeof q);
    queue_bind(&q, svc->seg, svc->pattern_area, &g);
    shmipc_queue_stats st;
    shmipc_queue_stats_get(&q, &st);
    static const char *const n[] = {"pushed", "popped", "lost", "slots_used"};
    v[0] = st.pushes;
    v[1] = st.pops;
    v[2] = st.lost;
    v[3] = st.depth;
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(n); i++)
        snprintf(names[i], 24, "%s", n[i]);
    return (uint32_t)SHMIPC_ARRAY_LEN(n);
}

const shmipc__pattern_ops shmipc__queue_ops = {
    .pattern = SHMIPC_PATTERN_QUEUE,
    .seg_type = SHMIPC_TYPE_QUEUE,
    .reclaim = queue_reclaim,
    .describe = queue_describe,
    .open_object = queue_open_object,
    .object_stats = queue_object_stats,
};
