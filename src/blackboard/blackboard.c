/* SPDX-License-Identifier: MIT */
/*
 * blackboard/blackboard.c - the latest-value service: a writer publishes values into double-buffered,
 * sequence-guarded entries; readers copy a consistent snapshot without locks (layout in
 * blackboard_internal.h, memory orders explained at bb_store and bb_load).
 */
#include "blackboard/blackboard_internal.h"
#include "service/role.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void (*shmipc__bb_kill_point)(void);

enum { BB_STAT_UPDATES, BB_NSTATS };
static const char *const bb_stat_names[BB_NSTATS] = {"updates"};

/*
 * Boehm's seqlock pattern ("Can seqlocks get along with programming language memory models?", 2012):
 * writer: seq = odd (relaxed); release fence; data (relaxed); seq = even (release).
 * reader: s1 = seq (acquire); data (relaxed); acquire fence; s2 = seq (relaxed); valid if s1 == s2, even.
 * ThreadSanitizer does not model fences, so its builds use release data stores and acquire data loads
 * instead: stronger, equally correct, and visible to it.
 */
#if defined(SHMIPC_SANITIZER) && SHMIPC_SANITIZER == 2
#define BB_DATA_STORE memory_order_release
#define BB_DATA_LOAD memory_order_acquire
#define BB_FENCE_RELEASE() ((void)0)
#define BB_FENCE_ACQUIRE() ((void)0)
#else
#define BB_DATA_STORE memory_order_relaxed
#define BB_DATA_LOAD memory_order_relaxed
#define BB_FENCE_RELEASE() atomic_thread_fence(memory_order_release)
#define BB_FENCE_ACQUIRE() atomic_thread_fence(memory_order_acquire)
#endif

typedef struct bb_geom {
    uint32_t value_size, words, entries, max_readers, nparts;
    uint32_t buf_size, entry_size, entry_off;
    size_t total;
} bb_geom;

struct shmipc_blackboard_writer {
    shmipc__svc svc;
    bb_geom g;
    shmipc__bb_hdr *h;
    uint64_t me;
    uint32_t slot;
};

struct shmipc_blackboard_reader {
    shmipc__svc svc;
    bb_geom g;
    shmipc__bb_hdr *h;
    uint32_t slot;
    shmipc_wait_mode wait_mode;
    uint64_t *tmp; /* snapshot buffer for values over 512 bytes (allocated once: no malloc per read) */
    uint64_t *last; /* per key: the version this reader returned last (reads never go back) */
};

void shmipc_blackboard_opts_init(shmipc_blackboard_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

static int bb_geom_make(bb_geom *g, uint32_t value_size, uint32_t entries, uint32_t max_readers)
{
    if (value_size == 0 || value_size > SHMIPC_BB_MAX_VALUE || entries == 0 || entries > SHMIPC_BB_MAX_ENTRIES ||
        max_readers == 0 || max_readers >= SHMIPC_SVC_MAX_PARTICIPANTS)
        return -EINVAL;
    g->value_size = value_size;
    g->words = (value_size + 7) / 8;
    g->entries = entries;
    g->max_readers = max_readers;
    g->nparts = max_readers + 1;
    g->buf_size = (uint32_t)shmipc__align_up(sizeof(shmipc__bb_buf) + (size_t)g->words * 8, SHMIPC_CACHELINE);
    g->entry_size = (uint32_t)sizeof(shmipc__bb_entry) + 2 * g->buf_size;
    g->entry_off = (uint32_t)sizeof(shmipc__bb_hdr);
    uint64_t total = g->entry_off + (uint64_t)g->entry_size * entries;
    if (total > UINT32_MAX / 2)
        return -EINVAL;
    g->total = (size_t)total;
    return 0;
}

static int bb_geom_read(const shmipc__svc *svc, bb_geom *g)
{
    const shmipc__bb_hdr *h = svc->pattern_area;
    if (svc->pattern_size < sizeof *h || h->magic != SHMIPC_BB_MAGIC) {
        shmipc__svc_set_detail("blackboard header: bad magic");
        return -EBADMSG;
    }
    bb_geom want;
    uint32_t entry_off = h->entry_off, entry_size = h->entry_size, buf_size = h->buf_size;
    if (bb_geom_make(&want, h->value_size, h->entries, h->max_readers) || want.nparts != svc->nparts ||
        want.entry_off != entry_off || want.entry_size != entry_size || want.buf_size != buf_size ||
        want.total > svc->pattern_size) {
        shmipc__svc_set_detail("blackboard header: geometry out of range or inconsistent");
        return -EBADMSG;
    }
    *g = want;
    return 0;
}

static shmipc__bb_entry *bb_entry(void *area, const bb_geom *g, uint32_t key)
{
    return (shmipc__bb_entry *)((char *)area + g->entry_off + (size_t)key * g->entry_size);
}

static shmipc__bb_buf *bb_buf(shmipc__bb_entry *e, const bb_geom *g, uint32_t i)
{
    return (shmipc__bb_buf *)((char *)(e + 1) + (size_t)(i & 1) * g->buf_size);
}

static int bb_validate(shmipc__svc *svc)
{
    bb_geom g;
    return bb_geom_read(svc, &g);
}

static int bb_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)user;
    if (role != SHMIPC_ROLE_WRITER || slot >= svc->nparts || bb_validate(svc))
        return 0;
    shmipc__bb_hdr *h = svc->pattern_area;
    uint64_t dead = atomic_load_explicit(&svc->parts[slot].owner, memory_order_acquire);
    /* acq_rel: clears exactly the dead writer's claim (idempotent: a second reclaimer finds 0 or a new
     * writer's id and leaves it); readers sleeping in wait are woken to see -EPIPE. */
    if (dead &&
        atomic_compare_exchange_strong_explicit(&h->writer, &dead, 0, memory_order_acq_rel, memory_order_relaxed))
        shmipc__notify_wake(&h->notify, INT32_MAX);
    return 0;
}

