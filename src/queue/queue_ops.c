/* SPDX-License-Identifier: MIT */
/*
 * queue/queue_ops.c - push and pop on the MPMC queue: claiming a slot with one CAS on its word, the
 * position counters as helped-along hints, the window checks that turn a hostile word into -EBADMSG,
 * waiting (spin / block / hybrid) on the notify words, and repairing slots left by dead claimers.
 * The protocol and its races are described in ARCHITECTURE.md, "Queue layer".
 */
#include "queue/queue_internal.h"
#include "common/waitable.h"

#include <string.h>

/* A waiter that sees the same slot held (WRITING or READING) for this long checks its owner's liveness,
 * and rechecks at most this often. Long enough that a live claimer preempted mid-copy is never probed
 * in the common case; the probe is harmless anyway (it only reads /proc). */
#define QUEUE_STALL_NS (10 * 1000000ull)
/* Most passes one attempt makes over slot words and counters that keep changing under it before it gives
 * up with -EAGAIN (the wait then retries within the caller's deadline). Lost races under legitimate
 * contention end far sooner; a peer rewriting words in a loop could otherwise hold a call forever. */
#define QUEUE_RACE_PASSES 4096u

void (*shmipc__queue_test_hook)(int point);

static inline void queue_hook(int point)
{
    void (*hook)(int) = shmipc__queue_test_hook;
    if (SHMIPC_UNLIKELY(hook != NULL))
        hook(point);
}

/* The slot that made an attempt fail with -EAGAIN, and the word seen in it. */
typedef struct queue_block {
    shmipc__queue_slot *slot;
    uint64_t word;
} queue_block;

/*
 * Move a position counter from pos to pos + 1 if nobody did yet; returns the counter's value afterwards.
 * The counter is only a hint of which slot to try next (the claim is the CAS on the slot word), so no
 * data is published through it: relaxed would keep the queue correct. Release on success is there so
 * that a reader who loads the counter with acquire also sees every slot claim made before the advance;
 * queue_unexpected() relies on that to never mistake a stale view for corruption on weakly ordered CPUs.
 */
static inline uint64_t queue_advance(_Atomic uint64_t *ctr, uint64_t pos)
{
    uint64_t cur = pos;
    if (atomic_compare_exchange_strong_explicit(ctr, &cur, pos + 1, memory_order_release, memory_order_relaxed))
        return pos + 1;
    return cur;
}

/*
 * A slot word outside the states possible at position pos: either our view is stale (the counter moved
 * on) or shared memory is corrupt. Returns 1 to retry (*pos updated), 0 to re-read the slot, or -EBADMSG.
 * The acquire load of the counter makes every claim before its last advance visible (see queue_advance),
 * so if the counter still reads pos and the slot still holds the same word, no legal history explains it.
 */
static int queue_unexpected(shmipc_queue *q, _Atomic uint64_t *ctr, uint64_t *pos, shmipc__queue_slot *s,
                            uint64_t w)
{
    uint64_t cur = atomic_load_explicit(ctr, memory_order_acquire);
    if (cur != *pos) {
        *pos = cur;
        return 1;
    }
    if (atomic_load_explicit(&s->word, memory_order_acquire) != w)
        return 0;
    return shmipc__queue_broken(q);
}

/*
 * Wake sleepers on n after a seq_cst store of a slot word. The load of waiters is seq_cst so that, with
 * the sleeper's seq_cst announcement and seq_cst re-check of the same slot word, either the sleeper sees
 * our store or we see it announced (store-buffering is forbidden between seq_cst operations): no lost
 * wake-up, and no read-modify-write of the shared notify line while nobody sleeps. Everybody is woken:
 * sleepers wait on different conditions of the same word, and one woken waiter that finds nothing must
 * not swallow the wake-up another needed.
 */
static inline void queue_wake(shmipc__notify *n)
{
    if (atomic_load_explicit(&n->waiters, memory_order_seq_cst) != 0)
        shmipc__notify_wake(n, INT32_MAX);
}

