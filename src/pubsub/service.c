/* SPDX-License-Identifier: MIT */
/*
 * pubsub/service.c - the publish/subscribe service's shared layout: options and their defaults, creating
 * the main and pool segments, opening and validating them (a peer may be hostile), the option
 * compatibility check, and the pattern operations the service core calls (validate, reclaim a dead
 * participant, describe, remove the pool segment).
 */
#include "pubsub/pubsub_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void (*shmipc__pubsub_test_hook)(int point);

void shmipc_pubsub_opts_init(shmipc_pubsub_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
        opts->publish_timeout_ms = -1; /* wait policy: without limit (0 would be: try once) */
    }
}

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static uint32_t pow2_at_least(uint32_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

int shmipc__ps_layout_of(uint32_t max_pubs, uint32_t max_subs, uint32_t depth, uint32_t history, uint32_t max_held,
                         uint32_t part_chunks, shmipc__ps_layout *l)
{
    if (max_pubs == 0 || max_pubs > SHMIPC_PUBSUB_MAX_PUBLISHERS || max_subs == 0 ||
        max_subs > SHMIPC_PUBSUB_MAX_SUBSCRIBERS || depth == 0 || depth > SHMIPC_PS_MAX_DEPTH || history > depth ||
        max_held == 0 || max_held > 1024 || part_chunks == 0 || part_chunks > SHMIPC_PS_MAX_CHUNKS ||
        (uint64_t)part_chunks * max_pubs > SHMIPC_PS_MAX_CHUNKS)
        return -EINVAL;
    /* 64-bit arithmetic throughout: every factor is bounded above, so nothing overflows before the cap. */
    uint64_t sub_size = shmipc__align_up(128 + (uint64_t)max_held * 16, SHMIPC_CACHELINE);
    uint64_t desc_off = shmipc__align_up(sizeof(shmipc__ps_pub) + (uint64_t)history * 16, SHMIPC_CACHELINE);
    uint64_t pub_size = desc_off + (uint64_t)part_chunks * sizeof(shmipc__ps_chunk);
    uint64_t dconn = shmipc__align_up(shmipc__conn_size(pow2_at_least(depth)), SHMIPC_CACHELINE);
    uint64_t rconn = shmipc__align_up(shmipc__conn_size(pow2_at_least(part_chunks)), SHMIPC_CACHELINE);
    uint64_t pairs = (uint64_t)max_pubs * max_subs;
    uint64_t subs_off = sizeof(shmipc__ps_hdr);
    uint64_t pubs_off = subs_off + (uint64_t)max_subs * sub_size;
    uint64_t dconn_off = pubs_off + (uint64_t)max_pubs * pub_size;
    uint64_t rconn_off = dconn_off + pairs * dconn;
    uint64_t size = rconn_off + pairs * rconn;
    if (size > SHMIPC_PS_MAX_AREA)
        return -EINVAL;
    *l = (shmipc__ps_layout){.subs_off = subs_off, .sub_size = sub_size, .pubs_off = pubs_off, .pub_size = pub_size,
                             .hist_off = sizeof(shmipc__ps_pub), .desc_off = desc_off, .dconn_off = dconn_off,
                             .dconn_size = dconn, .rconn_off = rconn_off, .rconn_size = rconn, .size = size};
    return 0;
}

/* Options with every default filled in (create side). */
typedef struct ps_cfg {
    uint32_t flags, max_pubs, max_subs, depth, history, policy, max_loans, max_held, align, nchunks, part_chunks;
    uint64_t payload_max, stride, pool_off, pool_size;
} ps_cfg;

static int ps_chunk_geometry(uint64_t payload_max, uint32_t align, uint32_t nchunks, uint64_t *stride,
                             uint64_t *pool_off, uint64_t *pool_size)
{
    uint64_t a = align < SHMIPC_CACHELINE ? SHMIPC_CACHELINE : align;
    if (payload_max == 0 || payload_max > (UINT64_C(1) << 40) || !is_pow2(align) || align > SHMIPC_PS_MAX_ALIGN)
        return -EINVAL;
    *stride = (payload_max + a - 1) & ~(a - 1);
    /* The data area starts SHMIPC_SEGMENT_HEADER_SIZE bytes into a page-aligned mapping (a <= page): place
     * chunk 0 so that its address, not just its offset, is aligned. */
    *pool_off = shmipc__align_up(SHMIPC_SEGMENT_HEADER_SIZE + sizeof(shmipc__ps_pool_hdr), a) -
                SHMIPC_SEGMENT_HEADER_SIZE;
    if (*stride > (UINT64_MAX / 2 - *pool_off) / nchunks)
        return -EFBIG;
    *pool_size = *pool_off + *stride * nchunks;
    return 0;
}

static int ps_cfg_from(const shmipc_pubsub_opts *o, ps_cfg *c)
{
    static const shmipc_pubsub_opts dflt;
    if (!o)
        o = &dflt;
    if (memchr(o->type.name, '\0', sizeof o->type.name) == NULL)
        return -EINVAL;
    if ((o->flags & ~(SHMIPC_PUBSUB_DYNAMIC | SHMIPC_PUBSUB_FIXED)) ||
        (o->flags & SHMIPC_PUBSUB_DYNAMIC && o->flags & SHMIPC_PUBSUB_FIXED))
        return -EINVAL;
    c->flags = o->flags & SHMIPC_PUBSUB_DYNAMIC; /* FIXED only asks, at open; fixed is the default */
    c->payload_max = o->payload_size ? o->payload_size : o->type.size ? o->type.size : 4096;
    c->align = o->payload_align ? o->payload_align : o->type.align ? o->type.align : 8;
    if ((o->type.size && o->type.size != c->payload_max) || (o->type.align && o->type.align != c->align))
        return -EINVAL; /* the type and the explicit payload geometry disagree */
    c->max_pubs = o->max_publishers ? o->max_publishers : 4;
    c->max_subs = o->max_subscribers ? o->max_subscribers : 8;
    c->depth = o->depth ? o->depth : 8;
    c->history = o->history;
    c->policy = o->policy ? (uint32_t)o->policy : SHMIPC_PUBSUB_DROP_OLDEST;
    c->max_loans = o->max_loans ? o->max_loans : 4;
    c->max_held = o->max_held ? o->max_held : 4;
    if (c->max_pubs > SHMIPC_PUBSUB_MAX_PUBLISHERS || c->max_subs > SHMIPC_PUBSUB_MAX_SUBSCRIBERS ||
        c->policy > SHMIPC_PUBSUB_WAIT || c->max_loans > 1024 || c->max_held > 1024 ||
        c->depth > SHMIPC_PS_MAX_DEPTH || c->history > c->depth)
        return -EINVAL;
    /* Each publisher owns a partition with enough chunks that it never finds it empty while the others
     * behave: its loans, a full deliver connection, max_held received and `history` pinned by a joiner for
     * every subscriber, its history, plus one. */
    uint64_t n = (uint64_t)c->max_loans + (uint64_t)c->max_subs * (c->depth + c->max_held + c->history) +
                 c->history + 1;
    if (n * c->max_pubs > SHMIPC_PS_MAX_CHUNKS)
        return -EINVAL;
    c->part_chunks = (uint32_t)n;
    c->nchunks = (uint32_t)n * c->max_pubs;
    return ps_chunk_geometry(c->payload_max, c->align, c->nchunks, &c->stride, &c->pool_off, &c->pool_size);
}

int shmipc__ps_view(shmipc__ps *ps)
{
    shmipc__svc *svc = &ps->svc;
    if (svc->pattern_size < sizeof(shmipc__ps_hdr) || ((uintptr_t)svc->pattern_area % SHMIPC_CACHELINE)) {
        shmipc__svc_set_detail("pubsub: pattern area too small");
        return -EBADMSG;
    }
    shmipc__ps_hdr *h = svc->pattern_area;
    /* Copy every option once into the handle: shared memory is never re-read for geometry. */
    ps->hdr = h;
    ps->area = svc->pattern_area;
    ps->flags = h->flags;
    ps->max_pubs = h->max_pubs;
    ps->max_subs = h->max_subs;
    ps->depth = h->depth;
    ps->history = h->history;
    ps->policy = h->policy;
    ps->nchunks = h->nchunks;
    ps->payload_max = h->payload_max;
    ps->align = h->align;
    ps->max_loans = h->max_loans;
    ps->max_held = h->max_held;
    ps->part_chunks = h->part_chunks;
    ps->dcap = h->dcap;
    ps->rcap = h->rcap;
    ps->stride = h->stride;
    ps->pool_off = h->pool_off;
    shmipc__ps_layout l;
    uint64_t stride, poff, psize;
    if (h->magic != SHMIPC_PS_MAGIC || (ps->flags & ~SHMIPC_PUBSUB_DYNAMIC) || ps->max_pubs == 0 ||
        ps->max_pubs > SHMIPC_PUBSUB_MAX_PUBLISHERS ||
        (ps->policy != SHMIPC_PUBSUB_DROP_OLDEST && ps->policy != SHMIPC_PUBSUB_WAIT) || ps->max_loans == 0 ||
        ps->max_loans > 1024 || ps->max_held == 0 || ps->max_held > 1024 ||
        shmipc__ps_layout_of(ps->max_pubs, ps->max_subs, ps->depth, ps->history, ps->max_held, ps->part_chunks,
                             &l) ||
        l.size > svc->pattern_size || (uint64_t)ps->part_chunks * ps->max_pubs != ps->nchunks ||
        ps->dcap != pow2_at_least(ps->depth) || ps->rcap != pow2_at_least(ps->part_chunks) ||
        ps_chunk_geometry(ps->payload_max, ps->align, ps->nchunks, &stride, &poff, &psize) ||
        stride != ps->stride || poff != ps->pool_off) {
        shmipc__svc_set_detail("pubsub: pattern header invalid (options or geometry out of range)");
        return -EBADMSG;
    }
    ps->l = l;
    return 0;
}

static int ps_validate(shmipc__svc *svc)
{
    shmipc__ps tmp = {.svc = *svc};
    return shmipc__ps_view(&tmp);
}

static int ps_pool_name(const char *name, char *buf, size_t cap)
{
    return shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, name, "pool", buf, cap);
}

