/* SPDX-License-Identifier: MIT */
/*
 * pubsub/publisher.c - the publisher side: claiming a publisher slot (and with it a partition of the
 * pool), loaning its chunks from a private free FIFO refilled by draining the return connections,
 * publishing (one push on each served subscriber's deliver connection, then the history), the two
 * full-connection policies (drop oldest by the connection's overwrite, or wait through the common wait
 * primitive), following the membership epoch, discarding, closing. Nothing here locks, and in the steady
 * state the publisher writes only its own lines: its descriptors, its figures, the deliver connections'
 * head lines and entries.
 */
#include "pubsub/pubsub_internal.h"

#include <stdlib.h>
#include <string.h>

/* Claim a publisher slot for participant slot `slot` (max_publishers). Returns it or -EUSERS. */
static int pub_claim(shmipc__ps *ps, int slot)
{
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < ps->max_pubs; k++) {
            uint32_t expect = 0;
            /* acq_rel: acquire pairs with the release that freed the slot (its partition repaired). */
            if (atomic_compare_exchange_strong_explicit(&ps_pub(ps, k)->part, &expect, (uint32_t)slot + 1,
                                                        memory_order_acq_rel, memory_order_relaxed))
                return (int)k;
        }
        if (pass == 0 && shmipc__svc_reclaim_dead(&ps->svc) <= 0)
            break;
    }
    return -EUSERS;
}

/* The free chunks are a FIFO (part_chunks entries): chunks are loaned again in the order they came back,
 * so that in a stream the pool is walked in address order, as a ring's slots are, and the hardware
 * prefetchers of both sides follow it. A stack would hand out the chunk the subscriber read last. */
static void free_push(shmipc_pubsub_publisher *pub, uint32_t c)
{
    if (pub->nfree < pub->ps.part_chunks) {
        uint32_t i = pub->free_head + pub->nfree++;
        pub->free[i < pub->ps.part_chunks ? i : i - pub->ps.part_chunks] = c;
    }
}

static uint32_t free_pop(shmipc_pubsub_publisher *pub)
{
    uint32_t c = pub->free[pub->free_head];
    pub->free_head = pub->free_head + 1 < pub->ps.part_chunks ? pub->free_head + 1 : 0;
    pub->nfree--;
    return c;
}

/* The free chunks from the reference words (after a sweep, or when they ran out). */
static void free_rebuild(shmipc_pubsub_publisher *pub)
{
    pub->nfree = 0;
    pub->free_head = 0;
    for (uint32_t c = 0; c < pub->ps.part_chunks; c++)
        if (atomic_load_explicit(&pub->desc[c].refs, memory_order_relaxed) == 0)
            pub->free[pub->nfree++] = c;
}

/* Follow the membership epoch: serve new subscriber generations, sweep the references of slots whose
 * subscriber left (or was reclaimed, or replaced by a new one). */
static void pub_refresh(shmipc_pubsub_publisher *pub)
{
    shmipc__ps *ps = &pub->ps;
    /* acquire: pairs with the joiner's bump after it stored its generation and state. */
    uint64_t e = atomic_load_explicit(&ps->hdr->epoch, memory_order_acquire);
    if (SHMIPC_LIKELY(e == pub->epoch))
        return;
    pub->epoch = e;
    shmipc__ps_pub *p = ps_pub(ps, pub->k);
    uint64_t swept = 0, targets = 0;
    for (uint32_t j = 0; j < ps->max_subs; j++) {
        shmipc__ps_sub *s = ps_sub(ps, j);
        ps_pub_peer *peer = &pub->peers[j];
        uint16_t want = 0;
        if (atomic_load_explicit(&s->state, memory_order_acquire) == PS_SUB_ACTIVE)
            want = (uint16_t)(atomic_load_explicit(&s->gen, memory_order_relaxed) & PS_GEN_MASK);
        if (peer->gen != want) {
            if (peer->gen != 0)
                swept |= UINT64_C(1) << j;
            peer->gen = want;
            /* relaxed: read by tools and by a recoverer of this partition after our death. */
            atomic_store_explicit(&p->served[j], want, memory_order_relaxed);
        }
        if (peer->gen != 0 && !peer->broken)
            targets |= UINT64_C(1) << j;
    }
    pub->targets = targets;
    if (swept) {
        shmipc__ps_sweep(ps, pub->k, swept);
        free_rebuild(pub);
    }
}

