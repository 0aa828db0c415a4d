/* SPDX-License-Identifier: MIT */
/*
 * channel/ring.c - the channel's data path: placing records (with a padding record where a message would
 * straddle the ring's end), publishing them with one release store of head, consuming them with one
 * release store of tail, each side reading the other's index only when its cached copy says full or
 * empty; the overwrite policy (the producer advances tail by CAS, the consumer validates its copy with a
 * CAS of tail); and waiting (spin, futex sleep via the notify protocol, or both) with peer watching.
 */
#include "channel/channel_internal.h"
#include "common/waitable.h"

#include <string.h>

/* Most passes one attempt of the overwrite policy makes over a tail that keeps moving under it before it
 * gives up with -EAGAIN (the wait loop then retries within the caller's deadline): a legitimate race
 * moves tail forward only, a bounded number of times, but a peer writing tail in a loop could otherwise
 * hold the call here past its timeout. */
#define CHAN_RACE_PASSES 4096u

static inline uint64_t rec_size(uint64_t len)
{
    return CHAN_REC_HDR + ((len + CHAN_REC_ALIGN - 1) & ~(uint64_t)(CHAN_REC_ALIGN - 1));
}

static inline shmipc__chan_rec *rec_at(const shmipc_channel *ch, uint64_t pos)
{
    return (shmipc__chan_rec *)(ch->ring + (pos & ch->mask));
}

/* Record headers are read and written with relaxed atomics so that each field is fetched once (no
 * double fetch of a value a peer may change) and so that a consumer racing an overwriting producer reads
 * values, not undefined behaviour; ordering comes from the release/acquire of head and tail. */
static inline void rec_write(shmipc__chan_rec *r, uint32_t len, uint32_t flags, uint64_t seq)
{
    __atomic_store_n(&r->len, len, __ATOMIC_RELAXED);
    __atomic_store_n(&r->flags, flags, __ATOMIC_RELAXED);
    __atomic_store_n(&r->seq, seq, __ATOMIC_RELAXED);
}

/*
 * Check the record at pos against what the ring allows, given avail published bytes from pos.
 * Returns the record's size (> 0) and sets *len (UINT32_MAX for padding), or 0 if it is malformed.
 */
static inline uint64_t rec_check(const shmipc_channel *ch, uint64_t pos, uint64_t avail, uint32_t *len)
{
    const shmipc__chan_rec *r = rec_at(ch, pos);
    uint32_t l = __atomic_load_n(&r->len, __ATOMIC_RELAXED);
    uint32_t f = __atomic_load_n(&r->flags, __ATOMIC_RELAXED);
    uint64_t room = ch->cap - (pos & ch->mask); /* bytes to the ring's end, >= 16 */
    if (f == CHAN_REC_PAD) {
        if (l != room - CHAN_REC_HDR || room > avail)
            return 0;
        *len = UINT32_MAX;
        return room;
    }
    uint64_t sz = rec_size(l);
    if (f != 0 || l > ch->max_msg || sz > room || sz > avail)
        return 0;
    *len = l;
    return sz;
}

/* ---------------------------------------------------------------- producer ---- */