static void bb_describe(const shmipc__svc *svc, char *buf, size_t cap)
{
    bb_geom g;
    if (bb_geom_read(svc, &g)) {
        snprintf(buf, cap, "corrupt");
        return;
    }
    uint64_t w = atomic_load_explicit(&((shmipc__bb_hdr *)svc->pattern_area)->writer, memory_order_relaxed);
    snprintf(buf, cap, "value_size=%u entries=%u readers=%u writer=%s", g.value_size, g.entries, g.max_readers,
             w ? (shmipc__owner_alive(w) ? "alive" : "dead") : "none");
}

const shmipc__pattern_ops shmipc__blackboard_ops = {
    .pattern = SHMIPC_PATTERN_BLACKBOARD,
    .seg_type = SHMIPC_TYPE_BLACKBOARD,
    .validate = bb_validate,
    .reclaim = bb_reclaim,
    .describe = bb_describe,
};

static int bb_compat(const shmipc_blackboard_opts *o, const bb_geom *g)
{
    uint32_t want_size = o->value_size ? o->value_size : o->type ? (uint32_t)o->type->size : 0;
    if (o->type && o->type->size > SHMIPC_BB_MAX_VALUE)
        want_size = UINT32_MAX; /* can never match */
    struct {
        const char *what;
        uint32_t want, have;
    } f[] = {{"value_size", want_size, g->value_size}, {"entries", o->entries, g->entries},
             {"max_readers", o->max_readers, g->max_readers}};
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(f); i++) {
        if (f[i].want && f[i].want != f[i].have) {
            shmipc__svc_set_detail("%s: service has %u, caller asked %u", f[i].what, f[i].have, f[i].want);
            return -EPROTOTYPE;
        }
    }
    return 0;
}

static int bb_open_existing(const char *name, const shmipc_blackboard_opts *o, shmipc__svc *svc, bb_geom *g)
{
    int err = shmipc__svc_open(SHMIPC_PATTERN_BLACKBOARD, name, o->type, 0, svc);
    if (err)
        return err;
    err = bb_geom_read(svc, g);
    if (!err)
        err = bb_compat(o, g);
    if (err)
        shmipc__svc_close(svc);
    return err;
}

static int bb_create(const char *name, const shmipc_blackboard_opts *o, shmipc__svc *svc, bb_geom *g)
{
    uint64_t vs = o->value_size ? o->value_size : o->type ? o->type->size : 0;
    if (vs > SHMIPC_BB_MAX_VALUE)
        return -EINVAL;
    int err = bb_geom_make(g, (uint32_t)vs, o->entries ? o->entries : 1, o->max_readers ? o->max_readers : 64);
    if (err)
        return err;
    shmipc__svc_params p = {.pattern = SHMIPC_PATTERN_BLACKBOARD, .name = name, .type = o->type,
                            .max_participants = g->nparts, .pattern_size = g->total, .mode = o->mode,
                            .nstats = BB_NSTATS, .stat_names = bb_stat_names};
    err = shmipc__svc_create(&p, svc);
    if (err)
        return err;
    shmipc__bb_hdr *h = svc->pattern_area;
    h->magic = SHMIPC_BB_MAGIC;
    h->value_size = g->value_size;
    h->entries = g->entries;
    h->max_readers = g->max_readers;
    h->entry_off = g->entry_off;
    h->entry_size = g->entry_size;
    h->buf_size = g->buf_size;
    err = shmipc__svc_publish(svc); /* entries start zero: index 0, seq 0, version 0 = never written */
    if (err) {
        shmipc_segment_unlink(svc->segname);
        shmipc__svc_close(svc);
    }
    return err;
}

