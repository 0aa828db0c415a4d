/* SPDX-License-Identifier: MIT */
/*
 * pubsub/publisher.c - the publisher side: registering, loaning chunks (a CAS of a free chunk's holder
 * mask), publishing (one push per active subscriber queue, then history), the wait policy with liveness
 * checks between sleep slices, discarding, closing.
 */
#include "pubsub/pubsub_internal.h"

#include <stdlib.h>
#include <string.h>

#define PS_WAIT_SLICE_NS (20 * 1000000ull)

/* Claim a publisher slot for participant slot `slot` (max_publishers). Returns 0 or -EUSERS. */
static int pub_claim(shmipc__ps *ps, int slot)
{
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < ps->max_pubs; k++) {
            uint32_t expect = 0;
            /* acq_rel: acquire pairs with the release that freed the slot. */
            if (atomic_compare_exchange_strong_explicit(&ps->pubs[k], &expect, (uint32_t)slot + 1,
                                                        memory_order_acq_rel, memory_order_relaxed))
                return 0;
        }
        if (pass == 0 && shmipc__svc_reclaim_dead(&ps->svc) <= 0)
            break;
    }
    return -EUSERS;
}

static void pub_unclaim(shmipc__ps *ps)
{
    for (uint32_t k = 0; k < ps->max_pubs; k++) {
        uint32_t mine = (uint32_t)ps->slot + 1;
        /* release: our loans are back before the slot can be claimed again. */
        if (atomic_compare_exchange_strong_explicit(&ps->pubs[k], &mine, 0, memory_order_release,
                                                    memory_order_relaxed))
            return;
    }
}

/* Register a publisher on an opened view; on failure the view is closed. */
static int pub_attach(const shmipc__ps *view, int publish_timeout_ms, shmipc_publisher **out)
{
    shmipc_publisher *pub = calloc(1, sizeof *pub + view->max_loans * sizeof pub->loans[0]);
    if (!pub) {
        shmipc__ps_close((shmipc__ps *)view);
        return -ENOMEM;
    }
    pub->ps = *view;
    pub->publish_timeout_ms = publish_timeout_ms;
    int slot = shmipc__svc_join(&pub->ps.svc, SHMIPC_ROLE_PUBLISHER, 0);
    if (slot >= 0) {
        int err = pub_claim(&pub->ps, slot);
        if (err) {
            shmipc__svc_leave(&pub->ps.svc, (uint32_t)slot);
            slot = err;
        }
    }
    if (slot < 0) {
        shmipc__ps_close(&pub->ps);
        free(pub);
        return slot;
    }
    pub->ps.slot = slot;
    *out = pub;
    return 0;
}

int shmipc__publisher_attach(const shmipc__ps *view, int publish_timeout_ms, shmipc_publisher **out)
{
    shmipc__ps v = *view;
    v.borrowed = true;
    return pub_attach(&v, publish_timeout_ms, out);
}

static int pub_new(const char *name, const shmipc_pubsub_opts *opts, bool create, shmipc_publisher **out)
{
    if (!out)
        return -EINVAL;
    shmipc__ps ps;
    int err = shmipc__ps_create_or_open(&ps, name, opts, create);
    if (err)
        return err;
    return pub_attach(&ps, opts ? opts->publish_timeout_ms : 0, out);
}

int shmipc_publisher_create(const char *name, const shmipc_pubsub_opts *opts, shmipc_publisher **out)
{
    return pub_new(name, opts, true, out);
}

int shmipc_publisher_open(const char *name, const shmipc_pubsub_opts *opts, shmipc_publisher **out)
{
    return pub_new(name, opts, false, out);
}

uint32_t shmipc_publisher_id(const shmipc_publisher *pub) { return pub ? (uint32_t)pub->ps.slot : UINT32_MAX; }

int shmipc_publisher_loan(shmipc_publisher *pub, size_t len, void **ptr)
{
    if (!pub || !ptr || len > pub->ps.payload_max)
        return -EINVAL;
    if (pub->nloans >= pub->ps.max_loans)
        return -ENOBUFS;
    shmipc__ps *ps = &pub->ps;
    uint64_t mine = PS_LOANER((uint32_t)ps->slot);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < ps->nchunks; k++) {
            uint32_t c = (pub->hint + k) % ps->nchunks;
            uint64_t m = atomic_load_explicit(&ps->chunks[c].mask, memory_order_relaxed);
            /* acquire: pairs with the release of the last holder's drop (its reads are done). */
            if (m != 0 || !atomic_compare_exchange_strong_explicit(&ps->chunks[c].mask, &m, mine,
                                                                   memory_order_acquire, memory_order_relaxed))
                continue;
            pub->hint = c + 1;
            pub->loans[pub->nloans++] = c;
            ps_hook(PS_HOOK_AFTER_LOAN);
            *ptr = ps->pool + (size_t)c * ps->stride;
            return 0;
        }
        /* Empty: what dead participants hold may be all that is missing. */
        if (pass == 0 && shmipc__svc_reclaim_dead(&ps->svc) <= 0)
            break;
    }
    return -ENOBUFS;
}