/* Overwrite policy: advance tail past the oldest records until total bytes from pos are free. */
static int prod_overwrite(shmipc_channel *ch, uint64_t total)
{
    shmipc__chan_hdr *h = ch->hdr;
    uint64_t t = ch->cached, msgs = 0;
    /* Each pass frees at least 16 bytes or follows a consumer that freed some: total / 16 passes and as
     * many lost races at most, unless a hostile peer rewrites tail. */
    uint64_t passes = 2 * (total / CHAN_REC_ALIGN) + CHAN_RACE_PASSES;
    while (ch->pos + total - t > ch->cap) {
        if (passes-- == 0) {
            ch->cached = t;
            return -EAGAIN;
        }
        if (t == ch->pub) {
            /* tail must never pass the published head (the consumer checks head - tail <= cap): publish
             * the records of this batch first. release: as any publication of head. */
            atomic_store_explicit(&h->prod.head, ch->pos, memory_order_release);
            ch->pub = ch->pos;
            continue;
        }
        uint32_t len;
        uint64_t step = rec_check(ch, t, ch->pub - t, &len);
        if (step == 0) {
            /* Our own record looks wrong: either the consumer moved tail under us (then retry from the
             * new value), or the ring was scribbled on. acquire: as the refresh in prod_room. */
            uint64_t t2 = atomic_load_explicit(&h->cons.tail, memory_order_acquire);
            if (t2 == t || ch->pub - t2 > ch->cap || t2 % CHAN_REC_ALIGN)
                return shmipc__chan_broken(ch);
            t = t2;
            continue;
        }
        /* acquire on success: the consumer released its reads of these records with its own tail
         * update; our writes into the freed bytes (after this CAS) must not move before it. acquire on
         * failure: we go on to read records from the value the consumer stored. */
        if (atomic_compare_exchange_strong_explicit(&h->cons.tail, &t, t + step, memory_order_acquire,
                                                    memory_order_acquire)) {
            t += step;
            msgs += len != UINT32_MAX;
        } else if (ch->pub - t > ch->cap || t % CHAN_REC_ALIGN) {
            return shmipc__chan_broken(ch);
        }
    }
    ch->cached = t;
    if (msgs)
        /* relaxed: a counter; only the producer adds to it. */
        atomic_fetch_add_explicit(&h->prod.overwritten, msgs, memory_order_relaxed);
    return 0;
}

/* Make sure total bytes from pos are free; the fast path reads only the cached tail. */
static inline int prod_room(shmipc_channel *ch, uint64_t total)
{
    if (SHMIPC_LIKELY(ch->pos + total - ch->cached <= ch->cap))
        return 0;
    /* acquire: pairs with the consumer's release store of tail, so its reads of the freed records are
     * done before we overwrite them. */
    uint64_t t = atomic_load_explicit(&ch->hdr->cons.tail, memory_order_acquire);
    if (ch->pub - t > ch->cap || t % CHAN_REC_ALIGN)
        return shmipc__chan_broken(ch);
    ch->cached = t;
    if (ch->pos + total - t <= ch->cap)
        return 0;
    if (ch->policy != SHMIPC_CHANNEL_FULL_OVERWRITE)
        return -EAGAIN;
    return prod_overwrite(ch, total);
}

/* Place a record for len bytes at pos (after a padding record if it would straddle the end) and return
 * its payload address; pos is left at the record's header. */
static inline int prod_place(shmipc_channel *ch, size_t len, void **payload)
{
    if (SHMIPC_UNLIKELY(len > ch->max_msg))
        return -EMSGSIZE;
    uint64_t rec = rec_size(len);
    uint64_t room = ch->cap - (ch->pos & ch->mask);
    int err = prod_room(ch, room < rec ? room + rec : rec);
    if (SHMIPC_UNLIKELY(err))
        return err;
    if (room < rec) {
        rec_write(rec_at(ch, ch->pos), (uint32_t)(room - CHAN_REC_HDR), CHAN_REC_PAD, 0);
        ch->pos += room;
    }
    shmipc__chan_rec *r = rec_at(ch, ch->pos);
    rec_write(r, (uint32_t)len, 0, ch->seq);
    *payload = r + 1;
    return 0;
}

static inline void prod_advance(shmipc_channel *ch, size_t len)
{
    ch->pos += rec_size(len);
    ch->seq++;
    ch->msgs++;
    ch->bytes += len;
}

static inline void prod_publish(shmipc_channel *ch)
{
    shmipc__chan_hdr *h = ch->hdr;
    /* relaxed: counters on our own line, made visible along with head by the release store below. */
    atomic_store_explicit(&h->prod.msgs_sent, ch->msgs, memory_order_relaxed);
    atomic_store_explicit(&h->prod.bytes_sent, ch->bytes, memory_order_relaxed);
    /* seq_cst (which includes release: the records written before are complete for a consumer that
     * loads head with acquire): this store and our seq_cst load of waiters below, against a sleeping
     * consumer's seq_cst announcement (waiters += 1) and seq_cst re-read of head, form the store-buffering
     * handshake: either it sees the new head or we see its announcement, so the wake-up system call is
     * made only when someone may sleep. Cheaper than a fence on ARMv8 (stlr/ldar), and TSan checks it. */
    atomic_store_explicit(&h->prod.head, ch->pos, memory_order_seq_cst);
    ch->pub = ch->pos;
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&h->data.n.waiters, memory_order_seq_cst) != 0))
        shmipc__notify_wake(&h->data.n, 1);
}

