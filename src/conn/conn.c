/* SPDX-License-Identifier: MIT */
/*
 * conn/conn.c - the connection ring (layout and rules in conn.h): cached indices so that each side reads
 * the other's line only when its cache says full or empty, validated reloads, overwrite by CAS on tail,
 * and the store-buffering handshake with a sleeping peer (seq_cst index store, then a load of the peer's
 * waiters) so that no system call is made while nobody sleeps.
 */
#include "conn/conn.h"

#include <limits.h>

void shmipc__conn_init(shmipc__conn *c, uint32_t cap)
{
    /* Entries to 0: no stamp is fresh for the first lap (whose stamp is set), whatever was there. */
    for (uint32_t i = 0; i < cap; i++) {
        atomic_store_explicit(&c->ring[i].a, 0, memory_order_relaxed);
        atomic_store_explicit(&c->ring[i].b, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&c->head, 0, memory_order_relaxed);
    atomic_store_explicit(&c->dropped, 0, memory_order_relaxed);
    atomic_store_explicit(&c->tail, 0, memory_order_relaxed);
    shmipc__notify_init(&c->data);
    shmipc__notify_init(&c->space);
}

static bool sane(uint64_t tail, uint64_t head, uint32_t cap) { return tail <= head && head - tail <= cap; }

static inline bool fresh(const shmipc__conn *c, uint64_t pos, uint32_t cap, memory_order mo)
{
    uint64_t a = atomic_load_explicit(&c->ring[pos & (cap - 1)].a, mo);
    return (a & SHMIPC__CONN_STAMP) == shmipc__conn_stamp(pos, cap);
}

uint64_t shmipc__conn_head_scan(const shmipc__conn *c, uint32_t cap, uint64_t tail, uint64_t head)
{
    /* A consumer takes an entry once its stamp says published, which may be before the producer stores
     * head: a head behind tail (by at most cap) is such a head, and the entries below tail were
     * published. Scanning from that old head would read slots the producer may have reused since. */
    if (head < tail) {
        if (tail - head > cap)
            return head; /* impossible: the caller's check refuses it */
        head = tail;
    }
    /* Entries at or after head whose stamp is fresh were published by a producer that died (or was
     * stopped) between its stamps and its head store: they count as queued. At most cap of them, and
     * none a lap past tail (that slot still holds the entry at tail). acquire: as the consumer's peek. */
    while (head - tail < cap && fresh(c, head, cap, memory_order_acquire))
        head++;
    return head;
}

int shmipc__conn_tx_attach(shmipc__conn_tx *tx, shmipc__conn *c, uint32_t cap, uint32_t flags)
{
    /* acquire: a predecessor's entries (published with release) are complete before we go on after them. */
    uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
    head = shmipc__conn_head_scan(c, cap, tail, head);
    if (!sane(tail, head, cap))
        return -EBADMSG;
    *tx = (shmipc__conn_tx){.c = c, .head = head, .tail_cache = tail, .published = head, .wake = &c->data,
                           .cap = cap, .flags = flags, .depth = cap};
    return 0;
}

int shmipc__conn_rx_attach(shmipc__conn_rx *rx, shmipc__conn *c, uint32_t cap, uint32_t flags)
{
    uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
    /* A consumer may have taken entries a dead producer stamped but whose head it never stored. */
    head = shmipc__conn_head_scan(c, cap, tail, head);
    if (!sane(tail, head, cap))
        return -EBADMSG;
    *rx = (shmipc__conn_rx){
        .c = c, .tail = tail, .head_cache = head, .wake = &c->space, .cap = cap, .flags = flags, .batch = 1};
    return 0;
}

/* Reload tail into the cache. Returns 0 or -EBADMSG. */
static int tx_reload(shmipc__conn_tx *tx, memory_order mo)
{
    /* acquire: the consumer stored tail with release after its last reads of those entries, so our
     * rewrite of them cannot be seen by those reads. */
    uint64_t t = atomic_load_explicit(&tx->c->tail, mo);
    if (!sane(t, tx->head, tx->cap) || t < tx->tail_cache)
        return -EBADMSG;
    tx->tail_cache = t;
    return 0;
}

int shmipc__conn_push(shmipc__conn_tx *tx, uint64_t a, uint64_t b, shmipc__conn_entry *dropped, uint32_t *ndropped)
{
    const uint32_t mask = tx->cap - 1;
    while (SHMIPC_UNLIKELY(tx->head - tx->tail_cache >= tx->depth)) {
        int err = tx_reload(tx, memory_order_acquire);
        if (err)
            return err;
        if (tx->head - tx->tail_cache < tx->depth)
            break;
        if (!(tx->flags & SHMIPC__CONN_OVERWRITE))
            return -EAGAIN;
        /* Full under overwrite: drop the oldest entry. It must be published (the consumer may be reading
         * it); when the whole ring is our own unpublished batch, publish it first. */
        uint64_t t = tx->tail_cache;
        if (t >= tx->published)
            shmipc__conn_publish(tx);
        shmipc__conn_entry *e = &tx->c->ring[t & mask];
        uint64_t ea = atomic_load_explicit(&e->a, memory_order_relaxed) & ~SHMIPC__CONN_STAMP;
        uint64_t eb = atomic_load_explicit(&e->b, memory_order_relaxed);
        /* acq_rel: acquire pairs with a consumer CAS that won (its reads precede our rewrite); release so the
         * consumer's failed CAS, reloading tail, sees a value consistent with our entries. On success the
         * consumer's CAS from t fails, so it never uses the entry we drop. */
        if (atomic_compare_exchange_strong_explicit(&tx->c->tail, &t, t + 1, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            tx->tail_cache = t + 1;
            atomic_store_explicit(&tx->c->dropped, atomic_load_explicit(&tx->c->dropped, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            if (dropped) {
                atomic_store_explicit(&dropped[*ndropped].a, ea, memory_order_relaxed);
                atomic_store_explicit(&dropped[*ndropped].b, eb, memory_order_relaxed);
                (*ndropped)++;
            }
        } else if (!sane(t, tx->head, tx->cap) || t < tx->tail_cache) {
            return -EBADMSG;
        } else {
            tx->tail_cache = t;
        }
    }
    shmipc__conn_entry *e = &tx->c->ring[tx->head & mask];
    /* relaxed, with the stamp of the lap before: not yet published (publish sets the stamp with release). */
    atomic_store_explicit(&e->b, b, memory_order_relaxed);
    atomic_store_explicit(&e->a, (a & ~SHMIPC__CONN_STAMP) | shmipc__conn_stamp(tx->head + tx->cap, tx->cap),
                          memory_order_relaxed);
    tx->head++;
    return 0;
}

int shmipc__conn_publish(shmipc__conn_tx *tx)
{
    if (tx->head == tx->published)
        return 0;
    /* Each entry's stamp says it is published; the consumer polls the stamp of the entry it wants, never
     * head, so the only line it reads is the one it needs anyway. release (CONSUMER_POLLS): the entry's b
     * and the pattern's data before the stamp. seq_cst otherwise: with the load of waiters below, and the
     * sleeping consumer's seq_cst announcement and re-read of the stamp it waits for (conn_rx_ready), a
     * store-buffering handshake: either it sees the stamp or we see it announced. */
    bool polls = (tx->flags & SHMIPC__CONN_CONSUMER_POLLS) != 0, ow = (tx->flags & SHMIPC__CONN_OVERWRITE) != 0;
    memory_order mo = (polls || ow) ? memory_order_release : memory_order_seq_cst;
    for (uint64_t pos = tx->published; pos != tx->head; pos++) {
        shmipc__conn_entry *e = &tx->c->ring[pos & (tx->cap - 1)];
        uint64_t a = atomic_load_explicit(&e->a, memory_order_relaxed);
        atomic_store_explicit(&e->a, (a & ~SHMIPC__CONN_STAMP) | shmipc__conn_stamp(pos, tx->cap), mo);
    }
    /* release: head is what a successor, a recoverer and tools start from (shmipc__conn_head_scan goes on
     * over stamps a producer that died here left behind). seq_cst under overwrite, whose consumer reads
     * head, not stamps (the producer may have moved its tail): the store of the handshake there. */
    atomic_store_explicit(&tx->c->head, tx->head, (ow && !polls) ? memory_order_seq_cst : memory_order_release);
    tx->published = tx->head;
    if (polls ||
        SHMIPC_LIKELY(atomic_load_explicit(&tx->wake->waiters, memory_order_seq_cst) == 0))
        return 0;
    return shmipc__notify_wake(tx->wake, INT32_MAX);
}

uint32_t shmipc__conn_space(shmipc__conn_tx *tx)
{
    if (tx->head - tx->tail_cache >= tx->depth && tx_reload(tx, memory_order_acquire) != 0)
        return 0;
    uint64_t used = tx->head - tx->tail_cache;
    return used >= tx->depth ? 0 : tx->depth - (uint32_t)used;
}

uint32_t shmipc__conn_depth(const shmipc__conn *c, uint32_t cap)
{
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    return h <= t ? 0 : h - t > cap ? cap : (uint32_t)(h - t);
}

/* Overwrite mode: the producer may have advanced tail past entries it dropped. Load head first, then
 * tail: the producer moves tail (CAS) before it writes the entry and publishes the head that needed the
 * room, so a tail loaded after an (acquire) head is never more than cap behind it. A tail ahead of that
 * head means the head we read is already old: read both again (a bounded number of times, so a hostile
 * producer cannot keep us here). */
static int rx_reload_overwrite(shmipc__conn_rx *rx)
{
    for (int tries = 0; tries < 16; tries++) {
        /* seq_cst (acquire is what the entries need): after a wait's announcement, the consumer's half of
         * the sleep handshake with publish's seq_cst head store, as in peek outside overwrite mode. */
        uint64_t h = atomic_load_explicit(&rx->c->head, memory_order_seq_cst);
        uint64_t t = atomic_load_explicit(&rx->c->tail, memory_order_acquire);
        if (t < rx->tail)
            return -EBADMSG; /* tail never moves backwards */
        if (t > h)
            continue;
        if (h - t > rx->cap)
            return -EBADMSG;
        rx->tail = t;
        rx->head_cache = h;
        return h == t ? -EAGAIN : 0;
    }
    return -EAGAIN;
}

int shmipc__conn_peek(shmipc__conn_rx *rx, uint64_t *a, uint64_t *b)
{
    uint64_t x;
    if (SHMIPC_UNLIKELY(rx->flags & SHMIPC__CONN_OVERWRITE)) {
        int err = rx_reload_overwrite(rx);
        if (err)
            return err;
        x = atomic_load_explicit(&rx->c->ring[rx->tail & (rx->cap - 1)].a, memory_order_relaxed);
    } else {
        /* seq_cst (acquire is what the entry needs: publish's release of the stamp orders its b and the
         * pattern's data before it): after a wait's seq_cst announcement this load is also the consumer's
         * half of the sleep handshake, so a wait condition that peeks needs no second look
         * (shmipc__conn_rx_ready is the same load, for checks that take nothing). */
        x = atomic_load_explicit(&rx->c->ring[rx->tail & (rx->cap - 1)].a, memory_order_seq_cst);
        if ((x & SHMIPC__CONN_STAMP) != shmipc__conn_stamp(rx->tail, rx->cap))
            return -EAGAIN;
    }
    *a = x & ~SHMIPC__CONN_STAMP;
    *b = atomic_load_explicit(&rx->c->ring[rx->tail & (rx->cap - 1)].b, memory_order_relaxed);
    return 0;
}

int shmipc__conn_pop(shmipc__conn_rx *rx)
{
    uint64_t t = rx->tail;
    if (rx->flags & SHMIPC__CONN_OVERWRITE) {
        /* release: our reads of the entry precede the move (the producer's CAS acquires it). Failure: the
         * producer dropped the entry while we read it, so what we read may be torn. */
        if (!atomic_compare_exchange_strong_explicit(&rx->c->tail, &t, t + 1, memory_order_release,
                                                     memory_order_relaxed))
            return -EAGAIN;
        rx->tail = t + 1;
        return 0;
    }
    rx->tail = t + 1;
    if (!(rx->flags & SHMIPC__CONN_PRODUCER_SLEEPS)) {
        /* release: our reads of the entry are done before the producer may rewrite it. */
        atomic_store_explicit(&rx->c->tail, t + 1, memory_order_release);
        return 0;
    }
    if (rx->flags & SHMIPC__CONN_BATCH_WAKE) {
        /* tail is stored, and the handshake made, every batch pops and at settle: the producer, which
         * reloads tail when it finds the ring full, then finds a batch of room at once instead of pulling
         * the line across for every entry. In between, a waiter whose announcement is already visible
         * settles at once (relaxed: a hint, the RMW in settle is the guarantee). */
        if (++rx->since >= rx->batch || !fresh(rx->c, rx->tail, rx->cap, memory_order_relaxed) ||
            SHMIPC_UNLIKELY(atomic_load_explicit(&rx->wake->waiters, memory_order_relaxed) != 0))
            shmipc__conn_rx_settle(rx);
        return 0;
    }
    /* seq_cst: the consumer's half of the handshake with a producer sleeping for room (as in publish). */
    atomic_store_explicit(&rx->c->tail, t + 1, memory_order_seq_cst);
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&rx->wake->waiters, memory_order_seq_cst) != 0))
        shmipc__notify_wake(rx->wake, INT32_MAX);
    return 0;
}

void shmipc__conn_rx_settle(shmipc__conn_rx *rx)
{
    if (rx->since == 0)
        return;
    rx->since = 0;
    /* release: our reads of the entries popped since the last store are done before the producer may
     * rewrite them. */
    atomic_store_explicit(&rx->c->tail, rx->tail, memory_order_release);
    /* seq_cst read-modify-write of waiters (adding 0): it either reads the producer's announcement (an
     * RMW too), or the announcement reads from it, and then our tail stores, sequenced before it, happen
     * before the producer's re-read of tail. The same store-buffering handshake as pop's seq_cst store,
     * by synchronisation alone (models/conn_ring.cpp checks both, and that a plain load fails). */
    if (atomic_fetch_add_explicit(&rx->wake->waiters, 0, memory_order_seq_cst) != 0)
        shmipc__notify_wake(rx->wake, INT32_MAX);
}

int64_t shmipc__conn_skip_to(shmipc__conn_rx *rx, uint64_t pos)
{
    /* acquire: the entries up to head are complete (and the scan's loads of stamps acquire too). */
    uint64_t h = shmipc__conn_head_scan(rx->c, rx->cap, rx->tail,
                                        atomic_load_explicit(&rx->c->head, memory_order_acquire));
    if (!sane(rx->tail, h, rx->cap))
        return -EBADMSG;
    rx->head_cache = h;
    if (pos <= rx->tail)
        return 0;
    if (pos > h)
        pos = h;
    uint64_t n = pos - rx->tail;
    rx->tail = pos;
    rx->since = 0; /* the handshake below covers the pops before it too */
    /* seq_cst and the wake: as in pop, whose batch this is. */
    atomic_store_explicit(&rx->c->tail, pos, memory_order_seq_cst);
    if ((rx->flags & SHMIPC__CONN_PRODUCER_SLEEPS) &&
        atomic_load_explicit(&rx->wake->waiters, memory_order_seq_cst) != 0)
        shmipc__notify_wake(rx->wake, INT32_MAX);
    return (int64_t)n;
}

uint32_t shmipc__conn_avail(shmipc__conn_rx *rx)
{
    if (rx->flags & SHMIPC__CONN_OVERWRITE) {
        if (rx->tail >= rx->head_cache && rx_reload_overwrite(rx) != 0)
            return 0;
        return (uint32_t)(rx->head_cache - rx->tail);
    }
    /* The entries whose stamps say published, from our position (head is only where to start). */
    uint64_t h = shmipc__conn_head_scan(rx->c, rx->cap, rx->tail,
                                        atomic_load_explicit(&rx->c->head, memory_order_acquire));
    return sane(rx->tail, h, rx->cap) ? (uint32_t)(h - rx->tail) : 0;
}

bool shmipc__conn_rx_ready(shmipc__conn_rx *rx)
{
    if (rx->flags & SHMIPC__CONN_OVERWRITE) {
        /* seq_cst: after the caller's seq_cst announcement, the consumer's half of the handshake. */
        uint64_t h = atomic_load_explicit(&rx->c->head, memory_order_seq_cst);
        return h != rx->tail; /* a corrupt head also counts as ready: the caller's next peek reports it */
    }
    /* seq_cst: after the caller's seq_cst announcement on its notify word, the consumer's half of the
     * handshake with publish's seq_cst stamp store. */
    return fresh(rx->c, rx->tail, rx->cap, memory_order_seq_cst);
}

bool shmipc__conn_tx_room(shmipc__conn_tx *tx)
{
    if (tx_reload(tx, memory_order_seq_cst) != 0)
        return true; /* corrupt: let the caller's push report it */
    return tx->head - tx->tail_cache < tx->depth;
}
