/* SPDX-License-Identifier: MIT */
/*
 * reqresp/reqresp.c - the request/response service: server and client handles over per-client
 * request/response rings (layout in reqresp_internal.h), correlation ids, streamed responses, and what
 * happens when either side dies (reclaim of a dead client's slot, -EPIPE for clients of a dead server,
 * takeover by a restarted server).
 */
#include "reqresp/reqresp_internal.h"
#include "service/role.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RR_STAT_REQUESTS, RR_STAT_RESPONSES, RR_STAT_DROPPED, RR_NSTATS };
static const char *const rr_stat_names[RR_NSTATS] = {"requests", "responses", "dropped"};

struct shmipc_server {
    shmipc__svc svc;
    shmipc__rr_geom g; /* validated copy: never re-read from shared memory */
    shmipc__rr_hdr *h;
    uint64_t me;
    uint32_t slot;
    uint32_t epoch;
    uint32_t cursor; /* next area to look at (round-robin) */
    uint64_t next_reclaim_ns; /* when waiting next looks for dead clients */
    shmipc_wait_mode wait_mode;
    uint8_t *reported; /* per area: its corrupt ring was reported once; skipped until it is sane again */
};

/* How often a waiting server looks for dead clients (each look reads /proc once per participant). */
#define RR_RECLAIM_EVERY_NS (500u * 1000u * 1000u)

struct shmipc_client {
    shmipc__svc svc;
    shmipc__rr_geom g;
    shmipc__rr_hdr *h;
    shmipc__rr_area *a;
    uint32_t slot;
    uint32_t gen;
    uint64_t next_id;
    uint32_t sent_epoch;  /* server epoch of the requests still unanswered */
    uint32_t outstanding; /* requests sent whose last response has not arrived */
    shmipc_wait_mode wait_mode;
};

void shmipc_reqresp_opts_init(shmipc_reqresp_opts *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
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
    g->req_slot = (uint32_t)shmipc__align_up(sizeof(shmipc__rr_msg) + max_request, 8);
    g->resp_slot = (uint32_t)shmipc__align_up(sizeof(shmipc__rr_msg) + max_response, 8);
    g->area_off = (uint32_t)shmipc__align_up(sizeof(shmipc__rr_hdr), SHMIPC_CACHELINE);
    uint64_t area = sizeof(shmipc__rr_area) + (uint64_t)depth * g->req_slot + (uint64_t)depth * g->resp_slot;
    area = shmipc__align_up(area, SHMIPC_CACHELINE);
    uint64_t total = g->area_off + area * g->nareas;
    if (area > UINT32_MAX || total > UINT32_MAX / 2)
        return -EINVAL; /* what the service core accepts as a pattern area */
    g->area_size = (uint32_t)area;
    g->total = (size_t)total;
    return 0;
}

static shmipc__rr_msg *rr_req_slot(shmipc__rr_area *a, const shmipc__rr_geom *g, uint32_t idx)
{
    return (shmipc__rr_msg *)((char *)(a + 1) + (size_t)(idx & (g->depth - 1)) * g->req_slot);
}

