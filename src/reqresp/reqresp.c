/* SPDX-License-Identifier: MIT */
/*
 * reqresp/reqresp.c - the request/response service on connections (src/conn): per client slot a request
 * connection (client -> server) and a response connection (server -> client) whose entries name a payload
 * slot of the producer's own, correlation ids, streamed responses, and what happens when either side dies
 * (a dead client's connections reclaimed as a whole, -EPIPE for clients of a dead server, takeover by a
 * restarted server). Layout in reqresp_internal.h; rules in ARCHITECTURE.md ("Request/response").
 */
#include "reqresp/reqresp_internal.h"
#include "service/role.h"
#include "common/waitable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RR_STAT_REQUESTS, RR_STAT_RESPONSES, RR_STAT_DROPPED, RR_NSTATS };
static const char *const rr_stat_names[RR_NSTATS] = {"requests", "responses", "dropped"};

/* The server's private view of one client slot's connections. */
typedef struct rr_peer {
    shmipc__conn_rx req;  /* we consume requests */
    shmipc__conn_tx resp; /* we produce responses */
    uint32_t gen;         /* the connection generation our view belongs to */
    uint8_t attached;     /* req and resp attached (indices were sane) */
} rr_peer;

struct shmipc_reqresp_server {
    shmipc__svc svc;
    shmipc__rr_geom g; /* validated copy: never re-read from shared memory */
    shmipc__rr_hdr *h;
    uint64_t me;
    uint32_t slot;
    uint32_t epoch;
    uint32_t cursor; /* next area to look at (round-robin) */
    uint64_t next_reclaim_ns; /* when waiting next looks for dead clients */
    shmipc_wait_mode wait_mode;
    shmipc__wait_adapt adapt;
    rr_peer *peers; /* one per area */
    bool borrowed;  /* svc's mapping belongs to another handle (shmipc__rr_server_attach) */
};

/* How often a waiting server looks for dead clients (each look reads /proc once per participant). */
#define RR_RECLAIM_EVERY_NS (500u * 1000u * 1000u)

struct shmipc_reqresp_client {
    shmipc__svc svc;
    shmipc__rr_geom g;
    shmipc__rr_hdr *h;
    shmipc__rr_ctl *ctl;
    shmipc__conn_tx req;  /* we produce requests */
    shmipc__conn_rx resp; /* we consume responses */
    uint32_t slot;
    uint32_t gen;
    uint64_t next_id;
    uint32_t sent_epoch;  /* server epoch of the requests still unanswered */
    uint32_t outstanding; /* requests sent whose last response has not arrived */
    shmipc_wait_mode wait_mode;
    shmipc__wait_adapt adapt;
    bool borrowed; /* svc's mapping belongs to another handle (shmipc__rr_client_attach) */
};

/* Close a handle's service view unless its mapping is borrowed. */
static void rr_svc_release(shmipc__svc *svc, bool borrowed)
{
    if (!borrowed)
        shmipc__svc_close(svc);
}