/* Map the pool and check it belongs to this service instance and is as large as the options say. */
static int ps_pool_open(shmipc__ps *ps, const char *name, bool rdonly)
{
    char pn[SHMIPC_SERVICE_NAME_MAX + 40];
    int err = ps_pool_name(name, pn, sizeof pn);
    if (err)
        return err;
    shmipc_segment_opts o = {.size = sizeof o, .type = SHMIPC_TYPE_PUBSUB_POOL, .flags = rdonly ? SHMIPC_SEG_RDONLY : 0};
    err = shmipc_segment_open(pn, &o, &ps->pool_seg);
    if (err)
        return err;
    const shmipc__ps_pool_hdr *ph = shmipc_segment_data(ps->pool_seg);
    uint64_t need = ps->pool_off + ps->stride * ps->nchunks; /* validated: cannot overflow */
    if (shmipc_segment_data_size(ps->pool_seg) < need || ph->magic != SHMIPC_PS_POOL_MAGIC ||
        ph->nchunks != ps->nchunks || ph->stride != ps->stride || ph->instance != ps->hdr->instance) {
        shmipc__svc_set_detail("pubsub: pool segment does not match the service");
        shmipc_segment_close(ps->pool_seg);
        ps->pool_seg = NULL;
        return -EBADMSG;
    }
    ps->pool = (unsigned char *)shmipc_segment_data(ps->pool_seg) + ps->pool_off;
    return 0;
}

