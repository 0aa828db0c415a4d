/* SPDX-License-Identifier: MIT */
/*
 * pubsub/queue.c - the shared structures every pubsub participant changes: chunk holder masks, the
 * per-subscriber queues and the history ring, each behind a small lock whose word names the holding
 * process. A process that finds the holder dead takes the lock over and repairs the one step the holder
 * may have left half done (recorded in the queue's "pending" fields), so a crash never corrupts a queue,
 * never loses a committed sample and never leaks a chunk. Also: freeing a subscriber slot (clean close or
 * reclaim), which must be idempotent.
 */
#include "pubsub/pubsub_internal.h"

#include <sched.h>

void shmipc__ps_chunk_drop(shmipc__ps *ps, uint32_t c, uint64_t bits)
{
    /* release: our reads of the payload (and, for the loaner, its writes) are complete before a loaner
     * that sees the mask reach 0 (CAS acquire) reuses the chunk. */
    atomic_fetch_and_explicit(&ps->chunks[c].mask, ~bits, memory_order_release);
}

void shmipc__ps_chunk_drop_seq(shmipc__ps *ps, uint32_t c, uint64_t seq, uint64_t bits)
{
    /* The bits to drop can only be ours to drop while the chunk still holds that sample: it is not
     * reused before they are gone, so a matching seq proves they belong to this sample. relaxed: seq
     * was published to us by the lock or mask we acquired. */
    if (c < ps->nchunks && atomic_load_explicit(&ps->chunks[c].seq, memory_order_relaxed) == seq)
        shmipc__ps_chunk_drop(ps, c, bits);
}

/* Settle what a dead holder of subscriber j's lock left half done. */
static void ps_sub_repair(shmipc__ps *ps, uint32_t j)
{
    shmipc__ps_sub *q = &ps->subs[j];
    uint32_t kind = q->pend_kind, c = q->pend_chunk;
    uint64_t seq = q->pend_seq, pos = q->pend_pos;
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t bit = UINT64_C(1) << j;
    /* A push never committed (the subscriber never saw it), or an entry removed from the queue whose bit
     * is still counted: either way the bit goes. */
    if ((kind == PS_PEND_PUSH && tail == pos) || (kind == PS_PEND_DROP && head == pos + 1))
        shmipc__ps_chunk_drop_seq(ps, c, seq, bit);
    q->pend_kind = PS_PEND_NONE;
}

/* The history ring's chunks and the chunks carrying the history bit must be the same set: a dead holder
 * may have left a bit on a chunk it was adding or evicting. */
static void ps_hist_repair(shmipc__ps *ps)
{
    shmipc__ps_hist *h = ps->hist;
    uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    if (tail - head > ps->history) {
        atomic_store_explicit(&h->head, tail, memory_order_relaxed); /* corrupt: forget the history */
        head = tail;
    }
    for (uint32_t c = 0; c < ps->nchunks; c++) {
        if (!(atomic_load_explicit(&ps->chunks[c].mask, memory_order_relaxed) & PS_HIST_BIT))
            continue;
        bool in_ring = false;
        for (uint64_t k = head; k != tail && !in_ring; k++)
            in_ring = ps->hist_entries[k % ps->history].chunk == c;
        if (!in_ring)
            shmipc__ps_chunk_drop(ps, c, PS_HIST_BIT);
    }
}

#define PS_SPINS 128
#define PS_LIVENESS_EVERY 1024

/* Take a lock word; which = subscriber slot, or -1 for the history. check_now: test the holder's
 * liveness at once (reclaim) instead of after spinning a while. */
static void ps_lock(shmipc__ps *ps, _Atomic uint64_t *lock, int which, bool check_now)
{
    uint64_t me = ps->me;
    for (unsigned spins = 0;; spins++) {
        uint64_t o = 0;
        /* acquire: everything the previous holder wrote under the lock is visible to us. */
        if (atomic_compare_exchange_weak_explicit(lock, &o, me, memory_order_acquire, memory_order_relaxed))
            return;
        if (o == 0)
            continue;
        if (spins < PS_SPINS && !check_now) {
            shmipc__cpu_relax();
            continue;
        }
        if ((check_now || spins % PS_LIVENESS_EVERY == 0) && o != me && !shmipc__owner_alive(o)) {
            /* The holder died holding it (or the word is garbage): take it over, then settle its step. */
            if (atomic_compare_exchange_strong_explicit(lock, &o, me, memory_order_acquire,
                                                        memory_order_relaxed)) {
                if (which < 0)
                    ps_hist_repair(ps);
                else
                    ps_sub_repair(ps, (uint32_t)which);
                return;
            }
        }
        check_now = false;
        sched_yield();
    }
}

void shmipc__ps_sub_lock(shmipc__ps *ps, uint32_t j) { ps_lock(ps, &ps->subs[j].lock, (int)j, false); }
void shmipc__ps_hist_lock(shmipc__ps *ps) { ps_lock(ps, &ps->hist->lock, -1, false); }

void shmipc__ps_repair_dead_locks(shmipc__ps *ps)
{
    for (uint32_t j = 0; j < ps->max_subs; j++) {
        uint64_t o = atomic_load_explicit(&ps->subs[j].lock, memory_order_relaxed);
        if (o && !shmipc__owner_alive(o)) {
            ps_lock(ps, &ps->subs[j].lock, (int)j, true);
            ps_unlock(&ps->subs[j].lock);
        }
    }
    uint64_t o = atomic_load_explicit(&ps->hist->lock, memory_order_relaxed);
    if (o && !shmipc__owner_alive(o)) {
        ps_lock(ps, &ps->hist->lock, -1, true);
        ps_unlock(&ps->hist->lock);
    }
}