void shmipc_reqresp_opts_init(shmipc_reqresp_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

int shmipc__rr_geom_make(shmipc__rr_geom *g, uint32_t depth, uint32_t max_request, uint32_t max_response,
                         uint32_t max_clients)
{
    if (depth == 0 || depth > SHMIPC_RR_MAX_DEPTH || (depth & (depth - 1)) || max_request > SHMIPC_RR_MAX_MESSAGE ||
        max_response > SHMIPC_RR_MAX_MESSAGE || max_clients == 0 || max_clients >= SHMIPC_SVC_MAX_PARTICIPANTS)
        return -EINVAL;
    g->depth = depth;
    g->max_request = max_request;
    g->max_response = max_response;
    g->max_clients = max_clients;
    g->nareas = max_clients + 1; /* the server takes a participant slot too */
    g->req_slot = (uint32_t)shmipc__align_up(max_request, SHMIPC_CACHELINE);
    g->resp_slot = (uint32_t)shmipc__align_up(max_response, SHMIPC_CACHELINE);
    g->area_off = (uint32_t)shmipc__align_up(sizeof(shmipc__rr_hdr), SHMIPC_CACHELINE);
    uint64_t conn = shmipc__conn_size(depth);
    g->req_conn_off = sizeof(shmipc__rr_ctl);
    g->resp_conn_off = (uint32_t)(g->req_conn_off + conn);
    g->req_slots_off = (uint32_t)(g->resp_conn_off + conn);
    uint64_t resp_slots = g->req_slots_off + (uint64_t)depth * g->req_slot;
    uint64_t area = resp_slots + (uint64_t)depth * g->resp_slot;
    area = shmipc__align_up(area, SHMIPC_CACHELINE);
    uint64_t total = g->area_off + area * g->nareas;
    if (area > UINT32_MAX || total > UINT32_MAX / 2)
        return -EINVAL; /* what the service core accepts as a pattern area */
    g->resp_slots_off = (uint32_t)resp_slots;
    g->area_size = (uint32_t)area;
    g->total = (size_t)total;
    return 0;
}

/* Read the geometry from a (possibly hostile) header and check it describes exactly the area we have. */
static int rr_geom_read(const shmipc__svc *svc, shmipc__rr_geom *g)
{
    const shmipc__rr_hdr *h = svc->pattern_area;
    if (svc->pattern_size < sizeof *h || h->magic != SHMIPC_RR_MAGIC) {
        shmipc__svc_set_detail("reqresp header: bad magic");
        return -EBADMSG;
    }
    shmipc__rr_geom want;
    uint32_t nareas = h->nareas, area_off = h->area_off, area_size = h->area_size;
    uint32_t req_slot = h->req_slot, resp_slot = h->resp_slot;
    if (shmipc__rr_geom_make(&want, h->depth, h->max_request, h->max_response, h->max_clients) ||
        want.nareas != nareas || nareas != svc->nparts || want.area_off != area_off ||
        want.area_size != area_size || want.req_slot != req_slot || want.resp_slot != resp_slot ||
        want.total > svc->pattern_size) {
        shmipc__svc_set_detail("reqresp header: geometry out of range or inconsistent");
        return -EBADMSG;
    }
    *g = want;
    return 0;
}

static int rr_validate(shmipc__svc *svc)
{
    shmipc__rr_geom g;
    return rr_geom_read(svc, &g);
}

/* The server went away: every client waiting for a response or for room is woken to see it. */
static void rr_wake_clients(void *pattern_area, const shmipc__rr_geom *g)
{
    for (uint32_t i = 0; i < g->nareas; i++) {
        shmipc__notify_wake(&shmipc__rr_resp_conn(pattern_area, g, i)->data, INT32_MAX);
        shmipc__notify_wake(&shmipc__rr_req_conn(pattern_area, g, i)->space, INT32_MAX);
    }
}

/*
 * End the connection generation of slot i as a whole (client close, or reclaim of a dead client): every
 * request it queued is behind the new req_base, so the server drops them all when it sees gen move; every
 * response still coming for it carries the old gen, so its successor drops them; a server blocked
 * responding to it is woken and gets -ENOTCONN. Idempotent: done twice it only moves gen once more.
 */
static void rr_end_generation(void *pattern_area, const shmipc__rr_geom *g, uint32_t i, uint64_t head)
{
    shmipc__rr_ctl *ctl = shmipc__rr_ctl_at(pattern_area, g, i);
    /* relaxed: published by the release of gen below. */
    atomic_store_explicit(&ctl->req_base, head, memory_order_relaxed);
    /* release: the server that acquires the new gen sees req_base with it. */
    atomic_fetch_add_explicit(&ctl->gen, 1, memory_order_release);
    shmipc__notify_wake(&shmipc__rr_resp_conn(pattern_area, g, i)->space, INT32_MAX);
}

static int rr_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)user;
    shmipc__rr_geom g;
    if (rr_geom_read(svc, &g) || slot >= g.nareas)
        return -EBADMSG;
    shmipc__rr_hdr *h = svc->pattern_area;
    if (role == SHMIPC_ROLE_SERVER) {
        uint64_t dead = atomic_load_explicit(&svc->parts[slot].owner, memory_order_acquire);
        /* acq_rel: a server taking over later must see the service as ours-to-take; idempotent: a second
         * reclaimer finds the word already 0 (or a new server's id) and leaves it. */
        if (dead && atomic_compare_exchange_strong_explicit(&h->server, &dead, 0, memory_order_acq_rel,
                                                            memory_order_relaxed))
            rr_wake_clients(svc->pattern_area, &g);
        return 0;
    }
    if (role == SHMIPC_ROLE_CLIENT) {
        /* The dead client's request head, with what it published before it stored head: it no longer
         * moves (relaxed: any value is only a position the server clamps to its own view). */
        shmipc__conn *rq = shmipc__rr_req_conn(svc->pattern_area, &g, slot);
        uint64_t head = shmipc__conn_head_scan(rq, g.depth, atomic_load_explicit(&rq->tail, memory_order_relaxed),
                                               atomic_load_explicit(&rq->head, memory_order_relaxed));
        rr_end_generation(svc->pattern_area, &g, slot, head);
    }
    return 0;
}

static void rr_describe(const shmipc__svc *svc, char *buf, size_t cap)
{
    shmipc__rr_geom g;
    if (rr_geom_read(svc, &g)) {
        snprintf(buf, cap, "corrupt");
        return;
    }
    shmipc__rr_hdr *h = svc->pattern_area;
    uint64_t srv = atomic_load_explicit(&h->server, memory_order_relaxed);
    /* Queued entries over every connection (tools only: relaxed reads, clamped to depth). */
    uint64_t reqs = 0, resps = 0;
    for (uint32_t i = 0; i < g.nareas; i++) {
        reqs += shmipc__conn_depth(shmipc__rr_req_conn(svc->pattern_area, &g, i), g.depth);
        resps += shmipc__conn_depth(shmipc__rr_resp_conn(svc->pattern_area, &g, i), g.depth);
    }
    snprintf(buf, cap, "clients=%u depth=%u max_request=%u max_response=%u server=%s queued_requests=%llu "
             "queued_responses=%llu", g.max_clients, g.depth, g.max_request, g.max_response,
             srv ? (shmipc__owner_alive(srv) ? "alive" : "dead") : "none", (unsigned long long)reqs,
             (unsigned long long)resps);
}

const shmipc__pattern_ops shmipc__reqresp_ops = {
    .pattern = SHMIPC_PATTERN_REQRESP,
    .seg_type = SHMIPC_TYPE_REQRESP,
    .validate = rr_validate,
    .reclaim = rr_reclaim,
    .describe = rr_describe,
};

/* ---- options ---- */

static int rr_opts_check(const shmipc_reqresp_opts *o)
{
    if (!shmipc__wait_mode_valid(o->wait_mode))
        return -EINVAL;
    if (o->type && (o->type->size > SHMIPC_RR_MAX_MESSAGE))
        return -EINVAL;
    return 0;
}

/* Each non-zero option must equal the service's. */
/* The caller's options (NULL = defaults) into *o, checked. */
static int rr_opts_take(const shmipc_reqresp_opts *opts, shmipc_reqresp_opts *o)
{
    int err = SHMIPC__OPTS_TAKE(shmipc_reqresp_opts, shmipc_reqresp_opts_init, o, opts);
    return err ? err : rr_opts_check(o);
}

