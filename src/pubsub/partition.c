/* SPDX-License-Identifier: MIT */
/*
 * pubsub/partition.c - a publisher slot's partition of the chunk pool: applying returned chunks, sweeping
 * a subscriber slot's references, recovering the partition of a publisher that is gone (so that its
 * successor or gc neither leaks chunks nor frees one a live subscriber still reads), freeing a subscriber
 * slot, and the pool figure tools see. Nothing here takes a lock: the reference words are written by the
 * partition's publisher alone, or by the one process recovering the partition while nobody owns it.
 */
#include "pubsub/pubsub_internal.h"

#include <stdlib.h>
#include <string.h>

bool shmipc__ps_ret_apply(shmipc__ps *ps, uint32_t k, uint32_t j, uint16_t gen, uint64_t a, uint64_t b)
{
    /* A return counts only for the generation it was delivered to and the sample the chunk still holds:
     * a duplicate, stale or forged one names a sample the chunk no longer (or never) held, and changes
     * nothing. */
    if (gen == 0 || (b >> PS_SEQ_BITS) != gen || a >= ps->part_chunks)
        return false;
    shmipc__ps_chunk *d = ps_desc(ps, k, (uint32_t)a);
    uint64_t bit = UINT64_C(1) << j;
    /* relaxed: refs and seq are written by this partition's owner, which is the caller. */
    uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed);
    if (!(r & bit) || atomic_load_explicit(&d->seq, memory_order_relaxed) != (b & PS_SEQ_MASK))
        return false;
    r &= ~bit;
    atomic_store_explicit(&d->refs, r, memory_order_relaxed);
    return r == 0;
}

void shmipc__ps_sweep(shmipc__ps *ps, uint32_t k, uint64_t bits)
{
    for (uint32_t c = 0; c < ps->part_chunks; c++) {
        shmipc__ps_chunk *d = ps_desc(ps, k, c);
        uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed);
        if (r & bits)
            atomic_store_explicit(&d->refs, r & ~bits, memory_order_relaxed);
    }
}

/* Is (c, seq) a sample this partition delivered (the chunk still holds it)? */
static bool holds(const shmipc__ps *ps, uint32_t k, uint64_t c, uint64_t seq)
{
    return c < ps->part_chunks &&
           atomic_load_explicit(&ps_desc(ps, k, (uint32_t)c)->seq, memory_order_relaxed) == seq;
}

/* Drain return connection (k, j) as its consumer (recovery only), applying every return. */
static void drain_returns(shmipc__ps *ps, uint32_t k, uint32_t j, uint16_t gen, unsigned char *seen)
{
    shmipc__conn_rx rx;
    if (shmipc__conn_rx_attach(&rx, ps_rconn(ps, k, j), ps->rcap, 0) != 0)
        return;
    uint64_t a, b;
    for (uint32_t n = 0; n < ps->rcap && shmipc__conn_peek(&rx, &a, &b) == 0; n++) {
        shmipc__ps_ret_apply(ps, k, j, gen, a, b);
        if (seen && a < ps->part_chunks)
            seen[a] = 0;
        shmipc__conn_pop(&rx);
    }
}

