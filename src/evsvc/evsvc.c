/* SPDX-License-Identifier: MIT */
/*
 * evsvc/evsvc.c - the event service: per-event counters that notifiers bump, and one futex word per
 * listener that notifiers wake (a system call only for a listener that sleeps). Waiting on several
 * services at once uses futex_waitv over the listeners' words, with a sliced fallback where the kernel
 * lacks it.
 */
#include "evsvc/evsvc_internal.h"
#include "service/role.h"
#include "common/waitable.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>


/*
 * A notifier skips slots that are not ACTIVE listeners. A seq_cst fence after the listener becomes ACTIVE
 * and sets its listening flag, and one after the notifier bumps the counter, order the two sides: either
 * the notifier sees both (and wakes through the notify protocol), or the listener's later counter check
 * sees the bump (and does not sleep).
 * ThreadSanitizer does not model fences (GCC warns); it checks races, not this ordering, so its builds
 * leave them out.
 */
#if defined(SHMIPC_SANITIZER) && SHMIPC_SANITIZER == 2
#define EV_FENCE() ((void)0)
#else
#define EV_FENCE() atomic_thread_fence(memory_order_seq_cst)
#endif

enum { EV_STAT_NOTIFICATIONS, EV_STAT_WAKEUPS, EV_NSTATS };
static const char *const ev_stat_names[EV_NSTATS] = {"notifications", "wakeups"};

typedef struct ev_geom {
    uint32_t max_events, nparts, counters_off, areas_off;
    size_t total;
} ev_geom;

struct shmipc_evsvc_notifier {
    shmipc__svc svc;
    ev_geom g;
    shmipc__ev_hdr *h;
    uint32_t slot;
};

struct shmipc_evsvc_listener {
    shmipc__svc svc;
    ev_geom g;
    shmipc__ev_hdr *h;
    shmipc__notify *word; /* this listener's own futex word */
    uint32_t slot;
    uint32_t cursor;      /* next event id to look at (round-robin) */
    uint64_t clean_total; /* the service total when no event was pending */
    uint64_t *last;       /* per event id: the counter value last returned */
    shmipc_wait_mode wait_mode;
};

void shmipc_evsvc_opts_init(shmipc_evsvc_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

static int ev_geom_make(ev_geom *g, uint32_t max_events, uint32_t nparts)
{
    if (max_events == 0 || max_events > SHMIPC_EVSVC_MAX_EVENTS || nparts == 0 || nparts > SHMIPC_SVC_MAX_PARTICIPANTS)
        return -EINVAL;
    g->max_events = max_events;
    g->nparts = nparts;
    g->counters_off = (uint32_t)sizeof(shmipc__ev_hdr);
    g->areas_off = g->counters_off + (uint32_t)shmipc__align_up((size_t)max_events * 8, SHMIPC_CACHELINE);
    g->total = g->areas_off + (size_t)nparts * sizeof(shmipc__ev_area);
    return 0;
}

static int ev_geom_read(const shmipc__svc *svc, ev_geom *g)
{
    const shmipc__ev_hdr *h = svc->pattern_area;
    if (svc->pattern_size < sizeof *h || h->magic != SHMIPC_EV_MAGIC) {
        shmipc__svc_set_detail("event header: bad magic");
        return -EBADMSG;
    }
    ev_geom want;
    uint32_t counters_off = h->counters_off, areas_off = h->areas_off;
    if (ev_geom_make(&want, h->max_events, h->nparts) || want.nparts != svc->nparts ||
        want.counters_off != counters_off || want.areas_off != areas_off || want.total > svc->pattern_size) {
        shmipc__svc_set_detail("event header: geometry out of range or inconsistent");
        return -EBADMSG;
    }
    *g = want;
    return 0;
}

static _Atomic uint64_t *ev_counter(void *area, const ev_geom *g, uint32_t id)
{
    return (_Atomic uint64_t *)((char *)area + g->counters_off) + id;
}

static shmipc__ev_area *ev_area(void *area, const ev_geom *g, uint32_t slot)
{
    return (shmipc__ev_area *)((char *)area + g->areas_off) + slot;
}

static int ev_validate(shmipc__svc *svc)
{
    ev_geom g;
    return ev_geom_read(svc, &g);
}

static int ev_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)user;
    ev_geom g;
    if (role != SHMIPC_ROLE_LISTENER || ev_geom_read(svc, &g) || slot >= g.nparts)
        return 0;
    /* A listener killed while asleep left its word's waiter count up; nobody else sleeps on this word,
     * so the next listener of the slot starts clean. Idempotent. relaxed: the slot is freed (release)
     * after this. */
    atomic_store_explicit(&ev_area(svc->pattern_area, &g, slot)->notify.waiters, 0, memory_order_relaxed);
    atomic_store_explicit(&ev_area(svc->pattern_area, &g, slot)->listening, 0, memory_order_relaxed);
    return 0;
}

