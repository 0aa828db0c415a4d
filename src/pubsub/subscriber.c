/* SPDX-License-Identifier: MIT */
/*
 * pubsub/subscriber.c - the subscriber side: claiming a subscriber slot (its bit in every chunk's holder
 * mask), receiving the history, popping samples as read-only views of pool chunks, blocking on the
 * queue's notify word, releasing, closing.
 */
#include "pubsub/pubsub_internal.h"

#include <stdlib.h>
#include <string.h>

#define PS_RECV_SPINS 2000

/* Claim a free subscriber slot for participant slot `slot`. Returns its index or -EUSERS. */
static int sub_claim(shmipc__ps *ps, int slot)
{
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t j = 0; j < ps->max_subs; j++) {
            uint32_t expect = 0;
            /* acq_rel: acquire pairs with the release that freed the slot after its sweep. */
            if (atomic_compare_exchange_strong_explicit(&ps->subs[j].part, &expect, (uint32_t)slot + 1,
                                                        memory_order_acq_rel, memory_order_relaxed))
                return (int)j;
        }
        if (pass == 0 && shmipc__svc_reclaim_dead(&ps->svc) <= 0)
            break;
    }
    return -EUSERS;
}

/* Reset slot j's queue, hand it the history, and make it active. */
static void sub_activate(shmipc__ps *ps, uint32_t j)
{
    shmipc__ps_sub *q = &ps->subs[j];
    if (ps->history)
        shmipc__ps_hist_lock(ps);
    shmipc__ps_sub_lock(ps, j);
    atomic_store_explicit(&q->head, atomic_load_explicit(&q->tail, memory_order_relaxed), memory_order_relaxed);
    q->pend_kind = PS_PEND_NONE;
    atomic_store_explicit(&q->missed, 0, memory_order_relaxed);
    /* Only this slot's owner sleeps on data: a count left by a dead predecessor can go. */
    atomic_store_explicit(&q->data.waiters, 0, memory_order_relaxed);
    if (ps->history) {
        shmipc__ps_hist *h = ps->hist;
        uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
        for (uint64_t k = head; tail - head <= ps->history && k != tail; k++) {
            shmipc__ps_entry e = ps->hist_entries[k % ps->history];
            /* A history entry is trusted only if its chunk is in range and carries that sample. */
            if (e.chunk >= ps->nchunks ||
                atomic_load_explicit(&ps->chunks[e.chunk].seq, memory_order_relaxed) != e.seq ||
                !(atomic_load_explicit(&ps->chunks[e.chunk].mask, memory_order_relaxed) & PS_HIST_BIT))
                continue;
            shmipc__ps_push(ps, j, e.chunk, e.seq, true);
        }
        uint64_t joins = atomic_load_explicit(&h->joins, memory_order_relaxed) + 1;
        q->join_epoch = joins;
        atomic_store_explicit(&q->state, PS_SUB_ACTIVE, memory_order_release);
        /* release: a publisher that reads this joins value (acquire) sees the slot active. */
        atomic_store_explicit(&h->joins, joins, memory_order_release);
    } else {
        atomic_store_explicit(&q->state, PS_SUB_ACTIVE, memory_order_release);
    }
    ps_unlock(&q->lock);
    if (ps->history)
        ps_unlock(&ps->hist->lock);
}

/* Register a subscriber on an opened view; on failure the view is closed. */
static int sub_attach(const shmipc__ps *view, shmipc_wait_mode mode, shmipc_subscriber **out)
{
    shmipc_subscriber *sub = calloc(1, sizeof *sub + view->max_held * sizeof sub->held[0]);
    if (!sub) {
        shmipc__ps_close((shmipc__ps *)view);
        return -ENOMEM;
    }
    sub->ps = *view;
    sub->wait_mode = mode ? mode : SHMIPC_WAIT_HYBRID;
    int slot = shmipc__svc_join(&sub->ps.svc, SHMIPC_ROLE_SUBSCRIBER, 0);
    int j = slot >= 0 ? sub_claim(&sub->ps, slot) : slot;
    if (j < 0) {
        if (slot >= 0)
            shmipc__svc_leave(&sub->ps.svc, (uint32_t)slot);
        shmipc__ps_close(&sub->ps);
        free(sub);
        return j;
    }
    sub->ps.slot = slot;
    sub->j = (uint32_t)j;
    sub_activate(&sub->ps, sub->j);
    *out = sub;
    return 0;
}