static shmipc__rr_msg *rr_resp_slot(shmipc__rr_area *a, const shmipc__rr_geom *g, uint32_t idx)
{
    return (shmipc__rr_msg *)((char *)(a + 1) + (size_t)g->depth * g->req_slot +
                              (size_t)(idx & (g->depth - 1)) * g->resp_slot);
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

static void rr_wake_clients(void *pattern_area, const shmipc__rr_geom *g)
{
    for (uint32_t i = 0; i < g->nareas; i++) {
        shmipc__rr_area *a = shmipc__rr_area_at(pattern_area, g, i);
        shmipc__notify_wake(&a->resp_notify, INT32_MAX);
        shmipc__notify_wake(&a->reqspace_notify, INT32_MAX);
    }
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
        shmipc__rr_area *a = shmipc__rr_area_at(svc->pattern_area, &g, slot);
        /* relaxed: gen only has to differ from the dead connection's; the slot is released (owner = 0,
         * release) after this, so the next client sees it. Doing it twice is harmless. */
        atomic_fetch_add_explicit(&a->gen, 1, memory_order_relaxed);
        shmipc__notify_wake(&a->space_notify, INT32_MAX); /* a server blocked responding to it gives up */
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
    const shmipc__rr_hdr *h = svc->pattern_area;
    uint64_t srv = atomic_load_explicit(&((shmipc__rr_hdr *)h)->server, memory_order_relaxed);
    snprintf(buf, cap, "clients=%u depth=%u max_request=%u max_response=%u server=%s", g.max_clients, g.depth,
             g.max_request, g.max_response, srv ? (shmipc__owner_alive(srv) ? "alive" : "dead") : "none");
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
    err = shmipc__svc_publish(svc);
    if (err) {
        shmipc_segment_unlink(svc->segname);
        shmipc__svc_close(svc);
    }
    return err;
}

/* ---- server ---- */

int shmipc_server_open(const char *name, const shmipc_reqresp_opts *opts, shmipc_server **out)
{
    shmipc_reqresp_opts def = {0};
    const shmipc_reqresp_opts *o = opts ? opts : &def;
    if (!out)
        return -EINVAL;
    int err = rr_opts_check(o);
    if (err)
        return err;
    shmipc_server *s = calloc(1, sizeof *s);
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
    s->reported = calloc(s->g.nareas, 1);
    if (!s->reported) {
        err = -ENOMEM;
        goto fail;
    }
    s->h = s->svc.pattern_area;
    s->me = shmipc__owner_self();
    s->wait_mode = o->wait_mode;
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
    *out = s;
    return 0;
fail:
    shmipc__svc_close(&s->svc);
    free(s->reported);
    free(s);
    return err;
}

typedef struct rr_srv_recv {
    shmipc_server *s;
    shmipc_request_info *info;
    void *buf;
    size_t cap;
    int len;
} rr_srv_recv;

/* Try area i: 1 = got a request, 0 = nothing, <0 = error. */
static int rr_srv_take(rr_srv_recv *c, uint32_t i)
{
    shmipc_server *s = c->s;
    shmipc__rr_area *a = shmipc__rr_area_at(s->svc.pattern_area, &s->g, i);
    /* At most one ring's worth per call: a client that keeps refilling its ring with requests the server
     * drops (stale gen or epoch) must not keep the server here past its timeout. */
    for (uint32_t n = 0; n < s->g.depth; n++) {
        /* acquire: the request slot contents are visible once we see the head past it. */
        uint32_t head = atomic_load_explicit(&a->req_head, memory_order_acquire);
        /* relaxed: only servers write req_tail, and we are the server. */
        uint32_t tail = atomic_load_explicit(&a->req_tail, memory_order_relaxed);
        if (head - tail > s->g.depth) {
            /* Reported once, then skipped: a hostile client cannot keep the server busy failing. */
            if (s->reported[i])
                return 0;
            s->reported[i] = 1;
            shmipc__svc_set_detail("reqresp: client %u request ring indices out of range", i);
            return -EBADMSG;
        }
        s->reported[i] = 0;
        if (head == tail)
            return 0;
        shmipc__rr_msg *m = rr_req_slot(a, &s->g, tail);
        uint32_t len = m->len, gen = m->gen, epoch = m->epoch;
        uint64_t id = m->id;
        /* relaxed: the client wrote gen before publishing its head, which we acquired above. */
        uint32_t cur_gen = atomic_load_explicit(&a->gen, memory_order_relaxed);
        int r = 1;
        if (gen != cur_gen || epoch != s->epoch) {
            shmipc__svc_stat_add(&s->svc, RR_STAT_DROPPED, 1); /* a dead client's, or sent to a dead server */
            r = 0;
        } else if (len > s->g.max_request) {
            shmipc__svc_set_detail("reqresp: client %u request length %u > max %u", i, len, s->g.max_request);
            r = -EBADMSG;
        } else if (len > c->cap) {
            return -EMSGSIZE;
        } else {
            memcpy(c->buf, m + 1, len);
            c->info->id = id;
            c->info->client = i;
            c->info->gen = gen;
            c->len = (int)len;
        }
        /* release: we are done reading the slot before the client may overwrite it. */
        atomic_store_explicit(&a->req_tail, tail + 1, memory_order_release);
        shmipc__notify_wake(&a->reqspace_notify, 1);
        if (r)
            return r;
    }
    return 0;
}

static int rr_srv_cond(void *arg, bool slow)
{
    rr_srv_recv *c = arg;
    shmipc_server *s = c->s;
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
        if (r)
            return r;
    }
    return 0;
}