int shmipc__queue_repair(shmipc_queue *q, shmipc__queue_slot *s, uint64_t w)
{
    uint64_t fresh = qw_make(qw_turn(w) + q->slot_count, QS_FREE, 0);
    /* acq_rel: acquire the dead owner's writes (nothing to read, but the slot must not be reused before
     * them), release the new turn to the producer that claims it. The CAS from the exact word makes one
     * repairer win; the dead owner cannot race. */
    if (!atomic_compare_exchange_strong_explicit(&s->word, &w, fresh, memory_order_acq_rel, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&q->hdr->lost, 1, memory_order_relaxed);
    shmipc__notify_wake(&q->hdr->not_empty, INT32_MAX);
    shmipc__notify_wake(&q->hdr->not_full, INT32_MAX);
    return 1;
}

/*
 * Called while blocked on a claimed slot: after QUEUE_STALL_NS on the same word, check whether its owner
 * lives, and repair the slot if not. Returns 1 if repaired (retry at once), 0, or -EBADMSG (the owner
 * field names no participant).
 */
static int queue_stall_check(shmipc_queue *q, const queue_block *blk)
{
    unsigned st = qw_state(blk->word);
    if (st != QS_WRITING && st != QS_READING)
        return 0;
    uint64_t now = shmipc__now_ns();
    /* relaxed: per-handle bookkeeping, a hint even when threads share the handle. */
    if (atomic_load_explicit(&q->stall_word, memory_order_relaxed) != blk->word) {
        atomic_store_explicit(&q->stall_word, blk->word, memory_order_relaxed);
        atomic_store_explicit(&q->stall_since, now, memory_order_relaxed);
        return 0;
    }
    if (now - atomic_load_explicit(&q->stall_since, memory_order_relaxed) < QUEUE_STALL_NS ||
        now - atomic_load_explicit(&q->stall_checked, memory_order_relaxed) < QUEUE_STALL_NS)
        return 0;
    atomic_store_explicit(&q->stall_checked, now, memory_order_relaxed);
    unsigned owner = qw_owner(blk->word);
    if (owner == 0 || owner > q->max_participants)
        return shmipc__queue_broken(q);
    /* acquire: pairs with the claim of the entry, so a reclaimer's identity is seen with its repairs. */
    uint64_t ident = atomic_load_explicit(&q->table[owner - 1].owner, memory_order_acquire);
    /* A free entry cannot own a slot (handles close between operations): its owner vanished. */
    if (shmipc__owner_alive(ident))
        return 0;
    return shmipc__queue_repair(q, blk->slot, blk->word);
}

/* A claimed slot: what a successful attempt hands to the copy or to the zero-copy caller. */
typedef struct queue_op {
    bool push;
    size_t cap;              /* pop: largest length accepted (SIZE_MAX for a zero-copy claim) */
    shmipc__queue_slot *slot; /* out: the claimed slot */
    uint64_t pos;            /* out: its position */
    uint32_t len;            /* out, pop: the message length, checked against slot_size and cap */
} queue_op;

/*
 * One attempt to claim a slot for pushing. Producer at position p sees the slot word (turn t, state) with
 * d = t - p:
 *   d == 0, FREE            claim it
 *   d == 0, other           another producer claimed p: help advance enqueue_pos
 *   d == N, FREE            p was claimed and consumed already, enqueue_pos lags: help advance
 *   d == -N, not FREE       the previous lap is still there: full
 *   anything else           stale view or corruption (queue_unexpected)
 */
static int queue_claim_push(shmipc_queue *q, queue_op *op, queue_block *blk)
{
    shmipc__queue_hdr *h = q->hdr;
    const int64_t n = q->slot_count;
    /* relaxed: a hint of which slot to try; the slot word's acquire load orders what we read. */
    uint64_t pos = atomic_load_explicit(&h->enqueue_pos, memory_order_relaxed);
    for (unsigned pass = 0;; pass++) {
        shmipc__queue_slot *s = queue_slot(q, pos);
        if (SHMIPC_UNLIKELY(pass == QUEUE_RACE_PASSES)) {
            blk->slot = s;
            blk->word = atomic_load_explicit(&s->word, memory_order_acquire);
            return -EAGAIN;
        }
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        int64_t d = qw_dist(w, pos);
        unsigned st = qw_state(w);
        if (d == 0 && st == QS_FREE) {
            /* acq_rel: acquire the consumer's release of the previous lap (its reads of the old payload
             * come before our writes); release so that a peer seeing our claim also sees the enqueue_pos
             * value we read (queue_unexpected). */
            if (!atomic_compare_exchange_strong_explicit(&s->word, &w, qw_make(pos, QS_WRITING, (unsigned)q->part + 1),
                                                         memory_order_acq_rel, memory_order_relaxed))
                continue;
            queue_hook(SHMIPC__QUEUE_HOOK_PUSH_CLAIMED);
            queue_advance(&h->enqueue_pos, pos);
            op->slot = s;
            op->pos = pos;
            return 0;
        }
        if (d == 0 || (d == n && st == QS_FREE)) {
            pos = queue_advance(&h->enqueue_pos, pos);
            continue;
        }
        if (d == -n && st != QS_FREE) {
            blk->slot = s;
            blk->word = w;
            return -EAGAIN;
        }
        int r = queue_unexpected(q, &h->enqueue_pos, &pos, s, w);
        if (r < 0)
            return r;
    }
}

/* Publish a slot claimed for pushing, holding len bytes (already checked against slot_size). */
static void queue_publish(shmipc_queue *q, shmipc__queue_slot *s, uint64_t pos, size_t len)
{
    /* release: pairs with the consumer's acquire peek at len (see queue_claim_pop). */
    atomic_store_explicit(&s->len, (uint32_t)len, memory_order_release);
    queue_hook(SHMIPC__QUEUE_HOOK_PUSH_WRITTEN);
    /* The publication. seq_cst rather than release only for the sleeper handshake (queue_wake). */
    atomic_store_explicit(&s->word, qw_make(pos, QS_FULL, 0), memory_order_seq_cst);
    atomic_fetch_add_explicit(&q->table[q->part].count[QP_PUSHES], 1, memory_order_relaxed);
    queue_wake(&q->hdr->not_empty);
}

/* Give a slot claimed for popping back to the producers (the message is consumed). */
static void queue_release(shmipc_queue *q, shmipc__queue_slot *s, uint64_t pos)
{
    queue_hook(SHMIPC__QUEUE_HOOK_POP_COPIED);
    /* release orders our reads of the payload before the next lap's writes; seq_cst for the sleeper
     * handshake (queue_wake). */
    atomic_store_explicit(&s->word, qw_make(pos + q->slot_count, QS_FREE, 0), memory_order_seq_cst);
    atomic_fetch_add_explicit(&q->table[q->part].count[QP_POPS], 1, memory_order_relaxed);
    queue_wake(&q->hdr->not_full);
}

/*
 * One attempt to claim a message. Consumer at position p, same notation:
 *   d == 0, FULL                 claim it (after checking the length fits op->cap)
 *   d == 0, READING              another consumer claimed p: help advance dequeue_pos
 *   d == 0, FREE or WRITING      nothing published at p yet: empty
 *   d == -N, READING             the previous lap is still being read, so nothing at p yet: empty
 *   d == N, not READING          p was consumed (or repaired) already, dequeue_pos lags: help advance
 *   anything else                stale view or corruption
 * Returns 0, -EAGAIN, -EMSGSIZE or -EBADMSG.
 */
static int queue_claim_pop(shmipc_queue *q, queue_op *op, queue_block *blk)
{
    shmipc__queue_hdr *h = q->hdr;
    const int64_t n = q->slot_count;
    uint64_t pos = atomic_load_explicit(&h->dequeue_pos, memory_order_relaxed); /* a hint, as for push */
    for (unsigned pass = 0;; pass++) {
        shmipc__queue_slot *s = queue_slot(q, pos);
        if (SHMIPC_UNLIKELY(pass == QUEUE_RACE_PASSES)) {
            blk->slot = s;
            blk->word = atomic_load_explicit(&s->word, memory_order_acquire);
            return -EAGAIN;
        }
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        int64_t d = qw_dist(w, pos);
        unsigned st = qw_state(w);
        if (d == 0 && st == QS_FULL) {
            /* Peek before claiming, so that a too-small buffer leaves the message where it is. acquire
             * pairs with the producer's release store of len: if we read a later lap's length, that
             * producer's claim is visible to the re-load of the word, which then differs. */
            uint32_t len = atomic_load_explicit(&s->len, memory_order_acquire);
            if (len > op->cap) {
                if (atomic_load_explicit(&s->word, memory_order_relaxed) != w)
                    continue;
                return len > q->slot_size ? shmipc__queue_broken(q) : -EMSGSIZE;
            }
            /* acq_rel: acquire the producer's payload; release as for push (queue_unexpected). */
            if (!atomic_compare_exchange_strong_explicit(&s->word, &w, qw_make(pos, QS_READING, (unsigned)q->part + 1),
                                                         memory_order_acq_rel, memory_order_relaxed))
                continue;
            queue_hook(SHMIPC__QUEUE_HOOK_POP_CLAIMED);
            queue_advance(&h->dequeue_pos, pos);
            /* The slot is ours now, but its length is still shared memory: load once, check, use. */
            len = atomic_load_explicit(&s->len, memory_order_relaxed);
            if (len > op->cap || len > q->slot_size) {
                queue_release(q, s, pos);
                return shmipc__queue_broken(q);
            }
            op->slot = s;
            op->pos = pos;
            op->len = len;
            return 0;
        }
        if ((d == 0 && st == QS_READING) || (d == n && st != QS_READING)) {
            pos = queue_advance(&h->dequeue_pos, pos);
            continue;
        }
        if ((d == 0 && (st == QS_FREE || st == QS_WRITING)) || (d == -n && st == QS_READING)) {
            blk->slot = s;
            blk->word = w;
            return -EAGAIN;
        }
        int r = queue_unexpected(q, &h->dequeue_pos, &pos, s, w);
        if (r < 0)
            return r;
    }
}

static int queue_try(shmipc_queue *q, queue_op *op, queue_block *blk)
{
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&q->hdr->broken, memory_order_relaxed)))
        return -EBADMSG;
    return op->push ? queue_claim_push(q, op, blk) : queue_claim_pop(q, op, blk);
}