typedef struct send_args {
    const struct iovec *msgs;
    size_t count;
} send_args;

/* One attempt: place and copy as many messages as fit, publish them once. */
static int try_send(shmipc_channel *ch, void *arg)
{
    const send_args *a = arg;
    size_t i;
    for (i = 0; i < a->count; i++) {
        void *p;
        int err = prod_place(ch, a->msgs[i].iov_len, &p);
        if (err) {
            if (i == 0 || err == -EBADMSG)
                return err;
            break;
        }
        if (a->msgs[i].iov_len)
            memcpy(p, a->msgs[i].iov_base, a->msgs[i].iov_len);
        prod_advance(ch, a->msgs[i].iov_len);
    }
    prod_publish(ch);
    return (int)i;
}

/* ---------------------------------------------------------------- consumer ---- */

/* Find the message at pos (skipping padding). Returns its length, -EAGAIN if the ring is empty, or
 * -EBADMSG. */
static inline int cons_next(shmipc_channel *ch)
{
    for (;;) {
        if (ch->pos == ch->cached) {
            /* acquire: pairs with the producer's release store; the records below head are complete. */
            uint64_t hd = atomic_load_explicit(&ch->hdr->prod.head, memory_order_acquire);
            if (hd - ch->pos > ch->cap || hd % CHAN_REC_ALIGN)
                return shmipc__chan_broken(ch);
            ch->cached = hd;
            if (hd == ch->pos)
                return -EAGAIN;
        }
        uint32_t len;
        uint64_t sz = rec_check(ch, ch->pos, ch->cached - ch->pos, &len);
        if (SHMIPC_UNLIKELY(sz == 0))
            return shmipc__chan_broken(ch);
        if (len != UINT32_MAX)
            return (int)len;
        ch->pos += sz; /* padding: consumed with the next tail store */
    }
}

static inline void cons_publish(shmipc_channel *ch)
{
    shmipc__chan_hdr *h = ch->hdr;
    /* relaxed: counters on our own line. */
    atomic_store_explicit(&h->cons.msgs_recv, ch->msgs, memory_order_relaxed);
    atomic_store_explicit(&h->cons.bytes_recv, ch->bytes, memory_order_relaxed);
    if (ch->policy != SHMIPC_CHANNEL_FULL_BLOCK) {
        /* release: our reads of the consumed records are done before the producer (acquire) reuses
         * them. Only a blocking producer ever sleeps for room, so no handshake is needed. */
        atomic_store_explicit(&h->cons.tail, ch->pos, memory_order_release);
        return;
    }
    /* seq_cst (includes release, as above): the store-buffering handshake with a producer sleeping for
     * room, as in prod_publish. */
    atomic_store_explicit(&h->cons.tail, ch->pos, memory_order_seq_cst);
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&h->space.n.waiters, memory_order_seq_cst) != 0))
        shmipc__notify_wake(&h->space.n, 1);
}

typedef struct recv_args {
    struct iovec *msgs;
    size_t count;
} recv_args;

/* One attempt (ring policies other than overwrite): copy as many messages as are there and fit. */
static int try_recv(shmipc_channel *ch, void *arg)
{
    recv_args *a = arg;
    uint64_t start = ch->pos;
    size_t i;
    for (i = 0; i < a->count; i++) {
        int len = cons_next(ch);
        if (len < 0 || (size_t)len > a->msgs[i].iov_len) {
            if (i > 0 && len != -EBADMSG)
                break;
            if (len >= 0)
                len = -EMSGSIZE;
            if (ch->pos != start && len == -EAGAIN)
                cons_publish(ch); /* padding only: hand its room back */
            return len;
        }
        if (len)
            memcpy(a->msgs[i].iov_base, rec_at(ch, ch->pos) + 1, (size_t)len);
        a->msgs[i].iov_len = (size_t)len;
        ch->pos += rec_size((uint64_t)len);
        ch->msgs++;
        ch->bytes += (uint64_t)len;
    }
    cons_publish(ch);
    return (int)i;
}