void shmipc__ps_part_recover(shmipc__ps *ps, uint32_t k)
{
    shmipc__ps_pub *p = ps_pub(ps, k);
    uint32_t n = ps->part_chunks;
    unsigned char *seen = calloc(n, 1);
    /* 1. Loans end: the owner is gone. */
    for (uint32_t c = 0; c < n; c++) {
        shmipc__ps_chunk *d = ps_desc(ps, k, c);
        uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed);
        if (r & PS_LOANED)
            atomic_store_explicit(&d->refs, r & ~PS_LOANED, memory_order_relaxed);
    }
    /* 2. The history pins exactly the chunks its ring names (the owner may have died mid-insert). */
    if (ps->history && seen) {
        uint64_t t = atomic_load_explicit(&p->hist_tail, memory_order_acquire);
        uint64_t first = t > ps->history ? t - ps->history : 0;
        for (uint64_t i = first; i < t; i++) {
            shmipc__conn_entry *e = &ps_hist(ps, k)[i % ps->history];
            uint64_t c = atomic_load_explicit(&e->a, memory_order_relaxed);
            if (holds(ps, k, c, atomic_load_explicit(&e->b, memory_order_relaxed)))
                seen[c] = 1;
        }
        for (uint32_t c = 0; c < n; c++) {
            shmipc__ps_chunk *d = ps_desc(ps, k, c);
            uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed);
            uint64_t want = seen[c] ? (r | PS_HIST_BIT) : (r & ~PS_HIST_BIT);
            if (want != r)
                atomic_store_explicit(&d->refs, want, memory_order_relaxed);
        }
    }
    /* 3. Per subscriber slot: a reference is kept only where the subscriber can reach the chunk. A chunk
     * moves deliver connection -> held record -> return connection, and each move writes the next place
     * before it leaves the previous one, so looking in that order finds every chunk it holds. */
    for (uint32_t j = 0; j < ps->max_subs; j++) {
        uint64_t bit = UINT64_C(1) << j;
        shmipc__ps_sub *s = ps_sub(ps, j);
        uint16_t served = atomic_load_explicit(&p->served[j], memory_order_relaxed);
        /* acquire: pairs with the subscriber's release of state (its gen and held records are set). */
        bool live = atomic_load_explicit(&s->state, memory_order_acquire) == PS_SUB_ACTIVE && served != 0 &&
                    (atomic_load_explicit(&s->gen, memory_order_relaxed) & PS_GEN_MASK) == served;
        if (!live || !seen) {
            drain_returns(ps, k, j, live ? served : 0, NULL);
            if (!live) {
                shmipc__ps_sweep(ps, k, bit);
                atomic_store_explicit(&p->served[j], 0, memory_order_relaxed);
            }
            continue;
        }
        memset(seen, 0, n);
        shmipc__conn *dc = ps_dconn(ps, k, j);
        /* acquire: entries up to head are complete. */
        uint64_t t = atomic_load_explicit(&dc->tail, memory_order_acquire);
        uint64_t h = atomic_load_explicit(&dc->head, memory_order_acquire);
        h = shmipc__conn_head_scan(dc, ps->dcap, t, h); /* what it published before its head store counts */
        if (t <= h && h - t <= ps->dcap) {
            for (uint64_t i = t; i < h; i++) {
                shmipc__conn_entry *e = &dc->ring[i & (ps->dcap - 1)];
                uint64_t a = atomic_load_explicit(&e->a, memory_order_relaxed) & ~SHMIPC__CONN_STAMP;
                uint64_t b = atomic_load_explicit(&e->b, memory_order_relaxed);
                if ((b >> PS_SEQ_BITS) == served && holds(ps, k, a & PS_LOCAL_MASK, b & PS_SEQ_MASK))
                    seen[a & PS_LOCAL_MASK] = 1;
            }
        }
        for (uint32_t i = 0; i < ps->max_held; i++) {
            /* acquire: pairs with the subscriber's release store of the record. */
            uint64_t a = atomic_load_explicit(&s->held[i].a, memory_order_acquire);
            uint64_t b = atomic_load_explicit(&s->held[i].b, memory_order_relaxed);
            if ((a >> 32) == k + 1 && holds(ps, k, a & PS_LOCAL_MASK, b))
                seen[a & PS_LOCAL_MASK] = 1;
        }
        drain_returns(ps, k, j, served, seen);
        for (uint32_t c = 0; c < n; c++) {
            shmipc__ps_chunk *d = ps_desc(ps, k, c);
            uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed);
            if ((r & bit) && !seen[c])
                atomic_store_explicit(&d->refs, r & ~bit, memory_order_relaxed);
        }
    }
    free(seen);
}