#define CHECK_OPT(field, have, what)                                                                         \
    do {                                                                                                     \
        if ((field) && (uint64_t)(field) != (uint64_t)(have)) {                                              \
            shmipc__svc_set_detail("%s: service has %llu, caller asked %llu", what,                          \
                                   (unsigned long long)(have), (unsigned long long)(field));                 \
            return -EPROTOTYPE;                                                                              \
        }                                                                                                    \
    } while (0)

static int ps_compat(const shmipc__ps *ps, const shmipc_pubsub_opts *o)
{
    if (!o)
        return 0;
    CHECK_OPT(o->payload_size, ps->payload_max, "payload size");
    CHECK_OPT(o->payload_align, ps->align, "payload alignment");
    /* Like every other field, no flag accepts the service's choice; DYNAMIC or FIXED requires it. */
    if (o->flags & ~(SHMIPC_PUBSUB_DYNAMIC | SHMIPC_PUBSUB_FIXED))
        return -EINVAL;
    uint32_t want = o->flags & (SHMIPC_PUBSUB_DYNAMIC | SHMIPC_PUBSUB_FIXED);
    uint32_t have = (ps->flags & SHMIPC_PUBSUB_DYNAMIC) ? SHMIPC_PUBSUB_DYNAMIC : SHMIPC_PUBSUB_FIXED;
    if (want & ~have) {
        shmipc__svc_set_detail("payload sizes: service is %s, caller asked %s",
                               have == SHMIPC_PUBSUB_DYNAMIC ? "dynamic" : "fixed",
                               want == SHMIPC_PUBSUB_DYNAMIC ? "dynamic"
                               : want == SHMIPC_PUBSUB_FIXED ? "fixed"
                                                             : "both");
        return -EPROTOTYPE;
    }
    CHECK_OPT(o->max_publishers, ps->max_pubs, "max publishers");
    CHECK_OPT(o->max_subscribers, ps->max_subs, "max subscribers");
    CHECK_OPT(o->depth, ps->depth, "queue depth");
    CHECK_OPT(o->history, ps->history, "history");
    CHECK_OPT(o->policy, ps->policy, "full-queue policy");
    CHECK_OPT(o->max_loans, ps->max_loans, "max loans");
    CHECK_OPT(o->max_held, ps->max_held, "max held");
    return 0;
}

