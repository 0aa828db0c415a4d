/* SPDX-License-Identifier: MIT */
/*
 * channel/channel.c - the channel's life cycle: laying out a ring in a segment, validating one found in
 * a segment, claiming and taking over endpoints (the common packed owner id, shmipc__owner_claim), watching the
 * peer's liveness, closing, and statistics. The data path is in channel/ring.c.
 */
#include "channel/channel_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROC_CHECK_NS (50u * 1000000u) /* how often a waiting side reads the peer's /proc entry */

void shmipc_channel_opts_init(shmipc_channel_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

static uint64_t round_pow2(uint64_t v)
{
    uint64_t p = SHMIPC_CHANNEL_MIN_CAPACITY;
    while (p < v)
        p <<= 1;
    return p;
}

size_t shmipc_channel_size(size_t capacity)
{
    if (capacity == 0)
        capacity = SHMIPC_CHANNEL_DEFAULT_CAPACITY;
    if (capacity > SHMIPC_CHANNEL_MAX_CAPACITY)
        return 0;
    return CHAN_HDR_SIZE + (size_t)round_pow2(capacity);
}

static int check_wait_mode(shmipc_wait_mode m)
{
    return (m >= SHMIPC_WAIT_DEFAULT && m <= SHMIPC_WAIT_HYBRID) ? 0 : -EINVAL;
}

static int check_role(shmipc_channel_role r)
{
    return (r == SHMIPC_CHANNEL_PRODUCER || r == SHMIPC_CHANNEL_CONSUMER || r == SHMIPC_CHANNEL_OBSERVER)
               ? 0 : -EINVAL;
}


int shmipc__chan_broken(shmipc_channel *ch)
{
    ch->broken = true;
    /* relaxed: a hint to the peer and to later openers; nothing is published with it. */
    atomic_store_explicit(&ch->hdr->broken, 1, memory_order_relaxed);
    return -EBADMSG;
}

bool shmipc__chan_peer_gone(shmipc_channel *ch)
{
    if (shmipc__chan_peer_closed(ch))
        return true; /* closed, or died and was reclaimed */
    /* acquire: a dead owner's last stores are visible once it is judged dead. */
    uint64_t o = atomic_load_explicit(&shmipc__chan_peer_slot(ch)->owner, memory_order_acquire);
    if (o == 0)
        return false; /* nobody opened it yet (or a reclaim is freeing it right now): wait for one */
    if (o == ch->dead_owner)
        return true; /* pid + start time never come back */
    uint64_t now = shmipc__now_ns();
    if (now < ch->next_proc_check)
        return false;
    ch->next_proc_check = now + PROC_CHECK_NS;
    if (shmipc__owner_alive(o))
        return false;
    ch->dead_owner = o;
    return true;
}

/* The configuration of a channel, once read from shared memory and checked: the handle uses only this
 * copy, so a peer rewriting the header later cannot change what was validated. */
typedef struct chan_cfg {
    uint64_t cap;
    uint32_t max_msg;
    uint32_t policy;
} chan_cfg;

/* Validate the header of a channel found in shared memory; the values come from a peer, not from us. */
static int check_header(const shmipc__chan_hdr *h, size_t data_size, bool allow_broken, chan_cfg *cfg)
{
    const volatile shmipc__chan_hdr *v = h; /* each field is fetched exactly once */
    uint64_t magic = v->magic, cap = v->capacity, off = v->ring_offset;
    uint32_t version = v->version, hsize = v->header_size, max_msg = v->max_msg, policy = v->policy;
    if (magic != CHAN_MAGIC || version != CHAN_VERSION || hsize != CHAN_HDR_SIZE)
        return -EBADMSG;
    if (cap < SHMIPC_CHANNEL_MIN_CAPACITY || cap > SHMIPC_CHANNEL_MAX_CAPACITY || (cap & (cap - 1)))
        return -EBADMSG;
    if (off != CHAN_HDR_SIZE || off > data_size || cap > data_size - off)
        return -EBADMSG;
    if (max_msg != cap / 2 - CHAN_REC_HDR || policy > SHMIPC_CHANNEL_FULL_OVERWRITE)
        return -EBADMSG;
    /* An observer may still look at a broken channel (tools show it); the ends may not use it. */
    if (!allow_broken && atomic_load_explicit(&h->broken, memory_order_relaxed))
        return -EBADMSG;
    *cfg = (chan_cfg){.cap = cap, .max_msg = max_msg, .policy = policy};
    return 0;
}

/* The core's view of the channel: its two-entry endpoint table, reclaimed by the channel's ops. */
static void chan_svc_init(shmipc__svc *svc, shmipc_segment *seg, shmipc__chan_hdr *h)
{
    memset(svc, 0, sizeof *svc);
    svc->seg = seg;
    svc->parts = h->ends;
    svc->nparts = CHAN_NSLOTS;
    svc->pattern = SHMIPC_PATTERN_CHANNEL;
    svc->pattern_area = h;
    svc->pattern_size = CHAN_HDR_SIZE;
}

/* Join the role's end through the core: a free or vacated end is claimed, a dead owner's reclaimed first
 * (the same reclaim as gc's), a live one refused (-EBUSY). */
static int claim(shmipc_channel *ch)
{
    uint32_t slot = ch->role == SHMIPC_CHANNEL_PRODUCER ? CHAN_SLOT_PRODUCER : CHAN_SLOT_CONSUMER;
    uint32_t role = ch->role == SHMIPC_CHANNEL_PRODUCER ? SHMIPC_ROLE_PRODUCER : SHMIPC_ROLE_CONSUMER;
    /* acq_rel inside: we see the indices and counters the previous owner left (released by its last
     * stores and its leave or reclaim). */
    int r = shmipc__svc_join_slot(&ch->svc, slot, role, 0);
    return r < 0 ? r : 0;
}

/* Take the side's state from shared memory (a fresh channel or one left by a previous owner). */
static int adopt(shmipc_channel *ch)
{
    shmipc__chan_hdr *h = ch->hdr;
    /* acquire: records up to head (and the counters stored before it) are complete. */
    uint64_t head = atomic_load_explicit(&h->prod.head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&h->cons.tail, memory_order_acquire);
    if (head - tail > ch->cap || (head | tail) % CHAN_REC_ALIGN)
        return shmipc__chan_broken(ch);
    if (ch->role == SHMIPC_CHANNEL_PRODUCER) {
        ch->pos = ch->pub = head;
        ch->cached = tail;
        /* relaxed: our own line's counters, left by our predecessor. */
        ch->seq = ch->msgs = atomic_load_explicit(&h->prod.msgs_sent, memory_order_relaxed);
        ch->bytes = atomic_load_explicit(&h->prod.bytes_sent, memory_order_relaxed);
        /* The space notify is only slept on by the producer: a dead predecessor's announcement is stale. */
        atomic_store_explicit(&h->space.n.waiters, 0, memory_order_relaxed);
    } else if (ch->role == SHMIPC_CHANNEL_CONSUMER) {
        ch->pos = tail;
        ch->cached = head;
        ch->msgs = atomic_load_explicit(&h->cons.msgs_recv, memory_order_relaxed);
        ch->bytes = atomic_load_explicit(&h->cons.bytes_recv, memory_order_relaxed);
        ch->dropped = ch->dropped_base = atomic_load_explicit(&h->cons.dropped, memory_order_relaxed);
        /* Every message numbered below this was either received or counted as dropped. */
        ch->seq = ch->msgs + ch->dropped;
        atomic_store_explicit(&h->data.n.waiters, 0, memory_order_relaxed);
        if (ch->policy == SHMIPC_CHANNEL_FULL_OVERWRITE) {
            ch->copybuf = malloc(ch->max_msg ? ch->max_msg : 1);
            if (!ch->copybuf)
                return -ENOMEM;
        }
    }
    return 0;
}

static int handle_new(shmipc_segment *seg, const chan_cfg *cfg, shmipc_channel_role role,
                      const shmipc_channel_opts *opts, shmipc_channel **out)
{
    shmipc_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return -ENOMEM;
    shmipc__chan_hdr *h = shmipc_segment_data(seg);
    ch->seg = seg;
    ch->hdr = h;
    chan_svc_init(&ch->svc, seg, h);
    ch->cap = cfg->cap;
    ch->mask = ch->cap - 1;
    ch->ring = (uint8_t *)h + CHAN_HDR_SIZE;
    ch->max_msg = cfg->max_msg;
    ch->policy = (shmipc_channel_full_policy)cfg->policy;
    ch->role = role;
    ch->wait_default = opts->wait_mode ? opts->wait_mode : SHMIPC_WAIT_HYBRID;
    ch->wait_mode = ch->wait_default;
    ch->spin_ns = (uint64_t)opts->spin_us * 1000u; /* 0: the wait primitive's floor, as every handle */
    *out = ch;
    return 0;
}

static void handle_free(shmipc_channel *ch)
{
    if (ch->owns_seg)
        shmipc_segment_close(ch->seg);
    free(ch->copybuf);
    free(ch);
}

static int attach(shmipc_segment *seg, const chan_cfg *cfg, shmipc_channel_role role,
                  const shmipc_channel_opts *opts, shmipc_channel **out)
{
    shmipc_channel *ch;
    int err = handle_new(seg, cfg, role, opts, &ch);
    if (err)
        return err;
    if (role != SHMIPC_CHANNEL_OBSERVER) {
        err = claim(ch);
        if (!err) {
            err = adopt(ch);
            if (err)
                shmipc__svc_leave(&ch->svc, ch->role == SHMIPC_CHANNEL_PRODUCER ? CHAN_SLOT_PRODUCER
                                                                                 : CHAN_SLOT_CONSUMER);
        }
    }
    if (err) {
        ch->owns_seg = false;
        handle_free(ch);
        return err;
    }
    *out = ch;
    return 0;
}

static int init_in(shmipc_segment *seg, const shmipc_channel_opts *opts, shmipc_channel **out)
{
    shmipc_channel_role role = opts->role ? opts->role : SHMIPC_CHANNEL_PRODUCER;
    if (check_role(role) || check_wait_mode(opts->wait_mode) || (unsigned)opts->full_policy > 2 ||
        (opts->capacity && opts->capacity < SHMIPC_CHANNEL_MIN_CAPACITY) ||
        opts->capacity > SHMIPC_CHANNEL_MAX_CAPACITY)
        return -EINVAL;
    size_t avail = shmipc_segment_data_size(seg);
    uint64_t cap;
    if (opts->capacity) {
        cap = round_pow2(opts->capacity);
    } else {
        if (avail < CHAN_HDR_SIZE + SHMIPC_CHANNEL_MIN_CAPACITY)
            return -ENOSPC;
        cap = SHMIPC_CHANNEL_MIN_CAPACITY;
        while (cap * 2 <= avail - CHAN_HDR_SIZE && cap * 2 <= SHMIPC_CHANNEL_MAX_CAPACITY)
            cap *= 2;
    }
    if (avail < CHAN_HDR_SIZE || cap > avail - CHAN_HDR_SIZE)
        return -ENOSPC;

    chan_cfg cfg = {.cap = cap, .max_msg = (uint32_t)(cap / 2 - CHAN_REC_HDR),
                    .policy = (uint32_t)opts->full_policy};
    shmipc__chan_hdr *h = shmipc_segment_data(seg);
    memset(h, 0, CHAN_HDR_SIZE);
    h->magic = CHAN_MAGIC;
    h->version = CHAN_VERSION;
    h->header_size = CHAN_HDR_SIZE;
    h->capacity = cap;
    h->ring_offset = CHAN_HDR_SIZE;
    h->max_msg = cfg.max_msg;
    h->policy = cfg.policy;
    shmipc__notify_init(&h->data.n);
    shmipc__notify_init(&h->space.n);
    /* Nothing here is shared yet: the segment is published (release) after this, or the caller shares
     * the memfd afterwards (fork and SCM_RIGHTS order it for us). */
    return attach(seg, &cfg, role, opts, out);
}

int shmipc_channel_create_in(shmipc_segment *seg, const shmipc_channel_opts *opts, shmipc_channel **out)
{
    shmipc_channel_opts o;
    int err = SHMIPC__OPTS_TAKE(shmipc_channel_opts, shmipc_channel_opts_init, &o, opts);
    if (err)
        return err;
    if (!seg || !out)
        return -EINVAL;
    if (seg->flags & SHMIPC_SEG_RDONLY)
        return -EPERM;
    return init_in(seg, &o, out);
}

int shmipc_channel_create(const char *name, const shmipc_channel_opts *opts, shmipc_channel **out)
{
    shmipc_channel_opts o;
    int err = SHMIPC__OPTS_TAKE(shmipc_channel_opts, shmipc_channel_opts_init, &o, opts);
    if (err)
        return err;
    opts = &o;
    if (!out || (opts->capacity && opts->capacity < SHMIPC_CHANNEL_MIN_CAPACITY) ||
        opts->capacity > SHMIPC_CHANNEL_MAX_CAPACITY)
        return -EINVAL;
    shmipc_segment_opts so = {.size = sizeof so, .mode = opts->mode, .type = SHMIPC_TYPE_CHANNEL,
                              .flags = (opts->seg_flags & SHMIPC_SEG_NO_RESERVE) | SHMIPC_SEG_DEFER_READY};
    shmipc_segment *seg;
    err = shmipc_segment_create(name, shmipc_channel_size(opts->capacity), &so, &seg);
    if (err)
        return err;
    if (!o.capacity)
        o.capacity = SHMIPC_CHANNEL_DEFAULT_CAPACITY;
    err = init_in(seg, &o, out);
    if (err) {
        shmipc_segment_close(seg);
        shmipc_segment_unlink(name);
        return err;
    }
    (*out)->owns_seg = true;
    shmipc_segment_publish(seg);
    return 0;
}

int shmipc_channel_open_in(shmipc_segment *seg, shmipc_channel_role role, const shmipc_channel_opts *opts,
                           shmipc_channel **out)
{
    shmipc_channel_opts o;
    int err = SHMIPC__OPTS_TAKE(shmipc_channel_opts, shmipc_channel_opts_init, &o, opts);
    if (err)
        return err;
    opts = &o;
    if (!seg || !out || check_role(role) || check_wait_mode(opts->wait_mode))
        return -EINVAL;
    if (role != SHMIPC_CHANNEL_OBSERVER && (seg->flags & SHMIPC_SEG_RDONLY))
        return -EPERM;
    size_t avail = shmipc_segment_data_size(seg);
    if (avail < CHAN_HDR_SIZE)
        return -EBADMSG;
    chan_cfg cfg;
    err = check_header(shmipc_segment_data(seg), avail, role == SHMIPC_CHANNEL_OBSERVER, &cfg);
    if (err)
        return err;
    return attach(seg, &cfg, role, opts, out);
}

int shmipc_channel_open(const char *name, shmipc_channel_role role, const shmipc_channel_opts *opts,
                        shmipc_channel **out)
{
    shmipc_channel_opts o;
    int err = SHMIPC__OPTS_TAKE(shmipc_channel_opts, shmipc_channel_opts_init, &o, opts);
    if (err)
        return err;
    opts = &o;
    if (!out || check_role(role))
        return -EINVAL;
    shmipc_segment_opts so = {.size = sizeof so, .type = SHMIPC_TYPE_CHANNEL, .flags = opts->seg_flags & SHMIPC_SEG_ALLOW_FOREIGN};
    if (role == SHMIPC_CHANNEL_OBSERVER)
        so.flags |= SHMIPC_SEG_RDONLY;
    shmipc_segment *seg;
    err = shmipc_segment_open(name, &so, &seg);
    if (err)
        return err;
    err = shmipc_channel_open_in(seg, role, opts, out);
    if (err) {
        shmipc_segment_close(seg);
        return err;
    }
    (*out)->owns_seg = true;
    return 0;
}

int shmipc_channel_close(shmipc_channel *ch)
{
    if (!ch)
        return 0;
    if (ch->role != SHMIPC_CHANNEL_OBSERVER) {
        shmipc__chan_hdr *h = ch->hdr;
        /* release inside: our last index and counter stores happen-before the peer's acquire of VACATED
         * and a successor's acquire CAS. Only our own claim is given up: a slot someone else took (it
         * thought us dead) is left alone. */
        shmipc__svc_leave(&ch->svc, ch->role == SHMIPC_CHANNEL_PRODUCER ? CHAN_SLOT_PRODUCER : CHAN_SLOT_CONSUMER);
        /* Wake a peer sleeping for us, so that it sees the closed slot now rather than at a timeout. */
        shmipc__notify_wake(ch->role == SHMIPC_CHANNEL_PRODUCER ? &h->data.n : &h->space.n, INT32_MAX);
    }
    handle_free(ch);
    return 0;
}

int shmipc_channel_unlink(const char *name) { return shmipc_segment_unlink(name); }

int shmipc_channel_set_wait(shmipc_channel *ch, shmipc_wait_mode mode)
{
    if (!ch || check_wait_mode(mode))
        return -EINVAL;
    ch->wait_mode = mode == SHMIPC_WAIT_DEFAULT ? ch->wait_default : mode;
    return 0;
}

size_t shmipc_channel_max_msg(const shmipc_channel *ch) { return ch ? ch->max_msg : 0; }

shmipc_segment *shmipc_channel_segment(const shmipc_channel *ch) { return ch ? ch->seg : NULL; }

uint64_t shmipc_channel_dropped(const shmipc_channel *ch) { return ch ? ch->dropped - ch->dropped_base : 0; }

static void slot_info(const shmipc__participant *s, shmipc_proc_id *id, int *alive)
{
    /* relaxed: informational snapshot. */
    shmipc__participant *p = (shmipc__participant *)s;
    uint64_t o = atomic_load_explicit(&p->owner, memory_order_relaxed);
    memset(id, 0, sizeof *id);
    if (o == 0 && atomic_load_explicit(&p->state, memory_order_relaxed) == SHMIPC__PART_VACATED)
        id->pid = -1; /* closed */
    else if (o != 0) {
        id->pid = shmipc__owner_pid(o);
        id->start_time = __atomic_load_n(&p->start_time, __ATOMIC_RELAXED);
    }
    *alive = shmipc__owner_alive(o);
}

int shmipc_channel_stats_get(const shmipc_channel *ch, shmipc_channel_stats *st)
{
    if (!ch || !st)
        return -EINVAL;
    const shmipc__chan_hdr *h = ch->hdr;
    memset(st, 0, sizeof *st);
    st->capacity = ch->cap;
    st->max_msg = ch->max_msg;
    st->full_policy = (uint32_t)ch->policy;
    /* All relaxed: counters for display, each read once. */
    st->broken = atomic_load_explicit(&h->broken, memory_order_relaxed) != 0 || ch->broken;
    st->head = atomic_load_explicit(&h->prod.head, memory_order_relaxed);
    st->tail = atomic_load_explicit(&h->cons.tail, memory_order_relaxed);
    st->msgs_sent = atomic_load_explicit(&h->prod.msgs_sent, memory_order_relaxed);
    st->bytes_sent = atomic_load_explicit(&h->prod.bytes_sent, memory_order_relaxed);
    st->overwritten = atomic_load_explicit(&h->prod.overwritten, memory_order_relaxed);
    st->msgs_recv = atomic_load_explicit(&h->cons.msgs_recv, memory_order_relaxed);
    st->bytes_recv = atomic_load_explicit(&h->cons.bytes_recv, memory_order_relaxed);
    st->dropped = atomic_load_explicit(&h->cons.dropped, memory_order_relaxed);
    slot_info(&h->ends[CHAN_SLOT_PRODUCER], &st->producer, &st->producer_alive);
    slot_info(&h->ends[CHAN_SLOT_CONSUMER], &st->consumer, &st->consumer_alive);
    return 0;
}

/* ---- the channel as a pattern of the core (discovery, gc, the one reclaim path) ---------------------- */

/* A dead end holds nothing but its table entry: a successor adopts the indices and counters as they are
 * (a reservation it never committed was never published). Wake the other end so that it sees the end
 * gone now rather than at its next liveness check. Idempotent. */
static int chan_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)slot, (void)role, (void)user;
    shmipc__chan_hdr *h = svc->pattern_area;
    shmipc__notify_wake(&h->data.n, INT32_MAX);
    shmipc__notify_wake(&h->space.n, INT32_MAX);
    return 0;
}

