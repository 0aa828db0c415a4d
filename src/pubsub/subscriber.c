/* SPDX-License-Identifier: MIT */
/*
 * pubsub/subscriber.c - the subscriber side: claiming a subscriber slot (a new generation of it), taking
 * the publishers' histories by pinning their chunks, receiving from the deliver connections (round robin
 * over publisher slots) as read-only views of pool chunks, waiting through the common wait primitive on
 * the slot's one notify word, releasing through the return connections, closing. In the steady state
 * the subscriber writes only its own lines: the deliver connections' tail lines, the return connections'
 * head lines and entries, its held records.
 */
#include "pubsub/pubsub_internal.h"
#include "common/waitable.h"

#include <stdlib.h>
#include <string.h>

/* Claim a free subscriber slot for participant slot `slot`. Returns its index or -EUSERS. */
static int sub_claim(shmipc__ps *ps, int slot)
{
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t j = 0; j < ps->max_subs; j++) {
            uint32_t expect = 0;
            /* acq_rel: acquire pairs with the release that freed the slot after its sweep. */
            if (atomic_compare_exchange_strong_explicit(&ps_sub(ps, j)->part, &expect, (uint32_t)slot + 1,
                                                        memory_order_acq_rel, memory_order_relaxed))
                return (int)j;
        }
        if (pass == 0 && shmipc__svc_reclaim_dead(&ps->svc) <= 0)
            break;
    }
    return -EUSERS;
}

static bool len_ok(const shmipc__ps *ps, uint64_t len)
{
    return (ps->flags & SHMIPC_PUBSUB_DYNAMIC) ? len <= ps->payload_max : len == ps->payload_max;
}

/* Pin the last `history` samples of every publisher slot (the publisher may be idle, closed or dead:
 * its history stays readable). A pin is valid only if the chunk still holds that sample and is not being
 * loaned again; the publisher checks pins when it loans (see pub_take). */
static void sub_take_history(shmipc_pubsub_subscriber *sub)
{
    shmipc__ps *ps = &sub->ps;
    uint64_t bit = UINT64_C(1) << sub->j;
    uint32_t n = ps->history;
    for (uint32_t k = 0; k < ps->max_pubs; k++) {
        shmipc__ps_pub *p = ps_pub(ps, k);
        /* seq_cst: after our epoch bump, the joiner's half of the late-joiner handshake. */
        uint64_t t = atomic_load_explicit(&p->hist_tail, memory_order_seq_cst);
        for (uint64_t i = t > n ? t - n : 0; i < t; i++) {
            shmipc__conn_entry *e = &ps_hist(ps, k)[i % n];
            uint64_t c = atomic_load_explicit(&e->a, memory_order_relaxed);
            uint64_t seq = atomic_load_explicit(&e->b, memory_order_relaxed);
            if (c >= ps->part_chunks || seq == 0)
                continue;
            bool dup = false;
            for (uint32_t h = 0; h < sub->nhist && !dup; h++)
                dup = sub->hist[h].k == k && sub->hist[h].c == c;
            if (dup)
                continue;
            shmipc__ps_chunk *d = ps_desc(ps, k, (uint32_t)c);
            /* seq_cst: our pin, then the loan word: against the publisher's seq_cst loan store and pins load. */
            atomic_fetch_or_explicit(&d->pins, bit, memory_order_seq_cst);
            uint64_t r = atomic_load_explicit(&d->refs, memory_order_seq_cst);
            uint64_t len = atomic_load_explicit(&d->len, memory_order_relaxed);
            if ((r & PS_LOANED) || atomic_load_explicit(&d->seq, memory_order_relaxed) != seq || !len_ok(ps, len)) {
                atomic_fetch_and_explicit(&d->pins, ~bit, memory_order_release);
                continue;
            }
            sub->hist[sub->nhist++] = (ps_held){.k = k, .c = (uint32_t)c, .seq = seq, .len = len, .pinned = true};
            if (seq > sub->peers[k].hist_max)
                sub->peers[k].hist_max = seq;
        }
    }
}