static void ev_describe(const shmipc__svc *svc, char *buf, size_t cap)
{
    ev_geom g;
    if (ev_geom_read(svc, &g))
        snprintf(buf, cap, "corrupt");
    else
        snprintf(buf, cap, "events=%u participants=%u", g.max_events, g.nparts);
}

const shmipc__pattern_ops shmipc__event_ops = {
    .pattern = SHMIPC_PATTERN_EVENT,
    .seg_type = SHMIPC_TYPE_EVENT,
    .validate = ev_validate,
    .reclaim = ev_reclaim,
    .describe = ev_describe,
};

static int ev_compat(const shmipc_evsvc_opts *o, const ev_geom *g)
{
    if (o->max_events && o->max_events != g->max_events) {
        shmipc__svc_set_detail("max_events: service has %u, caller asked %u", g->max_events, o->max_events);
        return -EPROTOTYPE;
    }
    if (o->max_participants && o->max_participants != g->nparts) {
        shmipc__svc_set_detail("max_participants: service has %u, caller asked %u", g->nparts, o->max_participants);
        return -EPROTOTYPE;
    }
    return 0;
}

static int ev_create(const char *name, const shmipc_evsvc_opts *o, shmipc__svc *svc, ev_geom *g)
{
    int err = ev_geom_make(g, o->max_events ? o->max_events : 64, o->max_participants ? o->max_participants : 32);
    if (err)
        return err;
    shmipc__svc_params p = {.pattern = SHMIPC_PATTERN_EVENT, .name = name, .max_participants = g->nparts,
                            .pattern_size = g->total, .mode = o->mode, .nstats = EV_NSTATS,
                            .stat_names = ev_stat_names};
    err = shmipc__svc_create(&p, svc);
    if (err)
        return err;
    shmipc__ev_hdr *h = svc->pattern_area;
    h->magic = SHMIPC_EV_MAGIC;
    h->max_events = g->max_events;
    h->nparts = g->nparts;
    h->counters_off = g->counters_off;
    h->areas_off = g->areas_off;
    err = shmipc__svc_publish(svc); /* counters and words start zero-filled */
    if (err) {
        shmipc_segment_unlink(svc->segname);
        shmipc__svc_close(svc);
    }
    return err;
}

/* Open or create the service and join it with role. */
static int ev_attach(const char *name, const shmipc_evsvc_opts *opts, uint32_t role, shmipc__svc *svc, ev_geom *g,
                     uint32_t *slot)
{
    shmipc_evsvc_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_evsvc_opts, shmipc_evsvc_opts_init, &def, opts);
    if (oerr)
        return oerr;
    const shmipc_evsvc_opts *o = &def;
    if (!shmipc__wait_mode_valid(o->wait_mode))
        return -EINVAL;
    int err;
    for (int attempt = 0;; attempt++) {
        err = shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, svc);
        if (!err) {
            err = ev_geom_read(svc, g);
            if (!err)
                err = ev_compat(o, g);
            if (err)
                shmipc__svc_close(svc);
            if (err == -EPROTOTYPE) {
                /* Other settings: replaced only if no live process uses it (create checks that). */
                int e2 = ev_create(name, o, svc, g);
                err = e2 == -EEXIST ? err : e2;
            }
            break;
        }
        if (err != -ENOENT && err != -ENOTRECOVERABLE)
            break;
        err = ev_create(name, o, svc, g);
        if (err != -EEXIST || attempt > 2)
            break; /* -EEXIST: another process created it meanwhile: open it */
    }
    if (err)
        return err;
    int s = shmipc__svc_join(svc, role, 0);
    if (s < 0) {
        shmipc__svc_close(svc);
        return s;
    }
    *slot = (uint32_t)s;
    return 0;
}