void shmipc__ps_sub_free(shmipc__ps *ps, uint32_t j)
{
    shmipc__ps_sub *s = ps_sub(ps, j);
    uint64_t bit = UINT64_C(1) << j;
    /* release: publishers that see the slot inactive sweep its references (they read state acquire). */
    atomic_store_explicit(&s->state, PS_SUB_FREE, memory_order_release);
    ps_epoch_bump(ps);
    /* Publishers waiting for room in our deliver connections move on. */
    for (uint32_t k = 0; k < ps->max_pubs; k++) {
        shmipc__notify *sp = &ps_dconn(ps, k, j)->space;
        if (atomic_load_explicit(&sp->waiters, memory_order_seq_cst) != 0)
            shmipc__notify_wake(sp, INT32_MAX);
    }
    ps_hook(PS_HOOK_MID_RECLAIM);
    /* Pins are cleared by their owner or, once it is gone, here: clearing an absent bit is harmless, so a
     * reclaimer killed halfway is simply followed by one that sweeps again. */
    for (uint32_t k = 0; k < ps->max_pubs; k++)
        for (uint32_t c = 0; c < ps->part_chunks; c++) {
            shmipc__ps_chunk *d = ps_desc(ps, k, c);
            if (atomic_load_explicit(&d->pins, memory_order_relaxed) & bit)
                atomic_fetch_and_explicit(&d->pins, ~bit, memory_order_release);
        }
    for (uint32_t i = 0; i < ps->max_held; i++)
        atomic_store_explicit(&s->held[i].a, 0, memory_order_relaxed);
    /* release: the sweep is complete before a new subscriber can claim the slot (CAS acq_rel). */
    atomic_store_explicit(&s->part, 0, memory_order_release);
}

uint32_t shmipc__ps_pool_used(const shmipc__ps *ps)
{
    uint32_t used = 0, n = ps->part_chunks;
    uint64_t *ret = calloc(n, sizeof *ret);
    for (uint32_t k = 0; k < ps->max_pubs; k++) {
        shmipc__ps_pub *p = ps_pub(ps, k);
        uint64_t live = 0;
        if (ret)
            memset(ret, 0, (size_t)n * sizeof *ret);
        for (uint32_t j = 0; j < ps->max_subs; j++) {
            shmipc__ps_sub *s = ps_sub(ps, j);
            uint16_t served = atomic_load_explicit(&p->served[j], memory_order_relaxed);
            if (served == 0 || atomic_load_explicit(&s->state, memory_order_acquire) != PS_SUB_ACTIVE ||
                (atomic_load_explicit(&s->gen, memory_order_relaxed) & PS_GEN_MASK) != served)
                continue; /* references of a slot no longer served are swept, not held */
            live |= UINT64_C(1) << j;
            if (!ret)
                continue;
            /* Returns not yet drained are released already. */
            shmipc__conn *rc = ps_rconn(ps, k, j);
            uint64_t t = atomic_load_explicit(&rc->tail, memory_order_acquire);
            uint64_t h = shmipc__conn_head_scan(rc, ps->rcap, t, atomic_load_explicit(&rc->head, memory_order_acquire));
            if (t > h || h - t > ps->rcap)
                continue;
            for (uint64_t i = t; i < h; i++) {
                shmipc__conn_entry *e = &rc->ring[i & (ps->rcap - 1)];
                uint64_t a = atomic_load_explicit(&e->a, memory_order_relaxed) & ~SHMIPC__CONN_STAMP;
                uint64_t b = atomic_load_explicit(&e->b, memory_order_relaxed);
                if (a < n && (b >> PS_SEQ_BITS) == served && holds(ps, k, a, b & PS_SEQ_MASK))
                    ret[a] |= UINT64_C(1) << j;
            }
        }
        for (uint32_t c = 0; c < n; c++) {
            shmipc__ps_chunk *d = ps_desc(ps, k, c);
            uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed);
            uint64_t held = (r & (PS_LOANED | PS_HIST_BIT)) | (r & live & ~(ret ? ret[c] : 0));
            used += held != 0 || atomic_load_explicit(&d->pins, memory_order_relaxed) != 0;
        }
    }
    free(ret);
    return used;
}