/* Index in pub->loans of the chunk at ptr, or -1. */
static int pub_find_loan(const shmipc_publisher *pub, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr, base = (uintptr_t)pub->ps.pool;
    if (p < base)
        return -1;
    uint64_t off = (uint64_t)(p - base);
    if (off % pub->ps.stride || off / pub->ps.stride >= pub->ps.nchunks)
        return -1;
    uint32_t c = (uint32_t)(off / pub->ps.stride);
    for (uint32_t i = 0; i < pub->nloans; i++)
        if (pub->loans[i] == c)
            return (int)i;
    return -1;
}

static void pub_end_loan(shmipc_publisher *pub, int i)
{
    uint32_t c = pub->loans[i];
    pub->loans[i] = pub->loans[--pub->nloans];
    shmipc__ps_chunk_drop(&pub->ps, c, PS_LOANER_MASK);
}

int shmipc_publisher_discard(shmipc_publisher *pub, void *ptr)
{
    int i = pub ? pub_find_loan(pub, ptr) : -1;
    if (i < 0)
        return -EINVAL;
    pub_end_loan(pub, i);
    return 0;
}

/* Wait for room in subscriber j's queue (wait policy). Returns 0 to retry, or -ETIMEDOUT / -EINTR. */
static int pub_wait_space(shmipc_publisher *pub, uint32_t j, uint64_t deadline)
{
    shmipc__ps *ps = &pub->ps;
    shmipc__ps_sub *q = &ps->subs[j];
    uint32_t seen = shmipc__notify_prepare(&q->space);
    /* seq_cst: ordered after the announcement (see the notify protocol). */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_seq_cst);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_seq_cst);
    if (atomic_load_explicit(&q->state, memory_order_seq_cst) != PS_SUB_ACTIVE || tail - head < ps->depth) {
        shmipc__notify_cancel(&q->space);
        return 0;
    }
    uint64_t now = shmipc__now_ns();
    if (now >= deadline) {
        shmipc__notify_cancel(&q->space);
        return -ETIMEDOUT;
    }
    uint64_t slice = now + PS_WAIT_SLICE_NS < deadline ? now + PS_WAIT_SLICE_NS : deadline;
    int r = shmipc__notify_sleep(&q->space, seen, slice);
    if (r == -EINTR)
        return r;
    /* A dead subscriber never releases: between slices check it, and reclaim it if it is gone. */
    uint32_t part = atomic_load_explicit(&q->part, memory_order_acquire);
    if (part != 0 && part <= ps->svc.nparts) {
        uint64_t owner = atomic_load_explicit(&ps->svc.parts[part - 1].owner, memory_order_acquire);
        if (owner && !shmipc__owner_alive(owner))
            shmipc__svc_reclaim_dead(&ps->svc);
    }
    return 0;
}

/* Deliver c to subscriber j. Returns 1 delivered, 0 skipped (not active), or -ETIMEDOUT, -EINTR,
 * -EBADMSG. */
static int pub_deliver(shmipc_publisher *pub, uint32_t j, uint32_t c, uint64_t seq, uint64_t deadline)
{
    shmipc__ps *ps = &pub->ps;
    shmipc__ps_sub *q = &ps->subs[j];
    for (;;) {
        shmipc__ps_sub_lock(ps, j);
        if (atomic_load_explicit(&q->state, memory_order_relaxed) != PS_SUB_ACTIVE) {
            ps_unlock(&q->lock);
            return 0;
        }
        int r = shmipc__ps_push(ps, j, c, seq, ps->policy == SHMIPC_PUBSUB_DROP_OLDEST);
        ps_unlock(&q->lock);
        if (r == 0) {
            shmipc__notify_wake(&q->data, 1);
            return 1;
        }
        if (r != -EAGAIN)
            return r;
        r = pub_wait_space(pub, j, deadline);
        if (r) {
            atomic_fetch_add_explicit(&q->missed, 1, memory_order_relaxed);
            shmipc__svc_stat_add(&ps->svc, PS_STAT_DROPPED, 1);
            return r;
        }
    }
}

/* Under the history lock: a subscriber that became active after we looked at its slot (join epoch past
 * e0) and that we did not deliver to gets the sample now, so a late joiner never misses one. Nobody can
 * join meanwhile (joining takes the history lock), so join_epoch is stable while we read it. */