static int rr_opts_compat(const shmipc_reqresp_opts *o, const shmipc__rr_geom *g)
{
    struct {
        const char *what;
        uint32_t want, have;
    } f[] = {{"max_request", o->max_request, g->max_request}, {"max_response", o->max_response, g->max_response},
             {"depth", o->depth, g->depth}, {"max_clients", o->max_clients, g->max_clients}};
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(f); i++) {
        if (f[i].want && f[i].want != f[i].have) {
            shmipc__svc_set_detail("%s: service has %u, caller asked %u", f[i].what, f[i].have, f[i].want);
            return -EPROTOTYPE;
        }
    }
    return 0;
}

static int rr_open_existing(const char *name, const shmipc_reqresp_opts *o, shmipc__svc *svc,
                            shmipc__rr_geom *g)
{
    int err = shmipc__svc_open(SHMIPC_PATTERN_REQRESP, name, o->type, 0, svc);
    if (err)
        return err;
    err = rr_geom_read(svc, g);
    if (!err)
        err = rr_opts_compat(o, g);
    if (err)
        shmipc__svc_close(svc);
    return err;
}

static int rr_create(const char *name, const shmipc_reqresp_opts *o, shmipc__svc *svc, shmipc__rr_geom *g)
{
    uint32_t max_req = o->max_request ? o->max_request : o->type && o->type->size ? (uint32_t)o->type->size : 4096;
    uint32_t max_resp = o->max_response ? o->max_response : max_req;
    int err = shmipc__rr_geom_make(g, o->depth ? o->depth : 8, max_req, max_resp,
                                   o->max_clients ? o->max_clients : 16);
    if (err)
        return err;
    shmipc__svc_params p = {.pattern = SHMIPC_PATTERN_REQRESP, .name = name, .type = o->type,
                            .max_participants = g->nareas, .pattern_size = g->total, .mode = o->mode,
                            .nstats = RR_NSTATS, .stat_names = rr_stat_names};
    err = shmipc__svc_create(&p, svc);
    if (err)
        return err;
    shmipc__rr_hdr *h = svc->pattern_area;
    h->magic = SHMIPC_RR_MAGIC;
    h->depth = g->depth;
    h->max_request = g->max_request;
    h->max_response = g->max_response;
    h->nareas = g->nareas;
    h->area_off = g->area_off;
    h->area_size = g->area_size;
    h->req_slot = g->req_slot;
    h->resp_slot = g->resp_slot;
    h->max_clients = g->max_clients;
    shmipc__notify_init(&h->srv_notify); /* the rest is zero-filled by the segment layer */
    for (uint32_t i = 0; i < g->nareas; i++) {
        shmipc__conn_init(shmipc__rr_req_conn(svc->pattern_area, g, i), g->depth);
        shmipc__conn_init(shmipc__rr_resp_conn(svc->pattern_area, g, i), g->depth);
    }
    err = shmipc__svc_publish(svc);
    if (err) {
        shmipc_segment_unlink(svc->segname);
        shmipc__svc_close(svc);
    }
    return err;
}

/* ---- server ---- */

static int rr_server_start(shmipc_reqresp_server *s, shmipc_wait_mode mode, shmipc_reqresp_server **out);
static int rr_client_start(shmipc_reqresp_client *c, shmipc_wait_mode mode, shmipc_reqresp_client **out);

/*
 * Attach our view of slot i's connections from the shared indices. Our own index of each (the request
 * tail, the response head) is ours to repair: one a peer left impossible is set to the other side's, so a
 * slot is never lost to a scribbled word (a tail so set drops what was queued; a head so set drops only
 * what is not stamped).
 */
static void rr_peer_attach(shmipc_reqresp_server *s, uint32_t i)
{
    rr_peer *p = &s->peers[i];
    void *pa = s->svc.pattern_area;
    shmipc__conn *rq = shmipc__rr_req_conn(pa, &s->g, i), *rs = shmipc__rr_resp_conn(pa, &s->g, i);
    /* acquire: req_base (written before gen, release) is seen with it. */
    p->gen = atomic_load_explicit(&shmipc__rr_ctl_at(pa, &s->g, i)->gen, memory_order_acquire);
    p->attached = 0;
    if (shmipc__conn_rx_attach(&p->req, rq, s->g.depth, SHMIPC__RR_REQ_RX_FLAGS) != 0) {
        /* release: as any store of our tail (we read nothing of what we skip). */
        atomic_store_explicit(&rq->tail, atomic_load_explicit(&rq->head, memory_order_relaxed), memory_order_release);
        if (shmipc__conn_rx_attach(&p->req, rq, s->g.depth, SHMIPC__RR_REQ_RX_FLAGS) != 0)
            return;
    }
    /* A quarter of the ring between handshakes with a client waiting for room (at most 64). */
    p->req.batch = s->g.depth / 4 < 1 ? 1 : s->g.depth / 4 > 64 ? 64 : s->g.depth / 4;
    if (shmipc__conn_tx_attach(&p->resp, rs, s->g.depth, SHMIPC__RR_CONN_FLAGS) != 0) {
        /* release: as publish's head store. Entries after the tail whose stamp is fresh stay published:
         * the client reads them and our attach's scan goes on after them. */
        atomic_store_explicit(&rs->head, atomic_load_explicit(&rs->tail, memory_order_relaxed), memory_order_release);
        if (shmipc__conn_tx_attach(&p->resp, rs, s->g.depth, SHMIPC__RR_CONN_FLAGS) != 0)
            return;
    }
    p->attached = 1;
}

/* Slot i's generation moved (its client closed, died, or a new one connected): drop everything queued
 * before the new generation's first request, and go on with the new generation. */