int shmipc_server_receive(shmipc_server *srv, shmipc_request_info *info, void *buf, size_t cap, int timeout_ms)
{
    if (!srv || !info || (!buf && cap))
        return -EINVAL;
    rr_srv_recv c = {.s = srv, .info = info, .buf = buf, .cap = cap};
    int err = shmipc__wait_ms(&srv->h->srv_notify, srv->wait_mode, timeout_ms, NULL, rr_srv_cond, &c);
    if (err)
        return err;
    shmipc__svc_stat_add(&srv->svc, RR_STAT_REQUESTS, 1);
    return c.len;
}

typedef struct rr_srv_resp {
    shmipc_server *s;
    shmipc__rr_area *a;
    const shmipc_request_info *info;
    uint32_t head;
} rr_srv_resp;

static int rr_resp_space(void *arg, bool slow)
{
    rr_srv_resp *c = arg;
    /* relaxed: any value other than the request's generation means the connection is gone. */
    if (atomic_load_explicit(&c->a->gen, memory_order_relaxed) != c->info->gen)
        return -ENOTCONN;
    /* acquire: the client finished reading the slots it released. */
    uint32_t tail = atomic_load_explicit(&c->a->resp_tail, memory_order_acquire);
    if (c->head - tail > c->s->g.depth) {
        shmipc__svc_set_detail("reqresp: client %u response ring indices out of range", c->info->client);
        return -EBADMSG;
    }
    if (c->head - tail < c->s->g.depth)
        return 1;
    if (slow) {
        shmipc__svc_reclaim_dead(&c->s->svc); /* a dead client's gen moves on: -ENOTCONN next time */
        if (atomic_load_explicit(&c->a->gen, memory_order_relaxed) != c->info->gen)
            return -ENOTCONN;
    }
    return 0;
}

int shmipc_server_respond(shmipc_server *srv, const shmipc_request_info *info, const void *data, size_t len,
                          uint32_t flags, int timeout_ms)
{
    if (!srv || !info || (!data && len) || info->client >= srv->g.nareas || (flags & ~SHMIPC_RR_MORE))
        return -EINVAL;
    if (len > srv->g.max_response)
        return -EMSGSIZE;
    shmipc__rr_area *a = shmipc__rr_area_at(srv->svc.pattern_area, &srv->g, info->client);
    /* relaxed: only the server writes resp_head. */
    rr_srv_resp c = {.s = srv, .a = a, .info = info,
                     .head = atomic_load_explicit(&a->resp_head, memory_order_relaxed)};
    int err = shmipc__wait_ms(&a->space_notify, srv->wait_mode, timeout_ms, NULL, rr_resp_space, &c);
    if (err)
        return err;
    shmipc__rr_msg *m = rr_resp_slot(a, &srv->g, c.head);
    m->id = info->id;
    m->len = (uint32_t)len;
    m->gen = info->gen;
    m->epoch = srv->epoch;
    m->flags = flags;
    if (len)
        memcpy(m + 1, data, len);
    /* release: the slot is complete before the client sees it. */
    atomic_store_explicit(&a->resp_head, c.head + 1, memory_order_release);
    shmipc__notify_wake(&a->resp_notify, 1);
    shmipc__svc_stat_add(&srv->svc, RR_STAT_RESPONSES, 1);
    return 0;
}

int shmipc_server_close(shmipc_server *srv)
{
    if (!srv)
        return 0;
    uint64_t me = srv->me;
    /* release: our last index writes are visible to the next server. */
    if (atomic_compare_exchange_strong_explicit(&srv->h->server, &me, 0, memory_order_release,
                                                memory_order_relaxed))
        rr_wake_clients(srv->svc.pattern_area, &srv->g);
    shmipc__svc_leave(&srv->svc, srv->slot);
    shmipc__svc_close(&srv->svc);
    free(srv->reported);
    free(srv);
    return 0;
}

/* ---- client ---- */