/* Take back what subscriber j released. */
static void pub_drain(shmipc_pubsub_publisher *pub, uint32_t j)
{
    ps_pub_peer *peer = &pub->peers[j];
    uint64_t a, b;
    for (uint32_t n = 0; n < pub->ps.rcap && shmipc__conn_peek(&peer->rx, &a, &b) == 0; n++) {
        if (shmipc__ps_ret_apply(&pub->ps, pub->k, j, peer->gen, a, b))
            free_push(pub, (uint32_t)a);
        shmipc__conn_pop(&peer->rx);
    }
}

static void pub_drain_all(shmipc_pubsub_publisher *pub)
{
    for (uint32_t j = 0; j < pub->ps.max_subs; j++)
        if (!pub->peers[j].broken)
            pub_drain(pub, j);
}

/* Register a publisher on an opened view; on failure the view is closed. */
static int pub_attach(const shmipc__ps *view, int publish_timeout_ms, shmipc_wait_mode mode,
                      shmipc_pubsub_publisher **out)
{
    shmipc_pubsub_publisher *pub = calloc(1, sizeof *pub + view->max_loans * sizeof pub->loans[0]);
    ps_pub_peer *peers = calloc(view->max_subs, sizeof *peers);
    uint32_t *fr = calloc(view->part_chunks, sizeof *fr);
    shmipc__conn_entry *scratch = calloc(view->dcap, sizeof *scratch);
    if (!pub || !peers || !fr || !scratch) {
        free(pub);
        free(peers);
        free(fr);
        free(scratch);
        shmipc__ps_close((shmipc__ps *)view);
        return -ENOMEM;
    }
    pub->ps = *view;
    pub->peers = peers;
    pub->free = fr;
    pub->scratch = scratch;
    pub->publish_timeout_ms = publish_timeout_ms;
    pub->wait_mode = mode;
    shmipc__ps *ps = &pub->ps;
    int slot = shmipc__svc_join(&ps->svc, SHMIPC_ROLE_PUBLISHER, 0);
    int k = slot >= 0 ? pub_claim(ps, slot) : slot;
    if (k < 0) {
        if (slot >= 0)
            shmipc__svc_leave(&ps->svc, (uint32_t)slot);
        shmipc__ps_close(ps);
        free(pub->peers);
        free(pub->free);
        free(pub->scratch);
        free(pub);
        return k;
    }
    ps->slot = slot;
    pub->k = (uint32_t)k;
    pub->desc = ps_desc(ps, pub->k, 0);
    /* A predecessor may have left the partition in any state: repair it before building on it. */
    shmipc__ps_part_recover(ps, pub->k);
    shmipc__ps_pub *p = ps_pub(ps, pub->k);
    pub->seq = atomic_load_explicit(&p->next_seq, memory_order_relaxed) & PS_SEQ_MASK;
    pub->published = atomic_load_explicit(&p->published, memory_order_relaxed);
    pub->delivered = atomic_load_explicit(&p->delivered, memory_order_relaxed);
    pub->dropped = atomic_load_explicit(&p->dropped, memory_order_relaxed);
    uint32_t txf = ps->policy == SHMIPC_PUBSUB_DROP_OLDEST ? SHMIPC__CONN_OVERWRITE : 0;
    for (uint32_t j = 0; j < ps->max_subs; j++) {
        ps_pub_peer *peer = &pub->peers[j];
        peer->broken = shmipc__conn_tx_attach(&peer->tx, ps_dconn(ps, pub->k, j), ps->dcap, txf) != 0 ||
                       shmipc__conn_rx_attach(&peer->rx, ps_rconn(ps, pub->k, j), ps->rcap, 0) != 0;
        peer->tx.depth = ps->depth;
        peer->tx.wake = &ps_sub(ps, j)->data; /* the subscriber sleeps on one word for all publishers */
        peer->gen = atomic_load_explicit(&p->served[j], memory_order_relaxed);
    }
    pub->epoch = ~atomic_load_explicit(&ps->hdr->epoch, memory_order_relaxed);
    pub_refresh(pub);
    free_rebuild(pub);
    *out = pub;
    return 0;
}