/* Register a subscriber on an opened view; on failure the view is closed. */
static int sub_attach(const shmipc__ps *view, shmipc_wait_mode mode, shmipc_pubsub_subscriber **out)
{
    shmipc_pubsub_subscriber *sub = calloc(1, sizeof *sub + view->max_held * sizeof sub->held[0]);
    ps_sub_peer *peers = calloc(view->max_pubs, sizeof *peers);
    ps_held *hist = calloc((size_t)view->max_pubs * view->history + 1, sizeof *hist);
    if (!sub || !peers || !hist) {
        free(sub);
        free(peers);
        free(hist);
        shmipc__ps_close((shmipc__ps *)view);
        return -ENOMEM;
    }
    sub->ps = *view;
    sub->peers = peers;
    sub->hist = hist;
    sub->wait_mode = mode ? mode : SHMIPC_WAIT_HYBRID;
    shmipc__ps *ps = &sub->ps;
    int slot = shmipc__svc_join(&ps->svc, SHMIPC_ROLE_SUBSCRIBER, 0);
    int j = slot >= 0 ? sub_claim(ps, slot) : slot;
    if (j < 0) {
        if (slot >= 0)
            shmipc__svc_leave(&ps->svc, (uint32_t)slot);
        shmipc__ps_close(ps);
        free(sub->peers);
        free(sub->hist);
        free(sub);
        return j;
    }
    ps->slot = slot;
    sub->j = (uint32_t)j;
    shmipc__ps_sub *s = ps_sub(ps, sub->j);
    sub->gen = ps_gen_next(atomic_load_explicit(&s->gen, memory_order_relaxed));
    atomic_store_explicit(&s->gen, sub->gen, memory_order_relaxed);
    for (uint32_t i = 0; i < ps->max_held; i++)
        atomic_store_explicit(&s->held[i].a, 0, memory_order_relaxed);
    /* Only this slot's owner sleeps on data: a count left by a dead predecessor can go. */
    atomic_store_explicit(&s->data.waiters, 0, memory_order_relaxed);
    uint32_t rxf = ps->policy == SHMIPC_PUBSUB_DROP_OLDEST ? SHMIPC__CONN_OVERWRITE : SHMIPC__CONN_PRODUCER_SLEEPS;
    for (uint32_t k = 0; k < ps->max_pubs; k++) {
        ps_sub_peer *peer = &sub->peers[k];
        shmipc__conn *dc = ps_dconn(ps, k, sub->j);
        peer->broken = shmipc__conn_rx_attach(&peer->rx, dc, ps->dcap, rxf) != 0 ||
                       shmipc__conn_tx_attach(&peer->tx, ps_rconn(ps, k, sub->j), ps->rcap,
                                              SHMIPC__CONN_CONSUMER_POLLS) != 0;
        peer->base = atomic_load_explicit(&dc->dropped, memory_order_relaxed);
        /* What a predecessor left queued is of an older generation: consume it unread (its publisher
         * sweeps those references when it sees the slot change hands). */
        uint64_t a, b;
        for (uint32_t n = 0; !peer->broken && n < ps->dcap && shmipc__conn_peek(&peer->rx, &a, &b) == 0; n++)
            shmipc__conn_pop(&peer->rx);
    }
    /* release: gen, held records and the drained connections are in place before a publisher serves us. */
    atomic_store_explicit(&s->state, PS_SUB_ACTIVE, memory_order_release);
    ps_epoch_bump(ps);
    if (ps->history)
        sub_take_history(sub);
    *out = sub;
    return 0;
}

int shmipc__subscriber_attach(const shmipc__ps *view, shmipc_wait_mode mode, shmipc_pubsub_subscriber **out)
{
    shmipc__ps v = *view;
    v.borrowed = true;
    return sub_attach(&v, mode, out);
}

int shmipc_pubsub_subscriber_open(const char *name, const shmipc_pubsub_opts *opts, shmipc_pubsub_subscriber **out)
{
    shmipc_pubsub_opts o;
    int err = SHMIPC__OPTS_TAKE(shmipc_pubsub_opts, shmipc_pubsub_opts_init, &o, opts);
    if (err)
        return err;
    if (!out || !shmipc__wait_mode_valid(o.wait_mode))
        return -EINVAL;
    shmipc__ps ps;
    err = shmipc__ps_open(&ps, name, opts ? &o : NULL, true); /* NULL: open any service */
    if (err)
        return err;
    return sub_attach(&ps, o.wait_mode, out);
}