static int chan_open_object(shmipc__svc *svc)
{
    size_t avail = shmipc_segment_data_size(svc->seg);
    chan_cfg cfg;
    if (avail < CHAN_HDR_SIZE)
        return -EBADMSG;
    shmipc__chan_hdr *h = shmipc_segment_data(svc->seg);
    int err = check_header(h, avail, true, &cfg);
    if (err)
        return err;
    shmipc_segment *seg = svc->seg;
    char segname[sizeof svc->segname];
    memcpy(segname, svc->segname, sizeof segname);
    chan_svc_init(svc, seg, h);
    memcpy(svc->segname, segname, sizeof segname);
    svc->pattern_size = (size_t)(CHAN_HDR_SIZE + cfg.cap);
    return 0;
}

static void chan_describe(const shmipc__svc *svc, char *buf, size_t cap)
{
    chan_cfg cfg;
    const shmipc__chan_hdr *h = svc->pattern_area;
    if (check_header(h, svc->pattern_size, true, &cfg)) {
        snprintf(buf, cap, "corrupt");
        return;
    }
    static const char *const policies[] = {"block", "drop", "overwrite"};
    snprintf(buf, cap, "capacity=%llu max_msg=%u policy=%s broken=%u", (unsigned long long)cfg.cap, cfg.max_msg,
             policies[cfg.policy], atomic_load_explicit(&((shmipc__chan_hdr *)h)->broken, memory_order_relaxed) ? 1u : 0u);
}