int shmipc_client_open(const char *name, const shmipc_reqresp_opts *opts, shmipc_client **out)
{
    shmipc_reqresp_opts def = {0};
    const shmipc_reqresp_opts *o = opts ? opts : &def;
    if (!out)
        return -EINVAL;
    int err = rr_opts_check(o);
    if (err)
        return err;
    shmipc_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    err = rr_open_existing(name, o, &c->svc, &c->g);
    if (err) {
        free(c);
        return err;
    }
    c->h = c->svc.pattern_area;
    c->wait_mode = o->wait_mode;
    int slot = shmipc__svc_join(&c->svc, SHMIPC_ROLE_CLIENT, 0);
    if (slot == 0) {
        /* Slot 0 (the first free one) is kept for the server, so that max_clients clients never leave
         * it without one: hold it while taking another, then give it back. */
        slot = shmipc__svc_join(&c->svc, SHMIPC_ROLE_CLIENT, 0);
        shmipc__svc_leave(&c->svc, 0);
    }
    if (slot < 0) {
        shmipc__svc_close(&c->svc);
        free(c);
        return slot;
    }
    c->slot = (uint32_t)slot;
    c->a = shmipc__rr_area_at(c->svc.pattern_area, &c->g, c->slot);
    /* relaxed: published to the server by our first head store (release). */
    c->gen = atomic_fetch_add_explicit(&c->a->gen, 1, memory_order_relaxed) + 1;
    /* Responses meant for an earlier client of this slot are skipped: start at the server's head. */
    atomic_store_explicit(&c->a->resp_tail, atomic_load_explicit(&c->a->resp_head, memory_order_acquire),
                          memory_order_release);
    c->sent_epoch = atomic_load_explicit(&c->h->epoch, memory_order_acquire);
    *out = c;
    return 0;
}

/* Is the server this client's pending requests went to gone? Cheap part first, liveness if slow. */
static int rr_server_gone(shmipc_client *c, bool slow)
{
    /* acquire: pairs with the server's claim (acq_rel), so its epoch bump is seen with it. */
    uint64_t srv = atomic_load_explicit(&c->h->server, memory_order_acquire);
    if (srv == 0)
        return 1;
    if (c->outstanding && atomic_load_explicit(&c->h->epoch, memory_order_acquire) != c->sent_epoch)
        return 1;
    return slow && !shmipc__owner_alive(srv);
}

typedef struct rr_cli_send {
    shmipc_client *c;
    uint32_t head;
} rr_cli_send;

static int rr_req_space(void *arg, bool slow)
{
    rr_cli_send *s = arg;
    /* acquire: the server finished reading the slot it released. */
    uint32_t tail = atomic_load_explicit(&s->c->a->req_tail, memory_order_acquire);
    if (s->head - tail > s->c->g.depth) {
        shmipc__svc_set_detail("reqresp: request ring indices out of range");
        return -EBADMSG;
    }
    if (s->head - tail < s->c->g.depth)
        return 1;
    return rr_server_gone(s->c, slow) ? -EPIPE : 0;
}

int shmipc_client_send(shmipc_client *cli, const void *data, size_t len, uint64_t *id, int timeout_ms)
{
    if (!cli || (!data && len))
        return -EINVAL;
    if (len > cli->g.max_request)
        return -EMSGSIZE;
    if (atomic_load_explicit(&cli->h->server, memory_order_acquire) == 0)
        return -EPIPE;
    /* relaxed: only this client writes req_head. */
    rr_cli_send s = {.c = cli, .head = atomic_load_explicit(&cli->a->req_head, memory_order_relaxed)};
    int err = shmipc__wait_ms(&cli->a->reqspace_notify, cli->wait_mode, timeout_ms, NULL, rr_req_space, &s);
    if (err)
        return err;
    uint32_t epoch = atomic_load_explicit(&cli->h->epoch, memory_order_acquire);
    if (cli->outstanding && epoch != cli->sent_epoch)
        cli->outstanding = 0; /* those went to a server that is gone; they will never be answered */
    shmipc__rr_msg *m = rr_req_slot(cli->a, &cli->g, s.head);
    m->id = ++cli->next_id;
    m->len = (uint32_t)len;
    m->gen = cli->gen;
    m->epoch = epoch;
    m->flags = 0;
    if (len)
        memcpy(m + 1, data, len);
    /* release: the slot (and our gen) are complete before the server sees the request. */
    atomic_store_explicit(&cli->a->req_head, s.head + 1, memory_order_release);
    shmipc__notify_wake(&cli->h->srv_notify, 1);
    cli->sent_epoch = epoch;
    cli->outstanding++;
    if (id)
        *id = cli->next_id;
    return 0;
}