int shmipc_blackboard_writer_create(const char *name, const shmipc_blackboard_opts *opts,
                                    shmipc_blackboard_writer **out)
{
    shmipc_blackboard_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_blackboard_opts, shmipc_blackboard_opts_init, &def, opts);
    if (oerr)
        return oerr;
    const shmipc_blackboard_opts *o = &def;
    if (!out || !shmipc__wait_mode_valid(o->wait_mode))
        return -EINVAL;
    shmipc_blackboard_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int err;
    for (int attempt = 0;; attempt++) {
        err = bb_open_existing(name, o, &w->svc, &w->g);
        if (err == -EPROTOTYPE) {
            /* Other settings: replaced only if no live process uses it (create checks that). */
            int e2 = bb_create(name, o, &w->svc, &w->g);
            err = e2 == -EEXIST ? err : e2;
            break;
        }
        if (err != -ENOENT && err != -ENOTRECOVERABLE)
            break; /* -ENOTRECOVERABLE: its creator died initialising it; create replaces it */
        err = bb_create(name, o, &w->svc, &w->g);
        if (err != -EEXIST || attempt > 2)
            break; /* -EEXIST: created by another process meanwhile, or stale: open it */
    }
    if (err) {
        free(w);
        return err;
    }
    w->h = w->svc.pattern_area;
    w->me = shmipc__owner_self();
    int slot = shmipc__svc_join(&w->svc, SHMIPC_ROLE_WRITER, 0);
    if (slot < 0) {
        err = slot;
        goto fail;
    }
    w->slot = (uint32_t)slot;
    err = shmipc__svc_claim_role(&w->svc, &w->h->writer, w->me);
    if (err) {
        shmipc__svc_leave(&w->svc, w->slot);
        goto fail;
    }
    *out = w;
    return 0;
fail:
    shmipc__svc_close(&w->svc);
    free(w);
    return err;
}

int shmipc_blackboard_write(shmipc_blackboard_writer *w, uint32_t key, const void *value, size_t len)
{
    if (!w || !value || key >= w->g.entries || len != w->g.value_size)
        return -EINVAL;
    shmipc__bb_entry *e = bb_entry(w->svc.pattern_area, &w->g, key);
    /* relaxed: only the writer stores active (a previous writer's stores were acquired at takeover). */
    uint32_t cur = atomic_load_explicit(&e->active, memory_order_relaxed) & 1;
    shmipc__bb_buf *b = bb_buf(e, &w->g, cur ^ 1);
    /* Versions continue from the higher of the two: a writer killed mid-write may have left its new
     * version in the inactive buffer. */
    uint64_t v0 = atomic_load_explicit(&bb_buf(e, &w->g, 0)->version, memory_order_relaxed);
    uint64_t v1 = atomic_load_explicit(&bb_buf(e, &w->g, 1)->version, memory_order_relaxed);
    uint64_t version = (v0 > v1 ? v0 : v1) + 1;
    /* An odd seq left by a killed writer stays odd: readers keep off this buffer until we finish. */
    uint32_t odd = atomic_load_explicit(&b->seq, memory_order_relaxed) | 1;
    atomic_store_explicit(&b->seq, odd, memory_order_relaxed);
    BB_FENCE_RELEASE(); /* the odd seq is visible before any data store */
    const unsigned char *src = value;
    uint32_t full = (uint32_t)(len / 8), half = full / 2;
    for (uint32_t i = 0; i < full; i++) {
        uint64_t word;
        memcpy(&word, src + (size_t)i * 8, 8);
        atomic_store_explicit(&b->data[i], word, BB_DATA_STORE);
        if (SHMIPC_UNLIKELY(i == half && shmipc__bb_kill_point))
            shmipc__bb_kill_point();
    }
    if (len % 8) {
        uint64_t word = 0;
        memcpy(&word, src + (size_t)full * 8, len % 8);
        atomic_store_explicit(&b->data[full], word, BB_DATA_STORE);
    }
    atomic_store_explicit(&b->version, version, BB_DATA_STORE);
    /* release: everything above is visible to a reader that sees the even seq. */
    atomic_store_explicit(&b->seq, odd + 1, memory_order_release);
    /* release: a reader that follows the index to this buffer sees its contents. */
    atomic_store_explicit(&e->active, cur ^ 1, memory_order_release);
    shmipc__notify_wake(&w->h->notify, INT32_MAX);
    shmipc__svc_stat_add(&w->svc, BB_STAT_UPDATES, 1);
    return 0;
}