/* What the wait condition needs. */
typedef struct queue_wait {
    shmipc_queue *q;
    queue_op *op;
    queue_block blk; /* the slot (and its word) that made the last attempt fail */
} queue_wait;

/*
 * The condition shmipc__wait polls: between slices (slow), the dead-claimer check (and repair) of the
 * slot that blocks us; otherwise a seq_cst re-load of that slot's word, and a new attempt only when it
 * moved. After the announcement on the notify word, that seq_cst load is the sleeper's half of the
 * handshake of queue_wake: either it sees the waker's seq_cst store or the waker sees us announced.
 */
static int queue_cond(void *p, bool slow)
{
    queue_wait *w = p;
    if (slow) {
        int r = queue_stall_check(w->q, &w->blk);
        if (r < 0)
            return r;
    } else if (atomic_load_explicit(&w->blk.slot->word, memory_order_seq_cst) == w->blk.word) {
        return 0;
    }
    int r = queue_try(w->q, w->op, &w->blk);
    if (r == -EAGAIN)
        return 0;
    return r == 0 ? 1 : r;
}

/*
 * Claim a slot, waiting through the common wait primitive as the handle's mode says (spin, sleep on the
 * notify word, not_full for a producer and not_empty for a consumer, or both), until the attempt succeeds,
 * the deadline passes, a signal handler runs during a sleep (-EINTR), or a dead claimer's slot is
 * repaired. Sleeps are sliced so that a claimer that dies while we sleep is noticed.
 */