int shmipc__publisher_attach(const shmipc__ps *view, int publish_timeout_ms, shmipc_wait_mode mode,
                             shmipc_pubsub_publisher **out)
{
    shmipc__ps v = *view;
    v.borrowed = true;
    return pub_attach(&v, publish_timeout_ms, mode, out);
}

static int pub_new(const char *name, const shmipc_pubsub_opts *opts, bool create, shmipc_pubsub_publisher **out)
{
    if (!out)
        return -EINVAL;
    shmipc_pubsub_opts o;
    int err = SHMIPC__OPTS_TAKE(shmipc_pubsub_opts, shmipc_pubsub_opts_init, &o, opts);
    if (err)
        return err;
    if (!shmipc__wait_mode_valid(o.wait_mode))
        return -EINVAL;
    shmipc__ps ps;
    err = shmipc__ps_create_or_open(&ps, name, opts ? &o : NULL, create); /* NULL: open any service */
    if (err)
        return err;
    return pub_attach(&ps, o.publish_timeout_ms, o.wait_mode, out);
}

int shmipc_pubsub_publisher_create(const char *name, const shmipc_pubsub_opts *opts, shmipc_pubsub_publisher **out)
{
    return pub_new(name, opts, true, out);
}

int shmipc_pubsub_publisher_open(const char *name, const shmipc_pubsub_opts *opts, shmipc_pubsub_publisher **out)
{
    return pub_new(name, opts, false, out);
}

uint32_t shmipc_pubsub_publisher_id(const shmipc_pubsub_publisher *pub) { return pub ? pub->k : UINT32_MAX; }

int shmipc_pubsub_publisher_options(const shmipc_pubsub_publisher *pub, shmipc_pubsub_opts *out)
{
    if (!pub)
        return -EINVAL;
    shmipc_pubsub_opts o;
    shmipc__ps_options(&pub->ps, &o);
    o.publish_timeout_ms = pub->publish_timeout_ms;
    o.wait_mode = pub->wait_mode == SHMIPC_WAIT_DEFAULT ? SHMIPC_WAIT_HYBRID : pub->wait_mode;
    return shmipc__opts_give(out, &o, sizeof o);
}