void shmipc__ps_options(const shmipc__ps *ps, shmipc_pubsub_opts *o)
{
    shmipc_pubsub_opts_init(o);
    o->type = ps->svc.type;
    o->payload_size = ps->payload_max;
    o->payload_align = ps->align;
    o->flags = (ps->flags & SHMIPC_PUBSUB_DYNAMIC) ? SHMIPC_PUBSUB_DYNAMIC : SHMIPC_PUBSUB_FIXED;
    o->max_publishers = ps->max_pubs;
    o->max_subscribers = ps->max_subs;
    o->depth = ps->depth;
    o->history = ps->history;
    o->policy = (shmipc_pubsub_policy)ps->policy;
    o->max_loans = ps->max_loans;
    o->max_held = ps->max_held;
}

int shmipc__ps_open(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts, bool rdonly_pool)
{
    memset(ps, 0, sizeof *ps);
    ps->slot = -1;
    if (opts && memchr(opts->type.name, '\0', sizeof opts->type.name) == NULL)
        return -EINVAL;
    int err = shmipc__svc_open(SHMIPC_PATTERN_PUBSUB, name, opts ? &opts->type : NULL, 0, &ps->svc);
    if (err)
        return err;
    err = shmipc__ps_view(ps);
    if (!err)
        err = ps_compat(ps, opts);
    if (!err)
        err = ps_pool_open(ps, name, rdonly_pool);
    if (err)
        shmipc__svc_close(&ps->svc);
    return err;
}

void shmipc__ps_close(shmipc__ps *ps)
{
    if (ps->borrowed)
        return;
    if (ps->pool_seg)
        shmipc_segment_close(ps->pool_seg);
    ps->pool_seg = NULL;
    shmipc__svc_close(&ps->svc);
}

static const char *const ps_stat_names[PS_NSTATS] = {"published", "delivered", "dropped", "pool_used"};