/*
 * Overwrite policy: the producer may advance tail and rewrite a record while we copy it. Read tail and
 * head, check and copy the record, then CAS tail past it: success proves the producer had not claimed
 * the record before our copy was complete (it advances tail before it writes), so the copy is whole.
 * A failed CAS or a failed check with tail moved means we raced: start over from the new tail.
 */
static int cons_take_overwrite(shmipc_channel *ch, void *buf, size_t cap)
{
    shmipc__chan_hdr *h = ch->hdr;
    for (unsigned pass = 0;; pass++) {
        if (SHMIPC_UNLIKELY(pass == CHAN_RACE_PASSES))
            return -EAGAIN; /* tail keeps moving: lapped again and again, or rewritten by a peer */
        /* acquire on both: the records between are complete (head), and we see where the producer's
         * CAS left tail. tail first: head only grows, so head - tail can only be overstated, and that is
         * caught by the re-check below. */
        uint64_t t = atomic_load_explicit(&h->cons.tail, memory_order_acquire);
        uint64_t hd = atomic_load_explicit(&h->prod.head, memory_order_acquire);
        if (hd == t) {
            ch->cached = hd;
            return -EAGAIN;
        }
        uint32_t len = 0;
        uint64_t sz = 0;
        if (hd - t <= ch->cap && (t | hd) % CHAN_REC_ALIGN == 0)
            sz = rec_check(ch, t, hd - t, &len);
        int err = 0;
        if (sz == 0)
            err = -EBADMSG;
        else if (len != UINT32_MAX && len > cap)
            err = -EMSGSIZE;
        if (err) {
            /* Re-read tail with an RMW that changes nothing: its release half keeps our reads of the
             * record before it (a plain load could be hoisted above them). Rare path. */
            if (atomic_fetch_add_explicit(&h->cons.tail, 0, memory_order_acq_rel) != t)
                continue;
            return err == -EBADMSG ? shmipc__chan_broken(ch) : err;
        }
        uint64_t seq = 0;
        if (len != UINT32_MAX) {
            if (len)
                memcpy(buf, rec_at(ch, t) + 1, len);
            seq = __atomic_load_n(&rec_at(ch, t)->seq, __ATOMIC_RELAXED);
        }
        /* release on success: our copy (and the seq read) happen-before the producer's acquire CAS that
         * would let it overwrite the record. */
        if (!atomic_compare_exchange_strong_explicit(&h->cons.tail, &t, t + sz, memory_order_release,
                                                     memory_order_relaxed))
            continue;
        if (len == UINT32_MAX)
            continue;
        if (seq > ch->seq) {
            ch->dropped += seq - ch->seq;
            /* relaxed: a counter on our own line. */
            atomic_store_explicit(&h->cons.dropped, ch->dropped, memory_order_relaxed);
        }
        ch->seq = seq + 1;
        ch->msgs++;
        ch->bytes += len;
        atomic_store_explicit(&h->cons.msgs_recv, ch->msgs, memory_order_relaxed);
        atomic_store_explicit(&h->cons.bytes_recv, ch->bytes, memory_order_relaxed);
        return (int)len;
    }
}

static int try_recv_overwrite(shmipc_channel *ch, void *arg)
{
    recv_args *a = arg;
    size_t i;
    for (i = 0; i < a->count; i++) {
        int len = cons_take_overwrite(ch, a->msgs[i].iov_base, a->msgs[i].iov_len);
        if (len < 0) {
            if (i == 0 || len == -EBADMSG)
                return len;
            break;
        }
        a->msgs[i].iov_len = (size_t)len;
    }
    return (int)i;
}

/* ---------------------------------------------------------------- waiting ---- */