static void rr_peer_resync(shmipc_reqresp_server *s, uint32_t i, uint32_t gen)
{
    rr_peer *p = &s->peers[i];
    /* relaxed: ordered by the acquire load of gen that showed us the new generation. */
    uint64_t base = atomic_load_explicit(&shmipc__rr_ctl_at(s->svc.pattern_area, &s->g, i)->req_base,
                                         memory_order_relaxed);
    p->gen = gen;
    int64_t n = shmipc__conn_skip_to(&p->req, base);
    if (n > 0)
        shmipc__svc_stat_add(&s->svc, RR_STAT_DROPPED, (uint64_t)n);
    else if (n < 0) {
        /* Impossible head: start over from the shared indices (repairing ours), with our batched pops
         * settled first so that their tail is not lost, and drop what precedes the generation again. */
        shmipc__conn_rx_settle(&p->req);
        rr_peer_attach(s, i);
        int64_t m = p->attached ? shmipc__conn_skip_to(&p->req, base) : 0;
        if (m > 0)
            shmipc__svc_stat_add(&s->svc, RR_STAT_DROPPED, (uint64_t)m);
    }
}

int shmipc_reqresp_server_create(const char *name, const shmipc_reqresp_opts *opts, shmipc_reqresp_server **out)
{
    shmipc_reqresp_opts def;
    if (!out)
        return -EINVAL;
    int err = rr_opts_take(opts, &def);
    if (err)
        return err;
    const shmipc_reqresp_opts *o = &def;
    shmipc_reqresp_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    for (int attempt = 0;; attempt++) {
        err = rr_create(name, o, &s->svc, &s->g);
        if (err != -EEXIST)
            break;
        err = rr_open_existing(name, o, &s->svc, &s->g);
        if (err != -ENOENT || attempt > 2)
            break; /* -ENOENT: removed between the two calls; create again */
    }
    if (err) {
        free(s);
        return err;
    }
    return rr_server_start(s, o->wait_mode, out);
}

int shmipc__rr_server_attach(const shmipc__svc *view, shmipc_wait_mode mode, shmipc_reqresp_server **out)
{
    shmipc_reqresp_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->svc = *view;
    s->borrowed = true;
    int err = rr_geom_read(&s->svc, &s->g);
    if (err) {
        free(s);
        return err;
    }
    return rr_server_start(s, mode, out);
}

/* Make s (its svc and g set) the service's server: claim, epoch, attach every slot. On failure s is
 * freed and its svc released. */
static int rr_server_start(shmipc_reqresp_server *s, shmipc_wait_mode mode, shmipc_reqresp_server **out)
{
    int err;
    s->peers = calloc(s->g.nareas, sizeof *s->peers);
    if (!s->peers) {
        err = -ENOMEM;
        goto fail;
    }
    s->h = s->svc.pattern_area;
    s->me = shmipc__owner_self();
    s->wait_mode = mode;
    shmipc__svc_reclaim_dead(&s->svc); /* a dead server's slot 0 becomes ours */
    int slot = shmipc__svc_join(&s->svc, SHMIPC_ROLE_SERVER, 0);
    if (slot < 0) {
        err = slot;
        goto fail;
    }
    s->slot = (uint32_t)slot;
    err = shmipc__svc_claim_role(&s->svc, &s->h->server, s->me);
    if (err) {
        shmipc__svc_leave(&s->svc, s->slot);
        goto fail;
    }
    /* release: pairs with clients' acquire load of epoch; requests stamped with an older epoch are
     * dropped (their clients see the epoch change and get -EPIPE). */
    s->epoch = atomic_fetch_add_explicit(&s->h->epoch, 1, memory_order_acq_rel) + 1;
    /* After the claim (acq_rel: a predecessor's last index stores are visible): we go on from where the
     * previous server stopped on every connection, so no client's view of its indices is contradicted. */
    for (uint32_t i = 0; i < s->g.nareas; i++)
        rr_peer_attach(s, i);
    *out = s;
    return 0;
fail:
    rr_svc_release(&s->svc, s->borrowed);
    free(s->peers);
    free(s);
    return err;
}

typedef struct rr_srv_recv {
    shmipc_reqresp_server *s;
    shmipc_reqresp_request_info *info;
    void *buf;
    size_t cap;
    int len;
} rr_srv_recv;

/* Try area i: 1 = got a request, 0 = nothing, <0 = error. */
static int rr_srv_take(rr_srv_recv *c, uint32_t i)
{
    shmipc_reqresp_server *s = c->s;
    rr_peer *p = &s->peers[i];
    if (SHMIPC_UNLIKELY(!p->attached)) {
        rr_peer_attach(s, i);
        if (!p->attached)
            return 0;
    }
    /* At most one connection's worth per call: a client that keeps refilling its connection with requests
     * the server drops (stale epoch) must not keep the server here past its timeout. */
    for (uint32_t n = 0; n < s->g.depth; n++) {
        uint64_t id, b;
        /* peek's seq_cst stamp load: also the server's half of the sleep handshake on srv_notify, after
         * the wait primitive's announcement. It reads no index, so it fails only with -EAGAIN. */
        if (shmipc__conn_peek(&p->req, &id, &b) != 0) {
            shmipc__prefetch_next(shmipc__rr_req_payload(s->svc.pattern_area, &s->g, i, p->req.tail));
            return 0;
        }
        /* acquire, after the stamp that showed us the entry: a new generation's entries are published
         * after its gen (release), so an entry of it is never taken under the old one. */
        uint32_t gen = atomic_load_explicit(&shmipc__rr_ctl_at(s->svc.pattern_area, &s->g, i)->gen,
                                            memory_order_acquire);
        if (SHMIPC_UNLIKELY(gen != p->gen)) {
            rr_peer_resync(s, i, gen);
            if (!p->attached)
                return 0;
            continue;
        }
        uint32_t len = (uint32_t)b, epoch = (uint32_t)(b >> 32);
        int res = 1;
        if (epoch != s->epoch) {
            shmipc__svc_stat_add(&s->svc, RR_STAT_DROPPED, 1); /* sent to a server that is gone */
            res = 0;
        } else if (len > s->g.max_request) {
            shmipc__svc_set_detail("reqresp: client %u request length %u > max %u", i, len, s->g.max_request);
            res = -EBADMSG;
        } else if (len > c->cap) {
            return -EMSGSIZE; /* stays queued */
        } else {
            if (len)
                memcpy(c->buf, shmipc__rr_req_payload(s->svc.pattern_area, &s->g, i, p->req.tail), len);
            c->info->id = id;
            c->info->client = i;
            c->info->gen = gen;
            c->len = (int)len;
        }
        shmipc__conn_pop(&p->req); /* after the copy: the client may reuse the slot from now on */
        if (res)
            return res;
    }
    return 0;
}