static int pub_catch_up_joiners(shmipc_publisher *pub, uint64_t e0, uint64_t delivered, uint32_t c,
                                uint64_t seq, uint64_t deadline)
{
    shmipc__ps *ps = &pub->ps;
    int n = 0;
    /* relaxed: joins changes only under the history lock, which we hold. */
    if (atomic_load_explicit(&ps->hist->joins, memory_order_relaxed) == e0)
        return 0;
    for (uint32_t j = 0; j < ps->max_subs; j++) {
        shmipc__ps_sub *q = &ps->subs[j];
        if ((delivered & (UINT64_C(1) << j)) ||
            atomic_load_explicit(&q->state, memory_order_acquire) != PS_SUB_ACTIVE || q->join_epoch <= e0)
            continue;
        n += pub_deliver(pub, j, c, seq, deadline) == 1;
    }
    return n;
}

int shmipc_publisher_publish(shmipc_publisher *pub, void *ptr, size_t len)
{
    int i = pub ? pub_find_loan(pub, ptr) : -1;
    if (i < 0)
        return -EINVAL;
    shmipc__ps *ps = &pub->ps;
    if (ps->flags & SHMIPC_PUBSUB_DYNAMIC) {
        if (len > ps->payload_max)
            return -EINVAL;
    } else if (len != 0 && len != ps->payload_max) {
        return -EINVAL;
    } else {
        len = ps->payload_max;
    }
    uint32_t c = pub->loans[i];
    shmipc__ps_chunk *ch = &ps->chunks[c];
    /* relaxed: only uniqueness matters; order comes from the queue locks. */
    uint64_t seq = atomic_fetch_add_explicit(&ps->hdr->next_seq, 1, memory_order_relaxed) + 1;
    /* relaxed: published to subscribers by the release of each queue push. */
    atomic_store_explicit(&ch->len, len, memory_order_relaxed);
    atomic_store_explicit(&ch->publisher, (uint32_t)ps->slot, memory_order_relaxed);
    atomic_store_explicit(&ch->seq, seq, memory_order_relaxed);
    /* acquire: pairs with a joiner's release of joins after it became active (see catch_up). */
    uint64_t e0 = ps->history ? atomic_load_explicit(&ps->hist->joins, memory_order_acquire) : 0;
    uint64_t deadline = pub->publish_timeout_ms > 0 ? shmipc__deadline(pub->publish_timeout_ms)
                                                    : SHMIPC_DEADLINE_NEVER;
    uint64_t delivered = 0;
    int n = 0, err = 0;
    for (uint32_t j = 0; j < ps->max_subs; j++) {
        /* acquire: a slot that looks inactive is re-checked under its lock only if it looks active. */
        if (atomic_load_explicit(&ps->subs[j].state, memory_order_acquire) != PS_SUB_ACTIVE)
            continue;
        int r = pub_deliver(pub, j, c, seq, deadline);
        if (r == 1) {
            delivered |= UINT64_C(1) << j;
            if (++n == 1)
                ps_hook(PS_HOOK_AFTER_FIRST);
        } else if (r < 0 && !err) {
            err = r;
        }
    }
    if (ps->history) {
        shmipc__ps_hist_lock(ps);
        n += pub_catch_up_joiners(pub, e0, delivered, c, seq, deadline);
        shmipc__ps_hist_insert(ps, c, seq);
        ps_unlock(&ps->hist->lock);
    }
    shmipc__svc_stat_add(&ps->svc, PS_STAT_DELIVERED, (uint64_t)n);
    ps_hook(PS_HOOK_AFTER_PUBLISH);
    pub_end_loan(pub, i);
    shmipc__svc_stat_add(&ps->svc, PS_STAT_PUBLISHED, 1);
    return err ? err : n;
}

int shmipc_publisher_publish_copy(shmipc_publisher *pub, const void *buf, size_t len)
{
    if (!pub || (!buf && len))
        return -EINVAL;
    if (!(pub->ps.flags & SHMIPC_PUBSUB_DYNAMIC) && len != pub->ps.payload_max)
        return -EINVAL;
    void *p;
    int err = shmipc_publisher_loan(pub, len, &p);
    if (err)
        return err;
    if (len) /* buf may be NULL when len is 0: memcpy must not get it */
        memcpy(p, buf, len);
    return shmipc_publisher_publish(pub, p, len);
}

int shmipc_publisher_close(shmipc_publisher *pub)
{
    if (!pub)
        return 0;
    while (pub->nloans)
        pub_end_loan(pub, 0);
    pub_unclaim(&pub->ps);
    shmipc__svc_leave(&pub->ps.svc, (uint32_t)pub->ps.slot);
    shmipc__ps_close(&pub->ps);
    free(pub);
    return 0;
}