/* A SIGKILL can land between any two instructions, and a lock taker repairs from what the dead holder's
 * stores left: the compiler must keep the pending record complete before its kind, the kind before the
 * step it covers, and the step's commit before the kind is cleared (GCC otherwise stores kind = DROP before
 * the record's other fields). A compiler barrier is enough: every store a killed process executed before
 * the kill still reaches memory, and the lock taker reads them after observing the death. */
#define PS_KILL_BARRIER() atomic_signal_fence(memory_order_seq_cst)

int shmipc__ps_push(shmipc__ps *ps, uint32_t j, uint32_t c, uint64_t seq, bool may_drop)
{
    shmipc__ps_sub *q = &ps->subs[j];
    shmipc__ps_entry *ring = ps->entries + (size_t)j * ps->depth;
    uint64_t bit = UINT64_C(1) << j;
    /* relaxed: head and tail change only under the lock we hold. */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail - head > ps->depth) {
        shmipc__svc_set_detail("pubsub: subscriber %u queue indices corrupt", j);
        return -EBADMSG;
    }
    if (tail - head == ps->depth) {
        if (!may_drop)
            return -EAGAIN;
        shmipc__ps_entry e = ring[head % ps->depth];
        q->pend_chunk = e.chunk;
        q->pend_seq = e.seq;
        q->pend_pos = head;
        PS_KILL_BARRIER();
        q->pend_kind = PS_PEND_DROP;
        /* release: a subscriber spinning on head/tail without the lock sees a consistent count. */
        atomic_store_explicit(&q->head, head + 1, memory_order_release);
        ps_hook(PS_HOOK_MID_DROP);
        shmipc__ps_chunk_drop_seq(ps, e.chunk, e.seq, bit);
        PS_KILL_BARRIER();
        q->pend_kind = PS_PEND_NONE;
        atomic_fetch_add_explicit(&q->missed, 1, memory_order_relaxed);
        shmipc__svc_stat_add(&ps->svc, PS_STAT_DROPPED, 1);
    }
    q->pend_chunk = c;
    q->pend_seq = seq;
    q->pend_pos = tail;
    PS_KILL_BARRIER();
    q->pend_kind = PS_PEND_PUSH;
    PS_KILL_BARRIER();
    /* relaxed: the chunk is held (loan or history bit) so it cannot be freed meanwhile; the subscriber
     * learns of the bit through the tail store below and the lock. */
    atomic_fetch_or_explicit(&ps->chunks[c].mask, bit, memory_order_relaxed);
    ps_hook(PS_HOOK_MID_DELIVERY);
    ring[tail % ps->depth] = (shmipc__ps_entry){.chunk = c, .seq = seq};
    /* release: the commit point of the push; the entry and the chunk's contents precede it. */
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    PS_KILL_BARRIER();
    q->pend_kind = PS_PEND_NONE;
    return 0;
}

void shmipc__ps_sub_release(shmipc__ps *ps, uint32_t j)
{
    shmipc__ps_sub *q = &ps->subs[j];
    shmipc__ps_sub_lock(ps, j);
    /* release (with the unlock): publishers that take the lock next see the slot free and skip it. */
    atomic_store_explicit(&q->state, PS_SUB_FREE, memory_order_release);
    atomic_store_explicit(&q->head, atomic_load_explicit(&q->tail, memory_order_relaxed), memory_order_relaxed);
    q->pend_kind = PS_PEND_NONE;
    ps_unlock(&q->lock);
    shmipc__notify_wake(&q->space, INT32_MAX); /* publishers waiting for room move on */
    ps_hook(PS_HOOK_MID_RECLAIM);
    /* No publisher sets our bit any more (the slot is free under the lock): sweep it from every chunk,
     * which frees what we held received or queued. Clearing an absent bit is harmless, so a reclaimer
     * killed here is simply followed by one that sweeps again. */
    uint64_t bit = UINT64_C(1) << j;
    for (uint32_t c = 0; c < ps->nchunks; c++)
        if (atomic_load_explicit(&ps->chunks[c].mask, memory_order_relaxed) & bit)
            shmipc__ps_chunk_drop(ps, c, bit);
    /* release: the sweep is complete before a new subscriber can claim the slot (CAS acq_rel). */
    atomic_store_explicit(&q->part, 0, memory_order_release);
}

int shmipc__ps_hist_insert(shmipc__ps *ps, uint32_t c, uint64_t seq)
{
    shmipc__ps_hist *h = ps->hist;
    uint32_t n = ps->history; /* validated copy, never 0 here: callers only insert with a history */
    if (n == 0)
        return 0;
    uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    if (tail - head > n) {
        ps_hist_repair(ps);
        head = tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    }
    if (tail - head == n) {
        shmipc__ps_entry e = ps->hist_entries[head % n];
        atomic_store_explicit(&h->head, head + 1, memory_order_relaxed);
        shmipc__ps_chunk_drop_seq(ps, e.chunk, e.seq, PS_HIST_BIT);
    }
    /* relaxed: c is loaned by the caller, so it cannot be freed meanwhile. */
    atomic_fetch_or_explicit(&ps->chunks[c].mask, PS_HIST_BIT, memory_order_relaxed);
    ps->hist_entries[tail % n] = (shmipc__ps_entry){.chunk = c, .seq = seq};
    atomic_store_explicit(&h->tail, tail + 1, memory_order_relaxed);
    return 0;
}