/* Create both segments. Returns 0, -EEXIST (a live service exists), or another error (nothing left). */
static int ps_create(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts)
{
    ps_cfg c;
    memset(ps, 0, sizeof *ps);
    ps->slot = -1;
    int err = ps_cfg_from(opts, &c);
    if (err)
        return err;
    shmipc__ps_layout l;
    err = shmipc__ps_layout_of(c.max_pubs, c.max_subs, c.depth, c.history, c.max_held, c.part_chunks, &l);
    if (err)
        return err;
    shmipc__svc_params p = {.pattern = SHMIPC_PATTERN_PUBSUB, .name = name,
                            .type = opts ? &opts->type : NULL,
                            .max_participants = c.max_pubs + c.max_subs, .pattern_size = l.size,
                            .mode = opts ? opts->mode : 0, .nstats = PS_NSTATS, .stat_names = ps_stat_names};
    err = shmipc__svc_create(&p, &ps->svc);
    if (err)
        return err;
    shmipc__ps_hdr *h = ps->svc.pattern_area;
    h->magic = SHMIPC_PS_MAGIC;
    h->flags = c.flags;
    h->max_pubs = c.max_pubs;
    h->max_subs = c.max_subs;
    h->depth = c.depth;
    h->history = c.history;
    h->policy = c.policy;
    h->nchunks = c.nchunks;
    h->payload_max = c.payload_max;
    h->align = c.align;
    h->max_loans = c.max_loans;
    h->max_held = c.max_held;
    h->part_chunks = c.part_chunks;
    h->dcap = pow2_at_least(c.depth);
    h->rcap = pow2_at_least(c.part_chunks);
    h->stride = c.stride;
    h->pool_off = c.pool_off;
    h->instance = (shmipc__realtime_ns() ^ ((uint64_t)getpid() << 40)) | 1;
    char pn[SHMIPC_SERVICE_NAME_MAX + 40];
    err = ps_pool_name(name, pn, sizeof pn);
    shmipc_segment_opts so = {.size = sizeof so, .mode = opts ? opts->mode : 0, .type = SHMIPC_TYPE_PUBSUB_POOL};
    if (!err) {
        err = shmipc_segment_create(pn, c.pool_size, &so, &ps->pool_seg);
        if (err == -EEXIST) {
            /* We hold the main name exclusively, so a pool under our name is a dead instance's. */
            shmipc_segment_unlink(pn);
            err = shmipc_segment_create(pn, c.pool_size, &so, &ps->pool_seg);
        }
    }
    if (!err) {
        shmipc__ps_pool_hdr *ph = shmipc_segment_data(ps->pool_seg);
        ph->magic = SHMIPC_PS_POOL_MAGIC;
        ph->nchunks = c.nchunks;
        ph->stride = c.stride;
        ph->instance = h->instance;
        ps->pool = (unsigned char *)ph + c.pool_off;
        err = shmipc__ps_view(ps);
    }
    if (!err) {
        for (uint32_t k = 0; k < ps->max_pubs; k++)
            for (uint32_t j = 0; j < ps->max_subs; j++) {
                shmipc__conn_init(ps_dconn(ps, k, j), ps->dcap);
                shmipc__conn_init(ps_rconn(ps, k, j), ps->rcap);
            }
    }
    if (!err)
        err = shmipc__svc_publish(&ps->svc);
    if (err) {
        if (ps->pool_seg) {
            shmipc_segment_close(ps->pool_seg);
            shmipc_segment_unlink(pn);
            ps->pool_seg = NULL;
        }
        shmipc_segment_unlink(ps->svc.segname);
        shmipc__svc_close(&ps->svc);
    }
    return err;
}

int shmipc__ps_create_or_open(shmipc__ps *ps, const char *name, const shmipc_pubsub_opts *opts, bool create)
{
    if (create) {
        int err = ps_create(ps, name, opts);
        if (err != -EEXIST)
            return err;
    }
    return shmipc__ps_open(ps, name, opts, false);
}

/* ---- pattern operations for the service core ---- */