/* Has the peer's index moved since we last looked (the sleeping condition)? */
static bool peer_moved(const shmipc_channel *ch)
{
    /* seq_cst: after our seq_cst announcement, this is the waiter's half of the handshake described in
     * prod_publish (a plain mov on x86). The retry reloads with acquire. */
    if (ch->role == SHMIPC_CHANNEL_PRODUCER)
        return atomic_load_explicit(&ch->hdr->cons.tail, memory_order_seq_cst) != ch->cached;
    return atomic_load_explicit(&ch->hdr->prod.head, memory_order_seq_cst) != ch->cached;
}

/* What the wait condition needs: the attempt to retry and its result. */
typedef struct chan_wait {
    shmipc_channel *ch;
    int (*fn)(shmipc_channel *, void *);
    void *arg;
    int result; /* fn's last result when it did not return -EAGAIN */
    bool first;
} chan_wait;

/*
 * The condition shmipc__wait polls. Cheap checks every time (the shared broken hint, the peer's slot
 * CLOSED, the peer's index moved); the peer's /proc entry only on the first call (so a non-blocking call
 * on a dead peer gets -EPIPE) and between sleep slices (slow). The attempt itself runs only when
 * something moved, so a spinning side reads one index line. A peer that is gone gets one more attempt,
 * so messages committed before it left are still delivered, then -EPIPE.
 */
static int chan_cond(void *p, bool slow)
{
    chan_wait *w = p;
    shmipc_channel *ch = w->ch;
    /* relaxed: the peer's hint that the ring is corrupt; nothing is read on the strength of it. */
    if (atomic_load_explicit(&ch->hdr->broken, memory_order_relaxed))
        return shmipc__chan_broken(ch);
    bool gone;
    if (slow || w->first) {
        w->first = false;
        gone = shmipc__chan_peer_gone(ch);
    } else {
        /* acquire inside: pairs with the release store of VACATED in close, so the final index is seen by
         * the attempt. Our seq_cst read of seq in the announcement synchronises with a close's bump, so a
         * close that made no wake call (it saw no waiter) is still seen here before we sleep. */
        gone = shmipc__chan_peer_closed(ch);
    }
    if (!gone && !slow && !peer_moved(ch)) {
        if (ch->role == SHMIPC_CHANNEL_CONSUMER)
            shmipc__prefetch_next(rec_at(ch, ch->pos));
        return 0;
    }
    int r = w->fn(ch, w->arg);
    if (r == -EAGAIN)
        return gone ? -EPIPE : 0;
    if (r < 0)
        return r;
    w->result = r;
    return 1;
}

/*
 * The slow path shared by every send and receive: fn(ch, arg) made one attempt and returned -EAGAIN.
 * Retry it through the common wait primitive (spin as the handle learnt, then sleep on our notify word in
 * slices, peer liveness between slices) until it succeeds, fails otherwise, the deadline passes
 * (-ETIMEDOUT, after one last attempt), a signal handler runs during a sleep (-EINTR), or the peer is
 * gone (-EPIPE, after one last attempt).
 */
static int wait_loop(shmipc_channel *ch, int timeout_ms, int (*fn)(shmipc_channel *, void *), void *arg)
{
    shmipc__chan_hdr *h = ch->hdr;
    bool prod = ch->role == SHMIPC_CHANNEL_PRODUCER;
    if (prod && ch->policy == SHMIPC_CHANNEL_FULL_FAIL)
        timeout_ms = 0;
    chan_wait w = {.ch = ch, .fn = fn, .arg = arg, .first = true};
    shmipc__wait_spec spec = {
        .notify = prod ? &h->space.n : &h->data.n,
        .mode = ch->wait_mode,
        .timeout_ms = timeout_ms, .relative = true,
        .spin_ns = ch->spin_ns,
        .adapt = &ch->adapt,
    };
    int r = shmipc__wait(&spec, chan_cond, &w);
    return r ? r : w.result;
}

static inline int check_call(const shmipc_channel *ch, shmipc_channel_role role)
{
    if (SHMIPC_UNLIKELY(!ch || ch->role != role))
        return -EBADF;
    if (SHMIPC_UNLIKELY(ch->broken))
        return -EBADMSG;
    return 0;
}

/* ---------------------------------------------------------------- API ---- */