int shmipc_evsvc_notifier_create(const char *name, const shmipc_evsvc_opts *opts, shmipc_evsvc_notifier **out)
{
    if (!out)
        return -EINVAL;
    shmipc_evsvc_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    int err = ev_attach(name, opts, SHMIPC_ROLE_NOTIFIER, &n->svc, &n->g, &n->slot);
    if (err) {
        free(n);
        return err;
    }
    n->h = n->svc.pattern_area;
    *out = n;
    return 0;
}

int shmipc_evsvc_notifier_notify(shmipc_evsvc_notifier *n, uint32_t event_id)
{
    if (!n || event_id >= n->g.max_events)
        return -EINVAL;
    /* release: a listener that sees the new count sees what the notifier wrote before notifying. */
    atomic_fetch_add_explicit(ev_counter(n->svc.pattern_area, &n->g, event_id), 1, memory_order_release);
    /* release: the counter bump is visible to a listener that acquires the new total. */
    atomic_fetch_add_explicit(&n->h->total, 1, memory_order_release);
    EV_FENCE();
    int syscalls = 0;
    for (uint32_t i = 0; i < n->g.nparts; i++) {
        /* relaxed: ordered by EV_FENCE (see there). The listening flag, not the participant's plain role
         * word (which could race with the slot being claimed again), keeps notifiers' words untouched. */
        shmipc__ev_area *a = ev_area(n->svc.pattern_area, &n->g, i);
        if (atomic_load_explicit(&n->svc.parts[i].state, memory_order_relaxed) != SHMIPC__PART_ACTIVE ||
            !atomic_load_explicit(&a->listening, memory_order_relaxed))
            continue;
        syscalls += shmipc__notify_wake(&a->notify, 1);
    }
    shmipc__svc_stat_add(&n->svc, EV_STAT_NOTIFICATIONS, 1);
    if (syscalls)
        shmipc__svc_stat_add(&n->svc, EV_STAT_WAKEUPS, (uint64_t)syscalls);
    return 0;
}

int shmipc_evsvc_notifier_close(shmipc_evsvc_notifier *n)
{
    if (!n)
        return 0;
    shmipc__svc_leave(&n->svc, n->slot);
    shmipc__svc_close(&n->svc);
    free(n);
    return 0;
}

int shmipc_evsvc_listener_open(const char *name, const shmipc_evsvc_opts *opts, shmipc_evsvc_listener **out)
{
    if (!out)
        return -EINVAL;
    shmipc_evsvc_listener *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int err = ev_attach(name, opts, SHMIPC_ROLE_LISTENER, &l->svc, &l->g, &l->slot);
    if (err) {
        free(l);
        return err;
    }
    /* relaxed: ordered by EV_FENCE below. */
    atomic_store_explicit(&ev_area(l->svc.pattern_area, &l->g, l->slot)->listening, 1, memory_order_relaxed);
    EV_FENCE(); /* our ACTIVE state and flag are ordered before every later counter check (see EV_FENCE) */
    l->h = l->svc.pattern_area;
    l->word = &ev_area(l->svc.pattern_area, &l->g, l->slot)->notify;
    l->wait_mode = opts ? opts->wait_mode : SHMIPC_WAIT_DEFAULT;
    l->last = calloc(l->g.max_events, sizeof *l->last);
    if (!l->last) {
        shmipc_evsvc_listener_close(l);
        return -ENOMEM;
    }
    /* acquire: pairs with notifiers' release; counts read after it are at least as new. */
    l->clean_total = atomic_load_explicit(&l->h->total, memory_order_acquire);
    for (uint32_t i = 0; i < l->g.max_events; i++)
        l->last[i] = atomic_load_explicit(ev_counter(l->svc.pattern_area, &l->g, i), memory_order_acquire);
    *out = l;
    return 0;
}

/* 1..INT_MAX: that many notifications of *id; 0: none pending; -EBADMSG. */
static int ev_take(shmipc_evsvc_listener *l, uint32_t *id)
{
    /* acquire: every counter bump counted in this total is visible below. */
    uint64_t total = atomic_load_explicit(&l->h->total, memory_order_acquire);
    if (total == l->clean_total)
        return 0;
    for (uint32_t n = 0; n < l->g.max_events; n++) {
        uint32_t i = l->cursor;
        l->cursor = i + 1 < l->g.max_events ? i + 1 : 0;
        uint64_t c = atomic_load_explicit(ev_counter(l->svc.pattern_area, &l->g, i), memory_order_acquire);
        if (c == l->last[i])
            continue;
        if (c < l->last[i]) {
            /* Reported once: from the new value on, the counter is followed again, so a peer that
             * corrupts one counter does not make every later wait of this listener fail. */
            l->last[i] = c;
            shmipc__svc_set_detail("event: counter of event %u went backwards", i);
            return -EBADMSG;
        }
        uint64_t d = c - l->last[i];
        l->last[i] = c;
        *id = i;
        return d > INT_MAX ? INT_MAX : (int)d;
    }
    l->clean_total = total;
    return 0;
}