int shmipc_blackboard_writer_close(shmipc_blackboard_writer *w)
{
    if (!w)
        return 0;
    uint64_t me = w->me;
    /* release: our values are visible to the next writer, who acquires the claim word. */
    if (atomic_compare_exchange_strong_explicit(&w->h->writer, &me, 0, memory_order_release, memory_order_relaxed))
        shmipc__notify_wake(&w->h->notify, INT32_MAX);
    shmipc__svc_leave(&w->svc, w->slot);
    shmipc__svc_close(&w->svc);
    free(w);
    return 0;
}

int shmipc_blackboard_reader_open(const char *name, const shmipc_blackboard_opts *opts, shmipc_blackboard_reader **out)
{
    shmipc_blackboard_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_blackboard_opts, shmipc_blackboard_opts_init, &def, opts);
    if (oerr)
        return oerr;
    const shmipc_blackboard_opts *o = &def;
    if (!out || !shmipc__wait_mode_valid(o->wait_mode))
        return -EINVAL;
    shmipc_blackboard_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    int err = bb_open_existing(name, o, &r->svc, &r->g);
    if (!err) {
        int slot = shmipc__svc_join(&r->svc, SHMIPC_ROLE_READER, 0);
        if (slot == 0) {
            /* Slot 0 (the first free one) is kept for the writer, so that max_readers readers never lock
             * a restarting writer out: hold it while taking another, then give it back. */
            slot = shmipc__svc_join(&r->svc, SHMIPC_ROLE_READER, 0);
            shmipc__svc_leave(&r->svc, 0);
        }
        if (slot < 0) {
            shmipc__svc_close(&r->svc);
            err = slot;
        }
        r->slot = (uint32_t)slot;
    }
    if (!err) {
        r->last = calloc(r->g.entries, sizeof *r->last);
        if (r->g.words > 64)
            r->tmp = malloc((size_t)r->g.words * 8);
        if (!r->last || (r->g.words > 64 && !r->tmp)) {
            free(r->last);
            free(r->tmp);
            shmipc__svc_leave(&r->svc, r->slot);
            shmipc__svc_close(&r->svc);
            err = -ENOMEM;
        }
    }
    if (err) {
        free(r);
        return err;
    }
    r->h = r->svc.pattern_area;
    r->wait_mode = o->wait_mode;
    *out = r;
    return 0;
}

/* Copy a consistent snapshot of entry e into tmp words (g->words) and return its version; -EAGAIN if the
 * writer kept rewriting for a second, -EBADMSG if the index is corrupt. */
/* One buffer's snapshot: 1 and its version in *version if it was stable (no write began or ended during
 * the copy), 0 if a write was under way. */
static int bb_copy(const bb_geom *g, shmipc__bb_buf *b, uint64_t *tmp, uint64_t *version)
{
    uint32_t s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
    if (s1 & 1)
        return 0;
    for (uint32_t i = 0; i < g->words; i++)
        tmp[i] = atomic_load_explicit(&b->data[i], BB_DATA_LOAD);
    uint64_t v = atomic_load_explicit(&b->version, BB_DATA_LOAD);
    BB_FENCE_ACQUIRE(); /* the copies complete before the re-check */
    if (atomic_load_explicit(&b->seq, memory_order_relaxed) != s1)
        return 0;
    *version = v;
    return 1;
}

/*
 * A consistent snapshot of entry e in tmp, whose version is at least floor (the version this reader
 * returned last for the key), so that one reader's reads never go back. The index may still name the
 * older buffer while the newer one is complete (its store not visible yet, or its writer killed between
 * the two): then the other buffer is taken. Both buffers complete and older than floor cannot happen
 * (versions only grow): -EBADMSG. -EAGAIN if writes kept lapping the copy for a second.
 */