/* A free held record index (there are max_held and we hold fewer). */
static uint32_t rec_free(const shmipc_pubsub_subscriber *sub)
{
    const shmipc__ps_sub *s = ps_sub(&sub->ps, sub->j);
    for (uint32_t i = 0; i < sub->ps.max_held; i++)
        if (atomic_load_explicit(&s->held[i].a, memory_order_relaxed) == 0)
            return i;
    return 0; /* unreachable: nheld < max_held */
}

/* Hand (c, seq) from publisher k back. */
static void sub_return(shmipc_pubsub_subscriber *sub, uint32_t k, uint32_t c, uint64_t seq)
{
    ps_sub_peer *peer = &sub->peers[k];
    /* -EAGAIN cannot happen with an honest publisher (the connection holds a whole partition); a chunk
     * that cannot be returned stays referenced until this slot is freed. */
    if (shmipc__conn_push(&peer->tx, c, seq | (uint64_t)sub->gen << PS_SEQ_BITS, NULL, NULL) == 0)
        shmipc__conn_publish(&peer->tx);
}

static void fill(shmipc_pubsub_subscriber *sub, shmipc_pubsub_sample *smp, const ps_held *h)
{
    const shmipc__ps *ps = &sub->ps;
    size_t g = (size_t)h->k * ps->part_chunks + h->c;
    smp->data = ps->pool + g * ps->stride;
    smp->size = (size_t)h->len;
    smp->sequence = h->seq;
    smp->publisher = h->k;
    smp->chunk = (uint32_t)g;
}

/* Take the next sample. Returns 0, -EAGAIN (none), -EBADMSG (a corrupt entry, skipped, or connection). */
static int sub_take(shmipc_pubsub_subscriber *sub, shmipc_pubsub_sample *smp)
{
    shmipc__ps *ps = &sub->ps;
    if (SHMIPC_UNLIKELY(sub->hist_pos < sub->nhist)) {
        ps_held *h = &sub->hist[sub->hist_pos++];
        sub->held[sub->nheld++] = *h;
        fill(sub, smp, h);
        return 0;
    }
    shmipc__ps_sub *s = ps_sub(ps, sub->j);
    int err = -EAGAIN;
    for (uint32_t i = 0; i < ps->max_pubs; i++) {
        uint32_t k = sub->next + i < ps->max_pubs ? sub->next + i : sub->next + i - ps->max_pubs;
        ps_sub_peer *peer = &sub->peers[k];
        if (peer->broken)
            continue;
        for (uint32_t tries = 0; tries <= ps->dcap; tries++) {
            uint64_t a, b;
            int r = shmipc__conn_peek(&peer->rx, &a, &b);
            if (r == -EAGAIN) {
                /* A publisher loans its chunks in the order they came back (its free FIFO), so in
                 * address order: the next chunk after the last one it delivered is the likely one. */
                shmipc__prefetch_next(ps->pool + ((size_t)k * ps->part_chunks + peer->guess) * ps->stride);
                break;
            }
            if (r) {
                shmipc__svc_set_detail("pubsub: deliver connection %u -> %u indices corrupt", k, sub->j);
                err = r;
                break;
            }
            uint64_t c = a & PS_LOCAL_MASK, len = a >> PS_LOCAL_BITS, seq = b & PS_SEQ_MASK;
            if ((b >> PS_SEQ_BITS) != sub->gen) { /* an older generation's entry: not ours */
                shmipc__conn_pop(&peer->rx);
                continue;
            }
            if (c >= ps->part_chunks || !len_ok(ps, len)) {
                if (shmipc__conn_pop(&peer->rx) != 0)
                    continue; /* dropped under us: what we read may be torn */
                shmipc__svc_set_detail("pubsub: deliver entry names chunk %llu of %u, length %llu",
                                       (unsigned long long)c, ps->part_chunks, (unsigned long long)len);
                return -EBADMSG;
            }
            /* The held record is written before the entry is consumed, and cleared only after the chunk
             * is returned, so a recoverer of the publisher's partition always finds it somewhere. */
            uint32_t rec = rec_free(sub);
            atomic_store_explicit(&s->held[rec].b, seq, memory_order_relaxed);
            /* release: pairs with the recoverer's acquire load of the record. */
            atomic_store_explicit(&s->held[rec].a, (uint64_t)(k + 1) << 32 | c, memory_order_release);
            if (shmipc__conn_pop(&peer->rx) != 0) {
                atomic_store_explicit(&s->held[rec].a, 0, memory_order_relaxed);
                continue; /* the publisher dropped it meanwhile (overwrite): look again */
            }
            if (SHMIPC_UNLIKELY(seq <= peer->hist_max)) {
                /* Delivered while we took it from the history already. */
                sub_return(sub, k, (uint32_t)c, seq);
                atomic_store_explicit(&s->held[rec].a, 0, memory_order_release);
                continue;
            }
            peer->guess = c + 1 < ps->part_chunks ? (uint32_t)c + 1 : 0;
            ps_held *h = &sub->held[sub->nheld++];
            *h = (ps_held){.k = k, .c = (uint32_t)c, .seq = seq, .len = len, .rec = rec};
            fill(sub, smp, h);
            sub->next = k + 1 < ps->max_pubs ? k + 1 : 0;
            return 0;
        }
    }
    return err;
}