/* Before the server waits or returns without a request: the handshakes its batched pops skipped. */
static void rr_srv_settle(shmipc_reqresp_server *s)
{
    for (uint32_t i = 0; i < s->g.nareas; i++)
        if (s->peers[i].attached)
            shmipc__conn_rx_settle(&s->peers[i].req);
}

static int rr_srv_cond(void *arg, bool slow)
{
    rr_srv_recv *c = arg;
    shmipc_reqresp_server *s = c->s;
    if (slow) {
        uint64_t now = shmipc__now_ns();
        if (now >= s->next_reclaim_ns) {
            s->next_reclaim_ns = now + RR_RECLAIM_EVERY_NS;
            shmipc__svc_reclaim_dead(&s->svc);
        }
    }
    for (uint32_t n = 0; n < s->g.nareas; n++) {
        uint32_t i = s->cursor;
        s->cursor = i + 1 < s->g.nareas ? i + 1 : 0;
        int r = rr_srv_take(c, i);
        if (r == -EMSGSIZE)
            s->cursor = i; /* stays first in line */
        if (r) {
            if (r < 0)
                rr_srv_settle(s); /* returning without a request */
            return r;
        }
    }
    rr_srv_settle(s);
    return 0;
}

int shmipc_reqresp_server_receive(shmipc_reqresp_server *srv, shmipc_reqresp_request_info *info, void *buf, size_t cap,
                                  int timeout_ms)
{
    if (!srv || !info || (!buf && cap))
        return -EINVAL;
    rr_srv_recv c = {.s = srv, .info = info, .buf = buf, .cap = cap};
    shmipc__wait_spec w = {.notify = &srv->h->srv_notify, .mode = srv->wait_mode,
                           .timeout_ms = timeout_ms, .relative = true, .adapt = &srv->adapt};
    int err = shmipc__wait(&w, rr_srv_cond, &c);
    if (err)
        return err;
    shmipc__svc_stat_add(&srv->svc, RR_STAT_REQUESTS, 1);
    return c.len;
}

typedef struct rr_srv_resp {
    shmipc_reqresp_server *s;
    rr_peer *p;
    shmipc__rr_ctl *ctl;
    const shmipc_reqresp_request_info *info;
} rr_srv_resp;

static int rr_resp_space(void *arg, bool slow)
{
    rr_srv_resp *c = arg;
    /* relaxed: any value other than the request's generation means the connection is gone. */
    if (atomic_load_explicit(&c->ctl->gen, memory_order_relaxed) != c->info->gen)
        return -ENOTCONN;
    /* Room as far as our cache knows, else a seq_cst reload of the client's tail (the producer's half of
     * the sleep handshake; a corrupt tail counts as room and push reports it). */
    if (shmipc__conn_space(&c->p->resp) > 0 || shmipc__conn_tx_room(&c->p->resp))
        return 1;
    if (slow) {
        shmipc__svc_reclaim_dead(&c->s->svc); /* a dead client's gen moves on: -ENOTCONN next time */
        if (atomic_load_explicit(&c->ctl->gen, memory_order_relaxed) != c->info->gen)
            return -ENOTCONN;
    }
    rr_srv_settle(c->s); /* a client waiting for request room must not wait for us while we wait for it */
    return 0;
}

int shmipc_reqresp_server_respond(shmipc_reqresp_server *srv, const shmipc_reqresp_request_info *info, const void *data,
                                  size_t len, uint32_t flags, int timeout_ms)
{
    if (!srv || !info || (!data && len) || info->client >= srv->g.nareas || (flags & ~SHMIPC_RR_MORE))
        return -EINVAL;
    if (len > srv->g.max_response)
        return -EMSGSIZE;
    rr_peer *p = &srv->peers[info->client];
    if (!p->attached || info->gen != p->gen)
        return -ENOTCONN; /* a request of a generation we already left */
    rr_srv_resp c = {.s = srv, .p = p, .ctl = shmipc__rr_ctl_at(srv->svc.pattern_area, &srv->g, info->client),
                     .info = info};
    shmipc__wait_spec w = {.notify = &p->resp.c->space, .mode = srv->wait_mode,
                           .timeout_ms = timeout_ms, .relative = true};
    int err = shmipc__wait(&w, rr_resp_space, &c);
    if (err)
        return err;
    /* The slot of our next position: free, since the client consumed the entry that used it. */
    if (len)
        memcpy(shmipc__rr_resp_payload(srv->svc.pattern_area, &srv->g, info->client, p->resp.head), data, len);
    err = shmipc__conn_push(&p->resp, info->id, SHMIPC__RR_RESP_ENTRY(len, flags, info->gen), NULL, NULL);
    if (err) {
        shmipc__svc_set_detail("reqresp: client %u response connection indices out of range", info->client);
        return err == -EAGAIN ? -EBADMSG : err; /* room was seen: a full ring now means a forged tail */
    }
    shmipc__conn_publish(&p->resp);
    shmipc__svc_stat_add(&srv->svc, RR_STAT_RESPONSES, 1);
    return 0;
}