typedef struct ev_wait_ctx {
    shmipc_evsvc_listener *const *ls;
    size_t n;
    size_t which;
    uint32_t id;
    int count;
} ev_wait_ctx;

static int ev_cond(void *arg, bool slow)
{
    (void)slow;
    ev_wait_ctx *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        int r = ev_take(c->ls[i], &c->id);
        if (r < 0)
            return r;
        if (r > 0) {
            c->which = i;
            c->count = r;
            return 1;
        }
    }
    return 0;
}

int shmipc_evsvc_listener_wait(shmipc_evsvc_listener *l, int timeout_ms, uint32_t *event_id)
{
    if (!l)
        return -EINVAL;
    ev_wait_ctx c = {.ls = &l, .n = 1};
    int err = shmipc__wait_ms(l->word, l->wait_mode, timeout_ms, NULL, ev_cond, &c);
    if (err)
        return err;
    if (event_id)
        *event_id = c.id;
    return c.count;
}

int shmipc_evsvc_listener_wait_any(shmipc_evsvc_listener *const *ls, size_t n, int timeout_ms, size_t *which,
                             uint32_t *event_id)
{
    if (!ls || n == 0 || n > SHMIPC_EVSVC_MAX_WAIT_ANY)
        return -EINVAL;
    shmipc__notify *words[SHMIPC_EVSVC_MAX_WAIT_ANY];
    for (size_t i = 0; i < n; i++) {
        if (!ls[i])
            return -EINVAL;
        words[i] = ls[i]->word;
    }
    ev_wait_ctx c = {.ls = ls, .n = n};
    shmipc__wait_spec w = {.notifies = words, .nnotify = (unsigned)n, .mode = ls[0]->wait_mode,
                           .timeout_ms = timeout_ms, .relative = true};
    int err = shmipc__wait(&w, ev_cond, &c);
    if (err < 0)
        return err;
    if (which)
        *which = c.which;
    if (event_id)
        *event_id = c.id;
    return c.count;
}

int shmipc_evsvc_listener_close(shmipc_evsvc_listener *l)
{
    if (!l)
        return 0;
    free(l->last);
    /* relaxed: the slot is freed (release) after this. */
    atomic_store_explicit(&ev_area(l->svc.pattern_area, &l->g, l->slot)->listening, 0, memory_order_relaxed);
    shmipc__svc_leave(&l->svc, l->slot);
    shmipc__svc_close(&l->svc);
    free(l);
    return 0;
}

int shmipc_evsvc_unlink(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    int err = shmipc__svc_segname(SHMIPC_PATTERN_EVENT, name, NULL, seg, sizeof seg);
    return err ? err : shmipc_segment_unlink(seg);
}

/* The waitset's readiness check (common/waitable.h): what ev_take would find, without taking it. */
static uint32_t listener_ready(void *p, uint32_t events, bool slow)
{
    (void)slow;
    shmipc_evsvc_listener *l = p;
    /* seq_cst: after the waitset's announcement on our word, the sleeper's half of the notifier's
     * handshake; also the acquire of ev_take (every counter bump counted in total is visible). */
    uint64_t total = atomic_load_explicit(&l->h->total, memory_order_seq_cst);
    if (total == l->clean_total)
        return 0;
    for (uint32_t i = 0; i < l->g.max_events; i++) {
        /* acquire: as in ev_take. A counter that went backwards is reported by the wait. */
        if (atomic_load_explicit(ev_counter(l->svc.pattern_area, &l->g, i), memory_order_acquire) != l->last[i])
            return events;
    }
    l->clean_total = total;
    return 0;
}

int shmipc__listener_waitable(shmipc_evsvc_listener *l, uint32_t events, shmipc__waitable *w)
{
    if (events != SHMIPC_WAITSET_IN)
        return -EINVAL;
    w->ready = listener_ready;
    w->words[0] = l->word;
    w->nwords = 1;
    return 0;
}