typedef struct recv_arg {
    shmipc_pubsub_subscriber *sub;
    shmipc_pubsub_sample *smp;
} recv_arg;

static int recv_cond(void *arg, bool slow)
{
    (void)slow;
    recv_arg *ra = arg;
    shmipc_pubsub_subscriber *sub = ra->sub;
    shmipc__ps *ps = &sub->ps;
    if (atomic_load_explicit(&ps_sub(ps, sub->j)->part, memory_order_relaxed) != (uint32_t)ps->slot + 1)
        return -EPIPE;
    /* The peeks' seq_cst stamp loads are, after the wait's announcement on our notify word, the
     * consumer's half of the handshake with a publisher's publish. */
    int r = sub_take(sub, ra->smp);
    return r == 0 ? 1 : r == -EAGAIN ? 0 : r;
}

int shmipc_pubsub_subscriber_receive(shmipc_pubsub_subscriber *sub, shmipc_pubsub_sample *sample, int timeout_ms)
{
    if (!sub || !sample)
        return -EINVAL;
    if (sub->nheld >= sub->ps.max_held)
        return -ENOBUFS;
    recv_arg ra = {.sub = sub, .smp = sample};
    shmipc__wait_spec w = {.notify = &ps_sub(&sub->ps, sub->j)->data, .mode = sub->wait_mode,
                           .timeout_ms = timeout_ms, .relative = true, .adapt = &sub->adapt};
    return shmipc__wait(&w, recv_cond, &ra);
}

static void sub_drop_held(shmipc_pubsub_subscriber *sub, uint32_t i)
{
    shmipc__ps *ps = &sub->ps;
    ps_held *h = &sub->held[i];
    if (h->pinned) {
        /* release: our reads of the payload are done before the publisher may loan the chunk again. */
        atomic_fetch_and_explicit(&ps_desc(ps, h->k, h->c)->pins, ~(UINT64_C(1) << sub->j), memory_order_release);
    } else {
        sub_return(sub, h->k, h->c, h->seq);
        /* release: the return is published before the record goes (see sub_take). */
        atomic_store_explicit(&ps_sub(ps, sub->j)->held[h->rec].a, 0, memory_order_release);
    }
    sub->held[i] = sub->held[--sub->nheld];
}

int shmipc_pubsub_subscriber_release(shmipc_pubsub_subscriber *sub, shmipc_pubsub_sample *sample)
{
    if (!sub || !sample)
        return -EINVAL;
    for (uint32_t i = 0; i < sub->nheld; i++) {
        const ps_held *h = &sub->held[i];
        if ((size_t)h->k * sub->ps.part_chunks + h->c != sample->chunk)
            continue;
        sub_drop_held(sub, i);
        sample->data = NULL;
        return 0;
    }
    return -EINVAL;
}