static int ps_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)user; /* the pattern slot is found by its participant slot: a crash between joining and claiming
                 * one leaves nothing behind */
    shmipc__ps ps = {.svc = *svc, .slot = -1};
    if (shmipc__ps_view(&ps))
        return -EBADMSG;
    if (role == SHMIPC_ROLE_PUBLISHER) {
        for (uint32_t k = 0; k < ps.max_pubs; k++) {
            shmipc__ps_pub *p = ps_pub(&ps, k);
            /* acquire: the dead owner's writes to its partition are visible before we repair it. */
            if (atomic_load_explicit(&p->part, memory_order_acquire) != slot + 1)
                continue;
            shmipc__ps_part_recover(&ps, k);
            uint32_t mine = slot + 1;
            /* release: the partition is repaired before the slot can be claimed again. */
            atomic_compare_exchange_strong_explicit(&p->part, &mine, 0, memory_order_release, memory_order_relaxed);
            ps_epoch_bump(&ps);
        }
    } else if (role == SHMIPC_ROLE_SUBSCRIBER) {
        for (uint32_t j = 0; j < ps.max_subs; j++)
            if (atomic_load_explicit(&ps_sub(&ps, j)->part, memory_order_acquire) == slot + 1)
                shmipc__ps_sub_free(&ps, j);
    }
    return 0;
}

static void ps_describe(const shmipc__svc *svc, char *buf, size_t cap)
{
    shmipc__ps ps = {.svc = *svc, .slot = -1};
    if (shmipc__ps_view(&ps)) {
        snprintf(buf, cap, "(invalid)");
        return;
    }
    snprintf(buf, cap, "payload=%llu%s align=%u publishers=%u subscribers=%u depth=%u history=%u policy=%s "
             "chunks=%u in_use=%u",
             (unsigned long long)ps.payload_max, (ps.flags & SHMIPC_PUBSUB_DYNAMIC) ? "(dynamic)" : "", ps.align,
             ps.max_pubs, ps.max_subs, ps.depth, ps.history,
             ps.policy == SHMIPC_PUBSUB_WAIT ? "wait" : "drop-oldest", ps.nchunks, shmipc__ps_pool_used(&ps));
}

/* Every figure is derived: published, delivered and dropped are the sums of the publishers' own lines
 * (each counted by the publisher alone, in its own line), pool_used is read from the reference words. */
static void ps_derived_stats(const shmipc__svc *svc, uint64_t *stats, uint32_t nstats)
{
    shmipc__ps ps = {.svc = *svc, .slot = -1};
    if (nstats < PS_NSTATS || shmipc__ps_view(&ps) != 0)
        return;
    uint64_t pubd = 0, deliv = 0, drop = 0;
    for (uint32_t k = 0; k < ps.max_pubs; k++) {
        shmipc__ps_pub *p = ps_pub(&ps, k);
        /* relaxed: figures. */
        pubd += atomic_load_explicit(&p->published, memory_order_relaxed);
        deliv += atomic_load_explicit(&p->delivered, memory_order_relaxed);
        drop += atomic_load_explicit(&p->dropped, memory_order_relaxed);
    }
    stats[PS_STAT_PUBLISHED] = pubd;
    stats[PS_STAT_DELIVERED] = deliv;
    stats[PS_STAT_DROPPED] = drop;
    stats[PS_STAT_POOL_USED] = shmipc__ps_pool_used(&ps);
}

static void ps_unlink_companions(const char *name)
{
    char pn[SHMIPC_SERVICE_NAME_MAX + 40];
    if (ps_pool_name(name, pn, sizeof pn) == 0)
        shmipc_segment_unlink(pn);
}

int shmipc_pubsub_unlink(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    int err = shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, name, NULL, seg, sizeof seg);
    if (err)
        return err;
    err = shmipc_segment_unlink(seg);
    ps_unlink_companions(name);
    return err;
}

const shmipc__pattern_ops shmipc__pubsub_ops = {
    .pattern = SHMIPC_PATTERN_PUBSUB,
    .seg_type = SHMIPC_TYPE_PUBSUB,
    .validate = ps_validate,
    .reclaim = ps_reclaim,
    .describe = ps_describe,
    .derived_stats = ps_derived_stats,
    .unlink_companions = ps_unlink_companions,
};