int shmipc_channel_send_batch(shmipc_channel *ch, const struct iovec *msgs, size_t count, int timeout_ms)
{
    int err = check_call(ch, SHMIPC_CHANNEL_PRODUCER);
    if (err)
        return err;
    if (!msgs || count == 0 || ch->reserved)
        return -EINVAL;
    if (count > INT32_MAX)
        count = INT32_MAX;
    send_args a = {msgs, count};
    err = try_send(ch, &a);
    if (SHMIPC_UNLIKELY(err == -EAGAIN))
        err = wait_loop(ch, timeout_ms, try_send, &a);
    return err;
}

int shmipc_channel_send(shmipc_channel *ch, const void *buf, size_t len, int timeout_ms)
{
    if (!buf && len)
        return -EINVAL;
    struct iovec v = {.iov_base = (void *)buf, .iov_len = len};
    int r = shmipc_channel_send_batch(ch, &v, 1, timeout_ms);
    return r < 0 ? r : 0;
}

typedef struct reserve_args {
    size_t len;
    void *payload;
} reserve_args;

static int try_reserve(shmipc_channel *ch, void *arg)
{
    reserve_args *a = arg;
    return prod_place(ch, a->len, &a->payload);
}

int shmipc_channel_reserve(shmipc_channel *ch, size_t len, void **buf, int timeout_ms)
{
    int err = check_call(ch, SHMIPC_CHANNEL_PRODUCER);
    if (err)
        return err;
    if (!buf || ch->reserved)
        return -EINVAL;
    reserve_args a = {len, NULL};
    err = try_reserve(ch, &a);
    if (SHMIPC_UNLIKELY(err == -EAGAIN))
        err = wait_loop(ch, timeout_ms, try_reserve, &a);
    if (err)
        return err;
    ch->reserved = true;
    ch->res_pos = ch->pos;
    ch->res_len = (uint32_t)len;
    *buf = a.payload;
    return 0;
}

int shmipc_channel_commit(shmipc_channel *ch, size_t len)
{
    if (!ch || ch->role != SHMIPC_CHANNEL_PRODUCER)
        return -EBADF;
    if (!ch->reserved || len > ch->res_len)
        return -EINVAL;
    ch->reserved = false;
    if (len != ch->res_len)
        __atomic_store_n(&rec_at(ch, ch->res_pos)->len, (uint32_t)len, __ATOMIC_RELAXED);
    prod_advance(ch, len);
    prod_publish(ch);
    return 0;
}

int shmipc_channel_cancel(shmipc_channel *ch)
{
    if (!ch || ch->role != SHMIPC_CHANNEL_PRODUCER)
        return -EBADF;
    ch->reserved = false; /* the record stays unpublished and is overwritten by the next one */
    return 0;
}

int shmipc_channel_recv_batch(shmipc_channel *ch, struct iovec *msgs, size_t count, int timeout_ms)
{
    int err = check_call(ch, SHMIPC_CHANNEL_CONSUMER);
    if (err)
        return err;
    if (!msgs || count == 0 || ch->peeked)
        return -EINVAL;
    if (count > INT32_MAX)
        count = INT32_MAX;
    recv_args a = {msgs, count};
    int (*fn)(shmipc_channel *, void *) =
        ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE ? try_recv_overwrite : try_recv;
    err = fn(ch, &a);
    if (SHMIPC_UNLIKELY(err == -EAGAIN))
        err = wait_loop(ch, timeout_ms, fn, &a);
    return err;
}

int shmipc_channel_recv(shmipc_channel *ch, void *buf, size_t cap, int timeout_ms)
{
    if (!buf && cap)
        return -EINVAL;
    struct iovec v = {.iov_base = buf, .iov_len = cap};
    int r = shmipc_channel_recv_batch(ch, &v, 1, timeout_ms);
    return r < 0 ? r : (int)v.iov_len;
}

static int try_peek(shmipc_channel *ch, void *arg)
{
    (void)arg;
    if (ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE)
        return cons_take_overwrite(ch, ch->copybuf, ch->max_msg);
    uint64_t start = ch->pos;
    int len = cons_next(ch);
    if (len == -EAGAIN && ch->pos != start)
        cons_publish(ch);
    return len;
}