static int queue_acquire(shmipc_queue *q, queue_op *op, int timeout_ms)
{
    if (q->part < 0)
        return -EPERM;
    queue_wait w = {.q = q, .op = op, .blk = {NULL, 0}}; /* blk is set by every -EAGAIN */
    int r = queue_try(q, op, &w.blk);
    if (r != -EAGAIN)
        return r;
    /* A non-blocking caller (or the first pass of a blocking one) runs the stall check too, so that a
     * consumer that only polls still repairs a dead producer's slot. */
    r = queue_stall_check(q, &w.blk);
    if (r < 0)
        return r;
    if (r > 0) {
        r = queue_try(q, op, &w.blk);
        if (r != -EAGAIN)
            return r;
    }
    /* The adapt state lives in the handle as an atomic (threads may share a handle); each wait works on
     * a copy, a hint either way, stored back only if the wait learnt something (a wait that timed out
     * did not, and must not undo what another thread learnt meanwhile). */
    uint64_t learnt = atomic_load_explicit(&q->adapt_ns, memory_order_relaxed);
    shmipc__wait_adapt adapt = {learnt};
    shmipc__wait_spec spec = {
        .notify = op->push ? &q->hdr->not_full : &q->hdr->not_empty,
        .mode = (shmipc_wait_mode)atomic_load_explicit(&q->wait_mode, memory_order_relaxed),
        .timeout_ms = timeout_ms, .relative = true,
        .adapt = &adapt,
    };
    r = shmipc__wait(&spec, queue_cond, &w);
    if (adapt.state != learnt)
        atomic_store_explicit(&q->adapt_ns, adapt.state, memory_order_relaxed);
    return r;
}