/* Take chunk c from the free FIFO for a loan. False if it is not free after all, or a joiner pinned it. */
static bool pub_take(shmipc_pubsub_publisher *pub, uint32_t c)
{
    shmipc__ps_chunk *d = &pub->desc[c];
    if (atomic_load_explicit(&d->refs, memory_order_relaxed) != 0)
        return false;
    if (pub->ps.history == 0) {
        /* No history, no pins: only joiners pin, and only history chunks. */
        atomic_store_explicit(&d->refs, PS_LOANED, memory_order_relaxed);
        return true;
    }
    /* seq_cst store and load: against a joiner's seq_cst pin and its load of refs, so that either it sees
     * the loan (and drops its pin) or we see its pin (and leave the chunk alone). */
    atomic_store_explicit(&d->refs, PS_LOANED, memory_order_seq_cst);
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&d->pins, memory_order_seq_cst) != 0)) {
        atomic_store_explicit(&d->refs, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

int shmipc_pubsub_publisher_loan(shmipc_pubsub_publisher *pub, size_t len, void **ptr)
{
    if (!pub || !ptr || len > pub->ps.payload_max)
        return -EINVAL;
    if (pub->nloans >= pub->ps.max_loans)
        return -ENOBUFS;
    shmipc__ps *ps = &pub->ps;
    pub_refresh(pub);
    for (int pass = 0; pass < 3; pass++) {
        while (pub->nfree) {
            uint32_t c = free_pop(pub);
            if (!pub_take(pub, c))
                continue;
            pub->loans[pub->nloans++] = c;
            ps_hook(PS_HOOK_AFTER_LOAN);
            *ptr = ps->pool + ((size_t)pub->k * ps->part_chunks + c) * ps->stride;
            return 0;
        }
        /* Dry: take back what subscribers released; then what dead participants hold. */
        if (pass == 1 && shmipc__svc_reclaim_dead(&ps->svc) <= 0)
            break;
        pub_refresh(pub);
        pub_drain_all(pub);
        if (pub->nfree == 0)
            free_rebuild(pub);
    }
    return -ENOBUFS;
}

/* Index in pub->loans of the chunk at ptr, or -1. Compared with each loan's address (there are at most
 * max_loans): no division on the publish path. */
static int pub_find_loan(const shmipc_pubsub_publisher *pub, const void *ptr)
{
    const shmipc__ps *ps = &pub->ps;
    const unsigned char *part = ps->pool + (size_t)pub->k * ps->part_chunks * ps->stride;
    for (uint32_t i = 0; i < pub->nloans; i++)
        if (part + (size_t)pub->loans[i] * ps->stride == (const unsigned char *)ptr)
            return (int)i;
    return -1;
}

/* The loan of chunk loans[i] ends: the reference stays only as far as subscribers or the history hold it. */
static void pub_end_loan(shmipc_pubsub_publisher *pub, int i)
{
    uint32_t c = pub->loans[i];
    pub->loans[i] = pub->loans[--pub->nloans];
    shmipc__ps_chunk *d = &pub->desc[c];
    uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed) & ~PS_LOANED;
    atomic_store_explicit(&d->refs, r, memory_order_relaxed);
    if (r == 0)
        free_push(pub, c);
}

int shmipc_pubsub_publisher_discard(shmipc_pubsub_publisher *pub, void *ptr)
{
    int i = pub ? pub_find_loan(pub, ptr) : -1;
    if (i < 0)
        return -EINVAL;
    pub_end_loan(pub, i);
    return 0;
}

typedef struct room_arg {
    shmipc_pubsub_publisher *pub;
    uint32_t j;
    bool gone;
} room_arg;

/* Wait condition: room in subscriber j's deliver connection, or the subscriber gone. */
static int room_cond(void *arg, bool slow)
{
    room_arg *r = arg;
    shmipc__ps *ps = &r->pub->ps;
    ps_pub_peer *peer = &r->pub->peers[r->j];
    shmipc__ps_sub *s = ps_sub(ps, r->j);
    if (atomic_load_explicit(&s->state, memory_order_acquire) != PS_SUB_ACTIVE ||
        (atomic_load_explicit(&s->gen, memory_order_relaxed) & PS_GEN_MASK) != peer->gen) {
        r->gone = true;
        return 1;
    }
    if (shmipc__conn_tx_room(&peer->tx))
        return 1;
    if (slow) {
        /* A dead subscriber never makes room: between slices check it, and reclaim it if it is gone. */
        uint32_t part = atomic_load_explicit(&s->part, memory_order_acquire);
        if (part != 0 && part <= ps->svc.nparts) {
            uint64_t owner = atomic_load_explicit(&ps->svc.parts[part - 1].owner, memory_order_acquire);
            if (owner && !shmipc__owner_alive(owner))
                shmipc__svc_reclaim_dead(&ps->svc);
        }
    }
    return 0;
}

/* Release the references a full overwrite push took back (the CAS on tail gave them to us, exactly
 * once: a subscriber whose CAS lost never uses the entry). */
static void pub_take_back(shmipc_pubsub_publisher *pub, uint32_t j, const shmipc__conn_entry *e, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0)
            ps_hook(PS_HOOK_MID_DROP);
        uint64_t a = atomic_load_explicit(&e[i].a, memory_order_relaxed) & PS_LOCAL_MASK;
        uint64_t b = atomic_load_explicit(&e[i].b, memory_order_relaxed);
        if (shmipc__ps_ret_apply(&pub->ps, pub->k, j, pub->peers[j].gen, a, b))
            free_push(pub, (uint32_t)a);
        pub->dropped++;
    }
}

/* Deliver entry (a, seq) to subscriber j. Returns 1 delivered, 0 not (the subscriber left), or
 * -ETIMEDOUT / -EINTR (wait policy: counted as missed), -EBADMSG. */