static int bb_load(const bb_geom *g, shmipc__bb_entry *e, uint64_t *tmp, uint64_t floor, uint64_t *version)
{
    uint64_t give_up = 0;
    for (unsigned tries = 0;; tries++) {
        /* acquire: pairs with the writer's release of active: the buffer's last complete write is seen. */
        uint32_t idx = atomic_load_explicit(&e->active, memory_order_acquire);
        if (idx > 1) {
            shmipc__svc_set_detail("blackboard: entry index %u out of range", idx);
            return -EBADMSG;
        }
        uint64_t v, w;
        if (bb_copy(g, bb_buf(e, g, idx), tmp, &v)) {
            if (v >= floor) {
                *version = v;
                return 0;
            }
            if (bb_copy(g, bb_buf(e, g, idx ^ 1), tmp, &w)) {
                if (w >= floor) {
                    *version = w;
                    return 0;
                }
                shmipc__svc_set_detail("blackboard: versions %llu and %llu below %llu, read before",
                                       (unsigned long long)v, (unsigned long long)w, (unsigned long long)floor);
                return -EBADMSG;
            }
        }
        /* The writer lapped us (it has two buffers, so it wrote twice during our copy). */
        if (tries % 64 == 63) {
            uint64_t now = shmipc__now_ns();
            if (!give_up)
                give_up = now + 1000000000u;
            else if (now >= give_up)
                return -EAGAIN;
            sched_yield();
        }
    }
}

int shmipc_blackboard_read(shmipc_blackboard_reader *r, uint32_t key, void *buf, size_t cap, uint64_t *version)
{
    if (!r || !buf || key >= r->g.entries)
        return -EINVAL;
    if (cap < r->g.value_size)
        return -EMSGSIZE;
    shmipc__bb_entry *e = bb_entry(r->svc.pattern_area, &r->g, key);
    uint64_t stack[64], *tmp = r->g.words <= 64 ? stack : r->tmp, v = 0;
    int err = bb_load(&r->g, e, tmp, r->last[key], &v);
    if (!err && v == 0)
        err = -ENODATA;
    if (!err) {
        r->last[key] = v;
        memcpy(buf, tmp, r->g.value_size);
        if (version)
            *version = v;
    }
    return err ? err : (int)r->g.value_size;
}

typedef struct bb_wait_ctx {
    shmipc_blackboard_reader *r;
    shmipc__bb_entry *e;
    uint64_t seen;
    uint64_t writer; /* the writer we wait on: the one present at the start, or the first to appear */
} bb_wait_ctx;

static int bb_wait_cond(void *arg, bool slow)
{
    bb_wait_ctx *c = arg;
    /* acquire: pairs with the writer's release of active; the version read below is the new one's. */
    uint32_t idx = atomic_load_explicit(&c->e->active, memory_order_acquire);
    if (idx > 1)
        return -EBADMSG;
    /* acquire: a version is a hint here (the reader then reads under the seqlock). */
    if (atomic_load_explicit(&bb_buf(c->e, &c->r->g, idx)->version, memory_order_acquire) > c->seen)
        return 1;
    /* relaxed: only compared with the id we hold; no data is read on the strength of it. */
    uint64_t w = atomic_load_explicit(&c->r->h->writer, memory_order_relaxed);
    if (c->writer == 0)
        c->writer = w;
    else if (w != c->writer)
        return -EPIPE; /* it closed (or was reclaimed) */
    if (slow && c->writer && !shmipc__owner_alive(c->writer))
        return -EPIPE;
    return 0;
}

int shmipc_blackboard_wait(shmipc_blackboard_reader *r, uint32_t key, uint64_t seen, int timeout_ms)
{
    if (!r || key >= r->g.entries)
        return -EINVAL;
    bb_wait_ctx c = {.r = r, .e = bb_entry(r->svc.pattern_area, &r->g, key), .seen = seen};
    return shmipc__wait_ms(&r->h->notify, r->wait_mode, timeout_ms, NULL, bb_wait_cond, &c);
}

size_t shmipc_blackboard_value_size(const shmipc_blackboard_reader *r) { return r ? r->g.value_size : 0; }

int shmipc_blackboard_reader_close(shmipc_blackboard_reader *r)
{
    if (!r)
        return 0;
    shmipc__svc_leave(&r->svc, r->slot);
    shmipc__svc_close(&r->svc);
    free(r->tmp);
    free(r->last);
    free(r);
    return 0;
}

int shmipc_blackboard_unlink(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    int err = shmipc__svc_segname(SHMIPC_PATTERN_BLACKBOARD, name, NULL, seg, sizeof seg);
    return err ? err : shmipc_segment_unlink(seg);
}