typedef struct rr_cli_recv {
    shmipc_client *c;
    shmipc_response_info *info;
    void *buf;
    size_t cap;
    int len;
} rr_cli_recv;

static int rr_cli_take_ring(rr_cli_recv *r)
{
    shmipc_client *c = r->c;
    /* At most one ring's worth per call: a server that keeps refilling the ring with responses we skip
     * (another connection's) must not keep us here past our timeout. */
    uint32_t n;
    for (n = 0; n < c->g.depth; n++) {
        /* acquire: the response slot is complete once we see the head past it. */
        uint32_t head = atomic_load_explicit(&c->a->resp_head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(&c->a->resp_tail, memory_order_relaxed); /* ours */
        if (head == tail)
            break;
        int res = 1;
        if (head - tail > c->g.depth) {
            shmipc__svc_set_detail("reqresp: response ring indices out of range");
            return -EBADMSG; /* cannot be skipped safely: nothing is consumed */
        }
        shmipc__rr_msg *m = rr_resp_slot(c->a, &c->g, tail);
        uint32_t len = m->len, gen = m->gen, flags = m->flags;
        uint64_t id = m->id;
        if (gen != c->gen) {
            res = 0; /* meant for an earlier connection in this slot */
        } else if (len > c->g.max_response || (flags & ~SHMIPC_RR_MORE)) {
            shmipc__svc_set_detail("reqresp: response length %u or flags %#x invalid", len, flags);
            res = -EBADMSG;
        } else if (len > r->cap) {
            return -EMSGSIZE;
        } else {
            memcpy(r->buf, m + 1, len);
            r->info->id = id;
            r->info->flags = flags;
            r->len = (int)len;
            if (!(flags & SHMIPC_RR_MORE) && c->outstanding)
                c->outstanding--;
        }
        /* release: done reading the slot before the server reuses it. */
        atomic_store_explicit(&c->a->resp_tail, tail + 1, memory_order_release);
        shmipc__notify_wake(&c->a->space_notify, 1);
        if (res)
            return res;
    }
    return 0;
}

static int rr_cli_take(void *arg, bool slow)
{
    rr_cli_recv *r = arg;
    shmipc_client *c = r->c;
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

int shmipc_client_receive(shmipc_client *cli, shmipc_response_info *info, void *buf, size_t cap, int timeout_ms)
{
    shmipc_response_info dummy = {0};
    if (!cli || (!buf && cap))
        return -EINVAL;
    rr_cli_recv r = {.c = cli, .info = info ? info : &dummy, .buf = buf, .cap = cap};
    int err = shmipc__wait_ms(&cli->a->resp_notify, cli->wait_mode, timeout_ms, NULL, rr_cli_take, &r);
    return err ? err : r.len;
}

int shmipc_client_call(shmipc_client *cli, const void *req, size_t len, void *resp, size_t cap,
                       shmipc_response_info *info, int timeout_ms)
{
    shmipc_response_info dummy = {0};
    if (!info)
        info = &dummy;
    uint64_t deadline = shmipc__deadline(timeout_ms), id;
    int err = shmipc_client_send(cli, req, len, &id, timeout_ms);
    if (err)
        return err;
    for (;;) {
        int left = timeout_ms;
        if (timeout_ms > 0) {
            uint64_t now = shmipc__now_ns();
            left = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        }
        int n = shmipc_client_receive(cli, info, resp, cap, left);
        if (n == -EAGAIN && timeout_ms > 0)
            return -ETIMEDOUT;
        if (n < 0 || info->id == id)
            return n;
    }
}

int shmipc_client_close(shmipc_client *cli)
{
    if (!cli)
        return 0;
    /* relaxed: pending requests now carry a stale generation; the server drops them. */
    atomic_fetch_add_explicit(&cli->a->gen, 1, memory_order_relaxed);
    shmipc__notify_wake(&cli->a->space_notify, INT32_MAX);
    shmipc__svc_leave(&cli->svc, cli->slot);
    shmipc__svc_close(&cli->svc);
    free(cli);
    return 0;
}

int shmipc_reqresp_unlink(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    int err = shmipc__svc_segname(SHMIPC_PATTERN_REQRESP, name, NULL, seg, sizeof seg);
    return err ? err : shmipc_segment_unlink(seg);
}