/* What shmipc_reqresp_*_options report: the validated geometry, the type and this handle's wait mode. */
static int rr_options(const shmipc__svc *svc, const shmipc__rr_geom *g, shmipc_wait_mode mode,
                      shmipc_reqresp_opts *out)
{
    static const shmipc_type_info untyped;
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.type = memcmp(&svc->type, &untyped, sizeof untyped) ? &svc->type : NULL;
    o.max_request = g->max_request;
    o.max_response = g->max_response;
    o.depth = g->depth;
    o.max_clients = g->max_clients;
    o.wait_mode = mode == SHMIPC_WAIT_DEFAULT ? SHMIPC_WAIT_HYBRID : mode; /* as the subscriber's */
    return shmipc__opts_give(out, &o, sizeof o);
}

int shmipc_reqresp_server_options(const shmipc_reqresp_server *srv, shmipc_reqresp_opts *out)
{
    return srv ? rr_options(&srv->svc, &srv->g, srv->wait_mode, out) : -EINVAL;
}

int shmipc_reqresp_client_options(const shmipc_reqresp_client *cli, shmipc_reqresp_opts *out)
{
    return cli ? rr_options(&cli->svc, &cli->g, cli->wait_mode, out) : -EINVAL;
}

int shmipc_reqresp_server_close(shmipc_reqresp_server *srv)
{
    if (!srv)
        return 0;
    uint64_t me = srv->me;
    rr_srv_settle(srv);
    /* release: our last index writes are visible to the next server. */
    if (atomic_compare_exchange_strong_explicit(&srv->h->server, &me, 0, memory_order_release,
                                                memory_order_relaxed))
        rr_wake_clients(srv->svc.pattern_area, &srv->g);
    shmipc__svc_leave(&srv->svc, srv->slot);
    rr_svc_release(&srv->svc, srv->borrowed);
    free(srv->peers);
    free(srv);
    return 0;
}

/* ---- client ---- */

int shmipc_reqresp_client_open(const char *name, const shmipc_reqresp_opts *opts, shmipc_reqresp_client **out)
{
    shmipc_reqresp_opts def;
    if (!out)
        return -EINVAL;
    int err = rr_opts_take(opts, &def);
    if (err)
        return err;
    const shmipc_reqresp_opts *o = &def;
    shmipc_reqresp_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    err = rr_open_existing(name, o, &c->svc, &c->g);
    if (err) {
        free(c);
        return err;
    }
    return rr_client_start(c, o->wait_mode, out);
}

int shmipc__rr_client_attach(const shmipc__svc *view, shmipc_wait_mode mode, shmipc_reqresp_client **out)
{
    shmipc_reqresp_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->svc = *view;
    c->borrowed = true;
    int err = rr_geom_read(&c->svc, &c->g);
    if (err) {
        free(c);
        return err;
    }
    return rr_client_start(c, mode, out);
}

/* Connect c (its svc and g set) as a client: take a slot, attach its connections, begin a generation.
 * On failure c is freed and its svc released. */
static int rr_client_start(shmipc_reqresp_client *c, shmipc_wait_mode mode, shmipc_reqresp_client **out)
{
    int err = 0;
    c->h = c->svc.pattern_area;
    c->wait_mode = mode;
    int slot = shmipc__svc_join(&c->svc, SHMIPC_ROLE_CLIENT, 0);
    if (slot == 0) {
        /* Slot 0 (the first free one) is kept for the server, so that max_clients clients never leave
         * it without one: hold it while taking another, then give it back. */
        slot = shmipc__svc_join(&c->svc, SHMIPC_ROLE_CLIENT, 0);
        shmipc__svc_leave(&c->svc, 0);
    }
    if (slot < 0) {
        rr_svc_release(&c->svc, c->borrowed);
        free(c);
        return slot;
    }
    c->slot = (uint32_t)slot;
    void *pa = c->svc.pattern_area;
    c->ctl = shmipc__rr_ctl_at(pa, &c->g, c->slot);
    shmipc__conn *rq = shmipc__rr_req_conn(pa, &c->g, c->slot), *rs = shmipc__rr_resp_conn(pa, &c->g, c->slot);
    /* Our own index of each connection (request head, response tail) is ours to repair when a peer left
     * it impossible: it is set to the other side's (a tail so set drops what was queued; a head so set
     * drops only what is not stamped). */
    if (shmipc__conn_tx_attach(&c->req, rq, c->g.depth, SHMIPC__RR_CONN_FLAGS) != 0) {
        /* release: as publish's head store. Entries after the tail whose stamp is fresh stay published:
         * the server reads them and our attach's scan goes on after them. */
        atomic_store_explicit(&rq->head, atomic_load_explicit(&rq->tail, memory_order_relaxed), memory_order_release);
        err = shmipc__conn_tx_attach(&c->req, rq, c->g.depth, SHMIPC__RR_CONN_FLAGS);
    }
    if (!err && shmipc__conn_rx_attach(&c->resp, rs, c->g.depth, SHMIPC__RR_CONN_FLAGS) != 0) {
        atomic_store_explicit(&rs->tail, atomic_load_explicit(&rs->head, memory_order_relaxed), memory_order_release);
        err = shmipc__conn_rx_attach(&c->resp, rs, c->g.depth, SHMIPC__RR_CONN_FLAGS);
    }
    if (err) {
        shmipc__svc_set_detail("reqresp: connection indices of slot %u out of range", c->slot);
        shmipc__svc_leave(&c->svc, c->slot);
        rr_svc_release(&c->svc, c->borrowed);
        free(c);
        return err;
    }
    c->req.wake = &c->h->srv_notify; /* the server sleeps on one word for all its clients */
    /* Responses meant for a predecessor in this slot are skipped now (those still coming carry its gen). */
    if (shmipc__conn_skip_to(&c->resp, UINT64_MAX) < 0)
        shmipc__conn_rx_attach(&c->resp, rs, c->g.depth, SHMIPC__RR_CONN_FLAGS);
    /* Our generation begins at our request head: whatever a predecessor left before it is dropped. The
     * release in rr_end_generation's fetch_add publishes req_base; our requests are published after it. */
    rr_end_generation(pa, &c->g, c->slot, c->req.head);
    c->gen = atomic_load_explicit(&c->ctl->gen, memory_order_relaxed);
    c->sent_epoch = atomic_load_explicit(&c->h->epoch, memory_order_acquire);
    *out = c;
    return 0;
}