int shmipc__subscriber_attach(const shmipc__ps *view, shmipc_wait_mode mode, shmipc_subscriber **out)
{
    shmipc__ps v = *view;
    v.borrowed = true;
    return sub_attach(&v, mode, out);
}

int shmipc_subscriber_open(const char *name, const shmipc_pubsub_opts *opts, shmipc_subscriber **out)
{
    if (!out || (opts && (opts->wait_mode < SHMIPC_WAIT_DEFAULT || opts->wait_mode > SHMIPC_WAIT_HYBRID)))
        return -EINVAL;
    shmipc__ps ps;
    int err = shmipc__ps_open(&ps, name, opts, true);
    if (err)
        return err;
    return sub_attach(&ps, opts ? opts->wait_mode : SHMIPC_WAIT_DEFAULT, out);
}

/* Pop one entry into *s. Returns 0, -EAGAIN (empty), -EBADMSG, -EPIPE. */
static int sub_pop(shmipc_subscriber *sub, shmipc_sample *s)
{
    shmipc__ps *ps = &sub->ps;
    uint32_t j = sub->j;
    shmipc__ps_sub *q = &ps->subs[j];
    if (atomic_load_explicit(&q->part, memory_order_relaxed) != (uint32_t)ps->slot + 1)
        return -EPIPE;
    /* acquire: pairs with the push's release of tail; an empty queue is seen without taking the lock. */
    if (atomic_load_explicit(&q->tail, memory_order_acquire) == atomic_load_explicit(&q->head, memory_order_relaxed))
        return -EAGAIN;
    shmipc__ps_sub_lock(ps, j);
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail == head || tail - head > ps->depth) {
        ps_unlock(&q->lock);
        if (tail == head)
            return -EAGAIN;
        shmipc__svc_set_detail("pubsub: subscriber %u queue indices corrupt", j);
        return -EBADMSG;
    }
    shmipc__ps_entry e = ps->entries[(size_t)j * ps->depth + head % ps->depth];
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
    ps_unlock(&q->lock);
    if (tail - head == ps->depth)
        shmipc__notify_wake(&q->space, INT32_MAX); /* it was full: a waiting publisher may proceed */
    uint64_t bit = UINT64_C(1) << j;
    if (e.chunk >= ps->nchunks) {
        shmipc__svc_set_detail("pubsub: queue entry names chunk %u of %u", e.chunk, ps->nchunks);
        return -EBADMSG;
    }
    shmipc__ps_chunk *ch = &ps->chunks[e.chunk];
    uint64_t len = atomic_load_explicit(&ch->len, memory_order_relaxed);
    if (atomic_load_explicit(&ch->seq, memory_order_relaxed) != e.seq ||
        !(atomic_load_explicit(&ch->mask, memory_order_relaxed) & bit)) {
        shmipc__svc_set_detail("pubsub: queue entry does not match chunk %u", e.chunk);
        return -EBADMSG;
    }
    if (len > ps->payload_max) {
        shmipc__ps_chunk_drop(ps, e.chunk, bit);
        shmipc__svc_set_detail("pubsub: chunk %u length %llu exceeds %llu", e.chunk, (unsigned long long)len,
                               (unsigned long long)ps->payload_max);
        return -EBADMSG;
    }
    s->data = ps->pool + (size_t)e.chunk * ps->stride;
    s->size = (size_t)len;
    s->sequence = e.seq;
    s->publisher = atomic_load_explicit(&ch->publisher, memory_order_relaxed);
    s->chunk = e.chunk;
    sub->held[sub->nheld++] = e.chunk;
    return 0;
}