int shmipc_queue_push(shmipc_queue *q, const void *buf, size_t len, int timeout_ms)
{
    if (!q || (!buf && len))
        return -EINVAL;
    if (len > q->slot_size)
        return -EMSGSIZE;
    queue_op op = {.push = true};
    int r = queue_acquire(q, &op, timeout_ms);
    if (r)
        return r;
    if (len)
        memcpy(op.slot->data, buf, len);
    queue_publish(q, op.slot, op.pos, len);
    return 0;
}

int shmipc_queue_pop(shmipc_queue *q, void *buf, size_t cap, int timeout_ms)
{
    if (!q || (!buf && cap))
        return -EINVAL;
    queue_op op = {.push = false, .cap = cap};
    int r = queue_acquire(q, &op, timeout_ms);
    if (r)
        return r;
    if (op.len && buf) /* op.len <= cap, so buf is set whenever op.len is not 0 */
        memcpy(buf, op.slot->data, op.len);
    queue_release(q, op.slot, op.pos);
    return (int)op.len;
}

/* The slot of a claim handed out by this handle and still held in the expected state, or NULL. */
static shmipc__queue_slot *queue_claimed_slot(const shmipc_queue *q, const shmipc_queue_claim *c, unsigned state)
{
    uintptr_t off = (uintptr_t)c->slot_ - (uintptr_t)q->slots;
    if (!c->slot_ || (uintptr_t)c->slot_ < (uintptr_t)q->slots || off >= (uintptr_t)q->slot_count * q->slot_stride ||
        off % q->slot_stride != 0)
        return NULL;
    shmipc__queue_slot *s = c->slot_;
    /* relaxed: our own claim; only a repairer (believing us dead) or a hostile peer could have changed it. */
    if (atomic_load_explicit(&s->word, memory_order_relaxed) != qw_make(c->pos_, state, (unsigned)q->part + 1))
        return NULL;
    return s;
}

int shmipc_queue_push_claim(shmipc_queue *q, shmipc_queue_claim *c, int timeout_ms)
{
    if (!q || !c)
        return -EINVAL;
    queue_op op = {.push = true};
    int r = queue_acquire(q, &op, timeout_ms);
    if (r)
        return r;
    c->data = op.slot->data;
    c->len = q->slot_size;
    c->pos_ = op.pos;
    c->slot_ = op.slot;
    atomic_fetch_add_explicit(&q->held, 1, memory_order_relaxed);
    return 0;
}

int shmipc_queue_push_commit(shmipc_queue *q, shmipc_queue_claim *c, size_t len)
{
    if (!q || !c || q->part < 0)
        return -EINVAL;
    if (len > q->slot_size)
        return -EMSGSIZE;
    shmipc__queue_slot *s = queue_claimed_slot(q, c, QS_WRITING);
    if (!s)
        return -EINVAL;
    queue_publish(q, s, c->pos_, len);
    atomic_fetch_sub_explicit(&q->held, 1, memory_order_relaxed);
    c->slot_ = NULL;
    c->data = NULL;
    return 0;
}