/* Is the server this client's pending requests went to gone? Cheap part first, liveness if slow. */
static int rr_server_gone(shmipc_reqresp_client *c, bool slow)
{
    /* acquire: pairs with the server's claim (acq_rel), so its epoch bump is seen with it. */
    uint64_t srv = atomic_load_explicit(&c->h->server, memory_order_acquire);
    if (srv == 0)
        return 1;
    if (c->outstanding && atomic_load_explicit(&c->h->epoch, memory_order_acquire) != c->sent_epoch)
        return 1;
    return slow && !shmipc__owner_alive(srv);
}

static int rr_req_space(void *arg, bool slow)
{
    shmipc_reqresp_client *c = arg;
    /* Room as far as the cache knows, else a seq_cst reload of the server's tail (our half of the sleep
     * handshake; a corrupt tail counts as room and push reports it). */
    if (shmipc__conn_space(&c->req) > 0 || shmipc__conn_tx_room(&c->req))
        return 1;
    return rr_server_gone(c, slow) ? -EPIPE : 0;
}

int shmipc_reqresp_client_send(shmipc_reqresp_client *cli, const void *data, size_t len, uint64_t *id, int timeout_ms)
{
    if (!cli || (!data && len))
        return -EINVAL;
    if (len > cli->g.max_request)
        return -EMSGSIZE;
    if (atomic_load_explicit(&cli->h->server, memory_order_acquire) == 0)
        return -EPIPE;
    int err = shmipc__wait_ms(&cli->req.c->space, cli->wait_mode, timeout_ms, NULL, rr_req_space, cli);
    if (err)
        return err;
    uint32_t epoch = atomic_load_explicit(&cli->h->epoch, memory_order_acquire);
    if (cli->outstanding && epoch != cli->sent_epoch)
        cli->outstanding = 0; /* those went to a server that is gone; they will never be answered */
    if (len)
        memcpy(shmipc__rr_req_payload(cli->svc.pattern_area, &cli->g, cli->slot, cli->req.head), data, len);
    err = shmipc__conn_push(&cli->req, cli->next_id + 1, SHMIPC__RR_REQ_ENTRY(len, epoch), NULL, NULL);
    if (err) {
        shmipc__svc_set_detail("reqresp: request connection indices out of range");
        return err == -EAGAIN ? -EBADMSG : err; /* room was seen: a full ring now means a forged tail */
    }
    shmipc__conn_publish(&cli->req); /* wakes the server (srv_notify) only if it sleeps */
    cli->next_id++;
    cli->sent_epoch = epoch;
    cli->outstanding++;
    if (id)
        *id = cli->next_id;
    return 0;
}

typedef struct rr_cli_recv {
    shmipc_reqresp_client *c;
    shmipc_reqresp_response_info *info;
    void *buf;
    size_t cap;
    int len;
} rr_cli_recv;

static int rr_cli_take_ring(rr_cli_recv *r)
{
    shmipc_reqresp_client *c = r->c;
    /* At most one connection's worth per call: a server that keeps refilling it with responses we skip
     * (another generation's) must not keep us here past our timeout. */
    for (uint32_t n = 0; n < c->g.depth; n++) {
        uint64_t id, b;
        /* peek's seq_cst stamp load: also our half of the sleep handshake (it fails only with -EAGAIN). */
        if (shmipc__conn_peek(&c->resp, &id, &b) != 0) {
            shmipc__prefetch_next(shmipc__rr_resp_payload(c->svc.pattern_area, &c->g, c->slot, c->resp.tail));
            return 0;
        }
        uint32_t len = SHMIPC__RR_RESP_LEN(b), flags = SHMIPC__RR_RESP_FLAGS(b), gen = (uint32_t)(b >> 32);
        int res = 1;
        if (gen != c->gen) {
            res = 0; /* meant for an earlier connection in this slot */
        } else if (len > c->g.max_response || (flags & ~SHMIPC_RR_MORE)) {
            shmipc__svc_set_detail("reqresp: response length %u or flags %#x invalid", len, flags);
            res = -EBADMSG;
        } else if (len > r->cap) {
            return -EMSGSIZE;
        } else {
            if (len)
                memcpy(r->buf, shmipc__rr_resp_payload(c->svc.pattern_area, &c->g, c->slot, c->resp.tail), len);
            r->info->id = id;
            r->info->flags = flags;
            r->len = (int)len;
            if (!(flags & SHMIPC_RR_MORE) && c->outstanding)
                c->outstanding--;
        }
        shmipc__conn_pop(&c->resp); /* after the copy: the server may reuse the slot from now on */
        if (res)
            return res;
    }
    return 0;
}

static int rr_cli_take(void *arg, bool slow)
{
    rr_cli_recv *r = arg;
    shmipc_reqresp_client *c = r->c;
    int res = rr_cli_take_ring(r);
    if (res || !rr_server_gone(c, slow))
        return res;
    /* The server may have answered between our look at the ring and its death (or replacement): what it
     * wrote before is delivered, not reported as never answered and then handed out with a later call. */
    res = rr_cli_take_ring(r);
    if (res)
        return res;
    c->outstanding = 0;
    c->sent_epoch = atomic_load_explicit(&c->h->epoch, memory_order_acquire);
    return -EPIPE;
}