int shmipc_pubsub_subscriber_receive_copy(shmipc_pubsub_subscriber *sub, void *buf, size_t cap, int timeout_ms,
                                   shmipc_pubsub_sample *info)
{
    shmipc_pubsub_sample s;
    if (!buf && cap)
        return -EINVAL;
    int r = shmipc_pubsub_subscriber_receive(sub, &s, timeout_ms);
    if (r)
        return r;
    size_t n = s.size;
    if (n && n <= cap) /* buf may be NULL when cap is 0: memcpy must not get it */
        memcpy(buf, s.data, n);
    if (info) {
        *info = s;
        info->data = NULL;
    }
    shmipc_pubsub_subscriber_release(sub, &s);
    if (n > cap)
        return -EMSGSIZE;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int shmipc_pubsub_subscriber_options(const shmipc_pubsub_subscriber *sub, shmipc_pubsub_opts *out)
{
    if (!sub)
        return -EINVAL;
    shmipc_pubsub_opts o;
    shmipc__ps_options(&sub->ps, &o);
    o.wait_mode = sub->wait_mode;
    return shmipc__opts_give(out, &o, sizeof o);
}

uint64_t shmipc_pubsub_subscriber_missed(const shmipc_pubsub_subscriber *sub)
{
    if (!sub)
        return 0;
    uint64_t n = 0;
    for (uint32_t k = 0; k < sub->ps.max_pubs; k++) {
        /* relaxed: a counter, written by publisher k alone (overwrites and wait timeouts). */
        uint64_t d = atomic_load_explicit(&ps_dconn(&sub->ps, k, sub->j)->dropped, memory_order_relaxed);
        n += d - sub->peers[k].base;
    }
    return n;
}

int shmipc_pubsub_subscriber_close(shmipc_pubsub_subscriber *sub)
{
    if (!sub)
        return 0;
    shmipc__ps *ps = &sub->ps;
    if (atomic_load_explicit(&ps_sub(ps, sub->j)->part, memory_order_relaxed) == (uint32_t)ps->slot + 1) {
        while (sub->nheld)
            sub_drop_held(sub, 0);
        uint64_t bit = UINT64_C(1) << sub->j;
        for (; sub->hist_pos < sub->nhist; sub->hist_pos++) {
            ps_held *h = &sub->hist[sub->hist_pos];
            atomic_fetch_and_explicit(&ps_desc(ps, h->k, h->c)->pins, ~bit, memory_order_release);
        }
        shmipc__ps_sub_free(ps, sub->j);
    }
    shmipc__svc_leave(&ps->svc, (uint32_t)ps->slot);
    shmipc__ps_close(ps);
    free(sub->peers);
    free(sub->hist);
    free(sub);
    return 0;
}

/* The waitset's readiness check (common/waitable.h): what recv_cond looks at, taking nothing: history
 * pinned at join not yet received, or an entry on any deliver connection (the seq_cst stamp load, of head
 * under drop oldest, in shmipc__conn_rx_ready: the sleeper's half of publish's handshake). A slot no
 * longer ours is ERR. */
static uint32_t sub_ready(void *p, uint32_t events, bool slow)
{
    (void)slow;
    shmipc_pubsub_subscriber *sub = p;
    shmipc__ps *ps = &sub->ps;
    if (atomic_load_explicit(&ps_sub(ps, sub->j)->part, memory_order_relaxed) != (uint32_t)ps->slot + 1)
        return events | SHMIPC_WAITSET_ERR;
    if (sub->hist_pos < sub->nhist)
        return events;
    for (uint32_t k = 0; k < ps->max_pubs; k++)
        if (!sub->peers[k].broken && shmipc__conn_rx_ready(&sub->peers[k].rx))
            return events;
    return 0;
}

int shmipc__subscriber_waitable(shmipc_pubsub_subscriber *sub, uint32_t events, shmipc__waitable *w)
{
    if (events != SHMIPC_WAITSET_IN)
        return -EINVAL;
    w->ready = sub_ready;
    w->words[0] = &ps_sub(&sub->ps, sub->j)->data;
    w->nwords = 1;
    return 0;
}