static int pub_deliver(shmipc_pubsub_publisher *pub, uint32_t j, uint64_t a, uint64_t seq, uint64_t *deadline)
{
    ps_pub_peer *peer = &pub->peers[j];
    uint64_t b = seq | (uint64_t)peer->gen << PS_SEQ_BITS;
    for (;;) {
        uint32_t nd = 0; /* at most dcap - depth + 1 drops in one push (the scratch has dcap entries) */
        int r = shmipc__conn_push(&peer->tx, a, b, peer->tx.flags & SHMIPC__CONN_OVERWRITE ? pub->scratch : NULL, &nd);
        if (nd)
            pub_take_back(pub, j, pub->scratch, nd);
        if (r == 0) {
            shmipc__conn_publish(&peer->tx);
            return 1;
        }
        if (r != -EAGAIN)
            return r;
        if (*deadline == UINT64_MAX)
            *deadline = shmipc__wait_deadline(pub->publish_timeout_ms);
        room_arg arg = {.pub = pub, .j = j};
        /* The handle's wait mode: a busy-polling publisher must not fall asleep (and make its subscriber
         * pay a wake-up system call per pop) just because the connection was full for a moment. */
        shmipc__wait_spec w = {.notify = &peer->tx.c->space, .mode = pub->wait_mode, .deadline_ns = *deadline,
                               .adapt = &pub->adapt};
        r = shmipc__wait(&w, room_cond, &arg);
        if (r == 0 && arg.gone)
            return 0;
        if (r == 0)
            continue;
        if (r == -EAGAIN)
            r = -ETIMEDOUT; /* timeout 0: tried once */
        /* Missed for that subscriber: counted where its missed figure is read (the connection's dropped
         * word, written by us, the producer, alone). */
        shmipc__conn *c = peer->tx.c;
        atomic_store_explicit(&c->dropped, atomic_load_explicit(&c->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        pub->dropped++;
        return r;
    }
}

/* Deliver to every slot in targets; clears the bits of those not delivered from *refs. */
static int pub_deliver_all(shmipc_pubsub_publisher *pub, uint64_t targets, uint64_t a, uint64_t seq, uint64_t *refs,
                           uint64_t *deadline, int *n)
{
    int err = 0;
    for (uint64_t t = targets; t; t &= t - 1) {
        uint32_t j = (uint32_t)__builtin_ctzll(t);
        int r = pub_deliver(pub, j, a, seq, deadline);
        if (r == 1) {
            if (++*n == 1)
                ps_hook(PS_HOOK_AFTER_FIRST);
            continue;
        }
        *refs &= ~(UINT64_C(1) << j);
        if (r < 0 && !err)
            err = r;
    }
    return err;
}

/* Put chunk c (sample seq) into our history ring, unpinning the oldest. */
static void pub_hist_insert(shmipc_pubsub_publisher *pub, uint32_t c, uint64_t seq)
{
    shmipc__ps *ps = &pub->ps;
    shmipc__ps_pub *p = ps_pub(ps, pub->k);
    shmipc__conn_entry *h = ps_hist(ps, pub->k);
    uint32_t n = ps->history;
    uint64_t t = atomic_load_explicit(&p->hist_tail, memory_order_relaxed);
    shmipc__conn_entry *e = &h[t % n];
    if (t >= n) {
        uint64_t oc = atomic_load_explicit(&e->a, memory_order_relaxed);
        uint64_t os = atomic_load_explicit(&e->b, memory_order_relaxed);
        if (oc < ps->part_chunks && atomic_load_explicit(&pub->desc[oc].seq, memory_order_relaxed) == os) {
            shmipc__ps_chunk *d = &pub->desc[oc];
            uint64_t r = atomic_load_explicit(&d->refs, memory_order_relaxed) & ~PS_HIST_BIT;
            atomic_store_explicit(&d->refs, r, memory_order_relaxed);
            if (r == 0)
                free_push(pub, (uint32_t)oc);
        }
    }
    atomic_store_explicit(&e->a, c, memory_order_relaxed);
    atomic_store_explicit(&e->b, seq, memory_order_relaxed);
    /* seq_cst: publishes the entry (release) and, with the epoch load that follows, is our half of the
     * late-joiner handshake. */
    atomic_store_explicit(&p->hist_tail, t + 1, memory_order_seq_cst);
}

int shmipc_pubsub_publisher_publish(shmipc_pubsub_publisher *pub, void *ptr, size_t len)
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
    shmipc__ps_chunk *d = &pub->desc[c];
    shmipc__ps_pub *p = ps_pub(ps, pub->k);
    uint64_t seq = pub->seq = (pub->seq + 1) & PS_SEQ_MASK;
    if (seq == 0)
        seq = pub->seq = 1;
    /* relaxed: our own lines; delivered to subscribers by each connection's publish (the stamp store, or
     * under drop oldest the head store; the entry carries length and sequence), to recoverers by the
     * participant reclaim. */
    atomic_store_explicit(&p->next_seq, seq, memory_order_relaxed);
    atomic_store_explicit(&d->len, len, memory_order_relaxed);
    atomic_store_explicit(&d->seq, seq, memory_order_relaxed);
    pub_refresh(pub);
    uint64_t targets = pub->targets;
    uint64_t refs = PS_LOANED | targets;
    atomic_store_explicit(&d->refs, refs, memory_order_relaxed);
    ps_hook(PS_HOOK_MID_DELIVERY);
    uint64_t a = (uint64_t)c | (uint64_t)len << PS_LOCAL_BITS;
    uint64_t deadline = UINT64_MAX; /* computed when a connection is first found full */
    int n = 0;
    int err = pub_deliver_all(pub, targets, a, seq, &refs, &deadline, &n);
    if (ps->history) {
        refs |= PS_HIST_BIT;
        atomic_store_explicit(&d->refs, refs, memory_order_relaxed);
        pub_hist_insert(pub, c, seq);
        /* seq_cst: a subscriber that joined after our first epoch load and did not see this history entry
         * is visible now: it gets the sample here. */
        if (atomic_load_explicit(&ps->hdr->epoch, memory_order_seq_cst) != pub->epoch) {
            pub_refresh(pub);
            uint64_t late = pub->targets & ~targets;
            if (late) {
                refs |= late;
                atomic_store_explicit(&d->refs, refs, memory_order_relaxed);
                int e2 = pub_deliver_all(pub, late, a, seq, &refs, &deadline, &n);
                if (e2 && !err)
                    err = e2;
            }
        }
    }
    atomic_store_explicit(&d->refs, refs, memory_order_relaxed);
    ps_hook(PS_HOOK_AFTER_PUBLISH);
    pub_end_loan(pub, i);
    pub->published++;
    pub->delivered += (uint64_t)n;
    /* relaxed: figures, in our own line. */
    atomic_store_explicit(&p->published, pub->published, memory_order_relaxed);
    atomic_store_explicit(&p->delivered, pub->delivered, memory_order_relaxed);
    atomic_store_explicit(&p->dropped, pub->dropped, memory_order_relaxed);
    return err ? err : n;
}

int shmipc_pubsub_publisher_publish_copy(shmipc_pubsub_publisher *pub, const void *buf, size_t len)
{
    if (!pub || (!buf && len))
        return -EINVAL;
    if (!(pub->ps.flags & SHMIPC_PUBSUB_DYNAMIC) && len != pub->ps.payload_max)
        return -EINVAL;
    void *p;
    int err = shmipc_pubsub_publisher_loan(pub, len, &p);
    if (err)
        return err;
    if (len) /* buf may be NULL when len is 0: memcpy must not get it */
        memcpy(p, buf, len);
    return shmipc_pubsub_publisher_publish(pub, p, len);
}

int shmipc_pubsub_publisher_close(shmipc_pubsub_publisher *pub)
{
    if (!pub)
        return 0;
    shmipc__ps *ps = &pub->ps;
    while (pub->nloans)
        pub_end_loan(pub, 0);
    pub_drain_all(pub);
    shmipc__ps_pub *p = ps_pub(ps, pub->k);
    uint32_t mine = (uint32_t)ps->slot + 1;
    /* release: our partition is consistent before the slot can be claimed again. A CAS: a slot taken over
     * meanwhile (we were judged dead) is not ours to free. */
    atomic_compare_exchange_strong_explicit(&p->part, &mine, 0, memory_order_release, memory_order_relaxed);
    shmipc__svc_leave(&ps->svc, (uint32_t)ps->slot);
    shmipc__ps_close(ps);
    free(pub->peers);
    free(pub->free);
    free(pub->scratch);
    free(pub);
    return 0;
}