int shmipc_reqresp_client_receive(shmipc_reqresp_client *cli, shmipc_reqresp_response_info *info, void *buf, size_t cap,
                                  int timeout_ms)
{
    shmipc_reqresp_response_info dummy = {0};
    if (!cli || (!buf && cap))
        return -EINVAL;
    rr_cli_recv r = {.c = cli, .info = info ? info : &dummy, .buf = buf, .cap = cap};
    int err = shmipc__wait_ms(&cli->resp.c->data, cli->wait_mode, timeout_ms, &cli->adapt, rr_cli_take, &r);
    return err ? err : r.len;
}

int shmipc_reqresp_client_call(shmipc_reqresp_client *cli, const void *req, size_t len, void *resp, size_t cap,
                       shmipc_reqresp_response_info *info, int timeout_ms)
{
    shmipc_reqresp_response_info dummy = {0};
    if (!info)
        info = &dummy;
    uint64_t deadline = shmipc__deadline(timeout_ms), id;
    int err = shmipc_reqresp_client_send(cli, req, len, &id, timeout_ms);
    if (err)
        return err;
    for (;;) {
        int left = timeout_ms;
        if (timeout_ms > 0) {
            uint64_t now = shmipc__now_ns();
            left = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        }
        int n = shmipc_reqresp_client_receive(cli, info, resp, cap, left);
        if (n == -EAGAIN && timeout_ms > 0)
            return -ETIMEDOUT;
        if (n < 0 || info->id == id)
            return n;
    }
}

int shmipc_reqresp_client_close(shmipc_reqresp_client *cli)
{
    if (!cli)
        return 0;
    /* Our requests still queued are dropped, responses still coming are skipped by our successor. */
    rr_end_generation(cli->svc.pattern_area, &cli->g, cli->slot, cli->req.head);
    shmipc__svc_leave(&cli->svc, cli->slot);
    rr_svc_release(&cli->svc, cli->borrowed);
    free(cli);
    return 0;
}

int shmipc_reqresp_unlink(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    int err = shmipc__svc_segname(SHMIPC_PATTERN_REQRESP, name, NULL, seg, sizeof seg);
    return err ? err : shmipc_segment_unlink(seg);
}

/* ---- waitset readiness (common/waitable.h): what the receive and send conditions look at, taking
 * nothing. The stamp load in conn_rx_ready and the tail reload in conn_tx_room are seq_cst: the sleeper's
 * half of each connection's handshake after the waitset announced itself on the words. */

static uint32_t rr_srv_ready(void *h, uint32_t events, bool slow)
{
    shmipc_reqresp_server *s = h;
    if (slow) { /* what a waiting receive does between slices: clients that died are reclaimed */
        uint64_t now = shmipc__now_ns();
        if (now >= s->next_reclaim_ns) {
            s->next_reclaim_ns = now + RR_RECLAIM_EVERY_NS;
            shmipc__svc_reclaim_dead(&s->svc);
        }
    }
    for (uint32_t i = 0; i < s->g.nareas; i++) {
        rr_peer *p = &s->peers[i];
        if (!p->attached)
            rr_peer_attach(s, i); /* as receive would: local views only, nothing is consumed */
        if (p->attached && shmipc__conn_rx_ready(&p->req))
            return events; /* maybe a request of a gone server's epoch, which receive drops: then -EAGAIN */
    }
    rr_srv_settle(s); /* the waitset sleeps next */
    return 0;
}

int shmipc__reqresp_server_waitable(shmipc_reqresp_server *srv, uint32_t events, shmipc__waitable *w)
{
    if (events != SHMIPC_WAITSET_IN)
        return -EINVAL;
    w->ready = rr_srv_ready;
    w->words[0] = &srv->h->srv_notify;
    w->nwords = 1;
    return 0;
}

static uint32_t rr_cli_ready(void *h, uint32_t events, bool slow)
{
    shmipc_reqresp_client *c = h;
    uint32_t r = 0;
    if ((events & SHMIPC_WAITSET_IN) &&
        shmipc__conn_rx_ready(&c->resp))
        r |= SHMIPC_WAITSET_IN;
    if ((events & SHMIPC_WAITSET_OUT) && (shmipc__conn_space(&c->req) > 0 || shmipc__conn_tx_room(&c->req)))
        r |= SHMIPC_WAITSET_OUT;
    /* A dead server is reclaimed (server word 0), so that the handle's next call, even one that tries
     * once and so checks no liveness, reports -EPIPE as the waitset did. */
    if (slow) {
        /* acquire: as rr_server_gone's. */
        uint64_t srv = atomic_load_explicit(&c->h->server, memory_order_acquire);
        if (srv && !shmipc__owner_alive(srv))
            shmipc__svc_reclaim_dead(&c->svc);
    }
    /* Nothing to receive and the server gone with requests pending, or no server to send to: the next
     * receive or send reports -EPIPE. */
    if (!(r & SHMIPC_WAITSET_IN) && rr_server_gone(c, slow) &&
        ((events & SHMIPC_WAITSET_OUT) || c->outstanding))
        r |= events | SHMIPC_WAITSET_ERR;
    return r;
}

int shmipc__reqresp_client_waitable(shmipc_reqresp_client *cli, uint32_t events, shmipc__waitable *w)
{
    if (events & ~(SHMIPC_WAITSET_IN | SHMIPC_WAITSET_OUT))
        return -EINVAL;
    w->ready = rr_cli_ready;
    w->nwords = 0;
    if (events & SHMIPC_WAITSET_IN)
        w->words[w->nwords++] = &cli->resp.c->data;
    if (events & SHMIPC_WAITSET_OUT)
        w->words[w->nwords++] = &cli->req.c->space;
    /* A server that closes wakes both words (rr_wake_clients); one that died is found per slice (slow). */
    return w->nwords ? 0 : -EINVAL;
}