int shmipc_queue_pop_claim(shmipc_queue *q, shmipc_queue_claim *c, int timeout_ms)
{
    if (!q || !c)
        return -EINVAL;
    queue_op op = {.push = false, .cap = SIZE_MAX};
    int r = queue_acquire(q, &op, timeout_ms);
    if (r)
        return r;
    c->data = op.slot->data;
    c->len = op.len;
    c->pos_ = op.pos;
    c->slot_ = op.slot;
    atomic_fetch_add_explicit(&q->held, 1, memory_order_relaxed);
    return (int)op.len;
}

int shmipc_queue_pop_release(shmipc_queue *q, shmipc_queue_claim *c)
{
    if (!q || !c || q->part < 0)
        return -EINVAL;
    shmipc__queue_slot *s = queue_claimed_slot(q, c, QS_READING);
    if (!s)
        return -EINVAL;
    queue_release(q, s, c->pos_);
    atomic_fetch_sub_explicit(&q->held, 1, memory_order_relaxed);
    c->slot_ = NULL;
    c->data = NULL;
    return 0;
}

/* ---------------------------------------------------------------- waitset ---- */

/*
 * Would a push (out) or pop (!out) find a slot now? The walk of queue_claim_push / queue_claim_pop
 * without the claim: lagging positions are stepped over, the first slot that is not settled decides.
 * Loads are seq_cst: after the waitset announced itself on not_full / not_empty, the sleeper's half of
 * queue_wake's handshake. Between slices (slow) a stalled claimer is checked as a blocking call does.
 * Returns 1 ready, 0 not, -1 corrupt (the call reports it).
 */
static int queue_slot_ready(shmipc_queue *q, bool out, bool slow)
{
    shmipc__queue_hdr *h = q->hdr;
    const int64_t n = q->slot_count;
    uint64_t pos = atomic_load_explicit(out ? &h->enqueue_pos : &h->dequeue_pos, memory_order_seq_cst);
    for (unsigned pass = 0; pass < QUEUE_RACE_PASSES; pass++, pos++) {
        shmipc__queue_slot *s = queue_slot(q, pos);
        uint64_t w = atomic_load_explicit(&s->word, memory_order_seq_cst);
        int64_t d = qw_dist(w, pos);
        unsigned st = qw_state(w);
        if (out) {
            if (d == 0 && st == QS_FREE)
                return 1;
            if ((d == 0) || (d == n && st == QS_FREE))
                continue;
            if (d != -n)
                return -1;
        } else {
            if (d == 0 && st == QS_FULL)
                return 1;
            if ((d == 0 && st == QS_READING) || (d == n && st != QS_READING))
                continue;
            if (!(d == 0 && (st == QS_FREE || st == QS_WRITING)) && !(d == -n && st == QS_READING))
                return -1;
        }
        if (!slow)
            return 0;
        queue_block blk = {s, w};
        int r = queue_stall_check(q, &blk);
        return r < 0 ? -1 : r;
    }
    return 0; /* positions keep moving under us: others are busy; look again later */
}

static uint32_t queue_ready(void *p, uint32_t events, bool slow)
{
    shmipc_queue *q = p;
    /* relaxed: the shared hint that the queue is corrupt; the call checks it again. */
    if (atomic_load_explicit(&q->hdr->broken, memory_order_relaxed))
        return events | SHMIPC_WAITSET_ERR;
    uint32_t got = 0;
    for (unsigned i = 0; i < 2; i++) {
        uint32_t bit = i ? SHMIPC_WAITSET_OUT : SHMIPC_WAITSET_IN;
        if (!(events & bit))
            continue;
        int r = queue_slot_ready(q, i == 1, slow);
        if (r)
            got |= r < 0 ? bit | SHMIPC_WAITSET_ERR : bit;
    }
    return got;
}

int shmipc__queue_waitable(shmipc_queue *q, uint32_t events, shmipc__waitable *w)
{
    if (q->part < 0)
        return -EINVAL; /* an observer can neither push nor pop */
    w->ready = queue_ready;
    w->nwords = 0;
    if (events & SHMIPC_WAITSET_IN)
        w->words[w->nwords++] = &q->hdr->not_empty;
    if (events & SHMIPC_WAITSET_OUT)
        w->words[w->nwords++] = &q->hdr->not_full;
    return 0;
}