static uint32_t chan_object_stats(const shmipc__svc *svc, char names[][24], uint64_t *v)
{
    shmipc__chan_hdr *h = svc->pattern_area;
    static const char *const n[] = {"sent", "received", "sent_bytes", "received_bytes", "dropped", "overwritten",
                                    "ring_used", "ring_size"};
    SHMIPC_STATIC_ASSERT(SHMIPC_ARRAY_LEN(n) <= SHMIPC_SERVICE_MAX_STATS, "channel stats fit");
    /* All relaxed: figures for tools, each read once. */
    uint64_t head = atomic_load_explicit(&h->prod.head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&h->cons.tail, memory_order_relaxed);
    uint64_t cap = svc->pattern_size - CHAN_HDR_SIZE;
    v[0] = atomic_load_explicit(&h->prod.msgs_sent, memory_order_relaxed);
    v[1] = atomic_load_explicit(&h->cons.msgs_recv, memory_order_relaxed);
    v[2] = atomic_load_explicit(&h->prod.bytes_sent, memory_order_relaxed);
    v[3] = atomic_load_explicit(&h->cons.bytes_recv, memory_order_relaxed);
    v[4] = atomic_load_explicit(&h->cons.dropped, memory_order_relaxed);
    v[5] = atomic_load_explicit(&h->prod.overwritten, memory_order_relaxed);
    v[6] = head - tail <= cap ? head - tail : cap; /* a peer's garbage is clamped, never shown as more */
    v[7] = cap;
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(n); i++)
        snprintf(names[i], 24, "%s", n[i]);
    return (uint32_t)SHMIPC_ARRAY_LEN(n);
}

const shmipc__pattern_ops shmipc__channel_ops = {
    .pattern = SHMIPC_PATTERN_CHANNEL,
    .seg_type = SHMIPC_TYPE_CHANNEL,
    .reclaim = chan_reclaim,
    .describe = chan_describe,
    .open_object = chan_open_object,
    .object_stats = chan_object_stats,
};