int shmipc_channel_peek(shmipc_channel *ch, const void **buf, int timeout_ms)
{
    int err = check_call(ch, SHMIPC_CHANNEL_CONSUMER);
    if (err)
        return err;
    if (!buf)
        return -EINVAL;
    if (!ch->peeked) {
        int len = try_peek(ch, NULL);
        if (SHMIPC_UNLIKELY(len == -EAGAIN))
            len = wait_loop(ch, timeout_ms, try_peek, NULL);
        if (len < 0)
            return len;
        ch->peeked = true;
        ch->peek_len = len;
        ch->peek_end = ch->pos + rec_size((uint64_t)len);
    }
    *buf = ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE ? (const void *)ch->copybuf
                                                        : (const void *)(rec_at(ch, ch->pos) + 1);
    return ch->peek_len;
}

int shmipc_channel_release(shmipc_channel *ch)
{
    if (!ch || ch->role != SHMIPC_CHANNEL_CONSUMER)
        return -EBADF;
    if (!ch->peeked)
        return -EINVAL;
    ch->peeked = false;
    if (ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE)
        return 0; /* consumed by the peek already */
    ch->pos = ch->peek_end;
    ch->msgs++;
    ch->bytes += (uint64_t)ch->peek_len;
    cons_publish(ch);
    return 0;
}

/* ---------------------------------------------------------------- waitset ---- */

/* The waitset's readiness check (common/waitable.h): the same signals chan_cond watches, consuming
 * nothing. A gone peer or a broken ring is reported as ready with ERR, so that the call reports it. */
static uint32_t chan_ready(void *p, uint32_t events, bool slow)
{
    shmipc_channel *ch = p;
    /* relaxed: the peer's hint that the ring is corrupt, as in chan_cond. */
    if (ch->broken || atomic_load_explicit(&ch->hdr->broken, memory_order_relaxed))
        return events | SHMIPC_WAITSET_ERR;
    if (ch->role == SHMIPC_CHANNEL_CONSUMER) {
        /* seq_cst: the sleeper's half of prod_publish's handshake (see waitable.h). Unread records
         * (or a peeked message not yet released) are exactly head != pos; under the overwrite policy
         * the consumer reads from the shared tail instead (cons_take_overwrite). */
        uint64_t hd = atomic_load_explicit(&ch->hdr->prod.head, memory_order_seq_cst);
        uint64_t from = ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE
                            ? atomic_load_explicit(&ch->hdr->cons.tail, memory_order_seq_cst)
                            : ch->pos;
        if (hd != from || ch->peeked)
            return events;
    } else if (ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE || ch->reserved) {
        return events; /* a send never waits for room (or the reservation is there to commit) */
    } else {
        /* seq_cst: the sleeper's half of cons_publish's handshake; the room of a one-byte message. */
        uint64_t t = atomic_load_explicit(&ch->hdr->cons.tail, memory_order_seq_cst);
        if (ch->pub - t > ch->cap)
            return events | SHMIPC_WAITSET_ERR;
        if (ch->pos + rec_size(1) - t <= ch->cap)
            return events;
    }
    bool gone = slow ? shmipc__chan_peer_gone(ch) : shmipc__chan_peer_closed(ch);
    return gone ? events | SHMIPC_WAITSET_ERR : 0;
}

int shmipc__channel_waitable(shmipc_channel *ch, uint32_t events, shmipc__waitable *w)
{
    uint32_t natural = ch->role == SHMIPC_CHANNEL_CONSUMER ? SHMIPC_WAITSET_IN
                       : ch->role == SHMIPC_CHANNEL_PRODUCER ? SHMIPC_WAITSET_OUT
                                                             : 0;
    if (!natural || (events & ~natural))
        return -EINVAL;
    w->ready = chan_ready;
    /* Only a blocking producer is woken for room (cons_publish): others poll once per slice. */
    w->nwords = 0;
    if (natural == SHMIPC_WAITSET_IN)
        w->words[w->nwords++] = &ch->hdr->data.n;
    else if (ch->policy == SHMIPC_CHANNEL_FULL_BLOCK)
        w->words[w->nwords++] = &ch->hdr->space.n;
    return 0;
}