int shmipc_subscriber_receive(shmipc_subscriber *sub, shmipc_sample *sample, int timeout_ms)
{
    if (!sub || !sample)
        return -EINVAL;
    if (sub->nheld >= sub->ps.max_held)
        return -ENOBUFS;
    shmipc__ps_sub *q = &sub->ps.subs[sub->j];
    uint64_t deadline = shmipc__deadline(timeout_ms);
    unsigned spins = 0;
    for (;;) {
        int r = sub_pop(sub, sample);
        if (r != -EAGAIN || timeout_ms == 0)
            return r;
        bool spin = sub->wait_mode == SHMIPC_WAIT_SPIN ||
                    (sub->wait_mode != SHMIPC_WAIT_BLOCK && spins < PS_RECV_SPINS);
        if (spin) {
            if (++spins % 64 == 0 && shmipc__now_ns() >= deadline)
                return -ETIMEDOUT;
            shmipc__cpu_relax();
            continue;
        }
        uint32_t seen = shmipc__notify_prepare(&q->data);
        /* seq_cst: ordered after the announcement (see the notify protocol). */
        if (atomic_load_explicit(&q->tail, memory_order_seq_cst) != atomic_load_explicit(&q->head, memory_order_seq_cst)) {
            shmipc__notify_cancel(&q->data);
            continue;
        }
        r = shmipc__notify_sleep(&q->data, seen, deadline);
        if (r == -ETIMEDOUT) {
            r = sub_pop(sub, sample);
            return r == -EAGAIN ? -ETIMEDOUT : r;
        }
        if (r == -EINTR)
            return r;
    }
}

int shmipc_subscriber_release(shmipc_subscriber *sub, shmipc_sample *sample)
{
    if (!sub || !sample)
        return -EINVAL;
    for (uint32_t i = 0; i < sub->nheld; i++) {
        if (sub->held[i] != sample->chunk)
            continue;
        sub->held[i] = sub->held[--sub->nheld];
        shmipc__ps_chunk_drop(&sub->ps, sample->chunk, UINT64_C(1) << sub->j);
        sample->data = NULL;
        return 0;
    }
    return -EINVAL;
}

int shmipc_subscriber_receive_copy(shmipc_subscriber *sub, void *buf, size_t cap, int timeout_ms,
                                   shmipc_sample *info)
{
    shmipc_sample s;
    if (!buf && cap)
        return -EINVAL;
    int r = shmipc_subscriber_receive(sub, &s, timeout_ms);
    if (r)
        return r;
    size_t n = s.size;
    if (n && n <= cap) /* buf may be NULL when cap is 0: memcpy must not get it */
        memcpy(buf, s.data, n);
    if (info) {
        *info = s;
        info->data = NULL;
    }
    shmipc_subscriber_release(sub, &s);
    if (n > cap)
        return -EMSGSIZE;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

uint64_t shmipc_subscriber_missed(const shmipc_subscriber *sub)
{
    if (!sub)
        return 0;
    /* relaxed: a counter. */
    return atomic_load_explicit(&sub->ps.subs[sub->j].missed, memory_order_relaxed);
}

int shmipc_subscriber_close(shmipc_subscriber *sub)
{
    if (!sub)
        return 0;
    if (atomic_load_explicit(&sub->ps.subs[sub->j].part, memory_order_relaxed) == (uint32_t)sub->ps.slot + 1)
        shmipc__ps_sub_release(&sub->ps, sub->j);
    shmipc__svc_leave(&sub->ps.svc, (uint32_t)sub->ps.slot);
    shmipc__ps_close(&sub->ps);
    free(sub);
    return 0;
}
